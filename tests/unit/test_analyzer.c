/*
 * test_analyzer.c - fleet concentration statistics (server/analyzer.c) on
 * small synthetic fleets fed through fleet_apply(): a cause on a minority
 * server found by lift, a cause on the server most of the fleet uses found
 * by rate ratio (lift cannot reach 2 there), and the evenly spread noise and
 * small samples that must stay quiet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer.h"
#include "batch_json.h"
#include "buf.h"
#include "fleet.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#define N_DEVICES 200

struct fx {
    struct fleet f;
    struct analyzer an;
    int next_record;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct fleet_config cfg = {.horizon_days = 2, .max_failures = 100000};
    if (!x || fleet_init(&x->f, &cfg) != RF_OK)
        return -1;
    struct analyzer_config ac;
    analyzer_config_defaults(&ac);
    ac.recompute_ms = 0;
    analyzer_init(&x->an, &x->f, &ac);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    analyzer_free(&x->an);
    fleet_free(&x->f);
    free(x);
    return 0;
}

/* Device i reports its policy (server by the caller's split) and one
 * attempt: failing with code, or a success when code is 0. */
static void device_batch(struct fx *x, int i, const char *server, int code)
{
    char ts[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_ms() - 120000, ts, sizeof(ts));
    struct buf j = BUF_INIT;
    buf_printf(&j,
               "{\"batch_id\":\"b%d-%d\",\"agent\":{\"device_id\":\"dev-%03d\","
               "\"hostname\":\"LT-%03d\",\"os_version\":\"%s\",\"agent_version\":\"1.0\"},"
               "\"records\":[{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"AOVPN\","
               "\"server\":\"%s\",\"tunnel_type\":\"Ikev2\",\"auth_method\":\"Eap\","
               "\"split_tunneling\":true,\"device_tunnel\":false},",
               i, x->next_record, i, i, i % 2 ? "10.0.22631" : "10.0.19045", ts, server);
    if (code)
        buf_printf(&j,
                   "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,\"record_id\":%d,"
                   "\"level\":\"error\",\"user\":\"u\",\"connection\":\"AOVPN\","
                   "\"error_code\":%d}]}",
                   ts, ++x->next_record, code);
    else
        buf_printf(&j,
                   "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20225,\"record_id\":%d,"
                   "\"level\":\"information\",\"user\":\"u\",\"connection\":\"AOVPN\"}]}",
                   ts, ++x->next_record);
    struct rf_batch b;
    struct batch_limits lim = {.max_records = 100};
    struct batch_error err;
    if (batch_decode_json(j.data, j.len, &lim, &b, &err) != RF_OK)
        fail_msg("decode: %s", err.message);
    uint8_t ins[4] = {1, 1, 1, 1};
    const struct rf_batch *bp = &b;
    const uint8_t *ip = ins;
    fleet_apply(&x->f, &bp, &ip, 1, time_now_ms());
    rf_batch_free(&b);
    buf_free(&j);
}

/* 200 devices; server A for devices [0, n_a), B for the rest; every device
 * reports a success, then failing[i] (code or 0) adds a failure. */
static void build_fleet(struct fx *x, int n_a, const int *failing)
{
    for (int i = 0; i < N_DEVICES; i++) {
        const char *server = i < n_a ? "vpn-a.example.com" : "vpn-b.example.com";
        device_batch(x, i, server, 0);
        if (failing[i])
            device_batch(x, i, server, failing[i]);
    }
}

/* The concentration findings for code, or NULL; *n_found counts them. */
static cJSON *concentration_for(struct fx *x, int code, int *n_found)
{
    struct buf out = BUF_INIT;
    assert_int_equal(analyzer_findings_json(&x->an, "fleet-concentration", &out), RF_OK);
    cJSON *doc = cJSON_Parse(out.data);
    buf_free(&out);
    assert_non_null(doc);
    cJSON *found = NULL, *fd;
    *n_found = 0;
    cJSON_ArrayForEach(fd, cJSON_GetObjectItem(doc, "findings"))
    {
        cJSON *ev = cJSON_GetObjectItem(fd, "evidence");
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "code")) == code) {
            (*n_found)++;
            if (!found)
                found = cJSON_Duplicate(fd, 1);
        }
    }
    cJSON_Delete(doc);
    return found;
}

static const char *ev_str(cJSON *fd, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(fd, "evidence"), key));
}

static double ev_num(cJSON *fd, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(fd, "evidence"), key));
}

static void test_minority_server_by_lift(void **state)
{
    struct fx *x = *state;
    int failing[N_DEVICES] = {0};
    for (int i = 0; i < 30; i++) /* all on A, which is 20% of the fleet */
        failing[i] = 13801;
    build_fleet(x, 40, failing);
    int n = 0;
    cJSON *fd = concentration_for(x, 13801, &n);
    assert_non_null(fd);
    assert_int_equal(n, 1);
    assert_string_equal(ev_str(fd, "attribute"), "server");
    assert_string_equal(ev_str(fd, "value"), "vpn-a.example.com");
    assert_string_equal(ev_str(fd, "test"), "lift");
    assert_true(ev_num(fd, "lift") > 4.9);
    cJSON_Delete(fd);
}

static void test_majority_server_by_rate_ratio(void **state)
{
    struct fx *x = *state;
    int failing[N_DEVICES] = {0};
    for (int i = 0; i < 40; i++) /* all on A, which is 60% of the fleet: lift 1.67 */
        failing[i] = 13801;
    build_fleet(x, 120, failing);
    int n = 0;
    cJSON *fd = concentration_for(x, 13801, &n);
    assert_non_null(fd);
    assert_int_equal(n, 1); /* the connection (held by all) and the OS (half) are not named */
    assert_string_equal(ev_str(fd, "attribute"), "server");
    assert_string_equal(ev_str(fd, "value"), "vpn-a.example.com");
    assert_string_equal(ev_str(fd, "test"), "rate_ratio");
    assert_true(ev_num(fd, "lift") < 2);
    assert_true(ev_num(fd, "rate_ratio") > 4);
    assert_true(ev_num(fd, "p_value") < 1e-4);
    assert_int_equal((int)ev_num(fd, "failing_with_value"), 40);
    assert_int_equal((int)ev_num(fd, "fleet_with_value"), 120);
    cJSON_Delete(fd);
}

static void test_noise_and_small_samples_stay_quiet(void **state)
{
    struct fx *x = *state;
    int failing[N_DEVICES] = {0};
    /* 691 spread like the fleet: 24 of 40 failing devices on A (60%) */
    for (int i = 0; i < 24; i++)
        failing[i * 5] = 691;
    for (int i = 0; i < 16; i++)
        failing[120 + i * 5] = 691;
    /* 812 on 10 devices, 9 of them on A: p = 0.046 by chance */
    for (int i = 0; i < 9; i++)
        failing[1 + i * 5] = 812;
    failing[121] = 812;
    build_fleet(x, 120, failing);
    int n = 0;
    cJSON *fd = concentration_for(x, 691, &n);
    assert_null(fd);
    fd = concentration_for(x, 812, &n);
    assert_null(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        T(test_minority_server_by_lift),
        T(test_majority_server_by_rate_ratio),
        T(test_noise_and_small_samples_stay_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
