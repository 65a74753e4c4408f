/*
 * timeutil.h - RFC 3339 times and clocks, all in milliseconds since the
 * Unix epoch (UTC), the unit the record model and the database use.
 */
#ifndef RASFLEET_TIMEUTIL_H
#define RASFLEET_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIME_RFC3339_MAX 32

/* Wall clock, ms since the epoch. */
int64_t time_now_ms(void);
/* Monotonic clock in nanoseconds, for latencies. */
int64_t time_mono_ns(void);

/*
 * Parses an RFC 3339 date-time ("2026-11-20T08:01:02.123Z", any fraction
 * width, 'Z' or a numeric offset; 't'/'z' and a space separator are accepted
 * as RFC 3339 allows). Fractions beyond ms are truncated. Returns RF_OK or
 * RF_EFORMAT; never reads past len.
 */
int time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least TIME_RFC3339_MAX). */
void time_format_rfc3339(int64_t ms, char *out, size_t out_len);

/* Parses a duration such as "15m", "24h", "7d", "30s"; RF_OK or RF_EFORMAT. */
int time_parse_duration(const char *s, int64_t *out_ms);

#endif
