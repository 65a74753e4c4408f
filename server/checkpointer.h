/*
 * checkpointer.h - moves WAL pages into the database file on a thread of its
 * own, so the writer's commits never pay for it.
 *
 * With SQLite's automatic checkpoint the commit that crosses the threshold
 * copies the whole WAL into the database and fsyncs it, inside the writer's
 * critical path (12-16% of the writer's time at full ingest, see
 * docs/benchmarks.md). The writer turns that off (wal_autocheckpoint=0) and
 * this thread runs PASSIVE checkpoints instead: they copy what no reader
 * still needs and never block the writer. A pass runs every interval_ms,
 * and as soon as catchup_frames wait to be copied: the writer reports its
 * commits (checkpointer_committed), and a pass that leaves that many
 * (the writer committed meanwhile) is followed by the next at once. So the
 * uncopied tail stays short.
 *
 * A writer that never pauses keeps the WAL from wrapping on its own: SQLite
 * starts the WAL over only when a write transaction begins with every frame
 * copied. So the writer wraps it (writer.c, wal_wrap): past its frame limit
 * it runs a PASSIVE checkpoint of that short tail on its own connection
 * between two groups, and its next commit starts the WAL over. This
 * replaces a RESTART checkpoint from this thread, which had to catch the
 * writer's lock between two commits by polling, missed it for seconds
 * under load (the WAL grew to 430 MB, each frame write past the end paid
 * for the kernel zeroing the new page) and then blocked the writer for as
 * long as it took to copy the backlog (p99 ack latency 350-700 ms at 400
 * batches/s of 500 records).
 */
#ifndef RASFLEET_CHECKPOINTER_H
#define RASFLEET_CHECKPOINTER_H

#include <stddef.h>
#include <stdint.h>

struct checkpointer;

struct checkpointer_config {
    const char *db_path;
    unsigned interval_ms;  /* pause between passive checkpoints that caught up */
    int64_t catchup_frames; /* uncopied frames after a pass that call for the next at once */
};

struct checkpointer_stats {
    uint64_t runs;      /* checkpoints that copied at least one frame */
    uint64_t frames;    /* frames copied into the database file */
    uint64_t failures;  /* checkpoints that returned an error */
    int64_t wal_frames; /* WAL frames at the last look */
};

/* Opens its own connection to db_path and starts the thread. */
int checkpointer_start(const struct checkpointer_config *cfg, struct checkpointer **out,
                       char *errbuf, size_t errlen);

/* The writer committed and the WAL holds wal_frames frames (from
 * sqlite3_wal_hook): wakes the thread once catchup_frames wait. NULL-safe. */
void checkpointer_committed(struct checkpointer *c, int wal_frames);

void checkpointer_get_stats(struct checkpointer *c, struct checkpointer_stats *out);

/* Stops the thread (waits for a checkpoint in progress) and closes. NULL-safe. */
void checkpointer_stop(struct checkpointer *c);

#endif
