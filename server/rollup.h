/*
 * rollup.h - the daily rollup tables (schema migration 4): what a row
 * means, folding a batch's outcome events into a few rows for the writer,
 * and reading a range of days back for the API's windows past the hot
 * horizon.
 *
 * What a row counts (the hot aggregate's definitions, server/fleet.h): an
 * attempt is one outcome event, 20225 (success) or 20227 (failure); a
 * failure's code is the 20227's error code, 0 when it carries none.
 *
 *   rollup_attempts(day, attempts)
 *       the fleet's attempts of a UTC day;
 *   rollup_failures(day, device, connection, code, failures)
 *       the failures of a UTC day per device id, connection (dict id) and
 *       code.
 *
 * The day of a time is rollup_day(): whole UTC days since the epoch, times
 * before 1970 on day 0 (as fleet_minute() puts them on minute 0). Only
 * events that the writer actually inserted are counted (an event already
 * stored under the same device and record id is not counted again), and
 * the rows are written in the transaction of the raw rows, so rollups and
 * raw rows never disagree.
 */
#ifndef RASFLEET_ROLLUP_H
#define RASFLEET_ROLLUP_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rasfleet/arena.h"
#include "readstore.h"

#define ROLLUP_DAY_MS 86400000LL

/* Day number of a time in ms (UTC); 0 for times before 1970. */
int64_t rollup_day(int64_t ms);

/* ---- writing: a batch (SQLite writer) or a whole group of batches of
 * several devices (PostgreSQL writer) folded into rows; the fold knows no
 * database, only rollup_batch_write() is SQLite's ---- */

struct rollup_attempts_row {
    int64_t day;
    uint64_t attempts;
};

struct rollup_failure_cell {
    int64_t day;
    int64_t device;     /* devices.id */
    int64_t connection; /* dict id */
    int32_t code;
    uint64_t failures;
};

struct rollup_batch {
    struct rollup_attempts_row *days;
    size_t n_days, cap_days;
    struct rollup_failure_cell *cells;
    size_t n_cells, cap_cells;
};

void rollup_batch_init(struct rollup_batch *rb);
void rollup_batch_free(struct rollup_batch *rb);
/* Empties rb for the next batch (keeps its memory). */
void rollup_batch_reset(struct rollup_batch *rb);
/* Counts one stored event; events other than 20225 and 20227 are ignored.
 * RF_OK or RF_ENOMEM. */
int rollup_batch_add(struct rollup_batch *rb, int64_t device, int64_t time_ms, int event_id,
                     int64_t connection, bool has_code, int64_t code);
/* Sorts both row lists by key and merges equal keys: afterwards each key
 * appears once, in primary-key order (the order to upsert them in). */
void rollup_batch_finish(struct rollup_batch *rb);

/* The upserts that add a batch's rows to the tables; parameters
 * (day, attempts) and (day, device, connection, code, failures). */
#define ROLLUP_UPSERT_ATTEMPTS_SQL                                                                 \
    "INSERT INTO rollup_attempts(day, attempts) VALUES(?1, ?2)"                                    \
    " ON CONFLICT(day) DO UPDATE SET attempts = attempts + excluded.attempts"
#define ROLLUP_UPSERT_FAILURES_SQL                                                                 \
    "INSERT INTO rollup_failures(day, device, connection, code, failures)"                         \
    " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(day, device, connection, code)"                       \
    " DO UPDATE SET failures = failures + excluded.failures"

/* Finishes rb and upserts its rows with statements prepared from the two
 * SQL texts above, inside the caller's transaction. Returns SQLITE_OK or
 * the SQLite code of the step that failed. */
int rollup_batch_write(struct rollup_batch *rb, sqlite3_stmt *attempts, sqlite3_stmt *failures);

/* ---- reading: a range of days [from_day, to_day], inside the caller's
 * snapshot (readstore_begin) on either backend ---- */

/* Failures of a device on a connection with a code over the range. */
struct rollup_failure {
    const char *device;     /* device uid */
    const char *connection; /* connection name */
    int64_t connection_id;  /* its dict id */
    int32_t code;
    uint64_t failures;
};

struct rollup_failures {
    struct rollup_failure *rows;
    size_t n, cap;
    struct rf_arena arena; /* the strings */
};

void rollup_failures_init(struct rollup_failures *out);
void rollup_failures_free(struct rollup_failures *out);

/* Fills out with one row per (device, connection, code) that failed in the
 * range; only failures with *code when code is not NULL. The caller owns
 * out (init before, free after, also on failure). RF_OK, RF_ESTORAGE or
 * RF_ENOMEM. */
int rollup_read_failures(struct readstore *rs, int64_t from_day, int64_t to_day,
                         const int32_t *code, struct rollup_failures *out);

/* Calls fn once per day of the range that had attempts. fn returns RF_OK to
 * go on; any other value stops the read and is returned. Otherwise RF_OK or
 * RF_ESTORAGE. */
typedef int (*rollup_attempts_fn)(void *arg, int64_t day, uint64_t attempts);
int rollup_read_attempts(struct readstore *rs, int64_t from_day, int64_t to_day,
                         rollup_attempts_fn fn, void *arg);

/* Calls fn once per day and code with failures in the range (all devices
 * and connections), as rollup_read_attempts() calls its fn. */
typedef int (*rollup_daily_fn)(void *arg, int64_t day, int32_t code, uint64_t failures);
int rollup_read_daily_failures(struct readstore *rs, int64_t from_day, int64_t to_day,
                               rollup_daily_fn fn, void *arg);

#endif
