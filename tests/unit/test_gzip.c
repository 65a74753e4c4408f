/*
 * test_gzip.c - unit tests for common/gzip.c: round trips, the output cap
 * (gzip bombs), truncated, corrupt and multi-member streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "gzip.h"
#include "rasfleet/result.h"
#include "timeutil.h"

/* Deterministic, poorly compressible bytes. */
static unsigned char *make_payload(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

/* gzip of payload into a fresh buffer. */
static void compress_into(const void *data, size_t n, struct buf *gz)
{
    buf_init(gz);
    assert_int_equal(gzip_deflate(data, n, 6, gz), RF_OK);
    assert_true(gz->len >= 18); /* 10-byte header + 8-byte trailer at least */
    assert_int_equal((unsigned char)gz->data[0], 0x1f);
    assert_int_equal((unsigned char)gz->data[1], 0x8b);
}

/* Asserts that an inflate failed with rc and left out exactly as "keep". */
static void assert_inflate_fails(const void *in, size_t len, size_t max_out, int expect_rc)
{
    struct buf out = BUF_INIT;
    assert_int_equal(buf_append_str(&out, "keep"), RF_OK);
    assert_int_equal(gzip_inflate(in, len, max_out, &out), expect_rc);
    assert_int_equal(out.len, 4);
    assert_string_equal(out.data, "keep");
    buf_free(&out);
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 100, 65535, 65536, 65537, 300000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        unsigned char *p = make_payload(n, (uint32_t)(k + 1));
        struct buf gz, out = BUF_INIT;
        compress_into(p, n, &gz);
        assert_int_equal(gzip_inflate(gz.data, gz.len, n + 1000, &out), RF_OK);
        assert_int_equal(out.len, n);
        if (n)
            assert_memory_equal(out.data, p, n);
        buf_free(&gz);
        buf_free(&out);
        free(p);
    }
}

static void test_round_trip_levels_and_text(void **state)
{
    (void)state;
    const char *text = "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02.123Z\"}";
    for (int level = 1; level <= 9; level++) {
        struct buf gz = BUF_INIT, out = BUF_INIT;
        assert_int_equal(gzip_deflate(text, strlen(text), level, &gz), RF_OK);
        assert_int_equal(gzip_inflate(gz.data, gz.len, 1 << 20, &out), RF_OK);
        assert_string_equal(out.data, text);
        assert_int_equal(out.len, strlen(text));
        buf_free(&gz);
        buf_free(&out);
    }
}

static void test_deflate_appends(void **state)
{
    (void)state;
    struct buf gz = BUF_INIT, out = BUF_INIT;
    assert_int_equal(buf_append_str(&gz, "HDR"), RF_OK);
    assert_int_equal(gzip_deflate("abc", 3, 6, &gz), RF_OK);
    assert_memory_equal(gz.data, "HDR\x1f\x8b", 5);
    assert_int_equal(buf_append_str(&out, "pre:"), RF_OK);
    assert_int_equal(gzip_inflate(gz.data + 3, gz.len - 3, 3, &out), RF_OK);
    assert_int_equal(out.len, 7);
    assert_string_equal(out.data, "pre:abc");
    buf_free(&gz);
    buf_free(&out);
}

static void test_cap_exact_ok_one_more_too_big(void **state)
{
    (void)state;
    size_t sizes[] = {1, 1000, 65535, 65536, 65537, 131072, 200001};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        unsigned char *p = make_payload(n, 77u + (uint32_t)k);
        struct buf gz, out = BUF_INIT;
        compress_into(p, n, &gz);
        /* exactly at the cap: accepted, all bytes present */
        assert_int_equal(gzip_inflate(gz.data, gz.len, n, &out), RF_OK);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, p, n);
        /* the cap one below the size: refused, nothing appended */
        assert_inflate_fails(gz.data, gz.len, n - 1, RF_ETOOBIG);
        buf_free(&gz);
        buf_free(&out);
        free(p);
    }
}

static void test_cap_zero(void **state)
{
    (void)state;
    struct buf gz, out = BUF_INIT;
    compress_into("", 0, &gz);
    assert_int_equal(gzip_inflate(gz.data, gz.len, 0, &out), RF_OK);
    assert_int_equal(out.len, 0);
    buf_free(&gz);
    compress_into("x", 1, &gz);
    assert_inflate_fails(gz.data, gz.len, 0, RF_ETOOBIG);
    buf_free(&gz);
    buf_free(&out);
}

static void test_cap_zeros_compressible(void **state)
{
    (void)state;
    /* Highly compressible input: a small compressed body, large output. */
    size_t n = 3u << 20;
    unsigned char *z = calloc(n, 1);
    assert_non_null(z);
    struct buf gz, out = BUF_INIT;
    compress_into(z, n, &gz);
    assert_true(gz.len < n / 100);
    assert_int_equal(gzip_inflate(gz.data, gz.len, n, &out), RF_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, z, n);
    assert_inflate_fails(gz.data, gz.len, n - 1, RF_ETOOBIG);
    buf_free(&gz);
    buf_free(&out);
    free(z);
}

/* 100 MB of zeros as one gzip member, compressed in a stream so the test
 * never holds the 100 MB. */
static void make_bomb(struct buf *gz, size_t total)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t chunk = 1u << 20;
    unsigned char *zeros = calloc(chunk, 1);
    unsigned char outbuf[65536];
    assert_non_null(zeros);
    buf_init(gz);
    size_t left = total;
    int flush;
    do {
        size_t n = left < chunk ? left : chunk;
        left -= n;
        flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        zs.next_in = zeros;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = outbuf;
            zs.avail_out = sizeof(outbuf);
            int zrc = deflate(&zs, flush);
            assert_true(zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR);
            assert_int_equal(buf_append(gz, outbuf, sizeof(outbuf) - zs.avail_out), RF_OK);
        } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
    assert_int_equal(zs.total_in, total);
    deflateEnd(&zs);
    free(zeros);
}

static void test_gzip_bomb(void **state)
{
    (void)state;
    struct buf gz;
    make_bomb(&gz, 100u << 20);
    assert_true(gz.len < 200000); /* ~100 KB for 100 MB */
    struct buf out = BUF_INIT;
    assert_int_equal(buf_append_str(&out, "prefix"), RF_OK);
    int64_t t0 = time_mono_ns();
    int rc = gzip_inflate(gz.data, gz.len, 1u << 20, &out);
    int64_t elapsed_ms = (time_mono_ns() - t0) / 1000000;
    assert_int_equal(rc, RF_ETOOBIG);
    assert_int_equal(out.len, 6);
    assert_string_equal(out.data, "prefix");
    /* Stops at the cap: never allocated much more than max_out. */
    assert_true(out.cap <= (2u << 20) + 64);
    /* "quickly": inflating 1 MB is milliseconds, inflating 100 MB is not. */
    assert_true(elapsed_ms < 1000);
    buf_free(&out);
    buf_free(&gz);
}

static void test_truncated_half(void **state)
{
    (void)state;
    size_t n = 50000;
    unsigned char *p = make_payload(n, 5);
    struct buf gz;
    compress_into(p, n, &gz);
    assert_inflate_fails(gz.data, gz.len / 2, n * 2, RF_ETRUNC);
    buf_free(&gz);
    free(p);
}

static void test_truncated_trailer(void **state)
{
    (void)state;
    size_t n = 50000;
    unsigned char *p = make_payload(n, 6);
    struct buf gz;
    compress_into(p, n, &gz);
    /* the whole deflate data is there; only the CRC32+ISIZE trailer is cut */
    assert_inflate_fails(gz.data, gz.len - 8, n * 2, RF_ETRUNC);
    assert_inflate_fails(gz.data, gz.len - 4, n * 2, RF_ETRUNC);
    assert_inflate_fails(gz.data, gz.len - 1, n * 2, RF_ETRUNC);
    /* also when the cap is exactly the payload size */
    assert_inflate_fails(gz.data, gz.len - 8, n, RF_ETRUNC);
    buf_free(&gz);
    free(p);
}

static void test_truncated_every_prefix(void **state)
{
    (void)state;
    const char *text = "The user CORP\\alice dialed a connection named Always On VPN "
                       "which has failed. The error code returned on failure is 809.";
    struct buf gz;
    compress_into(text, strlen(text), &gz);
    for (size_t cut = 1; cut < gz.len; cut++)
        assert_inflate_fails(gz.data, cut, 4096, RF_ETRUNC);
    buf_free(&gz);
}

static void test_empty_input(void **state)
{
    (void)state;
    /* No bytes at all: the stream ended before its header (truncated). */
    assert_inflate_fails("", 0, 4096, RF_ETRUNC);
    assert_inflate_fails("", 0, 0, RF_ETRUNC);
}

static void test_garbage(void **state)
{
    (void)state;
    const char *g = "this is not gzip at all, just text";
    assert_inflate_fails(g, strlen(g), 4096, RF_EFORMAT);
    /* plain JSON, as a client that set Content-Encoding by mistake sends */
    const char *j = "{\"batch_id\":\"x\"}";
    assert_inflate_fails(j, strlen(j), 4096, RF_EFORMAT);
    /* a zlib (not gzip) stream */
    unsigned char zl[64];
    uLongf zlen = sizeof(zl);
    assert_int_equal(compress(zl, &zlen, (const Bytef *)"abc", 3), Z_OK);
    assert_inflate_fails(zl, zlen, 4096, RF_EFORMAT);
}

static void test_corrupt_crc_and_body(void **state)
{
    (void)state;
    size_t n = 20000;
    unsigned char *p = make_payload(n, 9);
    struct buf gz;
    compress_into(p, n, &gz);
    /* wrong CRC32 in the trailer */
    gz.data[gz.len - 8] ^= 0x55;
    assert_inflate_fails(gz.data, gz.len, n * 2, RF_EFORMAT);
    gz.data[gz.len - 8] ^= 0x55;
    /* wrong ISIZE */
    gz.data[gz.len - 1] ^= 0x01;
    assert_inflate_fails(gz.data, gz.len, n * 2, RF_EFORMAT);
    gz.data[gz.len - 1] ^= 0x01;
    /* bad compression method in the header */
    gz.data[2] = 7;
    assert_inflate_fails(gz.data, gz.len, n * 2, RF_EFORMAT);
    buf_free(&gz);
    free(p);
}

static void test_two_members(void **state)
{
    (void)state;
    const char *a = "first member payload;";
    size_t nb = 100000;
    unsigned char *b = make_payload(nb, 11);
    struct buf gz, gz2, out = BUF_INIT;
    compress_into(a, strlen(a), &gz);
    compress_into(b, nb, &gz2);
    assert_int_equal(buf_append(&gz, gz2.data, gz2.len), RF_OK);
    size_t total = strlen(a) + nb;
    assert_int_equal(gzip_inflate(gz.data, gz.len, total, &out), RF_OK);
    assert_int_equal(out.len, total);
    assert_memory_equal(out.data, a, strlen(a));
    assert_memory_equal(out.data + strlen(a), b, nb);
    /* the cap counts the output of all members together */
    assert_inflate_fails(gz.data, gz.len, total - 1, RF_ETOOBIG);
    buf_free(&gz);
    buf_free(&gz2);
    buf_free(&out);
    free(b);
}

static void test_three_members_small(void **state)
{
    (void)state;
    struct buf all = BUF_INIT, out = BUF_INIT;
    const char *parts[] = {"one,", "", "three"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gzip_deflate(parts[i], strlen(parts[i]), 6, &all), RF_OK);
    }
    assert_int_equal(gzip_inflate(all.data, all.len, 100, &out), RF_OK);
    assert_string_equal(out.data, "one,three");
    assert_int_equal(out.len, 9);
    buf_free(&all);
    buf_free(&out);
}

static void test_pieces_make_one_member(void **state)
{
    (void)state;
    struct buf gz = BUF_INIT, out = BUF_INIT;
    const struct gzip_piece small[] = {{"one,", 4}, {"", 0}, {"three", 5}, {NULL, 0}};
    assert_int_equal(gzip_deflate_pieces(small, 4, 6, &gz), RF_OK);
    assert_int_equal(gzip_inflate(gz.data, gz.len, 100, &out), RF_OK);
    assert_int_equal(out.len, 9);
    assert_string_equal(out.data, "one,three");
    buf_reset(&gz);
    buf_reset(&out);
    /* no pieces: an empty member */
    assert_int_equal(gzip_deflate_pieces(NULL, 0, 6, &gz), RF_OK);
    assert_true(gz.len > 0);
    assert_int_equal(gzip_inflate(gz.data, gz.len, 100, &out), RF_OK);
    assert_int_equal(out.len, 0);
    buf_reset(&gz);
    /* large pieces, incompressible: the bound holds across calls */
    size_t n = 300000;
    unsigned char *p = make_payload(n, 5);
    const struct gzip_piece big[] = {{p, 1}, {p + 1, 150000}, {p + 150001, n - 150001}};
    assert_int_equal(gzip_deflate_pieces(big, 3, 9, &gz), RF_OK);
    assert_int_equal(gzip_inflate(gz.data, gz.len, n, &out), RF_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, p, n);
    buf_free(&gz);
    buf_free(&out);
    free(p);
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    struct buf gz;
    compress_into("payload", 7, &gz);
    size_t good = gz.len;
    assert_int_equal(buf_append_str(&gz, "GARBAGE"), RF_OK);
    assert_inflate_fails(gz.data, gz.len, 4096, RF_EFORMAT);
    /* a single stray byte */
    assert_inflate_fails(gz.data, good + 1, 4096, RF_EFORMAT);
    /* trailing zero padding is bytes after the stream too */
    gz.len = good;
    assert_int_equal(buf_append(&gz, "\0\0\0\0", 4), RF_OK);
    assert_inflate_fails(gz.data, gz.len, 4096, RF_EFORMAT);
    buf_free(&gz);
}

static void test_second_member_truncated(void **state)
{
    (void)state;
    struct buf gz, gz2;
    compress_into("aaaa", 4, &gz);
    compress_into("bbbbbbbb", 8, &gz2);
    assert_int_equal(buf_append(&gz, gz2.data, gz2.len - 3), RF_OK);
    assert_inflate_fails(gz.data, gz.len, 4096, RF_ETRUNC);
    buf_free(&gz);
    buf_free(&gz2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_levels_and_text),
        cmocka_unit_test(test_deflate_appends),
        cmocka_unit_test(test_cap_exact_ok_one_more_too_big),
        cmocka_unit_test(test_cap_zero),
        cmocka_unit_test(test_cap_zeros_compressible),
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_truncated_half),
        cmocka_unit_test(test_truncated_trailer),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_corrupt_crc_and_body),
        cmocka_unit_test(test_two_members),
        cmocka_unit_test(test_three_members_small),
        cmocka_unit_test(test_pieces_make_one_member),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_second_member_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
