/*
 * fleet_internal.h - entry points of fleet.c for the code that applies
 * database rows to the hot aggregate (fleet_rows.c, used by the rebuild
 * from SQLite in fleet_load.c and by the PostgreSQL tail in pg_tail.c).
 * Callers hold the fleet's write lock (fleet_internal_lock).
 */
#ifndef RASFLEET_FLEET_INTERNAL_H
#define RASFLEET_FLEET_INTERNAL_H

#include "fleet.h"

/* Takes the write lock / bumps the version, compacts the logs hourly as
 * fleet_apply() does (now_ms: the time the changes are applied) and
 * releases it. */
void fleet_internal_lock(struct fleet *f);
void fleet_internal_unlock(struct fleet *f, int64_t now_ms);
/* A device seen from first_seen to last_seen (ms) elsewhere: widens its
 * span and, with reorder, moves it to its place in the recency list (a
 * bulk load calls fleet_sort_recency() once instead). RF_OK. */
int fleet_internal_seen(struct fleet *f, long di, int64_t first_seen, int64_t last_seen,
                        bool reorder);
int fleet_internal_device(struct fleet *f, const char *uid, long *out);
int fleet_internal_snapshot(struct fleet *f, long di, const struct rf_batch *b, enum rf_kind kind,
                            int64_t t);
void fleet_internal_event(struct fleet *f, long di, const struct rf_record *r, uint32_t now_minute);
int fleet_internal_checks(struct fleet *f, long di);
/* The device's agent status, allocated (zeroed) on first use; NULL when out
 * of memory. */
struct fleet_agent *fleet_internal_agent(struct fleet *f, long di);
/* Logs a loss reported at time_ms (ignored outside the hot horizon). */
void fleet_internal_loss(struct fleet *f, long di, int64_t time_ms, const struct agentloss *loss,
                         uint32_t now_minute);

#endif
