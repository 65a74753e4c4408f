/*
 * rollup.c - the daily rollup tables: folding a batch into rows (writer
 * thread) and reading day ranges (API threads, through a readstore). See
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

static const char *col_text(struct rs_rows *r, int i)
{
    const char *s = rs_text(r, i);
    return s ? s : "";
}

int rollup_read_failures(struct readstore *rs, int64_t from_day, int64_t to_day,
                         const int32_t *code, struct rollup_failures *out)
{
    struct rs_arg args[3] = {RS_INT(from_day), RS_INT(to_day), code ? RS_INT(*code) : RS_NULL_INT};
    struct rs_rows *r = NULL;
    int rc = readstore_query(rs, RS_ROLLUP_FAILURES, args, 3, &r);
    while (rc == RF_OK && rs_next(r, &rc)) {
        if (grow((void **)&out->rows, out->n, &out->cap, sizeof(*out->rows)) != RF_OK) {
            rc = RF_ENOMEM;
            break;
        }
        struct rollup_failure *f = &out->rows[out->n];
        f->device = rf_arena_strdup(&out->arena, col_text(r, 0));
        f->connection_id = rs_int(r, 1);
        f->connection = rf_arena_strdup(&out->arena, col_text(r, 2));
        f->code = (int32_t)rs_int(r, 3);
        f->failures = (uint64_t)rs_int(r, 4);
        if (!f->device || !f->connection)
            rc = RF_ENOMEM;
        else
            out->n++;
    }
    rs_close(r);
    return rc;
}

int rollup_read_attempts(struct readstore *rs, int64_t from_day, int64_t to_day,
                         rollup_attempts_fn fn, void *arg)
{
    struct rs_arg args[2] = {RS_INT(from_day), RS_INT(to_day)};
    struct rs_rows *r = NULL;
    int rc = readstore_query(rs, RS_ROLLUP_ATTEMPTS, args, 2, &r);
    while (rc == RF_OK && rs_next(r, &rc))
        rc = fn(arg, rs_int(r, 0), (uint64_t)rs_int(r, 1));
    rs_close(r);
    return rc;
}

int rollup_read_daily_failures(struct readstore *rs, int64_t from_day, int64_t to_day,
                               rollup_daily_fn fn, void *arg)
{
    struct rs_arg args[2] = {RS_INT(from_day), RS_INT(to_day)};
    struct rs_rows *r = NULL;
    int rc = readstore_query(rs, RS_ROLLUP_DAILY, args, 2, &r);
    while (rc == RF_OK && rs_next(r, &rc))
        rc = fn(arg, rs_int(r, 0), (int32_t)rs_int(r, 1), (uint64_t)rs_int(r, 2));
    rs_close(r);
    return rc;
}
