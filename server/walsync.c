/*
 * walsync.c - durable WAL commits from the answering thread. See walsync.h.
 */
#include "walsync.h"
#include "rasfleet/result.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int walsync_init(struct walsync *s, const char *db_path)
{
    *s = (struct walsync){.fd = -1};
    size_t n = strlen(db_path);
    s->wal_path = malloc(n + 5);
    s->dir_path = malloc(n + 2);
    if (!s->wal_path || !s->dir_path) {
        free(s->wal_path);
        free(s->dir_path);
        *s = (struct walsync){.fd = -1};
        return RF_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    memcpy(s->wal_path, db_path, n);
    memcpy(s->wal_path + n, "-wal", 5);
    const char *slash = strrchr(db_path, '/');
    if (!slash)
        memcpy(s->dir_path, ".", 2);
    else if (slash == db_path)
        memcpy(s->dir_path, "/", 2);
    else {
        memcpy(s->dir_path, db_path, (size_t)(slash - db_path));
        s->dir_path[slash - db_path] = '\0';
    }
    return RF_OK;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* (Re)opens the WAL when there is none open or the path names another file. */
static int open_current(struct walsync *s, char *err, size_t errlen)
{
    struct stat st;
    if (stat(s->wal_path, &st) != 0) {
        snprintf(err, errlen, "cannot sync the write-ahead log %s: %s", s->wal_path,
                 strerror(errno));
        return RF_EIO;
    }
    if (s->fd >= 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        return RF_OK;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = open(s->wal_path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &st) != 0 || sync_dir(s->dir_path) != 0) {
        snprintf(err, errlen, "cannot sync the write-ahead log %s: %s", s->wal_path,
                 strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        return RF_EIO;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    return RF_OK;
}

int walsync_flush(struct walsync *s, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    int rc = open_current(s, err, errlen);
    if (rc == RF_OK && fdatasync(s->fd) != 0) {
        snprintf(err, errlen, "the disk did not confirm the write-ahead log %s: %s", s->wal_path,
                 strerror(errno));
        rc = RF_EIO;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void walsync_free(struct walsync *s)
{
    if (!s->wal_path)
        return; /* never initialised, or freed already */
    if (s->fd >= 0)
        close(s->fd);
    free(s->wal_path);
    free(s->dir_path);
    pthread_mutex_destroy(&s->lock);
    *s = (struct walsync){.fd = -1};
}
