/*
 * test_agent_progress.c - unit tests for agent/progress.c: a delta's keys
 * and file lines survive a reopen, applying a delta twice (the crash
 * replay) changes nothing, sequence numbers never go back, paths with
 * spaces and '%' round-trip, the newest max_keys keys are kept, and the
 * files a scan did not visit are forgotten.
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
#include "progress.h"
#include "rasfleet/result.h"

static int setup(void **state)
{
    char *dir = strdup("/tmp/rf-progress-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
    free(*state);
    return system(cmd) == 0 ? 0 : -1;
}

static void delta_for(struct buf *d, const char *path, uint64_t size, uint64_t hash,
                      const uint64_t *keys, size_t n)
{
    buf_reset(d);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_printf(d, "k %016llx\n", (unsigned long long)keys[i]), RF_OK);
    assert_int_equal(progress_file_line(path, size, 1234567890123LL, hash, d), RF_OK);
    assert_int_equal(buf_append_char(d, '\n'), RF_OK);
}

static void test_delta_survives_reopen_and_replay(void **state)
{
    const char *dir = *state;
    struct progress *p;
    struct buf d = BUF_INIT;
    uint64_t keys[] = {0x1111, 0xdeadbeefcafef00dULL};
    assert_int_equal(progress_open(dir, 1000, &p), RF_OK);
    assert_int_equal(progress_applied_seq(p), 0);
    assert_int_equal(progress_next_seq(p, 0), 1);
    delta_for(&d, "sub dir/100% events.xml", 42, 0xabcdef, keys, 2);
    assert_int_equal(progress_apply_delta(p, 1, d.data, d.len), RF_OK);
    assert_int_equal(progress_apply_delta(p, 1, d.data, d.len), RF_OK); /* replay: no change */
    progress_close(p);

    assert_int_equal(progress_open(dir, 1000, &p), RF_OK);
    assert_int_equal(progress_applied_seq(p), 1);
    assert_true(progress_has_key(p, 0x1111));
    assert_true(progress_has_key(p, 0xdeadbeefcafef00dULL));
    assert_false(progress_has_key(p, 0x2222));
    assert_int_equal(progress_key_count(p), 2);
    struct progress_file *f = progress_file_find(p, "sub dir/100% events.xml");
    assert_non_null(f);
    assert_int_equal(f->size, 42);
    assert_int_equal(f->mtime_ns, 1234567890123LL);
    assert_int_equal(f->hash, 0xabcdef);
    assert_null(progress_file_find(p, "other.xml"));
    /* sequence numbers continue above both the applied seq and the spool's */
    assert_int_equal(progress_next_seq(p, 0), 2);
    assert_int_equal(progress_next_seq(p, 10), 11);
    progress_close(p);
    buf_free(&d);
}

static void test_newest_keys_kept(void **state)
{
    const char *dir = *state;
    struct progress *p;
    struct buf d = BUF_INIT;
    uint64_t keys[10];
    for (int i = 0; i < 10; i++)
        keys[i] = 100 + (uint64_t)i;
    assert_int_equal(progress_open(dir, 4, &p), RF_OK);
    delta_for(&d, "a.xml", 1, 1, keys, 10);
    assert_int_equal(progress_apply_delta(p, 1, d.data, d.len), RF_OK);
    progress_close(p);
    assert_int_equal(progress_open(dir, 4, &p), RF_OK);
    assert_int_equal(progress_key_count(p), 4);
    assert_false(progress_has_key(p, 105));
    for (uint64_t k = 106; k <= 109; k++)
        assert_true(progress_has_key(p, k));
    progress_close(p);
    buf_free(&d);
}

static void test_forget_unvisited(void **state)
{
    const char *dir = *state;
    struct progress *p;
    struct buf d = BUF_INIT;
    assert_int_equal(progress_open(dir, 100, &p), RF_OK);
    delta_for(&d, "keep.pbk", 1, 1, NULL, 0);
    assert_int_equal(progress_apply_delta(p, 1, d.data, d.len), RF_OK);
    delta_for(&d, "gone.pbk", 2, 2, NULL, 0);
    assert_int_equal(progress_apply_delta(p, 2, d.data, d.len), RF_OK);
    progress_close(p);
    assert_int_equal(progress_open(dir, 100, &p), RF_OK);
    assert_non_null(progress_file_find(p, "keep.pbk")); /* visited by this scan */
    assert_int_equal(progress_forget_unvisited(p), RF_OK);
    progress_close(p);
    assert_int_equal(progress_open(dir, 100, &p), RF_OK);
    assert_non_null(progress_file_find(p, "keep.pbk"));
    assert_null(progress_file_find(p, "gone.pbk"));
    progress_close(p);
    buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delta_survives_reopen_and_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newest_keys_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_unvisited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
