/*
 * test_catalog.c - unit tests for server/catalog.c, the RasClient error and
 * reason code catalogue: code parsing and number forms, exact entries for
 * the codes the analyzer leans on, table invariants (sorted, unique,
 * complete), JSON output (parsed back with cJSON) and agreement with
 * docs/catalogue.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "catalog.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_E_EXPIRED_DEC (-2146762495)

/* ---- helpers ---- */

static int32_t parse_ok(const char *s)
{
    int32_t v = 12345;
    if (!catalog_parse_code(s, &v))
        fail_msg("catalog_parse_code(\"%s\") failed", s);
    return v;
}

/* Renders the JSON for code and parses it back; the caller deletes it. */
static cJSON *json_for(int32_t code, struct buf *raw)
{
    buf_reset(raw);
    const struct catalog_entry *e = catalog_lookup(code);
    assert_int_equal(catalog_entry_to_json(e, code, raw), RF_OK);
    assert_non_null(raw->data);
    assert_int_equal(strlen(raw->data), raw->len);
    cJSON *j = cJSON_Parse(raw->data);
    if (!j)
        fail_msg("JSON for %d does not parse: %s", (int)code, raw->data);
    assert_true(cJSON_IsObject(j));
    return j;
}

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

static bool is_printable_ascii(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\n') || c > 0x7e)
            return false;
    }
    return true;
}

/* ---- parsing and number forms ---- */

static void test_parse_cert_expired_all_forms(void **state)
{
    (void)state;
    const char *forms[] = {"-2146762495", "2148204801", "0x800B0101",
                           "800b0101",    "0X800b0101", "800B0101"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
        assert_int_equal(parse_ok(forms[i]), CERT_E_EXPIRED_DEC);

    const struct catalog_entry *e = catalog_lookup(CERT_E_EXPIRED_DEC);
    assert_non_null(e);
    assert_string_equal(e->symbol, "CERT_E_EXPIRED");
    assert_int_equal(e->component, CATALOG_COMPONENT_RRAS);
    assert_int_equal(e->protocol, CATALOG_PROTOCOL_SSTP);

    struct catalog_forms f;
    catalog_code_forms(CERT_E_EXPIRED_DEC, &f);
    assert_int_equal(f.code, CERT_E_EXPIRED_DEC);
    assert_string_equal(f.hex, "0x800B0101");
    assert_string_equal(f.decimal, "-2146762495");
    assert_true(f.unsigned_value == 2148204801u);
    assert_true(f.is_hresult);
    assert_int_equal(f.facility, 0x0B);
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_CERT);
    assert_string_equal(catalog_facility_name(f.facility_kind), "cert");
    assert_int_equal(f.win32_code, -1);
}

static void test_parse_other_forms(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("809"), 809);
    assert_int_equal(parse_ok("0x329"), 809);
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok("-0"), 0);
    assert_int_equal(parse_ok("13801"), 13801);
    assert_int_equal(parse_ok("-2146885628"), -2146885628);
    assert_int_equal(parse_ok("0x80092004"), -2146885628);
    /* 8 bare digits are hex, the HRESULT way: not eighty million */
    assert_int_equal(parse_ok("80092013"), -2146885613);
    assert_int_equal(parse_ok("80070040"), -2147024832);
    assert_int_equal(parse_ok("-2147483648"), INT32_MIN);
    assert_int_equal(parse_ok("2147483647"), INT32_MAX);
    assert_int_equal(parse_ok("2147483648"), INT32_MIN);
    assert_int_equal(parse_ok("4294967295"), -1);
    assert_int_equal(parse_ok("0xFFFFFFFF"), -1);
    assert_int_equal(parse_ok("0x00000329"), 809);
    assert_int_equal(parse_ok("1234567"), 1234567); /* 7 digits: decimal */
}

static void test_parse_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"",           "abc",         "0x1234567890", "99999999999", "0x",
                         "-",          "+809",        " 809",         "809 ",        "-0x1",
                         "4294967296", "-2147483649", "12a",          "0x12345g",    "1234567g",
                         "8OO B0101",  "0x-1",        "1e3",          "800b01012",   "--1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int32_t v = 777;
        if (catalog_parse_code(bad[i], &v))
            fail_msg("\"%s\" was accepted as %d", bad[i], (int)v);
        assert_int_equal(v, 777); /* untouched */
    }
    int32_t v = 777;
    assert_false(catalog_parse_code(NULL, &v));
    assert_int_equal(v, 777);
    char longs[64];
    memset(longs, '0', sizeof(longs) - 2);
    longs[sizeof(longs) - 2] = '1';
    longs[sizeof(longs) - 1] = '\0';
    assert_false(catalog_parse_code(longs, &v));
}

static void test_code_forms(void **state)
{
    (void)state;
    struct catalog_forms f;

    catalog_code_forms(809, &f);
    assert_string_equal(f.hex, "0x329");
    assert_string_equal(f.decimal, "809");
    assert_false(f.is_hresult);
    assert_int_equal(f.facility, 0);
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_NONE);
    assert_int_equal(f.win32_code, -1);

    catalog_code_forms(13801, &f);
    assert_string_equal(f.hex, "0x35E9");

    catalog_code_forms(0, &f);
    assert_string_equal(f.hex, "0x0");

    catalog_code_forms(-2147024832, &f); /* 0x80070040: wrapped Win32 64 */
    assert_string_equal(f.hex, "0x80070040");
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_WIN32);
    assert_int_equal(f.facility, 7);
    assert_int_equal(f.win32_code, 64);

    catalog_code_forms(-2146885613, &f); /* 0x80092013 */
    assert_string_equal(f.hex, "0x80092013");
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_SECURITY);
    assert_string_equal(catalog_facility_name(f.facility_kind), "security");

    catalog_code_forms(parse_ok("0x80420001"), &f);
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_EAPHOST);
    assert_string_equal(catalog_facility_name(f.facility_kind), "eaphost");

    catalog_code_forms(parse_ok("0x80004005"), &f); /* E_FAIL, FACILITY_NULL */
    assert_int_equal(f.facility_kind, CATALOG_FACILITY_OTHER);
    assert_string_equal(f.decimal, "-2147467259");

    catalog_code_forms(INT32_MIN, &f);
    assert_string_equal(f.hex, "0x80000000");
    assert_string_equal(f.decimal, "-2147483648");
}

/* ---- specific entries ---- */

static void test_809_vpn_timeout(void **state)
{
    (void)state;
    const struct catalog_entry *e = catalog_lookup(809);
    assert_non_null(e);
    assert_int_equal(e->code, 809);
    assert_string_equal(e->symbol, "ERROR_VPN_TIMEOUT");
    assert_int_equal(e->component, CATALOG_COMPONENT_FIREWALL_NAT);
    assert_string_equal(catalog_component_name(e->component), "firewall_nat");
    assert_int_equal(e->protocol, CATALOG_PROTOCOL_BOTH);
    assert_int_equal(e->basis, CATALOG_BASIS_DOCUMENTED);
    assert_int_equal(e->disconnect, CATALOG_DISCONNECT_NONE);
    assert_non_null(e->powershell);
    assert_non_null(strstr(e->powershell, "EnableServerFragmentation"));
    assert_non_null(strstr(e->remediation, "UDP 500 and 4500"));
    bool found = false;
    for (size_t i = 0; i < catalog_ref_count(e); i++)
        found |= strcmp(e->references[i], "https://directaccess.richardhicks.com/2019/02/14/"
                                          "troubleshooting-always-on-vpn-error-code-809/") == 0;
    assert_true(found);
    assert_null(catalog_lookup_reason(809)); /* an error code, not a 20226 reason */
}

static void test_crypt_not_found_is_not_revocation(void **state)
{
    (void)state;
    const struct catalog_entry *e = catalog_lookup(-2146885628);
    assert_non_null(e);
    assert_string_equal(e->symbol, "CRYPT_E_NOT_FOUND");
    assert_null(strstr(e->symbol, "REVOCATION"));
    assert_int_not_equal(e->component, CATALOG_COMPONENT_CA_CRL);
    assert_int_equal(e->basis, CATALOG_BASIS_GENERIC);
    assert_non_null(strstr(e->remediation, "not a revocation error"));

    e = catalog_lookup(-2146885614);
    assert_non_null(e);
    assert_string_equal(e->symbol, "CRYPT_E_NO_REVOCATION_CHECK");
    e = catalog_lookup(-2146885613);
    assert_non_null(e);
    assert_string_equal(e->symbol, "CRYPT_E_REVOCATION_OFFLINE");
    assert_int_equal(e->component, CATALOG_COMPONENT_CA_CRL);
    assert_int_equal(e->protocol, CATALOG_PROTOCOL_SSTP);
}

static void test_documented_powershell(void **state)
{
    (void)state;
    const struct catalog_entry *e = catalog_lookup(853);
    assert_non_null(e);
    assert_string_equal(e->symbol, "ERROR_EAP_USER_CERT_INVALID");
    assert_int_equal(e->component, CATALOG_COMPONENT_NPS);
    assert_non_null(strstr(e->powershell, "certutil -enterprise -viewstore NTAuth"));

    e = catalog_lookup(13868);
    assert_non_null(e);
    assert_string_equal(e->symbol, "ERROR_IPSEC_IKE_POLICY_MATCH");
    assert_int_equal(e->component, CATALOG_COMPONENT_IKE_POLICY);
    assert_int_equal(e->protocol, CATALOG_PROTOCOL_IKEV2);
    assert_non_null(strstr(e->powershell, "Get-VpnServerIPsecConfiguration"));
    assert_non_null(strstr(e->powershell, "-ExpandProperty IPsecCustomPolicy"));

    e = catalog_lookup(13806);
    assert_non_null(e);
    assert_string_equal(e->symbol, "ERROR_IPSEC_IKE_NO_CERT");
    assert_int_equal(e->component, CATALOG_COMPONENT_CLIENT_CERTIFICATE);

    e = catalog_lookup(812);
    assert_non_null(e);
    assert_string_equal(e->symbol, "ERROR_SERVER_POLICY");
    assert_non_null(strstr(e->powershell, "auditpol"));
}

static void test_reason_codes(void **state)
{
    (void)state;
    const int32_t loss[] = {628, 629, 630, 829, 834, 843, 844};
    const int32_t benign[] = {631, 828, 830, 831, 832, 833};
    for (size_t i = 0; i < sizeof(loss) / sizeof(loss[0]); i++) {
        const struct catalog_entry *e = catalog_lookup_reason(loss[i]);
        if (!e)
            fail_msg("reason %d missing", (int)loss[i]);
        assert_int_equal(e->disconnect, CATALOG_DISCONNECT_TUNNEL_LOSS);
        assert_string_equal(catalog_disconnect_name(e->disconnect), "tunnel_loss");
    }
    for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
        const struct catalog_entry *e = catalog_lookup_reason(benign[i]);
        if (!e)
            fail_msg("reason %d missing", (int)benign[i]);
        assert_int_equal(e->disconnect, CATALOG_DISCONNECT_BENIGN);
    }
    assert_string_equal(catalog_lookup_reason(833)->symbol, "ERROR_SYSTEM_SUSPENDED");
    assert_string_equal(catalog_lookup_reason(629)->symbol, "ERROR_REMOTE_DISCONNECTION");
    assert_null(catalog_lookup_reason(4242));
    assert_null(catalog_lookup_reason(13801));

    size_t reasons = 0;
    for (size_t i = 0; i < catalog_count(); i++)
        reasons += catalog_at(i)->disconnect != CATALOG_DISCONNECT_NONE;
    assert_int_equal(reasons, 13);
}

static void test_required_codes_present(void **state)
{
    (void)state;
    static const struct {
        int32_t code;
        const char *symbol;
    } want[] = {
        {691, "ERROR_AUTHENTICATION_FAILURE"},
        {703, "ERROR_INTERACTIVE_MODE"},
        {720, "ERROR_PPP_NO_PROTOCOLS_CONFIGURED"},
        {800, "ERROR_AUTOMATIC_VPN_FAILED"},
        {801, "ERROR_VALIDATING_SERVER_CERT"},
        {806, "ERROR_VPN_GRE_BLOCKED"},
        {807, "ERROR_VPN_DISCONNECT"},
        {808, "ERROR_VPN_REFUSED"},
        {809, "ERROR_VPN_TIMEOUT"},
        {810, "ERROR_VPN_BAD_CERT"},
        {811, "ERROR_VPN_BAD_PSK"},
        {812, "ERROR_SERVER_POLICY"},
        {813, "ERROR_BROADBAND_ACTIVE"},
        {825, "ERROR_INVALID_VPNSTRATEGY"},
        {827, "ERROR_IPSEC_SERVICE_STOPPED"},
        {835, "ERROR_INVALID_SERVER_CERT"},
        {848, "ERROR_SSTP_COOKIE_SET_FAILURE"},
        {853, "ERROR_EAP_USER_CERT_INVALID"},
        {854, "ERROR_EAP_USER_CERT_EXPIRED"},
        {855, "ERROR_EAP_USER_CERT_REVOKED"},
        {856, "ERROR_EAP_USER_CERT_OTHER_ERROR"},
        {857, "ERROR_EAP_SERVER_CERT_INVALID"},
        {858, "ERROR_EAP_SERVER_CERT_EXPIRED"},
        {859, "ERROR_EAP_SERVER_CERT_REVOKED"},
        {860, "ERROR_EAP_SERVER_CERT_OTHER_ERROR"},
        {861, "ERROR_EAP_USER_ROOT_CERT_NOT_FOUND"},
        {862, "ERROR_EAP_USER_ROOT_CERT_INVALID"},
        {863, "ERROR_EAP_USER_ROOT_CERT_EXPIRED"},
        {864, "ERROR_EAP_SERVER_ROOT_CERT_NOT_FOUND"},
        {865, "ERROR_EAP_SERVER_ROOT_CERT_INVALID"},
        {866, "ERROR_EAP_SERVER_ROOT_CERT_NAME_REQUIRED"},
        {867, "ERROR_PEAP_IDENTITY_MISMATCH"},
        {868, "ERROR_DNSNAME_NOT_RESOLVABLE"},
        {869, "ERROR_EAPTLS_PASSWD_INVALID"},
        {633, "ERROR_PORT_NOT_AVAILABLE"},
        {628, "ERROR_DISCONNECTION"},
        {629, "ERROR_REMOTE_DISCONNECTION"},
        {630, "ERROR_HARDWARE_FAILURE"},
        {631, "ERROR_USER_DISCONNECTION"},
        {828, "ERROR_IDLE_TIMEOUT"},
        {829, "ERROR_LINK_FAILURE"},
        {830, "ERROR_USER_LOGOFF"},
        {831, "ERROR_FAST_USER_SWITCH"},
        {832, "ERROR_HIBERNATION"},
        {833, "ERROR_SYSTEM_SUSPENDED"},
        {834, "ERROR_RASMAN_SERVICE_STOPPED"},
        {843, "ERROR_MOBIKE_DISABLED"},
        {844, "ERROR_CANNOT_INITIATE_MOBIKE_UPDATE"},
        {13801, "ERROR_IPSEC_IKE_AUTH_FAIL"},
        {13806, "ERROR_IPSEC_IKE_NO_CERT"},
        {13817, "ERROR_IPSEC_IKE_CRL_FAILED"},
        {13825, "ERROR_IPSEC_IKE_NO_POLICY"},
        {13827, "ERROR_IPSEC_IKE_KERBEROS_ERROR"},
        {13843, "ERROR_IPSEC_IKE_INVALID_PAYLOAD"},
        {13848, "ERROR_IPSEC_IKE_PEER_CRL_FAILED"},
        {13868, "ERROR_IPSEC_IKE_POLICY_MATCH"},
        {13881, "ERROR_IPSEC_IKE_INVALID_CERT_KEYLEN"},
        {13887, "ERROR_IPSEC_IKE_CERT_CHAIN_POLICY_MISMATCH"},
        {-2146762495, "CERT_E_EXPIRED"},
        {-2146762487, "CERT_E_UNTRUSTEDROOT"},
        {-2147024832, "HRESULT_FROM_WIN32(ERROR_NETNAME_DELETED)"},
        {-2146885613, "CRYPT_E_REVOCATION_OFFLINE"},
        {-2146885614, "CRYPT_E_NO_REVOCATION_CHECK"},
        {-2146885628, "CRYPT_E_NOT_FOUND"},
        {13, "ERROR_INVALID_DATA"},
        {31, "ERROR_GEN_FAILURE"},
        {50, "ERROR_NOT_SUPPORTED"},
        {87, "ERROR_INVALID_PARAMETER"},
        {1460, "ERROR_TIMEOUT"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct catalog_entry *e = catalog_lookup(want[i].code);
        if (!e)
            fail_msg("code %d missing from the catalogue", (int)want[i].code);
        assert_int_equal(e->code, want[i].code);
        assert_string_equal(e->symbol, want[i].symbol);
    }
    assert_int_equal(catalog_count(), sizeof(want) / sizeof(want[0]));
}

/* ---- table invariants ---- */

static void test_table_sorted_unique(void **state)
{
    (void)state;
    size_t n = catalog_count();
    assert_true(n > 0);
    assert_null(catalog_at(n));
    assert_null(catalog_at(n + 100));
    for (size_t i = 0; i < n; i++) {
        const struct catalog_entry *e = catalog_at(i);
        assert_non_null(e);
        if (i > 0 && !(catalog_at(i - 1)->code < e->code))
            fail_msg("table not strictly ascending at %zu: %d then %d", i,
                     (int)catalog_at(i - 1)->code, (int)e->code);
        assert_ptr_equal(catalog_lookup(e->code), e);
    }
    assert_null(catalog_lookup(4242));
    assert_null(catalog_lookup(INT32_MIN));
    assert_null(catalog_lookup(INT32_MAX));
}

static bool one_sentence(const char *s)
{
    size_t len = strlen(s);
    return len > 1 && s[len - 1] == '.' && strstr(s, ". ") == NULL;
}

static void test_entries_complete(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_entry *e = catalog_at(i);
        int code = (int)e->code;
        if (!e->symbol || !*e->symbol)
            fail_msg("%d: no symbol", code);
        if (!e->meaning || !one_sentence(e->meaning))
            fail_msg("%d: meaning is not one sentence: %s", code, e->meaning);
        if (!e->remediation || strlen(e->remediation) < 40)
            fail_msg("%d: remediation missing or too short", code);
        bool generic = e->basis == CATALOG_BASIS_GENERIC;
        bool says_no_source = strstr(e->remediation, "No AOVPN-specific source") != NULL;
        if (generic != says_no_source)
            fail_msg("%d: basis %s but the 'No AOVPN-specific source' remark is %s", code,
                     catalog_basis_name(e->basis), says_no_source ? "present" : "absent");
        if (catalog_ref_count(e) == 0 && !says_no_source)
            fail_msg("%d: no reference and no 'no AOVPN-specific source' remark", code);
        if (e->component == CATALOG_COMPONENT_UNKNOWN && !generic)
            fail_msg("%d: component unknown although the cause is not generic", code);
        if (e->protocol == CATALOG_PROTOCOL_UNKNOWN && !generic)
            fail_msg("%d: protocol unknown although the cause is not generic", code);
        for (size_t r = 0; r < catalog_ref_count(e); r++)
            if (strncmp(e->references[r], "http://", 7) != 0 &&
                strncmp(e->references[r], "https://", 8) != 0)
                fail_msg("%d: reference %zu is not a URL: %s", code, r, e->references[r]);
        if (!is_printable_ascii(e->symbol) || !is_printable_ascii(e->meaning) ||
            !is_printable_ascii(e->remediation) ||
            (e->powershell && !is_printable_ascii(e->powershell)))
            fail_msg("%d: non-ASCII or control character in a text", code);
        if (e->powershell && !*e->powershell)
            fail_msg("%d: empty powershell (use NULL)", code);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_CLIENT_CERTIFICATE),
                        "client_certificate");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_NPS), "nps");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_RRAS), "rras");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_CA_CRL), "ca_crl");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_FIREWALL_NAT), "firewall_nat");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_IKE_POLICY), "ike_policy");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_DNS), "dns");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_CLIENT_CONFIG), "client_config");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_CLIENT_OS), "client_os");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_NETWORK), "network");
    assert_string_equal(catalog_component_name(CATALOG_COMPONENT_UNKNOWN), "unknown");
    assert_string_equal(catalog_component_name((enum catalog_component)99), "unknown");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_IKEV2), "ikev2");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_SSTP), "sstp");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_BOTH), "both");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_L2TP), "l2tp");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_PPTP), "pptp");
    assert_string_equal(catalog_protocol_name(CATALOG_PROTOCOL_UNKNOWN), "unknown");
    assert_string_equal(catalog_protocol_name((enum catalog_protocol)99), "unknown");
    assert_string_equal(catalog_basis_name(CATALOG_BASIS_INFERRED), "inferred");
    assert_string_equal(catalog_disconnect_name(CATALOG_DISCONNECT_BENIGN), "benign");
    assert_string_equal(catalog_facility_name(CATALOG_FACILITY_WIN32), "win32");
}

/* ---- JSON ---- */

static void test_json_unknown_code(void **state)
{
    (void)state;
    struct buf raw = BUF_INIT;
    assert_null(catalog_lookup(4242));
    cJSON *j = json_for(4242, &raw);
    assert_string_equal(raw.data, "{\"code\":4242,\"hex\":\"0x1092\",\"known\":false}");
    assert_int_equal((int)jnum(j, "code"), 4242);
    assert_string_equal(jstr(j, "hex"), "0x1092");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "known")));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "symbol"));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "remediation"));
    cJSON_Delete(j);

    /* an unknown wrapped Win32 HRESULT: 0x80070005 (access denied) */
    j = json_for(parse_ok("0x80070005"), &raw);
    assert_int_equal((int)jnum(j, "code"), -2147024891);
    assert_string_equal(jstr(j, "hex"), "0x80070005");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "known")));
    assert_string_equal(jstr(j, "facility"), "win32");
    assert_int_equal((int)jnum(j, "win32_code"), 5);
    cJSON_Delete(j);

    j = json_for(parse_ok("0x80420010"), &raw);
    assert_string_equal(jstr(j, "facility"), "eaphost");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "win32_code"));
    cJSON_Delete(j);
    buf_free(&raw);
}

static void test_json_known_code(void **state)
{
    (void)state;
    struct buf raw = BUF_INIT;
    const struct catalog_entry *e = catalog_lookup(809);
    cJSON *j = json_for(809, &raw);
    assert_int_equal((int)jnum(j, "code"), 809);
    assert_string_equal(jstr(j, "hex"), "0x329");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "known")));
    assert_string_equal(jstr(j, "symbol"), "ERROR_VPN_TIMEOUT");
    assert_string_equal(jstr(j, "meaning"), e->meaning);
    assert_string_equal(jstr(j, "component"), "firewall_nat");
    assert_string_equal(jstr(j, "protocol"), "both");
    assert_string_equal(jstr(j, "basis"), "documented");
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "facility"));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "disconnect"));
    const cJSON *rem = cJSON_GetObjectItemCaseSensitive(j, "remediation");
    assert_true(cJSON_IsObject(rem));
    assert_string_equal(jstr(rem, "text"), e->remediation);
    assert_string_equal(jstr(rem, "powershell"), e->powershell);
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(rem, "references");
    assert_true(cJSON_IsArray(refs));
    assert_int_equal(cJSON_GetArraySize(refs), (int)catalog_ref_count(e));
    assert_int_equal(cJSON_GetArraySize(refs), 5);
    for (int i = 0; i < cJSON_GetArraySize(refs); i++)
        assert_string_equal(cJSON_GetArrayItem(refs, i)->valuestring, e->references[i]);
    cJSON_Delete(j);

    /* HRESULT entry: facility and wrapped Win32 code */
    j = json_for(-2147024832, &raw);
    assert_string_equal(jstr(j, "hex"), "0x80070040");
    assert_string_equal(jstr(j, "facility"), "win32");
    assert_int_equal((int)jnum(j, "win32_code"), 64);
    cJSON_Delete(j);

    j = json_for(CERT_E_EXPIRED_DEC, &raw);
    assert_string_equal(jstr(j, "symbol"), "CERT_E_EXPIRED");
    assert_string_equal(jstr(j, "facility"), "cert");
    assert_int_equal((int)jnum(j, "code"), CERT_E_EXPIRED_DEC);
    cJSON_Delete(j);

    /* no PowerShell: the key is omitted, not null */
    assert_null(catalog_lookup(13825)->powershell);
    j = json_for(13825, &raw);
    rem = cJSON_GetObjectItemCaseSensitive(j, "remediation");
    assert_null(cJSON_GetObjectItemCaseSensitive(rem, "powershell"));
    assert_string_equal(jstr(j, "basis"), "generic");
    cJSON_Delete(j);

    /* reason code: disconnect class */
    j = json_for(833, &raw);
    assert_string_equal(jstr(j, "disconnect"), "benign");
    cJSON_Delete(j);
    j = json_for(829, &raw);
    assert_string_equal(jstr(j, "disconnect"), "tunnel_loss");
    cJSON_Delete(j);
    buf_free(&raw);
}

static void test_json_escaping(void **state)
{
    (void)state;
    struct buf raw = BUF_INIT;

    /* quotes */
    const struct catalog_entry *e = catalog_lookup(812);
    cJSON *j = json_for(812, &raw);
    assert_non_null(strstr(e->powershell, "\"Network Policy Server\""));
    assert_non_null(strstr(raw.data, "\\\"Network Policy Server\\\""));
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "remediation"), "powershell"),
                        e->powershell);
    cJSON_Delete(j);

    /* backslashes */
    e = catalog_lookup(809);
    j = json_for(809, &raw);
    assert_non_null(strstr(raw.data, "HKLM:\\\\SYSTEM\\\\CurrentControlSet"));
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "remediation"), "powershell"),
                        e->powershell);
    cJSON_Delete(j);

    /* angle brackets (HTML-safe escapes) and a newline */
    e = catalog_lookup(13868);
    assert_non_null(strchr(e->powershell, '\n'));
    j = json_for(13868, &raw);
    assert_non_null(strstr(raw.data, "\\u003cprofile\\u003e"));
    assert_non_null(strstr(raw.data, "\\n"));
    assert_null(strchr(raw.data, '\n'));
    assert_null(strchr(raw.data, '<'));
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "remediation"), "powershell"),
                        e->powershell);
    cJSON_Delete(j);

    /* every entry round-trips */
    for (size_t i = 0; i < catalog_count(); i++) {
        e = catalog_at(i);
        j = json_for(e->code, &raw);
        assert_string_equal(jstr(j, "symbol"), e->symbol);
        assert_string_equal(jstr(j, "meaning"), e->meaning);
        assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "remediation"), "text"),
                            e->remediation);
        cJSON_Delete(j);
    }
    buf_free(&raw);
}

static void test_json_appends_and_checks_code(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    assert_int_equal(buf_append_str(&b, "["), RF_OK);
    /* entry and code disagree: refused, buffer untouched */
    assert_int_equal(catalog_entry_to_json(catalog_lookup(809), 810, &b), RF_EINVAL);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "[");

    assert_int_equal(catalog_entry_to_json(catalog_lookup(809), 809, &b), RF_OK);
    assert_int_equal(buf_append_char(&b, ','), RF_OK);
    assert_int_equal(catalog_entry_to_json(NULL, 4242, &b), RF_OK);
    assert_int_equal(buf_append_char(&b, ']'), RF_OK);
    cJSON *arr = cJSON_Parse(b.data);
    assert_non_null(arr);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    assert_int_equal((int)jnum(cJSON_GetArrayItem(arr, 0), "code"), 809);
    assert_int_equal((int)jnum(cJSON_GetArrayItem(arr, 1), "code"), 4242);
    cJSON_Delete(arr);
    buf_free(&b);
}

/* ---- docs/catalogue.md agrees with the table ---- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n) != RF_OK)
            break;
    fclose(f);
    return buf_detach(&b, NULL);
}

static void test_doc_agrees_with_table(void **state)
{
    (void)state;
    const char *path = RF_FIXTURES "/../../docs/catalogue.md";
    char *doc = read_file(path);
    if (!doc)
        fail_msg("cannot read %s", path);
    for (size_t i = 0; i < catalog_count(); i++) {
        const struct catalog_entry *e = catalog_at(i);
        struct catalog_forms f;
        catalog_code_forms(e->code, &f);
        char want[256];
        snprintf(want, sizeof(want), "\n| %s | %s | `%s` |", f.decimal, f.hex, e->symbol);
        const char *row = strstr(doc, want);
        if (!row)
            fail_msg("docs/catalogue.md has no row starting \"%s\"", want + 1);
        const char *end = strchr(row + 1, '\n');
        size_t row_len = end ? (size_t)(end - row) : strlen(row);
        char line[2048];
        snprintf(line, sizeof(line), "%.*s", (int)row_len, row);
        char cell[96];
        snprintf(cell, sizeof(cell), "| %s | %s | %s | %s |", catalog_component_name(e->component),
                 catalog_protocol_name(e->protocol), catalog_basis_name(e->basis),
                 e->disconnect != CATALOG_DISCONNECT_NONE ? catalog_disconnect_name(e->disconnect)
                                                          : "");
        if (!strstr(line, cell))
            fail_msg("row for %s lacks \"%s\": %s", f.decimal, cell, line + 1);
        /* the remediation section carries the same text */
        if (!strstr(doc, e->remediation))
            fail_msg("docs/catalogue.md lacks the remediation text of %s", f.decimal);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cert_expired_all_forms),
        cmocka_unit_test(test_parse_other_forms),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_code_forms),
        cmocka_unit_test(test_809_vpn_timeout),
        cmocka_unit_test(test_crypt_not_found_is_not_revocation),
        cmocka_unit_test(test_documented_powershell),
        cmocka_unit_test(test_reason_codes),
        cmocka_unit_test(test_required_codes_present),
        cmocka_unit_test(test_table_sorted_unique),
        cmocka_unit_test(test_entries_complete),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_json_unknown_code),
        cmocka_unit_test(test_json_known_code),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_appends_and_checks_code),
        cmocka_unit_test(test_doc_agrees_with_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
