/*
 * strtab.h - string interning: each distinct string gets a small integer id
 * (1, 2, ...; 0 means "none"), so the hot aggregate stores 4-byte ids
 * instead of strings and compares attributes by integer.
 *
 * Memory per distinct string: the string itself in an arena (no per-string
 * malloc header), 8 bytes of id -> string pointer, 4 bytes of hash and
 * 4-byte slots of an open-addressing index kept at most 3/4 full. Strings
 * are never removed (ids stay valid as long as the table).
 *
 * Not thread-safe by itself: the fleet state's lock guards it.
 */
#ifndef RASFLEET_STRTAB_H
#define RASFLEET_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "rasfleet/arena.h"

struct strtab {
    uint32_t *slots;    /* index: string id, 0 = empty; nslots is a power of two */
    size_t nslots;
    char **strings;     /* id -> string; strings[0] = NULL */
    uint32_t *hashes;   /* id -> hash of the string */
    size_t len, cap;    /* ids in use (including 0), allocated */
    size_t bytes;       /* string bytes including terminators */
    struct rf_arena arena;
};

void strtab_init(struct strtab *t);
void strtab_free(struct strtab *t);
/* Id of s (added when new); 0 for NULL. Returns RF_OK or RF_ENOMEM. */
int strtab_intern(struct strtab *t, const char *s, uint32_t *id);
/* Id of s when present, else 0. */
uint32_t strtab_find(const struct strtab *t, const char *s);
/* String of an id; NULL for 0 or an unknown id. */
const char *strtab_get(const struct strtab *t, uint32_t id);
/* Bytes the table holds (strings, arrays and index). */
size_t strtab_memory_bytes(const struct strtab *t);

#endif
