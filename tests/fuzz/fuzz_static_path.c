/*
 * fuzz_static_path - static_file_load(): the dashboard's URL path -> file
 * mapping, against a temporary web directory.
 *
 * Setup (once): <tmp>/web holds index.html, app.js, sub/page.html,
 * sub/deeper/x.txt, a hidden file, sub/.git/config and link.html, a symlink
 * to <tmp>/secret.txt outside the web directory; <tmp>/web2/secret.html is
 * a sibling with a common prefix. Every file inside holds
 * "INSIDE:<its url path>\n", every file outside "OUTSIDE-SECRET".
 *
 * The target is linked with -Wl,--wrap=open (and open64, openat, ...), so
 * every open() the server code makes is seen here.
 *
 * Invariants (the input, up to its first NUL, is the already-decoded URL
 * path that libmicrohttpd hands over):
 *  - every path static_file_load() asks open() for lies lexically inside
 *    the web directory (prefix "<web>/", no "." or ".." segment, no empty
 *    segment, no hidden segment);
 *  - every file it actually opens resolves (/proc/self/fd) inside the real
 *    web directory: symlinks never lead out;
 *  - RF_OK only for a URL that passes the documented policy (starts with
 *    '/', no "..", backslash, control byte or hidden segment) and the data
 *    is exactly that file's ("INSIDE:<url>\n", "/" meaning /index.html),
 *    with a content type; otherwise RF_ENOTFOUND.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256], web[320], realweb[PATH_MAX];

/* ---- open() interposition ---- */

#define MAX_OPENS 8
static struct {
    char path[PATH_MAX + 64];
    char resolved[PATH_MAX];
    bool opened;
} opens[MAX_OPENS];
static int n_opens;

static void note_open(const char *path, int fd)
{
    if (n_opens >= MAX_OPENS)
        return;
    snprintf(opens[n_opens].path, sizeof(opens[n_opens].path), "%s", path);
    opens[n_opens].opened = fd >= 0;
    opens[n_opens].resolved[0] = '\0';
    if (fd >= 0) {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, opens[n_opens].resolved, sizeof(opens[n_opens].resolved) - 1);
        opens[n_opens].resolved[n > 0 ? n : 0] = '\0';
    }
    n_opens++;
}

#define WRAP_OPEN(name)                                                                            \
    int __real_##name(const char *path, int flags, ...);                                           \
    int __wrap_##name(const char *path, int flags, ...);                                           \
    int __wrap_##name(const char *path, int flags, ...)                                            \
    {                                                                                              \
        mode_t mode = 0;                                                                           \
        if (flags & (O_CREAT | O_TMPFILE)) {                                                       \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            mode = (mode_t)va_arg(ap, int);                                                        \
            va_end(ap);                                                                            \
        }                                                                                          \
        int fd = __real_##name(path, flags, mode);                                                 \
        note_open(path, fd);                                                                       \
        return fd;                                                                                 \
    }
WRAP_OPEN(open)
WRAP_OPEN(open64)

int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int fd = __real_openat(dirfd, path, flags, mode);
    FUZZ_CHECK(path[0] == '/' || dirfd == AT_FDCWD, "openat relative to a directory fd");
    note_open(path, fd);
    return fd;
}

/* ---- the web directory ---- */

static void put(const char *rel, const char *content)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (!f) {
        perror(p);
        abort();
    }
    fputs(content, f);
    fclose(f);
}

static void put_inside(const char *url)
{
    char rel[PATH_MAX], content[PATH_MAX];
    snprintf(rel, sizeof(rel), "web%s", url);
    snprintf(content, sizeof(content), "INSIDE:%s\n", url);
    put(rel, content);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    if (root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/rf-fuzz-static-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root))
        abort();
    atexit(cleanup);
    char p[PATH_MAX];
    static const char *const dirs[] = {"web", "web/sub", "web/sub/deeper", "web/sub/.git",
                                       "web/empty", "web2"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        if (mkdir(p, 0755) != 0)
            abort();
    }
    put_inside("/index.html");
    put_inside("/app.js");
    put_inside("/style.css");
    put_inside("/data.json");
    put_inside("/noext");
    put_inside("/sub/page.html");
    put_inside("/sub/deeper/x.txt");
    put_inside("/.hidden");
    put_inside("/sub/.git/config");
    put("secret.txt", "OUTSIDE-SECRET");
    put("web2/secret.html", "OUTSIDE-SECRET");
    snprintf(p, sizeof(p), "%s/web/link.html", root);
    if (symlink("../secret.txt", p) != 0)
        abort();
    snprintf(web, sizeof(web), "%s/web", root);
    if (!realpath(web, realweb))
        abort();
    return 0;
}

static bool lexically_inside(const char *path)
{
    size_t wl = strlen(web);
    if (strncmp(path, web, wl) != 0 || path[wl] != '/')
        return false;
    const char *seg = path + wl + 1;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((n == 0 && slash) || (n > 0 && seg[0] == '.'))
            return false; /* an empty segment is harmless only at the end ("/sub/") */
        if (!slash)
            return true;
        seg = slash + 1;
    }
}

static bool url_allowed(const char *u)
{
    if (u[0] != '/' || strchr(u, '\\') || strstr(u, "/."))
        return false;
    for (const unsigned char *c = (const unsigned char *)u; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_cstr(data, size);
    struct buf out = BUF_INIT;
    const char *type = NULL;
    n_opens = 0;
    int rc = static_file_load(web, url, &out, &type);
    FUZZ_CHECK(rc == RF_OK || rc == RF_ENOTFOUND, "url '%s': rc=%d", url, rc);
    for (int i = 0; i < n_opens; i++) {
        FUZZ_CHECK(lexically_inside(opens[i].path), "url '%s' made open(\"%s\")", url,
                   opens[i].path);
        if (opens[i].opened) {
            size_t rl = strlen(realweb);
            FUZZ_CHECK(strncmp(opens[i].resolved, realweb, rl) == 0 &&
                           opens[i].resolved[rl] == '/',
                       "url '%s' opened '%s', which is '%s', outside %s", url, opens[i].path,
                       opens[i].resolved, realweb);
        }
    }
    if (rc == RF_OK) {
        FUZZ_CHECK(url_allowed(url), "url '%s' served although the policy refuses it", url);
        FUZZ_CHECK(type && *type, "no content type");
        const char *rel = strcmp(url, "/") == 0 ? "/index.html" : url;
        char want[PATH_MAX + 16];
        snprintf(want, sizeof(want), "INSIDE:%s\n", rel);
        FUZZ_CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
                   "url '%s' served '%.*s'", url, (int)(out.len > 100 ? 100 : out.len),
                   out.data ? out.data : "");
    } else {
        FUZZ_CHECK(out.len == 0, "refused but %zu bytes appended", out.len);
    }
    buf_free(&out);
    /* no web directory: nothing is served */
    FUZZ_CHECK(static_file_load("", url, &out, &type) == RF_ENOTFOUND, "empty web_dir");
    FUZZ_CHECK(static_file_load(NULL, url, &out, &type) == RF_ENOTFOUND, "NULL web_dir");
    buf_free(&out);
    free(url);
    return 0;
}
