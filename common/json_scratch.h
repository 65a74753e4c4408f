/*
 * json_scratch.h - a per-thread scratch region for the cJSON trees of one
 * decode: between json_scratch_begin() and json_scratch_end(), every node
 * and string cJSON allocates on this thread is bumped from a region that
 * json_scratch_end() takes back at once, instead of two malloc()/free()
 * pairs per JSON value. A 500-record batch is ~15 000 values: under load the
 * collector's HTTP threads spent a third of their time in malloc and free
 * on these trees (docs/benchmarks.md, "JSON scratch region").
 *
 * Contract:
 * - json_scratch_install() routes cJSON's allocations through this module;
 *   call it once, before any thread uses cJSON (the collector's main does).
 *   Without it, begin/end do nothing and cJSON uses malloc as before.
 * - A tree parsed inside a scope must be deleted (or simply dropped) before
 *   json_scratch_end(), never used after it: copy out what outlives it.
 * - Scopes do not nest (begin inside a scope returns RF_EINVAL).
 * - The region keeps at most JSON_SCRATCH_KEEP bytes between scopes; a
 *   larger decode's memory goes back to the system at its end, and a
 *   thread's region is freed when the thread exits.
 */
#ifndef RASFLEET_JSON_SCRATCH_H
#define RASFLEET_JSON_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_SCRATCH_KEEP (4u * 1024u * 1024u)

/* Installs the cJSON allocation hooks (again if cJSON_InitHooks replaced
 * them; not thread-safe). */
void json_scratch_install(void);

/* Starts this thread's scope. RF_OK, or RF_EINVAL when one is open. */
int json_scratch_begin(void);

/* Ends this thread's scope: everything allocated in it is released. */
void json_scratch_end(void);

/* Bytes this thread's region holds now (for tests). */
size_t json_scratch_held_bytes(void);

#endif
