/*
 * test_strtab.c - string interning (server/strtab.c): ids start at 1 and
 * stay stable while the index grows, equal strings share an id, lookups of
 * absent strings answer 0, and the memory figure follows the contents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rasfleet/result.h"
#include "strtab.h"

static void test_basics(void **state)
{
    (void)state;
    struct strtab t;
    strtab_init(&t);
    uint32_t a, b, c, n;
    assert_int_equal(strtab_find(&t, "x"), 0); /* empty table */
    assert_int_equal(strtab_intern(&t, NULL, &n), RF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(strtab_intern(&t, "vpn.example.com", &a), RF_OK);
    assert_int_equal(strtab_intern(&t, "", &b), RF_OK);
    assert_int_equal(strtab_intern(&t, "vpn.example.com", &c), RF_OK);
    assert_int_equal(a, 1);
    assert_int_equal(c, a);
    assert_int_not_equal(b, a);
    assert_string_equal(strtab_get(&t, a), "vpn.example.com");
    assert_string_equal(strtab_get(&t, b), "");
    assert_null(strtab_get(&t, 0));
    assert_null(strtab_get(&t, 99));
    assert_int_equal(strtab_find(&t, "vpn.example.co"), 0);
    assert_int_equal(strtab_find(&t, NULL), 0);
    strtab_free(&t);
}

static void test_many_strings_keep_their_ids(void **state)
{
    (void)state;
    struct strtab t;
    strtab_init(&t);
    enum { N = 50000 };
    char s[32];
    size_t before = strtab_memory_bytes(&t);
    for (int i = 0; i < N; i++) {
        uint32_t id;
        snprintf(s, sizeof(s), "device-%d", i);
        assert_int_equal(strtab_intern(&t, s, &id), RF_OK);
        assert_int_equal(id, (uint32_t)i + 1);
    }
    for (int i = 0; i < N; i++) {
        snprintf(s, sizeof(s), "device-%d", i);
        if (strtab_find(&t, s) != (uint32_t)i + 1)
            fail_msg("%s lost its id after the index grew", s);
        assert_string_equal(strtab_get(&t, (uint32_t)i + 1), s);
    }
    assert_int_equal(strtab_find(&t, "device-50000"), 0);
    size_t after = strtab_memory_bytes(&t);
    assert_true(after > before + t.bytes);
    assert_true(after < (size_t)N * 48); /* ~12 bytes of strings + ~25 of arrays each */
    strtab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_many_strings_keep_their_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
