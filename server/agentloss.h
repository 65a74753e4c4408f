/*
 * agentloss.h - what one agent_status report adds to the previous one of the
 * same device: the batches (and records) its spool dropped and the batches
 * the collector refused, since that previous report.
 *
 * Agents send cumulative totals, so a lost or repeated report costs nothing:
 * the next one carries the totals again. The writer (against the row in
 * SQLite) and the hot aggregate (against its copy in memory) both call
 * agentloss_between() on the same reports in the same order (arrival), so
 * the deltas they record are the same, and a restart rebuilds the aggregate
 * from what the writer stored.
 *
 * Rules, per counter: a total below the previous one means the agent's state
 * was reset (reinstalled, state directory deleted): the new total is all new.
 * A counter the agent does not send counts as 0. Pure functions.
 */
#ifndef RASFLEET_AGENTLOSS_H
#define RASFLEET_AGENTLOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "rasfleet/record.h"

/* The agent_status upsert of both writers (writer.c on SQLite, pg_derived.c
 * on PostgreSQL): the columns, then VALUES or a SELECT, then
 * AGENTLOSS_STATUS_REPLACE_SQL and how `reports` grows. A report replaces
 * the row; last_drop keeps the previous one unless the report dropped. */
#define AGENTLOSS_STATUS_INSERT_SQL                                                                \
    "INSERT INTO agent_status(device, time, received, agent_version, spool_bytes,"                 \
    " spool_batches, spool_limit_bytes, dropped_batches_total, dropped_records_total,"             \
    " rejected_batches_total, last_success, last_error, last_error_time, source_errors,"           \
    " last_drop, reports) "
#define AGENTLOSS_STATUS_REPLACE_SQL                                                               \
    " ON CONFLICT(device) DO UPDATE SET time = excluded.time, received = excluded.received,"       \
    " agent_version = excluded.agent_version, spool_bytes = excluded.spool_bytes,"                 \
    " spool_batches = excluded.spool_batches, spool_limit_bytes = excluded.spool_limit_bytes,"     \
    " dropped_batches_total = excluded.dropped_batches_total,"                                     \
    " dropped_records_total = excluded.dropped_records_total,"                                     \
    " rejected_batches_total = excluded.rejected_batches_total,"                                   \
    " last_success = excluded.last_success, last_error = excluded.last_error,"                     \
    " last_error_time = excluded.last_error_time, source_errors = excluded.source_errors,"         \
    " last_drop = coalesce(excluded.last_drop, agent_status.last_drop),"

/* The cumulative counters of one report. */
struct agentloss_totals {
    int64_t dropped_batches, dropped_records, rejected_batches;
};

/* Losses between two reports (each >= 0). */
struct agentloss {
    int64_t dropped_batches, dropped_records, rejected_batches;
};

/* The totals a report carries (absent counters as 0). */
void agentloss_totals_of(const struct rf_agent_status *s, struct agentloss_totals *out);

/* What cur adds to prev; prev NULL: the device's first report (all of cur). */
void agentloss_between(const struct agentloss_totals *prev, const struct agentloss_totals *cur,
                       struct agentloss *out);

/* True when the report adds a dropped batch or a refused one. */
bool agentloss_any(const struct agentloss *l);

#endif
