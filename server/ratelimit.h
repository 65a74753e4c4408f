/*
 * ratelimit.h - token buckets keyed by a string (a device id, a token),
 * for the collector's per-device and per-token request rates (429 with
 * Retry-After). Thread-safe: keys are spread over mutex-protected shards.
 * Memory is bounded: a shard that grows past its key budget forgets its
 * idle buckets (a forgotten bucket starts full again, which only errs on
 * the side of letting a request through).
 */
#ifndef RASFLEET_RATELIMIT_H
#define RASFLEET_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* rate_per_minute tokens are added per minute up to burst; rate 0 creates a
 * limiter that allows everything. */
int ratelimit_create(double rate_per_minute, double burst, struct ratelimit **out);
void ratelimit_destroy(struct ratelimit *rl);
/* Takes one token for key at now_ms. False when none is left; then
 * *retry_after_s says when the next one will be. */
bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s);

#endif
