/*
 * pg_derived.h - the rows a group of batches derives on PostgreSQL besides
 * its raw rows: each device's latest agent_status (replaced), the losses
 * each report adds (agent_losses, agentloss.h computes them) and the daily
 * rollups (rollup.h folds them). The PostgreSQL writer (pg_writer.c) writes
 * them in the group's transaction, with the same definitions as SQLite's
 * writer (writer.c):
 *
 *   after BEGIN   PG_DERIVED_PREV_SQL reads (and locks, in device order)
 *                 the previous totals of the devices whose batches carry
 *                 agent_status records;
 *   before COMMIT PG_DERIVED_WRITE_SQL upserts everything the stored
 *                 batches (new, not refused) add, from arrays: one
 *                 statement per group, no extra round trip (it is sent
 *                 with COMMIT).
 *
 * Only events that the group actually inserted count in the rollups (the
 * writer's inserted[] flags), and agent_status reports apply in arrival
 * order, as the hot aggregate applies them (commit hook). A refused batch
 * rolled back to its savepoint adds nothing; a duplicate batch adds
 * nothing. Rollup rows are upserted in primary-key order and at the end of
 * the transaction, so two collectors updating the same day's row wait for
 * each other only for the time of a commit, never in a cycle.
 *
 * Limit: the first report of a device that two collectors store at the
 * same moment (no row to lock yet) counts its totals as losses in both
 * transactions' view; the second upsert still replaces the row correctly.
 */
#ifndef RASFLEET_PG_DERIVED_H
#define RASFLEET_PG_DERIVED_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentloss.h"
#include "buf.h"
#include "rollup.h"
#include "strmap.h"
#include "writer_queue.h"

/* $1 text[] of device uids; rows (uid, dropped, dropped records, rejected). */
#define PG_DERIVED_PREV_SQL                                                                        \
    "SELECT d.uid, s.dropped_batches_total, coalesce(s.dropped_records_total, 0),"                 \
    " coalesce(s.rejected_batches_total, 0) FROM agent_status s JOIN devices d"                    \
    " ON d.id = s.device WHERE d.uid = ANY($1::text[]) ORDER BY s.device FOR UPDATE OF s"

#define PG_DERIVED_PARAMS 29

/* The parameters of PG_DERIVED_WRITE_SQL, each a PostgreSQL array. */
struct pg_derived {
    struct buf col[PG_DERIVED_PARAMS];
    struct buf uids; /* PG_DERIVED_PREV_SQL's parameter */
    struct rollup_batch rollup;
    struct strmap prev_index; /* device uid -> index in prev[] */
    struct agentloss_totals *prev;
    size_t n_prev, cap_prev;
    bool has_rows; /* something to write */
};

extern const char *const pg_derived_write_sql;

void pg_derived_init(struct pg_derived *d);
void pg_derived_free(struct pg_derived *d);

/* The uids of the devices of jobs[] with agent_status records in d->uids
 * (a text[] literal); *any = false when there are none (skip the read).
 * RF_OK or RF_ENOMEM. */
int pg_derived_status_devices(struct pg_derived *d, struct writer_job *const *jobs, size_t n,
                              bool *any);

/* Takes the answer to PG_DERIVED_PREV_SQL (NULL: no device had a row).
 * RF_OK or RF_ENOMEM. */
int pg_derived_set_previous(struct pg_derived *d, const PGresult *prev);

/* Folds the stored batches of arrival[] (in arrival order; a job counts
 * when res.status is RF_OK and it is not a duplicate; device_row is its
 * devices.id) into the parameter arrays; dict maps connection names to
 * ids. d->has_rows tells whether there is anything to write. RF_OK,
 * RF_ENOMEM, or RF_EINVAL when a connection name is missing from dict. */
int pg_derived_build(struct pg_derived *d, struct writer_job *const *arrival, size_t n,
                     const struct strmap *dict, int64_t now);

/* The parameter values for PQsendQueryParams (valid until the next build). */
void pg_derived_params(const struct pg_derived *d, const char *out[PG_DERIVED_PARAMS]);

#endif
