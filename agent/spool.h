/*
 * spool.h - the agent's on-disk queue of batches not yet acknowledged by the
 * collector. Every batch is written here BEFORE any attempt to send it, and
 * removed only when the collector answered 200 (spool_ack), when it refused
 * it for good (spool_reject: moved to rejected/ with a .reason file), or when
 * the spool is over its bounds (oldest first, counted as drops).
 *
 * Layout of the spool directory:
 *   NNNNNNNNNNNNNNNNNNNN.batch   one batch, NNN = its sequence number (20
 *                                decimal digits, so name order = age order)
 *   *.tmp                        a write that did not finish: ignored and
 *                                deleted by spool_open()
 *   dropped                      the spool's counters: "batches N\nrecords M\n"
 *                                (drops so far), then "rejected N\n" (batches
 *                                moved to rejected/ so far; older agents wrote
 *                                no such line: 0)
 *   rejected/NNN.batch + .reason batches the collector refused (4xx)
 *
 * A .batch file is a short text header, then the gzip body exactly as it
 * is POSTed, then the opaque "delta" (what progress.c must record once the
 * batch is safe, so it can be replayed after a crash):
 *   RFSPOOL 1\n seq N\n batch_id UUID\n created MS\n records N\n
 *   body N\n delta N\n \n <body bytes><delta bytes>
 * A file whose header does not parse or whose length does not match the
 * header is moved to rejected/ with the reason "corrupt" at open.
 *
 * Crash safety: a batch file is created with osdep_write_atomic() (temp
 * file, fsync, rename, fsync of the directory), so it either exists whole
 * or not at all; ack and reject are a single unlink / rename followed by a
 * directory fsync. No other file describes the queue: the directory
 * listing IS the queue, so there is no index to get out of step with it.
 */
#ifndef RF_AGENT_SPOOL_H
#define RF_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SPOOL_BATCH_ID_MAX 64

struct spool_limits {
    uint64_t max_bytes; /* sum of .batch file sizes; 0 = no bound */
    int64_t max_age_ms; /* a batch older than this is dropped; 0 = no bound */
};

struct spool_entry {
    uint64_t seq;
    char batch_id[SPOOL_BATCH_ID_MAX];
    int64_t created_ms;
    uint64_t records;
    uint64_t bytes; /* size of the .batch file */
};

struct spool;

/*
 * Opens (creating when missing) the spool in dir: deletes *.tmp leftovers,
 * moves corrupt files aside, loads the entries. The caller frees *out with
 * spool_close(). RF_OK, RF_EIO/RF_ESTORAGE, RF_ENOMEM.
 */
int spool_open(const char *dir, const struct spool_limits *lim, struct spool **out);
void spool_close(struct spool *s);

size_t spool_count(const struct spool *s);
uint64_t spool_bytes(const struct spool *s);
/* Entry i, oldest first (0 <= i < spool_count()); valid until the next change. */
const struct spool_entry *spool_entry_at(const struct spool *s, size_t i);
/* Highest sequence number the spool holds, 0 when empty. */
uint64_t spool_max_seq(const struct spool *s);
/* Leftover .tmp files deleted and corrupt files moved aside by spool_open(). */
size_t spool_cleaned_tmp(const struct spool *s);
size_t spool_corrupt(const struct spool *s);

/*
 * Writes a batch (meta->seq must be above every seq in the spool). When the
 * new file would take the spool over max_bytes, the oldest batches are
 * dropped first (counted). Returns RF_OK; RF_EINVAL for a bad seq or id;
 * RF_ETOOBIG when the batch alone is over max_bytes; RF_ESTORAGE (disk
 * full) or RF_EIO, with nothing left behind: the spool is as before,
 * except for batches already dropped to make room.
 */
int spool_push(struct spool *s, const struct spool_entry *meta, const void *body, size_t body_len,
               const void *delta, size_t delta_len);

/* Reads the body (what to POST) and/or the delta of batch seq (either buf
 * may be NULL); RF_ENOTFOUND when seq is not in the spool. */
int spool_read(const struct spool *s, uint64_t seq, struct buf *body, struct buf *delta);

/* The collector answered 200: deletes the batch. */
int spool_ack(struct spool *s, uint64_t seq);

/* The collector refused the batch for good: moves it to rejected/ and
 * writes rejected/NNN.reason with reason (one line or more of text), and
 * counts it (persistent). */
int spool_reject(struct spool *s, uint64_t seq, const char *reason);

/* Drops (counted) every batch created before now_ms - max_age_ms. */
int spool_expire(struct spool *s, int64_t now_ms);

/* Batches and records dropped since the spool was created (persistent). */
void spool_drops(const struct spool *s, uint64_t *batches, uint64_t *records);

/* Batches moved to rejected/ by spool_reject() since the spool was created
 * (persistent). */
uint64_t spool_rejects(const struct spool *s);

/* Path of the rejected/ folder ("<dir>/rejected"). */
const char *spool_rejected_dir(const struct spool *s);

#endif
