/*
 * test_strmap.c - unit tests for server/strmap.c (string -> int64 map).
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
#include "strmap.h"

static void test_empty(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    int64_t v = 99;
    assert_false(strmap_get(&m, "missing", &v));
    assert_false(strmap_get(&m, "", &v));
    assert_int_equal(v, 99);
    assert_int_equal(m.len, 0);
    assert_int_equal(strmap_bytes(&m), 0);
    strmap_clear(&m); /* clear of an empty map is a no-op */
    strmap_free(&m);
    strmap_free(&m); /* double free after re-init is harmless */
}

static void test_put_get(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    assert_int_equal(strmap_put(&m, "CORP\\alice", 1), RF_OK);
    assert_int_equal(strmap_put(&m, "Always On VPN", 2), RF_OK);
    assert_int_equal(strmap_put(&m, "", 3), RF_OK);
    assert_int_equal(strmap_put(&m, "neg", -5), RF_OK);
    assert_int_equal(strmap_put(&m, "big", INT64_MAX), RF_OK);
    assert_int_equal(m.len, 5);
    int64_t v = 0;
    assert_true(strmap_get(&m, "CORP\\alice", &v));
    assert_int_equal(v, 1);
    assert_true(strmap_get(&m, "Always On VPN", &v));
    assert_int_equal(v, 2);
    assert_true(strmap_get(&m, "", &v));
    assert_int_equal(v, 3);
    assert_true(strmap_get(&m, "neg", &v));
    assert_int_equal(v, -5);
    assert_true(strmap_get(&m, "big", &v));
    assert_int_equal(v, INT64_MAX);
    v = 42;
    assert_false(strmap_get(&m, "corp\\alice", &v)); /* case-sensitive */
    assert_false(strmap_get(&m, "Always On VP", &v)); /* prefix */
    assert_false(strmap_get(&m, "Always On VPN ", &v));
    assert_int_equal(v, 42);
    assert_true(strmap_bytes(&m) > 0);
    strmap_free(&m);
    assert_int_equal(m.len, 0);
    assert_null(m.slots);
}

static void test_key_is_copied(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    char key[16] = "transient";
    assert_int_equal(strmap_put(&m, key, 7), RF_OK);
    memset(key, 'X', sizeof(key) - 1);
    int64_t v = 0;
    assert_true(strmap_get(&m, "transient", &v));
    assert_int_equal(v, 7);
    assert_false(strmap_get(&m, key, &v));
    strmap_free(&m);
}

static void test_replace(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    assert_int_equal(strmap_put(&m, "k", 1), RF_OK);
    size_t bytes = strmap_bytes(&m);
    assert_int_equal(strmap_put(&m, "k", 2), RF_OK);
    assert_int_equal(strmap_put(&m, "k", -3), RF_OK);
    assert_int_equal(m.len, 1);
    assert_int_equal(m.key_bytes, 2);
    assert_int_equal(strmap_bytes(&m), bytes);
    int64_t v = 0;
    assert_true(strmap_get(&m, "k", &v));
    assert_int_equal(v, -3);
    strmap_free(&m);
}

static void key_of(size_t i, char *out, size_t n)
{
    snprintf(out, n, "device-%zu-%zx", i, i * 2654435761u);
}

static void test_growth_100k(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    const size_t n = 100000;
    char key[64];
    size_t key_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        key_of(i, key, sizeof(key));
        key_bytes += strlen(key) + 1;
        assert_int_equal(strmap_put(&m, key, (int64_t)i * 3 - 7), RF_OK);
    }
    assert_int_equal(m.len, n);
    assert_int_equal(m.key_bytes, key_bytes);
    /* power of two, load factor at most 3/4 */
    assert_int_equal(m.cap & (m.cap - 1), 0);
    assert_true(m.len * 4 <= m.cap * 3);
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        key_of(i, key, sizeof(key));
        if (!strmap_get(&m, key, &v))
            fail_msg("key %s lost after growth", key);
        assert_int_equal(v, (int64_t)i * 3 - 7);
    }
    /* keys that were never inserted are not found */
    for (size_t i = n; i < n + 1000; i++) {
        int64_t v;
        key_of(i, key, sizeof(key));
        assert_false(strmap_get(&m, key, &v));
    }
    /* replacing every value keeps the count */
    for (size_t i = 0; i < n; i += 7) {
        key_of(i, key, sizeof(key));
        assert_int_equal(strmap_put(&m, key, -(int64_t)i), RF_OK);
    }
    assert_int_equal(m.len, n);
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        key_of(i, key, sizeof(key));
        assert_true(strmap_get(&m, key, &v));
        assert_int_equal(v, i % 7 == 0 ? -(int64_t)i : (int64_t)i * 3 - 7);
    }
    assert_true(strmap_bytes(&m) >= m.cap * 24 + key_bytes);
    strmap_free(&m);
}

static void test_clear(void **state)
{
    (void)state;
    struct strmap m;
    strmap_init(&m);
    char key[64];
    for (size_t i = 0; i < 5000; i++) {
        key_of(i, key, sizeof(key));
        assert_int_equal(strmap_put(&m, key, (int64_t)i), RF_OK);
    }
    size_t cap = m.cap;
    strmap_clear(&m);
    assert_int_equal(m.len, 0);
    assert_int_equal(m.key_bytes, 0);
    assert_int_equal(m.cap, cap); /* the slots are kept */
    for (size_t i = 0; i < 5000; i++) {
        int64_t v;
        key_of(i, key, sizeof(key));
        assert_false(strmap_get(&m, key, &v));
    }
    /* usable again after clear, with fresh values */
    for (size_t i = 0; i < 5000; i += 2) {
        key_of(i, key, sizeof(key));
        assert_int_equal(strmap_put(&m, key, (int64_t)i + 1), RF_OK);
    }
    assert_int_equal(m.len, 2500);
    for (size_t i = 0; i < 5000; i++) {
        int64_t v = -1;
        key_of(i, key, sizeof(key));
        if (i % 2 == 0) {
            assert_true(strmap_get(&m, key, &v));
            assert_int_equal(v, (int64_t)i + 1);
        } else {
            assert_false(strmap_get(&m, key, &v));
        }
    }
    strmap_free(&m);
}

static void test_collisions_similar_keys(void **state)
{
    (void)state;
    /* many short keys that differ in one character, plus long keys */
    struct strmap m;
    strmap_init(&m);
    char key[600];
    int n = 0;
    for (int a = 1; a < 256; a++) {
        key[0] = (char)a;
        key[1] = '\0';
        assert_int_equal(strmap_put(&m, key, a), RF_OK);
        n++;
    }
    memset(key, 'L', 599);
    key[599] = '\0';
    for (int i = 0; i < 50; i++) {
        key[i] = 'M';
        assert_int_equal(strmap_put(&m, key, 1000 + i), RF_OK);
        n++;
    }
    assert_int_equal(m.len, (size_t)n);
    for (int a = 1; a < 256; a++) {
        int64_t v = 0;
        key[0] = (char)a;
        key[1] = '\0';
        assert_true(strmap_get(&m, key, &v));
        assert_int_equal(v, a);
    }
    memset(key, 'L', 599);
    key[599] = '\0';
    for (int i = 0; i < 50; i++) {
        int64_t v = 0;
        key[i] = 'M';
        assert_true(strmap_get(&m, key, &v));
        assert_int_equal(v, 1000 + i);
    }
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_key_is_copied),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_growth_100k),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_collisions_similar_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
