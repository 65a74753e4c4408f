/*
 * osdep.c (POSIX) - the agent's operating-system services on Linux and other
 * POSIX systems. See osdep.h for the contract, in particular the
 * write-fsync-rename-fsync(dir) sequence behind osdep_write_atomic().
 */
#include "osdep.h"
#include "rasfleet/result.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char last_error[256];
static volatile sig_atomic_t stop_flag;

static int fail_errno(const char *what, const char *path)
{
    int e = errno;
    /* a long path is cut: the message only has to say which file and why */
    snprintf(last_error, sizeof(last_error), "%.40s %.150s: %.60s", what, path ? path : "",
             strerror(e));
    if (e == ENOSPC || e == EDQUOT || e == EROFS)
        return RF_ESTORAGE;
    if (e == ENOENT)
        return RF_ENOTFOUND;
    return RF_EIO;
}

int osdep_path(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            out[0] = '\0';
        snprintf(last_error, sizeof(last_error), "path too long");
        return RF_EINVAL;
    }
    return RF_OK;
}

const char *osdep_strerror(void)
{
    return last_error;
}

int osdep_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail_errno("getrandom", NULL);
        }
        p += n;
        len -= (size_t)n;
    }
    return RF_OK;
}

int osdep_hostname(char *out, size_t len)
{
    struct utsname u;
    if (uname(&u) != 0)
        return fail_errno("uname", NULL);
    snprintf(out, len, "%s", u.nodename);
    return RF_OK;
}

int osdep_os_version(char *out, size_t len)
{
    struct utsname u;
    if (uname(&u) != 0)
        return fail_errno("uname", NULL);
    snprintf(out, len, "%s %s", u.sysname, u.release);
    return RF_OK;
}

int osdep_machine_id(char *out, size_t len)
{
    static const char *const paths[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct buf b = BUF_INIT;
        int rc = osdep_read_file(paths[i], 256, &b);
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' '))
            n--;
        if (rc == RF_OK && n > 0 && n < len) {
            memcpy(out, b.data, n);
            out[n] = '\0';
            buf_free(&b);
            return RF_OK;
        }
        buf_free(&b);
    }
    snprintf(last_error, sizeof(last_error), "no /etc/machine-id");
    return RF_ENOTFOUND;
}

int osdep_mkdirs(const char *dir)
{
    char tmp[OSDEP_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp)) {
        snprintf(last_error, sizeof(last_error), "bad directory name");
        return RF_EINVAL;
    }
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return fail_errno("mkdir", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return fail_errno("mkdir", tmp);
    return RF_OK;
}

/* Flushes the directory that holds path, so a rename or unlink is durable. */
static int sync_parent(const char *path)
{
    char dir[OSDEP_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno("open", dir);
    int rc = RF_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = fail_errno("fsync", dir);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail_errno("write", path);
        }
        p += n;
        len -= (size_t)n;
    }
    return RF_OK;
}

int osdep_write_atomic(const char *path, const struct osdep_chunk *chunks, size_t n_chunks)
{
    char tmp[OSDEP_PATH_MAX];
    int fd = -1, rc = RF_OK;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return RF_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = fail_errno("open", tmp);
        goto out;
    }
    for (size_t i = 0; i < n_chunks && rc == RF_OK; i++)
        rc = write_all(fd, chunks[i].data, chunks[i].len, tmp);
    if (rc == RF_OK && fsync(fd) != 0)
        rc = fail_errno("fsync", tmp);
    if (close(fd) != 0 && rc == RF_OK)
        rc = fail_errno("close", tmp);
    fd = -1;
    if (rc == RF_OK && rename(tmp, path) != 0)
        rc = fail_errno("rename", tmp);
    if (rc == RF_OK)
        rc = sync_parent(path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != RF_OK)
        unlink(tmp);
    return rc;
}

int osdep_append_durable(const char *path, const void *data, size_t len)
{
    struct stat st;
    bool existed = stat(path, &st) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno("open", path);
    off_t before = 0;
    if (fstat(fd, &st) == 0)
        before = st.st_size;
    int rc = write_all(fd, data, len, path);
    if (rc == RF_OK && fsync(fd) != 0)
        rc = fail_errno("fsync", path);
    if (rc != RF_OK && ftruncate(fd, before) == 0)
        fsync(fd); /* no torn record stays behind for the next append to follow */
    close(fd);
    if (rc == RF_OK && !existed)
        rc = sync_parent(path);
    return rc;
}

int osdep_read_file(const char *path, size_t max, struct buf *out)
{
    int rc = RF_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return fail_errno("open", path);
    if (fstat(fd, &st) != 0) {
        rc = fail_errno("fstat", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(last_error, sizeof(last_error), "%s: not a regular file", path);
        rc = RF_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(last_error, sizeof(last_error), "%s: %lld bytes, over the limit of %zu", path,
                 (long long)st.st_size, max);
        rc = RF_ETOOBIG;
        goto out;
    }
    if ((rc = buf_reserve(out, (size_t)st.st_size + 1)) != RF_OK)
        goto out;
    for (;;) {
        if ((rc = buf_reserve(out, 65536)) != RF_OK)
            goto out;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fail_errno("read", path);
            goto out;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > max) {
            snprintf(last_error, sizeof(last_error), "%s: grew over the limit of %zu", path, max);
            rc = RF_ETOOBIG;
            goto out;
        }
    }
out:
    close(fd);
    return rc;
}

int osdep_remove(const char *path)
{
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return RF_OK;
        return fail_errno("unlink", path);
    }
    return sync_parent(path);
}

int osdep_rename(const char *from, const char *to)
{
    if (rename(from, to) != 0)
        return fail_errno("rename", from);
    int rc = sync_parent(to);
    if (rc == RF_OK && strcmp(from, to) != 0)
        rc = sync_parent(from);
    return rc;
}

int osdep_stat(const char *path, struct osdep_stat *out)
{
    struct stat st;
    memset(out, 0, sizeof(*out));
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            out->type = OSDEP_MISSING;
            fail_errno("stat", path);
            return RF_OK;
        }
        return fail_errno("stat", path);
    }
    out->type = S_ISREG(st.st_mode) ? OSDEP_REGULAR : S_ISDIR(st.st_mode) ? OSDEP_DIR : OSDEP_OTHER;
    out->size = (uint64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return RF_OK;
}

int osdep_list_dir(const char *dir, osdep_dir_fn fn, void *ctx)
{
    DIR *d = opendir(dir);
    int rc = RF_OK;
    if (!d)
        return fail_errno("opendir", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((rc = fn(ctx, e->d_name)) != 0)
            break;
    }
    closedir(d);
    return rc;
}

FILE *osdep_open_read(const char *path)
{
    /* O_NONBLOCK: opening a FIFO must never hang the agent. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fail_errno("open", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(last_error, sizeof(last_error), "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        fail_errno("fdopen", path);
        close(fd);
    }
    return f;
}

bool osdep_sleep_ms(int64_t ms)
{
    int64_t deadline;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + ms;
    while (!stop_flag) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t left = deadline - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (left <= 0)
            break;
        int64_t step = left < 200 ? left : 200; /* re-check the flag at least 5 times a second */
        struct timespec ts = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return stop_flag != 0;
}

void osdep_request_stop(void)
{
    stop_flag = 1;
}

bool osdep_stop_requested(void)
{
    return stop_flag != 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void osdep_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int osdep_lock(const char *path, intptr_t *handle)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno("open", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? RF_EBUSY : fail_errno("flock", path);
        if (rc == RF_EBUSY)
            snprintf(last_error, sizeof(last_error), "%s is locked by another agent", path);
        close(fd);
        return rc;
    }
    *handle = fd;
    return RF_OK;
}

void osdep_unlock(intptr_t handle)
{
    if (handle >= 0)
        close((int)handle);
}

long osdep_peak_rss_kib(void)
{
    /* VmHWM is this program's own high-water mark; ru_maxrss would also
       count the parent's pages if it forked us (the mm before exec) */
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kib = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    if (kib > 0)
        return kib;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss;
}
