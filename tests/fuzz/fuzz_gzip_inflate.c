/*
 * fuzz_gzip_inflate - gzip_inflate(), the collector's gzip-bomb guard.
 *
 * Input: two bytes choose the output cap (0..65535, or 1 MiB when both are
 * 0xFF), the rest is the "gzip" stream. The output buffer is pre-filled with
 * a prefix, which must survive every call untouched.
 *
 * Invariants beyond "no crash":
 *  - rc is RF_OK, RF_ETOOBIG, RF_ETRUNC or RF_EFORMAT;
 *  - RF_OK: at most cap bytes were appended, the buffer is NUL-terminated,
 *    and inflating again with cap = exactly that size succeeds with the same
 *    bytes while cap - 1 gives RF_ETOOBIG (the cap is exact, not rounded);
 *  - error: the buffer is back to the prefix alone ("new bytes dropped");
 *  - RF_ETOOBIG is only claimed when the stream really inflates to more than
 *    the cap: with a larger cap it is RF_OK with more than cap bytes, or
 *    still refused;
 *  - round trip: gzip_deflate(input) inflates back to the input with
 *    cap = input size, and to RF_ETOOBIG with cap = size - 1.
 */
#include "fuzz_common.h"
#include "gzip.h"

#define PREFIX "prefix:"

static int inflate_fresh(const uint8_t *in, size_t n, size_t cap, struct buf *out)
{
    buf_init(out);
    buf_append_str(out, PREFIX);
    return gzip_inflate(in, n, cap, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = (size_t)data[0] << 8 | data[1];
    if (cap == 0xFFFF)
        cap = 1u << 20;
    const uint8_t *in = data + 2;
    size_t n = size - 2;
    const size_t plen = strlen(PREFIX);

    struct buf out;
    int rc = inflate_fresh(in, n, cap, &out);
    FUZZ_CHECK(rc == RF_OK || rc == RF_ETOOBIG || rc == RF_ETRUNC || rc == RF_EFORMAT, "rc=%d",
               rc);
    FUZZ_CHECK(out.len >= plen && memcmp(out.data, PREFIX, plen) == 0, "prefix damaged");
    FUZZ_CHECK(out.data[out.len] == '\0', "not NUL-terminated");
    if (rc == RF_OK) {
        size_t got = out.len - plen;
        FUZZ_CHECK(got <= cap, "inflated %zu bytes with a cap of %zu", got, cap);
        struct buf again;
        int rc2 = inflate_fresh(in, n, got, &again);
        FUZZ_CHECK(rc2 == RF_OK && again.len == out.len &&
                       memcmp(again.data, out.data, out.len) == 0,
                   "cap = output size (%zu) gives rc=%d", got, rc2);
        buf_free(&again);
        if (got > 0) {
            rc2 = inflate_fresh(in, n, got - 1, &again);
            FUZZ_CHECK(rc2 == RF_ETOOBIG, "cap = output size - 1 (%zu) gives rc=%d", got - 1, rc2);
            FUZZ_CHECK(again.len == plen, "refused call kept %zu bytes", again.len - plen);
            buf_free(&again);
        }
    } else {
        FUZZ_CHECK(out.len == plen, "rc=%d but %zu new bytes kept", rc, out.len - plen);
    }
    if (rc == RF_ETOOBIG && cap < (1u << 20)) {
        struct buf big;
        size_t bigcap = 1u << 20;
        int rc2 = inflate_fresh(in, n, bigcap, &big);
        FUZZ_CHECK(rc2 != RF_OK || big.len - plen > cap,
                   "RF_ETOOBIG with cap %zu, but the stream inflates to only %zu bytes", cap,
                   big.len - plen);
        buf_free(&big);
    }
    buf_free(&out);

    /* round trip through gzip_deflate */
    struct buf z = BUF_INIT, back;
    FUZZ_CHECK(gzip_deflate(in, n, 1 + data[0] % 9, &z) == RF_OK, "gzip_deflate failed");
    rc = inflate_fresh((const uint8_t *)z.data, z.len, n, &back);
    FUZZ_CHECK(rc == RF_OK && back.len == plen + n && memcmp(back.data + plen, in, n) == 0,
               "deflate/inflate round trip of %zu bytes: rc=%d", n, rc);
    buf_free(&back);
    if (n > 0) {
        rc = inflate_fresh((const uint8_t *)z.data, z.len, n - 1, &back);
        FUZZ_CHECK(rc == RF_ETOOBIG, "round trip with cap n-1: rc=%d", rc);
        buf_free(&back);
    }
    /* two concatenated members are accepted and give both payloads */
    struct buf zz = BUF_INIT;
    buf_append(&zz, z.data, z.len);
    buf_append(&zz, z.data, z.len);
    rc = inflate_fresh((const uint8_t *)zz.data, zz.len, 2 * n, &back);
    FUZZ_CHECK(rc == RF_OK && back.len == plen + 2 * n, "two members: rc=%d", rc);
    buf_free(&back);
    buf_free(&zz);
    buf_free(&z);
    return 0;
}
