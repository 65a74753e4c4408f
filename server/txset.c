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

static long find(const struct txset *s, int64_t tx)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == tx)
            return (long)i;
    return -1;
}

int txset_add(struct txset *s, int64_t tx)
{
    if (tx <= 0)
        return RF_EINVAL;
    int rc = RF_OK;
    pthread_mutex_lock(&s->lock);
    if (find(s, tx) < 0) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            int64_t *p = realloc(s->v, cap * sizeof(*p));
            if (p) {
                s->v = p;
                s->cap = cap;
            }
        }
        if (s->n < s->cap)
            s->v[s->n++] = tx;
        else
            rc = RF_ENOMEM;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void txset_remove(struct txset *s, int64_t tx)
{
    pthread_mutex_lock(&s->lock);
    long i = find(s, tx);
    if (i >= 0)
        s->v[i] = s->v[--s->n];
    pthread_mutex_unlock(&s->lock);
}

bool txset_contains(struct txset *s, int64_t tx)
{
    pthread_mutex_lock(&s->lock);
    bool in = find(s, tx) >= 0;
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
    size_t w = 0;
    for (size_t r = 0; r < s->n; r++)
        if (s->v[r] >= horizon)
            s->v[w++] = s->v[r];
    s->n = w;
    pthread_mutex_unlock(&s->lock);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int txset_array(struct txset *s, int64_t lo, int64_t hi, struct buf *b)
{
    pthread_mutex_lock(&s->lock);
    int rc = RF_OK;
    int64_t *pick = malloc((s->n + 1) * sizeof(*pick));
    size_t n = 0;
    if (!pick)
        rc = RF_ENOMEM;
    for (size_t i = 0; i < s->n && pick; i++)
        if (s->v[i] >= lo && s->v[i] < hi)
            pick[n++] = s->v[i];
    pthread_mutex_unlock(&s->lock);
    if (rc != RF_OK)
        return rc;
    qsort(pick, n, sizeof(*pick), cmp_i64);
    rc = buf_append_char(b, '{');
    for (size_t i = 0; i < n && rc == RF_OK; i++)
        rc = buf_printf(b, i ? ",%" PRId64 : "%" PRId64, pick[i]);
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
    free(pick);
    return rc;
}
