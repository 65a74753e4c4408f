/*
 * rollup.c - the daily rollup tables: folding a batch into rows (writer
 * thread) and reading day ranges (API threads, read-only connections). See
 * rollup.h for what a row counts.
 *
 * A batch is one device's, and its events mostly share a day and a few
 * codes, so the writer upserts a handful of rows per batch (SQLite) or per
 * group of batches (PostgreSQL) instead of one per event. An event is added to its row when a scan of the last
 * ROLLUP_SCAN_ROWS rows finds it (a typical batch has fewer rows than
 * that), else appended as a new row; rollup_batch_finish() sorts and merges
 * once per batch, so a batch of scattered keys costs n log n, not n^2.
 */
#include "rollup.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

#define ROLLUP_SCAN_ROWS 32

int64_t rollup_day(int64_t ms)
{
    return ms <= 0 ? 0 : ms / ROLLUP_DAY_MS;
}

/* ---- writing ---- */

void rollup_batch_init(struct rollup_batch *rb)
{
    memset(rb, 0, sizeof(*rb));
}

void rollup_batch_free(struct rollup_batch *rb)
{
    free(rb->days);
    free(rb->cells);
    rollup_batch_init(rb);
}

void rollup_batch_reset(struct rollup_batch *rb)
{
    rb->n_days = 0;
    rb->n_cells = 0;
}

/* Makes room for one more element in *arr (of n, cap elements of size sz). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return RF_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return RF_ENOMEM;
    *arr = p;
    *cap = ncap;
    return RF_OK;
}

static int add_attempt(struct rollup_batch *rb, int64_t day)
{
    for (size_t i = rb->n_days; i-- > 0 && rb->n_days - i <= ROLLUP_SCAN_ROWS;) {
        if (rb->days[i].day == day) {
            rb->days[i].attempts++;
            return RF_OK;
        }
    }
    if (grow((void **)&rb->days, rb->n_days, &rb->cap_days, sizeof(*rb->days)) != RF_OK)
        return RF_ENOMEM;
    rb->days[rb->n_days++] = (struct rollup_attempts_row){day, 1};
    return RF_OK;
}

static int add_failure(struct rollup_batch *rb, int64_t day, int64_t device, int64_t connection,
                       int32_t code)
{
    for (size_t i = rb->n_cells; i-- > 0 && rb->n_cells - i <= ROLLUP_SCAN_ROWS;) {
        struct rollup_failure_cell *c = &rb->cells[i];
        if (c->day == day && c->device == device && c->connection == connection &&
            c->code == code) {
            c->failures++;
            return RF_OK;
        }
    }
    if (grow((void **)&rb->cells, rb->n_cells, &rb->cap_cells, sizeof(*rb->cells)) != RF_OK)
        return RF_ENOMEM;
    rb->cells[rb->n_cells++] = (struct rollup_failure_cell){day, device, connection, code, 1};
    return RF_OK;
}

int rollup_batch_add(struct rollup_batch *rb, int64_t device, int64_t time_ms, int event_id,
                     int64_t connection, bool has_code, int64_t code)
{
    if (event_id != 20225 && event_id != 20227)
        return RF_OK;
    int64_t day = rollup_day(time_ms);
    int rc = add_attempt(rb, day);
    if (rc == RF_OK && event_id == 20227)
        rc = add_failure(rb, day, device, connection, has_code ? (int32_t)code : 0);
    return rc;
}

static int cmp_day(const void *a, const void *b)
{
    const struct rollup_attempts_row *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

static int cmp_cell(const void *a, const void *b)
{
    const struct rollup_failure_cell *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if (x->device != y->device)
        return x->device < y->device ? -1 : 1;
    if (x->connection != y->connection)
        return x->connection < y->connection ? -1 : 1;
    return (x->code > y->code) - (x->code < y->code);
}

void rollup_batch_finish(struct rollup_batch *rb)
{
    size_t w = 0;
    if (rb->n_days > 1) {
        qsort(rb->days, rb->n_days, sizeof(*rb->days), cmp_day);
        for (size_t r = 1; r < rb->n_days; r++) {
            if (rb->days[r].day == rb->days[w].day)
                rb->days[w].attempts += rb->days[r].attempts;
            else
                rb->days[++w] = rb->days[r];
        }
        rb->n_days = w + 1;
    }
    if (rb->n_cells > 1) {
        qsort(rb->cells, rb->n_cells, sizeof(*rb->cells), cmp_cell);
        w = 0;
        for (size_t r = 1; r < rb->n_cells; r++) {
            if (cmp_cell(&rb->cells[r], &rb->cells[w]) == 0)
                rb->cells[w].failures += rb->cells[r].failures;
            else
                rb->cells[++w] = rb->cells[r];
        }
        rb->n_cells = w + 1;
    }
}

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int rollup_batch_write(struct rollup_batch *rb, sqlite3_stmt *attempts, sqlite3_stmt *failures)
{
    int rc = SQLITE_DONE;
    rollup_batch_finish(rb);
    for (size_t i = 0; i < rb->n_days && rc == SQLITE_DONE; i++) {
        sqlite3_bind_int64(attempts, 1, rb->days[i].day);
        sqlite3_bind_int64(attempts, 2, (int64_t)rb->days[i].attempts);
        rc = step_reset(attempts);
    }
    for (size_t i = 0; i < rb->n_cells && rc == SQLITE_DONE; i++) {
        const struct rollup_failure_cell *c = &rb->cells[i];
        sqlite3_bind_int64(failures, 1, c->day);
        sqlite3_bind_int64(failures, 2, c->device);
        sqlite3_bind_int64(failures, 3, c->connection);
        sqlite3_bind_int(failures, 4, c->code);
        sqlite3_bind_int64(failures, 5, (int64_t)c->failures);
        rc = step_reset(failures);
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- reading ---- */

void rollup_failures_init(struct rollup_failures *out)
{
    memset(out, 0, sizeof(*out));
    rf_arena_init(&out->arena);
}

void rollup_failures_free(struct rollup_failures *out)
{
    free(out->rows);
    rf_arena_free(&out->arena);
    rollup_failures_init(out);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int rollup_read_failures(sqlite3 *db, int64_t from_day, int64_t to_day, const int32_t *code,
                         struct rollup_failures *out)
{
    /* Sum per key first, then look the names up once per result row. */
    static const char *const sql =
        "SELECT d.uid, g.connection, c.s, g.code, g.n FROM"
        " (SELECT device, connection, code, sum(failures) AS n FROM rollup_failures"
        "  WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR code = ?3)"
        "  GROUP BY device, connection, code) g"
        " JOIN devices d ON d.id = g.device JOIN dict c ON c.id = g.connection";
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, from_day);
    sqlite3_bind_int64(st, 2, to_day);
    if (code)
        sqlite3_bind_int(st, 3, *code);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = RF_ENOMEM;
        if (grow((void **)&out->rows, out->n, &out->cap, sizeof(*out->rows)) != RF_OK)
            goto out;
        struct rollup_failure *r = &out->rows[out->n];
        r->device = rf_arena_strdup(&out->arena, col_text(st, 0));
        r->connection_id = sqlite3_column_int64(st, 1);
        r->connection = rf_arena_strdup(&out->arena, col_text(st, 2));
        r->code = sqlite3_column_int(st, 3);
        r->failures = (uint64_t)sqlite3_column_int64(st, 4);
        if (!r->device || !r->connection)
            goto out;
        out->n++;
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

int rollup_read_attempts(sqlite3 *db, int64_t from_day, int64_t to_day, rollup_attempts_fn fn,
                         void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    if (sqlite3_prepare_v2(db,
                           "SELECT day, attempts FROM rollup_attempts WHERE day BETWEEN ?1 AND ?2",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, from_day);
    sqlite3_bind_int64(st, 2, to_day);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(arg, sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
        if (rc != RF_OK)
            goto out;
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

int rollup_read_daily_failures(sqlite3 *db, int64_t from_day, int64_t to_day, rollup_daily_fn fn,
                               void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    if (sqlite3_prepare_v2(db,
                           "SELECT day, code, sum(failures) FROM rollup_failures"
                           " WHERE day BETWEEN ?1 AND ?2 GROUP BY day, code",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, from_day);
    sqlite3_bind_int64(st, 2, to_day);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                (uint64_t)sqlite3_column_int64(st, 2));
        if (rc != RF_OK)
            goto out;
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}
