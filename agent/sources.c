/*
 * sources.c - the file sources. See sources.h for recognition, order and
 * dedupe rules.
 *
 * One collection is two passes over the file list: the first learns the
 * connection names (Get-VpnConnection exports and pbk sections, needed by
 * the pbk-derived policies and the interface typing), the second emits the
 * records of the files that changed. Record strings live in c->arena, which
 * is recycled between files and, for the streaming XML reader, at record
 * boundaries once it grows: the batcher has already encoded what it needs.
 */
#include "sources.h"
#include "event_json.h"
#include "event_xml.h"
#include "keyset.h"
#include "log.h"
#include "netip_json.h"
#include "osdep.h"
#include "pbk_parse.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "vpnconn_json.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SRC_READ_CHUNK (64u * 1024u)
#define SRC_MAX_WHOLE (16u << 20) /* the largest limit of the in-memory parsers */
/* the streaming reader's arena is freed at the first record boundary past
 * this: at 1 MB it held up to 1 MB of strings nothing referred to any more;
 * at 64 KB a 10,000-event run peaks 0.6 MB lower (docs/agent.md) */
#define SRC_ARENA_RECYCLE (64u * 1024u)
#define SRC_MAX_PENDING 10000
#define SRC_COID_SLOTS 8192 /* power of two; the map is cleared when half full */

enum src_kind {
    SRC_IGNORED = 0,
    SRC_EVENTS_XML,
    SRC_EVENTS_JSON,      /* with RecordId (PowerShell 7) */
    SRC_EVENTS_JSON_NOID, /* without (Windows PowerShell 5.1): read after the others */
    SRC_NETIP,
    SRC_VPNCONN,
    SRC_PBK,
    SRC_JSON_UNKNOWN, /* .json that does not parse or is no known export */
    SRC_NOT_REGULAR,  /* FIFO, socket, device, dangling symlink */
};

struct src_file {
    char *rel;
    char *abs;
    struct osdep_stat st;
    enum src_kind kind;
};

struct names {
    char **v;
    size_t n, cap;
};

struct coid_slot {
    uint64_t hash; /* 0 = empty */
    char *user, *conn;
};

struct pending_event {
    struct rf_record rec;
    long line;
};

struct collect {
    const struct sources_config *cfg;
    struct progress *p;
    struct batcher *b;
    struct sources_stats *st;
    struct rf_arena arena;
    struct src_file *files;
    size_t n_files, cap_files;
    struct names policy_names; /* connections named by a Get-VpnConnection export */
    struct names vpn_names;    /* every VPN connection name known */
    /* the file being processed */
    const struct src_file *cur;
    uint64_t cur_hash;
    size_t cur_index;
    bool streaming;
    struct parse_sink sink;
    /* events: names by CoId, and events waiting for them */
    struct coid_slot *coids;
    size_t n_coids;
    struct pending_event *pending;
    size_t n_pending, cap_pending;
    struct rf_arena pending_arena;
    int rc; /* sticky: the batcher's error */
};

/* ---- small helpers ---- */

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    s[na] = '/';
    memcpy(s + na + 1, b, nb + 1);
    return s;
}

static const char *ext_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static void report(struct collect *c, const char *path, bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct collect *c, const char *path, bool fatal, const char *fmt, ...)
{
    char reason[PARSE_REPORT_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    struct parse_sink sink = {path, c->cfg->report, c->cfg->report_ctx, 0, 0};
    parse_report_emit(&sink, fatal, 0, -1, -1, "%s", reason);
}

static bool names_has(const struct names *n, const char *s)
{
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->v[i], s) == 0)
            return true;
    return false;
}

static int names_add(struct names *n, const char *s)
{
    if (!s || !*s || names_has(n, s))
        return RF_OK;
    if (n->n == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        char **v = realloc(n->v, cap * sizeof(*v));
        if (!v)
            return RF_ENOMEM;
        n->v = v;
        n->cap = cap;
    }
    if (!(n->v[n->n] = strdup(s)))
        return RF_ENOMEM;
    n->n++;
    return RF_OK;
}

static void names_free(struct names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    memset(n, 0, sizeof(*n));
}

/* ---- the walk ---- */

static int add_file(struct collect *c, char *rel, char *abs, const struct osdep_stat *st,
                    enum src_kind kind)
{
    if (c->n_files == c->cap_files) {
        size_t cap = c->cap_files ? c->cap_files * 2 : 32;
        struct src_file *f = realloc(c->files, cap * sizeof(*f));
        if (!f)
            return RF_ENOMEM;
        c->files = f;
        c->cap_files = cap;
    }
    struct src_file *f = &c->files[c->n_files++];
    f->rel = rel;
    f->abs = abs;
    f->st = *st;
    f->kind = kind;
    return RF_OK;
}

/* Kind by the first bytes, for files without a telling extension. */
static enum src_kind sniff(const char *abs)
{
    unsigned char head[512];
    FILE *f = osdep_open_read(abs);
    if (!f)
        return SRC_IGNORED;
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    char first = 0, second = 0;
    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
        i = 3;
    for (; i < n; i++) {
        unsigned char ch = head[i];
        if (ch == 0 || ch == 0xFF || ch == 0xFE || isspace(ch))
            continue; /* UTF-16 zero bytes and BOM */
        if (!first)
            first = (char)ch;
        else {
            second = (char)ch;
            break;
        }
    }
    if (first == '<')
        return SRC_EVENTS_XML;
    if (first == '{' || (first == '[' && (second == '{' || second == ']')))
        return SRC_JSON_UNKNOWN; /* classified by its keys later */
    if (first == '[' && second)
        return SRC_PBK;
    return SRC_IGNORED;
}

static enum src_kind kind_by_name(const char *name, const char *abs)
{
    const char *ext = ext_of(name);
    if (strcasecmp(ext, "xml") == 0)
        return SRC_EVENTS_XML;
    if (strcasecmp(ext, "json") == 0)
        return SRC_JSON_UNKNOWN;
    if (strcasecmp(ext, "pbk") == 0)
        return SRC_PBK;
    if (!*ext || strcasecmp(ext, "txt") == 0 || strcasecmp(ext, "log") == 0 ||
        strcasecmp(ext, "out") == 0)
        return sniff(abs);
    return SRC_IGNORED;
}

struct walk {
    struct collect *c;
    const char *rel_dir; /* "" at the top */
    const char *abs_dir;
    int depth;
    int rc;
};

static int walk_dir(struct collect *c, const char *rel_dir, const char *abs_dir, int depth);

static int walk_one(void *ctx, const char *name)
{
    struct walk *w = ctx;
    struct collect *c = w->c;
    struct osdep_stat st;
    const char *ext = ext_of(name);
    if (name[0] == '.' || strcasecmp(ext, "tmp") == 0 || strcasecmp(ext, "bak") == 0)
        return 0;
    char *abs = join(w->abs_dir, name);
    char *rel = *w->rel_dir ? join(w->rel_dir, name) : strdup(name);
    int rc = RF_ENOMEM;
    if (!abs || !rel)
        goto fail;
    if (c->cfg->exclude_dir && strcmp(abs, c->cfg->exclude_dir) == 0)
        goto skip;
    if ((rc = osdep_stat(abs, &st)) != RF_OK) {
        report(c, rel, true, "cannot stat: %s; skipped", osdep_strerror());
        c->st->files_failed++;
        goto skip;
    }
    if (st.type == OSDEP_DIR) {
        if (w->depth < SOURCES_MAX_DEPTH && (rc = walk_dir(c, rel, abs, w->depth + 1)) != RF_OK)
            goto fail;
        goto skip;
    }
    if (c->n_files >= SOURCES_MAX_FILES) {
        report(c, rel, true, "more than %d files under the source directory; skipped",
               SOURCES_MAX_FILES);
        goto skip;
    }
    if (st.type == OSDEP_MISSING || st.type == OSDEP_OTHER) {
        if ((rc = add_file(c, rel, abs, &st, SRC_NOT_REGULAR)) != RF_OK)
            goto fail;
        return 0;
    }
    enum src_kind kind = kind_by_name(name, abs);
    if (kind == SRC_IGNORED) {
        log_debug("sources: %s is not an export the agent reads", rel);
        goto skip;
    }
    if ((rc = add_file(c, rel, abs, &st, kind)) != RF_OK)
        goto fail;
    return 0;
skip:
    free(abs);
    free(rel);
    return 0;
fail:
    free(abs);
    free(rel);
    w->rc = rc;
    return 1;
}

static int walk_dir(struct collect *c, const char *rel_dir, const char *abs_dir, int depth)
{
    struct walk w = {c, rel_dir, abs_dir, depth, RF_OK};
    int rc = osdep_list_dir(abs_dir, walk_one, &w);
    if (rc == 1)
        return w.rc;
    if (rc != RF_OK) {
        if (depth == 0)
            return rc;
        report(c, rel_dir, true, "cannot list: %s; skipped", osdep_strerror());
        c->st->files_failed++;
    }
    return RF_OK;
}

static int compare_files(const void *a, const void *b)
{
    return strcmp(((const struct src_file *)a)->rel, ((const struct src_file *)b)->rel);
}

/* ---- JSON classification ---- */

static enum src_kind classify_json(const char *raw, size_t len, struct parse_sink *sink)
{
    cJSON *root = NULL;
    enum src_kind kind = SRC_JSON_UNKNOWN;
    if (parse_json_document(raw, len, SRC_MAX_WHOLE, sink, &root) != RF_OK)
        goto out;
    const cJSON *o = root;
    if (cJSON_IsArray(root)) {
        o = root->child;
        if (!o) {
            kind = SRC_EVENTS_JSON; /* [] : an empty export of any kind, nothing to send */
            goto out;
        }
    }
    if (!cJSON_IsObject(o))
        goto out;
    if (cJSON_GetObjectItem(o, "InterfaceMetric"))
        kind = SRC_NETIP;
    else if (cJSON_GetObjectItem(o, "ServerAddress") || cJSON_GetObjectItem(o, "TunnelType"))
        kind = SRC_VPNCONN;
    else if (cJSON_GetObjectItem(o, "RecordId"))
        kind = SRC_EVENTS_JSON;
    else if (cJSON_GetObjectItem(o, "Id") || cJSON_GetObjectItem(o, "EventID") ||
             cJSON_GetObjectItem(o, "Properties") || cJSON_GetObjectItem(o, "TimeCreated"))
        kind = SRC_EVENTS_JSON_NOID;
out:
    cJSON_Delete(root);
    return kind;
}

/* ---- records into the batcher ---- */

static int add_record(struct collect *c, const struct rf_record *r, const uint64_t *keys,
                      size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        int rc = progress_note_key(c->p, keys[i]);
        if (rc != RF_OK)
            return c->rc = rc;
    }
    int rc = batcher_add(c->b, r, keys, n_keys);
    if (rc != RF_OK)
        return c->rc = rc;
    c->st->records++;
    return RF_OK;
}

static int emit_snapshot(struct collect *c, const struct rf_record *r)
{
    uint64_t k = keyset_fnv(KEYSET_FNV_OFFSET, "snap", 4);
    k = keyset_fnv_str(k, c->cur->rel);
    k = keyset_fnv_u64(k, c->cur_hash);
    k = keyset_fnv_u64(k, (uint64_t)r->kind);
    k = keyset_fnv_u64(k, (uint64_t)c->cur_index++);
    if (progress_has_key(c->p, k)) {
        c->st->duplicates++;
        return RF_OK;
    }
    return add_record(c, r, &k, 1);
}

static uint64_t fnv_folded(uint64_t h, const char *s)
{
    if (!s)
        return keyset_fnv_str(h, NULL);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)toupper((unsigned char)*s);
        h = keyset_fnv(h, &ch, 1);
    }
    return keyset_fnv(h, "", 1);
}

static uint64_t event_fingerprint(const struct rf_record *r)
{
    const struct rf_ras_event *ev = &r->u.ev;
    uint64_t h = keyset_fnv(KEYSET_FNV_OFFSET, "evfp", 4);
    h = keyset_fnv_u64(h, (uint64_t)ev->event_id);
    h = keyset_fnv_u64(h, (uint64_t)r->time_ms);
    h = fnv_folded(h, ev->coid);
    h = keyset_fnv_str(h, ev->user);
    h = keyset_fnv_str(h, ev->connection);
    h = keyset_fnv_u64(h, ev->has_error_code ? (uint64_t)ev->error_code : 0x8000000000000001ULL);
    h = keyset_fnv_u64(h, ev->has_reason_code ? (uint64_t)ev->reason_code : 0x8000000000000001ULL);
    return h;
}

static int send_event(struct collect *c, const struct rf_record *r)
{
    uint64_t keys[2];
    size_t n = 0;
    keys[n++] = event_fingerprint(r);
    if (r->u.ev.record_id != 0) {
        keys[n++] =
            keyset_fnv_u64(keyset_fnv(KEYSET_FNV_OFFSET, "evid", 4), (uint64_t)r->u.ev.record_id);
        if (progress_has_key(c->p, keys[1])) {
            c->st->duplicates++;
            return RF_OK;
        }
    }
    if (progress_has_key(c->p, keys[0])) {
        c->st->duplicates++;
        return RF_OK;
    }
    if (r->u.ev.record_id != 0)
        return add_record(c, r, keys, n);
    struct rf_record copy = *r;
    copy.u.ev.record_id =
        (int64_t)(SOURCES_SYNTH_RECORD_BASE | (keys[0] & (SOURCES_SYNTH_RECORD_BASE - 1)));
    return add_record(c, &copy, keys, n);
}

static struct coid_slot *coid_slot(struct collect *c, const char *coid, uint64_t *hash)
{
    uint64_t h = fnv_folded(KEYSET_FNV_OFFSET, coid) | 1;
    size_t i = (size_t)h & (SRC_COID_SLOTS - 1);
    while (c->coids[i].hash && c->coids[i].hash != h)
        i = (i + 1) & (SRC_COID_SLOTS - 1);
    *hash = h;
    return &c->coids[i];
}

static void coids_clear(struct collect *c)
{
    for (size_t i = 0; c->coids && i < SRC_COID_SLOTS; i++) {
        free(c->coids[i].user);
        free(c->coids[i].conn);
        memset(&c->coids[i], 0, sizeof(c->coids[i]));
    }
    c->n_coids = 0;
}

static void coid_remember(struct collect *c, const struct rf_ras_event *ev)
{
    uint64_t h;
    if (!ev->coid || (!*ev->user && !*ev->connection))
        return;
    if (c->n_coids * 2 >= SRC_COID_SLOTS)
        coids_clear(c);
    struct coid_slot *s = coid_slot(c, ev->coid, &h);
    if (!s->hash) {
        s->hash = h;
        c->n_coids++;
    }
    if (*ev->user && !s->user)
        s->user = strdup(ev->user);
    if (*ev->connection && !s->conn)
        s->conn = strdup(ev->connection);
}

/* Fills an empty user or connection from the CoId map; true when both are set. */
static bool fill_names(struct collect *c, struct rf_ras_event *ev)
{
    uint64_t h;
    if (*ev->user && *ev->connection)
        return true;
    if (!ev->coid)
        return false;
    const struct coid_slot *s = coid_slot(c, ev->coid, &h);
    if (!s->hash)
        return false;
    if (!*ev->user && s->user)
        ev->user = s->user;
    if (!*ev->connection && s->conn)
        ev->connection = s->conn;
    return *ev->user && *ev->connection;
}

static const char *dup_or_null(struct rf_arena *a, const char *s, bool *oom)
{
    if (!s)
        return NULL;
    const char *d = rf_arena_strdup(a, s);
    if (!d)
        *oom = true;
    return d;
}

/* Keeps an event until the end of its file, when its CoId may be known. */
static int defer_event(struct collect *c, const struct rf_record *r)
{
    if (c->n_pending >= SRC_MAX_PENDING) {
        c->st->unnamed_dropped++;
        return RF_OK;
    }
    if (c->n_pending == c->cap_pending) {
        size_t cap = c->cap_pending ? c->cap_pending * 2 : 64;
        struct pending_event *p = realloc(c->pending, cap * sizeof(*p));
        if (!p)
            return c->rc = RF_ENOMEM;
        c->pending = p;
        c->cap_pending = cap;
    }
    struct pending_event *pe = &c->pending[c->n_pending];
    bool oom = false;
    pe->rec = *r;
    pe->line = 0;
    struct rf_ras_event *ev = &pe->rec.u.ev;
    ev->user = dup_or_null(&c->pending_arena, r->u.ev.user, &oom);
    ev->connection = dup_or_null(&c->pending_arena, r->u.ev.connection, &oom);
    ev->coid = dup_or_null(&c->pending_arena, r->u.ev.coid, &oom);
    ev->message = dup_or_null(&c->pending_arena, r->u.ev.message, &oom);
    if (oom)
        return c->rc = RF_ENOMEM;
    c->n_pending++;
    return RF_OK;
}

static int on_event(void *ctx, const struct rf_record *r)
{
    struct collect *c = ctx;
    struct rf_record copy = *r;
    int rc;
    if (!fill_names(c, &copy.u.ev))
        rc = defer_event(c, &copy);
    else {
        coid_remember(c, &copy.u.ev);
        rc = send_event(c, &copy);
    }
    if (rc == RF_OK && c->streaming && c->arena.bytes > SRC_ARENA_RECYCLE)
        rf_arena_free(&c->arena); /* at a record boundary: nothing refers to it any more */
    return rc;
}

static int flush_pending(struct collect *c)
{
    int rc = RF_OK;
    for (size_t i = 0; i < c->n_pending && rc == RF_OK; i++) {
        struct rf_record *r = &c->pending[i].rec;
        if (fill_names(c, &r->u.ev)) {
            rc = send_event(c, r);
            continue;
        }
        c->st->unnamed_dropped++;
        report(c, c->cur->rel, false,
               "event %d (record %lld) names no %s and no other event of its connection attempt "
               "does; skipped (api-v1 requires user and connection)",
               r->u.ev.event_id, (long long)r->u.ev.record_id,
               *r->u.ev.connection ? "user" : "connection");
    }
    c->n_pending = 0;
    rf_arena_free(&c->pending_arena);
    coids_clear(c);
    return rc;
}

/* ---- pbk entries and the policies derived from them ---- */

static enum rf_pbk_scope pbk_scope_of(const char *rel)
{
    char low[OSDEP_PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)rel[i]);
    low[n] = '\0';
    if (strstr(low, "appdata/") || strstr(low, "appdata\\"))
        return RF_SCOPE_USER;
    if (strstr(low, "programdata"))
        return RF_SCOPE_ALL_USERS;
    const char *base = strrchr(low, '/');
    base = base ? base + 1 : low;
    if (strstr(base, "allusers") || strstr(base, "all_users") || strstr(base, "all-users"))
        return RF_SCOPE_ALL_USERS;
    return strstr(base, "user") ? RF_SCOPE_USER : RF_SCOPE_ALL_USERS;
}

static const char *pbk_setting(const struct rf_pbk_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_settings; i++)
        if (strcasecmp(e->settings[i].key, key) == 0)
            return e->settings[i].value;
    return NULL;
}

/* VpnStrategy (domain notes 3.3) -> api-v1 tunnel_type. */
static const char *tunnel_of_strategy(const char *v)
{
    switch (v ? atoi(v) : 0) {
    case 1:
    case 2:
    case 12:
        return "Pptp";
    case 3:
    case 4:
    case 13:
        return "L2tp";
    case 5:
    case 6:
        return "Sstp";
    case 7:
    case 8:
    case 14:
        return "Ikev2";
    default:
        return "Automatic";
    }
}

/*
 * The vpn_policy a pbk entry implies: server = PhoneNumber of its DEVICE
 * block, tunnel from VpnStrategy, auth MachineCertificate for a device
 * tunnel, Eap when CustomAuthKey names an EAP type, else Unknown; split
 * tunnelling = IpPrioritizeRemote 0; dns_suffix = IpDnsSuffix.
 */
static bool derive_policy(const struct pbk_parsed_entry *pe, struct rf_record *out)
{
    const struct rf_pbk_entry *e = &pe->record.u.pbk;
    const char *server = pbk_setting(e, "PhoneNumber");
    const char *device = pbk_setting(e, "DeviceTunnel");
    const char *eap = pbk_setting(e, "CustomAuthKey");
    const char *prio = pbk_setting(e, "IpPrioritizeRemote");
    const char *suffix = pbk_setting(e, "IpDnsSuffix");
    if (!server || !*server || strlen(server) > RF_MAX_NAME_LEN)
        return false;
    memset(out, 0, sizeof(*out));
    out->kind = RF_KIND_VPN_POLICY;
    out->time_ms = pe->record.time_ms;
    struct rf_vpn_policy *pol = &out->u.pol;
    pol->connection = e->connection;
    pol->server = server;
    pol->tunnel_type = tunnel_of_strategy(pbk_setting(e, "VpnStrategy"));
    pol->device_tunnel = device && strcmp(device, "1") == 0;
    pol->auth_method = pol->device_tunnel             ? "MachineCertificate"
                       : eap && *eap && atoi(eap) > 0 ? "Eap"
                                                      : "Unknown";
    pol->split_tunneling = prio && strcmp(prio, "0") == 0;
    pol->dns_suffix = suffix && *suffix && strlen(suffix) <= RF_MAX_NAME_LEN ? suffix : NULL;
    pol->has_ipsec = true;
    pol->ipsec = pe->ipsec;
    return true;
}

static int emit_pbk(struct collect *c, const char *raw, size_t len)
{
    struct pbk_parse_result res;
    int64_t t = c->cur->st.mtime_ns / 1000000;
    int rc = pbk_parse_bytes(raw, len, pbk_scope_of(c->cur->rel), t, &c->arena, &c->sink, &res);
    if (rc == RF_ENOMEM)
        return c->rc = rc;
    if (rc != RF_OK) {
        c->st->files_failed++;
        return RF_OK;
    }
    for (size_t i = 0; i < res.n_entries && c->rc == RF_OK; i++) {
        const struct pbk_parsed_entry *pe = &res.entries[i];
        if (emit_snapshot(c, &pe->record) != RF_OK)
            break;
        if (!pe->has_ipsec || names_has(&c->policy_names, pe->record.u.pbk.connection))
            continue;
        struct rf_record pol;
        if (derive_policy(pe, &pol))
            emit_snapshot(c, &pol);
        else
            report(c, c->cur->rel, false,
                   "[%s] has CustomIPSecPolicies but no PhoneNumber: no vpn_policy derived",
                   pe->record.u.pbk.connection);
    }
    return c->rc;
}

/* ---- whole-file kinds ---- */

static int on_snapshot(void *ctx, const struct rf_record *r)
{
    return emit_snapshot(ctx, r);
}

static int parse_whole(struct collect *c, const char *raw, size_t len)
{
    int64_t t = c->cur->st.mtime_ns / 1000000;
    int rc = RF_OK;
    switch (c->cur->kind) {
    case SRC_PBK:
        return emit_pbk(c, raw, len);
    case SRC_VPNCONN:
        rc = vpnconn_json_parse(raw, len, t, &c->arena, on_snapshot, c, &c->sink, NULL);
        break;
    case SRC_NETIP: {
        struct netip_options opt = {t, (const char *const *)c->vpn_names.v, c->vpn_names.n};
        rc = netip_json_parse(raw, len, &opt, &c->arena, on_snapshot, c, &c->sink, NULL);
        break;
    }
    case SRC_EVENTS_JSON:
    case SRC_EVENTS_JSON_NOID:
        rc = event_json_parse(raw, len, &c->arena, on_event, c, &c->sink, NULL);
        if (c->rc == RF_OK && flush_pending(c) != RF_OK)
            return c->rc;
        break;
    case SRC_JSON_UNKNOWN:
        if (classify_json(raw, len, &c->sink) == SRC_JSON_UNKNOWN && c->sink.n_fatal == 0)
            report(c, c->cur->rel, true,
                   "JSON that is no known export (no InterfaceMetric, ServerAddress, TunnelType, "
                   "Id or EventID in its first object); skipped");
        rc = RF_EFORMAT;
        break;
    default:
        break;
    }
    if (c->rc != RF_OK)
        return c->rc;
    if (rc == RF_ENOMEM)
        return c->rc = rc;
    if (rc != RF_OK)
        c->st->files_failed++;
    return RF_OK;
}

static int note_done(struct collect *c, uint64_t size)
{
    struct buf line = BUF_INIT;
    int rc = progress_file_line(c->cur->rel, size, c->cur->st.mtime_ns, c->cur_hash, &line);
    if (rc == RF_OK)
        rc = batcher_note(c->b, line.data);
    buf_free(&line);
    return rc == RF_OK ? RF_OK : (c->rc = rc);
}

static int process_whole(struct collect *c, const struct progress_file *pf)
{
    struct buf raw = BUF_INIT;
    int rc = osdep_read_file(c->cur->abs, SRC_MAX_WHOLE, &raw);
    if (rc == RF_ENOMEM) {
        c->rc = rc;
        goto out;
    }
    if (rc != RF_OK) {
        report(c, c->cur->rel, true, "cannot read: %s; skipped", osdep_strerror());
        c->st->files_failed++;
        rc = RF_OK;
        goto out;
    }
    c->cur_hash = keyset_fnv(KEYSET_FNV_OFFSET, raw.data, raw.len);
    if (pf && pf->hash == c->cur_hash && pf->size == raw.len) {
        c->st->files_unchanged++;
    } else if ((rc = parse_whole(c, raw.data ? raw.data : "", raw.len)) != RF_OK) {
        goto out;
    }
    rc = note_done(c, raw.len);
out:
    buf_free(&raw);
    return c->rc ? c->rc : rc;
}

/* ---- the streaming XML reader ---- */

static int process_xml(struct collect *c)
{
    struct event_xml *x = NULL;
    char *chunk = malloc(SRC_READ_CHUNK);
    FILE *f = NULL;
    uint64_t size = 0;
    bool parsing = true, read_error = false;
    int rc = RF_ENOMEM;
    if (!chunk || (rc = event_xml_create(&c->arena, on_event, c, &c->sink, &x)) != RF_OK) {
        c->rc = RF_ENOMEM;
        goto out;
    }
    if (!(f = osdep_open_read(c->cur->abs))) {
        report(c, c->cur->rel, true, "cannot open: %s; skipped", osdep_strerror());
        c->st->files_failed++;
        rc = RF_OK;
        goto out;
    }
    c->streaming = true;
    c->cur_hash = KEYSET_FNV_OFFSET;
    for (;;) {
        size_t n = fread(chunk, 1, SRC_READ_CHUNK, f);
        if (n == 0) {
            read_error = ferror(f) != 0;
            break;
        }
        size += n;
        c->cur_hash = keyset_fnv(c->cur_hash, chunk, n);
        if (parsing && event_xml_feed(x, chunk, n) != RF_OK)
            parsing = false; /* a parse error was reported; keep hashing the file */
        if (c->rc != RF_OK)
            goto out;
    }
    if (read_error) {
        report(c, c->cur->rel, true, "read error after %llu bytes; skipped",
               (unsigned long long)size);
        c->st->files_failed++;
        rc = RF_OK;
        goto out;
    }
    if (parsing && event_xml_finish(x) != RF_OK)
        parsing = false;
    if (c->rc != RF_OK)
        goto out;
    if (!parsing)
        c->st->files_failed++;
    if ((rc = flush_pending(c)) == RF_OK)
        rc = note_done(c, size);
out:
    c->streaming = false;
    if (f)
        fclose(f);
    event_xml_destroy(x);
    free(chunk);
    return c->rc ? c->rc : rc;
}

/* ---- the two passes ---- */

static int on_name_policy(void *ctx, const struct rf_record *r)
{
    struct collect *c = ctx;
    int rc = names_add(&c->policy_names, r->u.pol.connection);
    return rc == RF_OK ? names_add(&c->vpn_names, r->u.pol.connection) : rc;
}

/* Pass 1: classifies .json files and learns the VPN connection names. */
static int learn(struct collect *c, struct src_file *f)
{
    struct buf raw = BUF_INIT;
    struct rf_arena tmp;
    int rc = RF_OK;
    rf_arena_init(&tmp);
    if (f->kind != SRC_JSON_UNKNOWN && f->kind != SRC_PBK)
        goto out;
    if (osdep_read_file(f->abs, SRC_MAX_WHOLE, &raw) != RF_OK)
        goto out; /* reported by pass 2 */
    const char *data = raw.data ? raw.data : "";
    if (f->kind == SRC_JSON_UNKNOWN)
        f->kind = classify_json(data, raw.len, NULL);
    if (f->kind == SRC_VPNCONN) {
        rc = vpnconn_json_parse(data, raw.len, 0, &tmp, on_name_policy, c, NULL, NULL);
    } else if (f->kind == SRC_PBK) {
        struct pbk_parse_result res;
        if (pbk_parse_bytes(data, raw.len, RF_SCOPE_ALL_USERS, 0, &tmp, NULL, &res) == RF_OK)
            for (size_t i = 0; i < res.n_entries && rc == RF_OK; i++)
                rc = names_add(&c->vpn_names, res.entries[i].record.u.pbk.connection);
    }
    if (rc != RF_ENOMEM)
        rc = RF_OK;
out:
    rf_arena_free(&tmp);
    buf_free(&raw);
    return rc;
}

static int process(struct collect *c, const struct src_file *f)
{
    c->cur = f;
    c->cur_index = 0;
    c->sink = (struct parse_sink){f->rel, c->cfg->report, c->cfg->report_ctx, 0, 0};
    if (f->kind == SRC_NOT_REGULAR) {
        report(c, f->rel, true, "%s; skipped",
               f->st.type == OSDEP_MISSING ? "cannot open: dangling symbolic link"
                                           : "not a regular file (FIFO, socket or device)");
        c->st->files_failed++;
        return RF_OK;
    }
    struct progress_file *pf = progress_file_find(c->p, f->rel);
    if (pf && pf->size == f->st.size && pf->mtime_ns == f->st.mtime_ns) {
        c->st->files_unchanged++;
        return RF_OK;
    }
    int rc = f->kind == SRC_EVENTS_XML ? process_xml(c) : process_whole(c, pf);
    rf_arena_free(&c->arena);
    return rc;
}

static int pass_order(enum src_kind k)
{
    switch (k) {
    case SRC_VPNCONN:
        return 0;
    case SRC_PBK:
        return 1;
    case SRC_NETIP:
        return 2;
    case SRC_EVENTS_XML:
        return 3;
    case SRC_EVENTS_JSON:
        return 4;
    default:
        return 5; /* events without record numbers last, so that the same event met with
                     its record number is sent with it */
    }
}

static int collect_begin(struct collect *c, const struct sources_config *cfg, struct progress *p,
                         struct batcher *b, struct sources_stats *st)
{
    memset(c, 0, sizeof(*c));
    memset(st, 0, sizeof(*st));
    c->cfg = cfg;
    c->p = p;
    c->b = b;
    c->st = st;
    rf_arena_init(&c->arena);
    rf_arena_init(&c->pending_arena);
    c->coids = calloc(SRC_COID_SLOTS, sizeof(*c->coids));
    return c->coids ? RF_OK : RF_ENOMEM;
}

static void collect_end(struct collect *c)
{
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].rel);
        free(c->files[i].abs);
    }
    free(c->files);
    names_free(&c->policy_names);
    names_free(&c->vpn_names);
    coids_clear(c);
    free(c->coids);
    free(c->pending);
    rf_arena_free(&c->arena);
    rf_arena_free(&c->pending_arena);
}

/* Sorts the file list, learns the names, processes the files in order. */
static int run_passes(struct collect *c)
{
    int rc = RF_OK;
    qsort(c->files, c->n_files, sizeof(*c->files), compare_files);
    c->st->files = c->n_files;
    for (size_t i = 0; i < c->n_files && rc == RF_OK; i++)
        rc = learn(c, &c->files[i]);
    for (int order = 0; order <= 5 && rc == RF_OK; order++)
        for (size_t i = 0; i < c->n_files && rc == RF_OK; i++)
            if (pass_order(c->files[i].kind) == order)
                rc = process(c, &c->files[i]);
    return rc;
}

int sources_collect(const struct sources_config *cfg, struct progress *p, struct batcher *b,
                    struct sources_stats *st)
{
    struct collect c;
    int rc = collect_begin(&c, cfg, p, b, st);
    if (rc != RF_OK)
        goto out;
    if ((rc = walk_dir(&c, "", cfg->dir, 0)) != RF_OK && rc != RF_ENOMEM) {
        /* a missing or unreadable export folder is a problem of the source, reported like
           any other; what the spool holds is still delivered */
        report(&c, cfg->dir, true, "cannot list the source directory: %s", osdep_strerror());
        st->files_failed++;
        rc = RF_OK;
        goto out;
    }
    st->listed = rc == RF_OK;
    if (rc == RF_OK)
        rc = run_passes(&c);
out:
    collect_end(&c);
    return rc;
}

int sources_collect_files(const struct sources_config *cfg, const char *const *paths,
                          const char *const *names, size_t n, struct progress *p, struct batcher *b,
                          struct sources_stats *st)
{
    struct collect c;
    int rc = collect_begin(&c, cfg, p, b, st);
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        struct osdep_stat fst;
        if (osdep_stat(paths[i], &fst) != RF_OK || fst.type == OSDEP_MISSING)
            continue; /* a profile without a phonebook is normal */
        char *abs = strdup(paths[i]), *rel = strdup(names[i]);
        enum src_kind kind =
            fst.type == OSDEP_REGULAR ? kind_by_name(names[i], paths[i]) : SRC_NOT_REGULAR;
        if (!abs || !rel || kind == SRC_IGNORED ||
            (rc = add_file(&c, rel, abs, &fst, kind)) != RF_OK) {
            free(abs);
            free(rel);
            if (!abs || !rel)
                rc = RF_ENOMEM;
        }
    }
    if (rc == RF_OK)
        rc = run_passes(&c);
    collect_end(&c);
    return rc;
}

struct sources_stream {
    struct collect c;
    struct src_file file;
    struct event_xml *x;
    bool failed;
};

int sources_stream_open(const struct sources_config *cfg, const char *name, struct progress *p,
                        struct batcher *b, struct sources_stats *st, struct sources_stream **out)
{
    struct sources_stream *s = calloc(1, sizeof(*s));
    int rc = RF_ENOMEM;
    *out = NULL;
    if (!s)
        return rc;
    if ((rc = collect_begin(&s->c, cfg, p, b, st)) != RF_OK)
        goto out;
    rc = RF_ENOMEM;
    if (!(s->file.rel = strdup(name)))
        goto out;
    s->file.kind = SRC_EVENTS_XML;
    s->c.cur = &s->file;
    s->c.streaming = true;
    s->c.sink = (struct parse_sink){s->file.rel, cfg->report, cfg->report_ctx, 0, 0};
    if ((rc = event_xml_create(&s->c.arena, on_event, &s->c, &s->c.sink, &s->x)) != RF_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    if (s) {
        free(s->file.rel);
        collect_end(&s->c);
        free(s);
    }
    return rc;
}

int sources_stream_feed(struct sources_stream *s, const char *buf, size_t len)
{
    if (!s->failed && event_xml_feed(s->x, buf, len) != RF_OK)
        s->failed = true; /* reported; the batcher's error is in c.rc */
    return s->c.rc;
}

int sources_stream_close(struct sources_stream *s)
{
    int rc = RF_OK;
    if (!s)
        return RF_OK;
    if (!s->failed && s->c.rc == RF_OK)
        event_xml_finish(s->x);
    if (s->c.rc == RF_OK)
        flush_pending(&s->c);
    rc = s->c.rc;
    event_xml_destroy(s->x);
    free(s->file.rel);
    collect_end(&s->c);
    free(s);
    return rc;
}
