/*
 * test_agent_keyset.c - unit tests for agent/keyset.c: every key added is
 * found and added once, keys never added are not found, key 0 stands for 1,
 * and the table stays within three quarters full at the smallest power of
 * two that allows it (20,000 keys, a 10,000-event run: 32,768 slots).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keyset.h"
#include "rasfleet/result.h"

/* distinct, well spread keys (splitmix64 of i), never 0 or 1 for i > 0 */
static uint64_t key_of(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void test_empty_set_finds_nothing(void **state)
{
    (void)state;
    struct keyset s = KEYSET_INIT;
    assert_false(keyset_has(&s, 42));
    assert_false(keyset_has(&s, 0));
    keyset_free(&s);
}

static void test_key_zero_is_key_one(void **state)
{
    (void)state;
    struct keyset s = KEYSET_INIT;
    bool added = false;
    assert_int_equal(keyset_add(&s, 0, &added), RF_OK);
    assert_true(added);
    assert_true(keyset_has(&s, 1));
    assert_int_equal(keyset_add(&s, 1, &added), RF_OK);
    assert_false(added);
    assert_int_equal(s.n, 1);
    keyset_free(&s);
}

static void check_many(size_t n, bool sequential)
{
    struct keyset s = KEYSET_INIT;
    for (size_t i = 1; i <= n; i++) {
        bool added = false;
        uint64_t k = sequential ? i + 1 : key_of(i);
        assert_int_equal(keyset_add(&s, k, &added), RF_OK);
        assert_true(added);
        assert_true(s.n * 4 <= s.cap * 3); /* never more than three quarters full */
    }
    assert_int_equal(s.n, n);
    for (size_t i = 1; i <= n; i++) {
        bool added = true;
        uint64_t k = sequential ? i + 1 : key_of(i);
        assert_true(keyset_has(&s, k));
        assert_int_equal(keyset_add(&s, k, &added), RF_OK);
        assert_false(added);
    }
    assert_int_equal(s.n, n);
    for (size_t i = n + 1; i <= 2 * n; i++)
        assert_false(keyset_has(&s, sequential ? i + 1 : key_of(i)));
    /* a power of two, and the smallest one that holds n at three quarters */
    assert_int_equal(s.cap & (s.cap - 1), 0);
    assert_true(s.cap == 1024 || (s.cap / 2) * 3 < n * 4);
    keyset_free(&s);
    assert_int_equal(s.cap, 0);
    assert_int_equal(s.n, 0);
}

static void test_many_spread_keys(void **state)
{
    (void)state;
    check_many(20000, false);
}

static void test_many_sequential_keys(void **state)
{
    (void)state;
    check_many(20000, true);
}

static void test_ten_thousand_events_take_32768_slots(void **state)
{
    (void)state;
    struct keyset s = KEYSET_INIT;
    for (uint64_t i = 1; i <= 20000; i++)
        assert_int_equal(keyset_add(&s, key_of(i), NULL), RF_OK);
    assert_int_equal(s.cap, 32768); /* 65,536 when it was kept half full */
    keyset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_set_finds_nothing),
        cmocka_unit_test(test_key_zero_is_key_one),
        cmocka_unit_test(test_many_spread_keys),
        cmocka_unit_test(test_many_sequential_keys),
        cmocka_unit_test(test_ten_thousand_events_take_32768_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
