/*
 * progress.h - what the agent has already put in its spool, so a re-run
 * never sends a record twice and never skips one: per source file the
 * size, mtime and content hash consumed last time, and a set of dedupe
 * keys (event record numbers, event fingerprints, snapshot positions).
 *
 * Files in the state directory:
 *   progress  text: "rasfleet-agent-progress 1", "applied_seq N",
 *             "next_seq N", then "f SIZE MTIME_NS HASH16 PATH" per file
 *             (PATH %-escaped); replaced atomically (osdep_write_atomic)
 *   seen      binary: the keys, 8 bytes little-endian each, appended and
 *             flushed per batch; pruned to the newest max_keys at open
 *
 * Progress advances only through progress_apply_delta(seq, delta), called
 * after batch seq is in the spool. The batch carries the same delta, and
 * applied_seq says which batches are already applied: after a crash
 * between the spool write and the progress write, the caller replays the
 * deltas of the spooled batches above applied_seq (progress_apply_delta is
 * idempotent), so progress never lags behind the spool for long and never
 * runs ahead of it.
 */
#ifndef RF_AGENT_PROGRESS_H
#define RF_AGENT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct progress_file {
    char *path; /* relative to the source directory */
    uint64_t size;
    int64_t mtime_ns;
    uint64_t hash;
    bool visited; /* seen by the current scan */
};

struct progress;

/* Loads (or starts empty) the progress in state_dir; keys beyond max_keys
 * (oldest first) are forgotten. Caller frees with progress_close(). */
int progress_open(const char *state_dir, size_t max_keys, struct progress **out);
void progress_close(struct progress *p);

uint64_t progress_applied_seq(const struct progress *p);
/* Returns the next batch sequence number (above floor, which the caller
 * sets to the spool's highest seq) and advances the counter. */
uint64_t progress_next_seq(struct progress *p, uint64_t floor);

bool progress_has_key(const struct progress *p, uint64_t key);
/* Remembers key for the rest of this run (not persisted: that is the
 * delta's job). */
int progress_note_key(struct progress *p, uint64_t key);
size_t progress_key_count(const struct progress *p);

/* The entry of path, or NULL; marks it visited. */
struct progress_file *progress_file_find(struct progress *p, const char *path);

/* Formats the delta line that records path as consumed (into out). */
int progress_file_line(const char *path, uint64_t size, int64_t mtime_ns, uint64_t hash,
                       struct buf *out);

/* Applies the delta of batch seq: keys appended to "seen", file lines
 * merged, applied_seq = max(applied_seq, seq), "progress" rewritten. */
int progress_apply_delta(struct progress *p, uint64_t seq, const char *delta, size_t len);

/* Forgets the files that the last scan did not visit and saves. */
int progress_forget_unvisited(struct progress *p);

#endif
