/*
 * test_utf8.c - unit tests for common/utf8.c (strict RFC 3629 validation).
 *
 * Inputs are validated from exact-size heap copies so ASan catches any read
 * past len. bad_offset is the offset of the first byte of the offending
 * sequence (the lead byte, or the stray byte itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

static bool validate(const void *s, size_t len, size_t *bad)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    bool ok = utf8_validate(copy, len, bad);
    free(copy);
    return ok;
}

static void assert_valid(const char *s, size_t len)
{
    size_t bad = 777;
    if (!validate(s, len, &bad))
        fail_msg("valid input of %zu bytes refused at %zu", len, bad);
    assert_int_equal(bad, 777); /* untouched on success */
}

static void assert_invalid_at(const char *s, size_t len, size_t expect_off)
{
    size_t bad = 777;
    if (validate(s, len, &bad))
        fail_msg("invalid input of %zu bytes accepted", len);
    if (bad != expect_off)
        fail_msg("bad_offset %zu, expected %zu", bad, expect_off);
    /* NULL bad_offset is allowed */
    assert_false(validate(s, len, NULL));
}

#define VALID(lit) assert_valid(lit, sizeof(lit) - 1)
#define INVALID_AT(lit, off) assert_invalid_at(lit, sizeof(lit) - 1, off)

static void test_ascii(void **state)
{
    (void)state;
    VALID("");
    VALID("a");
    VALID("hello, world");
    VALID("{\"kind\":\"ras_event\"}\n");
    /* NUL and DEL are valid UTF-8 */
    assert_valid("\0\x7f", 2);
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    assert_valid(all, sizeof(all));
    assert_true(utf8_validate(NULL, 0, NULL));
}

static void test_two_byte(void **state)
{
    (void)state;
    VALID("\xc2\x80");         /* U+0080, smallest */
    VALID("caf\xc3\xa9");      /* é */
    VALID("\xdf\xbf");         /* U+07FF, largest */
    VALID("\xd0\x9f\xd1\x80"); /* Пр */
}

static void test_three_byte(void **state)
{
    (void)state;
    VALID("\xe0\xa0\x80"); /* U+0800, smallest */
    VALID("\xe2\x82\xac"); /* € */
    VALID("\xed\x9f\xbf"); /* U+D7FF, just below the surrogates */
    VALID("\xee\x80\x80"); /* U+E000, just above */
    VALID("\xef\xbb\xbf"); /* BOM */
    VALID("\xef\xbf\xbf"); /* U+FFFF */
}

static void test_four_byte(void **state)
{
    (void)state;
    VALID("\xf0\x90\x80\x80"); /* U+10000 */
    VALID("\xf0\x9f\x98\x80"); /* 😀 */
    VALID("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the largest */
}

static void test_mixed_valid(void **state)
{
    (void)state;
    VALID("a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80" "d");
}

static void test_overlongs(void **state)
{
    (void)state;
    INVALID_AT("\xc0\x80", 0);             /* overlong NUL */
    INVALID_AT("\xc1\xbf", 0);             /* overlong U+007F */
    INVALID_AT("\xe0\x80\x80", 0);         /* overlong NUL, 3 bytes */
    INVALID_AT("\xe0\x9f\xbf", 0);         /* overlong U+07FF */
    INVALID_AT("\xf0\x80\x80\x80", 0);     /* overlong, 4 bytes */
    INVALID_AT("\xf0\x8f\xbf\xbf", 0);     /* overlong U+FFFF */
    INVALID_AT("ab\xc0\xaf", 2);           /* overlong '/' after ASCII */
    INVALID_AT("ab\xe0\x80\xaf" "cd", 2);
}

static void test_surrogates(void **state)
{
    (void)state;
    INVALID_AT("\xed\xa0\x80", 0); /* U+D800 */
    INVALID_AT("\xed\xbf\xbf", 0); /* U+DFFF */
    INVALID_AT("\xed\xa0\xbd\xed\xb8\x80", 0); /* CESU-8 pair */
    INVALID_AT("xyz\xed\xb0\x80", 3);
}

static void test_above_max(void **state)
{
    (void)state;
    INVALID_AT("\xf4\x90\x80\x80", 0); /* U+110000 */
    INVALID_AT("\xf5\x80\x80\x80", 0);
    INVALID_AT("\xf7\xbf\xbf\xbf", 0);
    INVALID_AT("\xf8\x88\x80\x80\x80", 0); /* old 5-byte form */
    INVALID_AT("\xfc\x84\x80\x80\x80\x80", 0);
    INVALID_AT("\xfe", 0);
    INVALID_AT("\xff", 0);
}

static void test_stray_continuation(void **state)
{
    (void)state;
    INVALID_AT("\x80", 0);
    INVALID_AT("abc\xbf", 3);
    INVALID_AT("\xc3\xa9\xa9", 2); /* one continuation too many */
}

static void test_bad_continuation(void **state)
{
    (void)state;
    INVALID_AT("\xc3" "a", 0);
    INVALID_AT("\xe2\x82" "a", 0);
    INVALID_AT("\xe2" "a\xac", 0);
    INVALID_AT("\xf0\x9f\x98" "a", 0);
    INVALID_AT("\xc3\xc3\xa9", 0);
}

static void test_truncated_at_end(void **state)
{
    (void)state;
    INVALID_AT("\xc3", 0);
    INVALID_AT("abc\xc3", 3);
    INVALID_AT("\xe2\x82", 0);
    INVALID_AT("ab\xe2", 2);
    INVALID_AT("\xf0\x9f\x98", 0);
    INVALID_AT("\xf0\x9f", 0);
    INVALID_AT("0123456789\xf0", 10);
    /* a complete sequence cut by len */
    const char *euro = "x\xe2\x82\xac";
    assert_invalid_at(euro, 3, 1);
    assert_invalid_at(euro, 2, 1);
    assert_valid(euro, 4);
    assert_valid(euro, 1);
}

static void test_fast_path_bad_byte_positions(void **state)
{
    (void)state;
    /* A long ASCII run with one bad byte at every position around the 8-byte
     * blocks: the fast path must not skip it, and the offset is exact. */
    size_t n = 200;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t pos = 0; pos < n; pos++) {
        memset(s, 'A', n);
        s[pos] = (char)0xff;
        size_t bad = 777;
        assert_false(validate(s, n, &bad));
        assert_int_equal(bad, pos);
        /* a stray continuation byte */
        s[pos] = (char)0x80;
        bad = 777;
        assert_false(validate(s, n, &bad));
        assert_int_equal(bad, pos);
        /* a valid 2-byte sequence at the same place is fine */
        if (pos + 1 < n) {
            s[pos] = (char)0xc3;
            s[pos + 1] = (char)0xa9;
            assert_true(validate(s, n, NULL));
        }
    }
    free(s);
}

static void test_fast_path_lengths(void **state)
{
    (void)state;
    /* every length 0..64 of pure ASCII, and with a final bad byte */
    char s[65];
    memset(s, 'z', sizeof(s));
    for (size_t len = 0; len <= 64; len++) {
        assert_valid(s, len);
        if (len) {
            char t[65];
            memcpy(t, s, len);
            t[len - 1] = (char)0xc0;
            assert_invalid_at(t, len, len - 1);
        }
    }
}

static void test_long_multibyte_run(void **state)
{
    (void)state;
    /* 10000 euro signs then one surrogate: the offset is exact */
    size_t n = 3 * 10000 + 3;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i < 10000; i++)
        memcpy(s + 3 * i, "\xe2\x82\xac", 3);
    memcpy(s + 30000, "\xed\xa0\x80", 3);
    size_t bad = 0;
    assert_false(validate(s, n, &bad));
    assert_int_equal(bad, 30000);
    assert_true(validate(s, 30000, NULL));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_two_byte),
        cmocka_unit_test(test_three_byte),
        cmocka_unit_test(test_four_byte),
        cmocka_unit_test(test_mixed_valid),
        cmocka_unit_test(test_overlongs),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_above_max),
        cmocka_unit_test(test_stray_continuation),
        cmocka_unit_test(test_bad_continuation),
        cmocka_unit_test(test_truncated_at_end),
        cmocka_unit_test(test_fast_path_bad_byte_positions),
        cmocka_unit_test(test_fast_path_lengths),
        cmocka_unit_test(test_long_multibyte_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
