/*
 * txset.c - this collector's own write transaction ids. See txset.h.
 */
#include "txset.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void txset_init(struct txset *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

void txset_free(struct txset *s)
{
    free(s->v);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof(*s));
}

/* Index of the first member >= tx (the members are ascending). */
static size_t lower_bound(const struct txset *s, int64_t tx)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < tx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int txset_add(struct txset *s, int64_t tx)
{
    if (tx <= 0)
        return RF_EINVAL;
    int rc = RF_OK;
    pthread_mutex_lock(&s->lock);
    /* ids grow: almost always an append */
    size_t at = s->n && s->v[s->n - 1] < tx ? s->n : lower_bound(s, tx);
    if (at == s->n || s->v[at] != tx) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            int64_t *p = realloc(s->v, cap * sizeof(*p));
            if (p) {
                s->v = p;
                s->cap = cap;
            }
        }
        if (s->n < s->cap) {
            memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(*s->v));
            s->v[at] = tx;
            s->n++;
        } else {
            rc = RF_ENOMEM;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void txset_remove(struct txset *s, int64_t tx)
{
    pthread_mutex_lock(&s->lock);
    size_t at = lower_bound(s, tx);
    if (at < s->n && s->v[at] == tx) {
        memmove(s->v + at, s->v + at + 1, (s->n - at - 1) * sizeof(*s->v));
        s->n--;
    }
    pthread_mutex_unlock(&s->lock);
}

bool txset_contains(struct txset *s, int64_t tx)
{
    pthread_mutex_lock(&s->lock);
    size_t at = lower_bound(s, tx);
    bool in = at < s->n && s->v[at] == tx;
    pthread_mutex_unlock(&s->lock);
    return in;
}

size_t txset_size(struct txset *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void txset_prune_below(struct txset *s, int64_t horizon)
{
    pthread_mutex_lock(&s->lock);
    size_t k = lower_bound(s, horizon);
    if (k) {
        memmove(s->v, s->v + k, (s->n - k) * sizeof(*s->v));
        s->n -= k;
    }
    pthread_mutex_unlock(&s->lock);
}

int txset_array(struct txset *s, int64_t lo, int64_t hi, struct buf *b)
{
    int rc = buf_append_char(b, '{');
    pthread_mutex_lock(&s->lock);
    for (size_t i = lower_bound(s, lo); i < s->n && s->v[i] < hi && rc == RF_OK; i++)
        rc = buf_printf(b, b->data[b->len - 1] == '{' ? "%" PRId64 : ",%" PRId64, s->v[i]);
    pthread_mutex_unlock(&s->lock);
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
    return rc;
}
