/*
 * test_writer_queue.c - the writer threads' shared queue and loop
 * (server/writer_queue.c): the bounds (batches; bytes once a batch waits),
 * refusal after stop, groups bounded by records and batches in arrival
 * order, a stop that drains, and done called once per job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rasfleet/result.h"
#include "writer_queue.h"

static struct writer_config config(void)
{
    struct writer_config c;
    memset(&c, 0, sizeof(c));
    c.queue_batches = 4;
    c.queue_bytes = 1000;
    c.group_records = 10;
    c.group_wait_ms = 0;
    return c;
}

/* A batch of n empty records (the queue only counts them). */
static void batch_of(struct rf_batch *b, size_t n)
{
    rf_batch_init(b);
    b->n_records = n;
    b->records = n ? rf_arena_alloc(&b->arena, n * sizeof(*b->records)) : NULL;
}

struct seen {
    int done[64];
    int n_done;
    size_t group_sizes[64];
    size_t group_records[64];
    int n_groups;
    int housekeeping;
};

struct slot {
    struct seen *s;
    void *id;
};

static void on_done(void *arg, const struct writer_result *res)
{
    const struct slot *slot = arg;
    assert_int_equal(res->status, RF_OK);
    slot->s->done[slot->s->n_done++] = (int)(intptr_t)slot->id;
}

static void process(void *owner, struct writer_job *group)
{
    struct seen *s = owner;
    size_t n = 0, records = 0;
    for (struct writer_job *j = group; j; j = j->next) {
        n++;
        records += j->batch.n_records;
        j->res.status = RF_OK;
    }
    s->group_sizes[s->n_groups] = n;
    s->group_records[s->n_groups++] = records;
}

static void housekeeping(void *owner)
{
    ((struct seen *)owner)->housekeeping++;
}

static void test_bounds_and_stop(void **state)
{
    (void)state;
    struct writer_config c = config();
    struct writer_queue q;
    writer_queue_init(&q, &c, 512);
    struct seen s = {0};
    struct slot slots[8];
    struct rf_batch b;
    /* one batch larger than the byte bound is still taken when alone */
    batch_of(&b, 1);
    slots[0] = (struct slot){&s, (void *)(intptr_t)0};
    assert_int_equal(writer_queue_submit(&q, &b, 5000, on_done, &slots[0]), RF_OK);
    assert_int_equal(b.n_records, 0); /* the queue owns it now */
    /* ... but nothing more fits beside it in bytes */
    batch_of(&b, 1);
    assert_int_equal(writer_queue_submit(&q, &b, 10, on_done, &slots[1]), RF_EBUSY);
    assert_int_equal(b.n_records, 1); /* refused: still the caller's */
    rf_batch_free(&b);
    assert_true(writer_queue_has_work(&q));
    struct writer_stats st;
    memset(&st, 0, sizeof(st));
    writer_queue_stats_locked(&q, &st);
    assert_int_equal(st.queue_depth, 1);
    assert_int_equal(st.queue_bytes, 5000);
    assert_int_equal(st.queue_capacity, 4);
    /* drain it with a stop: the loop processes it, then returns */
    writer_queue_stop(&q);
    batch_of(&b, 1);
    assert_int_equal(writer_queue_submit(&q, &b, 10, on_done, &slots[1]), RF_ESTOPPED);
    rf_batch_free(&b);
    static const struct writer_queue_ops ops = {process, housekeeping};
    writer_queue_run(&q, &ops, &s);
    assert_int_equal(s.n_done, 1);
    assert_int_equal(s.n_groups, 1);
    assert_false(writer_queue_has_work(&q));
    writer_queue_destroy(&q);
}

static void test_groups_bounded_in_order(void **state)
{
    (void)state;
    struct writer_config c = config();
    c.queue_batches = 64;
    c.queue_bytes = 1 << 20;
    struct writer_queue q;
    writer_queue_init(&q, &c, 3); /* at most 3 batches per group */
    struct seen s = {0};
    struct slot slots[10];
    /* groups of at most 10 records and 3 batches */
    static const size_t sizes[] = {4, 4, 1, 1, 1, 1, 9, 9, 2};
    size_t n = sizeof(sizes) / sizeof(sizes[0]);
    for (size_t i = 0; i < n; i++) {
        struct rf_batch b;
        batch_of(&b, sizes[i]);
        slots[i] = (struct slot){&s, (void *)(intptr_t)i};
        assert_int_equal(writer_queue_submit(&q, &b, 100, on_done, &slots[i]), RF_OK);
    }
    writer_queue_stop(&q);
    static const struct writer_queue_ops ops = {process, housekeeping};
    writer_queue_run(&q, &ops, &s);
    assert_int_equal(s.n_done, (int)n);
    for (int i = 0; i < s.n_done; i++)
        assert_int_equal(s.done[i], i); /* answered in arrival order */
    /* 4+4+1 (a fourth batch would fit in records, not in batches) | 1+1+1 |
     * 9 (9+9 passes 10) | 9 (9+2 passes 10) | 2 */
    static const size_t want_sizes[] = {3, 3, 1, 1, 1};
    static const size_t want_records[] = {9, 3, 9, 9, 2};
    assert_int_equal(s.n_groups, 5);
    for (int g = 0; g < 5; g++) {
        assert_int_equal(s.group_sizes[g], want_sizes[g]);
        assert_int_equal(s.group_records[g], want_records[g]);
    }
    writer_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_stop),
        cmocka_unit_test(test_groups_bounded_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
