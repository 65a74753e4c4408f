/*
 * batcher.h - gathers records into batches bounded in count and bytes, and
 * the progress "delta" that must be recorded once each batch is spooled.
 *
 * Records are encoded to JSON as they arrive (record_encode_json), so the
 * batcher never keeps the parsers' structs or their arena strings: the
 * caller may recycle its arena after every flush. When a record would take
 * the open batch over max_records or max_bytes (the whole batch object,
 * wrapper included), the open batch is handed to the flush callback first;
 * a single record bigger than max_bytes still travels, alone.
 *
 * The delta is text, one item per line: "k <16 hex digits>" for a dedupe
 * key (keyset.h) and any line the caller adds with batcher_note() (file
 * progress). progress.c reads it back.
 */
#ifndef RF_AGENT_BATCHER_H
#define RF_AGENT_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rasfleet/record.h"

/* Room kept for {"schema":1,"batch_id":...,"agent":{...},"records":[...]}. */
#define BATCHER_WRAPPER_RESERVE 2048

struct batcher_limits {
    size_t max_records; /* >= 1 */
    size_t max_bytes;   /* uncompressed JSON of the batch object, > BATCHER_WRAPPER_RESERVE */
};

struct batcher;
/* Called with a non-empty batch (records or delta lines); returns RF_OK once
 * the batch is safe (spooled), after which the batcher empties itself. */
typedef int (*batcher_flush_fn)(void *ctx, struct batcher *b);

struct batcher {
    struct batcher_limits lim;
    struct buf records; /* encoded records joined by ',' */
    size_t n_records;
    struct buf delta; /* progress lines */
    size_t n_keys;
    struct buf scratch;
    batcher_flush_fn flush;
    void *ctx;
    size_t n_flushes; /* batches handed to flush so far */
};

void batcher_init(struct batcher *b, const struct batcher_limits *lim, batcher_flush_fn fn,
                  void *ctx);
void batcher_free(struct batcher *b);

/* Adds one record and its dedupe keys (n_keys may be 0). Returns RF_OK, the
 * flush callback's error (the record is then not added), or RF_ENOMEM. */
int batcher_add(struct batcher *b, const struct rf_record *r, const uint64_t *keys, size_t n_keys);

/* Adds a progress line (no '\n' inside) to the open batch's delta. */
int batcher_note(struct batcher *b, const char *line);

/* Hands the open batch to the callback when it holds records or notes. */
int batcher_flush(struct batcher *b);

/* Builds the api-v1 batch object of the open batch into out (appended). */
int batcher_body(const struct batcher *b, const char *batch_id, const struct rf_agent_info *agent,
                 struct buf *out);

/*
 * The same object in three pieces, for a caller that compresses it without
 * a copy of the records (gzip_deflate_pieces): the head, appended to out by
 * batcher_body_head() (up to and including "records":[), then b->records,
 * then BATCHER_BODY_TAIL.
 */
int batcher_body_head(const char *batch_id, const struct rf_agent_info *agent, struct buf *out);
#define BATCHER_BODY_TAIL "]}"

#endif
