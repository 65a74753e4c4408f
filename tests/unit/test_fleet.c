/*
 * test_fleet.c - unit tests for the hot aggregate's per-device state
 * (server/fleet.c): snapshots replaced by a newer time and extended by the
 * same time, the per-kind caps, exact-size storage (fleet_memory_bytes
 * follows the snapshot), findings whose evidence is recomputed on read and
 * equals what checks_run() says over the full records, a baseline change
 * re-running the checks, and attempts/failures per minute.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_json.h"
#include "buf.h"
#include "checks.h"
#include "fleet.h"
#include "log.h"
#include "rasfleet/arena.h"
#include "rasfleet/result.h"
#include "timeutil.h"

static int setup(void **state)
{
    struct fleet *f = calloc(1, sizeof(*f));
    struct fleet_config cfg = {.horizon_days = 2, .max_failures = 1000};
    if (!f || fleet_init(f, &cfg) != RF_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fleet_free(*state);
    free(*state);
    return 0;
}

static void iso(int64_t ms, char *out, size_t n)
{
    time_format_rfc3339(ms, out, n);
}

/* A snapshot batch for dev at time t: n_if interfaces (the VPN one with
 * metric vpn_metric, the rest Ethernet 25), one pbk entry without the
 * recommended metric keys, one IKEv2 policy with a weak DH group. */
static void snapshot_json(struct buf *j, const char *dev, const char *id, int64_t t, int n_if,
                          int vpn_metric)
{
    char ts[TIME_RFC3339_MAX];
    iso(t, ts, sizeof(ts));
    buf_printf(j, "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\"},\"records\":[", id, dev);
    for (int i = 0; i < n_if; i++)
        buf_printf(j,
                   "{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"%s%d\",\"index\":%d,"
                   "\"family\":\"ipv4\",\"metric\":%d,\"automatic\":false,\"connected\":true,"
                   "\"if_type\":\"%s\"},",
                   ts, i ? "Ethernet" : "Corp VPN", i, 10 + i, i ? 25 : vpn_metric,
                   i ? "ethernet" : "vpn");
    buf_printf(j,
               "{\"kind\":\"pbk_entry\",\"time\":\"%s\",\"scope\":\"user\",\"connection\":"
               "\"Corp VPN0\",\"settings\":{\"VpnStrategy\":\"8\",\"AlwaysOnCapable\":\"0\","
               "\"NotChecked\":\"x\"}},"
               "{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"Corp VPN0\","
               "\"server\":\"vpn.example.com\",\"tunnel_type\":\"Ikev2\",\"auth_method\":\"Eap\","
               "\"split_tunneling\":true,\"device_tunnel\":false,\"ipsec\":{"
               "\"cipher_transform\":\"GCMAES128\",\"auth_transform\":\"GCMAES128\","
               "\"encryption_method\":\"AES128\",\"integrity_check_method\":\"SHA256\","
               "\"dh_group\":\"Group2\",\"pfs_group\":\"PFS2\"}}]}",
               ts, ts);
}

static void decode(const struct buf *j, struct rf_batch *b)
{
    struct batch_limits lim = {.max_records = 1000};
    struct batch_error err;
    if (batch_decode_json(j->data, j->len, &lim, b, &err) != RF_OK)
        fail_msg("decode: %s (%s)", err.message, j->data);
}

static void apply(struct fleet *f, struct rf_batch *b)
{
    uint8_t ins[1000];
    memset(ins, 1, sizeof(ins));
    const struct rf_batch *bp = b;
    const uint8_t *ip = ins;
    fleet_apply(f, &bp, &ip, 1, time_now_ms());
}

static void apply_snapshot(struct fleet *f, const char *dev, const char *id, int64_t t, int n_if,
                           int vpn_metric)
{
    struct buf j = BUF_INIT;
    struct rf_batch b;
    snapshot_json(&j, dev, id, t, n_if, vpn_metric);
    decode(&j, &b);
    apply(f, &b);
    rf_batch_free(&b);
    buf_free(&j);
}

static const struct fleet_device *dev(struct fleet *f, const char *uid)
{
    long i = fleet_find_device(f, uid);
    assert_true(i >= 0);
    return &f->devs[i];
}

static void test_snapshot_replace_and_extend(void **state)
{
    struct fleet *f = *state;
    int64_t t = time_now_ms() - 60000;
    apply_snapshot(f, "d1", "b1", t, 3, 1);
    const struct fleet_device *d = dev(f, "d1");
    assert_int_equal(d->n_if, 3);
    assert_int_equal(d->n_pbk, 1);
    assert_int_equal(d->n_pol, 1);
    /* the pbk entry keeps the checked keys only */
    assert_int_equal(d->pbk[0].n_kv, 2);
    size_t mem3 = fleet_memory_bytes(f);
    /* the same snapshot time continues the snapshot (split over batches) */
    apply_snapshot(f, "d1", "b2", t, 2, 1);
    d = dev(f, "d1");
    assert_int_equal(d->n_if, 5);
    assert_int_equal(d->n_pol, 2);
    assert_true(fleet_memory_bytes(f) > mem3);
    /* a newer snapshot replaces it, and the memory follows */
    apply_snapshot(f, "d1", "b3", t + 1000, 1, 1);
    d = dev(f, "d1");
    assert_int_equal(d->n_if, 1);
    assert_int_equal(d->n_pbk, 1);
    assert_int_equal(d->n_pol, 1);
    assert_true(fleet_memory_bytes(f) < mem3);
    /* an older snapshot than the stored one changes nothing */
    apply_snapshot(f, "d1", "b4", t - 5000, 4, 1);
    assert_int_equal(dev(f, "d1")->n_if, 1);
}

static void test_snapshot_caps(void **state)
{
    struct fleet *f = *state;
    int64_t t = time_now_ms() - 60000;
    apply_snapshot(f, "d2", "b1", t, FLEET_MAX_IFACES + 5, 1);
    assert_int_equal(dev(f, "d2")->n_if, FLEET_MAX_IFACES);
    apply_snapshot(f, "d2", "b2", t, 3, 1);
    assert_int_equal(dev(f, "d2")->n_if, FLEET_MAX_IFACES);
}

struct emitted {
    struct buf all; /* rule|connection|evidence lines */
};

static void collect(void *arg, const struct check_rule *rule, const char *connection,
                    const char *evidence_json)
{
    struct emitted *e = arg;
    buf_printf(&e->all, "%s|%s|%s\n", rule->id, connection ? connection : "", evidence_json);
}

/* What checks_run() says over the full records of a snapshot batch. */
static void direct_findings(const struct rf_batch *b, const struct ipsec_baseline *bl,
                            struct buf *out)
{
    struct rf_iface_metric ifs[64];
    struct rf_pbk_entry pbk[8];
    struct rf_vpn_policy pol[8];
    size_t ni = 0, np = 0, nv = 0;
    for (size_t i = 0; i < b->n_records; i++) {
        const struct rf_record *r = &b->records[i];
        if (r->kind == RF_KIND_IFACE_METRIC)
            ifs[ni++] = r->u.ifm;
        else if (r->kind == RF_KIND_PBK_ENTRY)
            pbk[np++] = r->u.pbk;
        else if (r->kind == RF_KIND_VPN_POLICY)
            pol[nv++] = r->u.pol;
    }
    struct check_device cd = {ifs, ni, pbk, np, pol, nv, NULL};
    struct emitted e = {BUF_INIT};
    assert_int_equal(checks_run(&cd, bl, collect, &e), RF_OK);
    buf_reset(out);
    buf_append(out, e.all.data ? e.all.data : "", e.all.len);
    buf_free(&e.all);
}

/* The fleet's findings of uid with recomputed evidence, same format. */
static void fleet_findings(struct fleet *f, const char *uid, struct buf *out)
{
    const struct fleet_device *d = dev(f, uid);
    struct rf_arena a;
    const char *const *ev = NULL;
    rf_arena_init(&a);
    assert_int_equal(fleet_device_evidence(f, d, &a, &ev), RF_OK);
    buf_reset(out);
    for (size_t k = 0; k < d->n_findings; k++) {
        const char *conn = strtab_get(&f->str, d->findings[k].conn);
        buf_printf(out, "%s|%s|%s\n", checks_rule_at(d->findings[k].rule)->id, conn ? conn : "",
                   ev[k]);
    }
    rf_arena_free(&a);
}

static void test_evidence_recomputed_equals_checks(void **state)
{
    struct fleet *f = *state;
    int64_t t = time_now_ms() - 60000;
    struct buf j = BUF_INIT, want = BUF_INIT, got = BUF_INIT;
    struct rf_batch b;
    /* VPN metric 30 above Ethernet 25: metric-order, plus pbk and ipsec rules */
    snapshot_json(&j, "d3", "b1", t, 3, 30);
    decode(&j, &b);
    apply(f, &b);
    direct_findings(&b, &f->baseline, &want);
    fleet_findings(f, "d3", &got);
    assert_true(dev(f, "d3")->n_findings >= 3);
    assert_non_null(strstr(want.data, "metric-order|"));
    assert_non_null(strstr(want.data, "ipsec-weak|"));
    assert_string_equal(got.data, want.data);

    /* a baseline that requires a different custom policy adds a mismatch */
    struct ipsec_baseline bl = {.configured = true, .server_custom = true};
    bl.policy =
        (struct rf_ipsec_policy){"GCMAES256", "GCMAES256", "AES256", "SHA384", "ECP384", "ECP384"};
    assert_int_equal(fleet_set_baseline(f, &bl), RF_OK);
    direct_findings(&b, &f->baseline, &want);
    fleet_findings(f, "d3", &got);
    assert_non_null(strstr(want.data, "ipsec-mismatch|"));
    assert_string_equal(got.data, want.data);
    rf_batch_free(&b);
    buf_free(&j);
    buf_free(&want);
    buf_free(&got);
}

static void test_healthy_device_has_no_findings_evidence(void **state)
{
    struct fleet *f = *state;
    struct buf j = BUF_INIT;
    struct rf_batch b;
    char ts[TIME_RFC3339_MAX];
    iso(time_now_ms() - 60000, ts, sizeof(ts));
    buf_printf(&j,
               "{\"batch_id\":\"h\",\"agent\":{\"device_id\":\"d4\"},\"records\":["
               "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20225,\"record_id\":1,"
               "\"level\":\"information\",\"user\":\"u\",\"connection\":\"c\"},"
               "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,\"record_id\":2,"
               "\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\",\"error_code\":809}]}",
               ts, ts);
    decode(&j, &b);
    apply(f, &b);
    const struct fleet_device *d = dev(f, "d4");
    assert_int_equal(d->n_findings, 0);
    struct rf_arena a;
    const char *const *ev = NULL;
    rf_arena_init(&a);
    assert_int_equal(fleet_device_evidence(f, d, &a, &ev), RF_OK);
    assert_non_null(ev);
    rf_arena_free(&a);
    assert_true(d->has_error);
    assert_int_equal(d->last_error, 809);
    uint64_t attempts = 0, failures = 0;
    uint32_t m = fleet_minute(time_now_ms());
    fleet_sum(f, m - 10, m, &attempts, &failures);
    assert_int_equal(attempts, 2);
    assert_int_equal(failures, 1);
    rf_batch_free(&b);
    buf_free(&j);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        T(test_snapshot_replace_and_extend),
        T(test_snapshot_caps),
        T(test_evidence_recomputed_equals_checks),
        T(test_healthy_device_has_no_findings_evidence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
