/*
 * test_agent_spool.c - unit tests for agent/spool.c: write, list, read,
 * ack and reject; crash leftovers (a .tmp file is ignored and deleted, a
 * torn .batch is moved aside); the byte bound with drop-oldest and its
 * persistent counter; the age bound; refused pushes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "osdep.h"
#include "rasfleet/result.h"
#include "spool.h"

struct fixture {
    char dir[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/rf-spool-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    struct buf b = BUF_INIT;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(osdep_read_file(path, 1 << 20, &b), RF_OK);
    *len = b.len;
    return b.data;
}

/* Pushes batch seq with a body "body-<seq>" (+ pad bytes) and delta "k <seq>". */
static int push(struct spool *s, uint64_t seq, uint64_t records, size_t pad, int64_t created)
{
    struct spool_entry e;
    char body[4096], delta[64];
    memset(&e, 0, sizeof(e));
    e.seq = seq;
    snprintf(e.batch_id, sizeof(e.batch_id), "batch-%llu", (unsigned long long)seq);
    e.created_ms = created;
    e.records = records;
    int n = snprintf(body, sizeof(body), "body-%llu", (unsigned long long)seq);
    memset(body + n, 'x', pad);
    int d = snprintf(delta, sizeof(delta), "k %016llx\n", (unsigned long long)seq);
    return spool_push(s, &e, body, (size_t)n + pad, delta, (size_t)d);
}

static const struct spool_limits no_limits = {0, 0};

static void test_write_list_read_ack(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    struct buf body = BUF_INIT, delta = BUF_INIT;
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(spool_count(s), 0);
    assert_int_equal(push(s, 1, 10, 0, 1000), RF_OK);
    assert_int_equal(push(s, 2, 20, 0, 2000), RF_OK);
    assert_int_equal(push(s, 5, 50, 0, 3000), RF_OK);
    assert_int_equal(spool_count(s), 3);
    assert_int_equal(spool_max_seq(s), 5);
    assert_true(exists(f->dir, "00000000000000000002.batch"));
    assert_int_equal(spool_read(s, 2, &body, &delta), RF_OK);
    assert_int_equal(body.len, 6);
    assert_memory_equal(body.data, "body-2", 6);
    assert_string_equal(delta.data, "k 0000000000000002\n");
    assert_int_equal(spool_ack(s, 2), RF_OK);
    assert_false(exists(f->dir, "00000000000000000002.batch"));
    assert_int_equal(spool_ack(s, 2), RF_ENOTFOUND);
    uint64_t bytes = spool_bytes(s);
    spool_close(s);

    /* the directory listing is the queue: reopening finds the same entries */
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(spool_count(s), 2);
    assert_int_equal(spool_bytes(s), bytes);
    const struct spool_entry *e0 = spool_entry_at(s, 0), *e1 = spool_entry_at(s, 1);
    assert_int_equal(e0->seq, 1);
    assert_string_equal(e0->batch_id, "batch-1");
    assert_int_equal(e0->records, 10);
    assert_int_equal(e0->created_ms, 1000);
    assert_int_equal(e1->seq, 5);
    assert_int_equal(e1->records, 50);
    assert_null(spool_entry_at(s, 2));
    assert_int_equal(spool_cleaned_tmp(s), 0);
    assert_int_equal(spool_corrupt(s), 0);
    spool_close(s);
    buf_free(&body);
    buf_free(&delta);
}

static void test_reject_moves_aside_with_reason(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    size_t len;
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(push(s, 7, 3, 0, 1), RF_OK);
    char *before = slurp(f->dir, "00000000000000000007.batch", &len);
    assert_int_equal(spool_reject(s, 7, "HTTP 400\nbad record\n"), RF_OK);
    assert_int_equal(spool_count(s), 0);
    assert_false(exists(f->dir, "00000000000000000007.batch"));
    size_t len2, rlen;
    char *after = slurp(f->dir, "rejected/00000000000000000007.batch", &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(after, before, len);
    char *reason = slurp(f->dir, "rejected/00000000000000000007.reason", &rlen);
    assert_string_equal(reason, "HTTP 400\nbad record\n");
    assert_int_equal(spool_reject(s, 7, "again"), RF_ENOTFOUND);
    assert_int_equal(spool_rejects(s), 1);
    spool_close(s);
    /* a rejected batch is not part of the queue any more, and stays counted */
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(spool_count(s), 0);
    assert_int_equal(spool_rejects(s), 1);
    assert_int_equal(push(s, 8, 1, 0, 2), RF_OK);
    assert_int_equal(spool_reject(s, 8, "HTTP 413\n"), RF_OK);
    assert_int_equal(spool_rejects(s), 2);
    spool_close(s);
    size_t clen;
    char *counters = slurp(f->dir, "dropped", &clen);
    assert_string_equal(counters, "batches 0\nrecords 0\nrejected 2\n");
    free(counters);
    free(before);
    free(after);
    free(reason);
}

static void write_raw(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_crash_leftovers(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(push(s, 1, 4, 0, 1), RF_OK);
    spool_close(s);
    /* an interrupted osdep_write_atomic() leaves <name>.tmp: never a batch */
    write_raw(f->dir, "00000000000000000002.batch.tmp", "RFSPOOL 1\nseq 2\nbatch_id x\n");
    /* a torn batch (not possible through rename, but a disk can lie) */
    write_raw(f->dir, "00000000000000000003.batch",
              "RFSPOOL 1\nseq 3\nbatch_id b3\ncreated 1\nrecords 1\nbody 100\ndelta 0\n\nshort");
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_entry_at(s, 0)->seq, 1);
    assert_int_equal(spool_cleaned_tmp(s), 1);
    assert_int_equal(spool_corrupt(s), 1);
    assert_false(exists(f->dir, "00000000000000000002.batch.tmp"));
    assert_false(exists(f->dir, "00000000000000000003.batch"));
    assert_true(exists(f->dir, "rejected/00000000000000000003.batch"));
    assert_true(exists(f->dir, "rejected/00000000000000000003.reason"));
    /* the next push goes on after the highest valid seq */
    assert_int_equal(push(s, 2, 1, 0, 2), RF_OK);
    assert_int_equal(spool_count(s), 2);
    spool_close(s);
}

static void test_bound_drops_oldest_and_counts(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    struct spool_limits lim = {0, 0};
    uint64_t batches, records;
    /* measure one batch file, then allow exactly three of them */
    assert_int_equal(spool_open(f->dir, &lim, &s), RF_OK);
    assert_int_equal(push(s, 1, 10, 500, 1), RF_OK);
    uint64_t one = spool_bytes(s);
    assert_int_equal(spool_ack(s, 1), RF_OK);
    spool_close(s);
    lim.max_bytes = 3 * one + one / 2;
    assert_int_equal(spool_open(f->dir, &lim, &s), RF_OK);
    for (uint64_t seq = 2; seq <= 6; seq++)
        assert_int_equal(push(s, seq, seq * 10, 500, (int64_t)seq), RF_OK);
    assert_int_equal(spool_count(s), 3);
    assert_int_equal(spool_entry_at(s, 0)->seq, 4);
    assert_int_equal(spool_entry_at(s, 2)->seq, 6);
    assert_true(spool_bytes(s) <= lim.max_bytes);
    spool_drops(s, &batches, &records);
    assert_int_equal(batches, 2);
    assert_int_equal(records, 20 + 30);
    assert_false(exists(f->dir, "00000000000000000002.batch"));
    assert_false(exists(f->dir, "00000000000000000003.batch"));
    /* a batch bigger than the whole bound is refused, nothing dropped for it */
    assert_int_equal(push(s, 7, 1, 4000, 7), RF_ETOOBIG);
    assert_int_equal(spool_count(s), 3);
    spool_close(s);
    /* the counter survives a restart */
    assert_int_equal(spool_open(f->dir, &lim, &s), RF_OK);
    spool_drops(s, &batches, &records);
    assert_int_equal(batches, 2);
    assert_int_equal(records, 50);
    assert_int_equal(push(s, 8, 80, 500, 8), RF_OK);
    spool_drops(s, &batches, &records);
    assert_int_equal(batches, 3);
    assert_int_equal(records, 90);
    spool_close(s);
}

static void test_counters_file_of_an_older_agent(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    uint64_t batches, records;
    /* written before the rejected count existed: drops kept, rejects start at 0 */
    write_raw(f->dir, "dropped", "batches 4\nrecords 40\n");
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    spool_drops(s, &batches, &records);
    assert_int_equal(batches, 4);
    assert_int_equal(records, 40);
    assert_int_equal(spool_rejects(s), 0);
    spool_close(s);
}

static void test_age_bound(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    struct spool_limits lim = {0, 1000};
    uint64_t batches, records;
    assert_int_equal(spool_open(f->dir, &lim, &s), RF_OK);
    assert_int_equal(push(s, 1, 1, 0, 10000), RF_OK);
    assert_int_equal(push(s, 2, 2, 0, 10500), RF_OK);
    assert_int_equal(push(s, 3, 3, 0, 11500), RF_OK);
    assert_int_equal(spool_expire(s, 11600), RF_OK); /* cutoff 10600: drops 1 and 2 */
    assert_int_equal(spool_count(s), 1);
    assert_int_equal(spool_entry_at(s, 0)->seq, 3);
    spool_drops(s, &batches, &records);
    assert_int_equal(batches, 2);
    assert_int_equal(records, 3);
    spool_close(s);
}

static void test_refused_pushes(void **state)
{
    struct fixture *f = *state;
    struct spool *s;
    struct spool_entry e;
    assert_int_equal(spool_open(f->dir, &no_limits, &s), RF_OK);
    assert_int_equal(push(s, 5, 1, 0, 1), RF_OK);
    assert_int_equal(push(s, 5, 1, 0, 1), RF_EINVAL); /* not above the last seq */
    assert_int_equal(push(s, 4, 1, 0, 1), RF_EINVAL);
    memset(&e, 0, sizeof(e));
    e.seq = 9;
    snprintf(e.batch_id, sizeof(e.batch_id), "has space");
    assert_int_equal(spool_push(s, &e, "b", 1, "", 0), RF_EINVAL);
    assert_int_equal(spool_count(s), 1);
    spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_list_read_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_moves_aside_with_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_file_of_an_older_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_drops_oldest_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_age_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_pushes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
