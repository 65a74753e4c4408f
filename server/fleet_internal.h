/*
 * fleet_internal.h - entry points of fleet.c for fleet_load.c only (the
 * rebuild from SQLite is a second file of the same module). Callers hold the
 * fleet's write lock.
 */
#ifndef RASFLEET_FLEET_INTERNAL_H
#define RASFLEET_FLEET_INTERNAL_H

#include "fleet.h"

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
