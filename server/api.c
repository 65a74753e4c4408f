/*
 * api.c - read API handlers. See api.h and docs/api.md.
 *
 * Windows up to the hot horizon (31 days by default) are whole minutes: a
 * window of W ends with the current minute and starts W minutes earlier,
 * and is answered from the hot aggregate. Longer windows, up to the rollup
 * retention (400 days by default), are whole UTC days ending with today and
 * are answered from the daily rollup tables (rollup.h) through the HTTP
 * thread's read-only connection, with the hot path's definitions (group
 * keys come from the same fleet state). Every answer states its "from" and
 * "to" (to exclusive) and its "resolution" ("1m" or "1d"), so a script can
 * recompute any count with SQL over events.time in [from, to); counts are
 * exact for the stored data.
 *
 * SQL never runs under the fleet lock: the writer's commit hook waits for
 * that lock, so a long query under it would stall ingest. A daily window
 * reads its rows first, then takes the lock to resolve devices.
 */
#include "api.h"
#include "batch_json.h"
#include "catalog.h"
#include "event_message.h"
#include "log.h"
#include "rasfleet/result.h"
#include "readstore.h"
#include "rollup.h"
#include "timeutil.h"
#include "utf8.h"

#include <ctype.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_MAX_LIMIT 1000
#define API_MAX_BUCKETS 5000
/* the longest daily window when rollups are kept forever */
#define API_MAX_WINDOW_DAYS 36500

/* ---- small helpers ---- */

static int error_answer(struct http_api_response *res, int status, const char *code,
                        const char *msg)
{
    res->status = status;
    buf_reset(&res->body);
    int rc = buf_printf(&res->body, "{\"error\":\"%s\",\"message\":", code);
    if (rc == RF_OK)
        rc = buf_append_json_str(&res->body, msg);
    return rc == RF_OK ? buf_append_char(&res->body, '}') : rc;
}

static int bad_request(struct http_api_response *res, const char *msg)
{
    return error_answer(res, 400, "bad_request", msg);
}

static int not_found(struct http_api_response *res, const char *msg)
{
    return error_answer(res, 404, "not_found", msg);
}

static int put_time(struct buf *b, const char *key, int64_t ms)
{
    char ts[TIME_RFC3339_MAX];
    time_format_rfc3339(ms, ts, sizeof(ts));
    return buf_printf(b, "\"%s\":\"%s\"", key, ts);
}

/* ---- windows ---- */

struct window {
    const char *text;
    bool daily;                /* past the hot horizon: whole UTC days from the rollups */
    uint32_t from_min, to_min; /* inclusive; hot windows */
    int64_t from_day, to_day;  /* inclusive; daily windows */
    int64_t from_ms, to_ms;    /* [from, to) */
};

/* Parses window= (RF_OK), or writes the 400 answer into res (RF_EINVAL).
 * Needs no lock: the horizon and the rollup retention never change. */
static int parse_window(const struct http_api_request *req, const struct api *api,
                        struct window *w, struct http_api_response *res)
{
    const char *s = req->arg(req, "window");
    int64_t ms, now = time_now_ms();
    w->text = s ? s : "24h";
    if (time_parse_duration(w->text, &ms) != RF_OK || ms < 60000) {
        bad_request(res, "window must be a duration such as 15m, 1h, 24h, 7d or 30d");
        return RF_EINVAL;
    }
    int64_t minutes = ms / 60000;
    if (minutes <= (int64_t)api->fleet->ring_len) {
        w->daily = false;
        w->to_min = fleet_minute(now);
        w->from_min = w->to_min - (uint32_t)minutes + 1;
        w->from_ms = (int64_t)w->from_min * 60000;
        w->to_ms = ((int64_t)w->to_min + 1) * 60000;
        return RF_OK;
    }
    int64_t days = (ms + ROLLUP_DAY_MS - 1) / ROLLUP_DAY_MS;
    int max_days = api->rollup_retention_days > 0 ? api->rollup_retention_days
                                                  : API_MAX_WINDOW_DAYS;
    if (days > max_days) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "window is longer than the rollup retention: at most %dd (windows past the"
                 " hot horizon of %ud are read from the daily rollups)",
                 max_days, api->fleet->ring_len / 1440);
        bad_request(res, msg);
        return RF_EINVAL;
    }
    w->daily = true;
    w->to_day = rollup_day(now);
    w->from_day = w->to_day - days + 1;
    w->from_ms = w->from_day * ROLLUP_DAY_MS;
    w->to_ms = (w->to_day + 1) * ROLLUP_DAY_MS;
    return RF_OK;
}

static int parse_uint(const char *s, unsigned long max, unsigned long dflt, unsigned long *out)
{
    if (!s) {
        *out = dflt;
        return RF_OK;
    }
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return RF_EINVAL;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max)
        return RF_EINVAL;
    *out = v;
    return RF_OK;
}

static int put_window(struct buf *b, const struct window *w)
{
    int rc = buf_append_str(b, "\"window\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, w->text);
    if (rc == RF_OK)
        rc = buf_append_char(b, ',');
    if (rc == RF_OK)
        rc = put_time(b, "from", w->from_ms);
    if (rc == RF_OK)
        rc = buf_append_char(b, ',');
    if (rc == RF_OK)
        rc = put_time(b, "to", w->to_ms);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"resolution\":\"%s\"", w->daily ? "1d" : "1m");
    return rc;
}

static int add_attempts(void *arg, int64_t day, uint64_t attempts)
{
    (void)day;
    *(uint64_t *)arg += attempts;
    return RF_OK;
}

/* Agent losses of a daily window, from agent_losses (the hot loss log holds
 * the horizon only; agent_losses is kept retention_days, so a window longer
 * than that counts what is retained). */
struct daily_losses {
    struct fleet_loss_sum sum;
    const char **dropping; /* uids of the devices that dropped batches */
    size_t n;
    struct rf_arena arena;
};

static void daily_losses_init(struct daily_losses *dl)
{
    memset(dl, 0, sizeof(*dl));
    rf_arena_init(&dl->arena);
}

static void daily_losses_free(struct daily_losses *dl)
{
    free(dl->dropping);
    rf_arena_free(&dl->arena);
    memset(dl, 0, sizeof(*dl));
}

static int read_daily_losses(struct readstore *rs, const struct window *w,
                             struct daily_losses *dl)
{
    struct rs_rows *r = NULL;
    struct rs_arg args[2] = {RS_INT(w->from_ms), RS_INT(w->to_ms)};
    size_t cap = 0;
    int rc = readstore_query(rs, RS_DAILY_LOSSES, args, 2, &r);
    while (rc == RF_OK && rs_next(r, &rc)) {
        int64_t dropped = rs_int(r, 1);
        dl->sum.dropped_batches += dropped;
        dl->sum.dropped_records += rs_int(r, 2);
        dl->sum.rejected_batches += rs_int(r, 3);
        if (dropped <= 0)
            continue;
        dl->sum.devices_dropping++;
        if (dl->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            const char **p = realloc(dl->dropping, ncap * sizeof(*p));
            if (!p) {
                rc = RF_ENOMEM;
                break;
            }
            dl->dropping = p;
            cap = ncap;
        }
        const char *uid = rs_text(r, 0);
        if (!(dl->dropping[dl->n] = rf_arena_strdup(&dl->arena, uid ? uid : "")))
            rc = RF_ENOMEM;
        else
            dl->n++;
    }
    rs_close(r);
    return rc;
}

/* Reads a daily window in one snapshot (attempts, failures and losses
 * agree under concurrent ingest): its failure rows when rows is not NULL
 * (only *code's when code is not NULL), its attempts when attempts is not
 * NULL, its agent losses when dl is not NULL. Call before taking the
 * fleet lock. */
static int read_daily_window(const struct api *api, const struct window *w, const int32_t *code,
                             struct rollup_failures *rows, uint64_t *attempts,
                             struct daily_losses *dl)
{
    struct readstore *rs = readstore_for_thread(api->db_path);
    if (!rs || readstore_begin(rs) != RF_OK)
        return RF_ESTORAGE;
    int rc = rows ? rollup_read_failures(rs, w->from_day, w->to_day, code, rows) : RF_OK;
    if (rc == RF_OK && attempts)
        rc = rollup_read_attempts(rs, w->from_day, w->to_day, add_attempts, attempts);
    if (rc == RF_OK && dl)
        rc = read_daily_losses(rs, w, dl);
    readstore_end(rs); /* ends the snapshot on every path */
    return rc;
}

/* {"code":N,"hex":..,"symbol":..,"meaning":..,"component":..} members (no braces) */
static int put_code_fields(struct buf *b, int32_t code)
{
    struct catalog_forms forms;
    catalog_code_forms(code, &forms);
    const struct catalog_entry *e = catalog_lookup(code);
    int rc = buf_printf(b, "\"code\":%d,\"hex\":\"%s\",\"known\":%s", code, forms.hex,
                        e ? "true" : "false");
    if (rc == RF_OK && e) {
        rc = buf_append_str(b, ",\"symbol\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(b, e->symbol);
        if (rc == RF_OK)
            rc = buf_append_str(b, ",\"meaning\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(b, e->meaning);
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"component\":\"%s\"", catalog_component_name(e->component));
    }
    return rc;
}

/* ---- distinct-device group accumulator ---- */

struct group {
    int64_t key;
    const char *label; /* the key's name when the key is no strtab id; not owned */
    uint64_t failures;
    uint64_t devices;
    uint64_t *bits; /* one bit per device index */
};

struct groups {
    struct group *g;
    size_t n, cap;
    size_t n_devs;
};

static void groups_free(struct groups *gs)
{
    for (size_t i = 0; i < gs->n; i++)
        free(gs->g[i].bits);
    free(gs->g);
}

static struct group *groups_get(struct groups *gs, int64_t key)
{
    for (size_t i = 0; i < gs->n; i++) /* groups are few (codes, servers, builds) */
        if (gs->g[i].key == key)
            return &gs->g[i];
    if (gs->n == gs->cap) {
        size_t ncap = gs->cap ? gs->cap * 2 : 32;
        struct group *p = realloc(gs->g, ncap * sizeof(*p));
        if (!p)
            return NULL;
        gs->g = p;
        gs->cap = ncap;
    }
    struct group *g = &gs->g[gs->n];
    g->key = key;
    g->label = NULL;
    g->failures = g->devices = 0;
    g->bits = calloc((gs->n_devs + 63) / 64 + 1, sizeof(uint64_t));
    if (!g->bits)
        return NULL;
    gs->n++;
    return g;
}

/* Adds n failures of device dev to the group of key; NULL when out of memory. */
static struct group *groups_add(struct groups *gs, int64_t key, uint32_t dev, uint64_t n)
{
    struct group *g = groups_get(gs, key);
    if (!g)
        return NULL;
    g->failures += n;
    uint64_t bit = 1ull << (dev & 63);
    if (!(g->bits[dev >> 6] & bit)) {
        g->bits[dev >> 6] |= bit;
        g->devices++;
    }
    return g;
}

static int cmp_group_desc(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->failures != y->failures)
        return x->failures < y->failures ? 1 : -1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static void groups_sort(struct groups *gs)
{
    if (gs->n > 1)
        qsort(gs->g, gs->n, sizeof(*gs->g), cmp_group_desc);
}

enum group_by { BY_CODE, BY_CONNECTION, BY_SERVER, BY_OS, BY_AGENT };

static int64_t group_key(const struct fleet *f, enum group_by by, const struct fleet_fail *x)
{
    const struct fleet_device *d = &f->devs[x->dev];
    switch (by) {
    case BY_CODE:
        return x->code;
    case BY_CONNECTION:
        return x->conn;
    case BY_SERVER: {
        const struct fleet_policy *p = fleet_device_policy(d, x->conn);
        return p ? p->server : 0;
    }
    case BY_OS:
        return d->os;
    case BY_AGENT:
        return d->agent;
    }
    return 0;
}

/* Scans the failure log over a window; code_filter < 0 means all codes. */
static int scan_failures(const struct fleet *f, const struct window *w, enum group_by by,
                         bool has_code, int32_t code, struct groups *gs)
{
    gs->n_devs = f->n_devs;
    for (size_t i = 0; i < f->n_fails; i++) {
        const struct fleet_fail *x = &f->fails[i];
        if (x->minute < w->from_min || x->minute > w->to_min || (has_code && x->code != code))
            continue;
        if (!groups_add(gs, group_key(f, by, x), x->dev, 1))
            return RF_ENOMEM;
    }
    groups_sort(gs);
    return RF_OK;
}

/* Groups a daily window's rollup rows (already filtered by code) with the
 * hot path's keys: each row is resolved to the fleet's device and, for the
 * server, its current policy for the row's connection. A connection is
 * keyed by its dict id and named by the row (the fleet's strings hold only
 * the connections of recent failures and of current snapshots). A row
 * whose device the fleet has not applied yet (committed a moment ago) is
 * left out, as the hot path would until the commit hook ran. */
static int scan_rollup_rows(const struct fleet *f, const struct rollup_failures *rows,
                            enum group_by by, struct groups *gs)
{
    gs->n_devs = f->n_devs;
    for (size_t i = 0; i < rows->n; i++) {
        const struct rollup_failure *r = &rows->rows[i];
        long di = fleet_find_device(f, r->device);
        if (di < 0)
            continue;
        struct fleet_fail x = {.dev = (uint32_t)di, .code = r->code};
        if (by == BY_SERVER)
            x.conn = strtab_find(&f->str, r->connection); /* 0: no policy names it */
        int64_t key = by == BY_CONNECTION ? r->connection_id : group_key(f, by, &x);
        struct group *g = groups_add(gs, key, (uint32_t)di, r->failures);
        if (!g)
            return RF_ENOMEM;
        if (by == BY_CONNECTION)
            g->label = r->connection;
    }
    groups_sort(gs);
    return RF_OK;
}

/* The failure groups of a window: the hot failure log, or for a daily
 * window its rollup rows (read before the lock; call with the lock held). */
static int window_groups(const struct fleet *f, const struct window *w,
                         const struct rollup_failures *rows, enum group_by by, bool has_code,
                         int32_t code, struct groups *gs)
{
    return w->daily ? scan_rollup_rows(f, rows, by, gs)
                    : scan_failures(f, w, by, has_code, code, gs);
}

/* ---- endpoints ---- */

static int top_errors_json(const struct fleet *f, const struct window *w,
                           const struct rollup_failures *rows, size_t limit, struct buf *b)
{
    struct groups gs = {0};
    int rc = window_groups(f, w, rows, BY_CODE, false, 0, &gs);
    if (rc == RF_OK)
        rc = buf_append_char(b, '[');
    for (size_t i = 0; i < gs.n && i < limit && rc == RF_OK; i++) {
        rc = buf_append_str(b, i ? ",{" : "{");
        if (rc == RF_OK)
            rc = put_code_fields(b, (int32_t)gs.g[i].key);
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"failures\":%llu,\"devices\":%llu}",
                            (unsigned long long)gs.g[i].failures,
                            (unsigned long long)gs.g[i].devices);
    }
    if (rc == RF_OK)
        rc = buf_append_char(b, ']');
    groups_free(&gs);
    return rc;
}

static int get_overview(struct api *api, const struct http_api_request *req,
                        struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    struct window w;
    struct rollup_failures rows;
    uint64_t attempts = 0, failures = 0, reporting = 0;
    if (parse_window(req, api, &w, res) != RF_OK)
        return RF_OK;
    struct fleet_loss_sum losses = {0};
    struct daily_losses dl;
    daily_losses_init(&dl);
    rollup_failures_init(&rows);
    int rc = w.daily ? read_daily_window(api, &w, NULL, &rows, &attempts, &dl) : RF_OK;
    if (rc != RF_OK)
        goto out;
    for (size_t i = 0; i < rows.n; i++)
        failures += rows.rows[i].failures;
    fleet_lock_read(f);
    if (!w.daily)
        fleet_sum(f, w.from_min, w.to_min, &attempts, &failures);
    for (size_t i = 0; i < f->n_devs; i++)
        reporting += f->devs[i].last_seen >= w.from_ms;
    struct buf *b = &res->body;
    if (w.daily)
        losses = dl.sum;
    else
        rc = fleet_sum_losses(f, w.from_min, w.to_min, &losses, NULL);
    if (rc == RF_OK)
        rc = buf_append_char(b, '{');
    if (rc == RF_OK)
        rc = put_window(b, &w);
    if (rc == RF_OK)
        rc = buf_printf(b,
                        ",\"devices_known\":%zu,\"devices_reporting\":%llu,\"attempts\":%llu,"
                        "\"failures\":%llu,\"failure_rate\":%.6f,\"top_errors\":",
                        f->n_devs, (unsigned long long)reporting, (unsigned long long)attempts,
                        (unsigned long long)failures,
                        attempts ? (double)failures / (double)attempts : 0.0);
    if (rc == RF_OK)
        rc = top_errors_json(f, &w, &rows, 10, b);
    if (rc == RF_OK)
        rc = buf_printf(b,
                        ",\"agents_dropping\":%llu,\"dropped_batches\":%lld,"
                        "\"dropped_records\":%lld,\"rejected_batches\":%lld,",
                        (unsigned long long)losses.devices_dropping,
                        (long long)losses.dropped_batches, (long long)losses.dropped_records,
                        (long long)losses.rejected_batches);
    if (rc == RF_OK)
        rc = put_time(b, "generated_at", time_now_ms());
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
    fleet_unlock(f);
out:
    rollup_failures_free(&rows);
    daily_losses_free(&dl);
    return rc;
}

static int get_errors(struct api *api, const struct http_api_request *req,
                      struct http_api_response *res)
{
    static const char *const names[] = {"code", "connection", "server", "os_version",
                                        "agent_version"};
    struct fleet *f = api->fleet;
    const char *by_s = req->arg(req, "group_by");
    int by = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(by_s ? by_s : "code", names[i]) == 0)
            by = i;
    if (by < 0)
        return bad_request(res, "group_by must be code, connection, server, os_version or "
                                "agent_version");
    int32_t code = 0;
    const char *code_s = req->arg(req, "code");
    if (code_s && !catalog_parse_code(code_s, &code))
        return bad_request(res, "code must be a decimal, negative decimal or hex error code");
    struct window w;
    struct groups gs = {0};
    struct rollup_failures rows;
    if (parse_window(req, api, &w, res) != RF_OK)
        return RF_OK;
    rollup_failures_init(&rows);
    int rc =
        w.daily ? read_daily_window(api, &w, code_s ? &code : NULL, &rows, NULL, NULL) : RF_OK;
    if (rc != RF_OK)
        goto out;
    fleet_lock_read(f);
    struct buf *b = &res->body;
    rc = window_groups(f, &w, &rows, (enum group_by)by, code_s != NULL, code, &gs);
    if (rc == RF_OK)
        rc = buf_printf(b, "{\"group_by\":\"%s\",", names[by]);
    if (rc == RF_OK)
        rc = put_window(b, &w);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"groups\":[");
    for (size_t i = 0; i < gs.n && rc == RF_OK; i++) {
        const struct group *g = &gs.g[i];
        rc = buf_append_str(b, i ? ",{" : "{");
        if (rc == RF_OK && by == BY_CODE) {
            rc = put_code_fields(b, (int32_t)g->key);
            if (rc == RF_OK)
                rc = buf_printf(b, ",\"key\":\"%lld\"", (long long)g->key);
        } else if (rc == RF_OK) {
            const char *s = g->label ? g->label : strtab_get(&f->str, (uint32_t)g->key);
            rc = buf_append_str(b, "\"key\":");
            if (rc == RF_OK)
                rc = buf_append_json_str(b, s ? s : "unknown");
        }
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"failures\":%llu,\"devices\":%llu}",
                            (unsigned long long)g->failures, (unsigned long long)g->devices);
    }
    if (rc == RF_OK)
        rc = buf_append_str(b, "]}");
    fleet_unlock(f);
out:
    groups_free(&gs);
    rollup_failures_free(&rows);
    return rc;
}

/* ---- trend ---- */

/* A trend's buckets: aligned to multiples of the bucket size since the
 * epoch; the first and last may be clipped by the window. */
struct trend {
    int64_t first_ms, bucket_ms;
    size_t n;
    uint64_t *att, *fail; /* per bucket */
    int32_t top[5];       /* the top codes of the window (of the filter's code) */
    size_t n_top;
    uint64_t *series; /* (n_top + 1) x n failures: per top code, then "other" */
};

static void trend_free(struct trend *t)
{
    free(t->att);
    free(t->fail);
    free(t->series);
}

static int trend_alloc(struct trend *t)
{
    t->att = calloc(t->n, sizeof(uint64_t));
    t->fail = calloc(t->n, sizeof(uint64_t));
    t->series = calloc(6 * t->n, sizeof(uint64_t));
    return t->att && t->fail && t->series ? RF_OK : RF_ENOMEM;
}

/* The top codes, from groups sorted by failures. */
static void trend_set_top(struct trend *t, const struct groups *top)
{
    t->n_top = top->n < 5 ? top->n : 5;
    for (size_t k = 0; k < t->n_top; k++)
        t->top[k] = (int32_t)top->g[k].key;
}

/* Adds n failures of code in bucket bi to the code's series, or to
 * "other" when it is not a top code. */
static void trend_add_series(struct trend *t, size_t bi, int32_t code, uint64_t n)
{
    size_t k = 0;
    while (k < t->n_top && t->top[k] != code)
        k++;
    t->series[k * t->n + bi] += n; /* k == n_top: "other" */
}

/* Hot window: the per-minute ring and the failure log (call with the
 * fleet lock held). */
static int trend_from_fleet(const struct fleet *f, const struct window *w, bool has_code,
                            int32_t code, struct trend *t)
{
    struct groups top = {0};
    int64_t bmin = t->bucket_ms / 60000, first = t->first_ms / 60000;
    int rc = trend_alloc(t);
    for (size_t i = 0; i < t->n && rc == RF_OK; i++) {
        int64_t lo = first + (int64_t)i * bmin, hi = lo + bmin - 1;
        uint64_t a, x;
        if (lo < w->from_min)
            lo = w->from_min;
        if (hi > w->to_min)
            hi = w->to_min;
        fleet_sum(f, (uint32_t)lo, (uint32_t)hi, &a, &x);
        t->att[i] = a;
        if (!has_code)
            t->fail[i] = x;
    }
    if (rc == RF_OK)
        rc = scan_failures(f, w, BY_CODE, has_code, code, &top);
    if (rc == RF_OK) {
        trend_set_top(t, &top);
        for (size_t i = 0; i < f->n_fails; i++) {
            const struct fleet_fail *x = &f->fails[i];
            if (x->minute < w->from_min || x->minute > w->to_min)
                continue;
            size_t bi = (size_t)(((int64_t)x->minute - first) / bmin);
            if (has_code && x->code == code)
                t->fail[bi]++;
            trend_add_series(t, bi, x->code, 1);
        }
    }
    groups_free(&top);
    return rc;
}

struct daily_cell {
    int64_t day;
    int32_t code;
    uint64_t failures;
};

struct daily_cells {
    struct daily_cell *c;
    size_t n, cap;
};

static int collect_daily(void *arg, int64_t day, int32_t code, uint64_t failures)
{
    struct daily_cells *dc = arg;
    if (dc->n == dc->cap) {
        size_t ncap = dc->cap ? dc->cap * 2 : 256;
        struct daily_cell *p = realloc(dc->c, ncap * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        dc->c = p;
        dc->cap = ncap;
    }
    dc->c[dc->n++] = (struct daily_cell){day, code, failures};
    return RF_OK;
}

static int bucket_attempts(void *arg, int64_t day, uint64_t attempts)
{
    struct trend *t = arg;
    t->att[(day * ROLLUP_DAY_MS - t->first_ms) / t->bucket_ms] += attempts;
    return RF_OK;
}

/* Daily window: the rollups, per day and code (no fleet state needed). */
static int trend_from_rollups(const struct api *api, const struct window *w, bool has_code,
                              int32_t code, struct trend *t)
{
    struct daily_cells dc = {0};
    struct groups top = {0};
    struct readstore *rs = readstore_for_thread(api->db_path);
    int rc = trend_alloc(t);
    if (rc == RF_OK && (!rs || readstore_begin(rs) != RF_OK))
        rc = RF_ESTORAGE;
    if (rc == RF_OK) { /* one snapshot for attempts and failures */
        rc = rollup_read_attempts(rs, w->from_day, w->to_day, bucket_attempts, t);
        if (rc == RF_OK)
            rc = rollup_read_daily_failures(rs, w->from_day, w->to_day, collect_daily, &dc);
        readstore_end(rs);
    }
    /* the top codes as scan_failures() ranks them: failures, then code */
    for (size_t i = 0; i < dc.n && rc == RF_OK; i++)
        if ((!has_code || dc.c[i].code == code) &&
            !groups_add(&top, dc.c[i].code, 0, dc.c[i].failures))
            rc = RF_ENOMEM;
    if (rc == RF_OK) {
        groups_sort(&top);
        trend_set_top(t, &top);
    }
    for (size_t i = 0; i < dc.n && rc == RF_OK; i++) {
        const struct daily_cell *c = &dc.c[i];
        size_t bi = (size_t)((c->day * ROLLUP_DAY_MS - t->first_ms) / t->bucket_ms);
        if (!has_code || c->code == code)
            t->fail[bi] += c->failures;
        trend_add_series(t, bi, c->code, c->failures);
    }
    groups_free(&top);
    free(dc.c);
    return rc;
}

static int trend_json(struct buf *b, const struct window *w, const char *bucket_s,
                      bool has_code, int32_t code, const struct trend *t)
{
    int rc = buf_append_char(b, '{');
    if (rc == RF_OK)
        rc = put_window(b, w);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"bucket\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, bucket_s);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"bucket_seconds\":%lld,\"code\":", (long long)t->bucket_ms / 1000);
    if (rc == RF_OK)
        rc = has_code ? buf_printf(b, "%d", code) : buf_append_str(b, "null");
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"points\":[");
    for (size_t i = 0; i < t->n && rc == RF_OK; i++) {
        rc = buf_append_str(b, i ? ",{" : "{");
        if (rc == RF_OK)
            rc = put_time(b, "t", t->first_ms + (int64_t)i * t->bucket_ms);
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"attempts\":%llu,\"failures\":%llu}",
                            (unsigned long long)t->att[i], (unsigned long long)t->fail[i]);
    }
    if (rc == RF_OK)
        rc = buf_append_str(b, "],\"series\":[");
    for (size_t k = 0; k <= t->n_top && rc == RF_OK; k++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < t->n; i++)
            sum += t->series[k * t->n + i];
        if (k == t->n_top && sum == 0)
            break;
        rc = buf_append_str(b, k ? ",{" : "{");
        if (rc == RF_OK && k < t->n_top)
            rc = put_code_fields(b, t->top[k]);
        else if (rc == RF_OK)
            rc = buf_append_str(b, "\"code\":null,\"symbol\":\"other\"");
        if (rc == RF_OK)
            rc = buf_append_str(b, ",\"failures\":[");
        for (size_t i = 0; i < t->n && rc == RF_OK; i++)
            rc = buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)t->series[k * t->n + i]);
        if (rc == RF_OK)
            rc = buf_append_str(b, "]}");
    }
    return rc == RF_OK ? buf_append_str(b, "]}") : rc;
}

static int64_t floor_mod(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

static int get_trend(struct api *api, const struct http_api_request *req,
                     struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    int64_t bucket_ms = 0;
    const char *bucket_s = req->arg(req, "bucket");
    if (bucket_s && (time_parse_duration(bucket_s, &bucket_ms) != RF_OK ||
                     bucket_ms < 60000 || bucket_ms % 60000))
        return bad_request(res, "bucket must be whole minutes, such as 1m, 15m, 1h or 1d");
    int32_t code = 0;
    const char *code_s = req->arg(req, "code");
    if (code_s && !catalog_parse_code(code_s, &code))
        return bad_request(res, "code must be a decimal, negative decimal or hex error code");
    struct window w;
    if (parse_window(req, api, &w, res) != RF_OK)
        return RF_OK;
    if (!bucket_s) {
        bucket_s = w.daily ? "1d" : "1h";
        time_parse_duration(bucket_s, &bucket_ms);
    }
    if (w.daily && bucket_ms % ROLLUP_DAY_MS)
        return bad_request(res, "a window longer than the hot horizon is counted per UTC day:"
                                " bucket must be whole days, such as 1d or 7d");
    /* Buckets aligned to multiples of the bucket size since the epoch. */
    struct trend t = {.bucket_ms = bucket_ms};
    int64_t first, last; /* in the window's unit (minute or day) */
    int64_t unit_ms = w.daily ? ROLLUP_DAY_MS : 60000, size = bucket_ms / unit_ms;
    first = w.daily ? w.from_day : w.from_min;
    last = w.daily ? w.to_day : w.to_min;
    first -= floor_mod(first, size);
    if ((last - first) / size + 1 > API_MAX_BUCKETS)
        return bad_request(res, "too many buckets: use a larger bucket or a shorter window");
    t.n = (size_t)((last - first) / size + 1);
    t.first_ms = first * unit_ms;
    int rc;
    if (w.daily) {
        rc = trend_from_rollups(api, &w, code_s != NULL, code, &t);
    } else {
        fleet_lock_read(f);
        rc = trend_from_fleet(f, &w, code_s != NULL, code, &t);
        fleet_unlock(f);
    }
    if (rc == RF_OK)
        rc = trend_json(&res->body, &w, bucket_s, code_s != NULL, code, &t);
    trend_free(&t);
    return rc;
}

/* ---- devices ---- */

static int finding_rules_json(const struct fleet_device *d, struct buf *b)
{
    int rc = buf_append_char(b, '[');
    for (size_t k = 0; k < d->n_findings && rc == RF_OK; k++) {
        const struct check_rule *rule = checks_rule_at(d->findings[k].rule);
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= d->findings[j].rule == d->findings[k].rule;
        if (dup || !rule)
            continue;
        if (b->len && b->data[b->len - 1] != '[')
            rc = buf_append_char(b, ',');
        if (rc == RF_OK)
            rc = buf_append_json_str(b, rule->id);
    }
    return rc == RF_OK ? buf_append_char(b, ']') : rc;
}

static int device_summary_json(const struct fleet *f, const struct fleet_device *d,
                               struct buf *b)
{
    int rc = buf_append_str(b, "{\"device_id\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, strtab_get(&f->str, d->uid));
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"hostname\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, strtab_get(&f->str, d->hostname));
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"os_version\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, strtab_get(&f->str, d->os));
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"agent_version\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, strtab_get(&f->str, d->agent));
    if (rc == RF_OK)
        rc = buf_append_char(b, ',');
    if (rc == RF_OK)
        rc = put_time(b, "first_seen", d->first_seen);
    if (rc == RF_OK)
        rc = buf_append_char(b, ',');
    if (rc == RF_OK)
        rc = put_time(b, "last_seen", d->last_seen);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"last_error\":");
    if (rc == RF_OK && d->has_error) {
        rc = buf_append_char(b, '{');
        if (rc == RF_OK)
            rc = put_code_fields(b, d->last_error);
        if (rc == RF_OK)
            rc = buf_append_char(b, ',');
        if (rc == RF_OK)
            rc = put_time(b, "time", d->last_error_ms);
        if (rc == RF_OK)
            rc = buf_append_char(b, '}');
    } else if (rc == RF_OK) {
        rc = buf_append_str(b, "null");
    }
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"findings\":");
    if (rc == RF_OK)
        rc = finding_rules_json(d, b);
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

static bool device_has_rule(const struct fleet_device *d, size_t rule)
{
    for (size_t k = 0; k < d->n_findings; k++)
        if (d->findings[k].rule == rule)
            return true;
    return false;
}

static bool icontains(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static int get_devices(struct api *api, const struct http_api_request *req,
                       struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    unsigned long limit, offset;
    if (parse_uint(req->arg(req, "limit"), API_MAX_LIMIT, 50, &limit) != RF_OK ||
        parse_uint(req->arg(req, "offset"), 100000000, 0, &offset) != RF_OK)
        return bad_request(res, "limit must be 0..1000 and offset a non-negative integer");
    const char *code_s = req->arg(req, "code"), *rule_s = req->arg(req, "finding");
    const char *q = req->arg(req, "q"), *dropped_s = req->arg(req, "dropped");
    int32_t code = 0;
    if (dropped_s && strcmp(dropped_s, "1") != 0 && strcmp(dropped_s, "true") != 0)
        return bad_request(res, "dropped must be 1 (devices whose agent dropped telemetry)");
    if (code_s && !catalog_parse_code(code_s, &code))
        return bad_request(res, "code must be a decimal, negative decimal or hex error code");
    size_t rule_index = 0;
    if (rule_s) {
        const struct check_rule *rule = checks_rule_find(rule_s);
        if (!rule)
            return bad_request(res, "unknown finding rule");
        while (checks_rule_at(rule_index) != rule)
            rule_index++;
    }
    struct window w;
    struct rollup_failures rows;
    if (parse_window(req, api, &w, res) != RF_OK)
        return RF_OK;
    struct daily_losses dl;
    rollup_failures_init(&rows);
    daily_losses_init(&dl);
    int rc = w.daily && (code_s || dropped_s)
                 ? read_daily_window(api, &w, code_s ? &code : NULL, code_s ? &rows : NULL, NULL,
                                     dropped_s ? &dl : NULL)
                 : RF_OK;
    if (rc != RF_OK) {
        rollup_failures_free(&rows);
        daily_losses_free(&dl);
        return rc;
    }
    fleet_lock_read(f);
    uint64_t *with_code = NULL, *dropping = NULL;
    size_t n = 0;
    struct buf *b = &res->body;
    rc = RF_ENOMEM;
    if (code_s) {
        with_code = calloc(f->n_devs / 64 + 1, sizeof(uint64_t));
        if (!with_code)
            goto out;
        for (size_t i = 0; i < f->n_fails && !w.daily; i++) {
            const struct fleet_fail *x = &f->fails[i];
            if (x->code == code && x->minute >= w.from_min && x->minute <= w.to_min)
                with_code[x->dev >> 6] |= 1ull << (x->dev & 63);
        }
        for (size_t i = 0; i < rows.n; i++) { /* daily window: its rollup rows */
            long di = fleet_find_device(f, rows.rows[i].device);
            if (di >= 0)
                with_code[di >> 6] |= 1ull << (di & 63);
        }
    }
    if (dropped_s) {
        struct fleet_loss_sum sum;
        dropping = calloc(f->n_devs / 64 + 1, sizeof(uint64_t));
        if (!dropping || (!w.daily && fleet_sum_losses(f, w.from_min, w.to_min, &sum,
                                                       dropping) != RF_OK))
            goto out;
        for (size_t i = 0; i < dl.n; i++) { /* daily window: from agent_losses */
            long di = fleet_find_device(f, dl.dropping[i]);
            if (di >= 0)
                dropping[di >> 6] |= 1ull << (di & 63);
        }
    }
    /* Walk the recency list (newest first): no sort; the page is written
     * while counting, the total after the page. */
    struct buf page = BUF_INIT;
    rc = RF_OK;
    bool filtered = with_code || dropping || rule_s || (q && *q);
    for (uint32_t i = f->newest; i != FLEET_NONE && rc == RF_OK; i = f->devs[i].older) {
        const struct fleet_device *d = &f->devs[i];
        if (!filtered && n >= offset + limit) {
            n = f->n_devs; /* unfiltered: the total is known, stop after the page */
            break;
        }
        if (with_code && !(with_code[i >> 6] & (1ull << (i & 63))))
            continue;
        if (dropping && !(dropping[i >> 6] & (1ull << (i & 63))))
            continue;
        if (rule_s && !device_has_rule(d, rule_index))
            continue;
        if (q && *q && !icontains(strtab_get(&f->str, d->hostname), q) &&
            !icontains(strtab_get(&f->str, d->uid), q))
            continue;
        if (n >= offset && n < offset + limit) {
            if (n > offset)
                rc = buf_append_char(&page, ',');
            if (rc == RF_OK)
                rc = device_summary_json(f, d, &page);
        }
        n++;
    }
    if (rc == RF_OK)
        rc = buf_printf(b, "{\"total\":%zu,\"limit\":%lu,\"offset\":%lu,\"devices\":[", n,
                        limit, offset);
    if (rc == RF_OK && page.len)
        rc = buf_append(b, page.data, page.len);
    if (rc == RF_OK)
        rc = buf_append_str(b, "]}");
    buf_free(&page);
out:
    fleet_unlock(f);
    free(with_code);
    free(dropping);
    rollup_failures_free(&rows);
    daily_losses_free(&dl);
    return rc;
}

/* ---- device detail (SQL, either backend: readstore.h) ---- */

static void put_col_str(struct buf *b, const char *key, struct rs_rows *st, int col, int *rc)
{
    if (*rc != RF_OK)
        return;
    *rc = buf_printf(b, ",\"%s\":", key);
    if (*rc == RF_OK)
        *rc = buf_append_json_str(b, rs_text(st, col));
}

/* Runs a per-device query (?1 = device id); RF_OK with *out open. */
static int device_query(struct readstore *rs, enum rs_query q, int64_t dev, struct rs_rows **out)
{
    struct rs_arg arg = RS_INT(dev);
    return readstore_query(rs, q, &arg, 1, out);
}

static int detail_interfaces(struct readstore *rs, int64_t dev, struct buf *b)
{
    struct rs_rows *st = NULL;
    int rc = device_query(rs, RS_INTERFACES, dev, &st);
    if (rc != RF_OK)
        return rc;
    /* First pass, per family: the lowest connected physical metric and the
     * highest connected VPN metric. A VPN row is inverted when its metric is
     * not below the best physical one (the metric-order rule); a physical row
     * when some inverted VPN row is at or above it. */
    int64_t vpn_max[7], phys[7];
    for (int i = 0; i < 7; i++) {
        vpn_max[i] = INT64_MIN;
        phys[i] = INT64_MAX;
    }
    while (rs_next(st, &rc)) {
        int fam = (int)rs_int(st, 2) == RF_FAMILY_IPV6 ? 6 : 4;
        int type = (int)rs_int(st, 6);
        int64_t metric = rs_int(st, 3);
        if (!(int)rs_int(st, 5))
            continue;
        if (type == RF_IF_VPN && metric > vpn_max[fam])
            vpn_max[fam] = metric;
        if ((type == RF_IF_ETHERNET || type == RF_IF_WIFI || type == RF_IF_CELLULAR) &&
            metric < phys[fam])
            phys[fam] = metric;
    }
    rs_rewind(st);
    if (rc == RF_OK)
        rc = buf_append_char(b, '[');
    bool first = true;
    while (rc == RF_OK && rs_next(st, &rc)) {
        int fam = (int)rs_int(st, 2) == RF_FAMILY_IPV6 ? 6 : 4;
        int type = (int)rs_int(st, 6);
        int64_t metric = rs_int(st, 3);
        bool connected = (int)rs_int(st, 5);
        bool physical = type == RF_IF_ETHERNET || type == RF_IF_WIFI || type == RF_IF_CELLULAR;
        bool inverted = connected && ((type == RF_IF_VPN && phys[fam] != INT64_MAX &&
                                       metric >= phys[fam]) ||
                                      (physical && vpn_max[fam] != INT64_MIN &&
                                       vpn_max[fam] >= phys[fam] && metric <= vpn_max[fam]));
        rc = buf_append_str(b, first ? "{\"alias\":" : ",{\"alias\":");
        first = false;
        if (rc == RF_OK)
            rc = buf_append_json_str(b, rs_text(st, 0));
        if (rc == RF_OK)
            rc = buf_printf(b,
                            ",\"index\":%lld,\"family\":\"%s\",\"metric\":%lld,\"automatic\":%s,"
                            "\"connected\":%s,\"if_type\":\"%s\",\"inverted\":%s",
                            (long long)rs_int(st, 1), fam == 6 ? "ipv6" : "ipv4",
                            (long long)metric, (int)rs_int(st, 4) ? "true" : "false",
                            connected ? "true" : "false", rf_if_type_name((enum rf_if_type)type),
                            inverted ? "true" : "false");
        if (rc == RF_OK && !rs_null(st, 7))
            rc = buf_printf(b, ",\"mtu\":%lld", (long long)rs_int(st, 7));
        if (rc == RF_OK)
            rc = buf_append_char(b, ',');
        if (rc == RF_OK)
            rc = put_time(b, "time", rs_int(st, 8));
        if (rc == RF_OK)
            rc = buf_append_char(b, '}');
    }
    rs_close(st);
    return rc == RF_OK ? buf_append_char(b, ']') : rc;
}

/* Runs a per-device query (?1 = device id) and appends a JSON array with
 * one element per row, written by row_fn. */
typedef int (*detail_row_fn)(struct rs_rows *st, struct buf *b);

static int detail_rows(struct readstore *rs, int64_t dev, enum rs_query q, detail_row_fn row_fn,
                       struct buf *b)
{
    struct rs_rows *st = NULL;
    int rc = device_query(rs, q, dev, &st);
    if (rc == RF_OK)
        rc = buf_append_char(b, '[');
    bool first = true;
    while (rc == RF_OK && rs_next(st, &rc)) {
        if (!first)
            rc = buf_append_char(b, ',');
        first = false;
        if (rc == RF_OK)
            rc = row_fn(st, b);
    }
    rs_close(st);
    return rc == RF_OK ? buf_append_char(b, ']') : rc;
}

/* Rows whose JSON columns were written by the collector itself (canonical
 * JSON built with escaping), so they are embedded as they are. */
static int pbk_row(struct rs_rows *st, struct buf *b)
{
    int rc = buf_printf(b, "{\"scope\":\"%s\"",
                        rf_scope_name((enum rf_pbk_scope)(int)rs_int(st, 0)));
    put_col_str(b, "connection", st, 1, &rc);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"settings\":%s,", rs_text(st, 2));
    if (rc == RF_OK)
        rc = put_time(b, "time", rs_int(st, 3));
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

static int policy_row(struct rs_rows *st, struct buf *b)
{
    int rc = buf_append_str(b, "{\"connection\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, rs_text(st, 0));
    put_col_str(b, "server", st, 1, &rc);
    put_col_str(b, "tunnel_type", st, 2, &rc);
    put_col_str(b, "auth_method", st, 3, &rc);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"split_tunneling\":%s,\"device_tunnel\":%s",
                        (int)rs_int(st, 4) ? "true" : "false",
                        (int)rs_int(st, 5) ? "true" : "false");
    put_col_str(b, "dns_suffix", st, 6, &rc);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"ipsec\":%s,",
                        rs_null(st, 7)
                            ? "null"
                            : rs_text(st, 7));
    if (rc == RF_OK)
        rc = put_time(b, "time", rs_int(st, 8));
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

static int put_error(struct buf *b, int32_t code)
{
    int rc = buf_append_str(b, ",\"error\":{");
    if (rc == RF_OK)
        rc = put_code_fields(b, code);
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

static int event_row(struct rs_rows *st, struct buf *b)
{
    int rc = buf_append_char(b, '{');
    if (rc == RF_OK)
        rc = put_time(b, "time", rs_int(st, 0));
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"event_id\":%d,\"record_id\":%lld,\"level\":\"%s\"",
                        (int)rs_int(st, 1), (long long)rs_int(st, 2),
                        rf_level_name((enum rf_level)(int)rs_int(st, 3)));
    put_col_str(b, "user", st, 4, &rc);
    put_col_str(b, "connection", st, 5, &rc);
    if (rc == RF_OK && !rs_null(st, 6))
        rc = put_error(b, (int)rs_int(st, 6));
    if (rc == RF_OK && !rs_null(st, 7)) {
        const struct catalog_entry *r = catalog_lookup_reason((int)rs_int(st, 7));
        rc = buf_printf(b, ",\"reason_code\":%d,\"reason\":", (int)rs_int(st, 7));
        if (rc == RF_OK)
            rc = buf_append_json_str(b, r ? r->symbol : NULL);
    }
    put_col_str(b, "coid", st, 8, &rc);
    /* a message stored as a mark (event_message.h): the same text, rendered */
    const char *message = rs_text(st, 9);
    struct buf m = BUF_INIT;
    if (!message && !rs_null(st, 10) && rs_int(st, 10) == EVENT_MESSAGE_TEMPLATE_EN) {
        int event_id = (int)rs_int(st, 1);
        if (event_message_render(event_id, rs_text(st, 8), rs_text(st, 4), rs_text(st, 5),
                                 rs_int(st, event_id == 20226 ? 7 : 6), &m) == RF_OK)
            message = m.data;
    }
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"message\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, message);
    buf_free(&m);
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

/* Attempts: the events of one CoId, from the dial (20221) to the outcome. */
static int attempt_row(struct rs_rows *st, struct buf *b)
{
    int rc = buf_append_str(b, "{\"coid\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, rs_text(st, 0));
    put_col_str(b, "connection", st, 1, &rc);
    bool has_dial = !rs_null(st, 2);
    bool has_end = !rs_null(st, 3);
    const char *outcome = rs_null(st, 4) ? "in_progress"
                          : (int)rs_int(st, 4)                ? "failure"
                                                                     : "success";
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"outcome\":\"%s\",", outcome);
    if (rc == RF_OK)
        rc = put_time(b, "time", rs_int(st, 7));
    if (rc == RF_OK && has_dial && has_end)
        rc = buf_printf(b, ",\"duration_ms\":%lld",
                        (long long)(rs_int(st, 3) - rs_int(st, 2)));
    if (rc == RF_OK && !rs_null(st, 6))
        rc = buf_printf(b, ",\"last_stage\":%d", (int)rs_int(st, 6));
    if (rc == RF_OK && !rs_null(st, 5))
        rc = put_error(b, (int)rs_int(st, 5));
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}


static int put_opt_int(struct buf *b, const char *key, struct rs_rows *st, int col)
{
    if (rs_null(st, col))
        return buf_printf(b, ",\"%s\":null", key);
    return buf_printf(b, ",\"%s\":%lld", key, (long long)rs_int(st, col));
}

static int put_opt_time(struct buf *b, const char *key, struct rs_rows *st, int col)
{
    if (rs_null(st, col))
        return buf_printf(b, ",\"%s\":null", key);
    int rc = buf_append_char(b, ',');
    return rc == RF_OK ? put_time(b, key, rs_int(st, col)) : rc;
}

/* Opens an object with "time" and "received" from columns 0 and 1. */
static int open_time_received(struct rs_rows *st, struct buf *b)
{
    int rc = buf_append_char(b, '{');
    if (rc == RF_OK)
        rc = put_time(b, "time", rs_int(st, 0));
    if (rc == RF_OK)
        rc = buf_append_char(b, ',');
    if (rc == RF_OK)
        rc = put_time(b, "received", rs_int(st, 1));
    return rc;
}

static int loss_row(struct rs_rows *st, struct buf *b)
{
    int rc = open_time_received(st, b);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"dropped_batches\":%lld,\"dropped_records\":%lld,"
                           "\"rejected_batches\":%lld}",
                        (long long)rs_int(st, 2),
                        (long long)rs_int(st, 3),
                        (long long)rs_int(st, 4));
    return rc;
}


/* The device's agent from its latest agent_status, with its last 20 losses;
 * null when its agent never sent one. */
static int detail_agent(struct readstore *rs, int64_t dev, struct buf *b)
{
    struct rs_rows *st = NULL;
    int rc = device_query(rs, RS_AGENT_STATUS, dev, &st);
    if (rc != RF_OK)
        return rc;
    if (!rs_next(st, &rc)) {
        if (rc == RF_OK)
            rc = buf_append_str(b, "null");
        goto out;
    }
    rc = open_time_received(st, b);
    put_col_str(b, "agent_version", st, 2, &rc);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"spool_bytes\":%lld,\"spool_batches\":%lld",
                        (long long)rs_int(st, 3),
                        (long long)rs_int(st, 4));
    if (rc == RF_OK)
        rc = put_opt_int(b, "spool_limit_bytes", st, 5);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"dropped_batches_total\":%lld",
                        (long long)rs_int(st, 6));
    if (rc == RF_OK)
        rc = put_opt_int(b, "dropped_records_total", st, 7);
    if (rc == RF_OK)
        rc = put_opt_int(b, "rejected_batches_total", st, 8);
    if (rc == RF_OK)
        rc = put_opt_time(b, "last_success", st, 9);
    put_col_str(b, "last_error", st, 10, &rc);
    if (rc == RF_OK)
        rc = put_opt_time(b, "last_error_time", st, 11);
    if (rc == RF_OK)
        rc = put_opt_int(b, "source_errors", st, 12);
    if (rc == RF_OK)
        rc = put_opt_time(b, "last_drop", st, 13);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"reports\":%lld,\"losses\":",
                        (long long)rs_int(st, 14));
    /* one result open at a time: the losses after the status row */
    rs_close(st);
    st = NULL;
    if (rc == RF_OK)
        rc = detail_rows(rs, dev, RS_AGENT_LOSSES, loss_row, b);
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
out:
    rs_close(st);
    return rc;
}

static int device_findings_json(const struct fleet *f, const struct fleet_device *d,
                                struct buf *b)
{
    struct rf_arena a;
    const char *const *evidence = NULL;
    rf_arena_init(&a);
    int rc = fleet_device_evidence(f, d, &a, &evidence);
    if (rc == RF_OK)
        rc = buf_append_char(b, '[');
    for (size_t k = 0; k < d->n_findings && rc == RF_OK; k++) {
        const struct fleet_finding *fd = &d->findings[k];
        const struct check_rule *rule = checks_rule_at(fd->rule);
        rc = buf_append_str(b, k ? ",{\"rule\":" : "{\"rule\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(b, rule->id);
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"severity\":\"%s\",\"title\":",
                            checks_severity_name(rule->severity));
        if (rc == RF_OK)
            rc = buf_append_json_str(b, rule->title);
        if (rc == RF_OK)
            rc = buf_append_str(b, ",\"connection\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(b, strtab_get(&f->str, fd->conn));
        if (rc == RF_OK)
            rc = buf_printf(b, ",\"evidence\":%s,\"remediation\":", evidence[k]);
        if (rc == RF_OK)
            rc = checks_remediation_json(rule, b);
        if (rc == RF_OK)
            rc = buf_append_char(b, '}');
    }
    if (rc == RF_OK)
        rc = buf_append_char(b, ']');
    rf_arena_free(&a);
    return rc;
}

static int device_detail(struct api *api, struct readstore *rs, const char *uid,
                         struct http_api_response *res);

static int get_device(struct api *api, const char *uid, struct http_api_response *res)
{
    struct readstore *rs = readstore_for_thread(api->db_path);
    if (!rs || readstore_begin(rs) != RF_OK)
        return RF_ESTORAGE;
    int rc = device_detail(api, rs, uid, res);
    readstore_end(rs); /* ends the snapshot on every path */
    return rc;
}

/* The device's summary and findings (hot aggregate) and its stored detail,
 * inside the caller's snapshot. */
static int device_detail(struct api *api, struct readstore *rs, const char *uid,
                         struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    struct rs_rows *st = NULL;
    struct rs_arg arg = RS_TEXT(uid);
    int64_t dev = -1;
    int rc = readstore_query(rs, RS_DEVICE_ID, &arg, 1, &st);
    if (rc == RF_OK && rs_next(st, &rc))
        dev = rs_int(st, 0);
    rs_close(st);
    if (rc != RF_OK)
        return rc;
    fleet_lock_read(f);
    long di = fleet_find_device(f, uid);
    if (dev < 0 || di < 0) {
        fleet_unlock(f);
        return not_found(res, "no device with this device_id has reported");
    }
    struct buf *b = &res->body;
    const struct fleet_device *d = &f->devs[di];
    rc = device_summary_json(f, d, b);
    if (rc == RF_OK) {
        b->len--; /* reopen the summary object */
        rc = buf_append_str(b, ",\"open_findings\":");
    }
    if (rc == RF_OK)
        rc = device_findings_json(f, d, b);
    fleet_unlock(f);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"agent\":");
    if (rc == RF_OK)
        rc = detail_agent(rs, dev, b);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"interfaces\":");
    if (rc == RF_OK)
        rc = detail_interfaces(rs, dev, b);
    static const struct {
        const char *key;
        enum rs_query q;
        detail_row_fn row;
    } sections[] = {{"pbk_entries", RS_PBK, pbk_row},
                    {"policies", RS_POLICIES, policy_row},
                    {"attempts", RS_ATTEMPTS, attempt_row},
                    {"recent_events", RS_EVENTS, event_row}};
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]) && rc == RF_OK; i++) {
        rc = buf_printf(b, ",\"%s\":", sections[i].key);
        if (rc == RF_OK)
            rc = detail_rows(rs, dev, sections[i].q, sections[i].row, b);
    }
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
    return rc;
}

/* ---- remediation feed ---- */

struct uid_list {
    const struct fleet *f;
    struct buf *b;
    size_t n;
    long last;
    int rc;
};

static void add_uid(void *arg, size_t dev, const struct fleet_finding *fd)
{
    (void)fd;
    struct uid_list *u = arg;
    if (u->rc != RF_OK || (long)dev == u->last)
        return; /* one entry per device even with several connections */
    u->last = (long)dev;
    if (u->n++)
        u->rc = buf_append_char(u->b, ',');
    if (u->rc == RF_OK)
        u->rc = buf_append_json_str(u->b, strtab_get(&u->f->str, u->f->devs[dev].uid));
}

static int get_remediation(struct api *api, const struct http_api_request *req,
                           const char *rest, struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    char rule_id[64];
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len == 0 || len >= sizeof(rule_id))
        return not_found(res, "unknown rule");
    memcpy(rule_id, rest, len);
    rule_id[len] = '\0';
    const struct check_rule *rule = checks_rule_find(rule_id);
    if (!rule)
        return not_found(res, "unknown rule");
    size_t ri = 0;
    while (checks_rule_at(ri) != rule)
        ri++;
    struct buf *b = &res->body;
    int rc;
    if (slash) {
        if (strcmp(slash, "/devices") != 0)
            return not_found(res, "no such endpoint");
        fleet_lock_read(f);
        rc = buf_append_str(b, "{\"rule\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(b, rule->id);
        if (rc == RF_OK)
            rc = buf_append_str(b, ",\"devices\":[");
        struct uid_list u = {f, b, 0, -1, rc};
        if (rc == RF_OK)
            analyzer_devices_for_rule(f, ri, add_uid, &u);
        rc = u.rc;
        if (rc == RF_OK)
            rc = buf_printf(b, "],\"count\":%zu}", u.n);
        fleet_unlock(f);
        return rc;
    }
    const char *uid = req->arg(req, "device_id");
    if (!uid || !*uid)
        return bad_request(res, "device_id is required (or use /devices for the list)");
    fleet_lock_read(f);
    long di = fleet_find_device(f, uid);
    const struct fleet_device *d = di >= 0 ? &f->devs[di] : NULL;
    bool needs = d && device_has_rule(d, ri);
    rc = buf_append_str(b, "{\"device_id\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, uid);
    if (rc == RF_OK)
        rc = buf_append_str(b, ",\"rule\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(b, rule->id);
    if (rc == RF_OK)
        rc = buf_printf(b, ",\"needs_remediation\":%s,\"detail\":{\"known_device\":%s",
                        needs ? "true" : "false", d ? "true" : "false");
    if (rc == RF_OK && d) {
        rc = buf_append_char(b, ',');
        if (rc == RF_OK)
            rc = put_time(b, "last_seen", d->last_seen);
        if (rc == RF_OK)
            rc = buf_append_str(b, ",\"findings\":[");
        struct rf_arena a;
        const char *const *evidence = NULL;
        rf_arena_init(&a);
        if (rc == RF_OK)
            rc = fleet_device_evidence(f, d, &a, &evidence);
        size_t n = 0;
        for (size_t k = 0; k < d->n_findings && rc == RF_OK; k++) {
            const struct fleet_finding *fd = &d->findings[k];
            if (fd->rule != ri)
                continue;
            rc = buf_append_str(b, n++ ? ",{\"connection\":" : "{\"connection\":");
            if (rc == RF_OK)
                rc = buf_append_json_str(b, strtab_get(&f->str, fd->conn));
            if (rc == RF_OK)
                rc = buf_printf(b, ",\"evidence\":%s}", evidence[k]);
        }
        rf_arena_free(&a);
        if (rc == RF_OK)
            rc = buf_append_char(b, ']');
    }
    if (rc == RF_OK)
        rc = buf_append_str(b, "}}");
    fleet_unlock(f);
    return rc;
}

/* ---- catalogue and baseline ---- */

static int get_catalog(const char *rest, struct http_api_response *res)
{
    struct buf *b = &res->body;
    int32_t code;
    if (!*rest) {
        int rc = buf_append_str(b, "{\"codes\":[");
        for (size_t i = 0; i < catalog_count() && rc == RF_OK; i++) {
            if (i)
                rc = buf_append_char(b, ',');
            if (rc == RF_OK)
                rc = catalog_entry_to_json(catalog_at(i), catalog_at(i)->code, b);
        }
        return rc == RF_OK ? buf_append_str(b, "]}") : rc;
    }
    if (!catalog_parse_code(rest, &code))
        return bad_request(res, "code must be a decimal, negative decimal or hex error code");
    return catalog_entry_to_json(catalog_lookup(code), code, b);
}

static int baseline_json(const struct ipsec_baseline *bl, struct buf *b)
{
    int rc = buf_printf(b, "{\"configured\":%s,\"server_custom\":%s,\"policy\":",
                        bl->configured ? "true" : "false", bl->server_custom ? "true" : "false");
    if (rc == RF_OK && bl->configured && bl->server_custom) {
        rc = ipsec_policy_encode_json(&bl->policy, b);
    } else if (rc == RF_OK) {
        rc = buf_append_str(b, "null");
    }
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

int api_parse_baseline(const char *json, size_t len, struct rf_arena *a, struct ipsec_baseline *out,
                       char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = RF_EFORMAT;
    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "body must be a JSON object");
        goto out;
    }
    const cJSON *custom = cJSON_GetObjectItemCaseSensitive(root, "server_custom");
    if (!cJSON_IsBool(custom)) {
        snprintf(err, errlen, "server_custom must be true or false");
        goto out;
    }
    out->configured = true;
    out->server_custom = cJSON_IsTrue(custom);
    if (out->server_custom) {
        const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
        static const char *const names[] = {"cipher_transform",       "auth_transform",
                                            "encryption_method",      "integrity_check_method",
                                            "dh_group",               "pfs_group"};
        const char **dst[] = {&out->policy.cipher_transform, &out->policy.auth_transform,
                              &out->policy.encryption_method, &out->policy.integrity_check_method,
                              &out->policy.dh_group, &out->policy.pfs_group};
        for (size_t i = 0; i < 6; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(pol, names[i]);
            if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 32 ||
                !utf8_validate(v->valuestring, strlen(v->valuestring), NULL)) {
                snprintf(err, errlen, "policy.%s must be a PowerShell enum name", names[i]);
                goto out;
            }
            if (!(*dst[i] = rf_arena_strdup(a, v->valuestring))) {
                rc = RF_ENOMEM;
                goto out;
            }
        }
    }
    rc = RF_OK;
out:
    cJSON_Delete(root);
    return rc;
}

static int persist_baseline(const char *db, const char *json)
{
    struct readstore *rs = readstore_for_thread(db);
    return rs ? readstore_save_setting(rs, "ipsec_baseline", json) : RF_ESTORAGE;
}

static int baseline_endpoint(struct api *api, const struct http_api_request *req,
                             struct http_api_response *res)
{
    struct fleet *f = api->fleet;
    if (strcmp(req->method, "PUT") == 0) {
        if (req->role != AUTH_ADMIN) {
            res->status = 403;
            return buf_append_str(&res->body,
                                  "{\"error\":\"forbidden\",\"message\":\"only the admin token"
                                  " may change the IPsec baseline\"}");
        }
        struct rf_arena a;
        struct ipsec_baseline bl;
        char err[160];
        rf_arena_init(&a);
        int rc = api_parse_baseline(req->body, req->body_len, &a, &bl, err, sizeof(err));
        if (rc == RF_EFORMAT) {
            rf_arena_free(&a);
            return bad_request(res, err);
        }
        if (rc == RF_OK)
            rc = fleet_set_baseline(f, &bl);
        rf_arena_free(&a);
        if (rc != RF_OK)
            return rc;
        struct buf canon = BUF_INIT;
        fleet_lock_read(f);
        rc = baseline_json(&f->baseline, &canon);
        fleet_unlock(f);
        if (rc == RF_OK && persist_baseline(api->db_path, canon.data) != RF_OK) {
            res->status = 503;
            buf_free(&canon);
            return buf_append_str(&res->body, "{\"error\":\"storage_unavailable\",\"message\":"
                                              "\"the baseline is active but could not be saved\"}");
        }
        if (rc == RF_OK)
            rc = buf_append(&res->body, canon.data, canon.len);
        buf_free(&canon);
        return rc;
    }
    fleet_lock_read(f);
    int rc = baseline_json(&f->baseline, &res->body);
    fleet_unlock(f);
    return rc;
}

/* ---- dispatch ---- */

int api_handle(void *arg, const struct http_api_request *req, struct http_api_response *res)
{
    struct api *api = arg;
    const char *p = req->path;
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(p, "/api/v1/settings/ipsec-baseline") == 0)
        return baseline_endpoint(api, req, res);
    if (!get)
        return RF_ENOTFOUND;
    if (strcmp(p, "/api/v1/overview") == 0)
        return get_overview(api, req, res);
    if (strcmp(p, "/api/v1/errors") == 0)
        return get_errors(api, req, res);
    if (strcmp(p, "/api/v1/trend") == 0)
        return get_trend(api, req, res);
    if (strcmp(p, "/api/v1/devices") == 0)
        return get_devices(api, req, res);
    if (strncmp(p, "/api/v1/devices/", 16) == 0 && p[16])
        return get_device(api, p + 16, res);
    if (strcmp(p, "/api/v1/findings") == 0) {
        int rc = analyzer_findings_json(api->analyzer, req->arg(req, "rule"), &res->body);
        return rc == RF_EBUSY ? error_answer(res, 503, "findings_pending",
                                             "no collector has published findings yet; retry"
                                             " in a few seconds")
                              : rc;
    }
    if (strncmp(p, "/api/v1/remediation/", 20) == 0)
        return get_remediation(api, req, p + 20, res);
    if (strcmp(p, "/api/v1/catalog") == 0)
        return get_catalog("", res);
    if (strncmp(p, "/api/v1/catalog/", 16) == 0 && p[16])
        return get_catalog(p + 16, res);
    return RF_ENOTFOUND;
}
