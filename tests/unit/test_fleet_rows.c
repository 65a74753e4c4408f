/*
 * test_fleet_rows.c - unit tests for server/fleet_rows.c: database rows
 * (here from an in-memory cursor) applied to the hot aggregate as the
 * rebuild and the PostgreSQL tail apply them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet.h"
#include "fleet_internal.h"
#include "fleet_rows.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#define MAX_COLS 12

/* A cursor over rows of text (NULL = SQL NULL); fail_at >= 0 makes next()
 * fail at that row, as a lost connection would. */
struct fake {
    const char *const (*rows)[MAX_COLS];
    int n, at, fail_at;
};

static int fake_next(void *ctx)
{
    struct fake *f = ctx;
    if (f->fail_at >= 0 && f->at + 1 == f->fail_at)
        return -1;
    return ++f->at < f->n ? 1 : 0;
}

static bool fake_is_null(void *ctx, int col)
{
    struct fake *f = ctx;
    return f->rows[f->at][col] == NULL;
}

static int64_t fake_i64(void *ctx, int col)
{
    struct fake *f = ctx;
    const char *s = f->rows[f->at][col];
    return s ? strtoll(s, NULL, 10) : 0;
}

static const char *fake_text(void *ctx, int col)
{
    struct fake *f = ctx;
    return f->rows[f->at][col];
}

#define CURSOR(fk, table)                                                                       \
    struct fake fk = {table, (int)(sizeof(table) / sizeof(table[0])), -1, -1};                 \
    struct fleet_rows fk##_rows = {&fk, fake_next, fake_is_null, fake_i64, fake_text}

struct ctx {
    struct fleet f;
    struct fleet_rowmap m;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    struct fleet_config cfg = {.horizon_days = 2, .max_failures = 1000};
    if (!c || fleet_init(&c->f, &cfg) != RF_OK)
        return -1;
    fleet_rowmap_init(&c->m);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    fleet_rowmap_free(&c->m);
    fleet_free(&c->f);
    free(c);
    return 0;
}

static char *num(int64_t v)
{
    static char pool[64][24];
    static int k;
    char *s = pool[k++ % 64];
    snprintf(s, 24, "%lld", (long long)v);
    return s;
}

static const struct fleet_device *dev(struct fleet *f, const char *uid)
{
    long i = fleet_find_device(f, uid);
    assert_true(i >= 0);
    return &f->devs[i];
}

static const char *name(struct fleet *f, uint32_t id)
{
    return strtab_get(&f->str, id);
}

/* devices: id, uid, hostname, os_version, agent_version, first_seen, last_seen */
static void load_devices(struct ctx *c, const char *const (*rows)[MAX_COLS], int n)
{
    struct fake fk = {rows, n, -1, -1};
    struct fleet_rows r = {&fk, fake_next, fake_is_null, fake_i64, fake_text};
    fleet_internal_lock(&c->f);
    assert_int_equal(fleet_rows_devices(&c->f, &c->m, &r), RF_OK);
    fleet_internal_unlock(&c->f, time_now_ms());
}

static void test_devices_newest_write_names_them(void **state)
{
    struct ctx *c = *state;
    const char *const first[][MAX_COLS] = {
        {"7", "dev-a", "LT-A", "10.0.19045", "0.1.0", "1000", "5000"},
        {"9", "dev-b", "LT-B", NULL, NULL, "2000", "3000"},
    };
    load_devices(c, first, 2);
    assert_int_equal(c->f.n_devs, 2);
    assert_int_equal(fleet_rowmap_get(&c->m, 7), fleet_find_device(&c->f, "dev-a"));
    assert_int_equal(fleet_rowmap_get(&c->m, 9), fleet_find_device(&c->f, "dev-b"));
    assert_int_equal(fleet_rowmap_get(&c->m, 8), -1);
    assert_int_equal(fleet_rowmap_get(&c->m, -1), -1);
    assert_int_equal(fleet_rowmap_get(&c->m, 1000000), -1);
    /* the recency list: newest first */
    assert_string_equal(name(&c->f, c->f.devs[c->f.newest].uid), "dev-a");
    /* an older version of dev-a (a row read before its newer write): names
     * kept; a newer one of dev-b renames it and moves it to the front */
    const char *const later[][MAX_COLS] = {
        {"7", "dev-a", "OLD-NAME", "10.0.1", "0.0.1", "900", "4000"},
        {"9", "dev-b", "LT-B2", "10.0.26100", "0.2.0", "2000", "6000"},
    };
    load_devices(c, later, 2);
    const struct fleet_device *a = dev(&c->f, "dev-a"), *b = dev(&c->f, "dev-b");
    assert_string_equal(name(&c->f, a->hostname), "LT-A");
    assert_string_equal(name(&c->f, a->os), "10.0.19045");
    assert_int_equal(a->first_seen, 900); /* the span still widens */
    assert_int_equal(a->last_seen, 5000);
    assert_string_equal(name(&c->f, b->hostname), "LT-B2");
    assert_string_equal(name(&c->f, b->os), "10.0.26100");
    assert_int_equal(b->last_seen, 6000);
    assert_string_equal(name(&c->f, c->f.devs[c->f.newest].uid), "dev-b");
    assert_string_equal(name(&c->f, c->f.devs[c->f.oldest].uid), "dev-a");
    assert_int_equal(c->m.applied, 4);
}

static void test_device_placed_by_last_seen_not_always_in_front(void **state)
{
    struct ctx *c = *state;
    const char *const rows[][MAX_COLS] = {
        {"1", "d1", "h", "o", "a", "100", "100"},
        {"2", "d2", "h", "o", "a", "100", "300"},
        {"3", "d3", "h", "o", "a", "100", "500"},
    };
    load_devices(c, rows, 3);
    /* another collector's row: seen at 400, between d2 and d3 */
    const char *const mid[][MAX_COLS] = {{"4", "d4", "h", "o", "a", "400", "400"}};
    load_devices(c, mid, 1);
    const char *want[] = {"d3", "d4", "d2", "d1"};
    uint32_t i = c->f.newest, prev = FLEET_NONE;
    for (size_t k = 0; k < 4; k++) {
        assert_true(i != FLEET_NONE);
        assert_string_equal(name(&c->f, c->f.devs[i].uid), want[k]);
        assert_int_equal(c->f.devs[i].newer, prev);
        prev = i;
        i = c->f.devs[i].older;
    }
    assert_int_equal(i, FLEET_NONE);
    assert_int_equal(c->f.oldest, prev);
}

/* iface rows: device, time, alias, ifindex, family, metric, automatic,
 * connected, if_type (0 ethernet, 1 wifi, 2 vpn, 4 cellular), mtu */
static void test_snapshots_in_any_arrival_order(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"}};
    load_devices(c, devs, 1);
    /* newest snapshot first (t=2000, two interfaces of one batch), an
     * unknown device's rows skipped */
    const char *const newest[][MAX_COLS] = {
        {"1", "2000", "Wi-Fi", "3", "2", "35", "1", "1", "1", "1500"},
        {"1", "2000", "Corp VPN", "9", "2", "10", "0", "1", "2", NULL},
        {"77", "2000", "Ghost", "1", "2", "1", "0", "1", "1", NULL},
    };
    fleet_internal_lock(&c->f);
    CURSOR(n1, newest);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_IFACE_METRIC, &n1_rows), RF_OK);
    const struct fleet_device *d = dev(&c->f, "d1");
    assert_int_equal(d->n_if, 2);
    assert_int_equal(d->snap_if_ms, 2000);
    assert_false(d->ifs[1].has_mtu);
    assert_true(d->ifs[0].has_mtu);
    assert_int_equal(d->ifs[0].mtu, 1500);
    /* an older snapshot arriving late: ignored */
    const char *const older[][MAX_COLS] = {
        {"1", "1000", "Ethernet", "4", "2", "5", "0", "1", "0", NULL},
    };
    CURSOR(o1, older);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_IFACE_METRIC, &o1_rows), RF_OK);
    assert_int_equal(d->n_if, 2);
    assert_string_equal(name(&c->f, d->ifs[0].alias), "Wi-Fi");
    /* the same time from another batch adds (a snapshot split in two);
     * several times in one read: each group in order, the newest wins */
    const char *const more[][MAX_COLS] = {
        {"1", "2000", "Cellular", "5", "2", "50", "1", "0", "4", NULL},
        {"1", "2500", "Ethernet", "4", "2", "5", "0", "1", "0", NULL},
        {"1", "3000", "Ethernet", "4", "2", "5", "0", "1", "0", "9000"},
        {"1", "3000", "Wi-Fi", "3", "2", "35", "1", "0", "1", NULL},
    };
    CURSOR(m1, more);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_IFACE_METRIC, &m1_rows), RF_OK);
    assert_int_equal(d->n_if, 2);
    assert_int_equal(d->snap_if_ms, 3000);
    assert_string_equal(name(&c->f, d->ifs[0].alias), "Ethernet");
    assert_int_equal(d->ifs[0].mtu, 9000);
    assert_int_equal(d->primary_if, RF_IF_ETHERNET);
    /* the device is marked for its checks once */
    assert_int_equal(c->m.n_touched, 1);
    assert_int_equal(fleet_rows_checks(&c->f, &c->m), RF_OK);
    assert_int_equal(c->m.n_touched, 0);
    /* a kind that is no snapshot */
    CURSOR(bad, more);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_RAS_EVENT, &bad_rows), RF_EINVAL);
    fleet_internal_unlock(&c->f, time_now_ms());
}

/* pbk: device, time, scope, connection, settings; policy: device, time,
 * connection, server, tunnel_type, auth_method, split, device_tunnel,
 * dns_suffix, ipsec */
static void test_pbk_and_policy_rows(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"}};
    load_devices(c, devs, 1);
    const char *const pbk[][MAX_COLS] = {
        {"1", "100", "1", "Corp VPN", "{\"VpnStrategy\":\"8\",\"NotChecked\":\"x\",\"N\":5}"},
        {"1", "100", "0", "Other", "not json"},
    };
    const char *const pol[][MAX_COLS] = {
        {"1", "100", "Corp VPN", "vpn.example.com", "Ikev2", "Eap", "1", "0", "corp.example",
         "{\"cipher_transform\":\"GCMAES128\",\"dh_group\":\"Group2\"}"},
        {"1", "100", "Other", "vpn2", "Sstp", "Eap", "0", "1", NULL, NULL},
    };
    fleet_internal_lock(&c->f);
    CURSOR(p, pbk);
    CURSOR(v, pol);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_PBK_ENTRY, &p_rows), RF_OK);
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_VPN_POLICY, &v_rows), RF_OK);
    fleet_internal_unlock(&c->f, time_now_ms());
    const struct fleet_device *d = dev(&c->f, "d1");
    assert_int_equal(d->n_pbk, 2);
    assert_int_equal(d->pbk[0].n_kv, 1); /* checked keys of string value only */
    assert_string_equal(name(&c->f, d->pbk[0].kv[0].key), "VpnStrategy");
    assert_int_equal(d->pbk[1].n_kv, 0); /* unparsable settings: none */
    assert_int_equal(d->n_pol, 2);
    assert_true(d->pol[0].ike);
    assert_true(d->pol[0].split);
    assert_string_equal(name(&c->f, d->pol[0].fp), "GCMAES128////Group2/");
    assert_false(d->pol[1].ike);
    assert_true(d->pol[1].device_tunnel);
    assert_int_equal(d->pol[1].fp, 0);
}

/* events: device, time, event_id, error_code, connection */
static void test_events_each_row_once(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"},
                                          {"2", "d2", "h", "o", "a", "1", "1"}};
    load_devices(c, devs, 2);
    int64_t now = time_now_ms(), t = now - 120000;
    const char *const ev[][MAX_COLS] = {
        {"1", num(t), "20225", NULL, "Corp VPN"},
        {"1", num(t + 1), "20227", "809", "Corp VPN"},
        {"2", num(t + 2), "20227", "-2146762495", "Corp VPN"},
        {"2", num(t + 3), "20221", NULL, "Corp VPN"}, /* progress: not an attempt */
        {"5", num(t + 4), "20227", "691", "Corp VPN"}, /* unknown device: skipped */
    };
    fleet_internal_lock(&c->f);
    CURSOR(e, ev);
    assert_int_equal(fleet_rows_events(&c->f, &c->m, &e_rows, now), RF_OK);
    fleet_internal_unlock(&c->f, now);
    uint64_t attempts, failures;
    uint32_t m = fleet_minute(t);
    fleet_sum(&c->f, m - 1, m + 1, &attempts, &failures);
    assert_int_equal(attempts, 3);
    assert_int_equal(failures, 2);
    assert_int_equal(c->f.n_fails, 2);
    assert_int_equal(dev(&c->f, "d2")->last_error, (int32_t)-2146762495);
    assert_true(dev(&c->f, "d1")->has_error);
    assert_int_equal(dev(&c->f, "d1")->last_error, 809);
}

/* agent_status: device, time, spool_bytes, spool_batches, spool_limit_bytes,
 * dropped_batches_total, dropped_records_total, rejected_batches_total,
 * last_success, last_error_time, source_errors, last_drop;
 * losses: device, time, dropped_batches, dropped_records, rejected_batches */
static void test_agent_status_replaces_and_losses_add(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"}};
    load_devices(c, devs, 1);
    int64_t now = time_now_ms();
    const char *const st1[][MAX_COLS] = {
        {"1", num(now - 5000), "100", "2", NULL, "3", NULL, "1", NULL, NULL, NULL, num(now - 5000)},
    };
    const char *const st2[][MAX_COLS] = {
        {"1", num(now - 1000), "50", "1", "1000", "3", "30", "1", num(now), NULL, "0", NULL},
    };
    const char *const loss[][MAX_COLS] = {
        {"1", num(now - 5000), "3", "30", "1"},
        {"1", num(now - 4000), "0", "0", "2"},
        {"9", num(now - 4000), "5", "5", "5"},
    };
    fleet_internal_lock(&c->f);
    CURSOR(s1, st1);
    CURSOR(s2, st2);
    CURSOR(l, loss);
    assert_int_equal(fleet_rows_agent_status(&c->f, &c->m, &s1_rows), RF_OK);
    const struct fleet_agent *a = dev(&c->f, "d1")->agent_status;
    assert_non_null(a);
    assert_true(a->has_last_drop);
    assert_false(a->st.has_spool_limit);
    assert_int_equal(fleet_rows_agent_status(&c->f, &c->m, &s2_rows), RF_OK); /* replaces */
    assert_int_equal(a->st.spool_bytes, 50);
    assert_true(a->st.has_spool_limit);
    assert_true(a->st.has_dropped_records);
    assert_false(a->has_last_drop);
    assert_int_equal(fleet_rows_losses(&c->f, &c->m, &l_rows, now), RF_OK);
    struct fleet_loss_sum sum;
    uint32_t m = fleet_minute(now);
    assert_int_equal(fleet_sum_losses(&c->f, m - 10, m, &sum, NULL), RF_OK);
    assert_int_equal(sum.dropped_batches, 3);
    assert_int_equal(sum.dropped_records, 30);
    assert_int_equal(sum.rejected_batches, 3);
    assert_int_equal(sum.devices_dropping, 1);
    fleet_internal_unlock(&c->f, now);
}

static void test_cursor_failure_is_a_storage_error(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"},
                                          {"2", "d2", "h", "o", "a", "1", "1"}};
    const char *const ev[][MAX_COLS] = {{"1", "1000", "20227", "809", "c"}};
    fleet_internal_lock(&c->f);
    struct fake fk = {devs, 2, -1, 1};
    struct fleet_rows r = {&fk, fake_next, fake_is_null, fake_i64, fake_text};
    assert_int_equal(fleet_rows_devices(&c->f, &c->m, &r), RF_ESTORAGE);
    struct fake fe = {ev, 1, -1, 0};
    struct fleet_rows re = {&fe, fake_next, fake_is_null, fake_i64, fake_text};
    assert_int_equal(fleet_rows_events(&c->f, &c->m, &re, time_now_ms()), RF_ESTORAGE);
    struct fake fs = {ev, 1, -1, 0};
    struct fleet_rows rs = {&fs, fake_next, fake_is_null, fake_i64, fake_text};
    assert_int_equal(fleet_rows_snapshots(&c->f, &c->m, RF_KIND_VPN_POLICY, &rs), RF_ESTORAGE);
    fleet_internal_unlock(&c->f, time_now_ms());
    assert_int_equal(c->f.n_devs, 1); /* the row before the failure was applied */
}

static void test_mark_all_runs_every_check(void **state)
{
    struct ctx *c = *state;
    const char *const devs[][MAX_COLS] = {{"1", "d1", "h", "o", "a", "1", "1"},
                                          {"2", "d2", "h", "o", "a", "1", "1"},
                                          {"3", "d3", "h", "o", "a", "1", "1"}};
    load_devices(c, devs, 3);
    assert_int_equal(c->m.n_touched, 0); /* a device row changes no check input */
    assert_int_equal(fleet_rowmap_mark_all(&c->m, &c->f), RF_OK);
    assert_int_equal(fleet_rowmap_mark_all(&c->m, &c->f), RF_OK); /* once each */
    assert_int_equal(c->m.n_touched, 3);
    fleet_internal_lock(&c->f);
    assert_int_equal(fleet_rows_checks(&c->f, &c->m), RF_OK);
    fleet_internal_unlock(&c->f, time_now_ms());
    assert_int_equal(c->m.n_touched, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_devices_newest_write_names_them, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_placed_by_last_seen_not_always_in_front,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshots_in_any_arrival_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pbk_and_policy_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_each_row_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_status_replaces_and_losses_add, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cursor_failure_is_a_storage_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_all_runs_every_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
