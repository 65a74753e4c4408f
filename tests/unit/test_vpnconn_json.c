/*
 * test_vpnconn_json.c - Get-VpnConnection JSON to vpn_policy records
 * (vpnconn_json.c): both fixtures, IPsec policy shapes (object, array,
 * null, names, numbers, flattened), device-tunnel detection and invalid
 * elements.
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

#include "rasfleet/result.h"
#include "vpnconn_json.h"

#define T0 1795162000000LL

static int parse(const char *buf, size_t len, struct rf_arena *a, struct recs *rs,
                 struct reports *rp, struct vpnconn_stats *st)
{
    struct parse_sink sink = {"vpn.json", collect, rp, 0, 0};
    memset(rs, 0, sizeof(*rs));
    rp->n = 0;
    return vpnconn_json_parse(buf, len, T0, a, keep, rs, &sink, st);
}

static void check_ipsec(const struct rf_vpn_policy *p, const char *auth, const char *cipher,
                        const char *dh, const char *enc, const char *integ, const char *pfs)
{
    assert_true(p->has_ipsec);
    assert_string_equal(p->ipsec.auth_transform, auth);
    assert_string_equal(p->ipsec.cipher_transform, cipher);
    assert_string_equal(p->ipsec.dh_group, dh);
    assert_string_equal(p->ipsec.encryption_method, enc);
    assert_string_equal(p->ipsec.integrity_check_method, integ);
    assert_string_equal(p->ipsec.pfs_group, pfs);
}

static void check_user_tunnel(const struct rf_record *r)
{
    const struct rf_vpn_policy *p = &r->u.pol;
    assert_int_equal(r->kind, RF_KIND_VPN_POLICY);
    assert_int_equal(r->time_ms, T0);
    assert_string_equal(p->connection, "Always On VPN");
    assert_string_equal(p->server, "vpn.example.net");
    assert_string_equal(p->tunnel_type, "Ikev2");
    assert_string_equal(p->auth_method, "Eap");
    assert_true(p->split_tunneling);
    assert_false(p->device_tunnel);
    assert_string_equal(p->dns_suffix, "corp.example.net");
    check_ipsec(p, "GCMAES128", "GCMAES128", "Group14", "GCMAES128", "SHA256", "ECP256");
}

static void test_ps51_single_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("vpnconnection/vpnconnection-ps51-single.json", &len);
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct vpnconn_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 1);
    assert_int_equal(rs.n, 1);
    check_user_tunnel(&rs.r[0]);
    rf_arena_free(&a);
    free(js);
}

static void test_array_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("vpnconnection/vpnconnection-array.json", &len);
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(rs.n, 3);
    check_user_tunnel(&rs.r[0]);
    const struct rf_vpn_policy *d = &rs.r[1].u.pol;
    assert_string_equal(d->connection, "Always On VPN Device Tunnel");
    assert_string_equal(d->auth_method, "MachineCertificate");
    assert_true(d->device_tunnel);
    assert_true(d->split_tunneling);
    check_ipsec(d, "SHA256128", "AES128", "Group14", "AES128", "SHA256", "PFS2048");
    const struct rf_vpn_policy *l = &rs.r[2].u.pol;
    assert_string_equal(l->connection, "Legacy VPN");
    assert_string_equal(l->server, "vpn2.example.net");
    assert_string_equal(l->tunnel_type, "Automatic");
    assert_false(l->split_tunneling);
    assert_false(l->device_tunnel);
    assert_false(l->has_ipsec);
    assert_null(l->ipsec.dh_group);
    rf_arena_free(&a);
    free(js);
}

static void test_policy_shapes_and_numbers(void **state)
{
    (void)state;
    const char *js =
        "[{\"Name\": \"Numbers\", \"ServerAddress\": \"s\", \"TunnelType\": \"ikev2\","
        "  \"AuthenticationMethod\": [\"Eap\", \"MachineCertificate\"], \"SplitTunneling\": 1,"
        "  \"AllUserConnection\": \"True\", \"DnsSuffix\": \"\","
        "  \"IPsecCustomPolicy\": [{\"AuthenticationTransformConstants\": 5,"
        "    \"CipherTransformConstants\": 8, \"DHGroup\": 5, \"EncryptionMethod\": 6,"
        "    \"IntegrityCheckMethod\": 2, \"PfsGroup\": 0}]},"
        " {\"Name\": \"Unknowns\", \"ServerAddress\": \"s\", \"TunnelType\": \"Sstp\","
        "  \"AuthenticationMethod\": \"MachineCertificate\", \"SplitTunneling\": false,"
        "  \"IPsecCustomPolicy\": {\"AuthenticationTransformConstants\": \"none\","
        "    \"CipherTransformConstants\": 0, \"DHGroup\": 99, \"EncryptionMethod\": "
        "\"AES_GCM_128\","
        "    \"IntegrityCheckMethod\": \"sha384\"}},"
        " {\"Name\": \"Flattened\", \"ServerAddress\": \"s\", \"TunnelType\": \"L2tp\","
        "  \"AuthenticationMethod\": [\"Eap\"], \"SplitTunneling\": true,"
        "  \"IPsecCustomPolicy\": \"Microsoft.Management.Infrastructure.CimInstance\"},"
        " {\"Name\": \"Empty\", \"ServerAddress\": \"s\", \"TunnelType\": \"Pptp\","
        "  \"AuthenticationMethod\": [\"MSChapv2\"], \"SplitTunneling\": true,"
        "  \"IPsecCustomPolicy\": []}]";
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rs.n, 4);
    const struct rf_vpn_policy *p = &rs.r[0].u.pol;
    assert_string_equal(p->tunnel_type, "Ikev2");
    assert_string_equal(p->auth_method, "Eap,MachineCertificate");
    assert_true(p->device_tunnel);
    assert_true(p->split_tunneling);
    assert_null(p->dns_suffix);
    check_ipsec(p, "GCMAES256", "GCMAES256", "ECP384", "GCMAES256", "SHA256", "None");
    p = &rs.r[1].u.pol;
    assert_false(p->device_tunnel); /* not an all-user connection */
    check_ipsec(p, "None", "unknown(0)", "unknown(99)", "AES_GCM_128", "SHA384", "unknown");
    p = &rs.r[2].u.pol;
    check_ipsec(p, "unknown", "unknown", "unknown", "unknown", "unknown", "unknown");
    assert_false(rs.r[3].u.pol.has_ipsec);
    /* reports: item 1 (unnamed encryption, missing PfsGroup), item 2 (flattened) */
    assert_int_equal(rp.n, 3);
    assert_int_equal(rp.r[0].item, 1);
    assert_non_null(strstr(rp.r[0].reason, "EncryptionMethod 'AES_GCM_128'"));
    assert_int_equal(rp.r[1].item, 1);
    assert_non_null(strstr(rp.r[1].reason, "PfsGroup"));
    assert_int_equal(rp.r[2].item, 2);
    assert_non_null(strstr(rp.r[2].reason, "not an object"));
    rf_arena_free(&a);
}

static void test_invalid_elements_are_reported(void **state)
{
    (void)state;
    const char *js =
        "[{\"ServerAddress\": \"s\", \"TunnelType\": \"Ikev2\", \"AuthenticationMethod\": "
        "\"Eap\", \"SplitTunneling\": true},"
        " {\"Name\": \"A\", \"ServerAddress\": \"\", \"TunnelType\": \"Ikev2\", "
        "\"AuthenticationMethod\": \"Eap\", \"SplitTunneling\": true},"
        " {\"Name\": \"A\", \"ServerAddress\": \"s\", \"TunnelType\": 2, "
        "\"AuthenticationMethod\": \"Eap\", \"SplitTunneling\": true},"
        " {\"Name\": \"A\", \"ServerAddress\": \"s\", \"TunnelType\": \"Ikev2\", "
        "\"AuthenticationMethod\": [], \"SplitTunneling\": true},"
        " {\"Name\": \"A\", \"ServerAddress\": \"s\", \"TunnelType\": \"Ikev2\", "
        "\"AuthenticationMethod\": \"Eap\"},"
        " {\"Name\": \"A\", \"ServerAddress\": \"s\", \"TunnelType\": \"Ikev2\", "
        "\"AuthenticationMethod\": \"Eap\", \"SplitTunneling\": true, \"AllUserConnection\": "
        "\"maybe\"},"
        " null,"
        " {\"Name\": \"Ok\", \"ServerAddress\": \"s\", \"TunnelType\": \"Automatic\", "
        "\"AuthenticationMethod\": \"Eap\", \"SplitTunneling\": \"False\"}]";
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct vpnconn_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.r[0].u.pol.connection, "Ok");
    assert_false(rs.r[0].u.pol.split_tunneling);
    assert_false(rs.r[0].u.pol.has_ipsec);
    assert_int_equal(st.skipped, 7);
    assert_int_equal(rp.n, 7);
    const char *fields[] = {
        "Name",           "ServerAddress",     "TunnelType",   "AuthenticationMethod",
        "SplitTunneling", "AllUserConnection", "not an object"};
    for (long i = 0; i < 7; i++) {
        assert_int_equal(rp.r[i].item, i);
        assert_non_null(strstr(rp.r[i].reason, fields[i]));
    }
    assert_int_equal(parse("[1, 2", 5, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_true(rp.r[0].fatal);
    rf_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ps51_single_fixture),
        cmocka_unit_test(test_array_fixture),
        cmocka_unit_test(test_policy_shapes_and_numbers),
        cmocka_unit_test(test_invalid_elements_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
