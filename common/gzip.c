/*
 * gzip.c - zlib wrappers with an output cap. See gzip.h.
 */
#include "gzip.h"
#include "rasfleet/result.h"

#include <limits.h>
#include <zlib.h>

#define GZIP_STEP (64u * 1024u)

int gzip_inflate(const void *in, size_t in_len, size_t max_out, struct buf *out)
{
    z_stream zs = {0};
    size_t start_len = out->len;
    int rc = RF_OK;
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return RF_ENOMEM;
    zs.next_in = (Bytef *)in;
    size_t in_left = in_len;
    int zrc = Z_OK;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            uInt chunk = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            zs.avail_in = chunk;
            in_left -= chunk;
        }
        size_t produced = out->len - start_len;
        if (produced >= max_out) {
            /* Output is at the cap: any further byte makes it too big. */
            unsigned char probe;
            zs.next_out = &probe;
            zs.avail_out = 1;
            zrc = inflate(&zs, Z_NO_FLUSH);
            if (zs.avail_out == 0) {
                rc = RF_ETOOBIG;
                goto out;
            }
        } else {
            size_t room = max_out - produced;
            size_t step = room < GZIP_STEP ? room : GZIP_STEP;
            if (buf_reserve(out, step) != RF_OK) {
                rc = RF_ENOMEM;
                goto out;
            }
            zs.next_out = (Bytef *)out->data + out->len;
            zs.avail_out = (uInt)step;
            zrc = inflate(&zs, Z_NO_FLUSH);
            out->len += step - zs.avail_out;
            out->data[out->len] = '\0';
        }
        if (zrc == Z_STREAM_END) {
            if (zs.avail_in == 0 && in_left == 0)
                break;
            /* Another gzip member may follow (as `cat a.gz b.gz` makes). */
            const unsigned char *next = zs.next_in;
            if (zs.avail_in >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
                if (inflateReset(&zs) != Z_OK) {
                    rc = RF_EFORMAT;
                    goto out;
                }
                continue;
            }
            rc = RF_EFORMAT;
            goto out;
        }
        if (zrc == Z_BUF_ERROR) {
            if (zs.avail_in == 0 && in_left == 0) {
                rc = RF_ETRUNC;
                goto out;
            }
            continue;
        }
        if (zrc != Z_OK) {
            rc = zrc == Z_MEM_ERROR ? RF_ENOMEM : RF_EFORMAT;
            goto out;
        }
        if (zs.avail_in == 0 && in_left == 0 && zs.avail_out != 0) {
            rc = RF_ETRUNC;
            goto out;
        }
    }
out:
    inflateEnd(&zs);
    if (rc != RF_OK) {
        out->len = start_len;
        if (out->data)
            out->data[start_len] = '\0';
    }
    return rc;
}

int gzip_deflate_pieces(const struct gzip_piece *pieces, size_t n, int level, struct buf *out)
{
    z_stream zs = {0};
    int rc = RF_OK;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].len > UINT_MAX - total)
            return RF_ETOOBIG;
        total += pieces[i].len;
    }
    if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return RF_ENOMEM;
    uLong bound = deflateBound(&zs, (uLong)total);
    if (buf_reserve(out, bound) != RF_OK) {
        rc = RF_ENOMEM;
        goto out;
    }
    zs.next_out = (Bytef *)out->data + out->len;
    zs.avail_out = (uInt)bound;
    /* bound covers the whole member: every piece is consumed in one call */
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].len == 0)
            continue; /* deflate() makes no progress on it: Z_BUF_ERROR */
        zs.next_in = (Bytef *)pieces[i].data;
        zs.avail_in = (uInt)pieces[i].len;
        if (deflate(&zs, Z_NO_FLUSH) != Z_OK || zs.avail_in != 0) {
            rc = RF_EIO;
            goto out;
        }
    }
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        rc = RF_EIO;
        goto out;
    }
    out->len += bound - zs.avail_out;
    out->data[out->len] = '\0';
out:
    deflateEnd(&zs);
    return rc;
}

int gzip_deflate(const void *in, size_t in_len, int level, struct buf *out)
{
    struct gzip_piece one = {in, in_len};
    return gzip_deflate_pieces(&one, 1, level, out);
}
