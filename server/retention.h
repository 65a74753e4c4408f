/*
 * retention.h - what retention deletes, the same steps on both storage
 * backends (writer.c on SQLite, pg_writer.c on PostgreSQL): raw rows and
 * agent_losses after retention_days, the daily rollups after
 * rollup_retention_days, each statement a bounded step along an index.
 *
 * Every statement takes $1 = the cutoff in the step's unit (unit_ms: ms,
 * minutes or days since the epoch; retention_cutoff() computes it) and $2 =
 * the step's row limit; $1 comes before $2 in each text, so SQLite binds
 * them by index 1 and 2 as PostgreSQL does.
 */
#ifndef RASFLEET_RETENTION_H
#define RASFLEET_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct retention_step {
    const char *sql;
    int64_t unit_ms;
    bool rollup; /* rollup_retention_days, else retention_days */
};

extern const struct retention_step retention_steps[];
extern const size_t retention_n_steps;

/* The days that apply to the step (0 = keep forever). */
int retention_days_of(const struct retention_step *s, int retention_days,
                      int rollup_retention_days);

/* $1 of the step at now (ms) for that many days. */
int64_t retention_cutoff(const struct retention_step *s, int64_t now_ms, int days);

#endif
