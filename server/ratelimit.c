/*
 * ratelimit.c - sharded token buckets. See ratelimit.h.
 */
#include "ratelimit.h"
#include "rasfleet/result.h"
#include "strmap.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_SHARDS 16
#define RL_SHARD_KEYS 65536

struct bucket {
    double tokens;
    int64_t last_ms;
};

struct shard {
    pthread_mutex_t lock;
    struct strmap index; /* key -> slot */
    struct bucket *slots;
    size_t n, cap;
};

struct ratelimit {
    double rate_per_ms;
    double burst;
    struct shard shards[RL_SHARDS];
};

int ratelimit_create(double rate_per_minute, double burst, struct ratelimit **out)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return RF_ENOMEM;
    rl->rate_per_ms = rate_per_minute / 60000.0;
    rl->burst = burst < 1 ? 1 : burst;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        strmap_init(&rl->shards[i].index);
    }
    *out = rl;
    return RF_OK;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].lock);
        strmap_free(&rl->shards[i].index);
        free(rl->shards[i].slots);
    }
    free(rl);
}

static unsigned shard_of(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h % RL_SHARDS;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, int *retry_after_s)
{
    if (!rl || rl->rate_per_ms <= 0)
        return true;
    struct shard *s = &rl->shards[shard_of(key)];
    bool allowed = true;
    pthread_mutex_lock(&s->lock);
    int64_t slot;
    if (!strmap_get(&s->index, key, &slot)) {
        if (s->n >= RL_SHARD_KEYS) { /* forget everyone; see the header */
            strmap_clear(&s->index);
            s->n = 0;
        }
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 256;
            struct bucket *p = realloc(s->slots, ncap * sizeof(*p));
            if (!p)
                goto out; /* out of memory: let it through */
            s->slots = p;
            s->cap = ncap;
        }
        if (strmap_put(&s->index, key, (int64_t)s->n) != RF_OK)
            goto out;
        slot = (int64_t)s->n++;
        s->slots[slot] = (struct bucket){rl->burst, now_ms};
    }
    struct bucket *b = &s->slots[slot];
    if (now_ms > b->last_ms) {
        b->tokens = fmin(rl->burst, b->tokens + (double)(now_ms - b->last_ms) * rl->rate_per_ms);
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        allowed = false;
        double wait_ms = (1.0 - b->tokens) / rl->rate_per_ms;
        *retry_after_s = (int)ceil(wait_ms / 1000.0);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return allowed;
}
