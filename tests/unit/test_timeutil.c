/*
 * test_timeutil.c - unit tests for common/timeutil.c: RFC 3339 parsing and
 * formatting, durations.
 *
 * Every string is parsed from an exact-size heap copy without a NUL, so
 * AddressSanitizer catches any read past len.
 *
 * Tests named regression_* reproduce defects found while writing this suite;
 * the defects are fixed and the tests guard against their return.
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

#include "rasfleet/result.h"
#include "timeutil.h"

#define T_2026 1795161662123LL /* 2026-11-20T08:01:02.123Z */

static int parse_n(const char *s, size_t len, int64_t *out)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = time_parse_rfc3339(copy, len, out);
    free(copy);
    return rc;
}

static int parse(const char *s, int64_t *out)
{
    return parse_n(s, strlen(s), out);
}

static void assert_parses(const char *s, int64_t expect)
{
    int64_t v = 0x5a5a5a5a;
    if (parse(s, &v) != RF_OK)
        fail_msg("'%s' was refused", s);
    if (v != expect)
        fail_msg("'%s' parsed to %lld, expected %lld", s, (long long)v, (long long)expect);
}

static void assert_refused(const char *s)
{
    int64_t v = 0x5a5a5a5a;
    int rc = parse(s, &v);
    if (rc != RF_EFORMAT)
        fail_msg("'%s' gave %d (value %lld), expected RF_EFORMAT", s, rc, (long long)v);
}

static int duration(const char *s, int64_t *out)
{
    /* exact-size heap copy including the NUL */
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, s, n);
    int rc = time_parse_duration(copy, out);
    free(copy);
    return rc;
}

static void test_parse_basic(void **state)
{
    (void)state;
    assert_parses("2026-11-20T08:01:02.123Z", T_2026);
    assert_parses("1970-01-01T00:00:00Z", 0);
    assert_parses("1970-01-01T00:00:00.000Z", 0);
    assert_parses("1970-01-01T00:00:01Z", 1000);
    assert_parses("2026-11-20T08:01:02Z", T_2026 - 123);
}

static void test_parse_fraction_widths(void **state)
{
    (void)state;
    assert_parses("2026-11-20T08:01:02.5Z", T_2026 - 123 + 500);
    assert_parses("2026-11-20T08:01:02.05Z", T_2026 - 123 + 50);
    assert_parses("2026-11-20T08:01:02.12Z", T_2026 - 123 + 120);
    assert_parses("2026-11-20T08:01:02.1234Z", T_2026);
    /* 7 digits (Windows FILETIME precision) and 9 digits truncate to ms */
    assert_parses("2026-11-20T08:01:02.1239999Z", T_2026);
    assert_parses("2026-11-20T08:01:02.123456789Z", T_2026);
    assert_parses("2026-11-20T08:01:02.999999999Z", T_2026 - 123 + 999);
    assert_parses("2026-11-20T08:01:02.000000001Z", T_2026 - 123);
}

static void test_parse_offsets(void **state)
{
    (void)state;
    assert_parses("2026-11-20T10:01:02.123+02:00", T_2026);
    assert_parses("2026-11-20T02:31:02.123-05:30", T_2026);
    assert_parses("2026-11-20T08:01:02.123+00:00", T_2026);
    assert_parses("2026-11-20T08:01:02.123-00:00", T_2026);
    /* an offset that crosses the day boundary */
    assert_parses("2026-11-21T07:01:02.123+23:00", T_2026);
    assert_parses("2026-11-19T08:02:02.123-23:59", T_2026);
}

static void test_parse_lower_case_and_space(void **state)
{
    (void)state;
    assert_parses("2026-11-20t08:01:02.123z", T_2026);
    assert_parses("2026-11-20t08:01:02.123Z", T_2026);
    assert_parses("2026-11-20T08:01:02.123z", T_2026);
    assert_parses("2026-11-20 08:01:02.123Z", T_2026);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    assert_refused("2026-11-20");
    assert_refused("2026-11-20T");
    assert_refused("2026-13-01T00:00:00Z");
    assert_refused("2026-00-01T00:00:00Z");
    assert_refused("2026-01-00T00:00:00Z");
    assert_refused("2026-01-32T00:00:00Z");
    assert_refused("2026-02-30T00:00:00Z");
    assert_refused("2026-04-31T00:00:00Z");
    assert_refused("2026-11-20T24:00:00Z");
    assert_refused("2026-11-20T23:60:00Z");
    assert_refused("2026-11-20T23:59:61Z");
    assert_refused("2026-11-20T08:01:02");     /* missing zone */
    assert_refused("2026-11-20T08:01:02.123"); /* missing zone */
    assert_refused("2026-11-20T08:01:02.123Zjunk");
    assert_refused("2026-11-20T08:01:02.123Z ");
    assert_refused("2026-11-20T08:01:02.Z"); /* empty fraction */
    assert_refused("2026-11-20T08:01:02,123Z");
    assert_refused("2026-11-20T08:01Z");
    assert_refused("2026-11-20X08:01:02Z");
    assert_refused("26-11-20T08:01:02Z");
    assert_refused("2026-1-20T08:01:02Z");
    assert_refused("2026-11-20T8:01:02Z");
    assert_refused("2026/11/20T08:01:02Z");
    assert_refused("2026-11-20T08:01:02+0200");
    assert_refused("2026-11-20T08:01:02+02");
    assert_refused("2026-11-20T08:01:02+24:00");
    assert_refused("2026-11-20T08:01:02+02:60");
    assert_refused("2026-11-20T08:01:02+02:00junk");
    assert_refused("2026-11-20T08:01:02UTC");
    assert_refused(" 2026-11-20T08:01:02Z");
    assert_refused("");
    assert_refused("Z");
}

static void test_parse_stops_at_len(void **state)
{
    (void)state;
    const char *s = "2026-11-20T08:01:02.123Z";
    int64_t v;
    /* the zone is outside len: refused even though the string goes on */
    assert_int_equal(time_parse_rfc3339(s, strlen(s) - 1, &v), RF_EFORMAT);
    assert_int_equal(parse_n(s, strlen(s) - 1, &v), RF_EFORMAT);
    assert_int_equal(parse_n(s, 10, &v), RF_EFORMAT);
    assert_int_equal(parse_n(s, 0, &v), RF_EFORMAT);
    /* junk after len is never looked at */
    const char *j = "2026-11-20T08:01:02.123Zjunk";
    v = 0;
    assert_int_equal(time_parse_rfc3339(j, 24, &v), RF_OK);
    assert_int_equal(v, T_2026);
    v = 0;
    assert_int_equal(parse_n(j, 24, &v), RF_OK);
    assert_int_equal(v, T_2026);
    /* fraction cut by len: "...02.12" then no zone */
    assert_int_equal(parse_n(s, 22, &v), RF_EFORMAT);
    /* every prefix of a valid time is refused (no read past len: ASan) */
    for (size_t n = 0; n < strlen(s); n++)
        assert_int_equal(parse_n(s, n, &v), RF_EFORMAT);
    const char *o = "2026-11-20T10:01:02.123+02:00";
    for (size_t n = 0; n < strlen(o); n++)
        assert_int_equal(parse_n(o, n, &v), RF_EFORMAT);
    assert_int_equal(parse_n(o, strlen(o), &v), RF_OK);
    assert_int_equal(v, T_2026);
}

static void test_parse_leap_years(void **state)
{
    (void)state;
    assert_parses("2024-02-29T12:00:00Z", 1709208000000LL);
    assert_refused("2026-02-29T00:00:00Z");
    assert_parses("2000-02-29T00:00:00Z", 951782400000LL); /* divisible by 400 */
    assert_refused("1900-02-29T00:00:00Z");                /* divisible by 100 */
    assert_refused("2100-02-29T00:00:00Z");
    assert_parses("2026-02-28T00:00:00Z", 1772236800000LL);
    assert_parses("2024-03-01T00:00:00Z", 1709251200000LL);
}

static void test_parse_leap_second_clamped(void **state)
{
    (void)state;
    int64_t a, b;
    assert_int_equal(parse("2016-12-31T23:59:60Z", &a), RF_OK);
    assert_int_equal(parse("2016-12-31T23:59:59Z", &b), RF_OK);
    assert_int_equal(a, b);
}

static void test_parse_before_epoch_and_extremes(void **state)
{
    (void)state;
    assert_parses("1969-12-31T23:59:59.999Z", -1);
    assert_parses("1969-12-31T23:59:59Z", -1000);
    assert_parses("1969-07-20T20:17:40Z", -14182940000LL);
    assert_parses("1900-01-01T00:00:00Z", -2208988800000LL);
    assert_parses("0001-01-01T00:00:00Z", -62135596800000LL);
    assert_parses("9999-12-31T23:59:59.999Z", 253402300799999LL);
    /* an offset that moves a 1970 time before the epoch */
    assert_parses("1970-01-01T00:00:00+01:00", -3600000);
}

static void check_format(int64_t ms, const char *expect)
{
    char out[TIME_RFC3339_MAX];
    memset(out, 'x', sizeof(out));
    time_format_rfc3339(ms, out, sizeof(out));
    assert_string_equal(out, expect);
}

static void test_format(void **state)
{
    (void)state;
    check_format(T_2026, "2026-11-20T08:01:02.123Z");
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(1, "1970-01-01T00:00:00.001Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-1000, "1969-12-31T23:59:59.000Z");
    check_format(-1001, "1969-12-31T23:59:58.999Z");
    check_format(-86400000LL, "1969-12-31T00:00:00.000Z");
    check_format(-86400001LL, "1969-12-30T23:59:59.999Z");
    check_format(-14182940000LL, "1969-07-20T20:17:40.000Z");
    check_format(-2208988800000LL, "1900-01-01T00:00:00.000Z");
    check_format(-62135596800000LL, "0001-01-01T00:00:00.000Z");
    check_format(253402300799999LL, "9999-12-31T23:59:59.999Z");
    check_format(1709208000000LL, "2024-02-29T12:00:00.000Z");
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    /* Walk from year ~1 to ~9999 in odd steps (hits every ms remainder
     * class and many dates), both signs, and near the epoch. */
    int64_t lo = -62135596800000LL, hi = 253402300799999LL;
    int64_t step = 999999937LL * 13 + 7; /* ~3.76 hours, prime-ish */
    size_t n = 0;
    for (int64_t t = lo; t <= hi; t += step * 97, n++) {
        char s[TIME_RFC3339_MAX];
        int64_t back = 0;
        time_format_rfc3339(t, s, sizeof(s));
        assert_int_equal(strlen(s), 24);
        if (parse(s, &back) != RF_OK || back != t)
            fail_msg("round trip of %lld via '%s' gave %lld", (long long)t, s, (long long)back);
    }
    assert_true(n > 100);
    for (int64_t t = -5000; t <= 5000; t += 7) {
        char s[TIME_RFC3339_MAX];
        int64_t back = 0;
        time_format_rfc3339(t, s, sizeof(s));
        assert_int_equal(parse(s, &back), RF_OK);
        assert_int_equal(back, t);
    }
}

static void test_format_small_buffer_truncates(void **state)
{
    (void)state;
    char out[11];
    time_format_rfc3339(T_2026, out, sizeof(out));
    assert_string_equal(out, "2026-11-20");
}

static void test_duration_ok(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(duration("15m", &v), RF_OK);
    assert_int_equal(v, 15 * 60000);
    assert_int_equal(duration("24h", &v), RF_OK);
    assert_int_equal(v, 24LL * 3600000);
    assert_int_equal(duration("7d", &v), RF_OK);
    assert_int_equal(v, 7LL * 86400000);
    assert_int_equal(duration("30s", &v), RF_OK);
    assert_int_equal(v, 30000);
    assert_int_equal(duration("1s", &v), RF_OK);
    assert_int_equal(v, 1000);
    assert_int_equal(duration("90d", &v), RF_OK);
    assert_int_equal(v, 90LL * 86400000);
    assert_int_equal(duration("100000000d", &v), RF_OK);
    assert_int_equal(v, 100000000LL * 86400000);
}

static void test_duration_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"0h", "h", "5x", "", "99999999999d", "100000001s", "5mm", "5 m",
                         "-5m", "+5m", "5M", "5H", " 5m", "1.5h", "m5", "0s", "00m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v = 12345;
        int rc = duration(bad[i], &v);
        if (rc != RF_EFORMAT)
            fail_msg("duration '%s' gave %d, expected RF_EFORMAT", bad[i], rc);
        assert_int_equal(v, 12345); /* output untouched */
    }
    int64_t v;
    assert_int_equal(time_parse_duration(NULL, &v), RF_EFORMAT);
}

/*
 * Bug: time_parse_duration() on digits without a unit ("15") reads
 * s[i + 1], one byte past the terminating NUL. ASan reports a
 * heap-buffer-overflow (READ of size 1). Expected: RF_EFORMAT, no read past
 * the string.
 */
static void regression_duration_without_unit(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(duration("15", &v), RF_EFORMAT);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = time_now_ms();
    assert_true(now > 1704067200000LL); /* after 2024-01-01 */
    int64_t a = time_mono_ns(), b = time_mono_ns();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_fraction_widths),
        cmocka_unit_test(test_parse_offsets),
        cmocka_unit_test(test_parse_lower_case_and_space),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_stops_at_len),
        cmocka_unit_test(test_parse_leap_years),
        cmocka_unit_test(test_parse_leap_second_clamped),
        cmocka_unit_test(test_parse_before_epoch_and_extremes),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_format_small_buffer_truncates),
        cmocka_unit_test(test_duration_ok),
        cmocka_unit_test(test_duration_rejects),
        cmocka_unit_test(regression_duration_without_unit),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
