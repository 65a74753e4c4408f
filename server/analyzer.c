/*
 * analyzer.c - findings. See analyzer.h.
 *
 * Statistics, for a failing code c over the pattern window (24 h):
 *   F = devices with a failure c, R = reporting devices (sent anything in
 *   the window) plus F. For an attribute value v:
 *     support = |F with v| / |F|, share = |R with v| / |R|,
 *     lift = support / share.
 *   A concentration finding needs |F| >= min_devices, support >= min_support
 *   and lift >= min_lift: a code spread evenly over the fleet (a trickle of
 *   691 wrong passwords) has lift near 1 and yields nothing.
 *   Lift cannot exceed 1 / share, so a value held by half the fleet or more
 *   (the main VPN server) can never reach lift 2. For such a value the
 *   failure rates with and without it are compared instead:
 *     rate ratio = (|F with v| / |R with v|) / (|F without v| / |R without v|)
 *   (0.5 added to each count, so no side divides by zero), and it must be
 *   >= min_rate_ratio, with support >= min_majority_support and at least
 *   min_devices devices without v to compare against, and the binomial tail
 *   P(X >= |F with v|) for |F| draws at the value's share must be below
 *   max_p_value: 9 of 10 failing devices on a 60% server happens by chance
 *   (p = 0.05), 30 of 30 does not (p = 2e-7).
 * Spike: failures of c in the last spike_window minutes against the hourly
 * rate of the spike_baseline hours before; onset = start of the contiguous
 * run of elevated 10-minute buckets that reaches now.
 *
 * Shared (analyzer_set_share, several collectors on PostgreSQL): each tick
 * elects; the leader builds as above and publishes, a follower swaps in the
 * leader's document instead of building its own.
 */
#include "analyzer.h"
#include "catalog.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN_WINDOW_MIN (24 * 60)
#define MAX_LISTED_DEVICES 200
#define MAX_CODES 256
/* A scan of the failure log lets the writer's commit hook in every so many
 * entries (fleet_yield_read): on a shared 2-core machine a recompute over
 * 1.5 M failures held the lock 20-70 ms (preempted mid-scan), and every
 * answer waited for it. */
#define YIELD_EVERY 65536

void analyzer_config_defaults(struct analyzer_config *c)
{
    c->min_devices = 10;
    c->min_lift = 2.0;
    c->min_support = 0.5;
    c->min_rate_ratio = 4.0;
    c->min_majority_support = 0.9;
    c->max_p_value = 1e-4;
    c->spike_window_min = 60;
    c->spike_baseline_h = 24;
    c->spike_factor = 5.0;
    c->spike_min_devices = 5;
    c->recompute_ms = 5000;
}

int analyzer_init(struct analyzer *a, struct fleet *f, const struct analyzer_config *cfg)
{
    memset(a, 0, sizeof(*a));
    a->fleet = f;
    a->cfg = *cfg;
    a->version = UINT64_MAX;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    return RF_OK;
}

void analyzer_free(struct analyzer *a)
{
    if (a->running) {
        pthread_mutex_lock(&a->lock);
        a->stopping = true;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->thread, NULL);
    }
    free(a->json);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
}

void analyzer_devices_for_rule(const struct fleet *f, size_t rule_index, analyzer_device_fn fn,
                               void *arg)
{
    for (size_t i = 0; i < f->n_devs; i++) {
        const struct fleet_device *d = &f->devs[i];
        for (size_t k = 0; k < d->n_findings; k++)
            if (d->findings[k].rule == rule_index)
                fn(arg, i, &d->findings[k]);
    }
}

/* ---- bitsets over device indexes ---- */

struct bits {
    uint64_t *w;
    size_t n; /* devices */
};

static int bits_init(struct bits *b, size_t n)
{
    b->n = n;
    b->w = calloc(n / 64 + 1, sizeof(uint64_t));
    return b->w ? RF_OK : RF_ENOMEM;
}

/* Devices past n joined while a scan let the writer in (YIELD_EVERY):
 * they are not in this round's sets. */
static void bits_set(struct bits *b, size_t i)
{
    if (i < b->n)
        b->w[i >> 6] |= 1ull << (i & 63);
}

static bool bits_has(const struct bits *b, size_t i)
{
    return i < b->n && ((b->w[i >> 6] >> (i & 63)) & 1);
}

static size_t bits_count(const struct bits *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n / 64 + 1; i++)
        n += (size_t)__builtin_popcountll(b->w[i]);
    return n;
}

/* ---- attributes ---- */

enum attr { A_SERVER, A_CONNECTION, A_POLICY, A_OS, A_AGENT, A_IFTYPE, A_TUNNEL, A_COUNT };

static const char *const attr_names[A_COUNT] = {"server",     "connection",    "policy",
                                                "os_version", "agent_version", "interface_type",
                                                "tunnel_type"};

#define NONE_VALUE 0xfffffffeu /* "no custom IPsec policy" for A_POLICY */

/* Values of one attribute for a device (multi-valued for profile attributes). */
static size_t attr_values(const struct fleet_device *d, enum attr a, uint32_t *out)
{
    size_t n = 0;
    switch (a) {
    case A_OS:
        out[n++] = d->os;
        break;
    case A_AGENT:
        out[n++] = d->agent;
        break;
    case A_IFTYPE:
        out[n++] = d->primary_if;
        break;
    default:
        for (size_t i = 0; i < d->n_pol; i++) {
            const struct fleet_policy *p = &d->pol[i];
            if (a == A_POLICY && !p->ike)
                continue; /* an IPsec policy means nothing to an SSTP-only profile */
            uint32_t v = a == A_SERVER       ? p->server
                         : a == A_CONNECTION ? p->conn
                         : a == A_TUNNEL     ? p->tunnel
                                             : (p->fp ? p->fp : NONE_VALUE);
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup |= out[k] == v;
            if (!dup)
                out[n++] = v;
        }
    }
    return n;
}

static int attr_value_json(const struct fleet *f, enum attr a, uint32_t v, struct buf *b)
{
    if (a == A_IFTYPE)
        return buf_append_json_str(b, v == FLEET_NO_IF ? "none" : rf_if_type_name(v));
    if (a == A_POLICY && v == NONE_VALUE)
        return buf_append_json_str(b, "no custom IPsec policy (Windows defaults)");
    const char *s = strtab_get(&f->str, v);
    return buf_append_json_str(b, s ? s : "unknown");
}

/* A policy fingerprint cipher/auth/encryption/integrity/dh/pfs made readable. */
static int policy_fields_json(const struct fleet *f, uint32_t fp, struct buf *b)
{
    static const char *const names[] = {"cipher_transform",  "auth_transform",
                                        "encryption_method", "integrity_check_method",
                                        "dh_group",          "pfs_group"};
    const char *s = fp == NONE_VALUE ? NULL : strtab_get(&f->str, fp);
    if (!s)
        return buf_append_str(b, "null");
    int rc = buf_append_char(b, '{');
    for (size_t i = 0; i < 6 && rc == RF_OK; i++) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        rc = buf_printf(b, "%s\"%s\":", i ? "," : "", names[i]);
        if (rc == RF_OK)
            rc = buf_append_json_strn(b, s, len);
        s = slash ? slash + 1 : s + len;
    }
    return rc == RF_OK ? buf_append_char(b, '}') : rc;
}

/* ---- value counters ---- */

struct vcount {
    uint32_t value;
    uint32_t failing, fleet;
};

struct vcounts {
    struct vcount *v;
    size_t n, cap;
};

static struct vcount *vc_get(struct vcounts *c, uint32_t value)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].value == value)
            return &c->v[i];
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        struct vcount *p = realloc(c->v, ncap * sizeof(*p));
        if (!p)
            return NULL;
        c->v = p;
        c->cap = ncap;
    }
    c->v[c->n] = (struct vcount){value, 0, 0};
    return &c->v[c->n++];
}

/* ---- finding output ---- */

struct out {
    struct buf *b;
    size_t n;
    int rc;
    const struct fleet *f;
};

static void out_begin(struct out *o, const char *id, const struct check_rule *rule,
                      const char *severity, size_t devices, int64_t first, int64_t last)
{
    struct buf *b = o->b;
    char ts[TIME_RFC3339_MAX];
    if (o->rc != RF_OK)
        return;
    o->rc = buf_append_str(b, o->n++ ? ",{\"id\":" : "{\"id\":");
    if (o->rc == RF_OK)
        o->rc = buf_append_json_str(b, id);
    if (o->rc == RF_OK)
        o->rc = buf_append_str(b, ",\"rule\":");
    if (o->rc == RF_OK)
        o->rc = buf_append_json_str(b, rule->id);
    if (o->rc == RF_OK)
        o->rc = buf_printf(b, ",\"severity\":\"%s\",\"devices_affected\":%zu", severity, devices);
    time_format_rfc3339(first, ts, sizeof(ts));
    if (o->rc == RF_OK)
        o->rc = buf_printf(b, ",\"first_seen\":\"%s\"", ts);
    time_format_rfc3339(last, ts, sizeof(ts));
    if (o->rc == RF_OK)
        o->rc = buf_printf(b, ",\"last_seen\":\"%s\"", ts);
}

static void out_str(struct out *o, const char *key, const char *value)
{
    if (o->rc == RF_OK)
        o->rc = buf_printf(o->b, ",\"%s\":", key);
    if (o->rc == RF_OK)
        o->rc = buf_append_json_str(o->b, value);
}

static void out_devices(struct out *o, const struct bits *set)
{
    size_t n = 0;
    if (o->rc == RF_OK)
        o->rc = buf_append_str(o->b, ",\"devices\":[");
    for (size_t i = 0; i < set->n && o->rc == RF_OK && n < MAX_LISTED_DEVICES; i++) {
        if (!bits_has(set, i))
            continue;
        if (n++)
            o->rc = buf_append_char(o->b, ',');
        if (o->rc == RF_OK)
            o->rc = buf_append_json_str(o->b, strtab_get(&o->f->str, o->f->devs[i].uid));
    }
    if (o->rc == RF_OK)
        o->rc = buf_append_char(o->b, ']');
}

static void out_code_remediation(struct out *o, int32_t code)
{
    const struct catalog_entry *e = catalog_lookup(code);
    struct buf *b = o->b;
    if (o->rc == RF_OK)
        o->rc = buf_append_str(b, ",\"remediation\":{\"text\":");
    if (o->rc == RF_OK)
        o->rc = buf_append_json_str(
            b, e ? e->remediation
                 : "This code is not in the catalogue: look it up with err.exe or certutil -error,"
                   " and check the devices listed here for what they share.");
    if (o->rc == RF_OK && e && e->powershell) {
        o->rc = buf_append_str(b, ",\"powershell\":");
        if (o->rc == RF_OK)
            o->rc = buf_append_json_str(b, e->powershell);
    }
    if (o->rc == RF_OK)
        o->rc = buf_append_str(b, ",\"references\":[");
    for (size_t i = 0; e && i < CATALOG_MAX_REFS && e->references[i] && o->rc == RF_OK; i++) {
        if (i)
            o->rc = buf_append_char(b, ',');
        if (o->rc == RF_OK)
            o->rc = buf_append_json_str(b, e->references[i]);
    }
    if (o->rc == RF_OK)
        o->rc = buf_append_str(b, "]}");
}

static void code_label(int32_t code, char *out, size_t len)
{
    struct catalog_forms forms;
    const struct catalog_entry *e = catalog_lookup(code);
    catalog_code_forms(code, &forms);
    if (e)
        snprintf(out, len, "%d (%s %s)", code, forms.hex, e->symbol);
    else
        snprintf(out, len, "%d (%s, not in the catalogue)", code, forms.hex);
}

/* ---- per-code analysis ---- */

struct code_info {
    int32_t code;
    struct bits failing; /* devices failing with the code in the pattern window */
    int64_t first_ms, last_ms;
    uint64_t failures;
    /* the spike rule's counts (spike_scan): failures per minute over the
     * baseline and the recent window, index now_min - minute, and the
     * devices failing with the code in the recent window */
    uint32_t *spike_per_min;
    struct bits spike_devs;
};

/* P(X >= k) for X ~ Binomial(n, p), summed in log space. */
static double binomial_upper_tail(unsigned n, unsigned k, double p)
{
    if (k == 0)
        return 1.0;
    if (p <= 0)
        return 0.0;
    if (p >= 1)
        return 1.0;
    double lp = log(p), lq = log1p(-p), lgn = lgamma((double)n + 1), sum = 0;
    for (unsigned i = k; i <= n; i++) {
        double term = exp(lgn - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) + i * lp +
                          (double)(n - i) * lq);
        sum += term;
        if (term < sum * 1e-12 && (double)i > (double)n * p)
            break; /* past the mode the terms only shrink */
    }
    return sum < 1.0 ? sum : 1.0;
}

/* Failure rate with v against without v, 0.5 added to every count. */
static double rate_ratio(unsigned failing_with, unsigned fleet_with, size_t n_fail,
                         size_t n_reporting)
{
    double fw = failing_with + 0.5, nw = fleet_with + 1.0;
    double fo = (double)(n_fail - failing_with) + 0.5,
           no = (double)(n_reporting - fleet_with) + 1.0;
    return (fw / nw) / (fo / no);
}

/* A value held by half the reporting fleet or more, concentrated beyond
 * chance (see the top of the file). */
static bool majority_concentration(const struct analyzer_config *cfg, unsigned failing,
                                   unsigned fleet, size_t n_fail, size_t n_reporting, double *ratio,
                                   double *p_value)
{
    double share = (double)fleet / (double)n_reporting;
    double support = (double)failing / (double)n_fail;
    if (share * cfg->min_lift < 1.0 || (int)failing < cfg->min_devices ||
        support < cfg->min_majority_support || (long)(n_reporting - fleet) < (long)cfg->min_devices)
        return false;
    *ratio = rate_ratio(failing, fleet, n_fail, n_reporting);
    if (*ratio < cfg->min_rate_ratio)
        return false;
    *p_value = binomial_upper_tail((unsigned)n_fail, failing, share);
    return *p_value < cfg->max_p_value;
}

/* A code of one tunnel protocol only: every device failing with it uses
 * that tunnel type, so the tunnel type explains nothing. */
static bool protocol_bound(int32_t code)
{
    const struct catalog_entry *e = catalog_lookup(code);
    return e && e->protocol != CATALOG_PROTOCOL_UNKNOWN && e->protocol != CATALOG_PROTOCOL_BOTH;
}

static int emit_concentration(struct analyzer *an, struct out *o, struct code_info *ci,
                              const struct bits *reporting, size_t n_reporting)
{
    const struct fleet *f = an->fleet;
    size_t n_fail = bits_count(&ci->failing);
    if ((int)n_fail < an->cfg.min_devices)
        return RF_OK;
    const struct check_rule *rule = checks_rule_find("fleet-concentration");
    /* Pass 0 names values by lift. Only a code that no value explains by
     * lift gets pass 1, the majority values by rate ratio: the specific
     * explanation first (a legacy policy rather than "IKEv2", which every
     * device that can fail with an IKE code has). */
    size_t emitted = 0;
    for (int pass = 0; pass < 2 && o->rc == RF_OK && !(pass == 1 && emitted); pass++)
        for (int a = 0; a < A_COUNT && o->rc == RF_OK; a++) {
            if (pass == 1 && a == A_TUNNEL && protocol_bound(ci->code))
                continue; /* an IKE code on IKEv2 devices is no finding */
            struct vcounts vc = {0};
            uint32_t vals[FLEET_MAX_POLICIES + 1];
            for (size_t i = 0; i < f->n_devs; i++) {
                bool failing = bits_has(&ci->failing, i);
                if (!failing && !bits_has(reporting, i))
                    continue;
                size_t nv = attr_values(&f->devs[i], (enum attr)a, vals);
                for (size_t k = 0; k < nv; k++) {
                    struct vcount *c = vc_get(&vc, vals[k]);
                    if (!c) {
                        free(vc.v);
                        return RF_ENOMEM;
                    }
                    c->fleet++;
                    c->failing += failing;
                }
            }
            /* the best qualifying value of this attribute: by lift, else a
             * majority value by rate ratio */
            struct vcount *best = NULL;
            double best_lift = 0, best_ratio = 0, best_p = 1;
            bool majority = false;
            for (size_t k = 0; k < vc.n; k++) {
                struct vcount *c = &vc.v[k];
                double support = (double)c->failing / (double)n_fail;
                double share = (double)c->fleet / (double)n_reporting;
                double lift = share > 0 ? support / share : 0;
                if (pass == 0 && (int)c->failing >= an->cfg.min_devices &&
                    support >= an->cfg.min_support && lift >= an->cfg.min_lift &&
                    lift > best_lift) {
                    best = c;
                    best_lift = lift;
                }
            }
            struct vcount *maj = NULL;
            for (size_t k = 0; k < vc.n && pass == 1; k++) {
                struct vcount *c = &vc.v[k];
                double ratio = 0, p = 1;
                if (majority_concentration(&an->cfg, c->failing, c->fleet, n_fail, n_reporting,
                                           &ratio, &p) &&
                    ratio > best_ratio) {
                    maj = c;
                    best_ratio = ratio;
                    best_p = p;
                }
            }
            if (!best && maj) {
                best = maj;
                majority = true;
                best_lift = ((double)maj->failing / (double)n_fail) /
                            ((double)maj->fleet / (double)n_reporting);
            }
            if (best) {
                emitted++;
                char id[160], label[96], title[320];
                struct buf vb = BUF_INIT;
                code_label(ci->code, label, sizeof(label));
                attr_value_json(f, (enum attr)a, best->value, &vb);
                /* stable across restarts: named by the value, not its intern id */
                const char *vtext =
                    a == A_IFTYPE
                        ? (best->value == FLEET_NO_IF ? "none" : rf_if_type_name(best->value))
                    : a == A_POLICY && best->value == NONE_VALUE ? "none"
                                                                 : strtab_get(&f->str, best->value);
                snprintf(id, sizeof(id), "concentration:%d:%s:%.80s", ci->code, attr_names[a],
                         vtext ? vtext : "unknown");
                const char *readable = a == A_POLICY && best->value == NONE_VALUE
                                           ? "no custom IPsec policy (Windows defaults)"
                                           : (vtext ? vtext : "unknown");
                snprintf(title, sizeof(title), "Error %s concentrated on %s %s", label,
                         attr_names[a], readable);
                double support = (double)best->failing / (double)n_fail;
                double share = (double)best->fleet / (double)n_reporting;
                out_begin(o, id, rule, best_lift >= 5 || best_ratio >= 20 ? "high" : "medium",
                          n_fail, ci->first_ms, ci->last_ms);
                out_str(o, "title", title);
                char summary[512];
                if (majority)
                    snprintf(summary, sizeof(summary),
                             "%u of the %zu devices failing with %d in the last 24 h have %s %s "
                             "(%.0f%%); it is held by %.0f%% of the %zu reporting devices, and "
                             "devices with it fail %.1f times as often as devices without it. "
                             "Look at what is special about it.",
                             best->failing, n_fail, ci->code, attr_names[a], readable,
                             support * 100, share * 100, n_reporting, best_ratio);
                else
                    snprintf(summary, sizeof(summary),
                             "%u of the %zu devices failing with %d in the last 24 h have %s %s "
                             "(%.0f%%), against %.0f%% of the %zu reporting devices: %.1f times "
                             "more than chance. Look at what is special about it.",
                             best->failing, n_fail, ci->code, attr_names[a], readable,
                             support * 100, share * 100, n_reporting, best_lift);
                out_str(o, "summary", summary);
                if (o->rc == RF_OK)
                    o->rc =
                        buf_printf(o->b,
                                   ",\"evidence\":{\"code\":%d,\"window\":\"24h\","
                                   "\"failures\":%llu,\"failing_devices\":%zu,"
                                   "\"reporting_devices\":%zu,\"attribute\":\"%s\",\"value\":%s,",
                                   ci->code, (unsigned long long)ci->failures, n_fail, n_reporting,
                                   attr_names[a], vb.data ? vb.data : "null");
                if (o->rc == RF_OK && a == A_POLICY) {
                    o->rc = buf_append_str(o->b, "\"policy_fields\":");
                    if (o->rc == RF_OK)
                        o->rc = policy_fields_json(f, best->value, o->b);
                    if (o->rc == RF_OK)
                        o->rc = buf_append_char(o->b, ',');
                }
                if (o->rc == RF_OK)
                    o->rc = buf_printf(o->b,
                                       "\"failing_with_value\":%u,\"fleet_with_value\":%u,"
                                       "\"support\":%.4f,\"fleet_share\":%.4f,\"lift\":%.3f,"
                                       "\"rate_ratio\":%.3f,\"test\":\"%s\"",
                                       best->failing, best->fleet, support, share, best_lift,
                                       rate_ratio(best->failing, best->fleet, n_fail, n_reporting),
                                       majority ? "rate_ratio" : "lift");
                if (o->rc == RF_OK && majority)
                    o->rc = buf_printf(o->b, ",\"p_value\":%.3g", best_p);
                if (o->rc == RF_OK)
                    o->rc = buf_append_char(o->b, '}');
                /* affected devices: failing ones that have the value */
                struct bits with;
                if (bits_init(&with, f->n_devs) == RF_OK) {
                    for (size_t i = 0; i < f->n_devs; i++) {
                        if (!bits_has(&ci->failing, i))
                            continue;
                        size_t nv = attr_values(&f->devs[i], (enum attr)a, vals);
                        for (size_t k = 0; k < nv; k++)
                            if (vals[k] == best->value)
                                bits_set(&with, i);
                    }
                    out_devices(o, &with);
                    free(with.w);
                }
                out_code_remediation(o, ci->code);
                if (o->rc == RF_OK)
                    o->rc = buf_append_char(o->b, '}');
                buf_free(&vb);
            }
            free(vc.v);
        }
    return o->rc;
}

/* Error code -> index into build()'s codes[], open addressing: one lookup
 * per failure for both scans of the log. */
struct code_index {
    int32_t code[2 * MAX_CODES];
    int16_t at[2 * MAX_CODES]; /* -1: empty slot */
};

static size_t code_slot(const struct code_index *ix, int32_t code)
{
    size_t h = ((uint32_t)code * 2654435761u) % (2 * MAX_CODES);
    while (ix->at[h] >= 0 && ix->code[h] != code)
        h = (h + 1) % (2 * MAX_CODES);
    return h;
}

/* Minutes the spike rule looks at: the baseline and the recent window. */
static uint32_t spike_span(const struct analyzer *an)
{
    return (uint32_t)an->cfg.spike_baseline_h * 60 + (uint32_t)an->cfg.spike_window_min;
}

/* Fills every code's spike counts in one pass over the failure log. It was
 * one pass per code: at 1.5 M failures and 20 codes those passes held the
 * fleet's read lock, and so the writer's commit hook behind it, for 60-70
 * ms every recompute (docs/benchmarks.md). */
static int spike_scan(const struct analyzer *an, const struct code_index *ix,
                      struct code_info *codes, size_t n_codes, uint32_t now_min)
{
    const struct fleet *f = an->fleet;
    uint32_t win = (uint32_t)an->cfg.spike_window_min, span = spike_span(an);
    for (size_t c = 0; c < n_codes; c++) {
        codes[c].spike_per_min = calloc(span, sizeof(uint32_t));
        if (!codes[c].spike_per_min || bits_init(&codes[c].spike_devs, f->n_devs) != RF_OK)
            return RF_ENOMEM;
    }
    for (size_t i = 0; i < f->n_fails; i++) {
        if (i % YIELD_EVERY == YIELD_EVERY - 1)
            fleet_yield_read(an->fleet);
        const struct fleet_fail *x = &f->fails[i];
        if (x->minute > now_min || now_min - x->minute >= span)
            continue;
        int c = ix->at[code_slot(ix, x->code)];
        if (c < 0)
            continue; /* no failure in the pattern window: no spike */
        struct code_info *ci = &codes[c];
        uint32_t ago = now_min - x->minute;
        ci->spike_per_min[ago]++;
        if (ago < win)
            bits_set(&ci->spike_devs, x->dev);
    }
    return RF_OK;
}

static int emit_spike(struct analyzer *an, struct out *o, const struct code_info *ci,
                      uint32_t now_min)
{
    int32_t code = ci->code;
    uint32_t win = (uint32_t)an->cfg.spike_window_min;
    uint32_t base_min = (uint32_t)an->cfg.spike_baseline_h * 60, span = spike_span(an);
    enum { B = 10 }; /* minutes per onset bucket */
    size_t nb = (base_min + win) / B + 1;
    uint64_t recent = 0, base = 0;
    uint32_t *buckets = calloc(nb, sizeof(uint32_t));
    if (!buckets)
        return RF_ENOMEM;
    for (uint32_t ago = 0; ago < span; ago++) {
        uint32_t n = ci->spike_per_min[ago];
        buckets[ago / B] += n;
        if (ago < win)
            recent += n;
        else
            base += n;
    }
    const struct bits *devs = &ci->spike_devs;
    double base_per_hour = (double)base / an->cfg.spike_baseline_h;
    double recent_per_hour = (double)recent * 60.0 / win;
    double floor_rate = base_per_hour > 1.0 ? base_per_hour : 1.0;
    size_t n_devs = bits_count(devs);
    if (recent_per_hour >= an->cfg.spike_factor * floor_rate &&
        (int)n_devs >= an->cfg.spike_min_devices) {
        /* Onset: walk back over elevated 10-minute buckets. The baseline
         * that defines "elevated" must not contain the run itself (a ramp
         * would raise its own bar), so it is recomputed from the buckets
         * before the run until the run stops growing. */
        size_t k = 0;
        double rate = floor_rate;
        for (int iter = 0; iter < 8; iter++) {
            double elevated = an->cfg.spike_factor * rate * B / 60.0;
            size_t nk = 0;
            while (nk + 1 < nb && buckets[nk + 1] > elevated)
                nk++;
            if (iter > 0 && nk <= k)
                break;
            k = nk;
            uint64_t before = 0;
            for (size_t j = k + 1; j < nb; j++)
                before += buckets[j];
            double hours = (double)(nb - k - 1) * B / 60.0;
            rate = hours > 0 ? (double)before / hours : 0;
            rate = rate > 1.0 ? rate : 1.0;
        }
        uint32_t run_start = now_min - (uint32_t)k * B - (B - 1), onset_min = now_min;
        for (uint32_t ago = now_min - run_start; ago >= 1; ago--) { /* the run's first failure */
            if (ago < span && ci->spike_per_min[ago]) {
                onset_min = now_min - ago;
                break;
            }
        }
        const struct check_rule *rule = checks_rule_find("fleet-spike");
        char id[64], label[96], title[200], summary[512], onset_ts[TIME_RFC3339_MAX];
        code_label(code, label, sizeof(label));
        time_format_rfc3339((int64_t)onset_min * 60000, onset_ts, sizeof(onset_ts));
        snprintf(id, sizeof(id), "spike:%d", code);
        snprintf(title, sizeof(title), "Spike of error %s since %s", label, onset_ts);
        snprintf(summary, sizeof(summary),
                 "%llu failures with %d on %zu devices in the last %u minutes (%.1f per hour) "
                 "against %.1f per hour over the %d hours before: a new problem that began "
                 "around %s.",
                 (unsigned long long)recent, code, n_devs, win, recent_per_hour, base_per_hour,
                 an->cfg.spike_baseline_h, onset_ts);
        out_begin(o, id, rule, n_devs >= 50 ? "critical" : "high", n_devs,
                  (int64_t)onset_min * 60000, (int64_t)now_min * 60000);
        out_str(o, "title", title);
        out_str(o, "summary", summary);
        if (o->rc == RF_OK)
            o->rc = buf_printf(o->b,
                               ",\"evidence\":{\"code\":%d,\"recent_window_minutes\":%u,"
                               "\"recent_failures\":%llu,\"recent_per_hour\":%.2f,"
                               "\"baseline_hours\":%d,\"baseline_failures\":%llu,"
                               "\"baseline_per_hour\":%.2f,\"factor\":%.2f,\"onset\":\"%s\","
                               "\"devices\":%zu}",
                               code, win, (unsigned long long)recent, recent_per_hour,
                               an->cfg.spike_baseline_h, (unsigned long long)base, base_per_hour,
                               recent_per_hour / floor_rate, onset_ts, n_devs);
        out_devices(o, devs);
        out_code_remediation(o, code);
        if (o->rc == RF_OK)
            o->rc = buf_append_char(o->b, '}');
    }
    free(buckets);
    return o->rc;
}

/* Device rules: one finding per rule with the devices it flags. */
static int emit_device_rules(struct out *o)
{
    const struct fleet *f = o->f;
    for (size_t r = 0; r < checks_rule_count() && o->rc == RF_OK; r++) {
        const struct check_rule *rule = checks_rule_at(r);
        struct bits set;
        size_t n = 0;
        int64_t first = INT64_MAX, last = 0;
        if (bits_init(&set, f->n_devs) != RF_OK)
            return RF_ENOMEM;
        for (size_t i = 0; i < f->n_devs; i++) {
            const struct fleet_device *d = &f->devs[i];
            for (size_t k = 0; k < d->n_findings; k++) {
                if (d->findings[k].rule != r || bits_has(&set, i))
                    continue;
                bits_set(&set, i);
                n++;
                int64_t t = d->snap_if_ms > d->snap_pbk_ms ? d->snap_if_ms : d->snap_pbk_ms;
                t = t > d->snap_pol_ms ? t : d->snap_pol_ms;
                if (d->agent_status && d->agent_status->time_ms > t)
                    t = d->agent_status->time_ms;
                first = t < first ? t : first;
                last = t > last ? t : last;
            }
        }
        if (n) {
            out_begin(o, rule->id, rule, checks_severity_name(rule->severity), n, first, last);
            out_str(o, "title", rule->title);
            out_str(o, "summary", rule->summary);
            if (o->rc == RF_OK)
                o->rc = buf_printf(o->b, ",\"evidence\":{\"devices\":%zu,\"examples\":[", n);
            size_t shown = 0;
            for (size_t i = 0; i < f->n_devs && shown < 10 && o->rc == RF_OK; i++) {
                const struct fleet_device *d = &f->devs[i];
                const char *const *evidence = NULL;
                bool has_rule = false;
                for (size_t k = 0; k < d->n_findings && !has_rule; k++)
                    has_rule = d->findings[k].rule == r;
                if (!has_rule)
                    continue;
                struct rf_arena a;
                rf_arena_init(&a);
                o->rc = fleet_device_evidence(f, d, &a, &evidence);
                for (size_t k = 0; k < d->n_findings && shown < 10 && o->rc == RF_OK; k++) {
                    if (d->findings[k].rule != r)
                        continue;
                    o->rc = buf_append_str(o->b, shown++ ? ",{\"device_id\":" : "{\"device_id\":");
                    if (o->rc == RF_OK)
                        o->rc = buf_append_json_str(o->b, strtab_get(&f->str, d->uid));
                    out_str(o, "hostname", strtab_get(&f->str, d->hostname));
                    out_str(o, "connection", strtab_get(&f->str, d->findings[k].conn));
                    if (o->rc == RF_OK)
                        o->rc = buf_printf(o->b, ",\"detail\":%s}", evidence[k]);
                }
                rf_arena_free(&a);
            }
            if (o->rc == RF_OK)
                o->rc = buf_append_str(o->b, "]}");
            out_devices(o, &set);
            if (o->rc == RF_OK)
                o->rc = buf_append_str(o->b, ",\"remediation\":");
            if (o->rc == RF_OK)
                o->rc = checks_remediation_json(rule, o->b);
            if (o->rc == RF_OK)
                o->rc = buf_append_char(o->b, '}');
        }
        free(set.w);
    }
    return o->rc;
}

/* now: the document's generated_at, also the time it is published with */
static int build(struct analyzer *an, int64_t now, struct buf *b)
{
    const struct fleet *f = an->fleet;
    uint32_t now_min = fleet_minute(now);
    uint32_t from_min = now_min - PATTERN_WINDOW_MIN + 1;
    struct out o = {.b = b, .f = f};
    struct code_info codes[MAX_CODES];
    size_t n_codes = 0;
    struct code_index ix;
    for (size_t i = 0; i < 2 * MAX_CODES; i++)
        ix.at[i] = -1;
    struct bits reporting;
    char ts[TIME_RFC3339_MAX];
    int rc = bits_init(&reporting, f->n_devs);
    if (rc != RF_OK)
        return rc;
    for (size_t i = 0; i < f->n_devs; i++)
        if (f->devs[i].last_seen >= (int64_t)from_min * 60000)
            bits_set(&reporting, i);
    for (size_t i = 0; i < f->n_fails && rc == RF_OK; i++) {
        if (i % YIELD_EVERY == YIELD_EVERY - 1)
            fleet_yield_read(an->fleet);
        const struct fleet_fail *x = &f->fails[i];
        if (x->minute < from_min || x->minute > now_min)
            continue;
        size_t slot = code_slot(&ix, x->code);
        int c = ix.at[slot];
        if (c < 0) {
            if (n_codes == MAX_CODES)
                continue;
            c = (int)n_codes;
            codes[c] = (struct code_info){.code = x->code, .first_ms = INT64_MAX};
            if ((rc = bits_init(&codes[c].failing, f->n_devs)) != RF_OK)
                break;
            ix.code[slot] = x->code;
            ix.at[slot] = (int16_t)c;
            n_codes++;
        }
        bits_set(&codes[c].failing, x->dev);
        bits_set(&reporting, x->dev);
        codes[c].failures++;
        int64_t t = (int64_t)x->minute * 60000;
        codes[c].first_ms = t < codes[c].first_ms ? t : codes[c].first_ms;
        codes[c].last_ms = t > codes[c].last_ms ? t : codes[c].last_ms;
    }
    size_t n_reporting = bits_count(&reporting);
    time_format_rfc3339(now, ts, sizeof(ts));
    if (rc == RF_OK)
        rc =
            buf_printf(b, "{\"generated_at\":\"%s\",\"pattern_window\":\"24h\",\"findings\":[", ts);
    if (rc == RF_OK)
        rc = spike_scan(an, &ix, codes, n_codes, now_min);
    o.rc = rc;
    for (size_t c = 0; c < n_codes && o.rc == RF_OK; c++) {
        emit_spike(an, &o, &codes[c], now_min);
        emit_concentration(an, &o, &codes[c], &reporting, n_reporting);
    }
    emit_device_rules(&o);
    if (o.rc == RF_OK)
        o.rc = buf_printf(b, "],\"count\":%zu}", o.n);
    for (size_t c = 0; c < n_codes; c++) {
        free(codes[c].failing.w);
        free(codes[c].spike_per_min);
        free(codes[c].spike_devs.w);
    }
    free(reporting.w);
    return o.rc;
}

/* Makes doc (detached) the served document. */
static void swap_in(struct analyzer *an, struct buf *doc, uint64_t version, int64_t built_ms)
{
    size_t len;
    char *json = buf_detach(doc, &len);
    pthread_mutex_lock(&an->lock);
    free(an->json);
    an->json = json;
    an->json_len = len;
    an->version = version;
    an->built_ms = built_ms;
    pthread_mutex_unlock(&an->lock);
}

/* Builds a new findings document when the cache is missing or (unless
 * only_if_missing) stale, outside an->lock so readers keep being served
 * from the old document meanwhile; then swaps it in. */
static int refresh(struct analyzer *an, bool only_if_missing)
{
    int rc = RF_OK;
    pthread_mutex_lock(&an->lock);
    bool missing = an->json == NULL;
    uint64_t cached_version = an->version;
    int64_t built = an->built_ms;
    pthread_mutex_unlock(&an->lock);
    fleet_lock_read(an->fleet);
    /* taken under the lock: the document includes every commit before
     * generated_at (a reader waiting for findings that include its last
     * batch compares the two); it may include some later ones, applied
     * while build() let the writer in */
    int64_t now = time_now_ms();
    uint64_t version = an->fleet->version;
    bool stale = missing || (!only_if_missing &&
                             ((version != cached_version && now - built >= an->cfg.recompute_ms) ||
                              now - built >= 60000)); /* windows slide without new data */
    struct buf b = BUF_INIT;
    int64_t t0 = time_mono_ns();
    if (stale)
        rc = build(an, now, &b);
    fleet_unlock(an->fleet);
    bool published = true;
    if (stale && rc == RF_OK && an->share.publish &&
        an->share.publish(an->share.arg, now, &b) != RF_OK) {
        log_warn("findings: not published to the other collectors (served here only;"
                 " retried next interval)");
        published = false;
    }
    if (stale && rc == RF_OK) {
        swap_in(an, &b, version, published ? now : INT64_MIN / 2); /* unpublished: stale */
        log_debug("findings recomputed in %.1f ms", (double)(time_mono_ns() - t0) / 1e6);
    }
    buf_free(&b);
    return rc;
}

/* Follower: swaps the leader's latest document in. */
static void take_published(struct analyzer *an)
{
    struct buf b = BUF_INIT;
    int64_t generated = 0;
    if (an->share.fetch(an->share.arg, &generated, &b) == RF_OK)
        swap_in(an, &b, UINT64_MAX /* not built from this fleet */, generated);
    buf_free(&b);
}

/* One tick of a shared analyzer. */
static int shared_tick(struct analyzer *an)
{
    bool leader = false;
    an->share.elect(an->share.arg, &leader);
    if (!leader) {
        an->leader = false;
        take_published(an);
        return RF_OK;
    }
    if (!an->leader) { /* just elected: publish a fresh document now */
        pthread_mutex_lock(&an->lock);
        an->built_ms = INT64_MIN / 2;
        pthread_mutex_unlock(&an->lock);
        an->leader = true;
    }
    return refresh(an, false);
}

static void *analyzer_main(void *arg)
{
    struct analyzer *an = arg;
    /* shared: elect at once, so that findings exist soon after start */
    if (an->share.elect && shared_tick(an) != RF_OK)
        log_error("findings: out of memory while recomputing");
    for (;;) {
        pthread_mutex_lock(&an->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(an->cfg.recompute_ms % 1000) * 1000000L;
        ts.tv_sec += an->cfg.recompute_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (!an->stopping)
            pthread_cond_timedwait(&an->wake, &an->lock, &ts);
        bool stop = an->stopping;
        pthread_mutex_unlock(&an->lock);
        if (stop)
            break;
        if ((an->share.elect ? shared_tick(an) : refresh(an, false)) != RF_OK)
            log_error("findings: out of memory while recomputing");
    }
    return NULL;
}

void analyzer_set_share(struct analyzer *an, const struct analyzer_share *s)
{
    an->share = *s;
}

int analyzer_start(struct analyzer *an)
{
    if (pthread_create(&an->thread, NULL, analyzer_main, an) != 0)
        return RF_EIO;
    an->running = true;
    return RF_OK;
}

int analyzer_findings_json(struct analyzer *an, const char *rule_filter, struct buf *out)
{
    /* With the background thread running, requests only build the very
     * first document; without it (tests), they keep it fresh themselves. */
    int rc = an->share.elect ? RF_OK : refresh(an, an->running);
    pthread_mutex_lock(&an->lock);
    if (rc == RF_OK && !an->json)
        rc = RF_EBUSY; /* shared: nothing published yet */
    if (rc == RF_OK && !rule_filter)
        rc = buf_append(out, an->json, an->json_len);
    else if (rc == RF_OK) {
        /* filter by rule on the cached document */
        cJSON *doc = cJSON_ParseWithLength(an->json, an->json_len);
        cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "findings");
        cJSON *item = list ? list->child : NULL;
        while (item) {
            cJSON *next = item->next;
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(item, "rule");
            if (!cJSON_IsString(r) || strcmp(r->valuestring, rule_filter) != 0)
                cJSON_Delete(cJSON_DetachItemViaPointer(list, item));
            item = next;
        }
        char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
        rc = s ? buf_append_str(out, s) : RF_ENOMEM;
        cJSON_free(s);
        cJSON_Delete(doc);
    }
    pthread_mutex_unlock(&an->lock);
    return rc;
}
