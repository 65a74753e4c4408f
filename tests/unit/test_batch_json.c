/*
 * test_batch_json.c - unit tests for common/batch_json.c: decoding the
 * contract fixtures, one test per refusal (code, record_index, field), NDJSON,
 * and encode/decode round trips.
 *
 * Bodies are decoded from exact-size heap copies without a terminating NUL
 * so ASan catches any read past len.
 *
 * Tests named regression_* reproduce defects found while writing this suite;
 * the defects are fixed and the tests guard against their return.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_json.h"
#include "buf.h"
#include "json_scratch.h"
#include "rasfleet/record.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#define T_2026 1795161662123LL /* 2026-11-20T08:01:02.123Z */
#define T_0805 1795161900000LL /* 2026-11-20T08:05:00Z */

static const struct batch_limits LIM = {.max_records = 100};

/* ---- helpers ---- */

static char *read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), RF_OK);
    fclose(f);
    return buf_detach(&b, len);
}

static int decode_n(const char *body, size_t len, const struct batch_limits *lim,
                    struct rf_batch *out, struct batch_error *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    int rc = batch_decode_json(copy, len, lim, out, err);
    free(copy);
    return rc;
}

static int decode(const char *body, struct rf_batch *out, struct batch_error *err)
{
    return decode_n(body, strlen(body), &LIM, out, err);
}

static int decode_nd(const char *body, size_t len, const struct rf_agent_info *agent,
                     const char *batch_id, const struct batch_limits *lim, struct rf_batch *out,
                     struct batch_error *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    int rc = batch_decode_ndjson(copy, len, agent, batch_id, lim, out, err);
    free(copy);
    return rc;
}

static void assert_refusal_lim(const char *body, size_t len, const struct batch_limits *lim,
                               int expect_rc, const char *code, long index, const char *field)
{
    struct rf_batch b;
    struct batch_error err;
    int rc = decode_n(body, len, lim, &b, &err);
    if (rc != expect_rc)
        fail_msg("rc %d, expected %d (code %s, message '%s')", rc, expect_rc,
                 err.code ? err.code : "(null)", err.message);
    assert_non_null(err.code);
    if (strcmp(err.code, code) != 0)
        fail_msg("code '%s', expected '%s' (message '%s')", err.code, code, err.message);
    if (err.record_index != index)
        fail_msg("record_index %ld, expected %ld (message '%s')", err.record_index, index,
                 err.message);
    if (strcmp(err.field, field) != 0)
        fail_msg("field '%s', expected '%s' (message '%s')", err.field, field, err.message);
    assert_true(strlen(err.message) > 0);
    rf_batch_free(&b);
}

static void assert_refusal(const char *body, const char *code, long index, const char *field)
{
    assert_refusal_lim(body, strlen(body), &LIM, RF_EFORMAT, code, index, field);
}

/* Builds records from a base list of key/JSON-value pairs with overrides:
 * an override with value NULL removes the key; keys not in base are added. */
struct kv {
    const char *k;
    const char *v;
};

static const struct kv EV[] = {
    {"kind", "\"ras_event\""},
    {"time", "\"2026-11-20T08:01:02.123Z\""},
    {"event_id", "20227"},
    {"record_id", "418233"},
    {"level", "\"error\""},
    {"user", "\"CORP\\\\alice\""},
    {"connection", "\"Always On VPN\""},
    {"error_code", "809"},
    {"coid", "\"3F2A0C1B-7A44-0000-8E61-0C2B447AD901\""},
    {NULL, NULL},
};

static const struct kv IFM[] = {
    {"kind", "\"iface_metric\""},
    {"time", "\"2026-11-20T08:05:00Z\""},
    {"alias", "\"Ethernet\""},
    {"index", "12"},
    {"family", "\"ipv4\""},
    {"metric", "25"},
    {"automatic", "true"},
    {"connected", "true"},
    {"if_type", "\"ethernet\""},
    {"mtu", "1500"},
    {NULL, NULL},
};

static const struct kv PBK[] = {
    {"kind", "\"pbk_entry\""},
    {"time", "\"2026-11-20T08:05:00Z\""},
    {"scope", "\"user\""},
    {"connection", "\"Always On VPN\""},
    {"settings", "{\"VpnStrategy\":\"14\",\"IpInterfaceMetric\":\"3\"}"},
    {NULL, NULL},
};

#define IPSEC_OK                                                                                   \
    "{\"cipher_transform\":\"AES128\",\"auth_transform\":\"SHA256128\","                         \
    "\"encryption_method\":\"AES128\",\"integrity_check_method\":\"SHA256\","                    \
    "\"dh_group\":\"Group14\",\"pfs_group\":\"PFS2048\"}"

static const struct kv POL[] = {
    {"kind", "\"vpn_policy\""},
    {"time", "\"2026-11-20T08:05:00Z\""},
    {"connection", "\"Always On VPN\""},
    {"server", "\"vpn.example.net\""},
    {"tunnel_type", "\"Ikev2\""},
    {"auth_method", "\"Eap\""},
    {"split_tunneling", "true"},
    {"device_tunnel", "false"},
    {"ipsec", IPSEC_OK},
    {NULL, NULL},
};

static const struct kv ST[] = {
    {"kind", "\"agent_status\""},
    {"time", "\"2026-11-20T08:05:00Z\""},
    {"agent_version", "\"0.1.0\""},
    {"spool_bytes", "1048576"},
    {"spool_batches", "3"},
    {"spool_limit_bytes", "67108864"},
    {"dropped_batches_total", "2"},
    {"dropped_records_total", "1000"},
    {"rejected_batches_total", "1"},
    {"last_success", "\"2026-11-20T08:01:02.123Z\""},
    {"last_error", "\"cannot reach https://collector:8443: Connection refused\""},
    {"last_error_time", "\"2026-11-20T08:04:00Z\""},
    {"source_errors", "4"},
    {NULL, NULL},
};

static void build_record(struct buf *b, const struct kv *base, const struct kv *ovr)
{
    bool first = true;
    assert_int_equal(buf_append_char(b, '{'), RF_OK);
    for (const struct kv *p = base; p->k; p++) {
        const char *v = p->v;
        for (const struct kv *o = ovr; o && o->k; o++)
            if (strcmp(o->k, p->k) == 0)
                v = o->v;
        if (!v)
            continue;
        assert_int_equal(buf_printf(b, "%s\"%s\":%s", first ? "" : ",", p->k, v), RF_OK);
        first = false;
    }
    for (const struct kv *o = ovr; o && o->k; o++) {
        bool in_base = false;
        for (const struct kv *p = base; p->k; p++)
            in_base |= strcmp(o->k, p->k) == 0;
        if (!in_base && o->v) {
            assert_int_equal(buf_printf(b, "%s\"%s\":%s", first ? "" : ",", o->k, o->v), RF_OK);
            first = false;
        }
    }
    assert_int_equal(buf_append_char(b, '}'), RF_OK);
}

static void batch_open(struct buf *b)
{
    buf_init(b);
    assert_int_equal(buf_append_str(b, "{\"schema\":1,\"batch_id\":\"batch-1\","
                                       "\"agent\":{\"device_id\":\"dev-1\",\"hostname\":\"LT-1\"},"
                                       "\"records\":["),
                     RF_OK);
}

static void batch_close(struct buf *b)
{
    assert_int_equal(buf_append_str(b, "]}"), RF_OK);
}

/* A batch of one record built from base + overrides. */
static void one_record_batch(struct buf *b, const struct kv *base, const struct kv *ovr)
{
    batch_open(b);
    build_record(b, base, ovr);
    batch_close(b);
}

/* Refusal of a one-record batch: record_index 0. */
static void assert_record_refusal(const struct kv *base, const struct kv *ovr, const char *code,
                                  const char *field)
{
    struct buf b;
    one_record_batch(&b, base, ovr);
    assert_refusal_lim(b.data, b.len, &LIM, RF_EFORMAT, code, 0, field);
    buf_free(&b);
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (!a || !b) {
        assert_ptr_equal(a, b);
        return;
    }
    assert_string_equal(a, b);
}

static void assert_records_equal(const struct rf_record *a, const struct rf_record *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->time_ms, b->time_ms);
    switch (a->kind) {
    case RF_KIND_RAS_EVENT: {
        const struct rf_ras_event *x = &a->u.ev, *y = &b->u.ev;
        assert_int_equal(x->event_id, y->event_id);
        assert_int_equal(x->record_id, y->record_id);
        assert_int_equal(x->level, y->level);
        assert_string_equal(x->user, y->user);
        assert_string_equal(x->connection, y->connection);
        assert_int_equal(x->has_error_code, y->has_error_code);
        if (x->has_error_code)
            assert_int_equal(x->error_code, y->error_code);
        assert_int_equal(x->has_reason_code, y->has_reason_code);
        if (x->has_reason_code)
            assert_int_equal(x->reason_code, y->reason_code);
        assert_str_eq_or_null(x->coid, y->coid);
        assert_str_eq_or_null(x->message, y->message);
        break;
    }
    case RF_KIND_IFACE_METRIC: {
        const struct rf_iface_metric *x = &a->u.ifm, *y = &b->u.ifm;
        assert_string_equal(x->alias, y->alias);
        assert_int_equal(x->index, y->index);
        assert_int_equal(x->family, y->family);
        assert_int_equal(x->metric, y->metric);
        assert_int_equal(x->automatic, y->automatic);
        assert_int_equal(x->connected, y->connected);
        assert_int_equal(x->if_type, y->if_type);
        assert_int_equal(x->has_mtu, y->has_mtu);
        if (x->has_mtu)
            assert_int_equal(x->mtu, y->mtu);
        break;
    }
    case RF_KIND_PBK_ENTRY: {
        const struct rf_pbk_entry *x = &a->u.pbk, *y = &b->u.pbk;
        assert_int_equal(x->scope, y->scope);
        assert_string_equal(x->connection, y->connection);
        assert_int_equal(x->n_settings, y->n_settings);
        for (size_t i = 0; i < x->n_settings; i++) {
            assert_string_equal(x->settings[i].key, y->settings[i].key);
            assert_string_equal(x->settings[i].value, y->settings[i].value);
        }
        break;
    }
    case RF_KIND_VPN_POLICY: {
        const struct rf_vpn_policy *x = &a->u.pol, *y = &b->u.pol;
        assert_string_equal(x->connection, y->connection);
        assert_string_equal(x->server, y->server);
        assert_string_equal(x->tunnel_type, y->tunnel_type);
        assert_string_equal(x->auth_method, y->auth_method);
        assert_int_equal(x->split_tunneling, y->split_tunneling);
        assert_int_equal(x->device_tunnel, y->device_tunnel);
        assert_str_eq_or_null(x->dns_suffix, y->dns_suffix);
        assert_int_equal(x->has_ipsec, y->has_ipsec);
        if (x->has_ipsec) {
            assert_string_equal(x->ipsec.cipher_transform, y->ipsec.cipher_transform);
            assert_string_equal(x->ipsec.auth_transform, y->ipsec.auth_transform);
            assert_string_equal(x->ipsec.encryption_method, y->ipsec.encryption_method);
            assert_string_equal(x->ipsec.integrity_check_method,
                                y->ipsec.integrity_check_method);
            assert_string_equal(x->ipsec.dh_group, y->ipsec.dh_group);
            assert_string_equal(x->ipsec.pfs_group, y->ipsec.pfs_group);
        }
        break;
    }
    case RF_KIND_AGENT_STATUS: {
        const struct rf_agent_status *x = &a->u.st, *y = &b->u.st;
        assert_str_eq_or_null(x->agent_version, y->agent_version);
        assert_int_equal(x->spool_bytes, y->spool_bytes);
        assert_int_equal(x->spool_batches, y->spool_batches);
        assert_int_equal(x->has_spool_limit, y->has_spool_limit);
        if (x->has_spool_limit)
            assert_int_equal(x->spool_limit_bytes, y->spool_limit_bytes);
        assert_int_equal(x->dropped_batches_total, y->dropped_batches_total);
        assert_int_equal(x->has_dropped_records, y->has_dropped_records);
        if (x->has_dropped_records)
            assert_int_equal(x->dropped_records_total, y->dropped_records_total);
        assert_int_equal(x->has_rejected_batches, y->has_rejected_batches);
        if (x->has_rejected_batches)
            assert_int_equal(x->rejected_batches_total, y->rejected_batches_total);
        assert_int_equal(x->has_last_success, y->has_last_success);
        if (x->has_last_success)
            assert_int_equal(x->last_success_ms, y->last_success_ms);
        assert_str_eq_or_null(x->last_error, y->last_error);
        assert_int_equal(x->has_last_error_time, y->has_last_error_time);
        if (x->has_last_error_time)
            assert_int_equal(x->last_error_ms, y->last_error_ms);
        assert_int_equal(x->has_source_errors, y->has_source_errors);
        if (x->has_source_errors)
            assert_int_equal(x->source_errors, y->source_errors);
        break;
    }
    default:
        fail_msg("bad kind %d", (int)a->kind);
    }
}

static void assert_batches_equal(const struct rf_batch *a, const struct rf_batch *b)
{
    assert_string_equal(a->batch_id, b->batch_id);
    assert_string_equal(a->agent.device_id, b->agent.device_id);
    assert_str_eq_or_null(a->agent.hostname, b->agent.hostname);
    assert_str_eq_or_null(a->agent.os_version, b->agent.os_version);
    assert_str_eq_or_null(a->agent.agent_version, b->agent.agent_version);
    assert_int_equal(a->n_records, b->n_records);
    for (size_t i = 0; i < a->n_records; i++)
        assert_records_equal(&a->records[i], &b->records[i]);
}

/* Checks every value of the contract fixture (both encodings carry it). */
static void check_fixture_records(const struct rf_batch *b)
{
    assert_int_equal(b->n_records, 13);
    size_t per_kind[RF_KIND_COUNT] = {0};
    for (size_t i = 0; i < b->n_records; i++)
        per_kind[b->records[i].kind]++;
    assert_int_equal(per_kind[RF_KIND_RAS_EVENT], 5);
    assert_int_equal(per_kind[RF_KIND_IFACE_METRIC], 3);
    assert_int_equal(per_kind[RF_KIND_PBK_ENTRY], 2);
    assert_int_equal(per_kind[RF_KIND_VPN_POLICY], 3);

    /* first event: the 809 failure */
    const struct rf_record *r = &b->records[0];
    assert_int_equal(r->kind, RF_KIND_RAS_EVENT);
    assert_int_equal(r->time_ms, T_2026);
    const struct rf_ras_event *e = &r->u.ev;
    assert_int_equal(e->event_id, 20227);
    assert_int_equal(e->record_id, 418233);
    assert_int_equal(e->level, RF_LEVEL_ERROR);
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "Always On VPN");
    assert_true(e->has_error_code);
    assert_int_equal(e->error_code, 809);
    assert_false(e->has_reason_code);
    assert_string_equal(e->coid, "3F2A0C1B-7A44-0000-8E61-0C2B447AD901");
    assert_string_equal(e->message,
                        "CoId={3F2A0C1B-7A44-0000-8E61-0C2B447AD901}: The user CORP\\alice "
                        "dialed a connection named Always On VPN which has failed. The error "
                        "code returned on failure is 809.");

    /* device tunnel 13806 */
    e = &b->records[1].u.ev;
    assert_int_equal(b->records[1].time_ms, T_2026 - 141568); /* 07:58:40.555 */
    assert_string_equal(e->user, "SYSTEM");
    assert_string_equal(e->connection, "Always On VPN Device Tunnel");
    assert_int_equal(e->error_code, 13806);
    assert_null(e->message);

    /* the HRESULT given as a negative decimal */
    e = &b->records[2].u.ev;
    assert_true(e->has_error_code);
    assert_int_equal(e->error_code, -2146762495LL);
    assert_string_equal(e->user, "CORP\\bob");

    /* 20225: no error code, information level */
    e = &b->records[3].u.ev;
    assert_int_equal(e->event_id, 20225);
    assert_int_equal(e->level, RF_LEVEL_INFORMATION);
    assert_false(e->has_error_code);
    assert_false(e->has_reason_code);

    /* 20226 with reason code 833 */
    e = &b->records[4].u.ev;
    assert_int_equal(e->event_id, 20226);
    assert_false(e->has_error_code);
    assert_true(e->has_reason_code);
    assert_int_equal(e->reason_code, 833);
    assert_string_equal(e->coid, "0D9E6A21-3C55-0000-41B2-7F3C90A1D2E4");

    /* interfaces */
    const struct rf_iface_metric *m = &b->records[5].u.ifm;
    assert_int_equal(b->records[5].kind, RF_KIND_IFACE_METRIC);
    assert_int_equal(b->records[5].time_ms, T_0805);
    assert_string_equal(m->alias, "Always On VPN");
    assert_int_equal(m->index, 41);
    assert_int_equal(m->family, RF_FAMILY_IPV4);
    assert_int_equal(m->metric, 25);
    assert_true(m->automatic);
    assert_true(m->connected);
    assert_int_equal(m->if_type, RF_IF_VPN);
    assert_true(m->has_mtu);
    assert_int_equal(m->mtu, 1400);
    m = &b->records[6].u.ifm;
    assert_string_equal(m->alias, "Ethernet");
    assert_int_equal(m->if_type, RF_IF_ETHERNET);
    assert_int_equal(m->mtu, 1500);
    m = &b->records[7].u.ifm;
    assert_string_equal(m->alias, "Wi-Fi");
    assert_int_equal(m->index, 18);
    assert_int_equal(m->metric, 50);
    assert_false(m->connected);
    assert_int_equal(m->if_type, RF_IF_WIFI);

    /* pbk entries, settings in file order */
    const struct rf_pbk_entry *p = &b->records[8].u.pbk;
    assert_int_equal(b->records[8].kind, RF_KIND_PBK_ENTRY);
    assert_int_equal(p->scope, RF_SCOPE_USER);
    assert_string_equal(p->connection, "Always On VPN");
    static const char *const keys8[] = {
        "Encoding",          "PBVersion",
        "Type",              "VpnStrategy",
        "UseRasCredentials", "IpPrioritizeRemote",
        "IpInterfaceMetric", "Ipv6InterfaceMetric",
        "IpDnsFlags",        "IpNBTFlags",
        "DisableClassBasedDefaultRoute", "DisableMobility",
        "NetworkOutageTime", "CacheCredentials",
        "Disable_IKEv2_Fragmentation", "AutoTiggerCapable",
        "AlwaysOnCapable",   "DeviceTunnel",
        "PrivateNetwork",    "PreferredDevice",
        "CustomAuthKey",     "PhoneNumber"};
    static const char *const values8[] = {"1", "8", "2", "14", "0", "0", "3", "3",
                                          "0", "0", "1", "0", "0", "1", "0", "1",
                                          "1", "0", "1", "WAN Miniport (IKEv2)", "25",
                                          "vpn.example.net"};
    assert_int_equal(p->n_settings, 22);
    for (size_t i = 0; i < 22; i++) {
        assert_string_equal(p->settings[i].key, keys8[i]);
        assert_string_equal(p->settings[i].value, values8[i]);
    }
    p = &b->records[9].u.pbk;
    assert_int_equal(p->scope, RF_SCOPE_ALL_USERS);
    assert_string_equal(p->connection, "Always On VPN Device Tunnel");
    assert_int_equal(p->n_settings, 12);
    assert_string_equal(p->settings[0].key, "VpnStrategy");
    assert_string_equal(p->settings[0].value, "7");
    assert_string_equal(p->settings[1].key, "DeviceTunnel");
    assert_string_equal(p->settings[1].value, "1");
    assert_string_equal(p->settings[11].key, "PhoneNumber");

    /* policies: with ipsec + dns suffix, device tunnel, and without ipsec */
    const struct rf_vpn_policy *v = &b->records[10].u.pol;
    assert_int_equal(b->records[10].kind, RF_KIND_VPN_POLICY);
    assert_string_equal(v->connection, "Always On VPN");
    assert_string_equal(v->server, "vpn.example.net");
    assert_string_equal(v->tunnel_type, "Ikev2");
    assert_string_equal(v->auth_method, "Eap");
    assert_true(v->split_tunneling);
    assert_false(v->device_tunnel);
    assert_string_equal(v->dns_suffix, "corp.example.net");
    assert_true(v->has_ipsec);
    assert_string_equal(v->ipsec.cipher_transform, "GCMAES128");
    assert_string_equal(v->ipsec.auth_transform, "GCMAES128");
    assert_string_equal(v->ipsec.encryption_method, "GCMAES128");
    assert_string_equal(v->ipsec.integrity_check_method, "SHA256");
    assert_string_equal(v->ipsec.dh_group, "Group14");
    assert_string_equal(v->ipsec.pfs_group, "ECP256");
    v = &b->records[11].u.pol;
    assert_string_equal(v->auth_method, "MachineCertificate");
    assert_true(v->device_tunnel);
    assert_null(v->dns_suffix);
    assert_true(v->has_ipsec);
    assert_string_equal(v->ipsec.auth_transform, "SHA256128");
    assert_string_equal(v->ipsec.pfs_group, "PFS2048");
    v = &b->records[12].u.pol;
    assert_string_equal(v->connection, "Legacy VPN");
    assert_string_equal(v->server, "vpn2.example.net");
    assert_string_equal(v->tunnel_type, "Automatic");
    assert_false(v->split_tunneling);
    assert_false(v->device_tunnel);
    assert_null(v->dns_suffix);
    assert_false(v->has_ipsec);
}

/* ---- fixtures ---- */

static void test_fixture_json(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body, len, &LIM, &b, &err), RF_OK);
    assert_string_equal(b.batch_id, "b6f0c3a2-6d2e-4c1e-9a51-3f0d1e2a7b10");
    assert_string_equal(b.agent.device_id, "4c4c4544-0042-3510-8051-b4c04f4b3732");
    assert_string_equal(b.agent.hostname, "LT-0421");
    assert_string_equal(b.agent.os_version, "10.0.22631");
    assert_string_equal(b.agent.agent_version, "0.1.0");
    check_fixture_records(&b);
    rf_batch_free(&b);
    free(body);
}

static void test_fixture_ndjson(void **state)
{
    (void)state;
    size_t len, jlen;
    char *body = read_fixture("records/batch-all-kinds.ndjson", &len);
    char *jbody = read_fixture("records/batch-all-kinds.json", &jlen);
    struct rf_agent_info agent = {
        .device_id = "4c4c4544-0042-3510-8051-b4c04f4b3732",
        .hostname = "LT-0421",
        .os_version = "10.0.22631",
        .agent_version = "0.1.0",
    };
    struct rf_batch b, j;
    struct batch_error err;
    assert_int_equal(
        decode_nd(body, len, &agent, "b6f0c3a2-6d2e-4c1e-9a51-3f0d1e2a7b10", &LIM, &b, &err),
        RF_OK);
    check_fixture_records(&b);
    assert_int_equal(decode_n(jbody, jlen, &LIM, &j, &err), RF_OK);
    assert_batches_equal(&b, &j);
    /* the header strings are copied into the batch's arena */
    assert_true(b.agent.device_id != agent.device_id);
    rf_batch_free(&b);
    rf_batch_free(&j);
    free(body);
    free(jbody);
}

static void test_fixture_limit_exact(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    struct batch_limits l13 = {.max_records = 13}, l12 = {.max_records = 12};
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body, len, &l13, &b, &err), RF_OK);
    assert_int_equal(b.n_records, 13);
    rf_batch_free(&b);
    assert_refusal_lim(body, len, &l12, RF_ETOOBIG, "too_many_records", -1, "records");
    free(body);
}

/* ---- accepted variants ---- */

static void test_minimal_batch(void **state)
{
    (void)state;
    struct rf_batch b;
    struct batch_error err;
    const char *body = "{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}";
    assert_int_equal(decode(body, &b, &err), RF_OK);
    assert_string_equal(b.batch_id, "x");
    assert_string_equal(b.agent.device_id, "d");
    assert_null(b.agent.hostname);
    assert_null(b.agent.os_version);
    assert_null(b.agent.agent_version);
    assert_int_equal(b.n_records, 0);
    assert_int_equal(err.record_index, -1);
    rf_batch_free(&b);
}

static void test_unsigned_code_normalised(void **state)
{
    (void)state;
    static const struct kv ovr[] = {{"error_code", "2148204801"}, {"reason_code", "4294967295"},
                                    {NULL, NULL}};
    struct buf body;
    one_record_batch(&body, EV, ovr);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_true(b.records[0].u.ev.has_error_code);
    assert_int_equal(b.records[0].u.ev.error_code, -2146762495LL);
    assert_true(b.records[0].u.ev.has_reason_code);
    assert_int_equal(b.records[0].u.ev.reason_code, -1);
    rf_batch_free(&b);
    buf_free(&body);
}

static void test_code_range_edges(void **state)
{
    (void)state;
    const char *ok[][2] = {
        {"-2147483648", "-2147483648"}, {"2147483647", "2147483647"}, {"0", "0"},
        {"2147483648", "-2147483648"},  {"null", NULL},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct kv ovr[] = {{"error_code", ok[i][0]}, {NULL, NULL}};
        struct buf body;
        one_record_batch(&body, EV, ovr);
        struct rf_batch b;
        struct batch_error err;
        assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
        if (ok[i][1]) {
            assert_true(b.records[0].u.ev.has_error_code);
            assert_int_equal(b.records[0].u.ev.error_code, strtoll(ok[i][1], NULL, 10));
        } else {
            assert_false(b.records[0].u.ev.has_error_code);
        }
        rf_batch_free(&b);
        buf_free(&body);
    }
}

static void test_normalize_code(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_true(batch_normalize_code(2148204801.0, &v));
    assert_int_equal(v, -2146762495LL);
    assert_true(batch_normalize_code(-2146762495.0, &v));
    assert_int_equal(v, -2146762495LL);
    assert_true(batch_normalize_code(4294967295.0, &v));
    assert_int_equal(v, -1);
    assert_true(batch_normalize_code(2147483647.0, &v));
    assert_int_equal(v, 2147483647);
    assert_true(batch_normalize_code(2147483648.0, &v));
    assert_int_equal(v, -2147483648LL);
    assert_true(batch_normalize_code(-2147483648.0, &v));
    assert_int_equal(v, -2147483648LL);
    assert_true(batch_normalize_code(809.0, &v));
    assert_int_equal(v, 809);
    v = 42;
    assert_false(batch_normalize_code(4294967296.0, &v));
    assert_false(batch_normalize_code(-2147483649.0, &v));
    assert_false(batch_normalize_code(1.5, &v));
    assert_false(batch_normalize_code(NAN, &v));
    assert_false(batch_normalize_code(INFINITY, &v));
    assert_int_equal(v, 42);
}

static void test_coid_braces_stripped(void **state)
{
    (void)state;
    static const struct kv ovr[] = {{"coid", "\"{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}\""},
                                    {NULL, NULL}};
    struct buf body;
    one_record_batch(&body, EV, ovr);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_string_equal(b.records[0].u.ev.coid, "3F2A0C1B-7A44-0000-8E61-0C2B447AD901");
    rf_batch_free(&b);
    buf_free(&body);
    /* absent coid stays NULL */
    static const struct kv none[] = {{"coid", NULL}, {NULL, NULL}};
    one_record_batch(&body, EV, none);
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_null(b.records[0].u.ev.coid);
    rf_batch_free(&b);
    buf_free(&body);
}

static void test_enums_case_insensitive_canonical(void **state)
{
    (void)state;
    static const struct kv ev[] = {{"level", "\"Warning\""}, {NULL, NULL}};
    static const struct kv ifm[] = {
        {"family", "\"IPv6\""}, {"if_type", "\"WiFi\""}, {"mtu", NULL}, {NULL, NULL}};
    static const struct kv pol[] = {{"tunnel_type", "\"SSTP\""}, {NULL, NULL}};
    static const struct kv pbk[] = {{"scope", "\"ALL_USERS\""}, {NULL, NULL}};
    struct buf body;
    batch_open(&body);
    build_record(&body, EV, ev);
    buf_append_char(&body, ',');
    build_record(&body, IFM, ifm);
    buf_append_char(&body, ',');
    build_record(&body, POL, pol);
    buf_append_char(&body, ',');
    build_record(&body, PBK, pbk);
    batch_close(&body);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_int_equal(b.n_records, 4);
    assert_int_equal(b.records[0].u.ev.level, RF_LEVEL_WARNING);
    assert_int_equal(b.records[1].u.ifm.family, RF_FAMILY_IPV6);
    assert_int_equal(b.records[1].u.ifm.if_type, RF_IF_WIFI);
    assert_false(b.records[1].u.ifm.has_mtu);
    assert_string_equal(b.records[2].u.pol.tunnel_type, "Sstp");
    assert_int_equal(b.records[3].u.pbk.scope, RF_SCOPE_ALL_USERS);
    rf_batch_free(&b);
    buf_free(&body);
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    static const struct kv extra[] = {{"x_extra", "{\"nested\":[1,2,{\"a\":null}]}"},
                                      {"x_flag", "true"},
                                      {"x_text", "\"ignored\""},
                                      {NULL, NULL}};
    struct buf plain, with;
    one_record_batch(&plain, EV, NULL);
    batch_open(&with);
    build_record(&with, EV, extra);
    batch_close(&with);
    assert_non_null(strstr(with.data, "x_extra"));
    struct rf_batch a, b;
    struct batch_error err;
    assert_int_equal(decode_n(plain.data, plain.len, &LIM, &a, &err), RF_OK);
    assert_int_equal(decode_n(with.data, with.len, &LIM, &b, &err), RF_OK);
    assert_batches_equal(&a, &b);
    rf_batch_free(&a);
    rf_batch_free(&b);
    buf_free(&plain);
    buf_free(&with);
    /* the same for the other kinds */
    const struct kv *bases[] = {IFM, PBK, POL};
    for (int k = 0; k < 3; k++) {
        one_record_batch(&plain, bases[k], NULL);
        one_record_batch(&with, bases[k], extra);
        assert_int_equal(decode_n(plain.data, plain.len, &LIM, &a, &err), RF_OK);
        assert_int_equal(decode_n(with.data, with.len, &LIM, &b, &err), RF_OK);
        assert_batches_equal(&a, &b);
        rf_batch_free(&a);
        rf_batch_free(&b);
        buf_free(&plain);
        buf_free(&with);
    }
}

static void test_schema_absent_or_one(void **state)
{
    (void)state;
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(
        decode("{\"schema\":1,\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
               &b, &err),
        RF_OK);
    rf_batch_free(&b);
    assert_int_equal(
        decode("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}", &b, &err),
        RF_OK);
    rf_batch_free(&b);
}

/* ---- refusals ---- */

static void test_refuse_malformed_json(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\": ", "malformed_json", -1, "");
    assert_refusal("{\"batch_id\":\"x\",}", "malformed_json", -1, "");
    assert_refusal("", "malformed_json", -1, "");
    assert_refusal("   ", "malformed_json", -1, "");
    assert_refusal("{'a':1}", "malformed_json", -1, "");
    /* the message names the line */
    struct rf_batch b;
    struct batch_error err;
    const char *body = "{\n\"batch_id\":\"x\",\n\"agent\": ]\n}";
    assert_int_equal(decode(body, &b, &err), RF_EFORMAT);
    assert_string_equal(err.code, "malformed_json");
    assert_non_null(strstr(err.message, "line 3"));
    rf_batch_free(&b);
}

static void test_refuse_trailing_garbage(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]} x",
                   "malformed_json", -1, "");
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}{}",
                   "malformed_json", -1, "");
    /* trailing whitespace is fine */
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(
        decode("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]} \r\n\t",
               &b, &err),
        RF_OK);
    rf_batch_free(&b);
}

static void test_refuse_body_not_object(void **state)
{
    (void)state;
    assert_refusal("[]", "wrong_type", -1, "");
    assert_refusal("42", "wrong_type", -1, "");
    assert_refusal("\"batch\"", "wrong_type", -1, "");
    assert_refusal("null", "wrong_type", -1, "");
}

static void test_refuse_missing_batch_id(void **state)
{
    (void)state;
    assert_refusal("{\"agent\":{\"device_id\":\"d\"},\"records\":[]}", "missing_field", -1,
                   "batch_id");
    assert_refusal("{\"batch_id\":\"\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
                   "invalid_value", -1, "batch_id");
    assert_refusal("{\"batch_id\":7,\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
                   "wrong_type", -1, "batch_id");
    assert_refusal("{\"batch_id\":\"a b\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
                   "invalid_value", -1, "batch_id");
}

static void test_refuse_missing_agent(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"records\":[]}", "missing_field", -1, "agent");
    assert_refusal("{\"batch_id\":\"x\",\"agent\":\"d\",\"records\":[]}", "wrong_type", -1,
                   "agent");
}

static void test_refuse_missing_device_id(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"hostname\":\"h\"},\"records\":[]}",
                   "missing_field", -1, "agent.device_id");
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":5},\"records\":[]}",
                   "wrong_type", -1, "agent.device_id");
    assert_refusal(
        "{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\",\"hostname\":1},\"records\":[]}",
        "wrong_type", -1, "agent.hostname");
}

static void test_refuse_device_id_with_space(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"my device\"},\"records\":[]}",
                   "invalid_value", -1, "agent.device_id");
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\\u0001\"},\"records\":[]}",
                   "invalid_value", -1, "agent.device_id");
    assert_refusal(
        "{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"caf\xc3\xa9\"},\"records\":[]}",
        "invalid_value", -1, "agent.device_id");
}

static void test_refuse_id_too_long(void **state)
{
    (void)state;
    char id[RF_MAX_ID_LEN + 2];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    char body[512];
    snprintf(body, sizeof(body),
             "{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"%s\"},\"records\":[]}", id);
    assert_refusal(body, "field_too_long", -1, "agent.device_id");
    snprintf(body, sizeof(body),
             "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}", id);
    assert_refusal(body, "field_too_long", -1, "batch_id");
    /* exactly RF_MAX_ID_LEN is fine */
    id[RF_MAX_ID_LEN] = '\0';
    snprintf(body, sizeof(body),
             "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\"},\"records\":[]}", id, id);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode(body, &b, &err), RF_OK);
    assert_int_equal(strlen(b.batch_id), RF_MAX_ID_LEN);
    rf_batch_free(&b);
}

static void test_refuse_missing_records(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"}}", "missing_field", -1,
                   "records");
}

static void test_refuse_records_not_array(void **state)
{
    (void)state;
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":{}}",
                   "wrong_type", -1, "records");
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":null}",
                   "wrong_type", -1, "records");
}

static void test_refuse_record_not_object(void **state)
{
    (void)state;
    struct buf b;
    batch_open(&b);
    build_record(&b, EV, NULL);
    buf_append_str(&b, ",5");
    batch_close(&b);
    assert_refusal_lim(b.data, b.len, &LIM, RF_EFORMAT, "wrong_type", 1, "");
    buf_free(&b);
    assert_refusal("{\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[[]]}",
                   "wrong_type", 0, "");
}

static void test_refuse_missing_kind(void **state)
{
    (void)state;
    static const struct kv o[] = {{"kind", NULL}, {NULL, NULL}};
    assert_record_refusal(EV, o, "missing_field", "kind");
}

static void test_refuse_kind_not_string(void **state)
{
    (void)state;
    static const struct kv o[] = {{"kind", "1"}, {NULL, NULL}};
    assert_record_refusal(EV, o, "wrong_type", "kind");
}

static void test_refuse_unknown_kind(void **state)
{
    (void)state;
    static const struct kv o[] = {{"kind", "\"ras_events\""}, {NULL, NULL}};
    assert_record_refusal(EV, o, "unknown_kind", "kind");
    static const struct kv o2[] = {{"kind", "\"RAS_EVENT\""}, {NULL, NULL}};
    assert_record_refusal(EV, o2, "unknown_kind", "kind");
}

static void test_refuse_missing_time(void **state)
{
    (void)state;
    static const struct kv o[] = {{"time", NULL}, {NULL, NULL}};
    assert_record_refusal(EV, o, "missing_field", "time");
    static const struct kv o2[] = {{"time", "1795161662123"}, {NULL, NULL}};
    assert_record_refusal(EV, o2, "wrong_type", "time");
}

static void test_refuse_invalid_time(void **state)
{
    (void)state;
    const char *bad[] = {"\"2026-11-20\"", "\"2026-11-20T08:01:02\"", "\"yesterday\"",
                         "\"2026-02-30T00:00:00Z\"", "\"\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kv o[] = {{"time", bad[i]}, {NULL, NULL}};
        assert_record_refusal(IFM, o, "invalid_time", "time");
    }
}

static void test_refuse_event_id_string(void **state)
{
    (void)state;
    static const struct kv o[] = {{"event_id", "\"20227\""}, {NULL, NULL}};
    assert_record_refusal(EV, o, "wrong_type", "event_id");
}

static void test_refuse_event_id_fraction(void **state)
{
    (void)state;
    static const struct kv o[] = {{"event_id", "1.5"}, {NULL, NULL}};
    assert_record_refusal(EV, o, "wrong_type", "event_id");
    static const struct kv o2[] = {{"event_id", "0"}, {NULL, NULL}};
    assert_record_refusal(EV, o2, "invalid_value", "event_id");
    static const struct kv o3[] = {{"event_id", "65536"}, {NULL, NULL}};
    assert_record_refusal(EV, o3, "invalid_value", "event_id");
    static const struct kv o4[] = {{"event_id", NULL}, {NULL, NULL}};
    assert_record_refusal(EV, o4, "missing_field", "event_id");
    static const struct kv o5[] = {{"record_id", "-1"}, {NULL, NULL}};
    assert_record_refusal(EV, o5, "invalid_value", "record_id");
}

static void test_refuse_level_fatal(void **state)
{
    (void)state;
    static const struct kv o[] = {{"level", "\"fatal\""}, {NULL, NULL}};
    assert_record_refusal(EV, o, "invalid_value", "level");
}

static char *big_json_string(size_t n)
{
    char *s = malloc(n + 3);
    assert_non_null(s);
    s[0] = '"';
    memset(s + 1, 'm', n);
    s[n + 1] = '"';
    s[n + 2] = '\0';
    return s;
}

static void test_refuse_message_too_long(void **state)
{
    (void)state;
    char *big = big_json_string(10u << 20);
    struct kv o[] = {{"message", big}, {NULL, NULL}};
    assert_record_refusal(EV, o, "field_too_long", "message");
    free(big);
    /* the limit itself is accepted, one more byte is not */
    big = big_json_string(RF_MAX_MESSAGE_LEN);
    o[0].v = big;
    struct buf body;
    one_record_batch(&body, EV, o);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_int_equal(strlen(b.records[0].u.ev.message), RF_MAX_MESSAGE_LEN);
    rf_batch_free(&b);
    buf_free(&body);
    free(big);
    big = big_json_string(RF_MAX_MESSAGE_LEN + 1);
    o[0].v = big;
    assert_record_refusal(EV, o, "field_too_long", "message");
    free(big);
}

static void test_refuse_user_too_long(void **state)
{
    (void)state;
    char *big = big_json_string(10u << 20);
    struct kv o[] = {{"user", big}, {NULL, NULL}};
    assert_record_refusal(EV, o, "field_too_long", "user");
    free(big);
    big = big_json_string(RF_MAX_NAME_LEN + 1);
    o[0].v = big;
    assert_record_refusal(EV, o, "field_too_long", "user");
    free(big);
    static const struct kv empty[] = {{"user", "\"\""}, {NULL, NULL}};
    assert_record_refusal(EV, empty, "invalid_value", "user");
}

static void test_refuse_error_code_range(void **state)
{
    (void)state;
    static const struct kv o[] = {{"error_code", "4294967296"}, {NULL, NULL}};
    assert_record_refusal(EV, o, "invalid_value", "error_code");
    static const struct kv o2[] = {{"error_code", "-2147483649"}, {NULL, NULL}};
    assert_record_refusal(EV, o2, "invalid_value", "error_code");
    static const struct kv o3[] = {{"error_code", "1e20"}, {NULL, NULL}};
    assert_record_refusal(EV, o3, "invalid_value", "error_code");
    static const struct kv o4[] = {{"error_code", "\"0x80092001\""}, {NULL, NULL}};
    assert_record_refusal(EV, o4, "wrong_type", "error_code");
    static const struct kv o5[] = {{"reason_code", "8589934592"}, {NULL, NULL}};
    assert_record_refusal(EV, o5, "invalid_value", "reason_code");
}

static void test_refuse_family_ipx(void **state)
{
    (void)state;
    static const struct kv o[] = {{"family", "\"ipx\""}, {NULL, NULL}};
    assert_record_refusal(IFM, o, "invalid_value", "family");
}

static void test_refuse_if_type_unknown(void **state)
{
    (void)state;
    static const struct kv o[] = {{"if_type", "\"token_ring\""}, {NULL, NULL}};
    assert_record_refusal(IFM, o, "invalid_value", "if_type");
    static const struct kv o2[] = {{"if_type", "6"}, {NULL, NULL}};
    assert_record_refusal(IFM, o2, "wrong_type", "if_type");
}

static void test_refuse_automatic_as_number(void **state)
{
    (void)state;
    static const struct kv o[] = {{"automatic", "1"}, {NULL, NULL}};
    assert_record_refusal(IFM, o, "wrong_type", "automatic");
    static const struct kv o2[] = {{"connected", "\"true\""}, {NULL, NULL}};
    assert_record_refusal(IFM, o2, "wrong_type", "connected");
    static const struct kv o3[] = {{"automatic", NULL}, {NULL, NULL}};
    assert_record_refusal(IFM, o3, "missing_field", "automatic");
    static const struct kv o4[] = {{"metric", "-1"}, {NULL, NULL}};
    assert_record_refusal(IFM, o4, "invalid_value", "metric");
}

static void test_refuse_pbk_setting_number(void **state)
{
    (void)state;
    static const struct kv o[] = {{"settings", "{\"VpnStrategy\":14}"}, {NULL, NULL}};
    assert_record_refusal(PBK, o, "wrong_type", "settings");
    static const struct kv o2[] = {{"settings", "[\"a\"]"}, {NULL, NULL}};
    assert_record_refusal(PBK, o2, "wrong_type", "settings");
    static const struct kv o3[] = {{"settings", NULL}, {NULL, NULL}};
    assert_record_refusal(PBK, o3, "missing_field", "settings");
    static const struct kv o4[] = {{"settings", "{\"\":\"x\"}"}, {NULL, NULL}};
    assert_record_refusal(PBK, o4, "invalid_value", "settings");
    static const struct kv o5[] = {{"scope", "\"machine\""}, {NULL, NULL}};
    assert_record_refusal(PBK, o5, "invalid_value", "scope");
}

static void test_refuse_ipsec_missing_dh_group(void **state)
{
    (void)state;
    static const struct kv o[] = {
        {"ipsec", "{\"cipher_transform\":\"AES128\",\"auth_transform\":\"SHA256128\","
                  "\"encryption_method\":\"AES128\",\"integrity_check_method\":\"SHA256\","
                  "\"pfs_group\":\"PFS2048\"}"},
        {NULL, NULL}};
    assert_record_refusal(POL, o, "missing_field", "ipsec.dh_group");
    static const struct kv o2[] = {
        {"ipsec", "{\"cipher_transform\":1,\"auth_transform\":\"SHA256128\","
                  "\"encryption_method\":\"AES128\",\"integrity_check_method\":\"SHA256\","
                  "\"dh_group\":\"Group14\",\"pfs_group\":\"PFS2048\"}"},
        {NULL, NULL}};
    assert_record_refusal(POL, o2, "wrong_type", "ipsec.cipher_transform");
    static const struct kv o3[] = {{"ipsec", "\"AES\""}, {NULL, NULL}};
    assert_record_refusal(POL, o3, "wrong_type", "ipsec");
    static const struct kv o4[] = {{"tunnel_type", "\"WireGuard\""}, {NULL, NULL}};
    assert_record_refusal(POL, o4, "invalid_value", "tunnel_type");
    static const struct kv o5[] = {{"device_tunnel", "0"}, {NULL, NULL}};
    assert_record_refusal(POL, o5, "wrong_type", "device_tunnel");
}

static void test_refuse_too_many_records(void **state)
{
    (void)state;
    struct buf b;
    batch_open(&b);
    for (int i = 0; i < 4; i++) {
        if (i)
            buf_append_char(&b, ',');
        build_record(&b, IFM, NULL);
    }
    batch_close(&b);
    struct batch_limits l3 = {.max_records = 3}, l4 = {.max_records = 4};
    assert_refusal_lim(b.data, b.len, &l3, RF_ETOOBIG, "too_many_records", -1, "records");
    struct rf_batch out;
    struct batch_error err;
    assert_int_equal(decode_n(b.data, b.len, &l4, &out, &err), RF_OK);
    assert_int_equal(out.n_records, 4);
    rf_batch_free(&out);
    buf_free(&b);
}

static void test_refuse_schema_2(void **state)
{
    (void)state;
    assert_refusal(
        "{\"schema\":2,\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
        "unsupported_schema", -1, "schema");
    assert_refusal(
        "{\"schema\":\"1\",\"batch_id\":\"x\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}",
        "unsupported_schema", -1, "schema");
}

static void test_refuse_error_in_later_record(void **state)
{
    (void)state;
    static const struct kv bad[] = {{"level", "\"fatal\""}, {NULL, NULL}};
    struct buf b;
    batch_open(&b);
    build_record(&b, IFM, NULL);
    buf_append_char(&b, ',');
    build_record(&b, PBK, NULL);
    buf_append_char(&b, ',');
    build_record(&b, POL, NULL);
    buf_append_char(&b, ',');
    build_record(&b, EV, bad);
    buf_append_char(&b, ',');
    build_record(&b, EV, NULL);
    batch_close(&b);
    assert_refusal_lim(b.data, b.len, &LIM, RF_EFORMAT, "invalid_value", 3, "level");
    buf_free(&b);
}

/* ---- NDJSON ---- */

static const struct rf_agent_info ND_AGENT = {.device_id = "dev-1", .hostname = "LT-1"};

static void nd_lines(struct buf *b, int n, int bad_line, const char *bad_text)
{
    buf_init(b);
    for (int i = 1; i <= n; i++) {
        if (i == bad_line)
            buf_append_str(b, bad_text);
        else
            build_record(b, IFM, NULL);
        buf_append_char(b, '\n');
    }
}

static void test_ndjson_bad_line_3(void **state)
{
    (void)state;
    struct buf b;
    nd_lines(&b, 5, 3, "{\"kind\": \"iface_metric\", oops}");
    struct rf_batch out;
    struct batch_error err;
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "malformed_json");
    assert_int_equal(err.record_index, 2);
    assert_string_equal(err.field, "");
    assert_non_null(strstr(err.message, "line 3"));
    rf_batch_free(&out);
    buf_free(&b);
    /* a schema violation on line 3 names the record and the field */
    struct buf rec = BUF_INIT;
    static const struct kv o[] = {{"family", "\"ipx\""}, {NULL, NULL}};
    build_record(&rec, IFM, o);
    nd_lines(&b, 5, 3, rec.data);
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "invalid_value");
    assert_int_equal(err.record_index, 2);
    assert_string_equal(err.field, "family");
    rf_batch_free(&out);
    buf_free(&b);
    buf_free(&rec);
}

static void test_ndjson_blank_lines_skipped(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "\n\n");
    build_record(&b, EV, NULL);
    buf_append_str(&b, "\r\n   \n\t\r\n");
    build_record(&b, IFM, NULL);
    buf_append_str(&b, "  \r\n\n");
    build_record(&b, POL, NULL); /* last line without newline */
    struct rf_batch out;
    struct batch_error err;
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err), RF_OK);
    assert_int_equal(out.n_records, 3);
    assert_int_equal(out.records[0].kind, RF_KIND_RAS_EVENT);
    assert_int_equal(out.records[1].kind, RF_KIND_IFACE_METRIC);
    assert_int_equal(out.records[2].kind, RF_KIND_VPN_POLICY);
    assert_string_equal(out.batch_id, "batch-1");
    assert_string_equal(out.agent.device_id, "dev-1");
    assert_string_equal(out.agent.hostname, "LT-1");
    assert_null(out.agent.os_version);
    rf_batch_free(&out);
    /* a blank line before a bad record does not shift record_index */
    buf_reset(&b);
    build_record(&b, EV, NULL);
    buf_append_str(&b, "\n\n\n{bad}\n");
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "malformed_json");
    assert_int_equal(err.record_index, 1);
    assert_non_null(strstr(err.message, "line 4"));
    rf_batch_free(&out);
    /* only blank lines: an empty batch */
    assert_int_equal(decode_nd("\n \n\r\n", 5, &ND_AGENT, "batch-1", &LIM, &out, &err), RF_OK);
    assert_int_equal(out.n_records, 0);
    rf_batch_free(&out);
    buf_free(&b);
}

static void test_ndjson_too_many(void **state)
{
    (void)state;
    struct buf b;
    nd_lines(&b, 3, 0, NULL);
    struct batch_limits l2 = {.max_records = 2}, l3 = {.max_records = 3};
    struct rf_batch out;
    struct batch_error err;
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &l2, &out, &err),
                     RF_ETOOBIG);
    assert_string_equal(err.code, "too_many_records");
    assert_string_equal(err.field, "records");
    rf_batch_free(&out);
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &l3, &out, &err), RF_OK);
    assert_int_equal(out.n_records, 3);
    rf_batch_free(&out);
    buf_free(&b);
}

static void test_ndjson_header_ids(void **state)
{
    (void)state;
    struct buf b;
    nd_lines(&b, 1, 0, NULL);
    struct rf_batch out;
    struct batch_error err;
    struct rf_agent_info none = {0}, spaced = {.device_id = "dev 1"};
    assert_int_equal(decode_nd(b.data, b.len, &none, "batch-1", &LIM, &out, &err), RF_EFORMAT);
    assert_string_equal(err.code, "missing_field");
    assert_string_equal(err.field, RF_HDR_DEVICE);
    assert_int_equal(err.record_index, -1);
    rf_batch_free(&out);
    assert_int_equal(decode_nd(b.data, b.len, &spaced, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "invalid_value");
    assert_string_equal(err.field, RF_HDR_DEVICE);
    rf_batch_free(&out);
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, NULL, &LIM, &out, &err), RF_EFORMAT);
    assert_string_equal(err.code, "missing_field");
    assert_string_equal(err.field, RF_HDR_BATCH);
    rf_batch_free(&out);
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "b\t1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "invalid_value");
    assert_string_equal(err.field, RF_HDR_BATCH);
    rf_batch_free(&out);
    buf_free(&b);
}

static void test_ndjson_line_not_object(void **state)
{
    (void)state;
    struct buf b;
    nd_lines(&b, 2, 2, "[1,2]");
    struct rf_batch out;
    struct batch_error err;
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "wrong_type");
    assert_int_equal(err.record_index, 1);
    rf_batch_free(&out);
    buf_free(&b);
    /* two objects on one line */
    nd_lines(&b, 2, 1, "{\"kind\":\"x\"} {\"kind\":\"y\"}");
    assert_int_equal(decode_nd(b.data, b.len, &ND_AGENT, "batch-1", &LIM, &out, &err),
                     RF_EFORMAT);
    assert_string_equal(err.code, "malformed_json");
    assert_int_equal(err.record_index, 0);
    rf_batch_free(&out);
    buf_free(&b);
}

/*
 * Bug: batch_decode_ndjson() validates only the device and batch ids it gets
 * from the X-Rasfleet-* headers. hostname, os_version and agent_version are
 * copied unchecked, so an NDJSON body stores values the JSON form refuses
 * (agent.hostname > RF_MAX_NAME_LEN or agent.os_version > 64 bytes give
 * field_too_long there). Expected: the same limits, reported on the header.
 */
static void regression_ndjson_header_agent_fields_unvalidated(void **state)
{
    (void)state;
    char longname[RF_MAX_NAME_LEN + 2];
    memset(longname, 'h', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    /* the JSON form refuses it */
    struct buf j = BUF_INIT;
    buf_printf(&j, "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\",\"hostname\":\"%s\"},"
                   "\"records\":[]}",
               longname);
    assert_refusal_lim(j.data, j.len, &LIM, RF_EFORMAT, "field_too_long", -1, "agent.hostname");
    buf_free(&j);
    /* the NDJSON form should too */
    struct buf b;
    nd_lines(&b, 1, 0, NULL);
    struct rf_agent_info agent = {.device_id = "d", .hostname = longname};
    struct rf_batch out;
    struct batch_error err;
    int rc = decode_nd(b.data, b.len, &agent, "b", &LIM, &out, &err);
    rf_batch_free(&out);
    buf_free(&b);
    assert_int_equal(rc, RF_EFORMAT);
    assert_string_equal(err.code, "field_too_long");
    assert_string_equal(err.field, RF_HDR_HOSTNAME);
}

/* ---- encoding ---- */

static void test_encode_exact(void **state)
{
    (void)state;
    struct buf body, enc = BUF_INIT;
    one_record_batch(&body, IFM, NULL);
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(decode_n(body.data, body.len, &LIM, &b, &err), RF_OK);
    assert_int_equal(record_encode_json(&b.records[0], &enc), RF_OK);
    assert_string_equal(enc.data,
                        "{\"kind\":\"iface_metric\",\"time\":\"2026-11-20T08:05:00.000Z\","
                        "\"alias\":\"Ethernet\",\"index\":12,\"family\":\"ipv4\",\"metric\":25,"
                        "\"automatic\":true,\"connected\":true,\"if_type\":\"ethernet\","
                        "\"mtu\":1500}");
    buf_reset(&enc);
    assert_int_equal(batch_encode_json(&b, &enc), RF_OK);
    assert_non_null(strstr(enc.data, "{\"schema\":1,\"batch_id\":\"batch-1\",\"agent\":{"
                                     "\"device_id\":\"dev-1\",\"hostname\":\"LT-1\"},"
                                     "\"records\":[{\"kind\":\"iface_metric\""));
    assert_int_equal(enc.data[enc.len - 1], '}');
    assert_int_equal(enc.data[enc.len - 2], ']');
    rf_batch_free(&b);
    buf_free(&body);
    buf_free(&enc);
}

static void round_trip(const char *body, size_t len)
{
    struct rf_batch a, b;
    struct batch_error err;
    struct buf enc = BUF_INIT;
    assert_int_equal(decode_n(body, len, &LIM, &a, &err), RF_OK);
    assert_int_equal(batch_encode_json(&a, &enc), RF_OK);
    if (decode_n(enc.data, enc.len, &LIM, &b, &err) != RF_OK)
        fail_msg("re-decode failed: %s %s: %s", err.code, err.field, err.message);
    assert_batches_equal(&a, &b);
    /* encoding is deterministic */
    struct buf enc2 = BUF_INIT;
    assert_int_equal(batch_encode_json(&b, &enc2), RF_OK);
    assert_int_equal(enc.len, enc2.len);
    assert_memory_equal(enc.data, enc2.data, enc.len);
    rf_batch_free(&a);
    rf_batch_free(&b);
    buf_free(&enc);
    buf_free(&enc2);
}

static void test_round_trip_fixture(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    round_trip(body, len);
    free(body);
}

static void test_round_trip_every_kind_edge_values(void **state)
{
    (void)state;
    static const struct kv ev[] = {
        {"time", "\"1969-07-20T20:17:40.5Z\""},
        {"level", "\"information\""},
        {"user", "\"O'Brien \\\"<admin>\\\" & co\\\\x \\u00e9\\u20ac\\ud83d\\ude00\""},
        {"error_code", "-2147483648"},
        {"reason_code", "0"},
        {"coid", "\"{ABC}\""},
        {"message", "\"line1\\nline2\\ttab\\u0001\""},
        {"record_id", "9007199254740991"},
        {"event_id", "65535"},
        {NULL, NULL}};
    static const struct kv ev2[] = {{"level", "\"warning\""}, {"error_code", NULL},
                                    {"coid", NULL},           {NULL, NULL}};
    static const struct kv ifm[] = {{"family", "\"ipv6\""}, {"if_type", "\"other\""},
                                    {"mtu", NULL},          {"automatic", "false"},
                                    {"index", "4294967295"}, {NULL, NULL}};
    static const struct kv ifm2[] = {{"if_type", "\"loopback\""}, {"mtu", "0"}, {NULL, NULL}};
    static const struct kv ifm3[] = {{"if_type", "\"cellular\""}, {NULL, NULL}};
    static const struct kv pbk[] = {{"settings", "{}"}, {"scope", "\"all_users\""}, {NULL, NULL}};
    static const struct kv pbk2[] = {
        {"settings", "{\"CustomAuthData\":\"3<1>&\\\"\",\"Empty\":\"\",\"b\":\"2\",\"a\":\"1\"}"},
        {NULL, NULL}};
    static const struct kv pol[] = {{"ipsec", NULL}, {"dns_suffix", "\"corp.example.net\""},
                                    {"tunnel_type", "\"L2tp\""}, {NULL, NULL}};
    static const struct kv pol2[] = {{"tunnel_type", "\"Pptp\""}, {"split_tunneling", "false"},
                                     {"device_tunnel", "true"}, {NULL, NULL}};
    struct buf b;
    batch_open(&b);
    build_record(&b, EV, ev);
    buf_append_char(&b, ',');
    build_record(&b, EV, ev2);
    buf_append_char(&b, ',');
    build_record(&b, IFM, ifm);
    buf_append_char(&b, ',');
    build_record(&b, IFM, ifm2);
    buf_append_char(&b, ',');
    build_record(&b, IFM, ifm3);
    buf_append_char(&b, ',');
    build_record(&b, PBK, pbk);
    buf_append_char(&b, ',');
    build_record(&b, PBK, pbk2);
    buf_append_char(&b, ',');
    build_record(&b, POL, pol);
    buf_append_char(&b, ',');
    build_record(&b, POL, pol2);
    batch_close(&b);
    /* check a few decoded values before the round trip */
    struct rf_batch d;
    struct batch_error err;
    if (decode_n(b.data, b.len, &LIM, &d, &err) != RF_OK)
        fail_msg("%s %s: %s", err.code, err.field, err.message);
    assert_int_equal(d.n_records, 9);
    assert_int_equal(d.records[0].time_ms, -14182940000LL + 500);
    assert_string_equal(d.records[0].u.ev.user,
                        "O'Brien \"<admin>\" & co\\x \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(d.records[0].u.ev.coid, "ABC");
    assert_string_equal(d.records[0].u.ev.message, "line1\nline2\ttab\x01");
    assert_int_equal(d.records[0].u.ev.record_id, 9007199254740991LL);
    assert_int_equal(d.records[0].u.ev.error_code, -2147483648LL);
    assert_int_equal(d.records[2].u.ifm.index, 4294967295LL);
    assert_int_equal(d.records[2].u.ifm.if_type, RF_IF_OTHER);
    assert_int_equal(d.records[3].u.ifm.if_type, RF_IF_LOOPBACK);
    assert_true(d.records[3].u.ifm.has_mtu);
    assert_int_equal(d.records[3].u.ifm.mtu, 0);
    assert_int_equal(d.records[4].u.ifm.if_type, RF_IF_CELLULAR);
    assert_int_equal(d.records[5].u.pbk.n_settings, 0);
    assert_int_equal(d.records[6].u.pbk.n_settings, 4);
    assert_string_equal(d.records[6].u.pbk.settings[0].value, "3<1>&\"");
    assert_string_equal(d.records[6].u.pbk.settings[1].value, "");
    assert_string_equal(d.records[6].u.pbk.settings[2].key, "b");
    assert_string_equal(d.records[6].u.pbk.settings[3].key, "a");
    assert_string_equal(d.records[7].u.pol.tunnel_type, "L2tp");
    assert_false(d.records[7].u.pol.has_ipsec);
    rf_batch_free(&d);
    round_trip(b.data, b.len);
    buf_free(&b);
}

/* ---- agent_status (api-v1 extension) ---- */

static void test_agent_status_every_field(void **state)
{
    (void)state;
    struct buf b;
    one_record_batch(&b, ST, NULL);
    struct rf_batch d;
    struct batch_error err;
    if (decode_n(b.data, b.len, &LIM, &d, &err) != RF_OK)
        fail_msg("%s %s: %s", err.code, err.field, err.message);
    assert_int_equal(d.n_records, 1);
    assert_int_equal(d.records[0].kind, RF_KIND_AGENT_STATUS);
    assert_int_equal(d.records[0].time_ms, T_0805);
    const struct rf_agent_status *s = &d.records[0].u.st;
    assert_string_equal(s->agent_version, "0.1.0");
    assert_int_equal(s->spool_bytes, 1048576);
    assert_int_equal(s->spool_batches, 3);
    assert_true(s->has_spool_limit);
    assert_int_equal(s->spool_limit_bytes, 67108864);
    assert_int_equal(s->dropped_batches_total, 2);
    assert_true(s->has_dropped_records);
    assert_int_equal(s->dropped_records_total, 1000);
    assert_true(s->has_rejected_batches);
    assert_int_equal(s->rejected_batches_total, 1);
    assert_true(s->has_last_success);
    assert_int_equal(s->last_success_ms, T_2026);
    assert_string_equal(s->last_error, "cannot reach https://collector:8443: Connection refused");
    assert_true(s->has_last_error_time);
    assert_int_equal(s->last_error_ms, 1795161840000LL);
    assert_true(s->has_source_errors);
    assert_int_equal(s->source_errors, 4);
    assert_string_equal(rf_kind_name(RF_KIND_AGENT_STATUS), "agent_status");
    assert_int_equal(rf_kind_from_name("agent_status"), RF_KIND_AGENT_STATUS);
    rf_batch_free(&d);
    round_trip(b.data, b.len);
    buf_free(&b);
}

static void test_agent_status_required_only(void **state)
{
    (void)state;
    static const struct kv ovr[] = {
        {"agent_version", NULL},       {"spool_limit_bytes", NULL}, {"dropped_records_total", NULL},
        {"rejected_batches_total", NULL}, {"last_success", "null"}, {"last_error", NULL},
        {"last_error_time", NULL},     {"source_errors", NULL},     {"spool_bytes", "0"},
        {"spool_batches", "0"},        {"dropped_batches_total", "9007199254740991"},
        {NULL, NULL}};
    struct buf b;
    one_record_batch(&b, ST, ovr);
    struct rf_batch d;
    struct batch_error err;
    if (decode_n(b.data, b.len, &LIM, &d, &err) != RF_OK)
        fail_msg("%s %s: %s", err.code, err.field, err.message);
    const struct rf_agent_status *s = &d.records[0].u.st;
    assert_null(s->agent_version);
    assert_int_equal(s->spool_bytes, 0);
    assert_false(s->has_spool_limit);
    assert_int_equal(s->dropped_batches_total, 9007199254740991LL);
    assert_false(s->has_dropped_records);
    assert_false(s->has_rejected_batches);
    assert_false(s->has_last_success);
    assert_null(s->last_error);
    assert_false(s->has_last_error_time);
    assert_false(s->has_source_errors);
    rf_batch_free(&d);
    round_trip(b.data, b.len);
    /* the encoder leaves the absent fields out */
    struct buf enc = BUF_INIT;
    assert_int_equal(decode_n(b.data, b.len, &LIM, &d, &err), RF_OK);
    assert_int_equal(record_encode_json(&d.records[0], &enc), RF_OK);
    assert_string_equal(enc.data, "{\"kind\":\"agent_status\",\"time\":\"2026-11-20T08:05:00.000Z\","
                                  "\"spool_bytes\":0,\"spool_batches\":0,"
                                  "\"dropped_batches_total\":9007199254740991}");
    rf_batch_free(&d);
    buf_free(&enc);
    buf_free(&b);
}

static void test_refuse_agent_status_fields(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value, *code, *named;
    } cases[] = {
        /* wrong types */
        {"spool_bytes", "\"1048576\"", "wrong_type", "spool_bytes"},
        {"spool_batches", "true", "wrong_type", "spool_batches"},
        {"dropped_batches_total", "2.5", "wrong_type", "dropped_batches_total"},
        {"dropped_records_total", "[1]", "wrong_type", "dropped_records_total"},
        {"rejected_batches_total", "{}", "wrong_type", "rejected_batches_total"},
        {"source_errors", "\"4\"", "wrong_type", "source_errors"},
        {"last_error", "42", "wrong_type", "last_error"},
        {"agent_version", "1", "wrong_type", "agent_version"},
        {"last_success", "1795161662123", "wrong_type", "last_success"},
        {"last_error_time", "false", "wrong_type", "last_error_time"},
        /* negative and out-of-range counts */
        {"spool_bytes", "-1", "invalid_value", "spool_bytes"},
        {"dropped_batches_total", "-3", "invalid_value", "dropped_batches_total"},
        {"dropped_records_total", "-1", "invalid_value", "dropped_records_total"},
        {"rejected_batches_total", "-1", "invalid_value", "rejected_batches_total"},
        {"spool_limit_bytes", "-1", "invalid_value", "spool_limit_bytes"},
        {"source_errors", "-2", "invalid_value", "source_errors"},
        {"spool_batches", "9007199254740992", "invalid_value", "spool_batches"},
        {"spool_bytes", "1e300", "invalid_value", "spool_bytes"},
        /* bad times */
        {"last_success", "\"yesterday\"", "invalid_time", "last_success"},
        {"last_success", "\"2026-13-01T00:00:00Z\"", "invalid_time", "last_success"},
        {"last_error_time", "\"2026-11-20 08:04:00\"", "invalid_time", "last_error_time"},
        {"time", "\"\"", "invalid_time", "time"},
        /* required fields */
        {"spool_bytes", NULL, "missing_field", "spool_bytes"},
        {"spool_batches", "null", "missing_field", "spool_batches"},
        {"dropped_batches_total", NULL, "missing_field", "dropped_batches_total"},
        {"time", NULL, "missing_field", "time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv ovr[] = {{cases[i].field, cases[i].value}, {NULL, NULL}};
        print_message("case %zu: %s = %s\n", i, cases[i].field,
                      cases[i].value ? cases[i].value : "(absent)");
        assert_record_refusal(ST, ovr, cases[i].code, cases[i].named);
    }
}

static void test_refuse_agent_status_huge_strings(void **state)
{
    (void)state;
    struct buf v = BUF_INIT;
    /* last_error: 1024 bytes pass, 1025 are refused */
    assert_int_equal(buf_append_char(&v, '"'), RF_OK);
    for (int i = 0; i < RF_MAX_AGENT_ERROR_LEN; i++)
        assert_int_equal(buf_append_char(&v, 'e'), RF_OK);
    assert_int_equal(buf_append_char(&v, '"'), RF_OK);
    struct kv ok[] = {{"last_error", v.data}, {NULL, NULL}};
    struct buf b;
    one_record_batch(&b, ST, ok);
    struct rf_batch d;
    struct batch_error err;
    assert_int_equal(decode_n(b.data, b.len, &LIM, &d, &err), RF_OK);
    assert_int_equal(strlen(d.records[0].u.st.last_error), RF_MAX_AGENT_ERROR_LEN);
    rf_batch_free(&d);
    buf_free(&b);
    v.data[v.len - 1] = 'e';
    assert_int_equal(buf_append_char(&v, '"'), RF_OK);
    struct kv over[] = {{"last_error", v.data}, {NULL, NULL}};
    assert_record_refusal(ST, over, "field_too_long", "last_error");
    /* an escaped multi-byte character counts in UTF-8 bytes: 342 x 3 > 1024 */
    buf_reset(&v);
    assert_int_equal(buf_append_char(&v, '"'), RF_OK);
    for (int i = 0; i < 342; i++)
        assert_int_equal(buf_append_str(&v, "\\u20ac"), RF_OK);
    assert_int_equal(buf_append_char(&v, '"'), RF_OK);
    struct kv euro[] = {{"last_error", v.data}, {NULL, NULL}};
    assert_record_refusal(ST, euro, "field_too_long", "last_error");
    /* agent_version is bounded like the batch's agent object */
    struct kv ver[] = {{"agent_version", "\"0.1.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
                       {NULL, NULL}};
    assert_record_refusal(ST, ver, "field_too_long", "agent_version");
    buf_free(&v);
}

static void test_agent_status_beside_other_kinds(void **state)
{
    (void)state;
    /* one more record in a batch: it may stand anywhere, and an error in it names its index */
    static const struct kv bad[] = {{"dropped_batches_total", "-1"}, {NULL, NULL}};
    struct buf b;
    batch_open(&b);
    build_record(&b, EV, NULL);
    buf_append_char(&b, ',');
    build_record(&b, ST, NULL);
    buf_append_char(&b, ',');
    build_record(&b, IFM, NULL);
    batch_close(&b);
    struct rf_batch d;
    struct batch_error err;
    assert_int_equal(decode_n(b.data, b.len, &LIM, &d, &err), RF_OK);
    assert_int_equal(d.n_records, 3);
    assert_int_equal(d.records[1].kind, RF_KIND_AGENT_STATUS);
    assert_int_equal(d.records[2].kind, RF_KIND_IFACE_METRIC);
    rf_batch_free(&d);
    round_trip(b.data, b.len);
    buf_free(&b);
    batch_open(&b);
    build_record(&b, EV, NULL);
    buf_append_char(&b, ',');
    build_record(&b, ST, bad);
    batch_close(&b);
    assert_refusal_lim(b.data, b.len, &LIM, RF_EFORMAT, "invalid_value", 1,
                       "dropped_batches_total");
    buf_free(&b);
    /* unknown fields inside the kind are ignored, as for the others */
    static const struct kv extra[] = {{"future_counter", "{\"x\":1}"}, {NULL, NULL}};
    one_record_batch(&b, ST, extra);
    assert_int_equal(decode_n(b.data, b.len, &LIM, &d, &err), RF_OK);
    rf_batch_free(&d);
    buf_free(&b);
    /* and NDJSON carries it too */
    struct buf nd = BUF_INIT;
    build_record(&nd, ST, NULL);
    struct rf_agent_info agent = {.device_id = "dev-1"};
    assert_int_equal(decode_nd(nd.data, nd.len, &agent, "batch-1", &LIM, &d, &err), RF_OK);
    assert_int_equal(d.records[0].kind, RF_KIND_AGENT_STATUS);
    assert_int_equal(d.records[0].u.st.dropped_batches_total, 2);
    rf_batch_free(&d);
    buf_free(&nd);
}

static void test_encode_record_round_trip_as_ndjson(void **state)
{
    (void)state;
    /* record_encode_json lines make a valid NDJSON body for the same batch */
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    struct rf_batch a, b;
    struct batch_error err;
    assert_int_equal(decode_n(body, len, &LIM, &a, &err), RF_OK);
    struct buf nd = BUF_INIT;
    for (size_t i = 0; i < a.n_records; i++) {
        assert_int_equal(record_encode_json(&a.records[i], &nd), RF_OK);
        buf_append_char(&nd, '\n');
    }
    assert_int_equal(decode_nd(nd.data, nd.len, &a.agent, a.batch_id, &LIM, &b, &err), RF_OK);
    assert_batches_equal(&a, &b);
    rf_batch_free(&a);
    rf_batch_free(&b);
    buf_free(&nd);
    free(body);
}

int main(void)
{
    json_scratch_install(); /* as the collector: trees in the scratch region */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_json),
        cmocka_unit_test(test_fixture_ndjson),
        cmocka_unit_test(test_fixture_limit_exact),
        cmocka_unit_test(test_minimal_batch),
        cmocka_unit_test(test_unsigned_code_normalised),
        cmocka_unit_test(test_code_range_edges),
        cmocka_unit_test(test_normalize_code),
        cmocka_unit_test(test_coid_braces_stripped),
        cmocka_unit_test(test_enums_case_insensitive_canonical),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_schema_absent_or_one),
        cmocka_unit_test(test_refuse_malformed_json),
        cmocka_unit_test(test_refuse_trailing_garbage),
        cmocka_unit_test(test_refuse_body_not_object),
        cmocka_unit_test(test_refuse_missing_batch_id),
        cmocka_unit_test(test_refuse_missing_agent),
        cmocka_unit_test(test_refuse_missing_device_id),
        cmocka_unit_test(test_refuse_device_id_with_space),
        cmocka_unit_test(test_refuse_id_too_long),
        cmocka_unit_test(test_refuse_missing_records),
        cmocka_unit_test(test_refuse_records_not_array),
        cmocka_unit_test(test_refuse_record_not_object),
        cmocka_unit_test(test_refuse_missing_kind),
        cmocka_unit_test(test_refuse_kind_not_string),
        cmocka_unit_test(test_refuse_unknown_kind),
        cmocka_unit_test(test_refuse_missing_time),
        cmocka_unit_test(test_refuse_invalid_time),
        cmocka_unit_test(test_refuse_event_id_string),
        cmocka_unit_test(test_refuse_event_id_fraction),
        cmocka_unit_test(test_refuse_level_fatal),
        cmocka_unit_test(test_refuse_message_too_long),
        cmocka_unit_test(test_refuse_user_too_long),
        cmocka_unit_test(test_refuse_error_code_range),
        cmocka_unit_test(test_refuse_family_ipx),
        cmocka_unit_test(test_refuse_if_type_unknown),
        cmocka_unit_test(test_refuse_automatic_as_number),
        cmocka_unit_test(test_refuse_pbk_setting_number),
        cmocka_unit_test(test_refuse_ipsec_missing_dh_group),
        cmocka_unit_test(test_refuse_too_many_records),
        cmocka_unit_test(test_refuse_schema_2),
        cmocka_unit_test(test_refuse_error_in_later_record),
        cmocka_unit_test(test_ndjson_bad_line_3),
        cmocka_unit_test(test_ndjson_blank_lines_skipped),
        cmocka_unit_test(test_ndjson_too_many),
        cmocka_unit_test(test_ndjson_header_ids),
        cmocka_unit_test(test_ndjson_line_not_object),
        cmocka_unit_test(regression_ndjson_header_agent_fields_unvalidated),
        cmocka_unit_test(test_encode_exact),
        cmocka_unit_test(test_round_trip_fixture),
        cmocka_unit_test(test_round_trip_every_kind_edge_values),
        cmocka_unit_test(test_encode_record_round_trip_as_ndjson),
        cmocka_unit_test(test_agent_status_every_field),
        cmocka_unit_test(test_agent_status_required_only),
        cmocka_unit_test(test_refuse_agent_status_fields),
        cmocka_unit_test(test_refuse_agent_status_huge_strings),
        cmocka_unit_test(test_agent_status_beside_other_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
