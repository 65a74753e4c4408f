/*
 * strmap.c - string -> int64 hash map. See strmap.h.
 */
#include "strmap.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key; /* NULL = empty */
    uint64_t hash;
    int64_t value;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

void strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void strmap_clear(struct strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        m->slots[i].key = NULL;
    }
    m->len = 0;
    m->key_bytes = 0;
}

void strmap_free(struct strmap *m)
{
    strmap_clear(m);
    free(m->slots);
    strmap_init(m);
}

static struct strmap_slot *find(const struct strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
            return s;
    }
}

bool strmap_get(const struct strmap *m, const char *key, int64_t *value)
{
    if (!m->cap)
        return false;
    struct strmap_slot *s = find(m, key, hash_str(key));
    if (!s->key)
        return false;
    *value = s->value;
    return true;
}

static int grow(struct strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    struct strmap_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return RF_ENOMEM;
    struct strmap_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *find(m, old[i].key, old[i].hash) = old[i];
    free(old);
    return RF_OK;
}

int strmap_put(struct strmap *m, const char *key, int64_t value)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != RF_OK)
        return RF_ENOMEM;
    uint64_t h = hash_str(key);
    struct strmap_slot *s = find(m, key, h);
    if (!s->key) {
        size_t n = strlen(key);
        s->key = malloc(n + 1);
        if (!s->key)
            return RF_ENOMEM;
        memcpy(s->key, key, n + 1);
        s->hash = h;
        m->len++;
        m->key_bytes += n + 1;
    }
    s->value = value;
    return RF_OK;
}

size_t strmap_bytes(const struct strmap *m)
{
    return m->cap * sizeof(struct strmap_slot) + m->key_bytes + m->len * 16;
}
