/*
 * fuzz_textenc - encoding detection and conversion to UTF-8 (textenc.h),
 * in one call and streamed in chunks.
 *
 * Input: byte 0 seeds the chunk plan, the rest is the file.
 *
 * Invariants beyond "no crash":
 *  - textenc_decode() and the stream fed in chunks agree: same rc, same
 *    detected kind, same output on success, same error offset and reason on
 *    failure (the header promises "offsets are exact across chunk
 *    boundaries") [tag textenc-offset];
 *  - success: output is valid UTF-8 (independent checker) without NUL, at
 *    most 3/2 of the input plus a few bytes, and it is exactly the input:
 *    for UTF-8 the input minus its BOM, for UTF-16 the output re-encoded in
 *    the detected byte order equals the input minus its BOM (lossless);
 *  - failure: RF_EFORMAT with a reason and an offset inside the input, and
 *    textenc_stream_error() reports it; whole and chunked runs kept the
 *    same valid text before the bad unit [tag textenc-offset].
 */
#include "fuzz_common.h"
#include "textenc.h"

static void to_utf16(const char *s, size_t n, bool be, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k && i + j < n; j++)
            cp = cp << 6 | (p[i + j] & 0x3F);
        i += k;
        uint16_t u[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[0] = (uint16_t)(0xD800 | cp >> 10);
            u[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            nu = 2;
        } else {
            u[0] = (uint16_t)cp;
        }
        for (int x = 0; x < nu; x++) {
            unsigned char b[2];
            b[be ? 0 : 1] = (unsigned char)(u[x] >> 8);
            b[be ? 1 : 0] = (unsigned char)(u[x] & 0xFF);
            buf_append(out, b, 2);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    struct buf w = BUF_INIT;
    enum textenc_kind wk;
    struct textenc_error we = {0, NULL, false};
    int wrc = textenc_decode(in, n, &w, &wk, &we);
    FUZZ_CHECK(wrc == RF_OK || wrc == RF_EFORMAT, "rc=%d", wrc);
    FUZZ_CHECK(strcmp(textenc_kind_name(wk), "unknown") != 0, "kind %d", (int)wk);

    struct textenc_stream st;
    struct buf s = BUF_INIT;
    textenc_stream_init(&st);
    struct chunker ch;
    chunker_init(&ch, seed);
    size_t pos = 0;
    int src = RF_OK;
    while (pos < n && src == RF_OK) {
        size_t k = chunker_next(&ch);
        if (k > n - pos)
            k = n - pos;
        src = textenc_stream_feed(&st, in + pos, k, &s);
        pos += k;
    }
    if (src == RF_OK)
        src = textenc_stream_finish(&st, &s);
    else
        FUZZ_CHECK(textenc_stream_feed(&st, "a", 1, &s) == src, "not sticky");
    FUZZ_CHECK(src == wrc, "whole rc=%d, chunked (seed %u) rc=%d", wrc, seed, src);
    FUZZ_CHECK(textenc_stream_kind(&st) == wk, "kind whole %s chunked %s", textenc_kind_name(wk),
               textenc_kind_name(textenc_stream_kind(&st)));

    if (wrc == RF_OK) {
        const char *t = w.data ? w.data : "";
        FUZZ_CHECK(s.len == w.len && memcmp(s.data ? s.data : "", t, w.len) == 0,
                   "chunked output differs");
        FUZZ_CHECK(fuzz_utf8_ok(t, w.len), "output is not valid UTF-8");
        FUZZ_CHECK(!memchr(t, 0, w.len), "output holds a NUL");
        FUZZ_CHECK(w.len <= n * 3 / 2 + 4, "output %zu bytes for %zu input bytes", w.len, n);
        FUZZ_CHECK(textenc_stream_error(&st) == NULL, "error on success");
        size_t bom = wk == TEXTENC_UTF8_BOM                                  ? 3
                     : wk == TEXTENC_UTF16LE_BOM || wk == TEXTENC_UTF16BE_BOM ? 2
                                                                              : 0;
        FUZZ_CHECK(n >= bom, "bom longer than input");
        if (wk == TEXTENC_UTF8 || wk == TEXTENC_UTF8_BOM) {
            FUZZ_CHECK(w.len == n - bom && memcmp(t, in + bom, w.len) == 0,
                       "UTF-8 output is not the input");
        } else {
            struct buf r = BUF_INIT;
            to_utf16(t, w.len, wk == TEXTENC_UTF16BE || wk == TEXTENC_UTF16BE_BOM, &r);
            FUZZ_CHECK(r.len == n - bom && memcmp(r.data ? r.data : "", in + bom, r.len) == 0,
                       "UTF-16 decoding is lossy (%zu bytes re-encoded, %zu input)", r.len,
                       n - bom);
            buf_free(&r);
        }
    } else {
        FUZZ_CHECK(we.reason && we.offset <= n, "error offset %zu of %zu", we.offset, n);
        const struct textenc_error *se = textenc_stream_error(&st);
        FUZZ_CHECK(se && se->reason, "stream error missing");
        if (!fuzz_skip("textenc-offset")) {
            FUZZ_CHECK(se->offset == we.offset && strcmp(se->reason, we.reason) == 0 &&
                           se->truncated == we.truncated,
                       "error offset: whole %zu (%s), chunked %zu (%s), seed %u", we.offset,
                       we.reason, se->offset, se->reason, seed);
            /* the text before the bad unit is kept, in both modes */
            FUZZ_CHECK(s.len == w.len &&
                           memcmp(s.data ? s.data : "", w.data ? w.data : "", w.len) == 0,
                       "output before the error: whole %zu bytes, chunked %zu", w.len, s.len);
            FUZZ_CHECK(fuzz_utf8_ok(w.data ? w.data : "", w.len), "prefix not valid UTF-8");
        }
    }
    buf_free(&w);
    buf_free(&s);
    return 0;
}
