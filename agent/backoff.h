/*
 * backoff.h - when to try a failed send again: exponential backoff with
 * jitter, at least what the collector asked for in Retry-After, and the
 * bounds of one --once run (attempts per batch, seconds in all).
 *
 * Pure functions of their arguments (the random part is passed in), so the
 * unit tests pin every value.
 */
#ifndef RF_AGENT_BACKOFF_H
#define RF_AGENT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct backoff_policy {
    int64_t base_ms;         /* delay before the 2nd attempt, before jitter */
    int64_t max_delay_ms;    /* cap of the exponential part */
    int64_t max_retry_after; /* a Retry-After above this (ms) is cut to it */
    unsigned max_attempts;   /* attempts per batch in one run (>= 1) */
    int64_t budget_ms;       /* time one run may spend waiting to retry */
};

/*
 * Delay before attempt number attempt+1, after attempt failures (attempt >=
 * 1): d = min(max_delay, base * 2^(attempt-1)); the delay is drawn in
 * [d/2, d] from rnd ("equal jitter": never zero, never a thundering herd);
 * when retry_after_ms >= 0 the result is at least min(retry_after_ms,
 * max_retry_after).
 */
int64_t backoff_delay_ms(const struct backoff_policy *p, unsigned attempt, int64_t retry_after_ms,
                         uint32_t rnd);

/*
 * Whether to try again: false when attempts reached max_attempts or when
 * waiting delay_ms would take the run past its budget (spent_ms already
 * waited or spent sending).
 */
bool backoff_should_retry(const struct backoff_policy *p, unsigned attempts, int64_t spent_ms,
                          int64_t delay_ms);

/*
 * Parses a Retry-After value: delay-seconds ("120") or an IMF-fixdate
 * ("Wed, 21 Oct 2026 07:28:00 GMT", relative to now_ms; a date in the past
 * gives 0). RF_OK or RF_EFORMAT.
 */
int backoff_parse_retry_after(const char *s, int64_t now_ms, int64_t *out_ms);

/* Whether an HTTP status (or 0 for a transport failure) is worth retrying:
 * 0, 408, 429 and 5xx. */
bool backoff_status_retryable(long status);

#endif
