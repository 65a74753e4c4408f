/*
 * test_fleet_agent.c - unit tests for the agent part of the hot aggregate
 * (server/fleet.c, fleet_load.c) and for server/agentloss.c: agent_status
 * reports go through the real writer into a temp database and, by the
 * commit hook, into a live aggregate; a second aggregate rebuilt from the
 * database must give the same answers (latest status, losses in a window,
 * the devices that dropped, the agent-spool-drops finding, the /metrics
 * totals), as a collector restart would.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "agentloss.h"
#include "batch_json.h"
#include "buf.h"
#include "checks.h"
#include "fleet.h"
#include "log.h"
#include "rasfleet/result.h"
#include "store.h"
#include "timeutil.h"
#include "writer.h"

/* ---- agentloss ---- */

static void test_agentloss_between(void **state)
{
    (void)state;
    struct agentloss l;
    struct agentloss_totals a = {2, 100, 0}, b = {5, 250, 1}, reset = {1, 40, 0};
    agentloss_between(NULL, &a, &l); /* first report: all of it */
    assert_int_equal(l.dropped_batches, 2);
    assert_int_equal(l.dropped_records, 100);
    assert_int_equal(l.rejected_batches, 0);
    assert_true(agentloss_any(&l));
    agentloss_between(&a, &b, &l);
    assert_int_equal(l.dropped_batches, 3);
    assert_int_equal(l.dropped_records, 150);
    assert_int_equal(l.rejected_batches, 1);
    agentloss_between(&b, &b, &l); /* a repeated report adds nothing */
    assert_int_equal(l.dropped_batches, 0);
    assert_int_equal(l.rejected_batches, 0);
    assert_false(agentloss_any(&l));
    agentloss_between(&b, &reset, &l); /* lower totals: the agent started again */
    assert_int_equal(l.dropped_batches, 1);
    assert_int_equal(l.dropped_records, 40);
    assert_int_equal(l.rejected_batches, 0);
    struct agentloss_totals only_rejects = {5, 250, 2};
    agentloss_between(&b, &only_rejects, &l);
    assert_true(agentloss_any(&l));
    /* absent optional counters count as 0 */
    struct rf_agent_status st = {.dropped_batches_total = 7};
    struct agentloss_totals t;
    agentloss_totals_of(&st, &t);
    assert_int_equal(t.dropped_batches, 7);
    assert_int_equal(t.dropped_records, 0);
    assert_int_equal(t.rejected_batches, 0);
    st.has_dropped_records = true;
    st.dropped_records_total = 70;
    st.has_rejected_batches = true;
    st.rejected_batches_total = 3;
    agentloss_totals_of(&st, &t);
    assert_int_equal(t.dropped_records, 70);
    assert_int_equal(t.rejected_batches, 3);
}

/* ---- live aggregate against the rebuilt one ---- */

struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, failed;
};

static void on_done(void *arg, const struct writer_result *res)
{
    struct done *d = arg;
    pthread_mutex_lock(&d->mu);
    d->n++;
    d->failed += res->status != RF_OK;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void on_commit(void *arg, const struct rf_batch *const *batches,
                      const uint8_t *const *inserted, size_t n, int64_t now_ms)
{
    fleet_apply(arg, batches, inserted, n, now_ms);
}

struct fx {
    char dir[64], path[128];
    struct writer *w;
    struct fleet live;
    struct done done;
    int submitted;
};

static void submit_json(struct fx *f, const char *json)
{
    struct batch_limits lim = {.max_records = 1000};
    struct batch_error err;
    struct rf_batch b;
    if (batch_decode_json(json, strlen(json), &lim, &b, &err) != RF_OK)
        fail_msg("test batch invalid: %s %s: %s", err.code, err.field, err.message);
    assert_int_equal(writer_submit(f->w, &b, 4096, on_done, &f->done), RF_OK);
    f->submitted++;
    pthread_mutex_lock(&f->done.mu);
    while (f->done.n < f->submitted)
        pthread_cond_wait(&f->done.cv, &f->done.mu);
    pthread_mutex_unlock(&f->done.mu);
    assert_int_equal(f->done.failed, 0);
}

/* One agent_status of dev, hours before now, with the given totals. */
static void report(struct fx *f, const char *dev, const char *id, double hours_ago, int dropped,
                   int rejected)
{
    char t[TIME_RFC3339_MAX], json[1024];
    time_format_rfc3339(time_now_ms() - (int64_t)(hours_ago * 3600000), t, sizeof(t));
    snprintf(json, sizeof(json),
             "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\",\"hostname\":\"h-%s\"},"
             "\"records\":[{\"kind\":\"agent_status\",\"time\":\"%s\",\"spool_bytes\":%d,"
             "\"spool_batches\":%d,\"spool_limit_bytes\":1048576,"
             "\"dropped_batches_total\":%d,\"dropped_records_total\":%d,"
             "\"rejected_batches_total\":%d,\"last_error\":\"down\"}]}",
             id, dev, dev, t, 4096 * dropped, dropped, dropped, 10 * dropped, rejected);
    submit_json(f, json);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/rffleet-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/fleet.db", f->dir);
    pthread_mutex_init(&f->done.mu, NULL);
    pthread_cond_init(&f->done.cv, NULL);
    struct fleet_config fc = {0};
    if (fleet_init(&f->live, &fc) != RF_OK)
        return -1;
    struct writer_config wc = {.db_path = f->path,
                               .queue_batches = 16,
                               .queue_bytes = 1u << 20,
                               .group_records = 1000,
                               .retention_interval_s = 3600};
    char err[256];
    if (writer_start(&wc, NULL, &f->w, err, sizeof(err)) != RF_OK)
        return -1;
    writer_set_commit_hook(f->w, on_commit, &f->live);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    writer_stop(f->w);
    fleet_free(&f->live);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    pthread_mutex_destroy(&f->done.mu);
    pthread_cond_destroy(&f->done.cv);
    free(f);
    return 0;
}

static bool has_rule(const struct fleet_device *d, const char *id)
{
    for (size_t k = 0; k < d->n_findings; k++)
        if (checks_rule_at(d->findings[k].rule) == checks_rule_find(id))
            return true;
    return false;
}

/* Everything an answer of the read API takes from the agent part. */
static void assert_same_answers(struct fleet *a, struct fleet *b)
{
    uint32_t now = fleet_minute(time_now_ms());
    static const uint32_t windows[] = {60, 6 * 60, 24 * 60, 31 * 24 * 60};
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        struct fleet_loss_sum x, y;
        uint64_t bx[4] = {0}, by[4] = {0};
        assert_int_equal(fleet_sum_losses(a, now - windows[i] + 1, now, &x, bx), RF_OK);
        assert_int_equal(fleet_sum_losses(b, now - windows[i] + 1, now, &y, by), RF_OK);
        assert_int_equal(x.devices_dropping, y.devices_dropping);
        assert_int_equal(x.dropped_batches, y.dropped_batches);
        assert_int_equal(x.dropped_records, y.dropped_records);
        assert_int_equal(x.rejected_batches, y.rejected_batches);
        for (size_t d = 0; d < a->n_devs; d++) {
            long j = fleet_find_device(b, strtab_get(&a->str, a->devs[d].uid));
            bool in_x = bx[d >> 6] >> (d & 63) & 1, in_y = by[j >> 6] >> (j & 63) & 1;
            assert_int_equal(in_x, in_y);
        }
    }
    assert_int_equal(a->n_devs, b->n_devs);
    for (size_t d = 0; d < a->n_devs; d++) {
        const struct fleet_device *x = &a->devs[d];
        const struct fleet_device *y =
            &b->devs[fleet_find_device(b, strtab_get(&a->str, x->uid))];
        const struct fleet_agent none = {0};
        const struct fleet_agent *p = x->agent_status ? x->agent_status : &none,
                                 *q = y->agent_status ? y->agent_status : &none;
        assert_int_equal(p->present, q->present);
        assert_int_equal(p->time_ms, q->time_ms);
        assert_int_equal(p->has_last_drop, q->has_last_drop);
        assert_int_equal(p->last_drop_ms, q->last_drop_ms);
        assert_int_equal(p->st.spool_bytes, q->st.spool_bytes);
        assert_int_equal(p->st.spool_batches, q->st.spool_batches);
        assert_int_equal(p->st.spool_limit_bytes, q->st.spool_limit_bytes);
        assert_int_equal(p->st.dropped_batches_total, q->st.dropped_batches_total);
        assert_int_equal(p->st.dropped_records_total, q->st.dropped_records_total);
        assert_int_equal(p->st.rejected_batches_total, q->st.rejected_batches_total);
        assert_int_equal(has_rule(x, "agent-spool-drops"), has_rule(y, "agent-spool-drops"));
        assert_int_equal(x->n_findings, y->n_findings);
        struct rf_arena ar;
        const char *const *ex = NULL, *const *ey = NULL;
        rf_arena_init(&ar);
        assert_int_equal(fleet_device_evidence(a, x, &ar, &ex), RF_OK);
        assert_int_equal(fleet_device_evidence(b, y, &ar, &ey), RF_OK);
        for (size_t k = 0; k < x->n_findings; k++) {
            assert_int_equal(x->findings[k].rule, y->findings[k].rule);
            assert_string_equal(ex[k], ey[k]);
        }
        rf_arena_free(&ar);
    }
    struct fleet_agent_totals ta, tb;
    fleet_agent_totals(a, &ta);
    fleet_agent_totals(b, &tb);
    assert_memory_equal(&ta, &tb, sizeof(ta));
}

static void test_live_and_rebuilt_agree(void **state)
{
    struct fx *f = *state;
    report(f, "dev-a", "a1", 30.0, 2, 0);  /* drops before the last day */
    report(f, "dev-a", "a2", 3.0, 2, 1);   /* a refused batch */
    report(f, "dev-a", "a3", 0.5, 5, 1);   /* three more drops in the last hour */
    report(f, "dev-b", "b1", 2.0, 0, 0);   /* healthy */
    report(f, "dev-c", "c1", 400.0, 4, 0); /* dropped, then silent for weeks */
    report(f, "dev-d", "d1", 10.0, 6, 0);
    report(f, "dev-d", "d2", 0.2, 1, 0); /* reset: 1 new drop */

    fleet_lock_read(&f->live);
    uint32_t now = fleet_minute(time_now_ms());
    struct fleet_loss_sum s;
    assert_int_equal(fleet_sum_losses(&f->live, now - 60 + 1, now, &s, NULL), RF_OK);
    assert_int_equal(s.devices_dropping, 2); /* a and d */
    assert_int_equal(s.dropped_batches, 3 + 1);
    assert_int_equal(s.dropped_records, 30 + 10);
    assert_int_equal(s.rejected_batches, 0);
    assert_int_equal(fleet_sum_losses(&f->live, now - 24 * 60 + 1, now, &s, NULL), RF_OK);
    assert_int_equal(s.devices_dropping, 2);
    assert_int_equal(s.dropped_batches, 3 + 6 + 1);
    assert_int_equal(s.rejected_batches, 1);
    assert_int_equal(fleet_sum_losses(&f->live, now - 31 * 24 * 60 + 1, now, &s, NULL), RF_OK);
    assert_int_equal(s.devices_dropping, 3); /* dev-c's report is 16 days old */
    assert_int_equal(s.dropped_batches, 2 + 3 + 4 + 6 + 1);
    const struct fleet_device *a = &f->live.devs[fleet_find_device(&f->live, "dev-a")];
    assert_non_null(a->agent_status);
    assert_true(a->agent_status->present);
    assert_int_equal(a->agent_status->st.dropped_batches_total, 5);
    assert_true(has_rule(a, "agent-spool-drops"));
    assert_false(has_rule(&f->live.devs[fleet_find_device(&f->live, "dev-b")],
                          "agent-spool-drops"));
    /* dev-c's latest report is its dropping one: still flagged */
    assert_true(has_rule(&f->live.devs[fleet_find_device(&f->live, "dev-c")],
                         "agent-spool-drops"));
    struct fleet_agent_totals t;
    fleet_agent_totals(&f->live, &t);
    assert_int_equal(t.reporting, 4);
    assert_int_equal(t.dropping, 3);
    assert_int_equal(t.dropped_batches, 5 + 0 + 4 + 1);
    assert_int_equal(t.spool_bytes, 4096 * (5 + 0 + 4 + 1));
    fleet_unlock(&f->live);

    /* a restart: the aggregate rebuilt from the database answers the same */
    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &db, err, sizeof(err)), RF_OK);
    struct fleet rebuilt;
    struct fleet_config fc = {0};
    assert_int_equal(fleet_init(&rebuilt, &fc), RF_OK);
    assert_int_equal(fleet_rebuild(&rebuilt, db), RF_OK);
    sqlite3_close(db);
    fleet_lock_read(&f->live);
    assert_same_answers(&f->live, &rebuilt);
    fleet_unlock(&f->live);

    /* dev-a reports again 8 days of its own time later without new drops: cleared
     * (times in the future are fine for the rule, which compares report times) */
    char t8[TIME_RFC3339_MAX], json[512];
    time_format_rfc3339(time_now_ms() + 8LL * 86400000, t8, sizeof(t8));
    snprintf(json, sizeof(json),
             "{\"batch_id\":\"a4\",\"agent\":{\"device_id\":\"dev-a\"},\"records\":["
             "{\"kind\":\"agent_status\",\"time\":\"%s\",\"spool_bytes\":0,\"spool_batches\":0,"
             "\"dropped_batches_total\":5,\"dropped_records_total\":50,"
             "\"rejected_batches_total\":1}]}",
             t8);
    submit_json(f, json);
    fleet_lock_read(&f->live);
    assert_false(has_rule(&f->live.devs[fleet_find_device(&f->live, "dev-a")],
                          "agent-spool-drops"));
    fleet_unlock(&f->live);
    fleet_free(&rebuilt);
}

/* A device's last error is the newest failure it ever sent, also when that
 * is older than the hot horizon: the rebuild after a restart says the same
 * as the live aggregate (it used to read failures of the horizon only). */
static void test_last_error_older_than_horizon_survives_restart(void **state)
{
    struct fx *f = *state;
    char t40[TIME_RFC3339_MAX], t50[TIME_RFC3339_MAX], json[1024];
    time_format_rfc3339(time_now_ms() - 40LL * 86400000, t40, sizeof(t40));
    time_format_rfc3339(time_now_ms() - 50LL * 86400000, t50, sizeof(t50));
    snprintf(json, sizeof(json),
             "{\"batch_id\":\"old\",\"agent\":{\"device_id\":\"dev-old\"},\"records\":["
             "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,\"record_id\":1,"
             "\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\",\"error_code\":13801},"
             "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,\"record_id\":2,"
             "\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\",\"error_code\":809}]}",
             t40, t50);
    submit_json(f, json);
    fleet_lock_read(&f->live);
    const struct fleet_device *live = &f->live.devs[fleet_find_device(&f->live, "dev-old")];
    assert_true(live->has_error);
    assert_int_equal(live->last_error, 13801);
    int64_t live_ms = live->last_error_ms;
    fleet_unlock(&f->live);

    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &db, err, sizeof(err)), RF_OK);
    struct fleet rebuilt;
    struct fleet_config fc = {0};
    assert_int_equal(fleet_init(&rebuilt, &fc), RF_OK);
    assert_int_equal(fleet_rebuild(&rebuilt, db), RF_OK);
    sqlite3_close(db);
    const struct fleet_device *back = &rebuilt.devs[fleet_find_device(&rebuilt, "dev-old")];
    assert_true(back->has_error);
    assert_int_equal(back->last_error, 13801);
    assert_int_equal(back->last_error_ms, live_ms);
    /* and nothing of it counts inside the horizon */
    uint64_t attempts = 0, failures = 0;
    uint32_t now = fleet_minute(time_now_ms());
    fleet_sum(&rebuilt, rebuilt.oldest_minute, now, &attempts, &failures);
    assert_int_equal(failures, 0);
    fleet_free(&rebuilt);
}

int main(void)
{
    log_set_level(LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agentloss_between),
        cmocka_unit_test_setup_teardown(test_live_and_rebuilt_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_error_older_than_horizon_survives_restart,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
