/*
 * gzip.h - gzip compression helpers on top of zlib.
 *
 * gzip_inflate() is the collector's guard against gzip bombs: it stops as
 * soon as the output would exceed max_out and says so, so the caller can
 * answer 413 without ever holding more than max_out bytes.
 */
#ifndef RASFLEET_GZIP_H
#define RASFLEET_GZIP_H

#include <stddef.h>

#include "buf.h"

/*
 * Inflates one gzip stream (several concatenated members are accepted) from
 * in[0..in_len) and appends the result to out.
 * Returns RF_OK; RF_ETOOBIG when the output would exceed max_out bytes;
 * RF_ETRUNC when the stream ends before its trailer; RF_EFORMAT for a corrupt
 * stream or bytes after it; RF_ENOMEM. On error out's new bytes are dropped.
 */
int gzip_inflate(const void *in, size_t in_len, size_t max_out, struct buf *out);

/* Compresses in[0..in_len) as one gzip member appended to out (level 1..9). */
int gzip_deflate(const void *in, size_t in_len, int level, struct buf *out);

/* One piece of the input of gzip_deflate_pieces(). */
struct gzip_piece {
    const void *data;
    size_t len;
};

/*
 * Compresses the concatenation of pieces[0..n) as one gzip member appended
 * to out, without joining them first (the agent's batch: a small head, the
 * records as the batcher holds them, a tail). Returns as gzip_deflate().
 */
int gzip_deflate_pieces(const struct gzip_piece *pieces, size_t n, int level, struct buf *out);

#endif
