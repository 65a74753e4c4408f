/*
 * strmap.h - a string -> int64 hash map (open addressing, linear probing),
 * used by the writer as its cache of dictionary and device ids so a
 * repeated string costs a hash lookup, not a database query.
 *
 * Keys are copied; strmap_free releases them. Not thread-safe (the writer
 * thread owns its maps).
 */
#ifndef RASFLEET_STRMAP_H
#define RASFLEET_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot;

struct strmap {
    struct strmap_slot *slots;
    size_t cap; /* power of two */
    size_t len;
    size_t key_bytes;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
void strmap_clear(struct strmap *m);
bool strmap_get(const struct strmap *m, const char *key, int64_t *value);
/* Inserts or replaces; RF_OK or RF_ENOMEM. */
int strmap_put(struct strmap *m, const char *key, int64_t value);
/* Approximate heap bytes held. */
size_t strmap_bytes(const struct strmap *m);

#endif
