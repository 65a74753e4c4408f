/*
 * pg_derived.c - agent_status, agent_losses and daily rollups of a group of
 * batches on PostgreSQL, as parameter arrays for one statement. See
 * pg_derived.h.
 */
#include "pg_derived.h"
#include "pgarray.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

/* Parameter positions ($n is index + 1). */
/* clang-format off */
enum {
    /* agent_status, one row per device, in device order */
    S_DEVICE, S_TIME, S_RECEIVED, S_VERSION, S_SPOOL_BYTES, S_SPOOL_BATCHES, S_SPOOL_LIMIT,
    S_DROPPED, S_DROPPED_RECORDS, S_REJECTED, S_LAST_SUCCESS, S_LAST_ERROR, S_LAST_ERROR_TIME,
    S_SOURCE_ERRORS, S_LAST_DROP, S_REPORTS,
    /* agent_losses, one row per report that lost something, arrival order */
    L_DEVICE, L_TIME, L_RECEIVED, L_DROPPED, L_DROPPED_RECORDS, L_REJECTED,
    /* rollups, primary-key order */
    A_DAY, A_ATTEMPTS,
    F_DAY, F_DEVICE, F_CONNECTION, F_CODE, F_FAILURES,
    N_COLS
};
/* clang-format on */

_Static_assert(N_COLS == PG_DERIVED_PARAMS, "parameter count");

const char *const pg_derived_write_sql =
    "WITH s AS (" AGENTLOSS_STATUS_INSERT_SQL
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],"
    " $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],"
    " $10::bigint[], $11::bigint[], $12::text[], $13::bigint[], $14::bigint[], $15::bigint[],"
    " $16::bigint[])" AGENTLOSS_STATUS_REPLACE_SQL
    " reports = agent_status.reports + excluded.reports, tx = excluded.tx),"
    " l AS (INSERT INTO agent_losses(device, time, received, dropped_batches, dropped_records,"
    " rejected_batches) SELECT * FROM unnest($17::bigint[], $18::bigint[], $19::bigint[],"
    " $20::bigint[], $21::bigint[], $22::bigint[])),"
    " a AS (INSERT INTO rollup_attempts(day, attempts) SELECT * FROM unnest($23::bigint[],"
    " $24::bigint[]) ON CONFLICT (day) DO UPDATE"
    " SET attempts = rollup_attempts.attempts + excluded.attempts),"
    " f AS (INSERT INTO rollup_failures(day, device, connection, code, failures)"
    " SELECT * FROM unnest($25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[],"
    " $29::bigint[]) ON CONFLICT (day, device, connection, code) DO UPDATE"
    " SET failures = rollup_failures.failures + excluded.failures)"
    " SELECT 1";

/* One device's reports within the group. */
struct dev_status {
    int64_t row;
    const struct rf_agent_status *last;
    int64_t last_time, reports, last_drop;
    bool has_drop;
};

void pg_derived_init(struct pg_derived *d)
{
    memset(d, 0, sizeof(*d));
    for (int i = 0; i < N_COLS; i++)
        buf_init(&d->col[i]);
    buf_init(&d->uids);
    rollup_batch_init(&d->rollup);
    strmap_init(&d->prev_index);
}

void pg_derived_free(struct pg_derived *d)
{
    for (int i = 0; i < N_COLS; i++)
        buf_free(&d->col[i]);
    buf_free(&d->uids);
    rollup_batch_free(&d->rollup);
    strmap_free(&d->prev_index);
    free(d->prev);
    memset(d, 0, sizeof(*d));
}

static bool has_status(const struct rf_batch *b)
{
    for (size_t k = 0; k < b->n_records; k++)
        if (b->records[k].kind == RF_KIND_AGENT_STATUS)
            return true;
    return false;
}

int pg_derived_status_devices(struct pg_derived *d, struct writer_job *const *jobs, size_t n,
                              bool *any)
{
    int rc = pgarray_open(&d->uids);
    *any = false;
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        if (!has_status(&jobs[i]->batch))
            continue;
        *any = true;
        rc = pgarray_text(&d->uids, jobs[i]->batch.agent.device_id);
    }
    if (rc == RF_OK)
        rc = pgarray_close(&d->uids);
    return rc;
}

int pg_derived_set_previous(struct pg_derived *d, const PGresult *prev)
{
    strmap_clear(&d->prev_index);
    d->n_prev = 0;
    int rows = prev ? PQntuples(prev) : 0;
    if ((size_t)rows > d->cap_prev) {
        struct agentloss_totals *p = realloc(d->prev, (size_t)rows * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        d->prev = p;
        d->cap_prev = (size_t)rows;
    }
    for (int i = 0; i < rows; i++) {
        struct agentloss_totals *t = &d->prev[d->n_prev];
        t->dropped_batches = strtoll(PQgetvalue(prev, i, 1), NULL, 10);
        t->dropped_records = strtoll(PQgetvalue(prev, i, 2), NULL, 10);
        t->rejected_batches = strtoll(PQgetvalue(prev, i, 3), NULL, 10);
        if (strmap_put(&d->prev_index, PQgetvalue(prev, i, 0), (int64_t)d->n_prev) != RF_OK)
            return RF_ENOMEM;
        d->n_prev++;
    }
    return RF_OK;
}

static int opt_int(struct buf *b, bool has, int64_t v)
{
    return has ? pgarray_int(b, v) : pgarray_null(b);
}

/* One report: its losses against the device's previous totals (which it
 * then replaces), the row it leaves in agent_status. */
static int add_report(struct pg_derived *d, struct dev_status *ds, int64_t *prev_at,
                      const struct rf_record *r, const char *uid, int64_t now)
{
    struct agentloss_totals cur;
    struct agentloss loss;
    agentloss_totals_of(&r->u.st, &cur);
    agentloss_between(*prev_at >= 0 ? &d->prev[*prev_at] : NULL, &cur, &loss);
    if (*prev_at < 0) { /* the device's first report: its totals become the previous ones */
        if (d->n_prev == d->cap_prev) {
            size_t cap = d->cap_prev ? d->cap_prev * 2 : 16;
            struct agentloss_totals *p = realloc(d->prev, cap * sizeof(*p));
            if (!p)
                return RF_ENOMEM;
            d->prev = p;
            d->cap_prev = cap;
        }
        *prev_at = (int64_t)d->n_prev++;
        if (strmap_put(&d->prev_index, uid, *prev_at) != RF_OK)
            return RF_ENOMEM;
    }
    d->prev[*prev_at] = cur;
    ds->last = &r->u.st;
    ds->last_time = r->time_ms;
    ds->reports++;
    if (loss.dropped_batches > 0) {
        ds->has_drop = true;
        ds->last_drop = r->time_ms;
    }
    if (!agentloss_any(&loss))
        return RF_OK;
    struct buf *c = d->col;
    int rc = pgarray_int(&c[L_DEVICE], ds->row);
    if (rc == RF_OK)
        rc = pgarray_int(&c[L_TIME], r->time_ms);
    if (rc == RF_OK)
        rc = pgarray_int(&c[L_RECEIVED], now);
    if (rc == RF_OK)
        rc = pgarray_int(&c[L_DROPPED], loss.dropped_batches);
    if (rc == RF_OK)
        rc = pgarray_int(&c[L_DROPPED_RECORDS], loss.dropped_records);
    if (rc == RF_OK)
        rc = pgarray_int(&c[L_REJECTED], loss.rejected_batches);
    d->has_rows = true;
    return rc;
}

static int status_row(struct pg_derived *d, const struct dev_status *ds, int64_t now)
{
    const struct rf_agent_status *s = ds->last;
    struct buf *c = d->col;
    int rc = pgarray_int(&c[S_DEVICE], ds->row);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_TIME], ds->last_time);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_RECEIVED], now);
    if (rc == RF_OK)
        rc = pgarray_text(&c[S_VERSION], s->agent_version);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_SPOOL_BYTES], s->spool_bytes);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_SPOOL_BATCHES], s->spool_batches);
    if (rc == RF_OK)
        rc = opt_int(&c[S_SPOOL_LIMIT], s->has_spool_limit, s->spool_limit_bytes);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_DROPPED], s->dropped_batches_total);
    if (rc == RF_OK)
        rc = opt_int(&c[S_DROPPED_RECORDS], s->has_dropped_records, s->dropped_records_total);
    if (rc == RF_OK)
        rc = opt_int(&c[S_REJECTED], s->has_rejected_batches, s->rejected_batches_total);
    if (rc == RF_OK)
        rc = opt_int(&c[S_LAST_SUCCESS], s->has_last_success, s->last_success_ms);
    if (rc == RF_OK)
        rc = pgarray_text(&c[S_LAST_ERROR], s->last_error);
    if (rc == RF_OK)
        rc = opt_int(&c[S_LAST_ERROR_TIME], s->has_last_error_time, s->last_error_ms);
    if (rc == RF_OK)
        rc = opt_int(&c[S_SOURCE_ERRORS], s->has_source_errors, s->source_errors);
    if (rc == RF_OK)
        rc = opt_int(&c[S_LAST_DROP], ds->has_drop, ds->last_drop);
    if (rc == RF_OK)
        rc = pgarray_int(&c[S_REPORTS], ds->reports);
    d->has_rows = true;
    return rc;
}

static int cmp_dev(const void *a, const void *b)
{
    const struct dev_status *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

/* Events of one stored batch into the group's rollup fold. */
static int fold_events(struct pg_derived *d, const struct writer_job *j, const struct strmap *dict)
{
    const struct rf_batch *b = &j->batch;
    for (size_t k = 0; k < b->n_records; k++) {
        const struct rf_record *r = &b->records[k];
        if (r->kind != RF_KIND_RAS_EVENT || !j->inserted[k])
            continue;
        const struct rf_ras_event *e = &r->u.ev;
        int64_t conn = 0;
        if (e->event_id != 20225 && e->event_id != 20227)
            continue;
        if (e->connection && !strmap_get(dict, e->connection, &conn))
            return RF_EINVAL; /* resolve_dict() put every string of the group there */
        if (rollup_batch_add(&d->rollup, j->device_row, r->time_ms, e->event_id, conn,
                             e->has_error_code, e->error_code) != RF_OK)
            return RF_ENOMEM;
    }
    return RF_OK;
}

static int rollup_rows(struct pg_derived *d)
{
    struct buf *c = d->col;
    int rc = RF_OK;
    rollup_batch_finish(&d->rollup);
    for (size_t i = 0; i < d->rollup.n_days && rc == RF_OK; i++) {
        rc = pgarray_int(&c[A_DAY], d->rollup.days[i].day);
        if (rc == RF_OK)
            rc = pgarray_int(&c[A_ATTEMPTS], (int64_t)d->rollup.days[i].attempts);
    }
    for (size_t i = 0; i < d->rollup.n_cells && rc == RF_OK; i++) {
        const struct rollup_failure_cell *f = &d->rollup.cells[i];
        rc = pgarray_int(&c[F_DAY], f->day);
        if (rc == RF_OK)
            rc = pgarray_int(&c[F_DEVICE], f->device);
        if (rc == RF_OK)
            rc = pgarray_int(&c[F_CONNECTION], f->connection);
        if (rc == RF_OK)
            rc = pgarray_int(&c[F_CODE], f->code);
        if (rc == RF_OK)
            rc = pgarray_int(&c[F_FAILURES], (int64_t)f->failures);
    }
    if (d->rollup.n_days)
        d->has_rows = true;
    return rc;
}

int pg_derived_build(struct pg_derived *d, struct writer_job *const *arrival, size_t n,
                     const struct strmap *dict, int64_t now)
{
    struct dev_status *devs = calloc(n ? n : 1, sizeof(*devs));
    struct strmap dev_index; /* uid -> index in devs */
    size_t n_devs = 0;
    int rc = devs ? RF_OK : RF_ENOMEM;
    strmap_init(&dev_index);
    d->has_rows = false;
    rollup_batch_reset(&d->rollup);
    for (int i = 0; i < N_COLS && rc == RF_OK; i++)
        rc = pgarray_open(&d->col[i]);
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        const struct writer_job *j = arrival[i];
        const struct rf_batch *b = &j->batch;
        if (j->res.status != RF_OK || j->res.duplicate)
            continue;
        if ((rc = fold_events(d, j, dict)) != RF_OK || !has_status(b))
            continue;
        int64_t at, prev_at = -1;
        const char *uid = b->agent.device_id;
        if (!strmap_get(&dev_index, uid, &at)) {
            at = (int64_t)n_devs++;
            devs[at].row = j->device_row;
            if ((rc = strmap_put(&dev_index, uid, at)) != RF_OK)
                break;
        }
        strmap_get(&d->prev_index, uid, &prev_at);
        for (size_t k = 0; k < b->n_records && rc == RF_OK; k++)
            if (b->records[k].kind == RF_KIND_AGENT_STATUS)
                rc = add_report(d, &devs[at], &prev_at, &b->records[k], uid, now);
    }
    if (rc == RF_OK) {
        qsort(devs, n_devs, sizeof(*devs), cmp_dev); /* lock order */
        for (size_t i = 0; i < n_devs && rc == RF_OK; i++)
            rc = status_row(d, &devs[i], now);
    }
    if (rc == RF_OK)
        rc = rollup_rows(d);
    for (int i = 0; i < N_COLS && rc == RF_OK; i++)
        rc = pgarray_close(&d->col[i]);
    strmap_free(&dev_index);
    free(devs);
    return rc;
}

void pg_derived_params(const struct pg_derived *d, const char *out[PG_DERIVED_PARAMS])
{
    for (int i = 0; i < N_COLS; i++)
        out[i] = d->col[i].data;
}
