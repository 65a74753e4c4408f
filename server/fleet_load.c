/*
 * fleet_load.c - rebuilds the hot aggregate from SQLite at start, so a
 * restart changes no answer: devices, each device's latest interface / pbk /
 * policy snapshot (the rows with its newest time per kind), its agent's
 * latest status, the outcome events and agent losses of the hot horizon,
 * then the device checks. The SQL is SQLite's; turning rows into fleet
 * state is fleet_rows.c's, shared with the PostgreSQL rebuild (pg_tail.c).
 */
#include "fleet.h"
#include "fleet_internal.h"
#include "fleet_rows.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <stdlib.h>
#include <string.h>

/* struct fleet_rows over a prepared statement */
static int st_next(void *ctx)
{
    int step = sqlite3_step(ctx);
    return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

static bool st_is_null(void *ctx, int col)
{
    return sqlite3_column_type(ctx, col) == SQLITE_NULL;
}

static int64_t st_i64(void *ctx, int col)
{
    return sqlite3_column_int64(ctx, col);
}

static const char *st_text(void *ctx, int col)
{
    return (const char *)sqlite3_column_text(ctx, col);
}

typedef int (*apply_fn)(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                        int64_t arg);

/* Runs sql (its ?1 bound to arg when it has one) and feeds its rows to fn. */
static int load(struct fleet *f, struct fleet_rowmap *m, sqlite3 *db, const char *sql,
                int64_t arg, apply_fn fn)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("rebuild: %s", sqlite3_errmsg(db));
        return RF_ESTORAGE;
    }
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    struct fleet_rows rows = {st, st_next, st_is_null, st_i64, st_text};
    int rc = fn(f, m, &rows, arg);
    if (rc == RF_ESTORAGE)
        log_error("rebuild: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static int devices(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_devices(f, m, r);
}

static int ifaces(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_snapshots(f, m, RF_KIND_IFACE_METRIC, r);
}

static int pbk(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_snapshots(f, m, RF_KIND_PBK_ENTRY, r);
}

static int policies(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_snapshots(f, m, RF_KIND_VPN_POLICY, r);
}

static int statuses(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_agent_status(f, m, r);
}

static int events(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_events(f, m, r, time_now_ms());
}

static int losses(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, int64_t arg)
{
    (void)arg;
    return fleet_rows_losses(f, m, r, time_now_ms());
}

int fleet_rebuild(struct fleet *f, sqlite3 *db)
{
    static const char *const devices_sql =
        "SELECT id, uid, hostname, os_version, agent_version, first_seen, last_seen"
        " FROM devices ORDER BY id";
    static const char *const iface_sql =
        "WITH latest AS (SELECT device, max(time) AS t FROM iface_metrics GROUP BY device)"
        " SELECT i.device, i.time, a.s, i.ifindex, i.family, i.metric, i.automatic,"
        " i.connected, i.if_type, i.mtu FROM latest JOIN iface_metrics i"
        " ON i.device = latest.device AND i.time = latest.t JOIN dict a ON a.id = i.alias"
        " ORDER BY i.device, i.id";
    static const char *const pbk_sql =
        "WITH latest AS (SELECT device, max(time) AS t FROM pbk_entries GROUP BY device)"
        " SELECT p.device, p.time, p.scope, c.s, s.s FROM latest JOIN pbk_entries p"
        " ON p.device = latest.device AND p.time = latest.t JOIN dict c ON c.id = p.connection"
        " JOIN dict s ON s.id = p.settings ORDER BY p.device, p.id";
    static const char *const policy_sql =
        "WITH latest AS (SELECT device, max(time) AS t FROM vpn_policies GROUP BY device)"
        " SELECT p.device, p.time, c.s, sv.s, tt.s, am.s, p.split_tunneling, p.device_tunnel,"
        " ds.s, ip.s FROM latest JOIN vpn_policies p ON p.device = latest.device"
        " AND p.time = latest.t JOIN dict c ON c.id = p.connection"
        " JOIN dict sv ON sv.id = p.server JOIN dict tt ON tt.id = p.tunnel_type"
        " JOIN dict am ON am.id = p.auth_method LEFT JOIN dict ds ON ds.id = p.dns_suffix"
        " LEFT JOIN dict ip ON ip.id = p.ipsec ORDER BY p.device, p.id";
    static const char *const status_sql =
        "SELECT device, time, spool_bytes, spool_batches, spool_limit_bytes,"
        " dropped_batches_total, dropped_records_total, rejected_batches_total,"
        " last_success, last_error_time, source_errors, last_drop FROM agent_status";
    /* "+e.time": a sequential scan beats the time index here, whose order
     * is not the table's (random reads). Failures older than the horizon
     * are read too: they set a device's last error as they did live
     * (nothing outside the horizon is counted). */
    static const char *const events_sql =
        "SELECT e.device, e.time, e.event_id, e.error_code, c.s FROM events e"
        " JOIN dict c ON c.id = e.connection"
        " WHERE e.event_id = 20227 OR (+e.time >= ?1 AND e.event_id = 20225)";
    /* in arrival order, as they were applied live */
    static const char *const losses_sql =
        "SELECT device, time, dropped_batches, dropped_records, rejected_batches"
        " FROM agent_losses WHERE time >= ?1 ORDER BY id";
    struct fleet_rowmap m;
    int64_t t0 = time_mono_ns();
    fleet_rowmap_init(&m);
    m.bulk = true;
    fleet_internal_lock(f);
    int64_t horizon_ms = (int64_t)f->oldest_minute * 60000;
    int rc = load(f, &m, db, devices_sql, 0, devices);
    if (rc == RF_OK)
        rc = load(f, &m, db, iface_sql, 0, ifaces);
    if (rc == RF_OK)
        rc = load(f, &m, db, pbk_sql, 0, pbk);
    if (rc == RF_OK)
        rc = load(f, &m, db, policy_sql, 0, policies);
    if (rc == RF_OK)
        rc = load(f, &m, db, status_sql, 0, statuses);
    if (rc == RF_OK)
        rc = load(f, &m, db, events_sql, horizon_ms, events);
    if (rc == RF_OK)
        rc = load(f, &m, db, losses_sql, horizon_ms, losses);
    if (rc == RF_OK)
        rc = fleet_rowmap_mark_all(&m, f);
    if (rc == RF_OK)
        rc = fleet_rows_checks(f, &m);
    if (rc == RF_OK)
        rc = fleet_sort_recency(f);
    fleet_internal_unlock(f, time_now_ms());
    fleet_rowmap_free(&m);
    if (rc == RF_OK)
        log_info("hot aggregate rebuilt: %zu devices, %zu failures in the horizon (%.0f ms)",
                 f->n_devs, f->n_fails, (double)(time_mono_ns() - t0) / 1e6);
    return rc;
}
