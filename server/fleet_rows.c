/*
 * fleet_rows.c - applies database rows to the hot aggregate (rebuild and
 * PostgreSQL tail alike). See fleet_rows.h.
 */
#include "fleet_rows.h"
#include "fleet_internal.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void fleet_rowmap_init(struct fleet_rowmap *m)
{
    memset(m, 0, sizeof(*m));
}

void fleet_rowmap_free(struct fleet_rowmap *m)
{
    free(m->idx);
    free(m->dirty);
    free(m->touched);
    memset(m, 0, sizeof(*m));
}

long fleet_rowmap_get(const struct fleet_rowmap *m, int64_t id)
{
    return id >= 0 && (uint64_t)id < m->len ? m->idx[id] : -1;
}

static int rowmap_set(struct fleet_rowmap *m, int64_t id, long di)
{
    if (id < 0 || id > (int64_t)(SIZE_MAX / sizeof(long) / 2))
        return RF_EINVAL;
    if ((uint64_t)id >= m->len) {
        size_t n = m->len ? m->len : 1024;
        while (n <= (uint64_t)id)
            n *= 2;
        long *p = realloc(m->idx, n * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        for (size_t i = m->len; i < n; i++)
            p[i] = -1;
        m->idx = p;
        m->len = n;
    }
    m->idx[id] = di;
    return RF_OK;
}

static int mark(struct fleet_rowmap *m, long di)
{
    if ((size_t)di >= m->dirty_len) {
        size_t n = m->dirty_len ? m->dirty_len : 1024;
        while (n <= (size_t)di)
            n *= 2;
        uint8_t *p = realloc(m->dirty, n);
        if (!p)
            return RF_ENOMEM;
        memset(p + m->dirty_len, 0, n - m->dirty_len);
        m->dirty = p;
        m->dirty_len = n;
    }
    if (m->dirty[di])
        return RF_OK;
    if (m->n_touched == m->cap_touched) {
        size_t n = m->cap_touched ? m->cap_touched * 2 : 256;
        long *p = realloc(m->touched, n * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        m->touched = p;
        m->cap_touched = n;
    }
    m->dirty[di] = 1;
    m->touched[m->n_touched++] = di;
    return RF_OK;
}

int fleet_rowmap_mark_all(struct fleet_rowmap *m, const struct fleet *f)
{
    for (size_t i = 0; i < f->n_devs; i++)
        if (mark(m, (long)i) != RF_OK)
            return RF_ENOMEM;
    return RF_OK;
}

int fleet_rows_checks(struct fleet *f, struct fleet_rowmap *m)
{
    int rc = RF_OK;
    for (size_t i = 0; i < m->n_touched; i++) {
        long di = m->touched[i];
        m->dirty[di] = 0;
        if (rc == RF_OK && (size_t)di < f->n_devs)
            rc = fleet_internal_checks(f, di);
    }
    m->n_touched = 0;
    return rc;
}

static const char *text_or(struct fleet_rows *r, int col, const char *dflt)
{
    const char *s = r->text(r->ctx, col);
    return s ? s : dflt;
}

/* The row's value, or false (and 0) for NULL. */
static bool opt_i64(struct fleet_rows *r, int col, int64_t *out)
{
    bool present = !r->is_null(r->ctx, col);
    *out = present ? r->i64(r->ctx, col) : 0;
    return present;
}

/* ---- devices ---- */

int fleet_rows_devices(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r)
{
    int step;
    while ((step = r->next(r->ctx)) == 1) {
        long di;
        const char *uid = r->text(r->ctx, 1);
        if (!uid)
            continue;
        if (fleet_internal_device(f, uid, &di) != RF_OK ||
            rowmap_set(m, r->i64(r->ctx, 0), di) != RF_OK)
            return RF_ENOMEM;
        struct fleet_device *d = &f->devs[di];
        int64_t last_seen = r->i64(r->ctx, 6);
        if (last_seen >= d->last_seen) { /* the newest write names the device */
            const char *names[3] = {r->text(r->ctx, 2), r->text(r->ctx, 3), r->text(r->ctx, 4)};
            uint32_t *dst[3] = {&d->hostname, &d->os, &d->agent};
            for (size_t k = 0; k < 3; k++)
                if (names[k] && strtab_intern(&f->str, names[k], dst[k]) != RF_OK)
                    return RF_ENOMEM;
        }
        fleet_internal_seen(f, di, r->i64(r->ctx, 5), last_seen, !m->bulk);
        m->applied++;
    }
    return step == 0 ? RF_OK : RF_ESTORAGE;
}

/* ---- snapshots ---- */

/* The rows of one (device, time) group collected into a batch. */
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

static int64_t snap_time(const struct fleet_device *d, enum rf_kind kind)
{
    return kind == RF_KIND_IFACE_METRIC ? d->snap_if_ms
           : kind == RF_KIND_PBK_ENTRY  ? d->snap_pbk_ms
                                        : d->snap_pol_ms;
}

static int snap_flush(struct fleet *f, struct fleet_rowmap *m, struct snap *s, enum rf_kind kind)
{
    int rc = RF_OK;
    long di = fleet_rowmap_get(m, s->device);
    if (di >= 0 && s->batch.n_records && s->time >= snap_time(&f->devs[di], kind)) {
        rc = fleet_internal_snapshot(f, di, &s->batch, kind, s->time);
        if (rc == RF_OK)
            rc = mark(m, di);
        m->applied += s->batch.n_records;
    }
    rf_batch_free(&s->batch);
    rf_batch_init(&s->batch);
    s->cap = 0;
    return rc;
}

static int read_iface(struct fleet_rows *r, struct rf_record *rec, struct rf_arena *a)
{
    struct rf_iface_metric *m = &rec->u.ifm;
    m->alias = rf_arena_strdup(a, text_or(r, 2, ""));
    m->index = r->i64(r->ctx, 3);
    m->family = (enum rf_family)r->i64(r->ctx, 4);
    m->metric = r->i64(r->ctx, 5);
    m->automatic = r->i64(r->ctx, 6) != 0;
    m->connected = r->i64(r->ctx, 7) != 0;
    m->if_type = (enum rf_if_type)r->i64(r->ctx, 8);
    m->has_mtu = opt_i64(r, 9, &m->mtu);
    return m->alias ? RF_OK : RF_ENOMEM;
}

static int read_pbk(struct fleet_rows *r, struct rf_record *rec, struct rf_arena *a)
{
    struct rf_pbk_entry *p = &rec->u.pbk;
    p->scope = (enum rf_pbk_scope)r->i64(r->ctx, 2);
    p->connection = rf_arena_strdup(a, text_or(r, 3, ""));
    cJSON *obj = cJSON_Parse(text_or(r, 4, "{}"));
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
    return p->connection && p->settings ? RF_OK : RF_ENOMEM;
}

static int read_policy(struct fleet_rows *r, struct rf_record *rec, struct rf_arena *a)
{
    struct rf_vpn_policy *p = &rec->u.pol;
    p->connection = rf_arena_strdup(a, text_or(r, 2, ""));
    p->server = rf_arena_strdup(a, text_or(r, 3, ""));
    p->tunnel_type = rf_arena_strdup(a, text_or(r, 4, ""));
    p->auth_method = rf_arena_strdup(a, text_or(r, 5, ""));
    p->split_tunneling = r->i64(r->ctx, 6) != 0;
    p->device_tunnel = r->i64(r->ctx, 7) != 0;
    if (r->text(r->ctx, 8))
        p->dns_suffix = rf_arena_strdup(a, r->text(r->ctx, 8));
    cJSON *ip = r->text(r->ctx, 9) ? cJSON_Parse(r->text(r->ctx, 9)) : NULL;
    if (ip) {
        struct {
            const char *name;
            const char **dst;
        } fld[] = {{"cipher_transform", &p->ipsec.cipher_transform},
                   {"auth_transform", &p->ipsec.auth_transform},
                   {"encryption_method", &p->ipsec.encryption_method},
                   {"integrity_check_method", &p->ipsec.integrity_check_method},
                   {"dh_group", &p->ipsec.dh_group},
                   {"pfs_group", &p->ipsec.pfs_group}};
        p->has_ipsec = true;
        for (size_t k = 0; k < 6; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(ip, fld[k].name);
            *fld[k].dst = rf_arena_strdup(a, cJSON_IsString(v) ? v->valuestring : "");
        }
        cJSON_Delete(ip);
    }
    return p->connection && p->server && p->tunnel_type && p->auth_method ? RF_OK : RF_ENOMEM;
}

int fleet_rows_snapshots(struct fleet *f, struct fleet_rowmap *m, enum rf_kind kind,
                         struct fleet_rows *r)
{
    if (kind != RF_KIND_IFACE_METRIC && kind != RF_KIND_PBK_ENTRY && kind != RF_KIND_VPN_POLICY)
        return RF_EINVAL;
    struct snap s = {.device = -1};
    rf_batch_init(&s.batch);
    int rc = RF_OK, step;
    while ((step = r->next(r->ctx)) == 1) {
        int64_t dev = r->i64(r->ctx, 0), t = r->i64(r->ctx, 1);
        if (dev != s.device || t != s.time) {
            if ((rc = snap_flush(f, m, &s, kind)) != RF_OK)
                goto out;
            s.device = dev;
            s.time = t;
        }
        struct rf_record *rec = snap_next(&s);
        if (!rec) {
            rc = RF_ENOMEM;
            goto out;
        }
        rec->kind = kind;
        rc = kind == RF_KIND_IFACE_METRIC ? read_iface(r, rec, &s.batch.arena)
             : kind == RF_KIND_PBK_ENTRY  ? read_pbk(r, rec, &s.batch.arena)
                                          : read_policy(r, rec, &s.batch.arena);
        if (rc != RF_OK)
            goto out;
    }
    rc = step == 0 ? snap_flush(f, m, &s, kind) : RF_ESTORAGE;
out:
    rf_batch_free(&s.batch);
    return rc;
}

/* ---- events, agent status, losses ---- */

typedef int (*row_fn)(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, long di,
                      uint32_t now_minute);

/* Calls fn for each row whose device (column 0) is known. */
static int each_device_row(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                           uint32_t now_minute, row_fn fn)
{
    int step = 0, rc = RF_OK;
    while (rc == RF_OK && (step = r->next(r->ctx)) == 1) {
        long di = fleet_rowmap_get(m, r->i64(r->ctx, 0));
        if (di < 0)
            continue;
        if ((rc = fn(f, m, r, di, now_minute)) == RF_OK)
            m->applied++;
    }
    return rc != RF_OK ? rc : step == 0 ? RF_OK : RF_ESTORAGE;
}

static int event_row(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, long di,
                     uint32_t now_minute)
{
    (void)m;
    struct rf_record rec = {.kind = RF_KIND_RAS_EVENT, .time_ms = r->i64(r->ctx, 1)};
    rec.u.ev.event_id = (int)r->i64(r->ctx, 2);
    rec.u.ev.has_error_code = opt_i64(r, 3, &rec.u.ev.error_code);
    rec.u.ev.connection = text_or(r, 4, "");
    fleet_internal_event(f, di, &rec, now_minute);
    return RF_OK;
}

int fleet_rows_events(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                      int64_t now_ms)
{
    return each_device_row(f, m, r, fleet_minute(now_ms), event_row);
}

static int status_row(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, long di,
                      uint32_t now_minute)
{
    (void)now_minute;
    struct fleet_agent *a = fleet_internal_agent(f, di);
    if (!a)
        return RF_ENOMEM;
    struct rf_agent_status *s = &a->st;
    memset(a, 0, sizeof(*a));
    a->present = true;
    a->time_ms = r->i64(r->ctx, 1);
    s->spool_bytes = r->i64(r->ctx, 2);
    s->spool_batches = r->i64(r->ctx, 3);
    s->has_spool_limit = opt_i64(r, 4, &s->spool_limit_bytes);
    s->dropped_batches_total = r->i64(r->ctx, 5);
    s->has_dropped_records = opt_i64(r, 6, &s->dropped_records_total);
    s->has_rejected_batches = opt_i64(r, 7, &s->rejected_batches_total);
    s->has_last_success = opt_i64(r, 8, &s->last_success_ms);
    s->has_last_error_time = opt_i64(r, 9, &s->last_error_ms);
    s->has_source_errors = opt_i64(r, 10, &s->source_errors);
    a->has_last_drop = opt_i64(r, 11, &a->last_drop_ms);
    return mark(m, di);
}

int fleet_rows_agent_status(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r)
{
    return each_device_row(f, m, r, 0, status_row);
}

static int loss_row(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r, long di,
                    uint32_t now_minute)
{
    (void)m;
    struct agentloss loss = {r->i64(r->ctx, 2), r->i64(r->ctx, 3), r->i64(r->ctx, 4)};
    fleet_internal_loss(f, di, r->i64(r->ctx, 1), &loss, now_minute);
    return RF_OK;
}

int fleet_rows_losses(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                      int64_t now_ms)
{
    return each_device_row(f, m, r, fleet_minute(now_ms), loss_row);
}
