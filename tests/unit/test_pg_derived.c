/* Unit tests for server/pg_derived.c: the parameter arrays a group of
 * batches derives (agent_status, agent_losses, rollups), built without a
 * database: reports in arrival order against the previous totals, only
 * stored batches and inserted events counted, devices and rollup rows in
 * lock (key) order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pg_derived.h"
#include "rasfleet/result.h"

#define MIDNIGHT 1763596800000LL /* 2025-11-20T00:00Z, day 20412 */

static struct rf_record status(int64_t t, int64_t dropped, int64_t rejected)
{
    struct rf_record r;
    memset(&r, 0, sizeof(r));
    r.kind = RF_KIND_AGENT_STATUS;
    r.time_ms = t;
    r.u.st.dropped_batches_total = dropped;
    r.u.st.has_rejected_batches = true;
    r.u.st.rejected_batches_total = rejected;
    r.u.st.agent_version = "0.2.0";
    return r;
}

static struct rf_record event(int64_t t, int id, const char *conn, int64_t code)
{
    struct rf_record r;
    memset(&r, 0, sizeof(r));
    r.kind = RF_KIND_RAS_EVENT;
    r.time_ms = t;
    r.u.ev.event_id = id;
    r.u.ev.connection = conn;
    r.u.ev.has_error_code = code != 0;
    r.u.ev.error_code = code;
    return r;
}

static void job(struct writer_job *j, const char *dev, int64_t row, struct rf_record *recs,
                size_t n, uint8_t *inserted)
{
    memset(j, 0, sizeof(*j));
    j->batch.batch_id = "b";
    j->batch.agent.device_id = dev;
    j->batch.records = recs;
    j->batch.n_records = n;
    j->inserted = inserted;
    j->device_row = row;
    j->res.status = RF_OK;
}

/* A result of PG_DERIVED_PREV_SQL's shape with one row, made by libpq. */
static PGresult *previous_row(const char *uid, const char *dropped, const char *records,
                              const char *rejected)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[4];
    memset(attrs, 0, sizeof(attrs));
    static char *const names[4] = {"uid", "dropped", "records", "rejected"};
    const char *const values[4] = {uid, dropped, records, rejected};
    for (int i = 0; i < 4; i++) {
        attrs[i].name = names[i];
        attrs[i].typlen = -1;
    }
    assert_non_null(r);
    assert_int_equal(PQsetResultAttrs(r, 4, attrs), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(PQsetvalue(r, 0, i, (char *)values[i], (int)strlen(values[i])), 1);
    return r;
}

static void assert_param(const char *const *p, int index, const char *want)
{
    assert_string_equal(p[index], want);
}

static void test_reports_in_arrival_order(void **state)
{
    (void)state;
    struct pg_derived d;
    struct strmap dict;
    pg_derived_init(&d);
    strmap_init(&dict);
    struct rf_record a1[] = {status(MIDNIGHT + 1000, 5, 1)};
    struct rf_record b1[] = {status(MIDNIGHT + 2000, 1, 0), status(MIDNIGHT + 3000, 4, 0)};
    struct rf_record a2[] = {status(MIDNIGHT + 4000, 5, 1)};
    struct rf_record dup[] = {status(MIDNIGHT + 5000, 99, 99)};
    uint8_t ones[2] = {1, 1};
    struct writer_job ja1, jb1, ja2, jdup, jref;
    job(&ja1, "dev-a", 9, a1, 1, ones);
    job(&jb1, "dev-b", 3, b1, 2, ones);
    job(&ja2, "dev-a", 9, a2, 1, ones);
    job(&jdup, "dev-a", 9, dup, 1, ones);
    jdup.res.duplicate = true; /* a repeated batch adds nothing */
    job(&jref, "dev-b", 3, dup, 1, ones);
    jref.res.status = RF_EINVAL; /* refused by the database: nothing */
    struct writer_job *arrival[] = {&ja1, &jb1, &jdup, &jref, &ja2};
    bool any;
    assert_int_equal(pg_derived_status_devices(&d, arrival, 5, &any), RF_OK);
    assert_true(any);
    assert_string_equal(d.uids.data, "{\"dev-a\",\"dev-b\",\"dev-a\",\"dev-b\",\"dev-a\"}");
    /* dev-a had reported 2 dropped / 1 refused before; dev-b never: the
     * answer PG_DERIVED_PREV_SQL would give */
    PGresult *prev = previous_row("dev-a", "2", "0", "1");
    assert_int_equal(pg_derived_set_previous(&d, prev), RF_OK);
    PQclear(prev);
    assert_int_equal(pg_derived_build(&d, arrival, 5, &dict, MIDNIGHT + 9000), RF_OK);
    assert_true(d.has_rows);
    const char *p[PG_DERIVED_PARAMS];
    pg_derived_params(&d, p);
    /* agent_status: device order (3 before 9), the last report of each */
    assert_param(p, 0, "{3,9}");
    assert_param(p, 1, "{1763596803000,1763596804000}");
    assert_param(p, 7, "{4,5}");                          /* dropped_batches_total */
    assert_param(p, 14, "{1763596803000,1763596801000}"); /* last_drop */
    assert_param(p, 15, "{2,2}");                         /* reports */
    assert_param(p, 3, "{\"0.2.0\",\"0.2.0\"}");
    assert_param(p, 6, "{NULL,NULL}"); /* no spool limit sent */
    /* losses in arrival order: a +3 dropped; b first report 1, then +3;
     * a again: nothing (5 -> 5, 1 -> 1) */
    assert_param(p, 16, "{9,3,3}");
    assert_param(p, 19, "{3,1,3}");
    assert_param(p, 21, "{0,0,0}");
    /* no events: empty rollups */
    assert_param(p, 22, "{}");
    assert_param(p, 24, "{}");
    pg_derived_free(&d);
    strmap_free(&dict);
}

static void test_rollups_of_inserted_events(void **state)
{
    (void)state;
    struct pg_derived d;
    struct strmap dict;
    pg_derived_init(&d);
    strmap_init(&dict);
    assert_int_equal(strmap_put(&dict, "VPN", 42), RF_OK);
    struct rf_record a[] = {event(MIDNIGHT + 1, 20227, "VPN", 809),
                            event(MIDNIGHT + 2, 20225, "VPN", 0),
                            event(MIDNIGHT + 3, 20221, "VPN", 0), /* not an attempt */
                            event(MIDNIGHT + 4, 20227, "VPN", 809)};
    uint8_t ins_a[] = {1, 1, 1, 0}; /* the last one was stored before */
    struct rf_record b[] = {event(MIDNIGHT - 1, 20227, "VPN", 0)};
    uint8_t ins_b[] = {1};
    struct writer_job ja, jb;
    job(&ja, "dev-a", 7, a, 4, ins_a);
    job(&jb, "dev-b", 2, b, 1, ins_b);
    struct writer_job *arrival[] = {&ja, &jb};
    bool any;
    assert_int_equal(pg_derived_status_devices(&d, arrival, 2, &any), RF_OK);
    assert_false(any);
    assert_int_equal(pg_derived_set_previous(&d, NULL), RF_OK);
    assert_int_equal(pg_derived_build(&d, arrival, 2, &dict, MIDNIGHT), RF_OK);
    assert_true(d.has_rows);
    const char *p[PG_DERIVED_PARAMS];
    pg_derived_params(&d, p);
    assert_param(p, 0, "{}"); /* no agent_status */
    assert_param(p, 16, "{}");
    assert_param(p, 22, "{20411,20412}");
    assert_param(p, 23, "{1,2}");
    assert_param(p, 24, "{20411,20412}");
    assert_param(p, 25, "{2,7}");
    assert_param(p, 26, "{42,42}");
    assert_param(p, 27, "{0,809}");
    assert_param(p, 28, "{1,1}");
    /* a connection missing from the dictionary is an error, not a guess */
    struct strmap empty;
    strmap_init(&empty);
    assert_int_equal(pg_derived_build(&d, arrival, 2, &empty, MIDNIGHT), RF_EINVAL);
    strmap_free(&empty);
    /* a group of duplicates writes nothing */
    ja.res.duplicate = jb.res.duplicate = true;
    assert_int_equal(pg_derived_build(&d, arrival, 2, &dict, MIDNIGHT), RF_OK);
    assert_false(d.has_rows);
    pg_derived_free(&d);
    strmap_free(&dict);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_in_arrival_order),
        cmocka_unit_test(test_rollups_of_inserted_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
