/*
 * walsync.h - makes a SQLite database's committed WAL frames durable from a
 * thread other than the one that commits.
 *
 * The writer's connection commits with synchronous=NORMAL: COMMIT writes
 * the transaction's frames into the WAL and returns without waiting for the
 * disk. Before any batch of that commit is answered, the writer queue's
 * answering thread calls walsync_flush(), an fdatasync() of the WAL on a
 * descriptor of this module's own (a sync covers the file's data whoever
 * wrote it), while the writer already builds the next group. One sync so
 * serves every group committed before it began, and the writer no longer
 * waits for the disk: at 400 batches/s of 500 records, COMMIT's own sync
 * was ~1.8 ms of every ~8 ms group (docs/benchmarks.md).
 *
 * SQLite stays consistent after a power loss with synchronous=NORMAL in
 * WAL mode (it syncs the WAL before each checkpoint and the database after
 * it); what NORMAL alone may lose, the last commits, is never answered
 * before this sync.
 */
#ifndef RASFLEET_WALSYNC_H
#define RASFLEET_WALSYNC_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

/* Safe to flush from several threads (the answering thread, the writer's
 * health probe). */
struct walsync {
    pthread_mutex_t lock;
    char *wal_path; /* "<db>-wal" */
    char *dir_path; /* its folder: synced once per WAL file, for the file's name */
    int fd;         /* -1 until the first flush; guarded by lock */
    dev_t dev;      /* guarded by lock */
    ino_t ino;      /* guarded by lock */
};

/* RF_OK or RF_ENOMEM. Opens nothing yet. */
int walsync_init(struct walsync *s, const char *db_path);

/* Syncs the WAL's data (reopens it if the file was replaced since, and then
 * syncs its folder too). RF_OK, or RF_EIO with the cause in err. */
int walsync_flush(struct walsync *s, char *err, size_t errlen);

void walsync_free(struct walsync *s);

#endif
