/*
 * arena.c - bump allocator: chunks of at least 16 KiB, each allocation
 * 8-byte aligned. See rasfleet/arena.h for the contract.
 */
#include "rasfleet/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_MIN (16u * 1024u)

struct rf_arena_chunk {
    struct rf_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

void rf_arena_init(struct rf_arena *a)
{
    a->head = NULL;
    a->bytes = 0;
}

void rf_arena_free(struct rf_arena *a)
{
    struct rf_arena_chunk *c = a->head;
    while (c) {
        struct rf_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

void *rf_arena_alloc(struct rf_arena *a, size_t n)
{
    size_t need = (n + 7u) & ~(size_t)7u;
    if (need < n)
        return NULL;
    struct rf_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
        if (cap > SIZE_MAX - sizeof(*c))
            return NULL;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->bytes += need;
    memset(p, 0, n);
    return p;
}

char *rf_arena_strndup(struct rf_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = rf_arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rf_arena_strdup(struct rf_arena *a, const char *s)
{
    return rf_arena_strndup(a, s, strlen(s));
}
