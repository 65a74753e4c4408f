/*
 * checkpointer.h - moves WAL pages into the database file on a thread of its
 * own, so the writer's commits never pay for it.
 *
 * With SQLite's automatic checkpoint the commit that crosses the threshold
 * copies the whole WAL into the database and fsyncs it, inside the writer's
 * critical path (12-16% of the writer's time at full ingest, see
 * docs/benchmarks.md). The writer turns that off (wal_autocheckpoint=0) and
 * this thread runs PASSIVE checkpoints instead: they copy what no reader
 * still needs and never block the writer. A writer that never pauses still
 * keeps the WAL from wrapping (a passive checkpoint never ends with nothing
 * left to copy), so once the WAL passes restart_frames a RESTART checkpoint
 * follows the passive one: it waits for the writer's current commit, copies
 * the short tail the passive one left and makes the next commit wrap the
 * WAL. Keep the limit small (4096 frames, 16 MiB): with 65536 the WAL
 * reached ~190 MB, and each wrap cost the commit that truncated it 100-250
 * ms (p99 ack latency 109-121 ms at 400 batches/s against 9.5-12 ms with
 * 4096, docs/benchmarks.md).
 */
#ifndef RASFLEET_CHECKPOINTER_H
#define RASFLEET_CHECKPOINTER_H

#include <stddef.h>
#include <stdint.h>

struct checkpointer;

struct checkpointer_config {
    const char *db_path;
    unsigned interval_ms;   /* pause between passive checkpoints */
    int64_t restart_frames; /* WAL frames above which a RESTART checkpoint is forced */
};

struct checkpointer_stats {
    uint64_t runs;      /* checkpoints that copied at least one frame */
    uint64_t frames;    /* frames copied into the database file */
    uint64_t restarts;  /* forced RESTART checkpoints */
    uint64_t failures;  /* checkpoints that returned an error */
    int64_t wal_frames; /* WAL frames at the last look */
};

/* Opens its own connection to db_path and starts the thread. */
int checkpointer_start(const struct checkpointer_config *cfg, struct checkpointer **out,
                       char *errbuf, size_t errlen);

void checkpointer_get_stats(struct checkpointer *c, struct checkpointer_stats *out);

/* Stops the thread (waits for a checkpoint in progress) and closes. NULL-safe. */
void checkpointer_stop(struct checkpointer *c);

#endif
