/*
 * test_netip_json.c - Get-NetIPInterface JSON to iface_metric records
 * (netip_json.c): both fixtures, enum spellings, key aliases, the MTU
 * sentinel, the interface-type heuristic and invalid elements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse_fixtures.h"

#include "netip_json.h"
#include "rasfleet/result.h"

#define T0 1795162000000LL

static int parse(const char *buf, size_t len, const struct netip_options *opt, struct rf_arena *a,
                 struct recs *rs, struct reports *rp, struct netip_stats *st)
{
    struct parse_sink sink = {"netip.json", collect, rp, 0, 0};
    memset(rs, 0, sizeof(*rs));
    rp->n = 0;
    return netip_json_parse(buf, len, opt, a, keep, rs, &sink, st);
}

static void check_metric(const struct rf_record *r, const char *alias, int64_t index,
                         enum rf_family fam, int64_t metric, bool automatic, bool connected,
                         enum rf_if_type type, int64_t mtu)
{
    const struct rf_iface_metric *m = &r->u.ifm;
    assert_int_equal(r->kind, RF_KIND_IFACE_METRIC);
    assert_int_equal(r->time_ms, T0);
    assert_string_equal(m->alias, alias);
    assert_int_equal(m->index, index);
    assert_int_equal(m->family, fam);
    assert_int_equal(m->metric, metric);
    assert_int_equal(m->automatic, automatic);
    assert_int_equal(m->connected, connected);
    assert_int_equal(m->if_type, type);
    assert_int_equal(m->has_mtu, mtu >= 0);
    if (mtu >= 0)
        assert_int_equal(m->mtu, mtu);
}

static void test_ps51_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("netip/netipinterface-ps51.json", &len);
    struct netip_options opt = {T0, NULL, 0};
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct netip_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &opt, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 4);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(rs.n, 4);
    check_metric(&rs.r[0], "Always On VPN", 41, RF_FAMILY_IPV4, 25, true, true, RF_IF_VPN, 1400);
    check_metric(&rs.r[1], "Ethernet", 12, RF_FAMILY_IPV4, 25, true, true, RF_IF_ETHERNET, 1500);
    check_metric(&rs.r[2], "Ethernet", 12, RF_FAMILY_IPV6, 25, true, true, RF_IF_ETHERNET, 1500);
    check_metric(&rs.r[3], "Wi-Fi", 18, RF_FAMILY_IPV4, 50, true, false, RF_IF_WIFI, 1500);
    /* the metric-order finding the fixture is about: VPN ties Ethernet on IPv4 */
    assert_int_equal(rs.r[0].u.ifm.metric, rs.r[1].u.ifm.metric);
    rf_arena_free(&a);
    free(js);
}

static void test_ps7_enums_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("netip/netipinterface-ps7-enums.json", &len);
    struct netip_options opt = {T0, NULL, 0};
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &opt, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(rs.n, 1);
    check_metric(&rs.r[0], "Always On VPN", 41, RF_FAMILY_IPV4, 3, false, true, RF_IF_VPN, 1400);
    rf_arena_free(&a);
    free(js);
}

static void test_single_object_aliases_and_mtu_sentinel(void **state)
{
    (void)state;
    const char *js = "\xEF\xBB\xBF{\"ifAlias\": \"Loopback Pseudo-Interface 1\", \"ifIndex\": "
                     "\"1\", \"AddressFamily\": \"ipv6\", \"InterfaceMetric\": 75, "
                     "\"AutomaticMetric\": true, \"ConnectionState\": \"connected\", "
                     "\"NlMtu\": 4294967295}";
    const char *const vpn[] = {"Contoso"};
    struct netip_options opt = {T0, vpn, 1};
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &opt, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(rs.n, 1);
    check_metric(&rs.r[0], "Loopback Pseudo-Interface 1", 1, RF_FAMILY_IPV6, 75, true, true,
                 RF_IF_LOOPBACK, -1);
    const char *named = "[{\"InterfaceAlias\": \"contoso\", \"InterfaceIndex\": 50, "
                        "\"AddressFamily\": 2, \"InterfaceMetric\": 1, \"AutomaticMetric\": 0, "
                        "\"ConnectionState\": 0},"
                        " {\"InterfaceAlias\": \"Ethernet 3\", \"InterfaceDescription\": "
                        "\"WAN Miniport (IKEv2)\", \"InterfaceIndex\": 51, \"AddressFamily\": "
                        "23, \"InterfaceMetric\": 2, \"AutomaticMetric\": \"Disabled\", "
                        "\"ConnectionState\": \"Disconnected\", \"NlMtu\": 0}]";
    assert_int_equal(parse(named, strlen(named), &opt, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(rs.n, 2);
    check_metric(&rs.r[0], "contoso", 50, RF_FAMILY_IPV4, 1, false, false, RF_IF_VPN, -1);
    check_metric(&rs.r[1], "Ethernet 3", 51, RF_FAMILY_IPV6, 2, false, false, RF_IF_VPN, 0);
    rf_arena_free(&a);
}

static void test_guess_if_type(void **state)
{
    (void)state;
    const char *const vpn[] = {"Corp Access", NULL};
    assert_int_equal(netip_guess_if_type("Corp Access", NULL, vpn, 2), RF_IF_VPN);
    assert_int_equal(netip_guess_if_type("corp access", NULL, vpn, 2), RF_IF_VPN);
    assert_int_equal(netip_guess_if_type("Corp Access", NULL, NULL, 0), RF_IF_OTHER);
    assert_int_equal(netip_guess_if_type("Loopback Pseudo-Interface 1", NULL, NULL, 0),
                     RF_IF_LOOPBACK);
    assert_int_equal(netip_guess_if_type("Always On VPN", NULL, NULL, 0), RF_IF_VPN);
    assert_int_equal(
        netip_guess_if_type("Ethernet 4", "Fortinet SSL VPN Virtual Ethernet", NULL, 0), RF_IF_VPN);
    assert_int_equal(netip_guess_if_type("Wi-Fi", NULL, NULL, 0), RF_IF_WIFI);
    assert_int_equal(netip_guess_if_type("WLAN", NULL, NULL, 0), RF_IF_WIFI);
    assert_int_equal(netip_guess_if_type("Network 2", "Intel(R) Wireless-AC 9560", NULL, 0),
                     RF_IF_WIFI);
    assert_int_equal(netip_guess_if_type("Cellular", NULL, NULL, 0), RF_IF_CELLULAR);
    assert_int_equal(netip_guess_if_type("Mobile Broadband", NULL, NULL, 0), RF_IF_CELLULAR);
    assert_int_equal(netip_guess_if_type("Ethernet", NULL, NULL, 0), RF_IF_ETHERNET);
    assert_int_equal(netip_guess_if_type("vEthernet (WSL)", NULL, NULL, 0), RF_IF_ETHERNET);
    assert_int_equal(netip_guess_if_type("Bluetooth Network Connection", NULL, NULL, 0),
                     RF_IF_OTHER);
}

static void test_invalid_elements_are_reported(void **state)
{
    (void)state;
    const char *js =
        "[{\"InterfaceIndex\": 1, \"AddressFamily\": 2, \"InterfaceMetric\": 1, "
        "\"AutomaticMetric\": 1, \"ConnectionState\": 1},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": 1, \"AddressFamily\": 99, "
        "\"InterfaceMetric\": 1, \"AutomaticMetric\": 1, \"ConnectionState\": 1},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": -1, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 1, \"AutomaticMetric\": 1, \"ConnectionState\": 1},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": 1, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 4294967296, \"AutomaticMetric\": 1, \"ConnectionState\": 1},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": 1, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 1, \"ConnectionState\": 1},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": 1, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 1, \"AutomaticMetric\": 1, \"ConnectionState\": \"Dormant\"},"
        " {\"InterfaceAlias\": \"A\", \"InterfaceIndex\": 1, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 1, \"AutomaticMetric\": 1, \"ConnectionState\": 1, "
        "\"NlMtu\": 1.5},"
        " \"text\","
        " {\"InterfaceAlias\": \"Ethernet\", \"InterfaceIndex\": 12, \"AddressFamily\": 2, "
        "\"InterfaceMetric\": 5, \"AutomaticMetric\": 1, \"ConnectionState\": 1}]";
    struct netip_options opt = {T0, NULL, 0};
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct netip_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &opt, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rs.n, 1);
    check_metric(&rs.r[0], "Ethernet", 12, RF_FAMILY_IPV4, 5, true, true, RF_IF_ETHERNET, -1);
    assert_int_equal(st.skipped, 8);
    assert_int_equal(rp.n, 8);
    for (long i = 0; i < 8; i++) {
        assert_int_equal(rp.r[i].item, i);
        assert_false(rp.r[i].fatal);
    }
    assert_non_null(strstr(rp.r[0].reason, "InterfaceAlias"));
    assert_non_null(strstr(rp.r[1].reason, "AddressFamily"));
    assert_non_null(strstr(rp.r[2].reason, "InterfaceIndex"));
    assert_non_null(strstr(rp.r[3].reason, "InterfaceMetric"));
    assert_non_null(strstr(rp.r[4].reason, "AutomaticMetric"));
    assert_non_null(strstr(rp.r[5].reason, "ConnectionState"));
    assert_non_null(strstr(rp.r[6].reason, "NlMtu"));
    /* not JSON */
    assert_int_equal(parse("{\"InterfaceAlias\": ", 19, &opt, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.n, 1);
    assert_true(rp.r[0].fatal);
    rf_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ps51_fixture),
        cmocka_unit_test(test_ps7_enums_fixture),
        cmocka_unit_test(test_single_object_aliases_and_mtu_sentinel),
        cmocka_unit_test(test_guess_if_type),
        cmocka_unit_test(test_invalid_elements_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
