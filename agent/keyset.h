/*
 * keyset.h - a set of 64-bit keys (open addressing, linear probing) and the
 * FNV-1a hash the agent uses for its dedupe keys and file content hashes.
 *
 * The agent remembers what it already put in the spool as keys: one per
 * event record number, one per event content fingerprint, one per snapshot
 * record (file content hash + position). The set only grows during a run;
 * the persisted copy is pruned by progress.c. Key 0 is reserved (empty
 * slot): keyset_add() maps it to 1, which costs one bit of the hash.
 */
#ifndef RF_AGENT_KEYSET_H
#define RF_AGENT_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keyset {
    uint64_t *slots;
    size_t cap; /* power of two, 0 before the first add */
    size_t n;
};

#define KEYSET_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void keyset_init(struct keyset *s);
void keyset_free(struct keyset *s);
/* Adds key; *added (may be NULL) says whether it was new. RF_OK or RF_ENOMEM. */
int keyset_add(struct keyset *s, uint64_t key, bool *added);
bool keyset_has(const struct keyset *s, uint64_t key);

#define KEYSET_FNV_OFFSET 0xcbf29ce484222325ULL

/* FNV-1a 64 of data, continuing from h (start with KEYSET_FNV_OFFSET). */
uint64_t keyset_fnv(uint64_t h, const void *data, size_t len);
/* Same for a NUL-terminated string, followed by a 0 separator byte (so
 * ("ab","c") and ("a","bc") hash differently); NULL hashes as one 0xff byte. */
uint64_t keyset_fnv_str(uint64_t h, const char *s);
uint64_t keyset_fnv_u64(uint64_t h, uint64_t v);

#endif
