/*
 * writer_queue.h - the bounded queue in front of a storage writer thread,
 * and the thread's loop: both storage backends (writer.c on SQLite,
 * pg_writer.c on PostgreSQL) take batches the same way.
 *
 * Policy:
 * - submit refuses (RF_EBUSY: 503 queue_full) past queue_batches batches,
 *   or past queue_bytes once at least one batch waits (a single batch
 *   larger than the bound is still taken), and after stop (RF_ESTOPPED);
 * - the thread takes whole batches up to group_records records and
 *   group_batches batches per group; under load a small group may wait up
 *   to group_wait_ms from its oldest batch to fill (every commit rewrites
 *   the index pages it dirtied, so bigger groups are cheaper per batch),
 *   while an idle collector commits at once;
 * - housekeeping runs after a second without work, and at most once a
 *   second between groups, so a busy collector still ages data out;
 * - with an ops->flush (SQLite), answers go out on a second thread: the
 *   writer hands each processed group over and goes on with the next, and
 *   that thread calls flush() once for every group handed over before the
 *   call began (so one disk sync serves all of them), then committed() and
 *   the answers of each, in order; a failed flush fails the groups that
 *   waited for it (503). At most ACK_MAX_GROUPS groups wait for it, then
 *   the writer waits too;
 * - stop drains: every queued batch is processed and answered.
 *
 * Storage health is the queue's: healthy while the owner's last commit
 * succeeded (writer_queue_commit_ok_locked) and the last flush did (the
 * answering thread records it). The queue's lock also guards the owner's
 * own shared fields (counters): owners lock `q.lock` for them.
 */
#ifndef RASFLEET_WRITER_QUEUE_H
#define RASFLEET_WRITER_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rasfleet/record.h"
#include "writer.h"

/* One queued batch, owned by the queue, then by the thread. */
struct writer_job {
    struct rf_batch batch;
    uint8_t *inserted; /* per record: stored now (1) or already there (0) */
    size_t bytes;
    writer_done_fn done;
    void *arg;
    struct writer_job *next;
    struct writer_job *next_group; /* first job of the next group awaiting its flush */
    int64_t received_ms;           /* SQLite writer: the receipt time its group wrote */
    struct writer_result res;
    int64_t queued_ns;   /* when it entered the queue (monotonic) */
    bool created_device; /* PostgreSQL writer: this batch inserted its device */
    bool unsent;         /* PostgreSQL writer: could not be encoded, failed unsent */
    int64_t device_row;  /* PostgreSQL writer: devices.id once the batch is stored */
};

struct writer_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct writer_job *head, *tail; /* guarded by lock */
    size_t depth, bytes;            /* guarded by lock */
    size_t queued_records;          /* guarded by lock */
    bool stopping;                  /* guarded by lock */
    size_t max_batches, max_bytes, group_records, group_batches;
    unsigned group_wait_ms;
    /* the answering thread (ops->flush) */
    pthread_cond_t ack_cond;
    struct writer_job *ack_head, *ack_tail; /* groups awaiting their flush; guarded by lock */
    size_t ack_groups;                      /* guarded by lock */
    bool ack_stopping;                      /* guarded by lock */
    bool commit_ok, flush_ok;               /* guarded by lock: storage health */
};

/* Processed groups that may wait for a flush before the writer waits too. */
#define ACK_MAX_GROUPS 16

void writer_queue_init(struct writer_queue *q, const struct writer_config *cfg,
                       size_t group_batches);
void writer_queue_destroy(struct writer_queue *q);

/* Takes the batch (batch is reset) on RF_OK; RF_EBUSY, RF_ESTOPPED or
 * RF_ENOMEM leave it with the caller. */
int writer_queue_submit(struct writer_queue *q, struct rf_batch *batch, size_t bytes,
                        writer_done_fn done, void *arg);

/* True when batches wait (retention yields to them). */
bool writer_queue_has_work(struct writer_queue *q);

/* Depth, bytes, capacity and health under the lock (the caller holds it). */
void writer_queue_stats_locked(const struct writer_queue *q, struct writer_stats *out);

/* The owner's last commit succeeded (ok) or met a storage error; _locked:
 * the caller holds the lock. */
void writer_queue_commit_ok_locked(struct writer_queue *q, bool ok);
void writer_queue_set_commit_ok(struct writer_queue *q, bool ok);
/* A health probe wrote (and flushed): storage is healthy again. */
void writer_queue_probe_ok(struct writer_queue *q);
/* The last commit and the last flush succeeded. */
bool writer_queue_healthy(struct writer_queue *q);

/* Marks the queue stopping and wakes the thread. */
void writer_queue_stop(struct writer_queue *q);

struct writer_queue_ops {
    void (*process)(void *owner, struct writer_job *group); /* fills every job's res */
    void (*housekeeping)(void *owner);
    /* optional: makes every group process() returned so far durable; RF_OK,
     * or an error with its message in err (the waiting groups get 503) */
    int (*flush)(void *owner, char *err, size_t errlen);
    /* optional, with flush: called on the answering thread for each group,
     * in order, after its flush and before its answers (also when the
     * flush failed: the rows are committed) */
    void (*committed)(void *owner, struct writer_job *group);
};

/* The thread's loop: returns once stopping and drained. Calls every job's
 * done callback after process() (and, given ops->flush, after the flush
 * that followed it, on a thread of its own), then frees the jobs. */
void writer_queue_run(struct writer_queue *q, const struct writer_queue_ops *ops, void *owner);

#endif
