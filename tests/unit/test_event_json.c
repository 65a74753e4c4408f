/*
 * test_event_json.c - RasClient events from PowerShell JSON (event_json.c):
 * the PS7 and PS5.1 fixtures, BOM and UTF-16 input, numbers in Data, other
 * providers, and invalid elements and documents.
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

#include "event_json.h"
#include "rasfleet/result.h"
#include "timeutil.h"

static void assert_time(int64_t ms, const char *expect)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(ms, t, sizeof(t));
    assert_string_equal(t, expect);
}

static int parse(const char *buf, size_t len, struct rf_arena *a, struct recs *rs,
                 struct reports *rp, struct event_parse_stats *st)
{
    struct parse_sink sink = {"events.json", collect, rp, 0, 0};
    memset(rs, 0, sizeof(*rs));
    rp->n = 0;
    return event_json_parse(buf, len, a, keep, rs, &sink, st);
}

static void check_ps7_records(const struct recs *rs)
{
    assert_int_equal(rs->n, 2);
    const struct rf_ras_event *e = &rs->r[0].u.ev;
    assert_time(rs->r[0].time_ms, "2026-11-20T08:01:02.123Z");
    assert_int_equal(e->event_id, 20227);
    assert_int_equal(e->record_id, 418233);
    assert_int_equal(e->level, RF_LEVEL_ERROR);
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "Always On VPN");
    assert_int_equal(e->error_code, 809);
    assert_string_equal(e->coid, "3F2A0C1B-7A44-0000-8E61-0C2B447AD901");
    assert_string_equal(e->message, "CoId={3F2A0C1B-7A44-0000-8E61-0C2B447AD901}: The user "
                                    "CORP\\alice dialed a connection named Always On VPN which "
                                    "has failed. The error code returned on failure is 809.");
    e = &rs->r[1].u.ev;
    assert_time(rs->r[1].time_ms, "2026-11-20T12:44:19.021Z");
    assert_int_equal(e->event_id, 20226);
    assert_int_equal(e->record_id, 418611);
    assert_int_equal(e->level, RF_LEVEL_INFORMATION);
    assert_true(e->has_reason_code);
    assert_int_equal(e->reason_code, 833);
    assert_false(e->has_error_code);
}

static void test_ps7_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("events/rasclient-ps7.json", &len);
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct event_parse_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 2);
    check_ps7_records(&rs);
    rf_arena_free(&a);
    free(js);
}

static void test_ps51_single_fixture(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("events/rasclient-ps51-single.json", &len);
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(js, len, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(rs.n, 1);
    const struct rf_ras_event *e = &rs.r[0].u.ev;
    assert_time(rs.r[0].time_ms, "2026-11-20T08:01:02.123Z");
    assert_int_equal(rs.r[0].time_ms, 1795161662123LL);
    assert_int_equal(e->event_id, 20227);
    assert_int_equal(e->error_code, 809);
    assert_int_equal(e->record_id, 0);          /* 5.1 projection has no RecordId */
    assert_int_equal(e->level, RF_LEVEL_ERROR); /* nor Level: 20227 is an error */
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "Always On VPN");
    assert_string_equal(e->coid, "3F2A0C1B-7A44-0000-8E61-0C2B447AD901");
    assert_null(e->message);
    rf_arena_free(&a);
    free(js);
}

static void test_bom_and_utf16(void **state)
{
    (void)state;
    size_t len;
    char *js = read_fixture("events/rasclient-ps7.json", &len);
    char *bom = malloc(len + 3);
    char *u16 = malloc(2 * len + 2);
    assert_non_null(bom);
    assert_non_null(u16);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, js, len);
    u16[0] = '\xFF';
    u16[1] = '\xFE';
    for (size_t i = 0; i < len; i++) {
        u16[2 + 2 * i] = js[i];
        u16[3 + 2 * i] = 0;
    }
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    assert_int_equal(parse(bom, len + 3, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    check_ps7_records(&rs);
    assert_int_equal(parse(u16, 2 * len + 2, &a, &rs, &rp, NULL), RF_OK);
    check_ps7_records(&rs);
    /* the 5.1 fixture with a BOM (Out-File -Encoding utf8 writes one) */
    free(js);
    js = read_fixture("events/rasclient-ps51-single.json", &len);
    memcpy(bom + 3, js, len);
    assert_int_equal(parse(bom, len + 3, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].u.ev.error_code, 809);
    rf_arena_free(&a);
    free(js);
    free(bom);
    free(u16);
}

static void test_numbers_providers_and_time_object(void **state)
{
    (void)state;
    const char *js =
        "[{\"Id\": 20227, \"RecordId\": 5, \"Level\": 2, \"ProviderName\": \"RasClient\","
        "  \"TimeCreated\": \"2026-11-20T09:15:00+01:00\","
        "  \"Data\": [\"{77e1a2b3-1111-0000-abcd-0123456789ab}\", \"CORP\\\\bob\", \"Always On "
        "VPN\", 2148204801]},"
        " {\"Id\": 16384, \"ProviderName\": \"Microsoft-Windows-Security-SPP\","
        "  \"TimeCreated\": \"2026-11-20T09:15:00Z\"},"
        " {\"id\": 20226, \"recordid\": 6, \"level\": \"Information\","
        "  \"TimeCreated\": {\"value\": \"\\/Date(1795161662123)\\/\", \"DisplayHint\": 2},"
        "  \"Properties\": [{\"Value\": \"{0D9E6A21-3C55-0000-41B2-7F3C90A1D2E4}\"},"
        "                   {\"Value\": \"CORP\\\\alice\"}, {\"Value\": \"Always On VPN\"},"
        "                   {\"Value\": 833}]},"
        " {\"Id\": 20227, \"Level\": 3, \"TimeCreated\": \"2026-11-20T09:15:00Z\","
        "  \"Data\": [\"x\", \"u\", \"c\", -2146885613]}]";
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct event_parse_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 3);
    assert_int_equal(st.skipped_provider, 1);
    assert_int_equal(rs.n, 3);
    assert_int_equal(rs.r[0].u.ev.error_code, -2146762495LL);
    assert_string_equal(rs.r[0].u.ev.coid, "77e1a2b3-1111-0000-abcd-0123456789ab");
    assert_time(rs.r[0].time_ms, "2026-11-20T08:15:00.000Z");
    assert_int_equal(rs.r[1].u.ev.reason_code, 833);
    assert_int_equal(rs.r[1].u.ev.record_id, 6);
    assert_time(rs.r[1].time_ms, "2026-11-20T08:01:02.123Z");
    assert_int_equal(rs.r[2].u.ev.error_code, -2146885613LL);
    assert_int_equal(rs.r[2].u.ev.level, RF_LEVEL_WARNING);
    rf_arena_free(&a);
}

static void test_invalid_elements_are_reported(void **state)
{
    (void)state;
    const char *js = "[{\"RecordId\": 1, \"TimeCreated\": \"2026-11-20T09:15:00Z\","
                     "  \"Data\": [\"x\", \"u\", \"c\", \"809\"]},"
                     " {\"Id\": 20227, \"TimeCreated\": \"2026-11-20T09:15:00Z\","
                     "  \"Data\": [\"x\", \"u\", \"c\"]},"
                     " 42,"
                     " {\"Id\": 20227, \"TimeCreated\": \"yesterday\","
                     "  \"Data\": [\"x\", \"u\", \"c\", \"809\"]},"
                     " {\"Id\": 20227, \"TimeCreated\": \"2026-11-20T09:15:00Z\","
                     "  \"Data\": [\"x\", \"u\", \"c\", 12.5]},"
                     " {\"Id\": 20225, \"TimeCreated\": \"2026-11-20T09:15:00Z\","
                     "  \"Data\": [\"x\", \"u\", \"c\", \"params\"]}]";
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    struct event_parse_stats st;
    rf_arena_init(&a);
    assert_int_equal(parse(js, strlen(js), &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].u.ev.event_id, 20225);
    assert_int_equal(st.skipped_invalid, 5);
    assert_int_equal(rp.n, 5);
    for (long i = 0; i < 5; i++) {
        assert_int_equal(rp.r[i].item, i);
        assert_false(rp.r[i].fatal);
    }
    assert_non_null(strstr(rp.r[0].reason, "without EventID"));
    assert_non_null(strstr(rp.r[1].reason, "20227 without a parsable error code"));
    assert_non_null(strstr(rp.r[2].reason, "not an object"));
    assert_non_null(strstr(rp.r[3].reason, "unreadable time"));
    assert_non_null(strstr(rp.r[4].reason, "'12.5'"));
    rf_arena_free(&a);
}

static void test_invalid_documents_are_fatal(void **state)
{
    (void)state;
    struct rf_arena a;
    struct recs rs;
    struct reports rp;
    rf_arena_init(&a);
    const char *broken = "[\r\n  {\"Id\": 20227,\r\n   \"Data\": [\"x\" \"y\"]}\r\n]";
    assert_int_equal(parse(broken, strlen(broken), &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.n, 1);
    assert_true(rp.r[0].fatal);
    assert_int_equal(rp.r[0].line, 3);
    assert_string_equal(rp.r[0].path, "events.json");
    const char *scalar = "20227";
    assert_int_equal(parse(scalar, strlen(scalar), &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.n, 1);
    const char *trailing = "{\"Id\": 1} x";
    assert_int_equal(parse(trailing, strlen(trailing), &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.r[0].offset, 10);
    assert_int_equal(parse("", 0, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(parse("[\"\xFF\"]", 4, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.r[0].offset, 2);
    assert_int_equal(rs.n, 0);
    rf_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ps7_fixture),
        cmocka_unit_test(test_ps51_single_fixture),
        cmocka_unit_test(test_bom_and_utf16),
        cmocka_unit_test(test_numbers_providers_and_time_object),
        cmocka_unit_test(test_invalid_elements_are_reported),
        cmocka_unit_test(test_invalid_documents_are_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
