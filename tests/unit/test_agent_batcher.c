/*
 * test_agent_batcher.c - unit tests for agent/batcher.c: the count bound,
 * the byte bound (the whole batch object, checked by decoding every
 * flushed batch with the collector's own decoder), a record bigger than the
 * bound travelling alone, a failing flush keeping the record out, the delta
 * (keys and notes) and a notes-only flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_json.h"
#include "batcher.h"
#include "buf.h"
#include "rasfleet/result.h"

#define MAX_FLUSHES 32

struct sink {
    size_t records[MAX_FLUSHES];
    size_t keys[MAX_FLUSHES];
    size_t body_len[MAX_FLUSHES];
    char delta[MAX_FLUSHES][256];
    size_t n;
    int fail_with;
};

static const struct rf_agent_info agent = {"dev-1", "LT-1", "10.0.22631", "0.1.0"};

static int on_flush(void *ctx, struct batcher *b)
{
    struct sink *s = ctx;
    if (s->fail_with)
        return s->fail_with;
    assert_true(s->n < MAX_FLUSHES);
    /* the body as the agent compresses it: head, the records, tail */
    struct buf body = BUF_INIT, whole = BUF_INIT;
    assert_int_equal(batcher_body_head("batch-x", &agent, &body), RF_OK);
    if (b->records.len)
        assert_int_equal(buf_append(&body, b->records.data, b->records.len), RF_OK);
    assert_int_equal(buf_append_str(&body, BATCHER_BODY_TAIL), RF_OK);
    assert_int_equal(batcher_body(b, "batch-x", &agent, &whole), RF_OK);
    assert_int_equal(whole.len, body.len);
    assert_memory_equal(whole.data, body.data, body.len);
    buf_free(&whole);
    /* what the collector would decode */
    struct rf_batch out;
    struct batch_error err;
    struct batch_limits lim = {20000};
    assert_int_equal(batch_decode_json(body.data, body.len, &lim, &out, &err), RF_OK);
    assert_int_equal(out.n_records, b->n_records);
    assert_string_equal(out.agent.device_id, "dev-1");
    rf_batch_free(&out);
    s->records[s->n] = b->n_records;
    s->keys[s->n] = b->n_keys;
    s->body_len[s->n] = body.len;
    snprintf(s->delta[s->n], sizeof(s->delta[0]), "%s", b->delta.data ? b->delta.data : "");
    s->n++;
    buf_free(&body);
    return RF_OK;
}

static struct rf_record event(int64_t record_id, const char *message)
{
    struct rf_record r;
    memset(&r, 0, sizeof(r));
    r.kind = RF_KIND_RAS_EVENT;
    r.time_ms = 1795161662123LL;
    r.u.ev.event_id = 20227;
    r.u.ev.record_id = record_id;
    r.u.ev.level = RF_LEVEL_ERROR;
    r.u.ev.user = "CORP\\alice";
    r.u.ev.connection = "Always On VPN";
    r.u.ev.has_error_code = true;
    r.u.ev.error_code = 809;
    r.u.ev.message = message;
    return r;
}

static size_t encoded_len(const struct rf_record *r)
{
    struct buf b = BUF_INIT;
    assert_int_equal(record_encode_json(r, &b), RF_OK);
    size_t n = b.len;
    buf_free(&b);
    return n;
}

static void test_count_bound(void **state)
{
    (void)state;
    struct sink s = {0};
    struct batcher b;
    struct batcher_limits lim = {3, 1 << 20};
    batcher_init(&b, &lim, on_flush, &s);
    for (int i = 1; i <= 7; i++) {
        struct rf_record r = event(i, NULL);
        uint64_t k = (uint64_t)i;
        assert_int_equal(batcher_add(&b, &r, &k, 1), RF_OK);
    }
    assert_int_equal(s.n, 2); /* 3 + 3 flushed while adding, 1 still open */
    assert_int_equal(b.n_records, 1);
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.records[0], 3);
    assert_int_equal(s.records[1], 3);
    assert_int_equal(s.records[2], 1);
    assert_int_equal(s.keys[2], 1);
    assert_string_equal(s.delta[2], "k 0000000000000007\n");
    assert_int_equal(b.n_flushes, 3);
    /* an empty batcher has nothing to flush */
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 3);
    batcher_free(&b);
}

static void test_byte_bound(void **state)
{
    (void)state;
    struct sink s = {0};
    struct batcher b;
    struct rf_record r = event(100000, "a message of some length to make the record bigger");
    size_t len = encoded_len(&r);
    /* room for exactly two records: L + ',' + L <= room < 3L + 2 */
    struct batcher_limits lim = {1000, BATCHER_WRAPPER_RESERVE + 2 * len + 1};
    batcher_init(&b, &lim, on_flush, &s);
    for (int i = 1; i <= 6; i++) {
        r.u.ev.record_id = 100000 + i; /* same width: same encoded length */
        assert_int_equal(batcher_add(&b, &r, NULL, 0), RF_OK);
    }
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 3);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.records[i], 2);
        assert_true(s.body_len[i] <= lim.max_bytes);
    }
    batcher_free(&b);
}

static void test_oversized_record_goes_alone(void **state)
{
    (void)state;
    struct sink s = {0};
    struct batcher b;
    char big[6000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct batcher_limits lim = {100, 4096};
    batcher_init(&b, &lim, on_flush, &s);
    struct rf_record small = event(1, NULL), huge = event(2, big);
    assert_int_equal(batcher_add(&b, &small, NULL, 0), RF_OK);
    assert_int_equal(batcher_add(&b, &huge, NULL, 0), RF_OK);
    assert_int_equal(batcher_add(&b, &small, NULL, 0), RF_OK);
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.records[0], 1);
    assert_int_equal(s.records[1], 1);
    assert_true(s.body_len[1] > 6000);
    assert_int_equal(s.records[2], 1);
    batcher_free(&b);
}

static void test_failed_flush_keeps_record_out(void **state)
{
    (void)state;
    struct sink s = {0};
    struct batcher b;
    struct batcher_limits lim = {2, 1 << 20};
    batcher_init(&b, &lim, on_flush, &s);
    struct rf_record r = event(1, NULL);
    uint64_t k1 = 1, k2 = 2, k3 = 3;
    assert_int_equal(batcher_add(&b, &r, &k1, 1), RF_OK);
    assert_int_equal(batcher_add(&b, &r, &k2, 1), RF_OK);
    s.fail_with = RF_ESTORAGE; /* the spool is full */
    assert_int_equal(batcher_add(&b, &r, &k3, 1), RF_ESTORAGE);
    assert_int_equal(b.n_records, 2); /* still the open batch, without the third */
    assert_int_equal(b.n_keys, 2);
    s.fail_with = 0;
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.delta[0], "k 0000000000000001\nk 0000000000000002\n");
    batcher_free(&b);
}

static void test_notes_only_flush(void **state)
{
    (void)state;
    struct sink s = {0};
    struct batcher b;
    struct batcher_limits lim = {10, 1 << 20};
    batcher_init(&b, &lim, on_flush, &s);
    assert_int_equal(batcher_note(&b, "f 1 2 0000000000000003 a.xml"), RF_OK);
    assert_int_equal(batcher_flush(&b), RF_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.records[0], 0);
    assert_string_equal(s.delta[0], "f 1 2 0000000000000003 a.xml\n");
    batcher_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_oversized_record_goes_alone),
        cmocka_unit_test(test_failed_flush_keeps_record_out),
        cmocka_unit_test(test_notes_only_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
