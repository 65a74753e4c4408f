/*
 * test_pgarray.c - unit tests for server/pgarray.c: the PostgreSQL array
 * literals the PostgreSQL writer sends every column of a batch in. The
 * strings that matter are the ones a careless encoder gets wrong: quotes,
 * backslashes, braces, commas, the word NULL, the empty string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "pgarray.h"
#include "rasfleet/result.h"

static void test_empty_and_ints(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(pgarray_open(&b), RF_OK);
    assert_int_equal(pgarray_close(&b), RF_OK);
    assert_string_equal(b.data, "{}");
    assert_int_equal(pgarray_open(&b), RF_OK); /* reuse: starts over */
    assert_int_equal(pgarray_int(&b, 0), RF_OK);
    assert_int_equal(pgarray_int(&b, -2146762495), RF_OK);
    assert_int_equal(pgarray_null(&b), RF_OK);
    assert_int_equal(pgarray_int(&b, INT64_MIN), RF_OK);
    assert_int_equal(pgarray_int(&b, INT64_MAX), RF_OK);
    assert_int_equal(pgarray_close(&b), RF_OK);
    assert_string_equal(b.data,
                        "{0,-2146762495,NULL,-9223372036854775808,9223372036854775807}");
    buf_free(&b);
}

static void test_text_quoting(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    const char *in[] = {"plain", "NULL", "", "a\"b", "C:\\x\\", "{a,b}", "caf\xc3\xa9 \n\t", NULL};
    assert_int_equal(pgarray_open(&b), RF_OK);
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        assert_int_equal(pgarray_text(&b, in[i]), RF_OK);
    assert_int_equal(pgarray_close(&b), RF_OK);
    assert_string_equal(b.data, "{\"plain\",\"NULL\",\"\",\"a\\\"b\",\"C:\\\\x\\\\\","
                                "\"{a,b}\",\"caf\xc3\xa9 \n\t\",NULL}");
    buf_free(&b);
}

static void test_first_element_null(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(pgarray_open(&b), RF_OK);
    assert_int_equal(pgarray_text(&b, NULL), RF_OK);
    assert_int_equal(pgarray_text(&b, "x"), RF_OK);
    assert_int_equal(pgarray_close(&b), RF_OK);
    assert_string_equal(b.data, "{NULL,\"x\"}");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_ints),
        cmocka_unit_test(test_text_quoting),
        cmocka_unit_test(test_first_element_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
