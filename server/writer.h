/*
 * writer.h - the single writer thread that owns the read-write database
 * connection, and the bounded queue in front of it.
 *
 * HTTP threads parse and validate a batch, then hand it over with
 * writer_submit(); the writer takes every queued batch (up to a record
 * budget) into one transaction (group commit), deduplicates on
 * (device_id, batch_id) and per device on event record ids, adds the new
 * outcome events to the daily rollup tables (rollup.h), commits, then calls
 * each batch's done callback with the outcome. A done callback with status
 * RF_OK means the batch is durable: that is the only moment the collector
 * may answer 200.
 *
 * Between groups, and when idle, the writer does housekeeping in small
 * steps that never hold the database for long: retention deletes, token
 * table reloads, and a health probe after a storage error.
 *
 * Two backends implement this contract: writer.c on SQLite (a file path)
 * and pg_writer.c on PostgreSQL (db_path is a postgresql:// URL, see
 * dburl.h); writer.c forwards every call to the latter when so configured.
 */
#ifndef RASFLEET_WRITER_H
#define RASFLEET_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "rasfleet/record.h"

struct writer;

struct writer_config {
    const char *db_path;
    size_t queue_batches;     /* queue bound in batches */
    size_t queue_bytes;       /* queue bound in bytes of parsed batches */
    size_t group_records;     /* records per transaction before committing */
    int retention_days;       /* raw rows; 0 = keep forever */
    int rollup_retention_days; /* daily rollups; 0 = keep forever */
    int64_t max_db_bytes;     /* 0 = no cap (PRAGMA max_page_count) */
    int retention_interval_s; /* how often retention runs */
    int group_wait_ms;        /* under load, let a small group fill this long (0 = never) */
    int wal_wrap_frames;      /* SQLite: WAL frames past which the writer wraps it (0: 4096) */
};

struct writer_result {
    int status;     /* RF_OK, RF_ESTORAGE, RF_ESTOPPED, RF_EINVAL */
    bool duplicate; /* the (device, batch) pair was already stored */
    size_t accepted;
    char message[200]; /* for a person when status != RF_OK */
};

/* Called once per submitted batch, on the writer thread (PostgreSQL) or on
 * its answering thread once the commit is durable (SQLite, walsync.h). */
typedef void (*writer_done_fn)(void *arg, const struct writer_result *res);

/* Called after each successful commit with the batches that were stored
 * (duplicates excluded), before their done callbacks, in commit order: on
 * the writer thread (PostgreSQL), or on its answering thread after the WAL
 * sync (SQLite), so the writer never waits for the hook's readers.
 * inserted[i][r] is 1 when record r of batch i was new (events already
 * stored under the same device and record id are 0). now_ms is the receipt
 * time written to the database for these batches. */
typedef void (*writer_commit_hook_fn)(void *arg, const struct rf_batch *const *batches,
                                      const uint8_t *const *inserted, size_t n, int64_t now_ms);

/* PostgreSQL only: called on the writer thread with the id of each group
 * transaction (pg_current_xact_id()) right after BEGIN, before any row of
 * it is written (begun = true; a status other than RF_OK fails the group),
 * and again with begun = false when that transaction did not commit. The
 * hot aggregate's tail skips these transactions' rows (pg_tail.h). */
typedef int (*writer_tx_hook_fn)(void *arg, int64_t txid, bool begun);

struct writer_stats {
    size_t queue_depth;
    size_t queue_capacity;
    size_t queue_bytes;
    bool healthy;
    int64_t devices_known;
    size_t cache_bytes;
    int64_t database_bytes; /* 0: not known to the backend (SQLite: stat the file) */
    uint64_t wal_wraps;     /* SQLite: times the writer started the WAL over */
};

/* Opens the database (migrating it), starts the thread. auth (may be NULL)
 * is reloaded whenever another process changes the token rows. */
int writer_start(const struct writer_config *cfg, struct auth *auth, struct writer **out,
                 char *errbuf, size_t errlen);

void writer_set_commit_hook(struct writer *w, writer_commit_hook_fn fn, void *arg);
/* Sets the transaction hook (ignored on SQLite: one writer, no tail). */
void writer_set_tx_hook(struct writer *w, writer_tx_hook_fn fn, void *arg);

/*
 * Queues a batch. On RF_OK the writer owns the batch's contents (the caller's
 * struct is reset) and done(arg, ...) will be called exactly once, on the
 * writer thread. RF_EBUSY: the queue is full (answer 503 + Retry-After);
 * RF_ESTOPPED: shutting down. On error the caller keeps the batch.
 */
int writer_submit(struct writer *w, struct rf_batch *batch, size_t bytes, writer_done_fn done,
                  void *arg);

void writer_get_stats(struct writer *w, struct writer_stats *out);

/* Stops accepting, drains and commits the queue, checkpoints the WAL, joins
 * the thread, closes the database and frees w. */
void writer_stop(struct writer *w);

#endif
