/*
 * test_textenc.c - encoding detection and conversion to UTF-8 of Windows
 * exports (textenc.c): BOMs, BOM-less UTF-16, surrogates, invalid input
 * with exact offsets, and the streaming decoder fed in small pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rasfleet/result.h"
#include "textenc.h"

static char *read_fixture(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Decodes in one call; returns the rc and leaves text in out. */
static int decode(const char *in, size_t len, struct buf *out, enum textenc_kind *kind,
                  struct textenc_error *err)
{
    buf_init(out);
    return textenc_decode(in, len, out, kind, err);
}

static void test_utf8_plain_and_bom(void **state)
{
    (void)state;
    struct buf out;
    enum textenc_kind kind;
    assert_int_equal(decode("[VPN Caf\xC3\xA9]\r\n", 13, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF8);
    assert_int_equal(out.len, 13);
    assert_string_equal(out.data, "[VPN Caf\xC3\xA9]\r\n");
    buf_free(&out);

    assert_int_equal(decode("\xEF\xBB\xBF{\"a\":1}", 10, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF8_BOM);
    assert_string_equal(out.data, "{\"a\":1}");
    assert_string_equal(textenc_kind_name(kind), "utf-8-bom");
    buf_free(&out);

    assert_int_equal(decode("", 0, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF8);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

static void test_utf16le_bom_fixture_matches_utf8(void **state)
{
    (void)state;
    size_t n16, n8;
    char *u16 = read_fixture("pbk/aovpn-user-utf16le.pbk", &n16);
    char *u8 = read_fixture("pbk/aovpn-user-utf8.pbk", &n8);
    struct buf out;
    enum textenc_kind kind;
    assert_int_equal(decode(u16, n16, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF16LE_BOM);
    assert_int_equal(out.len, n8);
    assert_memory_equal(out.data, u8, n8);
    buf_free(&out);
    free(u16);
    free(u8);
}

static void test_utf16le_without_bom(void **state)
{
    (void)state;
    const char in[] = "[\0A\0]\0\r\0\n\0k\0=\0\xE9\0";
    struct buf out;
    enum textenc_kind kind;
    assert_int_equal(decode(in, sizeof(in) - 1, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF16LE);
    assert_string_equal(out.data, "[A]\r\nk=\xC3\xA9");
    buf_free(&out);
}

static void test_utf16be_with_and_without_bom(void **state)
{
    (void)state;
    const char bom[] = "\xFE\xFF\0[\0A\0]";
    const char nobom[] = "\0[\0A\0]\0\n";
    struct buf out;
    enum textenc_kind kind;
    assert_int_equal(decode(bom, sizeof(bom) - 1, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF16BE_BOM);
    assert_string_equal(out.data, "[A]");
    buf_free(&out);
    assert_int_equal(decode(nobom, sizeof(nobom) - 1, &out, &kind, NULL), RF_OK);
    assert_int_equal(kind, TEXTENC_UTF16BE);
    assert_string_equal(out.data, "[A]\n");
    buf_free(&out);
}

static void test_surrogate_pair(void **state)
{
    (void)state;
    /* U+1F600 = D83D DE00, then 'x' */
    const char in[] = "\xFF\xFE\x3D\xD8\x00\xDEx\0";
    struct buf out;
    assert_int_equal(decode(in, sizeof(in) - 1, &out, NULL, NULL), RF_OK);
    assert_string_equal(out.data, "\xF0\x9F\x98\x80x");
    buf_free(&out);
}

static void test_lone_surrogates_fail_with_offset(void **state)
{
    (void)state;
    struct buf out;
    struct textenc_error err = {0, NULL, false};
    /* BOM, 'a', high surrogate at offset 4 followed by 'b' */
    const char high[] = "\xFF\xFE"
                        "a\0"
                        "\x3D\xD8"
                        "b\0";
    assert_int_equal(decode(high, sizeof(high) - 1, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 4);
    assert_string_equal(err.reason, "lone high surrogate");
    buf_free(&out);
    /* low surrogate alone at offset 2 */
    const char low[] = "\xFF\xFE"
                       "\x00\xDC"
                       "b\0";
    assert_int_equal(decode(low, sizeof(low) - 1, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.reason, "lone low surrogate");
    buf_free(&out);
    /* high surrogate as the last unit */
    const char end[] = "\xFF\xFE"
                       "a\0"
                       "\x3D\xD8";
    assert_int_equal(decode(end, sizeof(end) - 1, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 4);
    buf_free(&out);
}

static void test_odd_utf16_length_fails(void **state)
{
    (void)state;
    struct buf out;
    struct textenc_error err = {0, NULL, false};
    const char in[] = "\xFF\xFE"
                      "a\0"
                      "b";
    assert_int_equal(decode(in, sizeof(in) - 1, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 4);
    assert_string_equal(err.reason, "odd number of bytes in UTF-16 text");
    buf_free(&out);
}

static void test_invalid_utf8_and_binary(void **state)
{
    (void)state;
    struct buf out;
    struct textenc_error err = {0, NULL, false};
    enum textenc_kind kind;
    assert_int_equal(decode("abc\xC3(def", 8, &out, &kind, &err), RF_EFORMAT);
    assert_int_equal(kind, TEXTENC_UTF8);
    assert_int_equal(err.offset, 3);
    assert_string_equal(err.reason, "invalid UTF-8");
    buf_free(&out);
    /* overlong encoding of '/' */
    assert_int_equal(decode("ab\xC0\xAF", 4, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 2);
    buf_free(&out);
    /* binary: ELF header */
    assert_int_equal(decode("\x7F"
                            "ELF\x02\x01\x01\0\0\0",
                            10, &out, NULL, &err),
                     RF_EFORMAT);
    assert_int_equal(err.offset, 7);
    buf_free(&out);
    /* random bytes (fixed seed) never decode */
    char junk[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        s = s * 1103515245u + 12345u;
        junk[i] = (char)(s >> 16);
    }
    assert_int_equal(decode(junk, sizeof(junk), &out, NULL, &err), RF_EFORMAT);
    buf_free(&out);
    /* UTF-8 sequence cut by the end */
    assert_int_equal(decode("ok\xE2\x82", 4, &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.reason, "UTF-8 sequence cut by the end of the input");
    buf_free(&out);
}

/* Feeds in pieces of `step` bytes and checks the result equals expect. */
static void stream_in_pieces(const char *in, size_t len, size_t step, const char *expect,
                             size_t expect_len)
{
    struct textenc_stream st;
    struct buf out = BUF_INIT;
    textenc_stream_init(&st);
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        assert_int_equal(textenc_stream_feed(&st, in + i, n, &out), RF_OK);
    }
    assert_int_equal(textenc_stream_finish(&st, &out), RF_OK);
    assert_int_equal(out.len, expect_len);
    assert_memory_equal(out.data, expect, expect_len);
    buf_free(&out);
}

static void test_stream_split_characters(void **state)
{
    (void)state;
    size_t n16, n8;
    char *u16 = read_fixture("pbk/aovpn-user-utf16le.pbk", &n16);
    char *u8 = read_fixture("pbk/aovpn-user-utf8.pbk", &n8);
    stream_in_pieces(u16, n16, 1, u8, n8);
    stream_in_pieces(u16, n16, 3, u8, n8);
    stream_in_pieces(u8, n8, 1, u8, n8);
    /* multi-byte characters cut at every position */
    char big[600];
    size_t k = 0;
    while (k + 9 < sizeof(big)) {
        memcpy(big + k, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9);
        k += 9;
    }
    for (size_t step = 1; step <= 9; step++)
        stream_in_pieces(big, k, step, big, k);
    /* surrogate pairs cut at every position */
    char u16big[602] = "\xFF\xFE";
    size_t m = 2;
    while (m + 6 <= sizeof(u16big)) {
        memcpy(u16big + m, "\x3D\xD8\x00\xDEx\0", 6);
        m += 6;
    }
    struct buf whole;
    assert_int_equal(decode(u16big, m, &whole, NULL, NULL), RF_OK);
    for (size_t step = 1; step <= 7; step++)
        stream_in_pieces(u16big, m, step, whole.data, whole.len);
    buf_free(&whole);
    free(u16);
    free(u8);
}

static void test_stream_error_offset_across_chunks(void **state)
{
    (void)state;
    char in[1000];
    memset(in, 'a', sizeof(in));
    in[700] = '\xFF';
    struct textenc_stream st;
    struct buf out = BUF_INIT;
    textenc_stream_init(&st);
    int rc = RF_OK;
    for (size_t i = 0; i < sizeof(in) && rc == RF_OK; i += 7)
        rc = textenc_stream_feed(&st, in + i, sizeof(in) - i < 7 ? sizeof(in) - i : 7, &out);
    assert_int_equal(rc, RF_EFORMAT);
    assert_non_null(textenc_stream_error(&st));
    assert_int_equal(textenc_stream_error(&st)->offset, 700);
    /* sticky */
    assert_int_equal(textenc_stream_feed(&st, "b", 1, &out), RF_EFORMAT);
    assert_int_equal(textenc_stream_finish(&st, &out), RF_EFORMAT);
    buf_free(&out);
}

/* Feeds in pieces of `step` bytes; returns the first failing rc or that of
 * finish, leaving the text in out and the error (if any) in *err. */
static int decode_in_pieces(const char *in, size_t len, size_t step, struct buf *out,
                            struct textenc_error *err)
{
    struct textenc_stream st;
    int rc = RF_OK;
    buf_init(out);
    textenc_stream_init(&st);
    for (size_t i = 0; i < len && rc == RF_OK; i += step)
        rc = textenc_stream_feed(&st, in + i, len - i < step ? len - i : step, out);
    if (rc == RF_OK)
        rc = textenc_stream_finish(&st, out);
    if (rc != RF_OK) {
        assert_non_null(textenc_stream_error(&st));
        *err = *textenc_stream_error(&st);
    }
    return rc;
}

/* Finding F5 (a): a NUL before an invalid byte is the first bad unit, in one
 * call as in pieces (the whole buffer used to report the later 0xFF). */
static void test_nul_before_invalid_utf8_is_the_first_bad_unit(void **state)
{
    (void)state;
    char in[302];
    memset(in, 'a', 300);
    in[300] = '\0';
    in[301] = '\xFF';
    static const size_t steps[] = {sizeof(in), 1, 7, 256, 301};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct buf out;
        struct textenc_error err = {0, NULL, false};
        assert_int_equal(decode_in_pieces(in, sizeof(in), steps[k], &out, &err), RF_EFORMAT);
        assert_int_equal(err.offset, 300);
        assert_string_equal(err.reason, "NUL byte (binary data)");
        assert_false(err.truncated);
        assert_int_equal(out.len, 300);
        buf_free(&out);
    }
}

/* Finding F5 (b): a split UTF-8 lead byte followed by a byte that cannot
 * continue it is invalid UTF-8 at the lead, not a sequence cut by the end,
 * wherever the chunk boundary falls. */
static void test_bad_byte_after_split_utf8_lead(void **state)
{
    (void)state;
    char in[302];
    memset(in, ' ', 300);
    in[300] = '\xE6';
    in[301] = '\'';
    for (size_t step = 1; step <= sizeof(in); step++) {
        struct buf out;
        struct textenc_error err = {0, NULL, false};
        assert_int_equal(decode_in_pieces(in, sizeof(in), step, &out, &err), RF_EFORMAT);
        assert_int_equal(err.offset, 300);
        assert_string_equal(err.reason, "invalid UTF-8");
        assert_false(err.truncated);
        buf_free(&out);
    }
    /* the same after a continuation byte, and with a NUL as the intruder */
    const char two[] = "abc\xE2\x82X";
    const char nul[] = "abc\xE2\0X";
    for (size_t step = 1; step <= 6; step++) {
        struct buf out;
        struct textenc_error err = {0, NULL, false};
        assert_int_equal(decode_in_pieces(two, 6, step, &out, &err), RF_EFORMAT);
        assert_int_equal(err.offset, 3);
        assert_string_equal(err.reason, "invalid UTF-8");
        buf_free(&out);
        assert_int_equal(decode_in_pieces(nul, 6, step, &out, &err), RF_EFORMAT);
        assert_int_equal(err.offset, 3);
        assert_string_equal(err.reason, "invalid UTF-8");
        buf_free(&out);
    }
    /* a sequence really cut by the end stays "cut", and says so */
    for (size_t step = 1; step <= 5; step++) {
        struct buf out;
        struct textenc_error err = {0, NULL, false};
        assert_int_equal(decode_in_pieces("abc\xE2\x82", 5, step, &out, &err), RF_EFORMAT);
        assert_int_equal(err.offset, 3);
        assert_string_equal(err.reason, "UTF-8 sequence cut by the end of the input");
        assert_true(err.truncated);
        assert_string_equal(out.data, "abc");
        buf_free(&out);
    }
}

/* Finding F4 (decoder side): on an error the output holds all the text
 * before the bad unit, not only the chunks before the one holding it. */
static void test_error_keeps_text_before_the_bad_unit(void **state)
{
    (void)state;
    char in[400];
    memset(in, 'x', sizeof(in));
    in[350] = '\xFF';
    struct buf out;
    struct textenc_error err = {0, NULL, false};
    assert_int_equal(decode(in, sizeof(in), &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 350);
    assert_int_equal(out.len, 350);
    buf_free(&out);
    assert_int_equal(decode_in_pieces(in, sizeof(in), 3, &out, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 350);
    assert_int_equal(out.len, 350);
    buf_free(&out);
    /* UTF-16: the units before a lone surrogate */
    char u16[402] = "\xFF\xFE";
    for (size_t i = 2; i < sizeof(u16); i += 2) {
        u16[i] = 'y';
        u16[i + 1] = '\0';
    }
    u16[302] = '\x00';
    u16[303] = '\xDC';
    assert_int_equal(decode(u16, sizeof(u16), &out, NULL, &err), RF_EFORMAT);
    assert_int_equal(err.offset, 302);
    assert_int_equal(out.len, 150);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_plain_and_bom),
        cmocka_unit_test(test_utf16le_bom_fixture_matches_utf8),
        cmocka_unit_test(test_utf16le_without_bom),
        cmocka_unit_test(test_utf16be_with_and_without_bom),
        cmocka_unit_test(test_surrogate_pair),
        cmocka_unit_test(test_lone_surrogates_fail_with_offset),
        cmocka_unit_test(test_odd_utf16_length_fails),
        cmocka_unit_test(test_invalid_utf8_and_binary),
        cmocka_unit_test(test_stream_split_characters),
        cmocka_unit_test(test_stream_error_offset_across_chunks),
        cmocka_unit_test(test_nul_before_invalid_utf8_is_the_first_bad_unit),
        cmocka_unit_test(test_bad_byte_after_split_utf8_lead),
        cmocka_unit_test(test_error_keeps_text_before_the_bad_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
