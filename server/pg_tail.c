/*
 * pg_tail.c - the whole fleet's hot aggregate on PostgreSQL: the rebuild
 * at start and the refresh thread that applies what other collectors
 * committed. See pg_tail.h for the exactness argument and the freshness
 * figure; rows become fleet state in fleet_rows.c (shared with the SQLite
 * rebuild).
 *
 * Threads: the refresh thread owns the connection and the row map; the
 * writer thread calls pg_tail_own_tx(); HTTP threads read the stats.
 */
#include "pg_tail.h"
#include "fleet_internal.h"
#include "fleet_rows.h"
#include "log.h"
#include "pg_store.h"
#include "rasfleet/result.h"
#include "timeutil.h"
#include "txset.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MAX_MS 30000
#define PENDING_MAX 1024

enum table { T_DEVICES, T_IFACE, T_PBK, T_POLICY, T_STATUS, T_EVENTS, T_LOSSES, T_COUNT };

/* Select lists: the columns fleet_rows.h expects, per table. */
#define DEVICE_COLS "id, uid, hostname, os_version, agent_version, first_seen, last_seen"
#define IFACE_COLS                                                                              \
    "i.device, i.time, a.s, i.ifindex, i.family, i.metric, i.automatic, i.connected,"          \
    " i.if_type, i.mtu"
#define IFACE_FROM "iface_metrics i JOIN dict a ON a.id = i.alias"
#define PBK_COLS "p.device, p.time, p.scope, c.s, s.s"
#define PBK_FROM "pbk_entries p JOIN dict c ON c.id = p.connection JOIN dict s ON s.id = p.settings"
#define POLICY_COLS                                                                             \
    "p.device, p.time, c.s, sv.s, tt.s, am.s, p.split_tunneling, p.device_tunnel, ds.s, ip.s"
#define POLICY_FROM                                                                             \
    "vpn_policies p JOIN dict c ON c.id = p.connection JOIN dict sv ON sv.id = p.server"       \
    " JOIN dict tt ON tt.id = p.tunnel_type JOIN dict am ON am.id = p.auth_method"             \
    " LEFT JOIN dict ds ON ds.id = p.dns_suffix LEFT JOIN dict ip ON ip.id = p.ipsec"
#define STATUS_COLS                                                                             \
    "device, time, spool_bytes, spool_batches, spool_limit_bytes, dropped_batches_total,"      \
    " dropped_records_total, rejected_batches_total, last_success, last_error_time,"           \
    " source_errors, last_drop"
#define EVENT_COLS "e.device, e.time, e.event_id, e.error_code, c.s"
#define EVENT_FROM "events e JOIN dict c ON c.id = e.connection"
#define LOSS_COLS "device, time, dropped_batches, dropped_records, rejected_batches"

/* The rebuild: everything written by transactions below xmin ($1; $2 is the
 * hot horizon's first ms), each device's latest snapshot per kind, as
 * fleet_load.c reads SQLite. Devices and agent statuses are state, not
 * increments: all of them, whatever their tx (applying one twice changes
 * nothing). */
#define LATEST(table, alias, cols, from)                                                        \
    "WITH latest AS (SELECT device, max(time) AS t FROM " table " WHERE tx < $1"              \
    " GROUP BY device) SELECT " cols " FROM latest JOIN " from " ON " alias                    \
    ".device = latest.device AND " alias ".time = latest.t AND " alias ".tx < $1"              \
    " ORDER BY " alias ".device, " alias ".id"
static const char *const rebuild_sql[T_COUNT] = {
    [T_DEVICES] = "SELECT " DEVICE_COLS " FROM devices ORDER BY id",
    [T_IFACE] = LATEST("iface_metrics", "i", IFACE_COLS, IFACE_FROM),
    [T_PBK] = LATEST("pbk_entries", "p", PBK_COLS, PBK_FROM),
    [T_POLICY] = LATEST("vpn_policies", "p", POLICY_COLS, POLICY_FROM),
    [T_STATUS] = "SELECT " STATUS_COLS " FROM agent_status",
    [T_EVENTS] = "SELECT " EVENT_COLS " FROM " EVENT_FROM " WHERE e.tx < $1 AND"
                 " (e.event_id = 20227 OR (e.time >= $2 AND e.event_id = 20225))",
    [T_LOSSES] = "SELECT " LOSS_COLS " FROM agent_losses WHERE tx < $1 AND time >= $2"
                 " ORDER BY id",
};

/* A refresh: rows of transactions in [$1, $2) but this collector's ($3).
 * Devices also by id ($4): those the other rows name that the tail does
 * not know yet (created by this collector, or updated since by a
 * transaction at or past $2). */
#define WINDOW(alias) " WHERE " alias "tx >= $1 AND " alias "tx < $2 AND " alias "tx <> ALL($3)"
static const char *const refresh_sql[T_COUNT] = {
    [T_DEVICES] = "SELECT " DEVICE_COLS " FROM devices WHERE (tx >= $1 AND tx < $2 AND"
                  " tx <> ALL($3)) OR id = ANY($4) ORDER BY last_seen, id",
    [T_IFACE] = "SELECT " IFACE_COLS " FROM " IFACE_FROM WINDOW("i.")
                " ORDER BY i.device, i.time, i.id",
    [T_PBK] = "SELECT " PBK_COLS " FROM " PBK_FROM WINDOW("p.") " ORDER BY p.device, p.time, p.id",
    [T_POLICY] = "SELECT " POLICY_COLS " FROM " POLICY_FROM WINDOW("p.")
                 " ORDER BY p.device, p.time, p.id",
    [T_STATUS] = "SELECT " STATUS_COLS " FROM agent_status" WINDOW(""),
    [T_EVENTS] = "SELECT " EVENT_COLS " FROM " EVENT_FROM WINDOW("e.")
                 " AND e.event_id IN (20225, 20227)",
    [T_LOSSES] = "SELECT " LOSS_COLS " FROM agent_losses" WINDOW("") " ORDER BY id",
};

/* A refresh whose snapshot's xmax the horizon has not passed yet. */
struct pending {
    int64_t time_ms, xmax;
};

struct pg_tail {
    struct fleet *f;
    char *url;
    int refresh_ms;
    struct txset own;

    /* refresh thread */
    PGconn *conn;
    struct fleet_rowmap map;
    int64_t prev_xmin;
    struct pending pending[PENDING_MAX];
    size_t n_pending;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards stop and st */
    pthread_cond_t wake;
    bool stop;
    struct pg_tail_stats st;
};

/* ---- a cursor over a libpq result (fleet_rows.h) ---- */

struct pgcur {
    PGconn *stream; /* single-row mode: rows arrive one PGresult each */
    PGresult *res;
    int row, nrows;
};

static int cur_next(void *ctx)
{
    struct pgcur *c = ctx;
    if (!c->stream)
        return ++c->row < c->nrows ? 1 : 0;
    PQclear(c->res);
    c->res = PQgetResult(c->stream);
    ExecStatusType st = c->res ? PQresultStatus(c->res) : PGRES_FATAL_ERROR;
    if (st == PGRES_SINGLE_TUPLE) {
        c->row = 0;
        return 1;
    }
    return st == PGRES_TUPLES_OK ? 0 : -1;
}

static bool cur_is_null(void *ctx, int col)
{
    struct pgcur *c = ctx;
    return PQgetisnull(c->res, c->row, col);
}

static int64_t cur_i64(void *ctx, int col)
{
    struct pgcur *c = ctx;
    return strtoll(PQgetvalue(c->res, c->row, col), NULL, 10);
}

static const char *cur_text(void *ctx, int col)
{
    struct pgcur *c = ctx;
    return PQgetisnull(c->res, c->row, col) ? NULL : PQgetvalue(c->res, c->row, col);
}

static int apply(struct pg_tail *t, enum table tb, struct pgcur *c, int64_t now)
{
    struct fleet_rows r = {c, cur_next, cur_is_null, cur_i64, cur_text};
    switch (tb) {
    case T_DEVICES:
        return fleet_rows_devices(t->f, &t->map, &r);
    case T_IFACE:
        return fleet_rows_snapshots(t->f, &t->map, RF_KIND_IFACE_METRIC, &r);
    case T_PBK:
        return fleet_rows_snapshots(t->f, &t->map, RF_KIND_PBK_ENTRY, &r);
    case T_POLICY:
        return fleet_rows_snapshots(t->f, &t->map, RF_KIND_VPN_POLICY, &r);
    case T_STATUS:
        return fleet_rows_agent_status(t->f, &t->map, &r);
    case T_EVENTS:
        return fleet_rows_events(t->f, &t->map, &r, now);
    case T_LOSSES:
        return fleet_rows_losses(t->f, &t->map, &r, now);
    default:
        return RF_EINVAL;
    }
}

/* ---- statements ---- */

static void set_error(struct pg_tail *t, const char *what)
{
    char err[200];
    pg_store_error(t->conn, what, err, sizeof(err));
    pthread_mutex_lock(&t->lock);
    snprintf(t->st.last_error, sizeof(t->st.last_error), "%s", err);
    pthread_mutex_unlock(&t->lock);
}

static int exec_ok(struct pg_tail *t, const char *sql)
{
    PGresult *r = PQexec(t->conn, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? RF_OK : RF_ESTORAGE;
    PQclear(r);
    if (rc != RF_OK)
        set_error(t, sql);
    return rc;
}

/* Opens the read transaction and reads its snapshot's xmin and xmax. */
static int begin_snapshot(struct pg_tail *t, int64_t *xmin, int64_t *xmax)
{
    if (exec_ok(t, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != RF_OK)
        return RF_ESTORAGE;
    PGresult *r = PQexec(t->conn, "SELECT pg_snapshot_xmin(s)::text::bigint,"
                                  " pg_snapshot_xmax(s)::text::bigint FROM pg_current_snapshot() s");
    int rc = RF_ESTORAGE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *xmin = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        *xmax = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        rc = RF_OK;
    } else {
        set_error(t, "cannot read the snapshot");
    }
    PQclear(r);
    return rc;
}

static void end_snapshot(struct pg_tail *t)
{
    PGresult *r = PQexec(t->conn, "COMMIT"); /* read only: ends the snapshot */
    PQclear(r);
}

static PGresult *query(struct pg_tail *t, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(t->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_error(t, "tail query failed");
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Runs sql in single-row mode and applies its rows as they arrive. */
static int stream(struct pg_tail *t, enum table tb, int n, const char *const *params, int64_t now)
{
    struct pgcur c = {.stream = t->conn, .row = 0};
    if (!PQsendQueryParams(t->conn, rebuild_sql[tb], n, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(t->conn)) {
        set_error(t, "cannot send a rebuild query");
        return RF_ESTORAGE;
    }
    int rc = apply(t, tb, &c, now);
    if (rc == RF_ESTORAGE && c.res)
        set_error(t, "rebuild query failed");
    PQclear(c.res);
    for (PGresult *r; (r = PQgetResult(t->conn));) /* the rest on an early stop */
        PQclear(r);
    return rc;
}

/* ---- freshness ---- */

/* After applying everything below xmin: the refreshes whose xmax it passed
 * are complete; this one (taken at time_ms) waits unless nothing ran. */
static void note_horizon(struct pg_tail *t, int64_t time_ms, int64_t xmin, int64_t xmax,
                         int64_t *complete)
{
    size_t k = 0;
    while (k < t->n_pending && t->pending[k].xmax <= xmin)
        *complete = t->pending[k++].time_ms;
    memmove(t->pending, t->pending + k, (t->n_pending - k) * sizeof(t->pending[0]));
    t->n_pending -= k;
    if (xmax <= xmin)
        *complete = time_ms;
    else if (t->n_pending < PENDING_MAX)
        t->pending[t->n_pending++] = (struct pending){time_ms, xmax};
}

/* ---- rebuild ---- */

static int rebuild(struct pg_tail *t)
{
    int64_t t0 = time_mono_ns(), snap_ms = time_now_ms(), xmin = 0, xmax = 0, complete = 0;
    if (begin_snapshot(t, &xmin, &xmax) != RF_OK)
        return RF_ESTORAGE;
    int rc = exec_ok(t, "SET LOCAL statement_timeout = 0"); /* a big database takes a while */
    char p1[24], p2[24];
    snprintf(p1, sizeof(p1), "%" PRId64, xmin);
    snprintf(p2, sizeof(p2), "%" PRId64, (int64_t)t->f->oldest_minute * 60000);
    const char *const params[2] = {p1, p2};
    static const int nparams[T_COUNT] = {0, 1, 1, 1, 0, 2, 2};
    struct fleet *f = t->f;
    fleet_internal_lock(f);
    t->map.bulk = true;
    for (int tb = 0; tb < T_COUNT && rc == RF_OK; tb++)
        rc = stream(t, (enum table)tb, nparams[tb], params, time_now_ms());
    if (rc == RF_OK)
        rc = fleet_rowmap_mark_all(&t->map, f);
    if (rc == RF_OK)
        rc = fleet_rows_checks(f, &t->map);
    if (rc == RF_OK)
        rc = fleet_sort_recency(f);
    t->map.bulk = false;
    fleet_internal_unlock(f, time_now_ms());
    end_snapshot(t);
    if (rc != RF_OK)
        return rc;
    t->prev_xmin = xmin;
    note_horizon(t, snap_ms, xmin, xmax, &complete);
    pthread_mutex_lock(&t->lock);
    t->st.xmin = xmin;
    t->st.complete_ms = complete;
    t->st.last_refresh_ms = time_now_ms();
    t->st.rows_applied = t->map.applied;
    pthread_mutex_unlock(&t->lock);
    log_info("hot aggregate rebuilt from PostgreSQL: %zu devices, %zu failures in the horizon,"
             " below transaction %" PRId64 " (%.0f ms)",
             f->n_devs, f->n_fails, xmin, (double)(time_mono_ns() - t0) / 1e6);
    return RF_OK;
}

/* ---- refresh ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The device ids the rows of res name that the row map does not know, as
 * a PostgreSQL array literal. */
static int unknown_devices(struct pg_tail *t, PGresult *const *res, struct buf *out)
{
    size_t n = 0, cap = 0;
    int64_t *ids = NULL;
    int rc = RF_OK;
    for (int tb = T_IFACE; tb < T_COUNT && rc == RF_OK; tb++) {
        for (int i = 0; i < PQntuples(res[tb]) && rc == RF_OK; i++) {
            int64_t id = strtoll(PQgetvalue(res[tb], i, 0), NULL, 10);
            if (fleet_rowmap_get(&t->map, id) >= 0)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                int64_t *p = realloc(ids, ncap * sizeof(*p));
                if (!p) {
                    rc = RF_ENOMEM;
                    break;
                }
                ids = p;
                cap = ncap;
            }
            ids[n++] = id;
        }
    }
    if (n)
        qsort(ids, n, sizeof(*ids), cmp_i64);
    if (rc == RF_OK)
        rc = buf_append_char(out, '{');
    for (size_t i = 0; i < n && rc == RF_OK; i++)
        if (i == 0 || ids[i] != ids[i - 1])
            rc = buf_printf(out, i ? ",%" PRId64 : "%" PRId64, ids[i]);
    if (rc == RF_OK)
        rc = buf_append_str(out, "}");
    free(ids);
    return rc;
}

static int refresh(struct pg_tail *t)
{
    int64_t t0 = time_mono_ns(), snap_ms = time_now_ms(), xmin = 0, xmax = 0, complete = 0;
    bool applied = false;
    PGresult *res[T_COUNT] = {0};
    struct buf own = BUF_INIT, unknown = BUF_INIT;
    char p1[24], p2[24];
    uint64_t applied_before = t->map.applied;
    if (begin_snapshot(t, &xmin, &xmax) != RF_OK)
        return RF_ESTORAGE;
    int rc = RF_OK;
    if (xmin > t->prev_xmin) {
        snprintf(p1, sizeof(p1), "%" PRId64, t->prev_xmin);
        snprintf(p2, sizeof(p2), "%" PRId64, xmin);
        /* every own transaction below xmin has ended, so it is in the set
         * already (added before its first row) unless it rolled back */
        rc = txset_array(&t->own, t->prev_xmin, xmin, &own);
        const char *params[4] = {p1, p2, own.data, NULL};
        for (int tb = T_IFACE; tb < T_COUNT && rc == RF_OK; tb++)
            if (!(res[tb] = query(t, refresh_sql[tb], 3, params)))
                rc = RF_ESTORAGE;
        if (rc == RF_OK)
            rc = unknown_devices(t, res, &unknown);
        params[3] = unknown.data;
        if (rc == RF_OK && !(res[T_DEVICES] = query(t, refresh_sql[T_DEVICES], 4, params)))
            rc = RF_ESTORAGE;
    }
    end_snapshot(t);
    if (rc == RF_OK && xmin > t->prev_xmin) {
        int64_t now = time_now_ms();
        fleet_internal_lock(t->f);
        for (int tb = 0; tb < T_COUNT && rc == RF_OK; tb++) {
            struct pgcur c = {.res = res[tb], .row = -1, .nrows = PQntuples(res[tb])};
            rc = apply(t, (enum table)tb, &c, now);
        }
        if (rc == RF_OK)
            rc = fleet_rows_checks(t->f, &t->map);
        fleet_internal_unlock(t->f, now);
        if (rc != RF_OK) { /* out of memory: a rebuild (restart) catches up */
            log_error("hot aggregate: out of memory applying other collectors' rows");
            pthread_mutex_lock(&t->lock);
            t->st.errors++;
            snprintf(t->st.last_error, sizeof(t->st.last_error),
                     "out of memory applying rows below transaction %" PRId64
                     ": answers miss some of them until a restart",
                     xmin);
            pthread_mutex_unlock(&t->lock);
        }
        t->prev_xmin = xmin; /* what was applied was applied: never twice */
        txset_prune_below(&t->own, xmin);
        applied = true;
    }
    for (int tb = 0; tb < T_COUNT; tb++)
        PQclear(res[tb]);
    buf_free(&own);
    buf_free(&unknown);
    if (rc != RF_OK && !applied) { /* nothing applied: the next refresh tries again */
        if (rc == RF_ENOMEM) {
            pthread_mutex_lock(&t->lock);
            snprintf(t->st.last_error, sizeof(t->st.last_error),
                     "out of memory reading other collectors' rows");
            pthread_mutex_unlock(&t->lock);
        }
        return rc;
    }
    note_horizon(t, snap_ms, t->prev_xmin, xmax, &complete);
    pthread_mutex_lock(&t->lock);
    t->st.xmin = t->prev_xmin;
    if (complete > t->st.complete_ms)
        t->st.complete_ms = complete;
    t->st.last_refresh_ms = time_now_ms();
    t->st.refreshes++;
    t->st.rows_applied += t->map.applied - applied_before;
    t->st.last_refresh_seconds = (double)(time_mono_ns() - t0) / 1e9;
    pthread_mutex_unlock(&t->lock);
    return RF_OK;
}

/* ---- thread ---- */

static void set_connected(struct pg_tail *t, bool up)
{
    pthread_mutex_lock(&t->lock);
    t->st.connected = up;
    pthread_mutex_unlock(&t->lock);
}

static int connect_tail(struct pg_tail *t, char *errbuf, size_t errlen)
{
    int rc = pg_store_connect(t->url, &t->conn, errbuf, errlen);
    set_connected(t, rc == RF_OK);
    return rc;
}

/* One refresh, connecting first when needed. */
static int step(struct pg_tail *t)
{
    char err[200];
    if (!t->conn && connect_tail(t, err, sizeof(err)) != RF_OK) {
        pthread_mutex_lock(&t->lock);
        snprintf(t->st.last_error, sizeof(t->st.last_error), "%s", err);
        pthread_mutex_unlock(&t->lock);
        return RF_ESTORAGE;
    }
    int rc = refresh(t);
    if (rc != RF_OK && PQstatus(t->conn) != CONNECTION_OK) {
        PQfinish(t->conn);
        t->conn = NULL;
        set_connected(t, false);
    } else if (rc != RF_OK) {
        PGresult *r = PQexec(t->conn, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

static void *tail_main(void *arg)
{
    struct pg_tail *t = arg;
    int64_t wait_ms = t->refresh_ms, backoff = 0;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (wait_ms % 1000) * 1000000;
        ts.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&t->wake, &t->lock, &ts);
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->lock);
        int rc = step(t);
        pthread_mutex_lock(&t->lock);
        if (rc == RF_OK) {
            backoff = 0;
            wait_ms = t->refresh_ms;
        } else {
            t->st.errors++;
            backoff = backoff ? backoff * 2 : t->refresh_ms;
            if (backoff > BACKOFF_MAX_MS)
                backoff = BACKOFF_MAX_MS;
            wait_ms = backoff;
            log_warn("hot aggregate refresh from PostgreSQL failed (%s); retrying in %" PRId64
                     " ms",
                     t->st.last_error, wait_ms);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static void tail_free(struct pg_tail *t)
{
    if (t->conn)
        PQfinish(t->conn);
    fleet_rowmap_free(&t->map);
    txset_free(&t->own);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->url);
    free(t);
}

int pg_tail_start(struct fleet *f, const struct pg_tail_config *cfg, struct pg_tail **out,
                  char *errbuf, size_t errlen)
{
    struct pg_tail *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(errbuf, errlen, "out of memory");
        return RF_ENOMEM;
    }
    t->f = f;
    t->refresh_ms = cfg->refresh_ms > 0 ? cfg->refresh_ms : 2000;
    txset_init(&t->own);
    fleet_rowmap_init(&t->map);
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = RF_ENOMEM;
    if (!(t->url = strdup(cfg->url))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    if ((rc = connect_tail(t, errbuf, errlen)) != RF_OK)
        goto fail;
    if ((rc = rebuild(t)) != RF_OK) {
        snprintf(errbuf, errlen, "cannot rebuild the hot aggregate from PostgreSQL: %s",
                 t->st.last_error[0] ? t->st.last_error : "out of memory");
        goto fail;
    }
    if (pthread_create(&t->thread, NULL, tail_main, t) != 0) {
        snprintf(errbuf, errlen, "cannot start the hot aggregate's refresh thread");
        rc = RF_EIO;
        goto fail;
    }
    t->started = true;
    *out = t;
    return RF_OK;
fail:
    tail_free(t);
    return rc;
}

void pg_tail_stop(struct pg_tail *t)
{
    if (!t)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    tail_free(t);
}

int pg_tail_own_tx(void *arg, int64_t txid, bool begun)
{
    struct pg_tail *t = arg;
    if (!begun) {
        txset_remove(&t->own, txid);
        return RF_OK;
    }
    return txset_add(&t->own, txid);
}

void pg_tail_get_stats(struct pg_tail *t, struct pg_tail_stats *out)
{
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    pthread_mutex_unlock(&t->lock);
    out->own_pending = txset_size(&t->own);
}

static double lag_seconds(const struct pg_tail_stats *s, int64_t now)
{
    return s->complete_ms > 0 && now > s->complete_ms ? (double)(now - s->complete_ms) / 1000.0
                                                      : 0.0;
}

int pg_tail_metrics(struct pg_tail *t, struct buf *b)
{
    struct pg_tail_stats s;
    pg_tail_get_stats(t, &s);
    int64_t now = time_now_ms();
    return buf_printf(
        b,
        "# HELP rasfleet_pg_tail_lag_seconds How far behind the database the hot aggregate may"
        " be: every transaction committed more than this long ago is applied.\n"
        "# TYPE rasfleet_pg_tail_lag_seconds gauge\n"
        "rasfleet_pg_tail_lag_seconds %.3f\n"
        "# HELP rasfleet_pg_tail_last_refresh_timestamp_seconds Unix time of the last"
        " successful refresh from PostgreSQL.\n"
        "# TYPE rasfleet_pg_tail_last_refresh_timestamp_seconds gauge\n"
        "rasfleet_pg_tail_last_refresh_timestamp_seconds %.3f\n"
        "# HELP rasfleet_pg_tail_refresh_duration_seconds Time the last refresh took.\n"
        "# TYPE rasfleet_pg_tail_refresh_duration_seconds gauge\n"
        "rasfleet_pg_tail_refresh_duration_seconds %.6f\n"
        "# HELP rasfleet_pg_tail_connected 1 when the refresh connection to PostgreSQL is up.\n"
        "# TYPE rasfleet_pg_tail_connected gauge\n"
        "rasfleet_pg_tail_connected %d\n"
        "# HELP rasfleet_pg_tail_own_transactions This collector's committed transactions the"
        " refresh has not passed yet.\n"
        "# TYPE rasfleet_pg_tail_own_transactions gauge\n"
        "rasfleet_pg_tail_own_transactions %" PRIu64 "\n"
        "# HELP rasfleet_pg_tail_refreshes_total Successful refreshes from PostgreSQL.\n"
        "# TYPE rasfleet_pg_tail_refreshes_total counter\n"
        "rasfleet_pg_tail_refreshes_total %" PRIu64 "\n"
        "# HELP rasfleet_pg_tail_errors_total Refreshes that failed (retried with backoff).\n"
        "# TYPE rasfleet_pg_tail_errors_total counter\n"
        "rasfleet_pg_tail_errors_total %" PRIu64 "\n"
        "# HELP rasfleet_pg_tail_rows_applied_total Rows applied to the hot aggregate by the"
        " rebuild and the refreshes.\n"
        "# TYPE rasfleet_pg_tail_rows_applied_total counter\n"
        "rasfleet_pg_tail_rows_applied_total %" PRIu64 "\n",
        lag_seconds(&s, now), (double)s.last_refresh_ms / 1000.0, s.last_refresh_seconds,
        s.connected ? 1 : 0, s.own_pending, s.refreshes, s.errors, s.rows_applied);
}

int pg_tail_health(struct pg_tail *t, struct buf *b)
{
    struct pg_tail_stats s;
    pg_tail_get_stats(t, &s);
    char last[TIME_RFC3339_MAX], complete[TIME_RFC3339_MAX];
    time_format_rfc3339(s.last_refresh_ms, last, sizeof(last));
    time_format_rfc3339(s.complete_ms, complete, sizeof(complete));
    int rc = buf_printf(b,
                        ",\"hot_aggregate\":{\"source\":\"postgresql\",\"connected\":%s,"
                        "\"lag_seconds\":%.3f,\"complete_as_of\":\"%s\",\"last_refresh\":\"%s\","
                        "\"refreshes\":%" PRIu64 ",\"errors\":%" PRIu64
                        ",\"rows_applied\":%" PRIu64 ",\"last_error\":",
                        s.connected ? "true" : "false", lag_seconds(&s, time_now_ms()), complete,
                        last, s.refreshes, s.errors, s.rows_applied);
    if (rc == RF_OK)
        rc = s.last_error[0] ? buf_append_json_str(b, s.last_error) : buf_append_str(b, "null");
    if (rc == RF_OK)
        rc = buf_append_char(b, '}');
    return rc;
}
