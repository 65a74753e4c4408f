/*
 * strtab.c - string interning. See strtab.h.
 */
#include "strtab.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

void strtab_init(struct strtab *t)
{
    memset(t, 0, sizeof(*t));
    rf_arena_init(&t->arena);
}

void strtab_free(struct strtab *t)
{
    free(t->slots);
    free(t->strings);
    free(t->hashes);
    rf_arena_free(&t->arena);
    memset(t, 0, sizeof(*t));
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Slot holding s (its id) or the empty slot where it belongs. */
static uint32_t *find_slot(const struct strtab *t, const char *s, uint32_t h)
{
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t id = t->slots[i];
        if (!id || (t->hashes[id] == h && strcmp(t->strings[id], s) == 0))
            return &t->slots[i];
    }
}

static int grow_index(struct strtab *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return RF_ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    for (size_t id = 1; id < t->len; id++)
        *find_slot(t, t->strings[id], t->hashes[id]) = (uint32_t)id;
    return RF_OK;
}

static int grow_ids(struct strtab *t)
{
    size_t n = t->cap ? t->cap * 2 : 256;
    char **strings = realloc(t->strings, n * sizeof(*strings));
    if (!strings)
        return RF_ENOMEM;
    t->strings = strings;
    uint32_t *hashes = realloc(t->hashes, n * sizeof(*hashes));
    if (!hashes)
        return RF_ENOMEM;
    t->hashes = hashes;
    t->cap = n;
    return RF_OK;
}

int strtab_intern(struct strtab *t, const char *s, uint32_t *id)
{
    *id = 0;
    if (!s)
        return RF_OK;
    uint32_t found = strtab_find(t, s);
    if (found) {
        *id = found;
        return RF_OK;
    }
    if (t->len == 0)
        t->len = 1; /* id 0 is reserved */
    if (t->len >= UINT32_MAX)
        return RF_ENOMEM;
    if (t->len >= t->cap && grow_ids(t) != RF_OK)
        return RF_ENOMEM;
    if ((t->len + 1) * 4 > t->nslots * 3 && grow_index(t) != RF_OK)
        return RF_ENOMEM;
    size_t n = strlen(s);
    char *copy = rf_arena_strndup(&t->arena, s, n);
    if (!copy)
        return RF_ENOMEM;
    uint32_t h = hash_str(s);
    t->strings[t->len] = copy;
    t->hashes[t->len] = h;
    *find_slot(t, s, h) = (uint32_t)t->len;
    *id = (uint32_t)t->len++;
    t->bytes += n + 1;
    return RF_OK;
}

uint32_t strtab_find(const struct strtab *t, const char *s)
{
    if (!s || !t->nslots)
        return 0;
    return *find_slot(t, s, hash_str(s));
}

const char *strtab_get(const struct strtab *t, uint32_t id)
{
    return id && id < t->len ? t->strings[id] : NULL;
}

size_t strtab_memory_bytes(const struct strtab *t)
{
    return t->bytes + t->cap * (sizeof(char *) + sizeof(uint32_t)) +
           t->nslots * sizeof(uint32_t);
}
