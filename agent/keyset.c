/*
 * keyset.c - open-addressing set of 64-bit keys and FNV-1a. See keyset.h.
 *
 * The table is kept at most three quarters full (a found key probes ~2.5
 * slots, a new one ~8.5). Half full cost twice the memory: a run over
 * 10,000 events holds ~20,000 keys, now 256 KB where it took 512 KB, and
 * 384 KB where it took 768 KB while the table grows (old and new together;
 * docs/agent.md, "Performance"). Keys
 * are already hashes, but they are mixed once more (splitmix64 finaliser)
 * before indexing so that record numbers 1, 2, 3... spread too.
 */
#include "keyset.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

void keyset_init(struct keyset *s)
{
    s->slots = NULL;
    s->cap = 0;
    s->n = 0;
}

void keyset_free(struct keyset *s)
{
    free(s->slots);
    keyset_init(s);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static size_t probe(const uint64_t *slots, size_t cap, uint64_t key)
{
    size_t i = (size_t)mix(key) & (cap - 1);
    while (slots[i] != 0 && slots[i] != key)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(struct keyset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return RF_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i])
            slots[probe(slots, cap, s->slots[i])] = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return RF_OK;
}

int keyset_add(struct keyset *s, uint64_t key, bool *added)
{
    if (key == 0)
        key = 1;
    if (added)
        *added = false;
    if ((s->n + 1) * 4 > s->cap * 3) {
        int rc = grow(s);
        if (rc != RF_OK)
            return rc;
    }
    size_t i = probe(s->slots, s->cap, key);
    if (s->slots[i] == key)
        return RF_OK;
    s->slots[i] = key;
    s->n++;
    if (added)
        *added = true;
    return RF_OK;
}

bool keyset_has(const struct keyset *s, uint64_t key)
{
    if (key == 0)
        key = 1;
    if (s->cap == 0)
        return false;
    return s->slots[probe(s->slots, s->cap, key)] == key;
}

uint64_t keyset_fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t keyset_fnv_str(uint64_t h, const char *s)
{
    static const unsigned char nul = 0, absent = 0xff;
    if (!s)
        return keyset_fnv(h, &absent, 1);
    h = keyset_fnv(h, s, strlen(s));
    return keyset_fnv(h, &nul, 1);
}

uint64_t keyset_fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return keyset_fnv(h, b, sizeof(b));
}
