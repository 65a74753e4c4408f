/*
 * test_agent_report.c - unit tests for agent/report.c: the health file
 * round-trips and survives damage, errors become one line of valid UTF-8,
 * and the agent_status record the agent builds passes the collector's own
 * decoder (batch_json.c) with every value in place.
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
#include "buf.h"
#include "report.h"
#include "rasfleet/result.h"
#include "utf8.h"

#define T_NOW 1795161900000LL /* 2026-11-20T08:05:00Z */

static int setup(void **state)
{
    char *dir = strdup("/tmp/rf-report-XXXXXX");
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

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_health_round_trip(void **state)
{
    const char *dir = *state;
    struct report_health h, back;
    assert_int_equal(report_load(dir, &h), RF_OK); /* no file yet: empty */
    assert_int_equal(h.last_success_ms, 0);
    assert_int_equal(h.last_error_ms, 0);
    assert_int_equal(h.last_error[0], '\0');
    h.last_success_ms = T_NOW - 60000;
    /* a server's answer with a newline and a character cut at the end */
    report_set_error(&h, T_NOW, "collector answered HTTP 503:\n{\"error\":\"caf\xc3");
    assert_string_equal(h.last_error, "collector answered HTTP 503: {\"error\":\"caf?");
    assert_int_equal(h.last_error_ms, T_NOW);
    assert_int_equal(report_save(dir, &h), RF_OK);
    assert_int_equal(report_load(dir, &back), RF_OK);
    assert_int_equal(back.last_success_ms, T_NOW - 60000);
    assert_int_equal(back.last_error_ms, T_NOW);
    assert_string_equal(back.last_error, h.last_error);
    /* no error: the file says only the success */
    struct report_health ok = {.last_success_ms = T_NOW};
    assert_int_equal(report_save(dir, &ok), RF_OK);
    assert_int_equal(report_load(dir, &back), RF_OK);
    assert_int_equal(back.last_success_ms, T_NOW);
    assert_int_equal(back.last_error_ms, 0);
}

static void test_error_cut_to_one_line(void **state)
{
    (void)state;
    struct report_health h = {0};
    char long_text[2000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    memcpy(long_text + REPORT_ERROR_MAX - 2, "\xe2\x82\xac", 3); /* a euro sign across the cut */
    report_set_error(&h, T_NOW, long_text);
    assert_int_equal(strlen(h.last_error), REPORT_ERROR_MAX - 1);
    assert_true(utf8_validate(h.last_error, strlen(h.last_error), NULL));
    assert_null(strchr(h.last_error, '\n'));
}

static void test_damaged_health_file(void **state)
{
    const char *dir = *state;
    struct report_health h;
    write_file(dir, "health", "something else\nlast_success 5\n");
    assert_int_equal(report_load(dir, &h), RF_OK);
    assert_int_equal(h.last_success_ms, 0);
    /* an error time without its text, and a negative success: ignored */
    write_file(dir, "health", "rasfleet-agent-health 1\nlast_success -3\nlast_error_time 99\n");
    assert_int_equal(report_load(dir, &h), RF_OK);
    assert_int_equal(h.last_success_ms, 0);
    assert_int_equal(h.last_error_ms, 0);
    /* a hand-edited text with invalid UTF-8 comes back valid */
    write_file(dir, "health",
               "rasfleet-agent-health 1\nlast_success 7\nlast_error_time 8\nlast_error bad \xff\n");
    assert_int_equal(report_load(dir, &h), RF_OK);
    assert_int_equal(h.last_success_ms, 7);
    assert_int_equal(h.last_error_ms, 8);
    assert_string_equal(h.last_error, "bad ?");
}

static void test_record_passes_the_collector(void **state)
{
    (void)state;
    struct report_health h = {.last_success_ms = T_NOW - 3600000};
    report_set_error(&h, T_NOW - 60000, "cannot reach https://collector:8443/api/v1/ingest: "
                                        "Connection refused");
    struct report_spool sp = {.bytes = 65000, .batches = 12, .limit_bytes = 65536,
                              .dropped_batches = 3, .dropped_records = 1500,
                              .rejected_batches = 1};
    struct rf_record r;
    report_record(&h, &sp, 2, "0.1.0", T_NOW, &r);
    struct rf_batch b = {.batch_id = "b-1",
                         .agent = {.device_id = "dev-1", .agent_version = "0.1.0"},
                         .n_records = 1,
                         .records = &r};
    struct buf json = BUF_INIT;
    assert_int_equal(batch_encode_json(&b, &json), RF_OK);
    struct batch_limits lim = {.max_records = 10};
    struct batch_error err;
    struct rf_batch d;
    if (batch_decode_json(json.data, json.len, &lim, &d, &err) != RF_OK)
        fail_msg("%s %s: %s\n%s", err.code, err.field, err.message, json.data);
    assert_int_equal(d.n_records, 1);
    const struct rf_agent_status *s = &d.records[0].u.st;
    assert_int_equal(d.records[0].kind, RF_KIND_AGENT_STATUS);
    assert_int_equal(d.records[0].time_ms, T_NOW);
    assert_string_equal(s->agent_version, "0.1.0");
    assert_int_equal(s->spool_bytes, 65000);
    assert_int_equal(s->spool_batches, 12);
    assert_int_equal(s->spool_limit_bytes, 65536);
    assert_int_equal(s->dropped_batches_total, 3);
    assert_int_equal(s->dropped_records_total, 1500);
    assert_int_equal(s->rejected_batches_total, 1);
    assert_int_equal(s->last_success_ms, T_NOW - 3600000);
    assert_string_equal(s->last_error,
                        "cannot reach https://collector:8443/api/v1/ingest: Connection refused");
    assert_int_equal(s->last_error_ms, T_NOW - 60000);
    assert_int_equal(s->source_errors, 2);
    rf_batch_free(&d);
    /* a fresh agent: no success and no error yet, both left out */
    struct report_health fresh = {0};
    report_record(&fresh, &sp, 0, "0.1.0", T_NOW, &r);
    buf_reset(&json);
    assert_int_equal(record_encode_json(&r, &json), RF_OK);
    assert_null(strstr(json.data, "last_success"));
    assert_null(strstr(json.data, "last_error"));
    buf_free(&json);
}

/* A run reports only what is new: the digest ignores the report's own time,
 * the last success and the spool's bytes, and changes with every counter,
 * error and version; an acknowledged digest is due again after a day. */
static void test_report_only_when_something_changed(void **state)
{
    const char *dir = *state;
    struct report_health h;
    memset(&h, 0, sizeof(h));
    struct report_spool sp = {.bytes = 0, .batches = 0, .limit_bytes = 1 << 20};
    struct rf_record r;
    report_record(&h, &sp, 0, "1.0", T_NOW, &r);
    uint64_t d0 = report_digest(&r);
    assert_true(report_due(&h, d0, T_NOW)); /* never reported */
    report_acknowledged(&h, d0, T_NOW);
    assert_false(report_due(&h, d0, T_NOW + 60000));

    /* time, last success and spool bytes alone are not news */
    h.last_success_ms = T_NOW + 30000;
    sp.bytes = 4096;
    report_record(&h, &sp, 0, "1.0", T_NOW + 3600000, &r);
    assert_int_equal(report_digest(&r), d0);
    assert_false(report_due(&h, report_digest(&r), T_NOW + 3600000));
    /* ... until the heartbeat */
    assert_true(report_due(&h, d0, T_NOW + REPORT_HEARTBEAT_MS));
    /* a clock that went back reports too */
    assert_true(report_due(&h, d0, T_NOW - 1000));

    /* each of these is news */
    struct report_spool drop = sp, reject = sp, queued = sp;
    drop.dropped_batches = 1;
    reject.rejected_batches = 1;
    queued.batches = 3;
    const struct report_spool *changed[] = {&drop, &reject, &queued};
    for (size_t i = 0; i < 3; i++) {
        report_record(&h, changed[i], 0, "1.0", T_NOW + 60000, &r);
        assert_true(report_due(&h, report_digest(&r), T_NOW + 60000));
    }
    report_record(&h, &sp, 2, "1.0", T_NOW + 60000, &r); /* files that failed to parse */
    assert_true(report_digest(&r) != d0);
    report_record(&h, &sp, 0, "1.1", T_NOW + 60000, &r); /* an upgraded agent */
    assert_true(report_digest(&r) != d0);
    report_set_error(&h, T_NOW + 60000, "collector answered HTTP 503");
    report_record(&h, &sp, 0, "1.0", T_NOW + 60000, &r);
    uint64_t d1 = report_digest(&r);
    assert_true(d1 != d0);
    report_set_error(&h, T_NOW + 120000, "collector answered HTTP 503"); /* again, later */
    report_record(&h, &sp, 0, "1.0", T_NOW + 120000, &r);
    assert_true(report_digest(&r) != d1);

    /* the acknowledged report survives a restart of the agent */
    report_acknowledged(&h, d1, T_NOW + 60000);
    assert_int_equal(report_save(dir, &h), RF_OK);
    struct report_health back;
    assert_int_equal(report_load(dir, &back), RF_OK);
    assert_int_equal(back.reported_ms, T_NOW + 60000);
    assert_true(back.reported_digest == d1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_round_trip, setup, teardown),
        cmocka_unit_test(test_error_cut_to_one_line),
        cmocka_unit_test_setup_teardown(test_damaged_health_file, setup, teardown),
        cmocka_unit_test(test_record_passes_the_collector),
        cmocka_unit_test_setup_teardown(test_report_only_when_something_changed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
