/*
 * arena.h - a bump allocator for data that dies together (one batch).
 *
 * Allocations are carved from chunks; nothing is freed individually;
 * rf_arena_free() releases every chunk. Not thread-safe: one owner at a time.
 */
#ifndef RASFLEET_ARENA_H
#define RASFLEET_ARENA_H

#include <stddef.h>

struct rf_arena_chunk;

struct rf_arena {
    struct rf_arena_chunk *head;
    size_t bytes; /* total bytes handed out, for accounting */
};

void rf_arena_init(struct rf_arena *a);
void rf_arena_free(struct rf_arena *a);
/* Returns 8-byte aligned zeroed memory, or NULL when out of memory. */
void *rf_arena_alloc(struct rf_arena *a, size_t n);
/* Copies len bytes and adds a NUL; NULL when out of memory. */
char *rf_arena_strndup(struct rf_arena *a, const char *s, size_t len);
char *rf_arena_strdup(struct rf_arena *a, const char *s);

#endif
