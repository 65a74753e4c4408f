/*
 * fleet.c - the hot aggregate. See fleet.h for what it holds and why.
 *
 * Snapshots: the interface, pbk and policy records of a batch that carry the
 * batch's newest time for their kind replace the device's previous snapshot
 * of that kind (an agent sends a full snapshot per collection run); an older
 * snapshot arriving late is ignored. After any snapshot change the device
 * checks run again on the device's whole state.
 *
 * Agent status: every agent_status report replaces the device's previous
 * one in arrival order (an agent delivers oldest first), what it adds to the
 * previous totals goes to the loss log (agentloss.h, as the writer stores
 * it), and the checks run again (agent-spool-drops).
 */
#include "fleet.h"
#include "fleet_internal.h"
#include "buf.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* pbk keys kept in memory for the device checks; the device page reads the
 * full entry from SQLite. */
static const char *const checked_pbk_keys[] = {
    "IpInterfaceMetric", "Ipv6InterfaceMetric", "IpDnsFlags", "VpnStrategy",
    "UseRasCredentials", "AutoLogon", "CacheCredentials", "DisableClassBasedDefaultRoute",
    "IpPrioritizeRemote", "Ipv6PrioritizeRemote", "DisableMobility", "NetworkOutageTime",
    "IpNBTFlags", "ExcludedProtocols", "AutoTiggerCapable", "AlwaysOnCapable", "DeviceTunnel",
    "PrivateNetwork", "Disable_IKEv2_Fragmentation", "DataEncryption", "PreferredDevice",
    "CustomAuthKey", "PhoneNumber", "NumCustomPolicy", "IpDnsSuffix", "Type",
};
#define N_CHECKED_KEYS (sizeof(checked_pbk_keys) / sizeof(checked_pbk_keys[0]))

static bool is_checked_key(const char *k)
{
    for (size_t i = 0; i < N_CHECKED_KEYS; i++)
        if (strcmp(k, checked_pbk_keys[i]) == 0)
            return true;
    return false;
}

uint32_t fleet_minute(int64_t ms)
{
    return ms <= 0 ? 0 : (uint32_t)(ms / 60000);
}

int fleet_init(struct fleet *f, const struct fleet_config *cfg)
{
    memset(f, 0, sizeof(*f));
    f->cfg = *cfg;
    if (f->cfg.horizon_days <= 0)
        f->cfg.horizon_days = 31;
    if (f->cfg.max_failures == 0)
        f->cfg.max_failures = 8u << 20;
    if (f->cfg.max_losses == 0)
        f->cfg.max_losses = 1u << 20;
    /* writers first: a stream of readers (API requests, the analyzer) must
     * not keep the commit hook out; no reader takes the lock twice */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&f->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    strtab_init(&f->str);
    rf_arena_init(&f->baseline_arena);
    f->ring_len = (uint32_t)f->cfg.horizon_days * 1440u;
    f->ring_tag = calloc(f->ring_len, sizeof(uint32_t));
    f->ring_attempts = calloc(f->ring_len, sizeof(uint32_t));
    f->ring_failures = calloc(f->ring_len, sizeof(uint32_t));
    if (!f->ring_tag || !f->ring_attempts || !f->ring_failures) {
        fleet_free(f);
        return RF_ENOMEM;
    }
    f->newest = f->oldest = FLEET_NONE;
    uint32_t now = fleet_minute(time_now_ms());
    f->oldest_minute = now > f->ring_len ? now - f->ring_len + 1 : 0;
    return RF_OK;
}

static void free_device_findings(struct fleet_device *d)
{
    free(d->findings);
    d->findings = NULL;
    d->n_findings = 0;
}

static void free_device_pbk(struct fleet_device *d)
{
    for (size_t i = 0; i < d->n_pbk; i++)
        free(d->pbk[i].kv);
    free(d->pbk);
    d->pbk = NULL;
    d->n_pbk = 0;
}

void fleet_free(struct fleet *f)
{
    for (size_t i = 0; i < f->n_devs; i++) {
        free_device_findings(&f->devs[i]);
        free_device_pbk(&f->devs[i]);
        free(f->devs[i].ifs);
        free(f->devs[i].pol);
        free(f->devs[i].agent_status);
    }
    free(f->devs);
    free(f->ring_tag);
    free(f->ring_attempts);
    free(f->ring_failures);
    free(f->fails);
    free(f->losses);
    strtab_free(&f->str);
    free(f->dev_of);
    rf_arena_free(&f->baseline_arena);
    pthread_rwlock_destroy(&f->lock);
    memset(f, 0, sizeof(*f));
}

void fleet_lock_read(struct fleet *f)
{
    pthread_rwlock_rdlock(&f->lock);
}

void fleet_unlock(struct fleet *f)
{
    pthread_rwlock_unlock(&f->lock);
}

void fleet_yield_read(struct fleet *f)
{
    pthread_rwlock_unlock(&f->lock);
    pthread_rwlock_rdlock(&f->lock);
}

long fleet_find_device(const struct fleet *f, const char *uid)
{
    uint32_t id = strtab_find(&f->str, uid);
    return id && id < f->dev_of_len && f->dev_of[id] ? (long)f->dev_of[id] - 1 : -1;
}

const struct fleet_policy *fleet_device_policy(const struct fleet_device *d, uint32_t conn)
{
    for (size_t i = 0; i < d->n_pol; i++)
        if (d->pol[i].conn == conn)
            return &d->pol[i];
    return NULL;
}

static int device_for(struct fleet *f, const char *uid, long *out)
{
    long idx = fleet_find_device(f, uid);
    if (idx >= 0) {
        *out = idx;
        return RF_OK;
    }
    if (f->n_devs == f->cap_devs) {
        size_t ncap = f->cap_devs ? f->cap_devs * 2 : 1024;
        struct fleet_device *p = realloc(f->devs, ncap * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        f->devs = p;
        f->cap_devs = ncap;
    }
    if (f->n_devs >= UINT32_MAX - 1)
        return RF_ENOMEM;
    uint32_t sid;
    if (strtab_intern(&f->str, uid, &sid) != RF_OK)
        return RF_ENOMEM;
    if (sid >= f->dev_of_len) {
        size_t n = f->str.cap > sid ? f->str.cap : (size_t)sid + 1;
        uint32_t *p = realloc(f->dev_of, n * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        memset(p + f->dev_of_len, 0, (n - f->dev_of_len) * sizeof(*p));
        f->dev_of = p;
        f->dev_of_len = n;
    }
    struct fleet_device *d = &f->devs[f->n_devs];
    memset(d, 0, sizeof(*d));
    d->uid = sid;
    f->dev_of[sid] = (uint32_t)f->n_devs + 1;
    d->primary_if = FLEET_NO_IF;
    /* a new device enters at the old end (last_seen 0) */
    d->newer = f->oldest;
    d->older = FLEET_NONE;
    if (f->oldest != FLEET_NONE)
        f->devs[f->oldest].older = (uint32_t)f->n_devs;
    f->oldest = (uint32_t)f->n_devs;
    if (f->newest == FLEET_NONE)
        f->newest = (uint32_t)f->n_devs;
    *out = (long)f->n_devs++;
    return RF_OK;
}

/* Moves device i to its place in the recency list after its last_seen grew:
 * in front of the first device not newer than it. A batch received now is
 * the newest (O(1)); a row another collector committed may be a little
 * older than what this one received since (a short walk from the front). */
static void reposition(struct fleet *f, uint32_t i)
{
    struct fleet_device *d = &f->devs[i];
    /* unlink */
    if (d->newer != FLEET_NONE)
        f->devs[d->newer].older = d->older;
    else
        f->newest = d->older;
    if (d->older != FLEET_NONE)
        f->devs[d->older].newer = d->newer;
    else
        f->oldest = d->newer;
    /* the first device from the front that is not newer */
    uint32_t at = f->newest, prev = FLEET_NONE;
    while (at != FLEET_NONE && f->devs[at].last_seen > d->last_seen) {
        prev = at;
        at = f->devs[at].older;
    }
    d->newer = prev;
    d->older = at;
    if (prev != FLEET_NONE)
        f->devs[prev].older = i;
    else
        f->newest = i;
    if (at != FLEET_NONE)
        f->devs[at].newer = i;
    else
        f->oldest = i;
}

static int cmp_seen_asc(const void *a, const void *b, void *ctx)
{
    const struct fleet *f = ctx;
    int64_t x = f->devs[*(const uint32_t *)a].last_seen, y = f->devs[*(const uint32_t *)b].last_seen;
    if (x != y)
        return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

int fleet_sort_recency(struct fleet *f)
{
    uint32_t *idx = malloc((f->n_devs + 1) * sizeof(uint32_t));
    if (!idx)
        return RF_ENOMEM;
    for (size_t i = 0; i < f->n_devs; i++)
        idx[i] = (uint32_t)i;
    qsort_r(idx, f->n_devs, sizeof(uint32_t), cmp_seen_asc, f);
    f->newest = f->oldest = FLEET_NONE;
    for (size_t k = 0; k < f->n_devs; k++) { /* oldest first, each becomes the newest */
        struct fleet_device *d = &f->devs[idx[k]];
        d->older = f->newest;
        d->newer = FLEET_NONE;
        if (f->newest != FLEET_NONE)
            f->devs[f->newest].newer = idx[k];
        else
            f->oldest = idx[k];
        f->newest = idx[k];
    }
    free(idx);
    return RF_OK;
}

/* ---- time series ---- */

static void ring_add(struct fleet *f, uint32_t minute, bool failure)
{
    uint32_t slot = minute % f->ring_len;
    if (f->ring_tag[slot] != minute) {
        if (f->ring_tag[slot] > minute)
            return; /* older than what the slot holds: outside the horizon */
        f->ring_tag[slot] = minute;
        f->ring_attempts[slot] = 0;
        f->ring_failures[slot] = 0;
    }
    f->ring_attempts[slot]++;
    if (failure)
        f->ring_failures[slot]++;
}

void fleet_sum(const struct fleet *f, uint32_t from, uint32_t to, uint64_t *attempts,
               uint64_t *failures)
{
    *attempts = *failures = 0;
    if (to - from >= f->ring_len)
        from = to - f->ring_len + 1;
    for (uint32_t m = from; m <= to; m++) {
        uint32_t slot = m % f->ring_len;
        if (f->ring_tag[slot] == m) {
            *attempts += f->ring_attempts[slot];
            *failures += f->ring_failures[slot];
        }
    }
}

/* Drops the failures and losses older than the horizon (the logs are in
 * arrival order). */
static void compact_logs(struct fleet *f, uint32_t now_minute)
{
    uint32_t cutoff = now_minute > f->ring_len ? now_minute - f->ring_len + 1 : 0;
    size_t w = 0;
    for (size_t r = 0; r < f->n_fails; r++)
        if (f->fails[r].minute >= cutoff)
            f->fails[w++] = f->fails[r];
    f->n_fails = w;
    w = 0;
    for (size_t r = 0; r < f->n_losses; r++)
        if (f->losses[r].minute >= cutoff)
            f->losses[w++] = f->losses[r];
    f->n_losses = w;
    f->oldest_minute = cutoff;
}

/* Grows a log's array: doubling from 4096 entries, up to max. Returns the
 * new array, or NULL (the old one stays) at max or out of memory. */
static void *log_grow(void *items, size_t *cap, size_t elem, size_t max)
{
    if (*cap >= max)
        return NULL;
    size_t ncap = *cap ? *cap * 2 : 4096;
    if (ncap > max)
        ncap = max;
    void *p = realloc(items, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

static void add_failure(struct fleet *f, uint32_t minute, uint32_t dev, int32_t code,
                        uint32_t conn, uint32_t now_minute)
{
    if (f->n_fails == f->cap_fails) {
        if (f->cap_fails >= f->cfg.max_failures)
            compact_logs(f, now_minute);
        struct fleet_fail *p = f->n_fails == f->cap_fails
                                   ? log_grow(f->fails, &f->cap_fails, sizeof(*p),
                                              f->cfg.max_failures)
                                   : NULL;
        if (p)
            f->fails = p;
        if (f->n_fails == f->cap_fails) {
            f->dropped_failures++;
            return;
        }
    }
    f->fails[f->n_fails++] = (struct fleet_fail){minute, dev, code, conn};
}

static void add_loss(struct fleet *f, long di, int64_t time_ms, const struct agentloss *loss,
                     uint32_t now_minute)
{
    uint32_t minute = fleet_minute(time_ms);
    if (minute < f->oldest_minute || minute > now_minute + 1440)
        return; /* outside the hot horizon: SQLite still has it */
    if (f->n_losses == f->cap_losses) {
        if (f->cap_losses >= f->cfg.max_losses)
            compact_logs(f, now_minute);
        struct fleet_loss *p = f->n_losses == f->cap_losses
                                   ? log_grow(f->losses, &f->cap_losses, sizeof(*p),
                                              f->cfg.max_losses)
                                   : NULL;
        if (p)
            f->losses = p;
        if (f->n_losses == f->cap_losses) {
            f->dropped_losses++;
            return;
        }
    }
    f->losses[f->n_losses++] = (struct fleet_loss){minute, (uint32_t)di, *loss};
}

struct fleet_agent *fleet_internal_agent(struct fleet *f, long di)
{
    struct fleet_device *d = &f->devs[di];
    if (!d->agent_status)
        d->agent_status = calloc(1, sizeof(*d->agent_status));
    return d->agent_status;
}

/* Takes the device's newest report (arrival order); logs what it lost. */
static void apply_status(struct fleet *f, long di, const struct rf_record *r, uint32_t now_minute)
{
    struct fleet_agent *a = fleet_internal_agent(f, di);
    struct agentloss_totals prev, cur;
    if (!a)
        return; /* out of memory: SQLite has the report, a restart reloads it */
    struct agentloss loss;
    if (a->present)
        agentloss_totals_of(&a->st, &prev);
    agentloss_totals_of(&r->u.st, &cur);
    agentloss_between(a->present ? &prev : NULL, &cur, &loss);
    a->present = true;
    a->time_ms = r->time_ms;
    a->st = r->u.st;
    a->st.agent_version = NULL; /* the batch owns the strings */
    a->st.last_error = NULL;
    if (loss.dropped_batches > 0) {
        a->has_last_drop = true;
        a->last_drop_ms = r->time_ms;
    }
    if (agentloss_any(&loss))
        add_loss(f, di, r->time_ms, &loss, now_minute);
}

static void apply_event(struct fleet *f, long di, const struct rf_record *r, uint32_t now_minute)
{
    const struct rf_ras_event *e = &r->u.ev;
    if (e->event_id != 20225 && e->event_id != 20227)
        return;
    uint32_t minute = fleet_minute(r->time_ms);
    bool failure = e->event_id == 20227;
    struct fleet_device *d = &f->devs[di];
    if (failure && (!d->has_error || r->time_ms >= d->last_error_ms)) {
        d->has_error = true;
        d->last_error_ms = r->time_ms;
        d->last_error = e->has_error_code ? (int32_t)e->error_code : 0;
    }
    if (minute < f->oldest_minute || minute > now_minute + 1440)
        return; /* outside the hot horizon: SQLite still has it */
    ring_add(f, minute, failure);
    if (failure) {
        uint32_t conn = 0;
        if (strtab_intern(&f->str, e->connection, &conn) != RF_OK)
            return;
        add_failure(f, minute, (uint32_t)di, e->has_error_code ? (int32_t)e->error_code : 0, conn,
                    now_minute);
    }
}

/* ---- snapshots ---- */

/* Records of kind with time t in b, at most room. */
static size_t count_snapshot(const struct rf_batch *b, enum rf_kind kind, int64_t t, size_t room)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_records && n < room; i++)
        n += b->records[i].kind == kind && b->records[i].time_ms == t;
    return n;
}

/* Resizes *arr (elements of size elem) to exactly n; n == 0 frees it. */
static int resize_exact(void **arr, size_t elem, size_t n)
{
    if (n == 0) {
        free(*arr);
        *arr = NULL;
        return RF_OK;
    }
    void *p = realloc(*arr, n * elem);
    if (!p)
        return RF_ENOMEM;
    *arr = p;
    return RF_OK;
}

/* A batch with the snapshot's own time adds to it (a snapshot split over
 * two batches); a newer time replaces it. */
static int set_ifaces(struct fleet *f, struct fleet_device *d, const struct rf_batch *b,
                      int64_t t)
{
    if (t != d->snap_if_ms)
        d->n_if = 0;
    size_t add = count_snapshot(b, RF_KIND_IFACE_METRIC, t, FLEET_MAX_IFACES - d->n_if);
    if (resize_exact((void **)&d->ifs, sizeof(*d->ifs), d->n_if + add) != RF_OK)
        return RF_ENOMEM;
    for (size_t i = 0; i < b->n_records && d->n_if < FLEET_MAX_IFACES; i++) {
        const struct rf_record *r = &b->records[i];
        if (r->kind != RF_KIND_IFACE_METRIC || r->time_ms != t)
            continue;
        const struct rf_iface_metric *m = &r->u.ifm;
        struct fleet_iface *fi = &d->ifs[d->n_if++];
        if (strtab_intern(&f->str, m->alias, &fi->alias) != RF_OK)
            return RF_ENOMEM;
        fi->index = (uint32_t)m->index;
        fi->metric = (uint32_t)m->metric;
        fi->mtu = (uint32_t)m->mtu;
        fi->has_mtu = m->has_mtu;
        fi->family = (uint8_t)m->family;
        fi->if_type = (uint8_t)m->if_type;
        fi->automatic = m->automatic;
        fi->connected = m->connected;
    }
    d->snap_if_ms = t;
    return RF_OK;
}

static int set_pbk_entry(struct fleet *f, struct fleet_pbk *p, const struct rf_pbk_entry *e)
{
    p->scope = (uint8_t)e->scope;
    p->n_kv = 0;
    p->kv = NULL;
    p->conn = 0;
    size_t checked = 0;
    for (size_t k = 0; k < e->n_settings && checked < N_CHECKED_KEYS; k++)
        checked += is_checked_key(e->settings[k].key);
    if (checked && !(p->kv = calloc(checked, sizeof(*p->kv))))
        return RF_ENOMEM;
    if (strtab_intern(&f->str, e->connection, &p->conn) != RF_OK)
        return RF_ENOMEM;
    for (size_t k = 0; k < e->n_settings && p->n_kv < checked; k++) {
        if (!is_checked_key(e->settings[k].key))
            continue;
        struct fleet_kv *kv = &p->kv[p->n_kv++];
        if (strtab_intern(&f->str, e->settings[k].key, &kv->key) != RF_OK ||
            strtab_intern(&f->str, e->settings[k].value, &kv->value) != RF_OK)
            return RF_ENOMEM;
    }
    return RF_OK;
}

static int set_pbk(struct fleet *f, struct fleet_device *d, const struct rf_batch *b, int64_t t)
{
    if (t != d->snap_pbk_ms)
        free_device_pbk(d);
    size_t add = count_snapshot(b, RF_KIND_PBK_ENTRY, t, FLEET_MAX_PBK - d->n_pbk);
    if (resize_exact((void **)&d->pbk, sizeof(*d->pbk), d->n_pbk + add) != RF_OK)
        return RF_ENOMEM;
    for (size_t i = 0; i < b->n_records && d->n_pbk < FLEET_MAX_PBK; i++) {
        const struct rf_record *r = &b->records[i];
        if (r->kind != RF_KIND_PBK_ENTRY || r->time_ms != t)
            continue;
        /* counted first, so a failure below leaves a consistent entry */
        struct fleet_pbk *p = &d->pbk[d->n_pbk++];
        if (set_pbk_entry(f, p, &r->u.pbk) != RF_OK)
            return RF_ENOMEM;
    }
    d->snap_pbk_ms = t;
    return RF_OK;
}

static int ipsec_fingerprint(struct fleet *f, const struct rf_vpn_policy *p, uint32_t *out)
{
    *out = 0;
    if (!p->has_ipsec)
        return RF_OK;
    struct buf b = BUF_INIT;
    const struct rf_ipsec_policy *ip = &p->ipsec;
    int rc = buf_printf(&b, "%s/%s/%s/%s/%s/%s", ip->cipher_transform, ip->auth_transform,
                        ip->encryption_method, ip->integrity_check_method, ip->dh_group,
                        ip->pfs_group);
    if (rc == RF_OK)
        rc = strtab_intern(&f->str, b.data, out);
    buf_free(&b);
    return rc;
}

static int set_policy(struct fleet *f, struct fleet_policy *fp, const struct rf_vpn_policy *p)
{
    fp->device_tunnel = p->device_tunnel;
    fp->split = p->split_tunneling;
    fp->ike = strcasecmp(p->tunnel_type, "Ikev2") == 0 || strcasecmp(p->tunnel_type, "Automatic") == 0;
    if (strtab_intern(&f->str, p->connection, &fp->conn) != RF_OK ||
        strtab_intern(&f->str, p->server, &fp->server) != RF_OK ||
        strtab_intern(&f->str, p->tunnel_type, &fp->tunnel) != RF_OK ||
        strtab_intern(&f->str, p->auth_method, &fp->auth) != RF_OK)
        return RF_ENOMEM;
    return ipsec_fingerprint(f, p, &fp->fp);
}

static int set_policies(struct fleet *f, struct fleet_device *d, const struct rf_batch *b,
                        int64_t t)
{
    if (t != d->snap_pol_ms)
        d->n_pol = 0;
    size_t add = count_snapshot(b, RF_KIND_VPN_POLICY, t, FLEET_MAX_POLICIES - d->n_pol);
    if (resize_exact((void **)&d->pol, sizeof(*d->pol), d->n_pol + add) != RF_OK)
        return RF_ENOMEM;
    for (size_t i = 0; i < b->n_records && d->n_pol < FLEET_MAX_POLICIES; i++) {
        const struct rf_record *r = &b->records[i];
        if (r->kind != RF_KIND_VPN_POLICY || r->time_ms != t)
            continue;
        if (set_policy(f, &d->pol[d->n_pol++], &r->u.pol) != RF_OK)
            return RF_ENOMEM;
    }
    d->snap_pol_ms = t;
    return RF_OK;
}

static void update_primary_if(struct fleet_device *d)
{
    uint32_t best = UINT32_MAX;
    d->primary_if = FLEET_NO_IF;
    for (size_t i = 0; i < d->n_if; i++) {
        const struct fleet_iface *fi = &d->ifs[i];
        bool physical = fi->if_type == RF_IF_ETHERNET || fi->if_type == RF_IF_WIFI ||
                        fi->if_type == RF_IF_CELLULAR;
        if (physical && fi->connected && fi->metric < best) {
            best = fi->metric;
            d->primary_if = fi->if_type;
        }
    }
}

/* ---- device checks ---- */

struct finding_sink {
    struct fleet *f;
    struct fleet_device *d;
    int rc;
};

static void collect_finding(void *arg, const struct check_rule *rule, const char *connection,
                            const char *evidence_json)
{
    struct finding_sink *s = arg;
    struct fleet_device *d = s->d;
    if (s->rc != RF_OK)
        return;
    size_t idx = 0;
    for (; idx < checks_rule_count(); idx++)
        if (checks_rule_at(idx) == rule)
            break;
    struct fleet_finding *p = realloc(d->findings, (d->n_findings + 1u) * sizeof(*p));
    if (!p) {
        s->rc = RF_ENOMEM;
        return;
    }
    (void)evidence_json; /* recomputed on read: fleet_device_evidence() */
    d->findings = p;
    struct fleet_finding *fd = &d->findings[d->n_findings];
    fd->rule = (uint16_t)idx;
    if (strtab_intern(&s->f->str, connection, &fd->conn) != RF_OK) {
        s->rc = RF_ENOMEM;
        return;
    }
    d->n_findings++;
}

/* Materialises the device's compact state as record structs for checks.c,
 * everything allocated in a. */
static int materialize(const struct fleet *f, const struct fleet_device *d, struct rf_arena *a,
                       struct check_device *out)
{
    struct rf_iface_metric *ifs = rf_arena_alloc(a, (d->n_if + 1u) * sizeof(*ifs));
    struct rf_pbk_entry *pbk = rf_arena_alloc(a, (d->n_pbk + 1u) * sizeof(*pbk));
    struct rf_vpn_policy *pol = rf_arena_alloc(a, (d->n_pol + 1u) * sizeof(*pol));
    if (!ifs || !pbk || !pol)
        return RF_ENOMEM;
    const struct strtab *st = &f->str;
    for (size_t i = 0; i < d->n_if; i++) {
        const struct fleet_iface *fi = &d->ifs[i];
        ifs[i] = (struct rf_iface_metric){
            .alias = strtab_get(st, fi->alias), .index = fi->index,
            .family = (enum rf_family)fi->family, .metric = fi->metric,
            .automatic = fi->automatic, .connected = fi->connected,
            .if_type = (enum rf_if_type)fi->if_type, .has_mtu = fi->has_mtu, .mtu = fi->mtu};
    }
    for (size_t i = 0; i < d->n_pbk; i++) {
        const struct fleet_pbk *p = &d->pbk[i];
        struct rf_pbk_setting *kv = rf_arena_alloc(a, (p->n_kv + 1u) * sizeof(*kv));
        if (!kv)
            return RF_ENOMEM;
        for (size_t k = 0; k < p->n_kv; k++)
            kv[k] = (struct rf_pbk_setting){strtab_get(st, p->kv[k].key),
                                            strtab_get(st, p->kv[k].value)};
        pbk[i] = (struct rf_pbk_entry){.scope = (enum rf_pbk_scope)p->scope,
                                       .connection = strtab_get(st, p->conn),
                                       .n_settings = p->n_kv,
                                       .settings = kv};
    }
    for (size_t i = 0; i < d->n_pol; i++) {
        const struct fleet_policy *p = &d->pol[i];
        struct rf_vpn_policy *v = &pol[i];
        v->connection = strtab_get(st, p->conn);
        v->server = strtab_get(st, p->server);
        v->tunnel_type = strtab_get(st, p->tunnel);
        v->auth_method = strtab_get(st, p->auth);
        v->split_tunneling = p->split;
        v->device_tunnel = p->device_tunnel;
        if (p->fp) {
            /* fingerprint = cipher/auth/encryption/integrity/dh/pfs */
            char *copy = rf_arena_strdup(a, strtab_get(st, p->fp));
            const char **dst[] = {&v->ipsec.cipher_transform, &v->ipsec.auth_transform,
                                  &v->ipsec.encryption_method, &v->ipsec.integrity_check_method,
                                  &v->ipsec.dh_group, &v->ipsec.pfs_group};
            if (!copy)
                return RF_ENOMEM;
            char *save = NULL, *tok = strtok_r(copy, "/", &save);
            for (size_t k = 0; k < 6; k++) {
                *dst[k] = tok ? tok : "";
                tok = strtok_r(NULL, "/", &save);
            }
            v->has_ipsec = true;
        }
    }
    const struct fleet_agent *fa = d->agent_status;
    struct check_agent *agent = NULL;
    if (fa && fa->present) {
        if (!(agent = rf_arena_alloc(a, sizeof(*agent))))
            return RF_ENOMEM;
        *agent = (struct check_agent){&fa->st, fa->time_ms, fa->has_last_drop, fa->last_drop_ms};
    }
    *out = (struct check_device){ifs, d->n_if, pbk, d->n_pbk, pol, d->n_pol, agent};
    return RF_OK;
}

static int run_checks(struct fleet *f, struct fleet_device *d)
{
    struct rf_arena a;
    struct check_device cd;
    rf_arena_init(&a);
    free_device_findings(d);
    int rc = materialize(f, d, &a, &cd);
    struct finding_sink sink = {f, d, RF_OK};
    if (rc == RF_OK)
        rc = checks_run(&cd, &f->baseline, collect_finding, &sink);
    if (rc == RF_OK)
        rc = sink.rc;
    rf_arena_free(&a);
    return rc;
}

struct evidence_sink {
    struct rf_arena *arena;
    const char **ev;
    size_t n, cap;
    int rc;
};

static void keep_evidence(void *arg, const struct check_rule *rule, const char *connection,
                          const char *evidence_json)
{
    struct evidence_sink *s = arg;
    (void)rule;
    (void)connection;
    if (s->rc != RF_OK || s->n >= s->cap)
        return; /* more than stored: the state changed under a writer? never with the lock */
    s->ev[s->n] = rf_arena_strdup(s->arena, evidence_json ? evidence_json : "{}");
    if (!s->ev[s->n])
        s->rc = RF_ENOMEM;
    s->n++;
}

int fleet_device_evidence(const struct fleet *f, const struct fleet_device *d,
                          struct rf_arena *arena, const char *const **out)
{
    struct check_device cd;
    struct evidence_sink sink = {arena, NULL, 0, d->n_findings, RF_OK};
    *out = NULL;
    sink.ev = rf_arena_alloc(arena, (d->n_findings + 1u) * sizeof(*sink.ev));
    if (!sink.ev)
        return RF_ENOMEM;
    for (size_t k = 0; k <= d->n_findings; k++)
        sink.ev[k] = "{}";
    int rc = materialize(f, d, arena, &cd);
    if (rc == RF_OK && d->n_findings)
        rc = checks_run(&cd, &f->baseline, keep_evidence, &sink);
    if (rc == RF_OK)
        rc = sink.rc;
    if (rc == RF_OK)
        *out = sink.ev;
    return rc;
}

/* ---- applying batches ---- */

static int64_t newest_of_kind(const struct rf_batch *b, enum rf_kind kind)
{
    int64_t t = INT64_MIN;
    for (size_t i = 0; i < b->n_records; i++)
        if (b->records[i].kind == kind && b->records[i].time_ms > t)
            t = b->records[i].time_ms;
    return t;
}

static int apply_batch(struct fleet *f, const struct rf_batch *b, const uint8_t *inserted,
                       int64_t now_ms)
{
    long di;
    int rc = device_for(f, b->agent.device_id, &di);
    if (rc != RF_OK)
        return rc;
    struct fleet_device *d = &f->devs[di];
    if (!d->first_seen)
        d->first_seen = now_ms;
    if (now_ms > d->last_seen) {
        d->last_seen = now_ms;
        reposition(f, (uint32_t)di);
    }
    if ((b->agent.hostname && strtab_intern(&f->str, b->agent.hostname, &d->hostname)) ||
        (b->agent.os_version && strtab_intern(&f->str, b->agent.os_version, &d->os)) ||
        (b->agent.agent_version && strtab_intern(&f->str, b->agent.agent_version, &d->agent)))
        return RF_ENOMEM;
    uint32_t now_minute = fleet_minute(now_ms);
    for (size_t i = 0; i < b->n_records; i++)
        if (b->records[i].kind == RF_KIND_RAS_EVENT && (!inserted || inserted[i]))
            apply_event(f, di, &b->records[i], now_minute);
    bool changed = false;
    int64_t t = newest_of_kind(b, RF_KIND_IFACE_METRIC);
    if (t != INT64_MIN && t >= d->snap_if_ms) {
        if ((rc = set_ifaces(f, d, b, t)) != RF_OK)
            return rc;
        update_primary_if(d);
        changed = true;
    }
    t = newest_of_kind(b, RF_KIND_PBK_ENTRY);
    if (t != INT64_MIN && t >= d->snap_pbk_ms) {
        if ((rc = set_pbk(f, d, b, t)) != RF_OK)
            return rc;
        changed = true;
    }
    t = newest_of_kind(b, RF_KIND_VPN_POLICY);
    if (t != INT64_MIN && t >= d->snap_pol_ms) {
        if ((rc = set_policies(f, d, b, t)) != RF_OK)
            return rc;
        changed = true;
    }
    for (size_t i = 0; i < b->n_records; i++) {
        if (b->records[i].kind == RF_KIND_AGENT_STATUS) {
            apply_status(f, di, &b->records[i], now_minute);
            changed = true;
        }
    }
    return changed ? run_checks(f, d) : RF_OK;
}

void fleet_apply(struct fleet *f, const struct rf_batch *const *batches,
                 const uint8_t *const *inserted, size_t n, int64_t now_ms)
{
    fleet_internal_lock(f);
    for (size_t i = 0; i < n; i++)
        if (apply_batch(f, batches[i], inserted ? inserted[i] : NULL, now_ms) != RF_OK)
            log_error("hot aggregate: out of memory applying a batch (answers may lag)");
    fleet_internal_unlock(f, now_ms);
}

int fleet_set_baseline(struct fleet *f, const struct ipsec_baseline *b)
{
    pthread_rwlock_wrlock(&f->lock);
    rf_arena_free(&f->baseline_arena);
    struct rf_arena *a = &f->baseline_arena;
    f->baseline = *b;
    struct rf_ipsec_policy *p = &f->baseline.policy;
    const char **fields[] = {&p->cipher_transform, &p->auth_transform, &p->encryption_method,
                             &p->integrity_check_method, &p->dh_group, &p->pfs_group};
    int rc = RF_OK;
    for (size_t i = 0; i < 6; i++) {
        if (*fields[i] && !(*fields[i] = rf_arena_strdup(a, *fields[i])))
            rc = RF_ENOMEM;
    }
    for (size_t i = 0; i < f->n_devs && rc == RF_OK; i++)
        rc = run_checks(f, &f->devs[i]);
    f->version++;
    pthread_rwlock_unlock(&f->lock);
    return rc;
}

size_t fleet_memory_bytes(const struct fleet *f)
{
    size_t n = (size_t)f->ring_len * 12 + f->cap_fails * sizeof(struct fleet_fail) +
               f->cap_losses * sizeof(struct fleet_loss) +
               f->cap_devs * sizeof(struct fleet_device) + strtab_memory_bytes(&f->str) +
               f->dev_of_len * sizeof(uint32_t);
    for (size_t i = 0; i < f->n_devs; i++) {
        const struct fleet_device *d = &f->devs[i];
        n += (d->agent_status ? sizeof(struct fleet_agent) : 0) +
             d->n_findings * sizeof(struct fleet_finding) + d->n_if * sizeof(struct fleet_iface) +
             d->n_pol * sizeof(struct fleet_policy) + d->n_pbk * sizeof(struct fleet_pbk);
        for (size_t k = 0; k < d->n_pbk; k++)
            n += d->pbk[k].n_kv * sizeof(struct fleet_kv);
    }
    return n;
}

/* ---- entry points for the loaders (fleet_internal.h) ---- */

void fleet_internal_lock(struct fleet *f)
{
    pthread_rwlock_wrlock(&f->lock);
}

void fleet_internal_unlock(struct fleet *f, int64_t now_ms)
{
    uint32_t now_minute = fleet_minute(now_ms);
    uint32_t cutoff = now_minute > f->ring_len ? now_minute - f->ring_len + 1 : 0;
    if (cutoff > f->oldest_minute + 60)
        compact_logs(f, now_minute); /* hourly */
    f->version++;
    pthread_rwlock_unlock(&f->lock);
}

int fleet_internal_seen(struct fleet *f, long di, int64_t first_seen, int64_t last_seen,
                        bool reorder)
{
    struct fleet_device *d = &f->devs[di];
    if (first_seen > 0 && (!d->first_seen || first_seen < d->first_seen))
        d->first_seen = first_seen;
    if (last_seen > d->last_seen) {
        d->last_seen = last_seen;
        if (reorder)
            reposition(f, (uint32_t)di);
    }
    return RF_OK;
}

int fleet_internal_device(struct fleet *f, const char *uid, long *out)
{
    return device_for(f, uid, out);
}

int fleet_internal_snapshot(struct fleet *f, long di, const struct rf_batch *b, enum rf_kind kind,
                            int64_t t)
{
    struct fleet_device *d = &f->devs[di];
    switch (kind) {
    case RF_KIND_IFACE_METRIC: {
        int rc = set_ifaces(f, d, b, t);
        update_primary_if(d);
        return rc;
    }
    case RF_KIND_PBK_ENTRY:
        return set_pbk(f, d, b, t);
    case RF_KIND_VPN_POLICY:
        return set_policies(f, d, b, t);
    default:
        return RF_EINVAL;
    }
}

void fleet_internal_event(struct fleet *f, long di, const struct rf_record *r, uint32_t now_minute)
{
    apply_event(f, di, r, now_minute);
}

int fleet_internal_checks(struct fleet *f, long di)
{
    return run_checks(f, &f->devs[di]);
}

void fleet_internal_loss(struct fleet *f, long di, int64_t time_ms, const struct agentloss *loss,
                         uint32_t now_minute)
{
    add_loss(f, di, time_ms, loss, now_minute);
}

/* ---- readers ---- */

int fleet_sum_losses(const struct fleet *f, uint32_t from_minute, uint32_t to_minute,
                     struct fleet_loss_sum *out, uint64_t *dropping)
{
    uint64_t *bits = dropping ? dropping : calloc(f->n_devs / 64 + 1, sizeof(uint64_t));
    memset(out, 0, sizeof(*out));
    if (!bits)
        return RF_ENOMEM;
    for (size_t i = 0; i < f->n_losses; i++) {
        const struct fleet_loss *x = &f->losses[i];
        if (x->minute < from_minute || x->minute > to_minute)
            continue;
        out->dropped_batches += x->loss.dropped_batches;
        out->dropped_records += x->loss.dropped_records;
        out->rejected_batches += x->loss.rejected_batches;
        uint64_t bit = 1ull << (x->dev & 63);
        if (x->loss.dropped_batches > 0 && !(bits[x->dev >> 6] & bit)) {
            bits[x->dev >> 6] |= bit;
            out->devices_dropping++;
        }
    }
    if (!dropping)
        free(bits);
    return RF_OK;
}

void fleet_agent_totals(const struct fleet *f, struct fleet_agent_totals *out)
{
    const struct check_rule *rule = checks_rule_find("agent-spool-drops");
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < f->n_devs; i++) {
        const struct fleet_device *d = &f->devs[i];
        const struct fleet_agent *a = d->agent_status;
        if (!a || !a->present)
            continue;
        out->reporting++;
        out->spool_bytes += a->st.spool_bytes;
        out->spool_batches += a->st.spool_batches;
        out->dropped_batches += a->st.dropped_batches_total;
        for (size_t k = 0; k < d->n_findings; k++) {
            if (checks_rule_at(d->findings[k].rule) == rule) {
                out->dropping++;
                break;
            }
        }
    }
}
