/*
 * test_txset.c - unit tests for server/txset.c (this collector's own
 * PostgreSQL transaction ids, skipped by the tail).
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

#include "rasfleet/result.h"
#include "txset.h"

/* The array literal of [lo, hi) as a string (static buffer). */
static const char *array_of(struct txset *s, int64_t lo, int64_t hi)
{
    static char out[4096];
    struct buf b = BUF_INIT;
    assert_int_equal(txset_array(s, lo, hi, &b), RF_OK);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
    buf_free(&b);
    return out;
}

static void test_empty(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    assert_int_equal(txset_size(&s), 0);
    assert_false(txset_contains(&s, 1));
    assert_string_equal(array_of(&s, 0, INT64_MAX), "{}");
    txset_remove(&s, 5); /* absent: no-op */
    txset_prune_below(&s, 100);
    assert_int_equal(txset_size(&s), 0);
    txset_free(&s);
}

static void test_add_remove_contains(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    assert_int_equal(txset_add(&s, 0), RF_EINVAL);  /* no transaction has id 0 */
    assert_int_equal(txset_add(&s, -3), RF_EINVAL);
    assert_int_equal(txset_add(&s, 740), RF_OK);
    assert_int_equal(txset_add(&s, 741), RF_OK);
    assert_int_equal(txset_add(&s, 740), RF_OK); /* again: still one member */
    assert_int_equal(txset_size(&s), 2);
    assert_true(txset_contains(&s, 740));
    assert_true(txset_contains(&s, 741));
    assert_false(txset_contains(&s, 742));
    /* a transaction that rolled back is forgotten: its rows never exist,
     * and if the commit's answer was lost the tail applies what did commit */
    txset_remove(&s, 740);
    assert_false(txset_contains(&s, 740));
    assert_true(txset_contains(&s, 741));
    assert_int_equal(txset_size(&s), 1);
    txset_free(&s);
}

static void test_array_is_the_range_ascending(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    const int64_t ids[] = {900, 12, 455, 456, 8000000000LL, 457, 13};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_int_equal(txset_add(&s, ids[i]), RF_OK);
    assert_string_equal(array_of(&s, 0, INT64_MAX), "{12,13,455,456,457,900,8000000000}");
    /* [lo, hi): lo in, hi out */
    assert_string_equal(array_of(&s, 13, 457), "{13,455,456}");
    assert_string_equal(array_of(&s, 458, 900), "{}");
    assert_string_equal(array_of(&s, 900, 901), "{900}");
    txset_free(&s);
}

static void test_prune_below_the_horizon(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    for (int64_t tx = 100; tx < 200; tx++)
        assert_int_equal(txset_add(&s, tx), RF_OK);
    txset_prune_below(&s, 150);
    assert_int_equal(txset_size(&s), 50);
    assert_false(txset_contains(&s, 149));
    assert_true(txset_contains(&s, 150));
    assert_true(txset_contains(&s, 199));
    txset_prune_below(&s, 150); /* idempotent */
    assert_int_equal(txset_size(&s), 50);
    txset_prune_below(&s, 1000);
    assert_int_equal(txset_size(&s), 0);
    assert_string_equal(array_of(&s, 0, INT64_MAX), "{}");
    txset_free(&s);
}

static void test_growth(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    for (int64_t tx = 1; tx <= 5000; tx++)
        assert_int_equal(txset_add(&s, tx * 3), RF_OK);
    assert_int_equal(txset_size(&s), 5000);
    for (int64_t tx = 1; tx <= 5000; tx += 2)
        txset_remove(&s, tx * 3);
    assert_int_equal(txset_size(&s), 2500);
    assert_false(txset_contains(&s, 3));
    assert_true(txset_contains(&s, 6));
    assert_string_equal(array_of(&s, 6, 19), "{6,12,18}");
    txset_free(&s);
}

/* The writer adds while the tail reads: no member lost or torn. */
struct adder {
    struct txset *s;
    int64_t base;
};

static void *add_many(void *arg)
{
    struct adder *a = arg;
    for (int64_t i = 1; i <= 2000; i++)
        if (txset_add(a->s, a->base + i) != RF_OK)
            return (void *)1;
    return NULL;
}

static void test_concurrent_add_and_read(void **state)
{
    (void)state;
    struct txset s;
    txset_init(&s);
    struct adder a = {&s, 1000000};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, add_many, &a), 0);
    for (int i = 0; i < 200; i++) {
        struct buf b = BUF_INIT;
        assert_int_equal(txset_array(&s, 0, INT64_MAX, &b), RF_OK);
        assert_true(b.len >= 2 && b.data[0] == '{' && b.data[b.len - 1] == '}');
        buf_free(&b);
    }
    void *ret = (void *)2;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_null(ret);
    assert_int_equal(txset_size(&s), 2000);
    txset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_add_remove_contains),
        cmocka_unit_test(test_array_is_the_range_ascending),
        cmocka_unit_test(test_prune_below_the_horizon),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_concurrent_add_and_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
