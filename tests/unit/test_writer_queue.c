/*
 * test_writer_queue.c - the writer threads' shared queue and loop
 * (server/writer_queue.c): the bounds (batches; bytes once a batch waits),
 * refusal after stop, groups bounded by records and batches in arrival
 * order, a stop that drains, and done called once per job; with a flush,
 * answers only after a flush that began after their group was processed
 * (committed() in between), and a failed flush failing the batches that
 * waited for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    static const struct writer_queue_ops ops = {process, housekeeping, NULL, NULL};
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
    static const struct writer_queue_ops ops = {process, housekeeping, NULL, NULL};
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

/* ---- the answering thread (ops->flush) ---- */

struct acked {
    pthread_mutex_t lock;
    int processed;      /* groups processed (writer: the test's thread) */
    int flushed_upto;   /* groups processed before the last flush began */
    int flushes;
    int flush_fails;    /* the flush fails from this call on (0: never) */
    int order[64];      /* job ids in the order they were answered */
    int status[64];     /* by job id */
    char message[64][200];
    int group_of[64];   /* by job id: the group that carried it */
    int flushed_at_answer[64];
    bool committed[64];           /* committed() saw the job */
    bool committed_at_answer[64]; /* ... before its answer */
    int flushed_at_commit[64];
    int n_answered;
};

struct ack_slot {
    struct acked *a;
    int id;
};

static void acked_done(void *arg, const struct writer_result *res)
{
    const struct ack_slot *slot = arg;
    struct acked *a = slot->a;
    pthread_mutex_lock(&a->lock);
    a->order[a->n_answered++] = slot->id;
    a->status[slot->id] = res->status;
    snprintf(a->message[slot->id], sizeof(a->message[0]), "%s", res->message);
    a->flushed_at_answer[slot->id] = a->flushed_upto;
    a->committed_at_answer[slot->id] = a->committed[slot->id];
    pthread_mutex_unlock(&a->lock);
}

static void acked_committed(void *owner, struct writer_job *group)
{
    struct acked *a = owner;
    pthread_mutex_lock(&a->lock);
    for (struct writer_job *j = group; j; j = j->next) {
        const struct ack_slot *slot = j->arg;
        a->committed[slot->id] = true;
        a->flushed_at_commit[slot->id] = a->flushed_upto;
    }
    pthread_mutex_unlock(&a->lock);
}

/* stores every job; job id 2 is refused alone (as a database refusal is) */
static void acked_process(void *owner, struct writer_job *group)
{
    struct acked *a = owner;
    pthread_mutex_lock(&a->lock);
    for (struct writer_job *j = group; j; j = j->next) {
        const struct ack_slot *slot = j->arg;
        a->group_of[slot->id] = a->processed;
        j->res.status = slot->id == 2 ? RF_EINVAL : RF_OK;
    }
    a->processed++;
    pthread_mutex_unlock(&a->lock);
}

static int acked_flush(void *owner, char *err, size_t errlen)
{
    struct acked *a = owner;
    pthread_mutex_lock(&a->lock);
    a->flushed_upto = a->processed;
    int n = ++a->flushes;
    bool fail = a->flush_fails && n >= a->flush_fails;
    pthread_mutex_unlock(&a->lock);
    usleep(2000); /* a disk sync takes a while: groups pile up behind it */
    if (fail) {
        snprintf(err, errlen, "the disk said no");
        return RF_EIO;
    }
    return RF_OK;
}

static void nop_housekeeping(void *owner)
{
    (void)owner;
}

/* Runs n one-record batches through a queue with a flush; returns the
 * queue's storage health at the end. */
static bool run_acked(struct acked *a, struct ack_slot *slots, int n)
{
    struct writer_config c = config();
    c.queue_batches = 64;
    c.queue_bytes = 1 << 20;
    c.group_records = 2; /* groups of at most two one-record batches */
    struct writer_queue q;
    writer_queue_init(&q, &c, 512);
    for (int i = 0; i < n; i++) {
        struct rf_batch b;
        batch_of(&b, 1);
        slots[i] = (struct ack_slot){a, i};
        assert_int_equal(writer_queue_submit(&q, &b, 10, acked_done, &slots[i]), RF_OK);
    }
    writer_queue_stop(&q);
    static const struct writer_queue_ops ops = {acked_process, nop_housekeeping, acked_flush,
                                                acked_committed};
    writer_queue_run(&q, &ops, a);
    bool healthy = writer_queue_healthy(&q);
    writer_queue_destroy(&q);
    return healthy;
}

static void test_answers_after_flush(void **state)
{
    (void)state;
    struct acked a = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct ack_slot slots[40];
    assert_true(run_acked(&a, slots, 40));
    assert_int_equal(a.n_answered, 40);
    assert_int_equal(a.processed, 20);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(a.order[i], i); /* in arrival order */
        /* a flush began after the job's group was processed, and committed()
         * saw the group after that flush and before the answer */
        assert_true(a.flushed_at_answer[i] > a.group_of[i]);
        assert_true(a.committed_at_answer[i]);
        assert_true(a.flushed_at_commit[i] > a.group_of[i]);
        assert_int_equal(a.status[i], i == 2 ? RF_EINVAL : RF_OK);
    }
    /* one flush serves the groups processed while the previous one ran */
    assert_true(a.flushes >= 1);
    assert_true(a.flushes < 20);
}

static void test_failed_flush_fails_waiting_batches(void **state)
{
    (void)state;
    struct acked a = {.lock = PTHREAD_MUTEX_INITIALIZER, .flush_fails = 1};
    struct ack_slot slots[6];
    /* the commits succeed, the flushes do not: storage is unhealthy */
    assert_false(run_acked(&a, slots, 6));
    assert_int_equal(a.n_answered, 6);
    for (int i = 0; i < 6; i++) {
        if (i == 2) { /* refused by the database before: keeps its own answer */
            assert_int_equal(a.status[i], RF_EINVAL);
            continue;
        }
        assert_int_equal(a.status[i], RF_ESTORAGE);
        assert_string_equal(a.message[i], "the disk said no");
        /* the rows are committed: the hot aggregate still sees them */
        assert_true(a.committed_at_answer[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds_and_stop),
        cmocka_unit_test(test_groups_bounded_in_order),
        cmocka_unit_test(test_answers_after_flush),
        cmocka_unit_test(test_failed_flush_fails_waiting_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
