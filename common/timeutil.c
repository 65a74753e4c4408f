/*
 * timeutil.c - RFC 3339 parsing/formatting without the C library's locale
 * or time-zone state (timegm-free civil date arithmetic, thread-safe).
 */
#include "timeutil.h"
#include "rasfleet/result.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define TIME_MIN_SECONDS (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define TIME_MAX_SECONDS (253402300799LL) /* 9999-12-31T23:59:59Z */

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static bool read_digits(const char *s, size_t len, size_t *pos, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return false;
        v = v * 10 + (s[*pos] - '0');
        (*pos)++;
    }
    *out = v;
    return true;
}

static bool expect_char(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c)
        return false;
    (*pos)++;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    size_t p = 0;
    int y, mo, d, h, mi, se, ms = 0;
    if (!read_digits(s, len, &p, 4, &y) || !expect_char(s, len, &p, '-') ||
        !read_digits(s, len, &p, 2, &mo) || !expect_char(s, len, &p, '-') ||
        !read_digits(s, len, &p, 2, &d))
        return RF_EFORMAT;
    if (p >= len || (s[p] != 'T' && s[p] != 't' && s[p] != ' '))
        return RF_EFORMAT;
    p++;
    if (!read_digits(s, len, &p, 2, &h) || !expect_char(s, len, &p, ':') ||
        !read_digits(s, len, &p, 2, &mi) || !expect_char(s, len, &p, ':') ||
        !read_digits(s, len, &p, 2, &se))
        return RF_EFORMAT;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return RF_EFORMAT;
    if (se == 60)
        se = 59; /* leap second: clamp, the record model has no room for it */
    if (p < len && s[p] == '.') {
        p++;
        int digits = 0;
        while (p < len && s[p] >= '0' && s[p] <= '9') {
            if (digits < 3)
                ms = ms * 10 + (s[p] - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > 12)
            return RF_EFORMAT;
        for (int i = digits; i < 3; i++)
            ms *= 10;
    }
    int offset_min = 0;
    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    } else if (p < len && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p] == '-' ? -1 : 1, oh, om;
        p++;
        if (!read_digits(s, len, &p, 2, &oh) || !expect_char(s, len, &p, ':') ||
            !read_digits(s, len, &p, 2, &om) || oh > 23 || om > 59)
            return RF_EFORMAT;
        offset_min = sign * (oh * 60 + om);
    } else {
        return RF_EFORMAT;
    }
    if (p != len)
        return RF_EFORMAT;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)offset_min * 60;
    /* An offset can push 0000-01-01 or 9999-12-31 out of the four-digit
     * years, which no RFC 3339 time can then express: refuse it. */
    if (secs < TIME_MIN_SECONDS || secs > TIME_MAX_SECONDS)
        return RF_EFORMAT;
    *out_ms = secs * 1000 + ms;
    return RF_OK;
}

void time_format_rfc3339(int64_t ms, char *out, size_t out_len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, out_len, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), msec);
}

int time_parse_duration(const char *s, int64_t *out_ms)
{
    int64_t v = 0;
    size_t i = 0;
    if (!s || !s[0])
        return RF_EFORMAT;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > 100000000)
            return RF_EFORMAT;
    }
    if (i == 0 || s[i] == '\0' || s[i + 1] != '\0' || v == 0)
        return RF_EFORMAT;
    switch (s[i]) {
    case 's':
        *out_ms = v * 1000;
        break;
    case 'm':
        *out_ms = v * 60000;
        break;
    case 'h':
        *out_ms = v * 3600000;
        break;
    case 'd':
        *out_ms = v * 86400000;
        break;
    default:
        return RF_EFORMAT;
    }
    return RF_OK;
}
