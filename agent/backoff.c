/*
 * backoff.c - retry delays and Retry-After parsing. See backoff.h.
 */
#include "backoff.h"
#include "rasfleet/result.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int64_t backoff_delay_ms(const struct backoff_policy *p, unsigned attempt, int64_t retry_after_ms,
                         uint32_t rnd)
{
    int64_t d = p->base_ms > 0 ? p->base_ms : 1;
    for (unsigned i = 1; i < attempt && d < p->max_delay_ms; i++)
        d *= 2;
    if (d > p->max_delay_ms)
        d = p->max_delay_ms;
    int64_t half = d / 2;
    int64_t delay = half + (int64_t)(rnd % (uint64_t)(d - half + 1));
    if (retry_after_ms >= 0) {
        int64_t ra = retry_after_ms < p->max_retry_after ? retry_after_ms : p->max_retry_after;
        if (delay < ra)
            delay = ra;
    }
    return delay;
}

bool backoff_should_retry(const struct backoff_policy *p, unsigned attempts, int64_t spent_ms,
                          int64_t delay_ms)
{
    if (attempts >= p->max_attempts)
        return false;
    return spent_ms + delay_ms <= p->budget_ms;
}

bool backoff_status_retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static int month_of(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (strncasecmp(m, names[i], 3) == 0)
            return i;
    return -1;
}

int backoff_parse_retry_after(const char *s, int64_t now_ms, int64_t *out_ms)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (isdigit((unsigned char)*s)) {
        int64_t v = 0;
        for (; isdigit((unsigned char)*s); s++) {
            if (v > 100000000)
                return RF_EFORMAT;
            v = v * 10 + (*s - '0');
        }
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s)
            return RF_EFORMAT;
        *out_ms = v * 1000;
        return RF_OK;
    }
    char wd[4], mon[4], zone[4];
    int day, year, hh, mm, ss, n = 0;
    if (sscanf(s, "%3[A-Za-z], %d %3[A-Za-z] %d %d:%d:%d %3[A-Z]%n", wd, &day, mon, &year, &hh, &mm,
               &ss, zone, &n) != 8 ||
        s[n] != '\0' || strcmp(zone, "GMT") != 0)
        return RF_EFORMAT;
    int m = month_of(mon);
    if (m < 0 || day < 1 || day > 31 || year < 1970 || year > 9999 || hh < 0 || hh > 23 || mm < 0 ||
        mm > 59 || ss < 0 || ss > 60)
        return RF_EFORMAT;
    /* days from civil (Howard Hinnant), so no timegm() is needed on Windows */
    int y = year - (m < 2);
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 1 ? -2 : 10)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    int64_t at = ((days * 24 + hh) * 60 + mm) * 60000 + (int64_t)ss * 1000;
    *out_ms = at > now_ms ? at - now_ms : 0;
    return RF_OK;
}
