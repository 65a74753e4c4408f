/*
 * test_agent_backoff.c - unit tests for agent/backoff.c: the exponential
 * delay and its jitter range, the cap, Retry-After as a floor (and its
 * own cap), the per-run attempt and time budget, Retry-After parsing
 * (seconds and HTTP dates) and which statuses are retried.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"
#include "rasfleet/result.h"

static const struct backoff_policy pol = {
    .base_ms = 1000,
    .max_delay_ms = 30000,
    .max_retry_after = 300000,
    .max_attempts = 5,
    .budget_ms = 60000,
};

static void test_exponential_with_jitter_range(void **state)
{
    (void)state;
    /* rnd 0 gives the low end d/2; rnd = d/2 gives d (range size d - d/2 + 1) */
    static const int64_t d[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (unsigned attempt = 1; attempt <= 7; attempt++) {
        int64_t full = d[attempt - 1], half = full / 2;
        assert_int_equal(backoff_delay_ms(&pol, attempt, -1, 0), half);
        assert_int_equal(backoff_delay_ms(&pol, attempt, -1, (uint32_t)(full - half)), full);
        /* wraps inside the range for any random value */
        for (uint32_t r = 0; r < 5000; r += 97) {
            int64_t v = backoff_delay_ms(&pol, attempt, -1, r * 2654435761u);
            assert_true(v >= half && v <= full);
        }
    }
}

static void test_retry_after_is_a_floor(void **state)
{
    (void)state;
    /* attempt 1 would wait 500..1000 ms; the collector asked for 120 s */
    assert_int_equal(backoff_delay_ms(&pol, 1, 120000, 0), 120000);
    /* a Retry-After shorter than the backoff does not shorten it */
    assert_int_equal(backoff_delay_ms(&pol, 4, 1000, 0), 4000);
    /* Retry-After: 0 means "now", the backoff still applies */
    assert_int_equal(backoff_delay_ms(&pol, 1, 0, 0), 500);
    /* an absurd Retry-After is cut to max_retry_after */
    assert_int_equal(backoff_delay_ms(&pol, 1, 86400000, 0), 300000);
}

static void test_run_budget(void **state)
{
    (void)state;
    assert_true(backoff_should_retry(&pol, 1, 0, 1000));
    assert_true(backoff_should_retry(&pol, 4, 0, 1000));
    assert_false(backoff_should_retry(&pol, 5, 0, 1000));    /* attempts used up */
    assert_true(backoff_should_retry(&pol, 2, 59000, 1000)); /* exactly the budget */
    assert_false(backoff_should_retry(&pol, 2, 59001, 1000));
    assert_false(backoff_should_retry(&pol, 1, 0, 120000)); /* a Retry-After past the budget */
}

static void test_parse_retry_after(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(backoff_parse_retry_after("120", 0, &ms), RF_OK);
    assert_int_equal(ms, 120000);
    assert_int_equal(backoff_parse_retry_after(" 0 ", 0, &ms), RF_OK);
    assert_int_equal(ms, 0);
    /* Wed, 21 Oct 2026 07:28:00 GMT = 1792567680 s since the epoch */
    int64_t at = 1792567680000LL;
    assert_int_equal(backoff_parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", at - 5000, &ms),
                     RF_OK);
    assert_int_equal(ms, 5000);
    assert_int_equal(
        backoff_parse_retry_after("Sun, 29 Feb 2032 00:00:01 GMT", 1961625600000LL, &ms), RF_OK);
    assert_int_equal(ms, 1000);
    /* a date in the past: retry now */
    assert_int_equal(backoff_parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", at + 1, &ms),
                     RF_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(backoff_parse_retry_after("soon", 0, &ms), RF_EFORMAT);
    assert_int_equal(backoff_parse_retry_after("12x", 0, &ms), RF_EFORMAT);
    assert_int_equal(backoff_parse_retry_after("-5", 0, &ms), RF_EFORMAT);
    assert_int_equal(backoff_parse_retry_after("Wed, 21 Foo 2026 07:28:00 GMT", 0, &ms),
                     RF_EFORMAT);
    assert_int_equal(backoff_parse_retry_after("Wed, 21 Oct 2026 07:28:00 CET", 0, &ms),
                     RF_EFORMAT);
}

static void test_retryable_statuses(void **state)
{
    (void)state;
    assert_true(backoff_status_retryable(0));
    assert_true(backoff_status_retryable(408));
    assert_true(backoff_status_retryable(429));
    assert_true(backoff_status_retryable(500));
    assert_true(backoff_status_retryable(503));
    assert_true(backoff_status_retryable(599));
    assert_false(backoff_status_retryable(200));
    assert_false(backoff_status_retryable(400));
    assert_false(backoff_status_retryable(401));
    assert_false(backoff_status_retryable(413));
    assert_false(backoff_status_retryable(415));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exponential_with_jitter_range),
        cmocka_unit_test(test_retry_after_is_a_floor),
        cmocka_unit_test(test_run_budget),
        cmocka_unit_test(test_parse_retry_after),
        cmocka_unit_test(test_retryable_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
