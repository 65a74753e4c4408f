/*
 * textenc.c - detection of the text encoding of Windows exports and
 * conversion to UTF-8, in one pass and in chunks. See textenc.h.
 *
 * Invariant: st->offset is the input offset of the first byte not yet seen
 * by the decoder proper (after the sniff buffer); every error offset is
 * computed from it, so offsets are exact across chunk boundaries. Input is
 * checked strictly in order: the text before the first bad unit of a chunk
 * is appended before failing, and a character split between chunks is
 * completed with continuation bytes only, so the output, the result and the
 * error are the same however the input is chunked (tests/fuzz/fuzz_textenc).
 */
#include "textenc.h"
#include "rasfleet/result.h"
#include "utf8.h"

#include <string.h>

const char *textenc_kind_name(enum textenc_kind kind)
{
    switch (kind) {
    case TEXTENC_UTF8:
        return "utf-8";
    case TEXTENC_UTF8_BOM:
        return "utf-8-bom";
    case TEXTENC_UTF16LE:
        return "utf-16le";
    case TEXTENC_UTF16LE_BOM:
        return "utf-16le-bom";
    case TEXTENC_UTF16BE:
        return "utf-16be";
    case TEXTENC_UTF16BE_BOM:
        return "utf-16be-bom";
    }
    return "unknown";
}

void textenc_stream_init(struct textenc_stream *st)
{
    memset(st, 0, sizeof(*st));
    st->kind = TEXTENC_UTF8;
}

enum textenc_kind textenc_stream_kind(const struct textenc_stream *st)
{
    return st->kind;
}

const struct textenc_error *textenc_stream_error(const struct textenc_stream *st)
{
    return st->failed && st->fail_rc == RF_EFORMAT ? &st->err : NULL;
}

static int stream_fail(struct textenc_stream *st, int rc, size_t offset, const char *reason)
{
    st->failed = true;
    st->fail_rc = rc;
    st->err.offset = offset;
    st->err.reason = reason;
    st->err.truncated = false;
    return rc;
}

static bool is_utf16(enum textenc_kind k)
{
    return k != TEXTENC_UTF8 && k != TEXTENC_UTF8_BOM;
}

static bool is_big_endian(enum textenc_kind k)
{
    return k == TEXTENC_UTF16BE || k == TEXTENC_UTF16BE_BOM;
}

/* Picks the encoding from the first bytes; returns the BOM length. */
static size_t detect(const unsigned char *p, size_t n, enum textenc_kind *kind)
{
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        *kind = TEXTENC_UTF8_BOM;
        return 3;
    }
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
        *kind = TEXTENC_UTF16LE_BOM;
        return 2;
    }
    if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
        *kind = TEXTENC_UTF16BE_BOM;
        return 2;
    }
    /* No BOM: UTF-16 text of mostly ASCII/Latin characters has a NUL in
     * one half of most code units and almost never in the other half. */
    size_t pairs = n / 2, nul_odd = 0, nul_even = 0;
    for (size_t i = 0; i < pairs; i++) {
        nul_even += p[2 * i] == 0;
        nul_odd += p[2 * i + 1] == 0;
    }
    *kind = TEXTENC_UTF8;
    if (pairs > 0 && nul_odd * 2 >= pairs && nul_even * 8 <= nul_odd)
        *kind = TEXTENC_UTF16LE;
    else if (pairs > 0 && nul_even * 2 >= pairs && nul_odd * 8 <= nul_even)
        *kind = TEXTENC_UTF16BE;
    return 0;
}

static size_t utf8_seq_len(unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 1;
}

/*
 * Appends the text of p[0..n) (input offset off) up to its first bad unit
 * (an invalid sequence or a NUL, whichever comes first) and fails there, so
 * the output and the error do not depend on where the chunks were cut.
 */
static int utf8_put(struct textenc_stream *st, const unsigned char *p, size_t n, size_t off,
                    struct buf *out)
{
    size_t bad = n;
    const char *reason = NULL;
    if (!utf8_validate((const char *)p, n, &bad))
        reason = "invalid UTF-8";
    const unsigned char *nul = memchr(p, 0, bad);
    if (nul) {
        bad = (size_t)(nul - p);
        reason = "NUL byte (binary data)";
    }
    if (buf_append(out, p, bad) != RF_OK)
        return stream_fail(st, RF_ENOMEM, off, "out of memory");
    return reason ? stream_fail(st, RF_EFORMAT, off + bad, reason) : RF_OK;
}

static int utf8_process(struct textenc_stream *st, const unsigned char *p, size_t n,
                        struct buf *out)
{
    size_t base = st->offset, i = 0;
    int rc;
    st->offset += n;
    if (st->n_carry) {
        /* Complete the split sequence with continuation bytes only: any other
         * byte ends it, and utf8_put() then reports it at its lead byte, as
         * it would have in one chunk. */
        while (st->n_carry < st->carry_need && st->n_carry < sizeof(st->carry) && i < n &&
               (p[i] & 0xC0) == 0x80)
            st->carry[st->n_carry++] = p[i++];
        if (st->n_carry < st->carry_need && i == n)
            return RF_OK;
        if ((rc = utf8_put(st, st->carry, st->n_carry, st->carry_off, out)) != RF_OK)
            return rc;
        st->n_carry = 0;
    }
    /* Hold back a sequence cut by the end of this chunk. */
    size_t hold = 0;
    for (size_t k = 1; k <= 4 && k <= n - i; k++) {
        unsigned char c = p[n - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = utf8_seq_len(c);
        if (need > k)
            hold = k;
        break;
    }
    if ((rc = utf8_put(st, p + i, n - i - hold, base + i, out)) != RF_OK)
        return rc;
    if (hold) {
        memcpy(st->carry, p + n - hold, hold);
        st->n_carry = hold;
        st->carry_need = utf8_seq_len(p[n - hold]);
        st->carry_off = base + n - hold;
    }
    return RF_OK;
}

static size_t put_code_point(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        w[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char)(0xC0 | (cp >> 6));
        w[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char)(0xE0 | (cp >> 12));
        w[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        w[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    w[0] = (char)(0xF0 | (cp >> 18));
    w[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    w[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    w[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one UTF-16 code unit at input offset off, writing into *w. */
static int utf16_unit(struct textenc_stream *st, uint32_t u, size_t off, char **w)
{
    if (st->has_high) {
        if (u < 0xDC00 || u > 0xDFFF)
            return stream_fail(st, RF_EFORMAT, st->high_off, "lone high surrogate");
        uint32_t cp = 0x10000 + ((st->high - 0xD800) << 10) + (u - 0xDC00);
        *w += put_code_point(*w, cp);
        st->has_high = false;
        return RF_OK;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
        st->has_high = true;
        st->high = u;
        st->high_off = off;
        return RF_OK;
    }
    if (u >= 0xDC00 && u <= 0xDFFF)
        return stream_fail(st, RF_EFORMAT, off, "lone low surrogate");
    if (u == 0)
        return stream_fail(st, RF_EFORMAT, off, "NUL character (binary data)");
    *w += put_code_point(*w, u);
    return RF_OK;
}

static int utf16_process(struct textenc_stream *st, const unsigned char *p, size_t n,
                         struct buf *out)
{
    bool be = is_big_endian(st->kind);
    size_t base = st->offset, i = 0;
    int rc = RF_OK;
    st->offset += n;
    /* each pair of input bytes gives at most 3 output bytes (4 per surrogate pair) */
    if (buf_reserve(out, (n / 2 + 2) * 3) != RF_OK)
        return stream_fail(st, RF_ENOMEM, base, "out of memory");
    char *w = out->data + out->len;
    if (st->n_carry && n > 0) {
        unsigned char b0 = st->carry[0], b1 = p[0];
        uint32_t u = be ? (uint32_t)(b0 << 8 | b1) : (uint32_t)(b1 << 8 | b0);
        st->n_carry = 0;
        i = 1;
        rc = utf16_unit(st, u, st->carry_off, &w);
    }
    for (; rc == RF_OK && i + 1 < n; i += 2) {
        uint32_t u = be ? (uint32_t)(p[i] << 8 | p[i + 1]) : (uint32_t)(p[i + 1] << 8 | p[i]);
        rc = utf16_unit(st, u, base + i, &w);
    }
    if (rc == RF_OK && i < n) {
        st->carry[0] = p[i];
        st->n_carry = 1;
        st->carry_off = base + i;
    }
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return rc;
}

static int process(struct textenc_stream *st, const unsigned char *p, size_t n, struct buf *out)
{
    if (n == 0)
        return RF_OK;
    return is_utf16(st->kind) ? utf16_process(st, p, n, out) : utf8_process(st, p, n, out);
}

/* Detects the encoding from the sniff buffer and decodes what it holds. */
static int end_sniffing(struct textenc_stream *st, struct buf *out)
{
    size_t bom = detect(st->sniff, st->n_sniff, &st->kind);
    st->detected = true;
    st->offset = bom;
    return process(st, st->sniff + bom, st->n_sniff - bom, out);
}

int textenc_stream_feed(struct textenc_stream *st, const char *in, size_t len, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)in;
    int rc;
    if (st->failed)
        return st->fail_rc;
    if (!st->detected) {
        size_t take = sizeof(st->sniff) - st->n_sniff;
        if (take > len)
            take = len;
        memcpy(st->sniff + st->n_sniff, p, take);
        st->n_sniff += take;
        p += take;
        len -= take;
        if (st->n_sniff < sizeof(st->sniff))
            return RF_OK;
        if ((rc = end_sniffing(st, out)) != RF_OK)
            return rc;
    }
    return process(st, p, len, out);
}

int textenc_stream_finish(struct textenc_stream *st, struct buf *out)
{
    int rc;
    if (st->failed)
        return st->fail_rc;
    if (!st->detected && (rc = end_sniffing(st, out)) != RF_OK)
        return rc;
    if (st->n_carry)
        rc = stream_fail(st, RF_EFORMAT, st->carry_off,
                         is_utf16(st->kind) ? "odd number of bytes in UTF-16 text"
                                            : "UTF-8 sequence cut by the end of the input");
    else if (st->has_high)
        rc = stream_fail(st, RF_EFORMAT, st->high_off, "lone high surrogate at the end");
    else
        return RF_OK;
    st->err.truncated = true;
    return rc;
}

int textenc_decode(const char *buf, size_t len, struct buf *out, enum textenc_kind *kind,
                   struct textenc_error *err)
{
    struct textenc_stream st;
    textenc_stream_init(&st);
    int rc = textenc_stream_feed(&st, buf, len, out);
    if (rc == RF_OK)
        rc = textenc_stream_finish(&st, out);
    if (kind)
        *kind = st.kind;
    if (rc != RF_OK && err)
        *err = st.err;
    return rc;
}
