/*
 * fleet_load.c - rebuilds the hot aggregate from SQLite at start, so a
 * restart changes no answer: devices, each device's latest interface / pbk /
 * policy snapshot (the rows with its newest time per kind), its agent's
 * latest status, the outcome events and agent losses of the hot horizon,
 * then the device checks.
 */
#include "fleet.h"
#include "fleet_internal.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>


struct loader {
    struct fleet *f;
    sqlite3 *db;
    long *by_db_id; /* database device id -> fleet index */
    int64_t max_db_id;
};

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int load_devices(struct loader *L)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(L->db, "SELECT max(id) FROM devices", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto out;
    L->max_db_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    L->by_db_id = calloc((size_t)L->max_db_id + 1, sizeof(long));
    if (!L->by_db_id) {
        rc = RF_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i <= L->max_db_id; i++)
        L->by_db_id[i] = -1;
    if (sqlite3_prepare_v2(L->db,
                           "SELECT id, uid, hostname, os_version, agent_version, first_seen,"
                           " last_seen FROM devices ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long di;
        int64_t id = sqlite3_column_int64(st, 0);
        if (fleet_internal_device(L->f, col_text(st, 1), &di) != RF_OK) {
            rc = RF_ENOMEM;
            goto out;
        }
        struct fleet_device *d = &L->f->devs[di];
        if (strtab_intern(&L->f->str, col_text(st, 2), &d->hostname) != RF_OK ||
            strtab_intern(&L->f->str, col_text(st, 3), &d->os) != RF_OK ||
            strtab_intern(&L->f->str, col_text(st, 4), &d->agent) != RF_OK) {
            rc = RF_ENOMEM;
            goto out;
        }
        d->first_seen = sqlite3_column_int64(st, 5);
        d->last_seen = sqlite3_column_int64(st, 6);
        if (id >= 0 && id <= L->max_db_id)
            L->by_db_id[id] = di;
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Collects the rows of one device into a batch, then hands it over. */
struct snap {
    struct rf_batch batch;
    size_t cap;
    int64_t device;
    int64_t time;
};

static struct rf_record *snap_next(struct snap *s)
{
    if (s->batch.n_records == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        struct rf_record *p = rf_arena_alloc(&s->batch.arena, ncap * sizeof(*p));
        if (!p)
            return NULL;
        if (s->batch.n_records)
            memcpy(p, s->batch.records, s->batch.n_records * sizeof(*p));
        s->batch.records = p;
        s->cap = ncap;
    }
    struct rf_record *r = &s->batch.records[s->batch.n_records++];
    memset(r, 0, sizeof(*r));
    r->time_ms = s->time;
    return r;
}

static int snap_flush(struct loader *L, struct snap *s, enum rf_kind kind)
{
    int rc = RF_OK;
    if (s->device >= 0 && s->device <= L->max_db_id && L->by_db_id[s->device] >= 0 &&
        s->batch.n_records)
        rc = fleet_internal_snapshot(L->f, L->by_db_id[s->device], &s->batch, kind, s->time);
    rf_batch_free(&s->batch);
    rf_batch_init(&s->batch);
    s->cap = 0;
    return rc;
}

static int load_kind(struct loader *L, enum rf_kind kind, const char *sql)
{
    sqlite3_stmt *st = NULL;
    struct snap s = {.device = -1};
    rf_batch_init(&s.batch);
    int rc = RF_ESTORAGE, step;
    if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_error("rebuild: %s", sqlite3_errmsg(L->db));
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t dev = sqlite3_column_int64(st, 0);
        if (dev != s.device) {
            if ((rc = snap_flush(L, &s, kind)) != RF_OK)
                goto out;
            s.device = dev;
        }
        s.time = sqlite3_column_int64(st, 1);
        struct rf_record *r = snap_next(&s);
        struct rf_arena *a = &s.batch.arena;
        rc = RF_ENOMEM;
        if (!r)
            goto out;
        r->kind = kind;
        if (kind == RF_KIND_IFACE_METRIC) {
            struct rf_iface_metric *m = &r->u.ifm;
            m->alias = rf_arena_strdup(a, col_text(st, 2) ? col_text(st, 2) : "");
            m->index = sqlite3_column_int64(st, 3);
            m->family = (enum rf_family)sqlite3_column_int(st, 4);
            m->metric = sqlite3_column_int64(st, 5);
            m->automatic = sqlite3_column_int(st, 6);
            m->connected = sqlite3_column_int(st, 7);
            m->if_type = (enum rf_if_type)sqlite3_column_int(st, 8);
            m->has_mtu = sqlite3_column_type(st, 9) != SQLITE_NULL;
            m->mtu = sqlite3_column_int64(st, 9);
            if (!m->alias)
                goto out;
        } else if (kind == RF_KIND_PBK_ENTRY) {
            struct rf_pbk_entry *p = &r->u.pbk;
            p->scope = (enum rf_pbk_scope)sqlite3_column_int(st, 2);
            p->connection = rf_arena_strdup(a, col_text(st, 3) ? col_text(st, 3) : "");
            cJSON *obj = cJSON_Parse(col_text(st, 4) ? col_text(st, 4) : "{}");
            size_t n = obj ? (size_t)cJSON_GetArraySize(obj) : 0, k = 0;
            p->settings = rf_arena_alloc(a, (n + 1) * sizeof(*p->settings));
            const cJSON *kv;
            cJSON_ArrayForEach(kv, obj)
            {
                if (!cJSON_IsString(kv) || !p->settings)
                    continue;
                p->settings[k].key = rf_arena_strdup(a, kv->string);
                p->settings[k].value = rf_arena_strdup(a, kv->valuestring);
                if (p->settings[k].key && p->settings[k].value)
                    k++;
            }
            p->n_settings = k;
            cJSON_Delete(obj);
            if (!p->connection || !p->settings)
                goto out;
        } else {
            struct rf_vpn_policy *p = &r->u.pol;
            p->connection = rf_arena_strdup(a, col_text(st, 2) ? col_text(st, 2) : "");
            p->server = rf_arena_strdup(a, col_text(st, 3) ? col_text(st, 3) : "");
            p->tunnel_type = rf_arena_strdup(a, col_text(st, 4) ? col_text(st, 4) : "");
            p->auth_method = rf_arena_strdup(a, col_text(st, 5) ? col_text(st, 5) : "");
            p->split_tunneling = sqlite3_column_int(st, 6);
            p->device_tunnel = sqlite3_column_int(st, 7);
            if (col_text(st, 8))
                p->dns_suffix = rf_arena_strdup(a, col_text(st, 8));
            cJSON *ip = col_text(st, 9) ? cJSON_Parse(col_text(st, 9)) : NULL;
            if (ip) {
                struct {
                    const char *name;
                    const char **dst;
                } f[] = {{"cipher_transform", &p->ipsec.cipher_transform},
                         {"auth_transform", &p->ipsec.auth_transform},
                         {"encryption_method", &p->ipsec.encryption_method},
                         {"integrity_check_method", &p->ipsec.integrity_check_method},
                         {"dh_group", &p->ipsec.dh_group},
                         {"pfs_group", &p->ipsec.pfs_group}};
                p->has_ipsec = true;
                for (size_t k = 0; k < 6; k++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ip, f[k].name);
                    *f[k].dst = rf_arena_strdup(a, cJSON_IsString(v) ? v->valuestring : "");
                }
                cJSON_Delete(ip);
            }
            if (!p->connection || !p->server || !p->tunnel_type || !p->auth_method)
                goto out;
        }
    }
    if (step != SQLITE_DONE)
        goto out;
    rc = snap_flush(L, &s, kind);
out:
    rf_batch_free(&s.batch);
    sqlite3_finalize(st);
    return rc;
}

static int load_events(struct loader *L)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    int64_t now = time_now_ms();
    uint32_t now_minute = fleet_minute(now);
    int64_t from = (int64_t)L->f->oldest_minute * 60000;
    if (sqlite3_prepare_v2(L->db,
                           "SELECT e.device, e.time, e.event_id, e.error_code, c.s FROM events e"
                           " JOIN dict c ON c.id = e.connection"
                           /* "+e.time": a sequential scan beats the time index here,
                            * whose order is not the table's (random reads). Failures
                            * older than the horizon are read too: they set a device's
                            * last error as they did live (fleet_internal_event counts
                            * nothing outside the horizon). */
                           " WHERE e.event_id = 20227 OR (+e.time >= ? AND e.event_id = 20225)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, from);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t dev = sqlite3_column_int64(st, 0);
        if (dev < 0 || dev > L->max_db_id || L->by_db_id[dev] < 0)
            continue;
        struct rf_record r = {.kind = RF_KIND_RAS_EVENT, .time_ms = sqlite3_column_int64(st, 1)};
        r.u.ev.event_id = sqlite3_column_int(st, 2);
        r.u.ev.has_error_code = sqlite3_column_type(st, 3) != SQLITE_NULL;
        r.u.ev.error_code = sqlite3_column_int64(st, 3);
        r.u.ev.connection = col_text(st, 4);
        fleet_internal_event(L->f, L->by_db_id[dev], &r, now_minute);
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The database device id's fleet index, or -1. */
static long fleet_index(const struct loader *L, int64_t dev)
{
    return dev >= 0 && dev <= L->max_db_id ? L->by_db_id[dev] : -1;
}

static bool col_opt(sqlite3_stmt *st, int i, int64_t *out)
{
    bool present = sqlite3_column_type(st, i) != SQLITE_NULL;
    *out = present ? sqlite3_column_int64(st, i) : 0;
    return present;
}

static int load_agent_status(struct loader *L)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    if (sqlite3_prepare_v2(L->db,
                           "SELECT device, time, spool_bytes, spool_batches, spool_limit_bytes,"
                           " dropped_batches_total, dropped_records_total, rejected_batches_total,"
                           " last_success, last_error_time, source_errors, last_drop"
                           " FROM agent_status",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long di = fleet_index(L, sqlite3_column_int64(st, 0));
        if (di < 0)
            continue;
        struct fleet_agent *a = fleet_internal_agent(L->f, di);
        if (!a) {
            rc = RF_ENOMEM;
            goto out;
        }
        struct rf_agent_status *s = &a->st;
        memset(a, 0, sizeof(*a));
        a->present = true;
        a->time_ms = sqlite3_column_int64(st, 1);
        s->spool_bytes = sqlite3_column_int64(st, 2);
        s->spool_batches = sqlite3_column_int64(st, 3);
        s->has_spool_limit = col_opt(st, 4, &s->spool_limit_bytes);
        s->dropped_batches_total = sqlite3_column_int64(st, 5);
        s->has_dropped_records = col_opt(st, 6, &s->dropped_records_total);
        s->has_rejected_batches = col_opt(st, 7, &s->rejected_batches_total);
        s->has_last_success = col_opt(st, 8, &s->last_success_ms);
        s->has_last_error_time = col_opt(st, 9, &s->last_error_ms);
        s->has_source_errors = col_opt(st, 10, &s->source_errors);
        a->has_last_drop = col_opt(st, 11, &a->last_drop_ms);
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The losses of the horizon, in arrival order as they were applied live. */
static int load_losses(struct loader *L)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE, step;
    uint32_t now_minute = fleet_minute(time_now_ms());
    if (sqlite3_prepare_v2(L->db,
                           "SELECT device, time, dropped_batches, dropped_records,"
                           " rejected_batches FROM agent_losses WHERE time >= ? ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, (int64_t)L->f->oldest_minute * 60000);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long di = fleet_index(L, sqlite3_column_int64(st, 0));
        if (di < 0)
            continue;
        struct agentloss loss = {sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                 sqlite3_column_int64(st, 4)};
        fleet_internal_loss(L->f, di, sqlite3_column_int64(st, 1), &loss, now_minute);
    }
    rc = step == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
out:
    sqlite3_finalize(st);
    return rc;
}

int fleet_rebuild(struct fleet *f, sqlite3 *db)
{
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
    struct loader L = {.f = f, .db = db};
    int64_t t0 = time_mono_ns();
    pthread_rwlock_wrlock(&f->lock);
    int rc = load_devices(&L);
    if (rc == RF_OK)
        rc = load_kind(&L, RF_KIND_IFACE_METRIC, iface_sql);
    if (rc == RF_OK)
        rc = load_kind(&L, RF_KIND_PBK_ENTRY, pbk_sql);
    if (rc == RF_OK)
        rc = load_kind(&L, RF_KIND_VPN_POLICY, policy_sql);
    if (rc == RF_OK)
        rc = load_agent_status(&L);
    if (rc == RF_OK)
        rc = load_events(&L);
    if (rc == RF_OK)
        rc = load_losses(&L);
    for (size_t i = 0; i < f->n_devs && rc == RF_OK; i++)
        rc = fleet_internal_checks(f, (long)i);
    if (rc == RF_OK)
        rc = fleet_sort_recency(f);
    f->version++;
    pthread_rwlock_unlock(&f->lock);
    free(L.by_db_id);
    if (rc == RF_OK)
        log_info("hot aggregate rebuilt: %zu devices, %zu failures in the horizon (%.0f ms)",
                 f->n_devs, f->n_fails, (double)(time_mono_ns() - t0) / 1e6);
    return rc;
}
