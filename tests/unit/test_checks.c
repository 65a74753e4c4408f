/*
 * test_checks.c - unit tests for server/checks.c, the device checks and the
 * rule table: each device rule firing and not firing on the samples of the
 * research notes (tests/fixtures: netip/netipinterface-ps51.json as
 * rf_iface_metric arrays, the pbk entries of section 8.3, the policies of
 * vpnconnection/vpnconnection-array.json), the evidence parsed back with
 * cJSON, escaping of client strings, the rule table invariants, the
 * remediation JSON, and agreement with docs/rules.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "checks.h"
#include "netip_json.h"
#include "pbk_parse.h"
#include "vpnconn_json.h"
#include "rasfleet/arena.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- collecting findings ---- */

#define MAX_FINDINGS 64

struct finding {
    const struct check_rule *rule;
    char *connection; /* NULL when device-wide */
    char *raw;
    cJSON *ev;
};

struct findings {
    size_t n;
    struct finding items[MAX_FINDINGS];
};

static const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v))
        fail_msg("field '%s' missing or not a string", key);
    return v->valuestring;
}

static double jnum(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        fail_msg("field '%s' missing or not a number", key);
    return v->valuedouble;
}

static bool jbool(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(v))
        fail_msg("field '%s' missing or not a bool", key);
    return cJSON_IsTrue(v);
}

static const cJSON *jget(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        fail_msg("field '%s' missing", key);
    return v;
}

/* Fails when an object anywhere in j repeats a key (cJSON keeps both). */
static void assert_unique_keys(const cJSON *j)
{
    for (const cJSON *a = j ? j->child : NULL; a; a = a->next) {
        if (cJSON_IsObject(j))
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    fail_msg("duplicate key '%s' in evidence", a->string);
        assert_unique_keys(a);
    }
}

static void collect(void *arg, const struct check_rule *rule, const char *connection,
                    const char *evidence_json)
{
    struct findings *fs = arg;
    assert_non_null(rule);
    assert_non_null(evidence_json);
    assert_true(fs->n < MAX_FINDINGS);
    struct finding *f = &fs->items[fs->n++];
    f->rule = rule;
    f->connection = connection ? strdup(connection) : NULL;
    f->raw = strdup(evidence_json);
    f->ev = cJSON_Parse(evidence_json);
    if (!f->ev || !cJSON_IsObject(f->ev))
        fail_msg("evidence of %s is not a JSON object: %s", rule->id, evidence_json);
    assert_unique_keys(f->ev);
    /* every evidence object has a non-empty one-line reason */
    const char *reason = jstr(f->ev, "reason");
    assert_true(reason[0] != '\0');
    assert_null(strchr(reason, '\n'));
    assert_int_equal(checks_rule_scope(rule), CHECK_SCOPE_DEVICE);
}

static void findings_free(struct findings *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->items[i].connection);
        free(fs->items[i].raw);
        cJSON_Delete(fs->items[i].ev);
    }
    fs->n = 0;
}

static size_t count_rule(const struct findings *fs, const char *id)
{
    size_t n = 0;
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->items[i].rule->id, id) == 0)
            n++;
    return n;
}

/* The only finding of rule id; fails when there are zero or several. */
static const struct finding *only(const struct findings *fs, const char *id)
{
    const struct finding *hit = NULL;
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->items[i].rule->id, id) == 0) {
            if (hit)
                fail_msg("rule %s fired more than once", id);
            hit = &fs->items[i];
        }
    if (!hit)
        fail_msg("rule %s did not fire", id);
    return hit;
}

static void run(const struct check_device *dev, const struct ipsec_baseline *base,
                struct findings *fs)
{
    findings_free(fs);
    assert_int_equal(checks_run(dev, base, collect, fs), RF_OK);
}

static void print_findings(const struct findings *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        fprintf(stderr, "  %s [%s] %s\n", fs->items[i].rule->id,
                fs->items[i].connection ? fs->items[i].connection : "-", fs->items[i].raw);
}

static void assert_no_findings(const struct findings *fs)
{
    if (fs->n != 0) {
        print_findings(fs);
        fail_msg("expected no findings, got %zu", fs->n);
    }
}

/* ---- fixtures ---- */

/* tests/fixtures/netip/netipinterface-ps51.json, plus the loopback row of
 * the table in the domain notes (section 8.2). */
static const struct rf_iface_metric ps51_ifaces[] = {
    {"Always On VPN", 41, RF_FAMILY_IPV4, 25, true, true, RF_IF_VPN, true, 1400},
    {"Ethernet", 12, RF_FAMILY_IPV4, 25, true, true, RF_IF_ETHERNET, true, 1500},
    {"Ethernet", 12, RF_FAMILY_IPV6, 25, true, true, RF_IF_ETHERNET, true, 1500},
    {"Wi-Fi", 18, RF_FAMILY_IPV4, 50, true, false, RF_IF_WIFI, true, 1500},
    {"Loopback Pseudo-Interface 1", 1, RF_FAMILY_IPV4, 75, true, true, RF_IF_LOOPBACK, false, 0},
};
#define N_PS51 (sizeof ps51_ifaces / sizeof ps51_ifaces[0])

#define MAX_SETTINGS 40

struct pbk_fixture {
    struct rf_pbk_setting s[MAX_SETTINGS];
    struct rf_pbk_entry e;
};

static void pbk_set(struct pbk_fixture *f, const char *key, const char *value)
{
    for (size_t i = 0; i < f->e.n_settings; i++)
        if (strcmp(f->s[i].key, key) == 0) {
            if (value) {
                f->s[i].value = value;
            } else {
                memmove(&f->s[i], &f->s[i + 1], (f->e.n_settings - i - 1) * sizeof f->s[0]);
                f->e.n_settings--;
            }
            return;
        }
    if (!value)
        return;
    assert_true(f->e.n_settings < MAX_SETTINGS);
    f->s[f->e.n_settings].key = key;
    f->s[f->e.n_settings].value = value;
    f->e.n_settings++;
}

static void pbk_fill(struct pbk_fixture *f, enum rf_pbk_scope scope, const char *name,
                     const char *const kv[][2], size_t n)
{
    memset(f, 0, sizeof *f);
    f->e.scope = scope;
    f->e.connection = name;
    f->e.settings = f->s;
    for (size_t i = 0; i < n; i++)
        pbk_set(f, kv[i][0], kv[i][1]);
}

/* The normalized user tunnel pbk_entry of the domain notes, section 8.3. */
static void pbk_user(struct pbk_fixture *f)
{
    static const char *const kv[][2] = {
        {"Encoding", "1"},
        {"PBVersion", "8"},
        {"Type", "2"},
        {"VpnStrategy", "14"},
        {"UseRasCredentials", "0"},
        {"IpPrioritizeRemote", "0"},
        {"IpInterfaceMetric", "3"},
        {"Ipv6InterfaceMetric", "3"},
        {"IpDnsFlags", "0"},
        {"IpNBTFlags", "0"},
        {"DisableClassBasedDefaultRoute", "1"},
        {"DisableMobility", "0"},
        {"NetworkOutageTime", "0"},
        {"CacheCredentials", "1"},
        {"Disable_IKEv2_Fragmentation", "0"},
        {"AutoTiggerCapable", "1"},
        {"AlwaysOnCapable", "1"},
        {"DeviceTunnel", "0"},
        {"PrivateNetwork", "1"},
        {"PreferredDevice", "WAN Miniport (IKEv2)"},
        {"CustomAuthKey", "25"},
        {"PhoneNumber", "vpn.example.net"},
    };
    pbk_fill(f, RF_SCOPE_USER, "Always On VPN", kv, sizeof kv / sizeof kv[0]);
}

/* The normalized device tunnel pbk_entry of the domain notes, section 8.3. */
static void pbk_device(struct pbk_fixture *f)
{
    static const char *const kv[][2] = {
        {"VpnStrategy", "7"},       {"DeviceTunnel", "1"},
        {"UseRasCredentials", "0"}, {"IpPrioritizeRemote", "0"},
        {"IpInterfaceMetric", "4"}, {"Ipv6InterfaceMetric", "4"},
        {"IpDnsFlags", "1"},        {"DisableClassBasedDefaultRoute", "1"},
        {"DisableMobility", "0"},   {"NetworkOutageTime", "0"},
        {"AlwaysOnCapable", "1"},   {"PhoneNumber", "vpn.example.net"},
    };
    pbk_fill(f, RF_SCOPE_ALL_USERS, "Always On VPN Device Tunnel", kv, sizeof kv / sizeof kv[0]);
}

/* The IPsec sets of the domain notes, section 5.3. */
static const struct rf_ipsec_policy enhanced_set = {
    .cipher_transform = "GCMAES128",
    .auth_transform = "GCMAES128",
    .encryption_method = "GCMAES128",
    .integrity_check_method = "SHA256",
    .dh_group = "Group14",
    .pfs_group = "ECP256",
};
static const struct rf_ipsec_policy standard_set = {
    .cipher_transform = "AES128",
    .auth_transform = "SHA256128",
    .encryption_method = "AES128",
    .integrity_check_method = "SHA256",
    .dh_group = "Group14",
    .pfs_group = "PFS2048",
};

/* tests/fixtures/vpnconnection/vpnconnection-array.json as vpn_policy records. */
enum { POL_USER = 0, POL_DEVICE, POL_LEGACY, N_POLICIES };

static void policies_fill(struct rf_vpn_policy p[N_POLICIES])
{
    memset(p, 0, N_POLICIES * sizeof p[0]);
    p[POL_USER] = (struct rf_vpn_policy){
        .connection = "Always On VPN",
        .server = "vpn.example.net",
        .tunnel_type = "Ikev2",
        .auth_method = "Eap",
        .split_tunneling = true,
        .device_tunnel = false,
        .dns_suffix = "corp.example.net",
        .has_ipsec = true,
        .ipsec = enhanced_set,
    };
    p[POL_DEVICE] = (struct rf_vpn_policy){
        .connection = "Always On VPN Device Tunnel",
        .server = "vpn.example.net",
        .tunnel_type = "Ikev2",
        .auth_method = "MachineCertificate",
        .split_tunneling = true,
        .device_tunnel = true,
        .dns_suffix = "corp.example.net",
        .has_ipsec = true,
        .ipsec = standard_set,
    };
    p[POL_LEGACY] = (struct rf_vpn_policy){
        .connection = "Legacy VPN",
        .server = "vpn2.example.net",
        .tunnel_type = "Automatic",
        .auth_method = "Eap",
        .split_tunneling = false,
        .device_tunnel = false,
        .dns_suffix = "corp.example.net",
        .has_ipsec = false,
    };
}

static struct check_device ifaces_only(const struct rf_iface_metric *ifs, size_t n)
{
    struct check_device d = {0};
    d.ifaces = ifs;
    d.n_ifaces = n;
    return d;
}

static struct check_device pbk_only(const struct rf_pbk_entry *e, size_t n)
{
    struct check_device d = {0};
    d.pbk = e;
    d.n_pbk = n;
    return d;
}

static struct check_device policies_only(const struct rf_vpn_policy *p, size_t n)
{
    struct check_device d = {0};
    d.policies = p;
    d.n_policies = n;
    return d;
}

/* ---- no data, healthy device ---- */

static void test_no_data_no_findings(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct check_device empty = {0};
    struct ipsec_baseline base = {
        .configured = true, .server_custom = true, .policy = standard_set};
    run(&empty, NULL, &fs);
    assert_no_findings(&fs);
    run(&empty, &base, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct check_device bad = {0};
    bad.n_ifaces = 1; /* count without an array */
    assert_int_equal(checks_run(&bad, NULL, collect, &fs), RF_EINVAL);
    assert_int_equal(checks_run(NULL, NULL, collect, &fs), RF_EINVAL);
    struct check_device empty = {0};
    assert_int_equal(checks_run(&empty, NULL, NULL, &fs), RF_EINVAL);
    assert_int_equal(fs.n, 0);
}

/* The whole sample device of the notes with the VPN metric pinned at 3 and a
 * baseline equal to the device tunnel's policy, minus the legacy profile:
 * nothing to report except the user tunnel's enhanced set. */
static void test_healthy_sample_device(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_iface_metric ifs[N_PS51];
    memcpy(ifs, ps51_ifaces, sizeof ifs);
    ifs[0].metric = 3;
    struct pbk_fixture u, dt;
    pbk_user(&u);
    pbk_device(&dt);
    struct rf_pbk_entry pbk[2] = {u.e, dt.e};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    struct check_device d = {ifs, N_PS51, pbk, 2, pol, 2, NULL}; /* user + device policies */
    run(&d, NULL, &fs);
    assert_no_findings(&fs);

    struct ipsec_baseline base = {
        .configured = true, .server_custom = true, .policy = standard_set};
    run(&d, &base, &fs);
    assert_int_equal(fs.n, 1);
    assert_string_equal(only(&fs, "ipsec-mismatch")->connection, "Always On VPN");
    findings_free(&fs);
}

/* ---- metric-order ---- */

static void test_metric_order_ps51_tie_fires_ipv4(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct check_device d = ifaces_only(ps51_ifaces, N_PS51);
    run(&d, NULL, &fs);
    assert_int_equal(fs.n, 1);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(f->connection, "Always On VPN");
    assert_int_equal(f->rule->severity, SEV_HIGH);
    assert_string_equal(jstr(f->ev, "reason"), "ipv4 vpn 25 >= Ethernet 25");
    assert_string_equal(jstr(f->ev, "family"), "ipv4");
    assert_string_equal(jstr(f->ev, "tunnel"), "user");
    assert_int_equal(jnum(f->ev, "recommended_metric"), 3);
    const cJSON *vpn = jget(f->ev, "vpn");
    assert_string_equal(jstr(vpn, "alias"), "Always On VPN");
    assert_int_equal(jnum(vpn, "index"), 41);
    assert_int_equal(jnum(vpn, "metric"), 25);
    assert_true(jbool(vpn, "automatic"));
    const cJSON *phys = jget(f->ev, "physical");
    assert_true(cJSON_IsArray(phys));
    assert_int_equal(cJSON_GetArraySize(phys), 1); /* not the disconnected Wi-Fi, not loopback */
    const cJSON *eth = cJSON_GetArrayItem(phys, 0);
    assert_string_equal(jstr(eth, "alias"), "Ethernet");
    assert_string_equal(jstr(eth, "if_type"), "ethernet");
    assert_int_equal(jnum(eth, "index"), 12);
    assert_int_equal(jnum(eth, "metric"), 25);
    findings_free(&fs);
}

static void test_metric_order_vpn_3_is_fine(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_iface_metric ifs[N_PS51];
    memcpy(ifs, ps51_ifaces, sizeof ifs);
    ifs[0].metric = 3;
    ifs[0].automatic = false;
    struct check_device d = ifaces_only(ifs, N_PS51);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_metric_order_ignores_disconnected_loopback_other(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_iface_metric ifs[N_PS51 + 1];
    memcpy(ifs, ps51_ifaces, sizeof ps51_ifaces);
    ifs[0].metric = 10;
    ifs[3].metric = 5; /* disconnected Wi-Fi below the VPN: ignored */
    ifs[4].metric = 1; /* loopback below the VPN: ignored */
    ifs[N_PS51] = (struct rf_iface_metric){
        "vEthernet (WSL)", 60, RF_FAMILY_IPV4, 2, false, true, RF_IF_OTHER, true, 1500};
    struct check_device d = ifaces_only(ifs, N_PS51 + 1);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);

    /* the same Wi-Fi connected counts */
    ifs[3].connected = true;
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(jstr(f->ev, "reason"), "ipv4 vpn 10 >= Wi-Fi 5");
    const cJSON *phys = jget(f->ev, "physical");
    assert_int_equal(cJSON_GetArraySize(phys), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(phys, 0), "if_type"), "wifi");
    findings_free(&fs);
}

static void test_metric_order_disconnected_vpn_ignored(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_iface_metric ifs[N_PS51];
    memcpy(ifs, ps51_ifaces, sizeof ifs);
    ifs[0].connected = false;
    struct check_device d = ifaces_only(ifs, N_PS51);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_metric_order_families_judged_separately(void **state)
{
    (void)state;
    struct findings fs = {0};
    /* VPN ipv4 3 (fine), VPN ipv6 30 against Ethernet ipv6 25 (fires) */
    struct rf_iface_metric ifs[N_PS51 + 1];
    memcpy(ifs, ps51_ifaces, sizeof ps51_ifaces);
    ifs[0].metric = 3;
    ifs[N_PS51] = (struct rf_iface_metric){
        "Always On VPN", 41, RF_FAMILY_IPV6, 30, true, true, RF_IF_VPN, true, 1400};
    struct check_device d = ifaces_only(ifs, N_PS51 + 1);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(jstr(f->ev, "family"), "ipv6");
    assert_string_equal(jstr(f->ev, "reason"), "ipv6 vpn 30 >= Ethernet 25");

    /* ipv6 VPN at 3 and ipv4 VPN at 25: only ipv4 fires, the ipv6 Ethernet
     * (25) does not count against the ipv4 VPN and the reverse */
    ifs[0].metric = 25;
    ifs[1].metric = 50; /* ipv4 Ethernet above the VPN now */
    ifs[N_PS51].metric = 3;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    ifs[1].metric = 25;
    run(&d, NULL, &fs);
    f = only(&fs, "metric-order");
    assert_string_equal(jstr(f->ev, "family"), "ipv4");

    /* both families wrong: two findings, ipv4 first */
    ifs[N_PS51].metric = 25;
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "metric-order"), 2);
    assert_string_equal(jstr(fs.items[0].ev, "family"), "ipv4");
    assert_string_equal(jstr(fs.items[1].ev, "family"), "ipv6");
    findings_free(&fs);
}

static void test_metric_order_lists_every_physical_at_or_below(void **state)
{
    (void)state;
    struct findings fs = {0};
    const struct rf_iface_metric ifs[] = {
        {"Always On VPN Device Tunnel", 44, RF_FAMILY_IPV4, 35, true, true, RF_IF_VPN, true, 1400},
        {"Ethernet", 12, RF_FAMILY_IPV4, 25, true, true, RF_IF_ETHERNET, true, 1500},
        {"Wi-Fi", 18, RF_FAMILY_IPV4, 35, true, true, RF_IF_WIFI, true, 1500},
        {"Cellular", 20, RF_FAMILY_IPV4, 40, true, true, RF_IF_CELLULAR, true, 1500},
    };
    struct pbk_fixture dt;
    pbk_device(&dt);
    struct check_device d = {ifs, 4, &dt.e, 1, NULL, 0, NULL};
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(f->connection, "Always On VPN Device Tunnel");
    /* the lowest physical interface is named in the reason */
    assert_string_equal(jstr(f->ev, "reason"), "ipv4 vpn 35 >= Ethernet 25");
    assert_string_equal(jstr(f->ev, "tunnel"), "device");
    assert_int_equal(jnum(f->ev, "recommended_metric"), 4);
    const cJSON *phys = jget(f->ev, "physical");
    assert_int_equal(cJSON_GetArraySize(phys), 2); /* Ethernet 25, Wi-Fi 35; not Cellular 40 */
    assert_string_equal(jstr(cJSON_GetArrayItem(phys, 0), "alias"), "Ethernet");
    assert_string_equal(jstr(cJSON_GetArrayItem(phys, 1), "alias"), "Wi-Fi");
    findings_free(&fs);
}

static void test_metric_order_escapes_client_strings(void **state)
{
    (void)state;
    struct findings fs = {0};
    const char *alias = "VPN \"corp\"\\ <b>\n\x01 \xc3\xa9t\xc3\xa9";
    const struct rf_iface_metric ifs[] = {
        {alias, 41, RF_FAMILY_IPV4, 25, true, true, RF_IF_VPN, true, 1400},
        {"Eth\"er\\net", 12, RF_FAMILY_IPV4, 5, true, true, RF_IF_ETHERNET, true, 1500},
    };
    struct check_device d = ifaces_only(ifs, 2);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(f->connection, alias);
    assert_string_equal(jstr(jget(f->ev, "vpn"), "alias"), alias);
    assert_string_equal(jstr(cJSON_GetArrayItem(jget(f->ev, "physical"), 0), "alias"),
                        "Eth\"er\\net");
    assert_string_equal(jstr(f->ev, "reason"), "ipv4 vpn 25 >= Eth\"er\\net 5");
    /* nothing raw that could close an HTML tag */
    assert_null(strchr(f->raw, '<'));
    assert_null(strchr(f->raw, '\n'));
    findings_free(&fs);
}

/* ---- pbk-metric ---- */

static void test_pbk_metric_user_3_device_4_fine(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u, dt;
    pbk_user(&u);
    pbk_device(&dt);
    struct rf_pbk_entry pbk[2] = {u.e, dt.e};
    struct check_device d = pbk_only(pbk, 2);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_pbk_metric_automatic_fires(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    pbk_set(&u, "IpInterfaceMetric", "0");
    struct check_device d = pbk_only(&u.e, 1);
    run(&d, NULL, &fs);
    assert_int_equal(fs.n, 1);
    const struct finding *f = only(&fs, "pbk-metric");
    assert_int_equal(f->rule->severity, SEV_MEDIUM);
    assert_string_equal(f->connection, "Always On VPN");
    assert_string_equal(jstr(f->ev, "reason"), "Always On VPN: IpInterfaceMetric=0, want 3");
    assert_string_equal(jstr(f->ev, "scope"), "user");
    assert_string_equal(jstr(f->ev, "tunnel"), "user");
    assert_int_equal(jnum(f->ev, "recommended_metric"), 3);
    const cJSON *settings = jget(f->ev, "settings");
    assert_string_equal(jstr(settings, "IpInterfaceMetric"), "0");
    assert_string_equal(jstr(settings, "Ipv6InterfaceMetric"), "3");
    const cJSON *problems = jget(f->ev, "problems");
    assert_int_equal(cJSON_GetArraySize(problems), 1);
    const cJSON *p = cJSON_GetArrayItem(problems, 0);
    assert_string_equal(jstr(p, "key"), "IpInterfaceMetric");
    assert_string_equal(jstr(p, "value"), "0");
    assert_string_equal(jstr(p, "state"), "automatic");
    findings_free(&fs);
}

static void test_pbk_metric_missing_invalid_different(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    pbk_set(&u, "IpInterfaceMetric", "x3");
    pbk_set(&u, "Ipv6InterfaceMetric", NULL);
    struct check_device d = pbk_only(&u.e, 1);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-metric");
    assert_string_equal(jstr(f->ev, "reason"),
                        "Always On VPN: IpInterfaceMetric=x3 Ipv6InterfaceMetric=(missing), "
                        "want 3");
    assert_true(cJSON_IsNull(jget(jget(f->ev, "settings"), "Ipv6InterfaceMetric")));
    const cJSON *problems = jget(f->ev, "problems");
    assert_int_equal(cJSON_GetArraySize(problems), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(problems, 0), "state"), "invalid");
    assert_string_equal(jstr(cJSON_GetArrayItem(problems, 1), "state"), "missing");
    assert_true(cJSON_IsNull(jget(cJSON_GetArrayItem(problems, 1), "value")));

    /* a user tunnel at 4 is not the recommended 3 */
    pbk_user(&u);
    pbk_set(&u, "Ipv6InterfaceMetric", "4");
    d = pbk_only(&u.e, 1);
    run(&d, NULL, &fs);
    f = only(&fs, "pbk-metric");
    assert_string_equal(jstr(cJSON_GetArrayItem(jget(f->ev, "problems"), 0), "state"), "different");
    findings_free(&fs);
}

static void test_pbk_metric_device_tunnel_wants_4(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture dt;
    pbk_device(&dt);
    pbk_set(&dt, "IpInterfaceMetric", "3");
    pbk_set(&dt, "Ipv6InterfaceMetric", "3");
    struct check_device d = pbk_only(&dt.e, 1);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-metric");
    assert_string_equal(f->connection, "Always On VPN Device Tunnel");
    assert_string_equal(jstr(f->ev, "tunnel"), "device");
    assert_string_equal(jstr(f->ev, "scope"), "all_users");
    assert_int_equal(jnum(f->ev, "recommended_metric"), 4);
    assert_int_equal(cJSON_GetArraySize(jget(f->ev, "problems")), 2);
    findings_free(&fs);
}

/* The real phonebook samples through the project's pbk parser. */
static void parse_pbk_fixture(const char *name, enum rf_pbk_scope scope, struct rf_arena *arena,
                              struct pbk_parse_result *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pbk/%s", RF_FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    static char raw[1 << 16];
    size_t len = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    assert_true(len > 0 && len < sizeof raw);
    assert_int_equal(pbk_parse_bytes(raw, len, scope, 0, arena, NULL, out), RF_OK);
}

static void test_pbk_fixture_files(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_arena arena;
    rf_arena_init(&arena);
    struct pbk_parse_result all = {0}, user = {0};
    parse_pbk_fixture("allusers-two-entries.pbk", RF_SCOPE_ALL_USERS, &arena, &all);
    parse_pbk_fixture("aovpn-user-utf8.pbk", RF_SCOPE_USER, &arena, &user);
    assert_int_equal(all.n_entries, 2);
    assert_int_equal(user.n_entries, 1);
    struct rf_pbk_entry pbk[3] = {user.entries[0].record.u.pbk, all.entries[0].record.u.pbk,
                                  all.entries[1].record.u.pbk};
    struct check_device d = pbk_only(pbk, 3);
    run(&d, NULL, &fs);
    /* only the legacy entry with automatic metrics (0) */
    assert_int_equal(fs.n, 1);
    const struct finding *f = only(&fs, "pbk-metric");
    assert_string_equal(f->connection, "Contoso Legacy VPN");
    assert_int_equal(cJSON_GetArraySize(jget(f->ev, "problems")), 2);
    findings_free(&fs);
    rf_arena_free(&arena);
}

/* The JSON fixtures through the project's parsers: the same verdicts as the
 * arrays built above. */
#define MAX_RECORDS 16

struct records {
    size_t n;
    struct rf_record r[MAX_RECORDS];
};

static int keep_record(void *ctx, const struct rf_record *rec)
{
    struct records *rs = ctx;
    assert_true(rs->n < MAX_RECORDS);
    rs->r[rs->n++] = *rec;
    return 0;
}

static size_t read_fixture(const char *rel, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RF_FIXTURES, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    size_t len = fread(buf, 1, cap, fp);
    fclose(fp);
    assert_true(len > 0 && len < cap);
    return len;
}

static void test_json_fixture_files(void **state)
{
    (void)state;
    static char raw[1 << 16];
    struct findings fs = {0};
    struct rf_arena arena;
    rf_arena_init(&arena);

    struct records ifr = {0};
    struct netip_options opt = {0};
    size_t len = read_fixture("netip/netipinterface-ps51.json", raw, sizeof raw);
    assert_int_equal(netip_json_parse(raw, len, &opt, &arena, keep_record, &ifr, NULL, NULL),
                     RF_OK);
    assert_int_equal(ifr.n, 4);
    struct rf_iface_metric ifs[MAX_RECORDS];
    for (size_t i = 0; i < ifr.n; i++)
        ifs[i] = ifr.r[i].u.ifm;
    struct check_device d = ifaces_only(ifs, ifr.n);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "metric-order");
    assert_string_equal(jstr(f->ev, "reason"), "ipv4 vpn 25 >= Ethernet 25");
    assert_int_equal(fs.n, 1);

    struct records pr = {0};
    len = read_fixture("vpnconnection/vpnconnection-array.json", raw, sizeof raw);
    assert_int_equal(vpnconn_json_parse(raw, len, 0, &arena, keep_record, &pr, NULL, NULL), RF_OK);
    assert_int_equal(pr.n, 3);
    struct rf_vpn_policy pol[MAX_RECORDS];
    for (size_t i = 0; i < pr.n; i++)
        pol[i] = pr.r[i].u.pol;
    d = policies_only(pol, pr.n);
    struct ipsec_baseline base = {
        .configured = true, .server_custom = true, .policy = standard_set};
    run(&d, &base, &fs);
    assert_int_equal(fs.n, 3);
    assert_string_equal(fs.items[0].rule->id, "ipsec-default");
    assert_string_equal(fs.items[0].connection, "Legacy VPN");
    assert_string_equal(fs.items[1].rule->id, "ipsec-mismatch");
    assert_string_equal(fs.items[1].connection, "Always On VPN");
    assert_int_equal(cJSON_GetArraySize(jget(fs.items[1].ev, "differing")), 4);
    assert_string_equal(fs.items[2].rule->id, "ipsec-mismatch");
    assert_string_equal(fs.items[2].connection, "Legacy VPN");
    findings_free(&fs);
    rf_arena_free(&arena);
}

/* ---- pbk-classroute, pbk-mobility, pbk-fragmentation, pbk-alwayson, pbk-vpnstrategy ---- */

static void test_pbk_classroute(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    struct check_device d = pbk_only(&u.e, 1);

    pbk_set(&u, "DisableClassBasedDefaultRoute", "0"); /* split + class route */
    d.pbk = &u.e;
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-classroute");
    assert_int_equal(f->rule->severity, SEV_LOW);
    assert_string_equal(jstr(f->ev, "routing"), "split");
    assert_string_equal(jstr(f->ev, "recommended"), "1");
    assert_string_equal(jstr(jget(f->ev, "settings"), "IpPrioritizeRemote"), "0");
    assert_string_equal(jstr(f->ev, "reason"), "split tunnel with DisableClassBasedDefaultRoute=0");

    pbk_set(&u, "IpPrioritizeRemote", "1"); /* force + class route: fine */
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-classroute"), 0);

    pbk_set(&u, "DisableClassBasedDefaultRoute", "1"); /* force + disabled: fires */
    run(&d, NULL, &fs);
    f = only(&fs, "pbk-classroute");
    assert_string_equal(jstr(f->ev, "routing"), "force");
    assert_string_equal(jstr(f->ev, "recommended"), "0");

    pbk_set(&u, "DisableClassBasedDefaultRoute", NULL); /* cannot judge */
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-classroute"), 0);
    findings_free(&fs);
}

static void test_pbk_mobility(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    struct check_device d = pbk_only(&u.e, 1);
    pbk_set(&u, "NetworkOutageTime", "1800");
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-mobility");
    assert_int_equal(f->rule->severity, SEV_INFO);
    assert_int_equal(jnum(f->ev, "outage_seconds"), 1800);
    assert_string_equal(jstr(jget(f->ev, "settings"), "DisableMobility"), "0");
    assert_string_equal(jstr(f->ev, "reason"), "DisableMobility=0 NetworkOutageTime=1800");

    pbk_set(&u, "DisableMobility", "1"); /* mobility off: the outage time is moot */
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-mobility"), 0);

    pbk_set(&u, "DisableMobility", "0");
    pbk_set(&u, "NetworkOutageTime", "0");
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-mobility"), 0);
    findings_free(&fs);
}

static void test_pbk_fragmentation(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    struct check_device d = pbk_only(&u.e, 1);
    pbk_set(&u, "Disable_IKEv2_Fragmentation", "1");
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-fragmentation");
    assert_int_equal(f->rule->severity, SEV_MEDIUM);
    assert_string_equal(jstr(jget(f->ev, "settings"), "VpnStrategy"), "14");
    assert_string_equal(jstr(f->ev, "recommended"), "0");

    pbk_set(&u, "VpnStrategy", "5"); /* SSTP only: IKEv2 never used */
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-fragmentation"), 0);

    pbk_set(&u, "VpnStrategy", "7");
    pbk_set(&u, "Disable_IKEv2_Fragmentation", "0");
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_pbk_alwayson(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u, dt;
    pbk_user(&u);
    struct check_device d = pbk_only(&u.e, 1);
    pbk_set(&u, "AutoTiggerCapable", "0");
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "pbk-alwayson");
    assert_string_equal(jstr(f->ev, "reason"), "AlwaysOnCapable=1 AutoTiggerCapable=0");
    assert_string_equal(jstr(jget(f->ev, "settings"), "AutoTiggerCapable"), "0");

    /* neither flag set on a user entry: not an Always On entry, no finding */
    pbk_set(&u, "AlwaysOnCapable", "0");
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "pbk-alwayson"), 0);

    /* a device tunnel is always an Always On entry */
    pbk_device(&dt);
    pbk_set(&dt, "AlwaysOnCapable", "0");
    d = pbk_only(&dt.e, 1);
    run(&d, NULL, &fs);
    f = only(&fs, "pbk-alwayson");
    assert_string_equal(jstr(f->ev, "tunnel"), "device");
    assert_true(cJSON_IsNull(jget(jget(f->ev, "settings"), "AutoTiggerCapable")));

    /* missing flags (older builds) are not judged */
    pbk_set(&dt, "AlwaysOnCapable", NULL);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_pbk_vpnstrategy(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u;
    pbk_user(&u);
    struct check_device d = pbk_only(&u.e, 1);
    static const char *const unknown[] = {"11", "10", "16", "-1", "abc", ""};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        pbk_set(&u, "VpnStrategy", unknown[i]);
        run(&d, NULL, &fs);
        const struct finding *f = only(&fs, "pbk-vpnstrategy");
        assert_string_equal(jstr(jget(f->ev, "settings"), "VpnStrategy"), unknown[i]);
    }
    static const char *const known[] = {"0", "5", "6", "7", "8", "9", "12", "13", "14", "15"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        pbk_set(&u, "VpnStrategy", known[i]);
        run(&d, NULL, &fs);
        assert_int_equal(count_rule(&fs, "pbk-vpnstrategy"), 0);
    }
    pbk_set(&u, "VpnStrategy", NULL);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

/* ---- registerdns-both ---- */

static void test_registerdns_both(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture u, dt;
    pbk_user(&u);
    pbk_device(&dt);
    struct rf_pbk_entry pbk[2];
    struct check_device d = pbk_only(pbk, 2);

    pbk[0] = u.e; /* IpDnsFlags=0 on the user tunnel, 1 on the device tunnel */
    pbk[1] = dt.e;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);

    pbk_set(&u, "IpDnsFlags", "3"); /* bit 0 set */
    pbk[0] = u.e;
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "registerdns-both");
    assert_int_equal(f->rule->severity, SEV_LOW);
    assert_string_equal(f->connection, "Always On VPN");
    assert_string_equal(jstr(f->ev, "reason"),
                        "IpDnsFlags=3 here and on device tunnel Always On VPN Device Tunnel");
    const cJSON *dts = jget(f->ev, "device_tunnels");
    assert_int_equal(cJSON_GetArraySize(dts), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(dts, 0), "connection"),
                        "Always On VPN Device Tunnel");
    assert_string_equal(jstr(cJSON_GetArrayItem(dts, 0), "IpDnsFlags"), "1");

    pbk_set(&u, "IpDnsFlags", "2"); /* bit 0 clear */
    pbk[0] = u.e;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);

    pbk_set(&u, "IpDnsFlags", "1"); /* user registers, device tunnel does not */
    pbk_set(&dt, "IpDnsFlags", "0");
    pbk[0] = u.e;
    pbk[1] = dt.e;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

/* ---- devtunnel-invariants ---- */

static void test_devtunnel_invariants_pbk(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct pbk_fixture dt;
    pbk_device(&dt);
    pbk_set(&dt, "VpnStrategy", "14");
    pbk_set(&dt, "IpPrioritizeRemote", "1");
    struct check_device d = pbk_only(&dt.e, 1);
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "devtunnel-invariants");
    assert_int_equal(f->rule->severity, SEV_HIGH);
    assert_string_equal(f->connection, "Always On VPN Device Tunnel");
    assert_string_equal(jstr(f->ev, "reason"),
                        "VpnStrategy=14 (want 7), IpPrioritizeRemote=1 (want 0)");
    const cJSON *v = jget(f->ev, "violations");
    assert_int_equal(cJSON_GetArraySize(v), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "source"), "pbk");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "field"), "VpnStrategy");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "value"), "14");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "expected"), "7");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 1), "field"), "IpPrioritizeRemote");

    /* a user tunnel with the same settings is not a device tunnel */
    pbk_set(&dt, "DeviceTunnel", "0");
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "devtunnel-invariants"), 0);
    findings_free(&fs);
}

static void test_devtunnel_invariants_policy_merged_with_pbk(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    struct check_device d = policies_only(pol, N_POLICIES);
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "devtunnel-invariants"), 0);

    pol[POL_DEVICE].tunnel_type = "Sstp";
    pol[POL_DEVICE].auth_method = "Eap";
    pol[POL_DEVICE].split_tunneling = false;
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "devtunnel-invariants");
    const cJSON *v = jget(f->ev, "violations");
    assert_int_equal(cJSON_GetArraySize(v), 3);
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "field"), "tunnel_type");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 1), "field"), "auth_method");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 1), "value"), "Eap");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 1), "expected"), "MachineCertificate");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 2), "field"), "split_tunneling");
    assert_false(jbool(cJSON_GetArrayItem(v, 2), "value"));

    /* auth_method is exactly MachineCertificate (any case); a joined list
     * with another method is a violation */
    pol[POL_DEVICE].tunnel_type = "Ikev2";
    pol[POL_DEVICE].split_tunneling = true;
    pol[POL_DEVICE].auth_method = "machinecertificate";
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "devtunnel-invariants"), 0);
    pol[POL_DEVICE].auth_method = "MachineCertificate,Eap";
    run(&d, NULL, &fs);
    f = only(&fs, "devtunnel-invariants");
    assert_string_equal(jstr(f->ev, "reason"),
                        "auth_method=MachineCertificate,Eap (want MachineCertificate)");
    pol[POL_DEVICE].auth_method = "Eap";

    /* the pbk entry of the same tunnel adds to the same finding */
    struct pbk_fixture dt;
    pbk_device(&dt);
    pbk_set(&dt, "VpnStrategy", "8");
    d.pbk = &dt.e;
    d.n_pbk = 1;
    pol[POL_DEVICE].tunnel_type = "ikev2"; /* case does not matter */
    pol[POL_DEVICE].split_tunneling = true;
    run(&d, NULL, &fs);
    f = only(&fs, "devtunnel-invariants");
    v = jget(f->ev, "violations");
    assert_int_equal(cJSON_GetArraySize(v), 2);
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "source"), "pbk");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 0), "scope"), "all_users");
    assert_string_equal(jstr(cJSON_GetArrayItem(v, 1), "source"), "policy");
    assert_string_equal(jstr(f->ev, "reason"),
                        "VpnStrategy=8 (want 7), auth_method=Eap (want MachineCertificate)");
    findings_free(&fs);
}

/* ---- ipsec-default, ipsec-weak, ipsec-mismatch ---- */

static void test_ipsec_default_legacy_automatic(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    struct check_device d = policies_only(pol, N_POLICIES);
    run(&d, NULL, &fs);
    assert_int_equal(fs.n, 1);
    const struct finding *f = only(&fs, "ipsec-default");
    assert_int_equal(f->rule->severity, SEV_MEDIUM);
    assert_string_equal(f->connection, "Legacy VPN");
    assert_string_equal(jstr(f->ev, "tunnel_type"), "Automatic");
    assert_string_equal(jstr(f->ev, "server"), "vpn2.example.net");
    assert_true(cJSON_IsNull(jget(f->ev, "ipsec")));
    assert_string_equal(jstr(jget(f->ev, "negotiated_defaults"), "dh_group"), "Group2");

    /* SSTP never negotiates IKEv2: no finding */
    pol[POL_LEGACY].tunnel_type = "Sstp";
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_ipsec_weak(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    pol[POL_USER].ipsec.dh_group = "Group2";
    struct check_device d = policies_only(pol, 2);
    run(&d, NULL, &fs);
    assert_int_equal(fs.n, 1);
    const struct finding *f = only(&fs, "ipsec-weak");
    assert_int_equal(f->rule->severity, SEV_HIGH);
    assert_string_equal(f->connection, "Always On VPN");
    assert_string_equal(jstr(f->ev, "reason"), "dh_group=Group2");
    const cJSON *weak = jget(f->ev, "weak");
    assert_int_equal(cJSON_GetArraySize(weak), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(weak, 0), "field"), "dh_group");
    assert_string_equal(jstr(cJSON_GetArrayItem(weak, 0), "value"), "Group2");
    assert_string_equal(jstr(jget(f->ev, "ipsec"), "pfs_group"), "ECP256");

    /* every weak field at once, in field order */
    pol[POL_USER].ipsec = (struct rf_ipsec_policy){
        .cipher_transform = "DES3",
        .auth_transform = "SHA196",
        .encryption_method = "des",
        .integrity_check_method = "SHA1",
        .dh_group = "Group1",
        .pfs_group = "PFS2",
    };
    run(&d, NULL, &fs);
    f = only(&fs, "ipsec-weak");
    assert_int_equal(cJSON_GetArraySize(jget(f->ev, "weak")), 6);
    assert_string_equal(jstr(f->ev, "reason"),
                        "cipher_transform=DES3, auth_transform=SHA196, encryption_method=des, "
                        "integrity_check_method=SHA1, dh_group=Group1, pfs_group=PFS2");

    /* None as DH group and MD5 are weak; PFS None and SHA384 are not */
    pol[POL_USER].ipsec = standard_set;
    pol[POL_USER].ipsec.dh_group = "None";
    pol[POL_USER].ipsec.integrity_check_method = "MD5";
    pol[POL_USER].ipsec.pfs_group = "None";
    run(&d, NULL, &fs);
    f = only(&fs, "ipsec-weak");
    assert_string_equal(jstr(f->ev, "reason"), "integrity_check_method=MD5, dh_group=None");

    /* the standard and enhanced sets are fine */
    policies_fill(pol);
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_ipsec_mismatch_enhanced_vs_standard(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    struct check_device d = policies_only(pol, N_POLICIES);
    struct ipsec_baseline base = {
        .configured = true, .server_custom = true, .policy = standard_set};
    run(&d, &base, &fs);
    assert_int_equal(count_rule(&fs, "ipsec-mismatch"), 2); /* user tunnel, legacy */
    assert_int_equal(count_rule(&fs, "ipsec-default"), 1);  /* legacy */

    const struct finding *f = &fs.items[1];
    assert_string_equal(f->rule->id, "ipsec-mismatch");
    assert_int_equal(f->rule->severity, SEV_HIGH);
    assert_string_equal(f->connection, "Always On VPN");
    assert_string_equal(jstr(f->ev, "case"), "different");
    assert_int_equal(jnum(f->ev, "error_code"), 13868);
    assert_string_equal(jstr(f->ev, "reason"),
                        "cipher_transform GCMAES128 != AES128, auth_transform GCMAES128 != "
                        "SHA256128, encryption_method GCMAES128 != AES128, pfs_group ECP256 != "
                        "PFS2048");
    const cJSON *diff = jget(f->ev, "differing");
    static const char *const want[][3] = {
        {"cipher_transform", "GCMAES128", "AES128"},
        {"auth_transform", "GCMAES128", "SHA256128"},
        {"encryption_method", "GCMAES128", "AES128"},
        {"pfs_group", "ECP256", "PFS2048"},
    };
    assert_int_equal(cJSON_GetArraySize(diff), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *x = cJSON_GetArrayItem(diff, i);
        assert_string_equal(jstr(x, "field"), want[i][0]);
        assert_string_equal(jstr(x, "client"), want[i][1]);
        assert_string_equal(jstr(x, "server"), want[i][2]);
    }
    assert_string_equal(jstr(f->ev, "server"), "vpn.example.net"); /* the VPN server */
    assert_string_equal(jstr(jget(f->ev, "client_ipsec"), "dh_group"), "Group14");
    assert_string_equal(jstr(jget(f->ev, "server_ipsec"), "pfs_group"), "PFS2048");

    f = &fs.items[2];
    assert_string_equal(f->rule->id, "ipsec-mismatch");
    assert_string_equal(f->connection, "Legacy VPN");
    assert_string_equal(jstr(f->ev, "case"), "client_default");
    assert_true(cJSON_IsNull(jget(f->ev, "client_ipsec")));
    assert_int_equal(cJSON_GetArraySize(jget(f->ev, "differing")), 0);

    /* the baseline written in another case still matches the device tunnel */
    base.policy.dh_group = "group14";
    base.policy.cipher_transform = "aes128";
    run(&d, &base, &fs);
    for (size_t i = 0; i < fs.n; i++)
        if (fs.items[i].connection)
            assert_string_not_equal(fs.items[i].connection, "Always On VPN Device Tunnel");
    findings_free(&fs);
}

static void test_ipsec_mismatch_server_defaults_and_unconfigured(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_vpn_policy pol[N_POLICIES];
    policies_fill(pol);
    struct check_device d = policies_only(pol, N_POLICIES);

    /* server on defaults: both custom profiles mismatch, the legacy one is fine */
    struct ipsec_baseline base = {.configured = true, .server_custom = false};
    run(&d, &base, &fs);
    assert_int_equal(fs.n, 3);
    assert_string_equal(fs.items[0].rule->id, "ipsec-default"); /* legacy, table order */
    assert_string_equal(fs.items[1].rule->id, "ipsec-mismatch");
    assert_string_equal(fs.items[1].connection, "Always On VPN");
    assert_string_equal(jstr(fs.items[1].ev, "case"), "server_default");
    assert_string_equal(jstr(fs.items[1].ev, "reason"), "client custom policy, server on defaults");
    assert_true(cJSON_IsNull(jget(fs.items[1].ev, "server_ipsec")));
    assert_string_equal(fs.items[2].rule->id, "ipsec-mismatch");
    assert_string_equal(fs.items[2].connection, "Always On VPN Device Tunnel");

    /* not configured (or no baseline): never fires */
    base.configured = false;
    base.server_custom = true;
    base.policy = standard_set;
    run(&d, &base, &fs);
    assert_int_equal(count_rule(&fs, "ipsec-mismatch"), 0);
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "ipsec-mismatch"), 0);

    /* an SSTP profile is not judged against the IKEv2 baseline */
    base.configured = true;
    pol[POL_USER].tunnel_type = "Sstp";
    run(&d, &base, &fs);
    for (size_t i = 0; i < fs.n; i++)
        if (strcmp(fs.items[i].rule->id, "ipsec-mismatch") == 0)
            assert_string_not_equal(fs.items[i].connection, "Always On VPN");
    findings_free(&fs);
}

/* ---- the rule table ---- */

static bool url_safe_id(const char *id)
{
    if (!*id)
        return false;
    for (const char *p = id; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return false;
    return id[0] != '-';
}

/* ---- agent-spool-drops ---- */

#define DAY_MS (24LL * 3600 * 1000)
#define T_STATUS 1795176000000LL /* 2026-11-20T12:00:00Z */

static void test_agent_spool_drops(void **state)
{
    (void)state;
    struct findings fs = {0};
    struct rf_agent_status st = {.spool_bytes = 65000,
                                 .spool_batches = 12,
                                 .has_spool_limit = true,
                                 .spool_limit_bytes = 65536,
                                 .dropped_batches_total = 3,
                                 .has_dropped_records = true,
                                 .dropped_records_total = 1500,
                                 .has_rejected_batches = true,
                                 .rejected_batches_total = 1};
    struct check_agent agent = {&st, T_STATUS, true, T_STATUS - 2 * DAY_MS};
    struct check_device d = {0};
    d.agent = &agent;
    run(&d, NULL, &fs);
    const struct finding *f = only(&fs, "agent-spool-drops");
    assert_null(f->connection);
    assert_int_equal(fs.n, 1);
    assert_string_equal(jstr(f->ev, "reason"),
                        "agent dropped 3 batches (1500 records) from a full spool, the last "
                        "reported 2026-11-18T12:00:00.000Z; spool now 65000 of 65536 bytes");
    assert_int_equal((int64_t)jnum(f->ev, "dropped_batches_total"), 3);
    assert_int_equal((int64_t)jnum(f->ev, "dropped_records_total"), 1500);
    assert_int_equal((int64_t)jnum(f->ev, "rejected_batches_total"), 1);
    assert_string_equal(jstr(f->ev, "last_drop"), "2026-11-18T12:00:00.000Z");
    assert_string_equal(jstr(f->ev, "status_time"), "2026-11-20T12:00:00.000Z");
    assert_int_equal((int64_t)jnum(f->ev, "spool_bytes"), 65000);
    assert_int_equal((int64_t)jnum(f->ev, "spool_batches"), 12);
    assert_int_equal((int64_t)jnum(f->ev, "spool_limit_bytes"), 65536);
    assert_true(cJSON_IsNull(jget(f->ev, "last_success")));

    /* exactly 7 days after the last drop still counts; a millisecond later not */
    agent.last_drop_ms = T_STATUS - CHECKS_AGENT_DROPS_RECENT_MS;
    run(&d, NULL, &fs);
    assert_int_equal(count_rule(&fs, "agent-spool-drops"), 1);
    agent.last_drop_ms = T_STATUS - CHECKS_AGENT_DROPS_RECENT_MS - 1;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);

    /* one batch, no record count, no limit, a last success: the optional parts follow */
    st = (struct rf_agent_status){.dropped_batches_total = 1,
                                  .has_last_success = true,
                                  .last_success_ms = T_STATUS - 3600000};
    agent.last_drop_ms = T_STATUS;
    run(&d, NULL, &fs);
    f = only(&fs, "agent-spool-drops");
    assert_string_equal(jstr(f->ev, "reason"),
                        "agent dropped 1 batch from a full spool, the last reported "
                        "2026-11-20T12:00:00.000Z");
    assert_null(cJSON_GetObjectItemCaseSensitive(f->ev, "dropped_records_total"));
    assert_null(cJSON_GetObjectItemCaseSensitive(f->ev, "spool_limit_bytes"));
    assert_string_equal(jstr(f->ev, "last_success"), "2026-11-20T11:00:00.000Z");

    /* drops in the totals but none reported since the collector knew the device (no
     * last drop), no agent at all, an agent whose status is missing: nothing */
    agent.has_last_drop = false;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    d.agent = NULL;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    struct check_agent no_status = {NULL, T_STATUS, true, T_STATUS};
    d.agent = &no_status;
    run(&d, NULL, &fs);
    assert_no_findings(&fs);
    findings_free(&fs);
}

static void test_rule_table_invariants(void **state)
{
    (void)state;
    size_t n = checks_rule_count();
    assert_true(n >= 14);
    assert_null(checks_rule_at(n));
    for (size_t i = 0; i < n; i++) {
        const struct check_rule *r = checks_rule_at(i);
        assert_non_null(r);
        assert_true(url_safe_id(r->id));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(checks_rule_at(j)->id, r->id);
        assert_true(r->severity >= SEV_INFO && r->severity <= SEV_CRITICAL);
        assert_non_null(r->title);
        assert_true(strlen(r->title) > 5);
        assert_non_null(r->summary);
        assert_true(strlen(r->summary) > 20);
        assert_non_null(r->remediation);
        assert_true(strlen(r->remediation) > 20);
        size_t refs = checks_rule_ref_count(r);
        assert_true(refs >= 1);
        assert_null(r->references[3]);
        for (size_t k = 0; k < refs; k++)
            assert_true(strncmp(r->references[k], "https://", 8) == 0 ||
                        strncmp(r->references[k], "http://", 7) == 0);
        assert_ptr_equal(checks_rule_find(r->id), r);
    }
    assert_null(checks_rule_find("nope"));
    assert_null(checks_rule_find(""));
    assert_null(checks_rule_find(NULL));
    assert_null(checks_rule_find("METRIC-ORDER"));
}

static void test_rule_ids_and_severities(void **state)
{
    (void)state;
    static const struct {
        const char *id;
        enum check_severity sev;
        enum check_scope scope;
    } want[] = {
        {"metric-order", SEV_HIGH, CHECK_SCOPE_DEVICE},
        {"pbk-metric", SEV_MEDIUM, CHECK_SCOPE_DEVICE},
        {"pbk-classroute", SEV_LOW, CHECK_SCOPE_DEVICE},
        {"pbk-mobility", SEV_INFO, CHECK_SCOPE_DEVICE},
        {"pbk-fragmentation", SEV_MEDIUM, CHECK_SCOPE_DEVICE},
        {"pbk-alwayson", SEV_LOW, CHECK_SCOPE_DEVICE},
        {"pbk-vpnstrategy", SEV_LOW, CHECK_SCOPE_DEVICE},
        {"registerdns-both", SEV_LOW, CHECK_SCOPE_DEVICE},
        {"devtunnel-invariants", SEV_HIGH, CHECK_SCOPE_DEVICE},
        {"ipsec-default", SEV_MEDIUM, CHECK_SCOPE_DEVICE},
        {"ipsec-weak", SEV_HIGH, CHECK_SCOPE_DEVICE},
        {"ipsec-mismatch", SEV_HIGH, CHECK_SCOPE_DEVICE},
        {"agent-spool-drops", SEV_MEDIUM, CHECK_SCOPE_DEVICE},
        {"fleet-concentration", SEV_MEDIUM, CHECK_SCOPE_FLEET},
        {"fleet-spike", SEV_HIGH, CHECK_SCOPE_FLEET},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct check_rule *r = checks_rule_find(want[i].id);
        if (!r)
            fail_msg("rule %s missing", want[i].id);
        assert_int_equal(r->severity, want[i].sev);
        assert_int_equal(checks_rule_scope(r), want[i].scope);
    }
    static const struct check_rule foreign = {.id = "x"};
    assert_int_equal(checks_rule_scope(&foreign), CHECK_SCOPE_FLEET);

    assert_string_equal(checks_severity_name(SEV_INFO), "info");
    assert_string_equal(checks_severity_name(SEV_LOW), "low");
    assert_string_equal(checks_severity_name(SEV_MEDIUM), "medium");
    assert_string_equal(checks_severity_name(SEV_HIGH), "high");
    assert_string_equal(checks_severity_name(SEV_CRITICAL), "critical");
    assert_string_equal(checks_severity_name((enum check_severity)42), "unknown");

    /* the metric rules say where the fix is, and never recommend Set-NetIPInterface */
    const struct check_rule *mo = checks_rule_find("metric-order");
    assert_non_null(strstr(mo->remediation, "IpInterfaceMetric"));
    assert_non_null(strstr(mo->remediation, "Ipv6InterfaceMetric"));
    assert_non_null(strstr(mo->powershell, "rasphone.pbk"));
    assert_null(strstr(mo->powershell, "Set-NetIPInterface"));
    assert_null(strstr(checks_rule_find("pbk-metric")->powershell, "Set-NetIPInterface"));
    assert_non_null(strstr(checks_rule_find("ipsec-mismatch")->summary, "13868"));
}

static void test_remediation_json(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < checks_rule_count(); i++) {
        const struct check_rule *r = checks_rule_at(i);
        buf_reset(&b);
        assert_int_equal(checks_remediation_json(r, &b), RF_OK);
        assert_int_equal(strlen(b.data), b.len);
        cJSON *j = cJSON_Parse(b.data);
        if (!j)
            fail_msg("remediation JSON of %s does not parse: %s", r->id, b.data);
        assert_string_equal(jstr(j, "text"), r->remediation);
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "powershell");
        if (r->powershell)
            assert_string_equal(jstr(j, "powershell"), r->powershell);
        else
            assert_null(ps);
        const cJSON *refs = jget(j, "references");
        assert_true(cJSON_IsArray(refs));
        assert_int_equal(cJSON_GetArraySize(refs), checks_rule_ref_count(r));
        for (int k = 0; k < cJSON_GetArraySize(refs); k++)
            assert_string_equal(cJSON_GetArrayItem(refs, k)->valuestring, r->references[k]);
        assert_int_equal(cJSON_GetArraySize(j), r->powershell ? 3 : 2);
        cJSON_Delete(j);
    }
    /* appends, and refuses a NULL rule without touching the buffer */
    buf_reset(&b);
    assert_int_equal(buf_append_str(&b, "x"), RF_OK);
    assert_int_equal(checks_remediation_json(NULL, &b), RF_EINVAL);
    assert_string_equal(b.data, "x");
    assert_int_equal(checks_remediation_json(checks_rule_find("fleet-spike"), &b), RF_OK);
    assert_true(strncmp(b.data, "x{\"text\":", 9) == 0);
    buf_free(&b);
}

/* docs/rules.md documents every rule: a "### `id`" heading and its severity. */
static void test_doc_lists_every_rule(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/../../docs/rules.md", RF_FIXTURES);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    static char doc[1 << 18];
    size_t len = fread(doc, 1, sizeof doc - 1, fp);
    fclose(fp);
    doc[len] = '\0';
    for (size_t i = 0; i < checks_rule_count(); i++) {
        const struct check_rule *r = checks_rule_at(i);
        char heading[128];
        snprintf(heading, sizeof heading, "\n### `%s`\n", r->id);
        const char *at = strstr(doc, heading);
        if (!at)
            fail_msg("docs/rules.md has no heading for %s", r->id);
        char sev[64];
        snprintf(sev, sizeof sev, "Severity: **%s**", checks_severity_name(r->severity));
        const char *next = strstr(at + 1, "\n### ");
        const char *s = strstr(at, sev);
        if (!s || (next && s > next))
            fail_msg("docs/rules.md section of %s does not say \"%s\"", r->id, sev);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_data_no_findings),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_healthy_sample_device),
        cmocka_unit_test(test_metric_order_ps51_tie_fires_ipv4),
        cmocka_unit_test(test_metric_order_vpn_3_is_fine),
        cmocka_unit_test(test_metric_order_ignores_disconnected_loopback_other),
        cmocka_unit_test(test_metric_order_disconnected_vpn_ignored),
        cmocka_unit_test(test_metric_order_families_judged_separately),
        cmocka_unit_test(test_metric_order_lists_every_physical_at_or_below),
        cmocka_unit_test(test_metric_order_escapes_client_strings),
        cmocka_unit_test(test_pbk_metric_user_3_device_4_fine),
        cmocka_unit_test(test_pbk_metric_automatic_fires),
        cmocka_unit_test(test_pbk_metric_missing_invalid_different),
        cmocka_unit_test(test_pbk_metric_device_tunnel_wants_4),
        cmocka_unit_test(test_pbk_fixture_files),
        cmocka_unit_test(test_json_fixture_files),
        cmocka_unit_test(test_pbk_classroute),
        cmocka_unit_test(test_pbk_mobility),
        cmocka_unit_test(test_pbk_fragmentation),
        cmocka_unit_test(test_pbk_alwayson),
        cmocka_unit_test(test_pbk_vpnstrategy),
        cmocka_unit_test(test_registerdns_both),
        cmocka_unit_test(test_devtunnel_invariants_pbk),
        cmocka_unit_test(test_devtunnel_invariants_policy_merged_with_pbk),
        cmocka_unit_test(test_ipsec_default_legacy_automatic),
        cmocka_unit_test(test_ipsec_weak),
        cmocka_unit_test(test_ipsec_mismatch_enhanced_vs_standard),
        cmocka_unit_test(test_ipsec_mismatch_server_defaults_and_unconfigured),
        cmocka_unit_test(test_agent_spool_drops),
        cmocka_unit_test(test_rule_table_invariants),
        cmocka_unit_test(test_rule_ids_and_severities),
        cmocka_unit_test(test_remediation_json),
        cmocka_unit_test(test_doc_lists_every_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
