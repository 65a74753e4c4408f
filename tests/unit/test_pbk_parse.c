/*
 * test_pbk_parse.c - rasphone.pbk reader (pbk_parse.c): the fixtures in
 * UTF-8 and UTF-16LE, sub-blocks, CustomAuthData redaction, the
 * CustomIPSecPolicies decoder, and malformed phonebooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "pbk_parse.h"
#include "rasfleet/result.h"

#define T0 1795161900000LL /* collection time used in every test */

static char *read_fixture(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

struct reports {
    size_t n;
    struct parse_report r[16];
};

static void collect(void *ctx, const struct parse_report *r)
{
    struct reports *rs = ctx;
    if (rs->n < 16)
        rs->r[rs->n] = *r;
    rs->n++;
}

static const char *setting(const struct rf_pbk_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_settings; i++)
        if (strcmp(e->settings[i].key, key) == 0)
            return e->settings[i].value;
    return NULL;
}

static long setting_index(const struct rf_pbk_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_settings; i++)
        if (strcmp(e->settings[i].key, key) == 0)
            return (long)i;
    return -1;
}

/* Parses a string literal as text; returns rc. */
static int parse_str(const char *text, struct rf_arena *a, struct reports *rs,
                     struct pbk_parse_result *out)
{
    struct parse_sink sink = {"test.pbk", collect, rs, 0, 0};
    return pbk_parse_text(text, strlen(text), RF_SCOPE_USER, T0, a, &sink, out);
}

static void check_user_entry(const struct pbk_parse_result *res)
{
    assert_int_equal(res->n_entries, 1);
    const struct pbk_parsed_entry *pe = &res->entries[0];
    const struct rf_pbk_entry *e = &pe->record.u.pbk;
    assert_int_equal(pe->record.kind, RF_KIND_PBK_ENTRY);
    assert_int_equal(pe->record.time_ms, T0);
    assert_int_equal(pe->line, 1);
    assert_int_equal(e->scope, RF_SCOPE_USER);
    assert_string_equal(e->connection, "Always On VPN");
    assert_int_equal(e->n_settings, 123);
    assert_string_equal(e->settings[0].key, "Encoding");
    assert_string_equal(e->settings[0].value, "1");
    assert_string_equal(setting(e, "IpInterfaceMetric"), "3");
    assert_int_equal(setting_index(e, "IpInterfaceMetric"), 52);
    assert_string_equal(setting(e, "VpnStrategy"), "14");
    assert_string_equal(setting(e, "PreferredDevice"), "WAN Miniport (IKEv2)");
    assert_string_equal(setting(e, "CustomDialDll"), "");
    assert_string_equal(setting(e, "IpDnsSuffix"), "corp.example.net");
    /* the EAP blob (two lines, 48 + 16 hex digits) is never exported */
    assert_int_equal(setting_index(e, "CustomAuthData"), 49);
    assert_string_equal(setting(e, "CustomAuthData"),
                        "<redacted:32 bytes fnv1a64:b66cf3b4fdd2c215>");
    /* PhoneNumber of DEVICE=vpn, last; sub-block keys are not settings */
    assert_int_equal(setting_index(e, "PhoneNumber"), 122);
    assert_string_equal(setting(e, "PhoneNumber"), "vpn.example.net");
    assert_null(setting(e, "Device"));
    assert_null(setting(e, "Port"));
    assert_null(setting(e, "ms_msclient"));
    assert_null(setting(e, "MEDIA"));
    assert_null(setting(e, "TryNextAlternateOnFail"));
    assert_false(pe->has_ipsec);
}

static void test_user_utf8_fixture(void **state)
{
    (void)state;
    size_t len;
    char *raw = read_fixture("pbk/aovpn-user-utf8.pbk", &len);
    struct rf_arena a;
    struct reports rs = {0};
    struct parse_sink sink = {"aovpn-user-utf8.pbk", collect, &rs, 0, 0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(pbk_parse_text(raw, len, RF_SCOPE_USER, T0, &a, &sink, &res), RF_OK);
    assert_int_equal(rs.n, 0);
    check_user_entry(&res);
    rf_arena_free(&a);
    free(raw);
}

static void test_user_utf16le_gives_same_record(void **state)
{
    (void)state;
    size_t n8, n16;
    char *u8 = read_fixture("pbk/aovpn-user-utf8.pbk", &n8);
    char *u16 = read_fixture("pbk/aovpn-user-utf16le.pbk", &n16);
    struct rf_arena a;
    struct reports rs = {0};
    struct parse_sink sink = {NULL, collect, &rs, 0, 0};
    struct pbk_parse_result r8, r16;
    rf_arena_init(&a);
    assert_int_equal(pbk_parse_bytes(u8, n8, RF_SCOPE_USER, T0, &a, &sink, &r8), RF_OK);
    assert_int_equal(pbk_parse_bytes(u16, n16, RF_SCOPE_USER, T0, &a, &sink, &r16), RF_OK);
    assert_int_equal(rs.n, 0);
    check_user_entry(&r16);
    const struct rf_pbk_entry *e8 = &r8.entries[0].record.u.pbk;
    const struct rf_pbk_entry *e16 = &r16.entries[0].record.u.pbk;
    assert_string_equal(e8->connection, e16->connection);
    assert_int_equal(e8->n_settings, e16->n_settings);
    for (size_t i = 0; i < e8->n_settings; i++) {
        assert_string_equal(e8->settings[i].key, e16->settings[i].key);
        assert_string_equal(e8->settings[i].value, e16->settings[i].value);
    }
    rf_arena_free(&a);
    free(u8);
    free(u16);
}

static void test_allusers_two_entries_and_blob(void **state)
{
    (void)state;
    size_t len;
    char *raw = read_fixture("pbk/allusers-two-entries.pbk", &len);
    struct rf_arena a;
    struct reports rs = {0};
    struct parse_sink sink = {NULL, collect, &rs, 0, 0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(pbk_parse_bytes(raw, len, RF_SCOPE_ALL_USERS, T0, &a, &sink, &res), RF_OK);
    assert_int_equal(rs.n, 0);
    assert_int_equal(res.n_entries, 2);
    const struct pbk_parsed_entry *dev = &res.entries[0], *leg = &res.entries[1];
    assert_string_equal(dev->record.u.pbk.connection, "Always On VPN Device Tunnel");
    assert_int_equal(dev->record.u.pbk.scope, RF_SCOPE_ALL_USERS);
    assert_int_equal(dev->line, 1);
    assert_string_equal(setting(&dev->record.u.pbk, "VpnStrategy"), "7");
    assert_string_equal(setting(&dev->record.u.pbk, "DeviceTunnel"), "1");
    assert_string_equal(setting(&dev->record.u.pbk, "IpInterfaceMetric"), "4");
    assert_null(setting(&dev->record.u.pbk, "CustomAuthData"));
    assert_string_equal(setting(&dev->record.u.pbk, "CustomIPSecPolicies"),
                        "020000000600000005000000080000000500000000000000");
    assert_true(dev->has_ipsec);
    assert_string_equal(dev->ipsec.integrity_check_method, "SHA256");
    assert_string_equal(dev->ipsec.encryption_method, "GCMAES256");
    assert_string_equal(dev->ipsec.auth_transform, "GCMAES256");
    assert_string_equal(dev->ipsec.cipher_transform, "GCMAES256");
    assert_string_equal(dev->ipsec.dh_group, "ECP384");
    assert_string_equal(dev->ipsec.pfs_group, "None");

    assert_string_equal(leg->record.u.pbk.connection, "Contoso Legacy VPN");
    assert_int_equal(leg->line, 145);
    assert_string_equal(setting(&leg->record.u.pbk, "IpInterfaceMetric"), "0");
    assert_string_equal(setting(&leg->record.u.pbk, "NumCustomPolicy"), "0");
    assert_false(leg->has_ipsec);
    assert_int_equal(leg->record.u.pbk.n_settings, 123);
    rf_arena_free(&a);
    free(raw);
}

static void test_decode_ipsec_blob(void **state)
{
    (void)state;
    struct rf_arena a;
    struct rf_ipsec_policy p;
    rf_arena_init(&a);
    assert_int_equal(
        pbk_decode_ipsec_blob("030000000600000005000000080000000500000005000000", &a, &p), RF_OK);
    assert_string_equal(p.integrity_check_method, "SHA384");
    assert_string_equal(p.encryption_method, "GCMAES256");
    assert_string_equal(p.auth_transform, "GCMAES256");
    assert_string_equal(p.cipher_transform, "GCMAES256");
    assert_string_equal(p.dh_group, "ECP384");
    assert_string_equal(p.pfs_group, "ECP384");
    /* unknown numbers are never guessed; bytes are little-endian */
    assert_int_equal(
        pbk_decode_ipsec_blob("09000000000100000000000000000000060000000700000a", &a, &p), RF_OK);
    assert_string_equal(p.integrity_check_method, "unknown(9)");
    assert_string_equal(p.encryption_method, "unknown(256)");
    assert_string_equal(p.auth_transform, "MD596");
    assert_string_equal(p.cipher_transform, "unknown(0)");
    assert_string_equal(p.dh_group, "Group24");
    assert_string_equal(p.pfs_group, "unknown(167772167)");
    /* wrong length, non-hex */
    memset(&p, 0, sizeof(p));
    assert_int_equal(pbk_decode_ipsec_blob("0200000006000000050000000800000005000000", &a, &p),
                     RF_EFORMAT);
    assert_int_equal(
        pbk_decode_ipsec_blob("0200000006000000050000000800000005000000000000000", &a, &p),
        RF_EFORMAT);
    assert_int_equal(
        pbk_decode_ipsec_blob("02000000060000000500000008000000050000000000000G", &a, &p),
        RF_EFORMAT);
    assert_int_equal(pbk_decode_ipsec_blob("", &a, &p), RF_EFORMAT);
    assert_null(p.dh_group);
    assert_string_equal(pbk_ipsec_enum_name(PBK_IPSEC_DH_GROUP, 3), "Group14");
    assert_null(pbk_ipsec_enum_name(PBK_IPSEC_INTEGRITY, 4));
    rf_arena_free(&a);
}

static void test_blob_of_wrong_length_is_reported(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(parse_str("[Dev]\nNumCustomPolicy=1\nCustomIPSecPolicies=0200000006\n"
                               "DeviceTunnel=1\n",
                               &a, &rs, &res),
                     RF_OK);
    assert_int_equal(res.n_entries, 1);
    assert_false(res.entries[0].has_ipsec);
    assert_string_equal(setting(&res.entries[0].record.u.pbk, "CustomIPSecPolicies"), "0200000006");
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].line, 3);
    assert_false(rs.r[0].fatal);
    assert_string_equal(rs.r[0].path, "test.pbk");
    assert_non_null(strstr(rs.r[0].reason, "CustomIPSecPolicies is malformed"));
    rf_arena_free(&a);
}

static void test_section_without_keys(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(parse_str("[Empty]\r\n\r\n[Next]\r\nA=1\r\n[Last]", &a, &rs, &res), RF_OK);
    assert_int_equal(rs.n, 0);
    assert_int_equal(res.n_entries, 3);
    assert_string_equal(res.entries[0].record.u.pbk.connection, "Empty");
    assert_int_equal(res.entries[0].record.u.pbk.n_settings, 0);
    assert_non_null(res.entries[0].record.u.pbk.settings);
    assert_int_equal(res.entries[1].record.u.pbk.n_settings, 1);
    assert_int_equal(res.entries[1].line, 3);
    assert_string_equal(res.entries[2].record.u.pbk.connection, "Last");
    assert_int_equal(res.entries[2].record.u.pbk.n_settings, 0);
    rf_arena_free(&a);
}

static void test_rules_of_keys_and_sub_blocks(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    const char *text = "[VPN Caf\xC3\xA9]\n"
                       "A=first\n"
                       "a=second\n"                    /* duplicate (case-insensitive) */
                       "Spaced = value with spaces \n" /* value kept byte for byte */
                       "CustomAuthData=0A0B\n"
                       "Eq=x=y\n"
                       "PreSharedKey=\n"
                       "ApnInfoPassword=hunter2\n"
                       "CustomAuthData=0C\n"
                       "MEDIA=rastapi\n"
                       "Device=WAN Miniport (SSTP)\n"
                       "PhoneNumber=not-this\n"
                       "DEVICE=vpn\n"
                       "PhoneNumber=vpn.example.net\n"
                       "Extra=1\n"
                       "DEVICE=vpn\n"
                       "PhoneNumber=alternate.example.net\n";
    assert_int_equal(parse_str(text, &a, &rs, &res), RF_OK);
    assert_int_equal(rs.n, 0);
    assert_int_equal(res.n_entries, 1);
    const struct rf_pbk_entry *e = &res.entries[0].record.u.pbk;
    assert_string_equal(e->connection, "VPN Caf\xC3\xA9");
    assert_int_equal(e->n_settings, 7);
    assert_string_equal(e->settings[0].key, "A");
    assert_string_equal(e->settings[0].value, "first");
    assert_string_equal(e->settings[1].key, "Spaced");
    assert_string_equal(e->settings[1].value, " value with spaces ");
    assert_string_equal(e->settings[2].key, "CustomAuthData");
    assert_string_equal(e->settings[2].value, "<redacted:3 bytes fnv1a64:f2cf8db97a6bd46d>");
    assert_string_equal(e->settings[3].value, "x=y");
    assert_string_equal(e->settings[4].key, "PreSharedKey");
    assert_string_equal(e->settings[4].value, "");
    assert_string_equal(e->settings[5].key, "ApnInfoPassword");
    assert_string_equal(e->settings[5].value, "<redacted>");
    assert_string_equal(e->settings[6].key, "PhoneNumber");
    assert_string_equal(e->settings[6].value, "vpn.example.net");
    rf_arena_free(&a);
}

static void test_bad_lines_are_reported_not_fatal(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    const char *text = "Orphan=1\n"       /* 1: outside any section */
                       "[A]\n"            /* 2 */
                       "no equals sign\n" /* 3 */
                       "; a comment\n"    /* 4: silent */
                       "=empty key\n"     /* 5 */
                       "[broken\n"        /* 6 */
                       "K=v\n"            /* 7 */
                       "[A]\n"            /* 8: duplicate section */
                       "K=other\n"        /* 9 */
                       "[]\n";            /* 10: empty name */
    assert_int_equal(parse_str(text, &a, &rs, &res), RF_OK);
    assert_int_equal(res.n_entries, 1);
    assert_string_equal(res.entries[0].record.u.pbk.connection, "A");
    assert_int_equal(res.entries[0].record.u.pbk.n_settings, 1);
    assert_string_equal(res.entries[0].record.u.pbk.settings[0].value, "v");
    assert_int_equal(rs.n, 6);
    long lines[] = {1, 3, 5, 6, 8, 10};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(rs.r[i].line, lines[i]);
        assert_false(rs.r[i].fatal);
    }
    assert_non_null(strstr(rs.r[4].reason, "duplicate section [A]"));
    rf_arena_free(&a);
}

static void test_no_section_is_fatal(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(parse_str("\n\nEncoding=1\nPBVersion=8\n", &a, &rs, &res), RF_EFORMAT);
    assert_int_equal(res.n_entries, 0);
    assert_int_equal(rs.n, 3); /* two orphan keys, then the fatal report */
    assert_true(rs.r[2].fatal);
    assert_int_equal(rs.r[2].line, 3);
    assert_non_null(strstr(rs.r[2].reason, "no [section] header"));
    /* an empty or blank phonebook is not an error */
    rs.n = 0;
    assert_int_equal(parse_str("", &a, &rs, &res), RF_OK);
    assert_int_equal(res.n_entries, 0);
    assert_int_equal(parse_str("\r\n  \r\n", &a, &rs, &res), RF_OK);
    assert_int_equal(res.n_entries, 0);
    assert_int_equal(rs.n, 0);
    rf_arena_free(&a);
}

static void test_binary_garbage_pbk(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct parse_sink sink = {"garbage.pbk", collect, &rs, 0, 0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    char junk[2048];
    uint32_t s = 99;
    for (size_t i = 0; i < sizeof(junk); i++) {
        s = s * 1103515245u + 12345u;
        junk[i] = (char)(s >> 16);
    }
    assert_int_equal(pbk_parse_bytes(junk, sizeof(junk), RF_SCOPE_USER, T0, &a, &sink, &res),
                     RF_EFORMAT);
    assert_int_equal(res.n_entries, 0);
    assert_int_equal(rs.n, 1);
    assert_true(rs.r[0].fatal);
    assert_true(rs.r[0].line >= 1);
    assert_string_equal(rs.r[0].path, "garbage.pbk");
    assert_non_null(strstr(rs.r[0].reason, "not a text phonebook"));
    /* ASCII control bytes (valid UTF-8, no NUL) after a good line: line 2 */
    rs.n = 0;
    const char ctl[] = "[A]\n\x01\x02\x03\x1b[0m\n";
    assert_int_equal(pbk_parse_bytes(ctl, sizeof(ctl) - 1, RF_SCOPE_USER, T0, &a, &sink, &res),
                     RF_EFORMAT);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].line, 2);
    assert_int_equal(rs.r[0].offset, 4);
    assert_true(rs.r[0].fatal);
    /* invalid UTF-8 on line 3 */
    rs.n = 0;
    const char bad[] = "[A]\r\nK=1\r\nName=Caf\xE9\r\n";
    assert_int_equal(pbk_parse_bytes(bad, sizeof(bad) - 1, RF_SCOPE_USER, T0, &a, &sink, &res),
                     RF_EFORMAT);
    assert_int_equal(rs.r[0].line, 3);
    rf_arena_free(&a);
}

static void test_utf16_without_bom_pbk(void **state)
{
    (void)state;
    const char *text = "[Always On VPN]\r\nIpInterfaceMetric=3\r\nDEVICE=vpn\r\n"
                       "PhoneNumber=vpn.example.net\r\n";
    size_t n = strlen(text);
    char *u16 = malloc(2 * n);
    assert_non_null(u16);
    for (size_t i = 0; i < n; i++) {
        u16[2 * i] = text[i];
        u16[2 * i + 1] = 0;
    }
    struct rf_arena a;
    struct pbk_parse_result res;
    rf_arena_init(&a);
    assert_int_equal(pbk_parse_bytes(u16, 2 * n, RF_SCOPE_USER, T0, &a, NULL, &res), RF_OK);
    assert_int_equal(res.n_entries, 1);
    const struct rf_pbk_entry *e = &res.entries[0].record.u.pbk;
    assert_string_equal(e->connection, "Always On VPN");
    assert_int_equal(e->n_settings, 2);
    assert_string_equal(setting(e, "IpInterfaceMetric"), "3");
    assert_string_equal(setting(e, "PhoneNumber"), "vpn.example.net");
    rf_arena_free(&a);
    free(u16);
}

static void test_limits(void **state)
{
    (void)state;
    struct rf_arena a;
    struct reports rs = {0};
    struct pbk_parse_result res;
    rf_arena_init(&a);
    /* a value over RF_MAX_PBK_VALUE_LEN (16384) is reported and dropped */
    size_t big = 20000;
    char *text = malloc(big + 64);
    assert_non_null(text);
    int k = snprintf(text, 64, "[A]\nBig=");
    memset(text + k, 'x', big);
    strcpy(text + k + big, "\nSmall=1\n");
    assert_int_equal(parse_str(text, &a, &rs, &res), RF_OK);
    assert_int_equal(res.entries[0].record.u.pbk.n_settings, 1);
    assert_string_equal(res.entries[0].record.u.pbk.settings[0].key, "Small");
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].line, 2);
    free(text);
    /* too many sections: RF_ETOOBIG */
    struct buf many = BUF_INIT;
    for (int i = 0; i <= PBK_MAX_ENTRIES; i++)
        assert_int_equal(buf_printf(&many, "[S%d]\n", i), RF_OK);
    rs.n = 0;
    assert_int_equal(parse_str(many.data, &a, &rs, &res), RF_ETOOBIG);
    assert_int_equal(res.n_entries, 0);
    assert_true(rs.r[0].fatal);
    assert_int_equal(rs.r[0].line, PBK_MAX_ENTRIES + 1);
    buf_free(&many);
    rf_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_utf8_fixture),
        cmocka_unit_test(test_user_utf16le_gives_same_record),
        cmocka_unit_test(test_allusers_two_entries_and_blob),
        cmocka_unit_test(test_decode_ipsec_blob),
        cmocka_unit_test(test_blob_of_wrong_length_is_reported),
        cmocka_unit_test(test_section_without_keys),
        cmocka_unit_test(test_rules_of_keys_and_sub_blocks),
        cmocka_unit_test(test_bad_lines_are_reported_not_fatal),
        cmocka_unit_test(test_no_section_is_fatal),
        cmocka_unit_test(test_binary_garbage_pbk),
        cmocka_unit_test(test_utf16_without_bom_pbk),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
