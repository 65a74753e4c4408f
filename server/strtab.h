/*
 * strtab.h - string interning: each distinct string gets a small integer id
 * (1, 2, ...; 0 means "none"), so the hot aggregate stores 4-byte ids
 * instead of strings and compares attributes by integer.
 *
 * Not thread-safe by itself: the fleet state's lock guards it.
 */
#ifndef RASFLEET_STRTAB_H
#define RASFLEET_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

struct strtab {
    struct strmap index; /* string -> id */
    char **strings;      /* id -> string; strings[0] = NULL */
    size_t len, cap;
    size_t bytes;
};

void strtab_init(struct strtab *t);
void strtab_free(struct strtab *t);
/* Id of s (added when new); 0 for NULL. Returns RF_OK or RF_ENOMEM. */
int strtab_intern(struct strtab *t, const char *s, uint32_t *id);
/* Id of s when present, else 0. */
uint32_t strtab_find(const struct strtab *t, const char *s);
/* String of an id; NULL for 0 or an unknown id. */
const char *strtab_get(const struct strtab *t, uint32_t id);

#endif
