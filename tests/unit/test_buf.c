/*
 * test_buf.c - unit tests for common/buf.c (growable buffer, JSON strings).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "rasfleet/result.h"

/* Appends s as a JSON string into a fresh buffer and compares the result. */
static void check_json(const char *in, size_t len, const char *expect)
{
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_json_strn(&b, in, len), RF_OK);
    assert_int_equal(b.len, strlen(expect));
    assert_string_equal(b.data, expect);
    buf_free(&b);
}

static void test_init_is_empty(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    assert_null(b.data);
}

static void test_append_bytes_and_str(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append(&b, "abc", 3), RF_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_int_equal(buf_append_str(&b, "def"), RF_OK);
    assert_int_equal(buf_append_char(&b, 'g'), RF_OK);
    assert_int_equal(b.len, 7);
    assert_string_equal(b.data, "abcdefg");
    assert_true(b.cap >= b.len + 1);
    /* Binary data with NUL inside is appended byte for byte. */
    assert_int_equal(buf_append(&b, "x\0y", 3), RF_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "abcdefgx\0y", 10);
    assert_int_equal(b.data[10], '\0');
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_append_empty_is_terminated(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append(&b, "", 0), RF_OK);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_int_equal(b.data[0], '\0');
    buf_free(&b);
}

static void test_append_grows_and_keeps_content(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    /* 10000 appends of one digit each: every reallocation must keep data. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_append_char(&b, (char)('0' + i % 10)), RF_OK);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > 10000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], '0' + i % 10);
    assert_int_equal(b.data[10000], '\0');
    buf_free(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_reserve(&b, 1000), RF_OK);
    assert_true(b.cap >= 1001);
    assert_int_equal(b.len, 0);
    size_t cap = b.cap;
    char *data = b.data;
    /* Appending within the reserved room does not reallocate. */
    char block[1000];
    memset(block, 'q', sizeof(block));
    assert_int_equal(buf_append(&b, block, sizeof(block)), RF_OK);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
    /* An impossible size is refused and the buffer is untouched. */
    assert_int_equal(buf_reserve(&b, SIZE_MAX), RF_ENOMEM);
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.cap, cap);
    buf_free(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_reset(&b); /* no memory yet: must not crash */
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append_str(&b, "hello"), RF_OK);
    char *data = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_append_str(&b, "x"), RF_OK);
    assert_string_equal(b.data, "x");
    buf_free(&b);
}

static void test_printf_small(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "n="), RF_OK);
    assert_int_equal(buf_printf(&b, "%d,%s,%lld", 42, "x", -9000000000LL), RF_OK);
    assert_string_equal(b.data, "n=42,x,-9000000000");
    assert_int_equal(b.len, strlen("n=42,x,-9000000000"));
    assert_int_equal(buf_printf(&b, "%s", ""), RF_OK);
    assert_int_equal(b.len, strlen("n=42,x,-9000000000"));
    buf_free(&b);
}

static void test_printf_exactly_255_and_256(void **state)
{
    (void)state;
    /* The small stack buffer is 256 bytes: 255 chars fit, 256 do not. */
    char s255[256], s256[257];
    memset(s255, 'a', 255);
    s255[255] = '\0';
    memset(s256, 'b', 256);
    s256[256] = '\0';
    struct buf b = BUF_INIT;
    assert_int_equal(buf_printf(&b, "%s", s255), RF_OK);
    assert_int_equal(b.len, 255);
    assert_string_equal(b.data, s255);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%s", s256), RF_OK);
    assert_int_equal(b.len, 256);
    assert_string_equal(b.data, s256);
    buf_free(&b);
}

static void test_printf_growth_past_256(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "head:"), RF_OK);
    char big[5001];
    for (int i = 0; i < 5000; i++)
        big[i] = (char)('a' + i % 26);
    big[5000] = '\0';
    assert_int_equal(buf_printf(&b, "[%s|%d]", big, 7), RF_OK);
    assert_int_equal(b.len, 5 + 1 + 5000 + 3);
    assert_memory_equal(b.data, "head:[", 6);
    assert_memory_equal(b.data + 6, big, 5000);
    assert_string_equal(b.data + 5006, "|7]");
    assert_int_equal(b.data[b.len], '\0');
    /* And another small printf after the large one appends normally. */
    assert_int_equal(buf_printf(&b, "%c", '!'), RF_OK);
    assert_int_equal(b.len, 5010);
    assert_int_equal(b.data[5009], '!');
    assert_int_equal(b.data[5010], '\0');
    buf_free(&b);
}

static void test_printf_many_large(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    char chunk[300];
    memset(chunk, 'z', 299);
    chunk[299] = '\0';
    for (int i = 0; i < 100; i++)
        assert_int_equal(buf_printf(&b, "%03d%s", i, chunk), RF_OK);
    assert_int_equal(b.len, 100 * 302);
    for (int i = 0; i < 100; i++) {
        char num[4];
        snprintf(num, sizeof(num), "%03d", i);
        assert_memory_equal(b.data + i * 302, num, 3);
        assert_memory_equal(b.data + i * 302 + 3, chunk, 299);
    }
    buf_free(&b);
}

static void test_json_plain(void **state)
{
    (void)state;
    check_json("hello world", 11, "\"hello world\"");
    check_json("", 0, "\"\"");
}

static void test_json_quote_and_backslash(void **state)
{
    (void)state;
    check_json("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    check_json("CORP\\alice", 10, "\"CORP\\\\alice\"");
    check_json("\"", 1, "\"\\\"\"");
    check_json("\\", 1, "\"\\\\\"");
}

static void test_json_control_chars(void **state)
{
    (void)state;
    check_json("a\nb", 3, "\"a\\nb\"");
    check_json("a\rb", 3, "\"a\\rb\"");
    check_json("a\tb", 3, "\"a\\tb\"");
    check_json("\x01", 1, "\"\\u0001\"");
    check_json("\x1f", 1, "\"\\u001f\"");
    check_json("\x08\x0c", 2, "\"\\u0008\\u000c\"");
    check_json("\x7f", 1, "\"\\u007f\"");
    /* 0x20 (space) is not a control character */
    check_json(" ", 1, "\" \"");
}

static void test_json_embedded_nul(void **state)
{
    (void)state;
    check_json("a\0b", 3, "\"a\\u0000b\"");
}

static void test_json_html_chars(void **state)
{
    (void)state;
    check_json("<script>", 8, "\"\\u003cscript\\u003e\"");
    check_json("a&b", 3, "\"a\\u0026b\"");
    check_json("</x>", 4, "\"\\u003c/x\\u003e\"");
}

static void test_json_utf8_passthrough(void **state)
{
    (void)state;
    /* Non-ASCII UTF-8 is copied verbatim, not escaped. */
    check_json("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

static void test_json_mixed_runs(void **state)
{
    (void)state;
    check_json("ab\"cd\\ef\ngh<ij", 14, "\"ab\\\"cd\\\\ef\\ngh\\u003cij\"");
}

static void test_json_strn_respects_len(void **state)
{
    (void)state;
    check_json("abcdef", 3, "\"abc\"");
}

static void test_json_str_null_and_append(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "["), RF_OK);
    assert_int_equal(buf_append_json_str(&b, NULL), RF_OK);
    assert_int_equal(buf_append_char(&b, ','), RF_OK);
    assert_int_equal(buf_append_json_str(&b, "x\"y"), RF_OK);
    assert_int_equal(buf_append_char(&b, ']'), RF_OK);
    assert_string_equal(b.data, "[null,\"x\\\"y\"]");
    assert_int_equal(b.len, strlen("[null,\"x\\\"y\"]"));
    buf_free(&b);
}

static void test_json_long_string(void **state)
{
    (void)state;
    /* A long string with escapes spread out: checks run bookkeeping. */
    size_t n = 10000;
    char *in = malloc(n);
    assert_non_null(in);
    size_t expect_len = 2;
    for (size_t i = 0; i < n; i++) {
        in[i] = i % 100 == 99 ? '"' : 'k';
        expect_len += in[i] == '"' ? 2 : 1;
    }
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_json_strn(&b, in, n), RF_OK);
    assert_int_equal(b.len, expect_len);
    assert_int_equal(b.data[0], '"');
    assert_int_equal(b.data[b.len - 1], '"');
    assert_memory_equal(b.data + 1, "kkkk", 4);
    assert_memory_equal(b.data + 100, "\\\"k", 3);
    buf_free(&b);
    free(in);
}

static void test_detach(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "payload"), RF_OK);
    char *data = b.data;
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_ptr_equal(p, data);
    assert_int_equal(len, 7);
    assert_string_equal(p, "payload");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* the buffer is reusable after detach */
    assert_int_equal(buf_append_str(&b, "again"), RF_OK);
    assert_string_equal(b.data, "again");
    assert_true(b.data != p);
    buf_free(&b);
    free(p);
}

static void test_detach_empty(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    size_t len = 99;
    char *p = buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
    /* NULL len pointer is allowed */
    assert_int_equal(buf_append_str(&b, "q"), RF_OK);
    p = buf_detach(&b, NULL);
    assert_string_equal(p, "q");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_append_bytes_and_str),
        cmocka_unit_test(test_append_empty_is_terminated),
        cmocka_unit_test(test_append_grows_and_keeps_content),
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_printf_small),
        cmocka_unit_test(test_printf_exactly_255_and_256),
        cmocka_unit_test(test_printf_growth_past_256),
        cmocka_unit_test(test_printf_many_large),
        cmocka_unit_test(test_json_plain),
        cmocka_unit_test(test_json_quote_and_backslash),
        cmocka_unit_test(test_json_control_chars),
        cmocka_unit_test(test_json_embedded_nul),
        cmocka_unit_test(test_json_html_chars),
        cmocka_unit_test(test_json_utf8_passthrough),
        cmocka_unit_test(test_json_mixed_runs),
        cmocka_unit_test(test_json_strn_respects_len),
        cmocka_unit_test(test_json_str_null_and_append),
        cmocka_unit_test(test_json_long_string),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_detach_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
