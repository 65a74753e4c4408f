/*
 * fuzz_time - time_parse_rfc3339(), time_format_rfc3339() and
 * time_parse_duration() against independent reference implementations.
 *
 * The whole input is offered to both parsers: to time_parse_rfc3339() as
 * (pointer, length) in an exactly sized buffer (it must never read past
 * len), to time_parse_duration() as a C string. Its first 8 bytes are also
 * an int64 for the formatter.
 *
 * Invariants beyond "no crash":
 *  - rfc3339: accepted exactly when the reference grammar accepts
 *    (YYYY-MM-DD, T/t/space, hh:mm:ss with ss <= 60, an optional fraction of
 *    1..12 digits, Z/z or +hh:mm/-hh:mm with hh <= 23, mm <= 59, a real
 *    calendar day), with the same millisecond value (computed here with a
 *    different day-count formula);
 *  - an accepted time formats back (time_format_rfc3339) to a string that
 *    parses to the same value [tag time-range];
 *  - the formatter always NUL-terminates within TIME_RFC3339_MAX and, for
 *    times of years 0000..9999, round-trips exactly;
 *  - duration: accepted exactly for ^[0-9]+[smhd]$ with a value 1..1e8
 *    (leading zeros allowed), with value * unit milliseconds.
 */
#include "fuzz_common.h"
#include "timeutil.h"

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* days from 0000-03-01-style counting, different from Hinnant's */
static int64_t days_before_year(int64_t y)
{
    int64_t p = y - 1;
    return 365 * y + floordiv(p, 4) - floordiv(p, 100) + floordiv(p, 400);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t ref_days(int64_t y, int m, int d)
{
    static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = days_before_year(y) - days_before_year(1970) + cum[m - 1] + d - 1;
    if (m > 2 && leap(y))
        days++;
    return days;
}

static bool dig(const uint8_t *s, size_t len, size_t *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= len || s[*p] < '0' || s[*p] > '9')
            return false;
        v = v * 10 + (s[*p] - '0');
    }
    *out = v;
    return true;
}

static bool ch(const uint8_t *s, size_t len, size_t *p, const char *set)
{
    if (*p >= len || !s[*p] || !strchr(set, s[*p]))
        return false;
    (*p)++;
    return true;
}

static bool ref_rfc3339(const uint8_t *s, size_t len, int64_t *out)
{
    size_t p = 0;
    int y, mo, d, h, mi, se, ms = 0, oh = 0, om = 0, sign = 0;
    if (!dig(s, len, &p, 4, &y) || !ch(s, len, &p, "-") || !dig(s, len, &p, 2, &mo) ||
        !ch(s, len, &p, "-") || !dig(s, len, &p, 2, &d) || !ch(s, len, &p, "Tt ") ||
        !dig(s, len, &p, 2, &h) || !ch(s, len, &p, ":") || !dig(s, len, &p, 2, &mi) ||
        !ch(s, len, &p, ":") || !dig(s, len, &p, 2, &se))
        return false;
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > dm[mo - 1] + (mo == 2 && leap(y)) || h > 23 ||
        mi > 59 || se > 60)
        return false;
    if (p < len && s[p] == '.') {
        p++;
        size_t start = p;
        while (p < len && s[p] >= '0' && s[p] <= '9')
            p++;
        size_t nd = p - start;
        if (nd < 1 || nd > 12)
            return false;
        for (size_t i = 0; i < 3; i++)
            ms = ms * 10 + (i < nd ? s[start + i] - '0' : 0);
    }
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        sign = s[p] == '-' ? -1 : 1;
        p++;
        if (!dig(s, len, &p, 2, &oh) || !ch(s, len, &p, ":") || !dig(s, len, &p, 2, &om) ||
            oh > 23 || om > 59)
            return false;
    } else {
        return false;
    }
    if (p != len)
        return false;
    if (se == 60)
        se = 59;
    int64_t secs = ref_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
                   (int64_t)sign * (oh * 60 + om) * 60;
    /* RFC 3339 has four-digit years: an offset that leaves 0000..9999 makes a
     * time no RFC 3339 string can carry (finding F1), so it is refused. */
    if (secs < -62167219200LL || secs > 253402300799LL)
        return false;
    *out = secs * 1000 + ms;
    return true;
}

static bool ref_duration(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n < 2)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > 100000000)
            return false;
    }
    if (v == 0)
        return false;
    switch (s[n - 1]) {
    case 's':
        *out = v * 1000;
        return true;
    case 'm':
        *out = v * 60000;
        return true;
    case 'h':
        *out = v * 3600000;
        return true;
    case 'd':
        *out = v * 86400000;
        return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* RFC 3339 */
    int64_t got = 0, want = 0;
    int rc = time_parse_rfc3339((const char *)data, size, &got);
    bool ok = ref_rfc3339(data, size, &want);
    FUZZ_CHECK(rc == (ok ? RF_OK : RF_EFORMAT), "rc=%d but the reference %s '%.*s'", rc,
               ok ? "accepts" : "refuses", (int)size, (const char *)data);
    if (ok) {
        FUZZ_CHECK(got == want, "'%.*s' gives %lld, reference %lld", (int)size,
                   (const char *)data, (long long)got, (long long)want);
        char t[TIME_RFC3339_MAX];
        time_format_rfc3339(got, t, sizeof(t));
        int64_t back = 0;
        int brc = time_parse_rfc3339(t, strlen(t), &back);
        if (!fuzz_skip("time-range"))
            FUZZ_CHECK(brc == RF_OK && back == got,
                       "accepted '%.*s' (%lld ms) is written back as '%s', which %s", (int)size,
                       (const char *)data, (long long)got, t,
                       brc == RF_OK ? "parses to another value" : "does not parse");
    }

    /* formatter on an arbitrary value within +-2^62 ms */
    if (size >= 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = u << 8 | data[i];
        int64_t ms = (int64_t)(u >> 1) - (int64_t)(1ull << 62);
        char t[TIME_RFC3339_MAX];
        memset(t, 'x', sizeof(t));
        time_format_rfc3339(ms, t, sizeof(t));
        FUZZ_CHECK(memchr(t, 0, sizeof(t)), "not terminated");
        /* years 0000..9999: -62167219200000 .. 253402300799999 */
        int64_t m2 = ms % 253402300800000LL;
        if (m2 < -62167219200000LL)
            m2 = -m2;
        time_format_rfc3339(m2, t, sizeof(t));
        int64_t back = 0;
        FUZZ_CHECK(time_parse_rfc3339(t, strlen(t), &back) == RF_OK && back == m2,
                   "%lld formats as '%s' which does not parse back", (long long)m2, t);
    }

    /* durations */
    char *s = fuzz_cstr(data, size);
    int64_t d = 0, rd = 0;
    rc = time_parse_duration(s, &d);
    ok = ref_duration(s, &rd);
    FUZZ_CHECK(rc == (ok ? RF_OK : RF_EFORMAT), "duration '%s': rc=%d, reference %s", s, rc,
               ok ? "accepts" : "refuses");
    FUZZ_CHECK(!ok || d == rd, "duration '%s': %lld vs %lld", s, (long long)d, (long long)rd);
    free(s);
    return 0;
}
