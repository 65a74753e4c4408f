/*
 * pg_writer.c - the writer thread on PostgreSQL: bounded queue, group
 * commit through libpq's pipeline mode, dedupe, retention. See pg_writer.h
 * for the contract (it is writer.h's).
 *
 * One group (many batches) is one transaction, sent as a pipeline so that
 * the whole group costs a few network round trips, not one per row:
 *
 *   dictionary  INSERT .. ON CONFLICT DO NOTHING + SELECT of every string of
 *               the group not yet cached, in its own short transaction
 *               before BEGIN (ids are shared by all collectors; a group
 *               that rolls back leaves unused strings behind, never a
 *               dangling id)
 *   BEGIN       and the previous agent totals of the group's reporting
 *               devices (pg_derived.h), locked
 *   per batch   SAVEPOINT; device insert (ON CONFLICT DO NOTHING); one
 *               statement that inserts the batch row (ON CONFLICT DO
 *               NOTHING: the dedupe) and, only when that row is new, every
 *               record of the batch from arrays (unnest), events with ON
 *               CONFLICT (device, record_id) DO NOTHING; RELEASE; Sync
 *   derived     agent_status, agent_losses, daily rollups of the stored
 *               batches: one statement from arrays (pg_derived.h)
 *   COMMIT
 *
 * Invariants:
 * - Only this thread uses `conn`.
 * - A done callback with RF_OK is issued only after COMMIT returned OK.
 * - A batch the database refuses for a reason of its own fails alone
 *   (ROLLBACK TO its savepoint, the rest of the group is sent again); a
 *   storage error (connection lost, shutdown, read-only, disk full,
 *   deadlock) fails the whole group with RF_ESTORAGE (503, the agent
 *   retries) and drops the connection, which rolls the transaction back;
 *   the next group or the health probe reconnects.
 * - Batches of a group are written in (device, batch) order, so two
 *   collectors that receive the same batches lock rows in the same order.
 * - The dictionary cache holds committed ids only.
 */
#include "pg_writer.h"
#include "batch_json.h"
#include "buf.h"
#include "event_message.h"
#include "log.h"
#include "metrics.h"
#include "pg_derived.h"
#include "retention.h"
#include "pg_store.h"
#include "writer_queue.h"
#include "pg_tokens.h"
#include "pgarray.h"
#include "rasfleet/arena.h"
#include "rasfleet/result.h"
#include "strmap.h"
#include "timeutil.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DICT_CACHE_MAX 2000000
#define RETENTION_STEP_ROWS 2000
#define GROUP_BATCHES_MAX 512
/* Batches in flight in the pipeline: bounds what the server writes back
 * before we read it (a blocked server would stop reading our pipeline). */
#define PIPELINE_BATCHES 16
#define PIPELINE_RECORDS 20000
#define STORE_PARAMS (7 + C_COUNT)
#define GROUP_ATTEMPTS 3 /* a deadlock with another collector is retried */

enum stmt_id { P_DICT_PUT, P_DICT_GET, P_DEVICE, P_STORE, P_PREV, P_DERIVED, P_COUNT };

static const char *const stmt_name[P_COUNT] = {"rf_dict_put", "rf_dict_get", "rf_device",
                                               "rf_store",    "rf_prev",     "rf_derived"};

static const char *const stmt_sql[P_COUNT] = {
    [P_DICT_PUT] = "INSERT INTO dict(s) SELECT x FROM unnest($1::text[]) AS x ORDER BY"
                   " rasfleet_dict_hash(x) ON CONFLICT (h) DO NOTHING",
    [P_DICT_GET] = "SELECT id, s FROM dict WHERE h = ANY(SELECT rasfleet_dict_hash(x)"
                   " FROM unnest($1::text[]) AS x)",
    [P_DEVICE] = "INSERT INTO devices(uid, hostname, os_version, agent_version, first_seen,"
                 " last_seen) VALUES($1, $2, $3, $4, $5, $5) ON CONFLICT (uid) DO NOTHING"
                 " RETURNING id",
    /* $1 device uid, $2 batch uid, $3 receipt time, $4 record count,
     * $5..$7 agent metadata, then one array per column of each table */
    [P_STORE] =
        "WITH b AS (INSERT INTO batches(device, uid, received, records)"
        " SELECT id, $2::text, $3::bigint, $4::integer FROM devices WHERE uid = $1::text"
        " ON CONFLICT DO NOTHING"
        " RETURNING device),"
        " t AS (UPDATE devices SET last_seen = greatest(last_seen, $3::bigint),"
        " tx = pg_current_xact_id()::text::bigint,"
        " hostname = coalesce($5, hostname), os_version = coalesce($6, os_version),"
        " agent_version = coalesce($7, agent_version) WHERE id = (SELECT device FROM b)),"
        " e AS (INSERT INTO events(device, time, received, event_id, record_id, level, \"user\","
        " connection, error_code, reason_code, coid, message, message_template)"
        " SELECT b.device, u.t, $3::bigint, u.ev, u.rid, u.lvl, u.usr, u.conn, u.err, u.rsn, u.coid,"
        " u.msg, u.tmpl FROM b, unnest($8::bigint[], $9::integer[], $10::bigint[], $11::smallint[],"
        " $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::text[],"
        " $40::smallint[]) AS u(t, ev, rid, lvl, usr, conn, err, rsn, coid, msg, tmpl)"
        " ON CONFLICT (device, record_id) DO NOTHING RETURNING record_id),"
        " i AS (INSERT INTO iface_metrics(device, time, alias, ifindex, family, metric,"
        " automatic, connected, if_type, mtu) SELECT b.device, u.* FROM b,"
        " unnest($18::bigint[], $19::bigint[], $20::bigint[], $21::smallint[], $22::bigint[],"
        " $23::smallint[], $24::smallint[], $25::integer[], $26::bigint[]) AS u),"
        " p AS (INSERT INTO pbk_entries(device, time, scope, connection, settings)"
        " SELECT b.device, u.* FROM b, unnest($27::bigint[], $28::smallint[], $29::bigint[],"
        " $30::bigint[]) AS u),"
        " v AS (INSERT INTO vpn_policies(device, time, connection, server, tunnel_type,"
        " auth_method, split_tunneling, device_tunnel, dns_suffix, ipsec)"
        " SELECT b.device, u.* FROM b, unnest($31::bigint[], $32::bigint[], $33::bigint[],"
        " $34::bigint[], $35::bigint[], $36::smallint[], $37::smallint[], $38::bigint[],"
        " $39::bigint[]) AS u)"
        " SELECT (SELECT device FROM b), (SELECT count(*) FROM e),"
        " (SELECT CASE WHEN count(*) < cardinality($10::bigint[])"
        " THEN coalesce(array_agg(record_id), '{}') END FROM e)",
    [P_PREV] = PG_DERIVED_PREV_SQL,
    [P_DERIVED] = NULL, /* pg_derived_write_sql */
};

/* Array parameters of P_STORE, in parameter order from $8 (the events'
 * message_template came last: $40). */
enum col {
    C_EV_TIME, C_EV_ID, C_EV_RECORD, C_EV_LEVEL, C_EV_USER, C_EV_CONN, C_EV_ERROR, C_EV_REASON,
    C_EV_COID, C_EV_MESSAGE,
    C_IF_TIME, C_IF_ALIAS, C_IF_INDEX, C_IF_FAMILY, C_IF_METRIC, C_IF_AUTO, C_IF_CONNECTED,
    C_IF_TYPE, C_IF_MTU,
    C_PBK_TIME, C_PBK_SCOPE, C_PBK_CONN, C_PBK_SETTINGS,
    C_POL_TIME, C_POL_CONN, C_POL_SERVER, C_POL_TUNNEL, C_POL_AUTH, C_POL_SPLIT, C_POL_DEVTUN,
    C_POL_SUFFIX, C_POL_IPSEC,
    C_EV_TEMPLATE,
    C_COUNT
};

struct pg_writer {
    struct writer_config cfg;
    char *url;
    struct auth *auth; /* may be NULL */
    writer_commit_hook_fn hook;
    void *hook_arg;
    writer_tx_hook_fn tx_hook; /* told each group transaction's id */
    void *tx_hook_arg;

    pthread_t thread;
    struct writer_queue q;  /* its lock also guards the four below */
    int64_t devices_known;  /* guarded by q.lock */
    size_t cache_bytes;     /* guarded by q.lock */
    int64_t database_bytes; /* guarded by q.lock */

    /* writer-thread state */
    PGconn *conn; /* NULL while disconnected */
    struct strmap dict_cache;
    struct buf col[C_COUNT];
    struct buf scratch;
    struct pg_derived derived; /* agent_status, agent_losses, rollups of the group */
    char err[200]; /* why the current group failed */
    bool retryable;
    int64_t next_retention_ms;
    int64_t next_probe_ms;
    int64_t next_stats_ms;
    int64_t next_token_check_ms;
};

/* ---- connection ---- */

static void disconnect(struct pg_writer *w)
{
    if (w->conn)
        PQfinish(w->conn); /* an open transaction is rolled back by the server */
    w->conn = NULL;
}

/* Connects, migrates and prepares the statements. */
static int connect_db(struct pg_writer *w, char *errbuf, size_t errlen)
{
    PGconn *c = NULL;
    int rc = pg_store_connect(w->url, &c, errbuf, errlen);
    if (rc == RF_OK)
        rc = pg_store_migrate(c, errbuf, errlen);
    for (int i = 0; i < P_COUNT && rc == RF_OK; i++) {
        PGresult *r = PQprepare(c, stmt_name[i], stmt_sql[i] ? stmt_sql[i] : pg_derived_write_sql,
                                0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            pg_store_error(c, "cannot prepare a statement", errbuf, errlen);
            rc = RF_ESTORAGE;
        }
        PQclear(r);
    }
    if (rc != RF_OK) {
        if (c)
            PQfinish(c);
        return rc;
    }
    w->conn = c;
    strmap_clear(&w->dict_cache); /* the database may not be the one we cached */
    return RF_OK;
}

/* Refreshes the figures every collector shares: devices and database size. */
static void refresh_stats(struct pg_writer *w)
{
    PGresult *r = PQexecParams(w->conn, "SELECT count(*) FROM devices", 0, NULL, NULL, NULL, NULL,
                               0);
    int64_t devices = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        devices = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    int64_t size = pg_store_database_bytes(w->conn);
    pthread_mutex_lock(&w->q.lock);
    if (devices >= 0)
        w->devices_known = devices;
    if (size >= 0)
        w->database_bytes = size;
    pthread_mutex_unlock(&w->q.lock);
}

/* 0 (no string) is stored as NULL where the column allows it. */
static int arr_opt_id(struct buf *b, int64_t id)
{
    return id ? pgarray_int(b, id) : pgarray_null(b);
}

static int arr_opt_int(struct buf *b, bool has, int64_t v)
{
    return has ? pgarray_int(b, v) : pgarray_null(b);
}

/* ---- results ---- */

/* The next result of the pipeline; for a command also eats the NULL that
 * ends it. NULL when the connection gave none (lost). Caller PQclears. */
static PGresult *next_result(struct pg_writer *w)
{
    PGresult *r = PQgetResult(w->conn);
    if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        PGresult *end = PQgetResult(w->conn);
        if (end) { /* a command gives one result; anything more is a protocol surprise */
            PQclear(end);
            PQclear(r);
            return NULL;
        }
    }
    return r;
}

/* Records why the group or batch failed; true when it is a storage error. */
static bool note_error(struct pg_writer *w, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = PQerrorMessage(w->conn);
    size_t n = strcspn(msg, "\n");
    snprintf(w->err, sizeof(w->err), "%s: %.*s", what, (int)n, *msg ? msg : "connection lost");
    w->retryable = state && strncmp(state, "40", 2) == 0;
    return pg_store_is_storage_error(w->conn, state);
}

/* Reads results up to and including the next Sync. Returns RF_OK when
 * every command succeeded, RF_EINVAL when one failed for a reason of its
 * own (w->err), RF_ESTORAGE on a storage error or a lost connection. */
/* Reads the results up to the pipeline's sync point; the TUPLES_OK results
 * of the statements numbered keep_from .. keep_from + n_keep - 1 (0 = the
 * first sent since the last sync) go to keep[0 .. n_keep - 1], the caller
 * clears them. */
static int read_to_sync(struct pg_writer *w, PGresult **keep, int keep_from, int n_keep)
{
    int rc = RF_OK, index = 0;
    for (;;) {
        PGresult *r = next_result(w);
        if (!r) {
            note_error(w, NULL, "connection lost");
            return RF_ESTORAGE;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return rc;
        }
        if (st == PGRES_FATAL_ERROR && rc == RF_OK)
            rc = note_error(w, r, "database error") ? RF_ESTORAGE : RF_EINVAL;
        if (keep && index >= keep_from && index < keep_from + n_keep && st == PGRES_TUPLES_OK)
            keep[index - keep_from] = r;
        else
            PQclear(r);
        index++;
    }
}

static int send_simple(struct pg_writer *w, const char *sql)
{
    return PQsendQueryParams(w->conn, sql, 0, NULL, NULL, NULL, NULL, 0) ? RF_OK : RF_ESTORAGE;
}

static int sync_and_read_n(struct pg_writer *w, PGresult **keep, int keep_from, int n_keep)
{
    if (!PQpipelineSync(w->conn)) {
        note_error(w, NULL, "cannot send to PostgreSQL");
        return RF_ESTORAGE;
    }
    return read_to_sync(w, keep, keep_from, n_keep);
}

static int sync_and_read(struct pg_writer *w, PGresult **keep, int keep_index)
{
    return sync_and_read_n(w, keep, keep_index, 1);
}

/* ---- dictionary ---- */

struct strvec {
    const char **v;
    size_t n, cap;
};

static int strvec_push(struct strvec *sv, const char *s)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 256;
        const char **v = realloc(sv->v, cap * sizeof(*v));
        if (!v)
            return RF_ENOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    return RF_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The canonical JSON of a pbk entry's settings / a policy's IPsec block in
 * w->scratch (both stored once in dict per distinct content, as SQLite). */
static int encode_pbk(struct pg_writer *w, const struct rf_pbk_entry *p)
{
    buf_reset(&w->scratch);
    return pbk_settings_encode_json(p, &w->scratch);
}

static int encode_ipsec(struct pg_writer *w, const struct rf_ipsec_policy *ip)
{
    buf_reset(&w->scratch);
    return ipsec_policy_encode_json(ip, &w->scratch);
}

static int want_string(struct pg_writer *w, struct strvec *sv, struct rf_arena *a, const char *s,
                       bool copy)
{
    int64_t id;
    if (!s || strmap_get(&w->dict_cache, s, &id))
        return RF_OK;
    if (copy && !(s = rf_arena_strdup(a, s)))
        return RF_ENOMEM;
    return strvec_push(sv, s);
}

/* Every dictionary string of the group that is not cached yet. */
static int collect_strings(struct pg_writer *w, struct writer_job *const *jobs, size_t n,
                           struct strvec *sv, struct rf_arena *a)
{
    int rc = RF_OK;
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        const struct rf_batch *b = &jobs[i]->batch;
        for (size_t k = 0; k < b->n_records && rc == RF_OK; k++) {
            const struct rf_record *r = &b->records[k];
            switch (r->kind) {
            case RF_KIND_RAS_EVENT:
                if ((rc = want_string(w, sv, a, r->u.ev.user, false)) == RF_OK)
                    rc = want_string(w, sv, a, r->u.ev.connection, false);
                break;
            case RF_KIND_IFACE_METRIC:
                rc = want_string(w, sv, a, r->u.ifm.alias, false);
                break;
            case RF_KIND_PBK_ENTRY:
                if ((rc = want_string(w, sv, a, r->u.pbk.connection, false)) == RF_OK &&
                    (rc = encode_pbk(w, &r->u.pbk)) == RF_OK)
                    rc = want_string(w, sv, a, w->scratch.data, true);
                break;
            case RF_KIND_VPN_POLICY: {
                const struct rf_vpn_policy *p = &r->u.pol;
                const char *s[] = {p->connection, p->server, p->tunnel_type, p->auth_method,
                                   p->dns_suffix};
                for (size_t j = 0; j < 5 && rc == RF_OK; j++)
                    rc = want_string(w, sv, a, s[j], false);
                if (rc == RF_OK && p->has_ipsec && (rc = encode_ipsec(w, &p->ipsec)) == RF_OK)
                    rc = want_string(w, sv, a, w->scratch.data, true);
                break;
            }
            default:
                break;
            }
        }
    }
    return rc;
}

/* Inserts the group's new strings (one short transaction of its own, in
 * hash order so that two collectors never wait on each other in a cycle)
 * and caches every id. */
static int resolve_dict(struct pg_writer *w, struct writer_job *const *jobs, size_t n)
{
    struct strvec sv = {0};
    struct rf_arena a;
    PGresult *ids = NULL;
    rf_arena_init(&a);
    int rc = collect_strings(w, jobs, n, &sv, &a);
    if (rc == RF_OK && w->dict_cache.len + sv.n > DICT_CACHE_MAX) {
        strmap_clear(&w->dict_cache);
        sv.n = 0;
        rc = collect_strings(w, jobs, n, &sv, &a);
    }
    if (rc != RF_OK || sv.n == 0)
        goto out;
    qsort(sv.v, sv.n, sizeof(*sv.v), cmp_str);
    struct buf *arr = &w->col[0];
    rc = pgarray_open(arr);
    for (size_t i = 0; i < sv.n && rc == RF_OK; i++)
        if (i == 0 || strcmp(sv.v[i], sv.v[i - 1]) != 0)
            rc = pgarray_text(arr, sv.v[i]);
    if (rc == RF_OK)
        rc = pgarray_close(arr);
    if (rc != RF_OK)
        goto out;
    const char *param[1] = {arr->data};
    if (!PQsendQueryPrepared(w->conn, stmt_name[P_DICT_PUT], 1, param, NULL, NULL, 0) ||
        !PQsendQueryPrepared(w->conn, stmt_name[P_DICT_GET], 1, param, NULL, NULL, 0)) {
        note_error(w, NULL, "cannot send to PostgreSQL");
        rc = RF_ESTORAGE;
        goto out;
    }
    if ((rc = sync_and_read(w, &ids, 1)) != RF_OK)
        goto out;
    for (int i = 0; ids && i < PQntuples(ids) && rc == RF_OK; i++)
        rc = strmap_put(&w->dict_cache, PQgetvalue(ids, i, 1),
                        strtoll(PQgetvalue(ids, i, 0), NULL, 10));
out:
    if (rc == RF_ENOMEM)
        snprintf(w->err, sizeof(w->err), "out of memory for the dictionary");
    PQclear(ids);
    free(sv.v);
    rf_arena_free(&a);
    return rc;
}

static int64_t dict_lookup(struct pg_writer *w, const char *s, int *rc)
{
    int64_t id = 0;
    if (s && !strmap_get(&w->dict_cache, s, &id) && *rc == RF_OK) {
        snprintf(w->err, sizeof(w->err), "dictionary string missing from the cache");
        *rc = RF_EINVAL;
    }
    return id;
}

/* ---- one batch ---- */

static int add_record(struct pg_writer *w, const struct rf_record *r)
{
    struct buf *c = w->col;
    int rc = RF_OK;
    switch (r->kind) {
    case RF_KIND_RAS_EVENT: {
        const struct rf_ras_event *e = &r->u.ev;
        int64_t user = dict_lookup(w, e->user, &rc), conn = dict_lookup(w, e->connection, &rc);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_TIME], r->time_ms);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_ID], e->event_id);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_RECORD], e->record_id);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_LEVEL], e->level);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_USER], user);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_EV_CONN], conn);
        if (rc == RF_OK)
            rc = arr_opt_int(&c[C_EV_ERROR], e->has_error_code, e->error_code);
        if (rc == RF_OK)
            rc = arr_opt_int(&c[C_EV_REASON], e->has_reason_code, e->reason_code);
        if (rc == RF_OK)
            rc = pgarray_text(&c[C_EV_COID], e->coid);
        /* a message that is its catalogue text is stored as a mark
         * (event_message.h), as the SQLite writer does */
        bool marked = event_message_is_template(e);
        if (rc == RF_OK)
            rc = pgarray_text(&c[C_EV_MESSAGE], marked ? NULL : e->message);
        if (rc == RF_OK)
            rc = arr_opt_int(&c[C_EV_TEMPLATE], marked, EVENT_MESSAGE_TEMPLATE_EN);
        return rc;
    }
    case RF_KIND_IFACE_METRIC: {
        const struct rf_iface_metric *m = &r->u.ifm;
        int64_t alias = dict_lookup(w, m->alias, &rc);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_TIME], r->time_ms);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_ALIAS], alias);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_INDEX], m->index);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_FAMILY], m->family);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_METRIC], m->metric);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_AUTO], m->automatic);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_CONNECTED], m->connected);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_IF_TYPE], m->if_type);
        if (rc == RF_OK)
            rc = arr_opt_int(&c[C_IF_MTU], m->has_mtu, m->mtu);
        return rc;
    }
    case RF_KIND_PBK_ENTRY: {
        const struct rf_pbk_entry *p = &r->u.pbk;
        int64_t conn = dict_lookup(w, p->connection, &rc), settings = 0;
        if (rc == RF_OK && (rc = encode_pbk(w, p)) == RF_OK)
            settings = dict_lookup(w, w->scratch.data, &rc);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_PBK_TIME], r->time_ms);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_PBK_SCOPE], p->scope);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_PBK_CONN], conn);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_PBK_SETTINGS], settings);
        return rc;
    }
    case RF_KIND_VPN_POLICY: {
        const struct rf_vpn_policy *p = &r->u.pol;
        int64_t conn = dict_lookup(w, p->connection, &rc), server = dict_lookup(w, p->server, &rc),
                tunnel = dict_lookup(w, p->tunnel_type, &rc),
                auth = dict_lookup(w, p->auth_method, &rc),
                suffix = dict_lookup(w, p->dns_suffix, &rc), ipsec = 0;
        if (rc == RF_OK && p->has_ipsec && (rc = encode_ipsec(w, &p->ipsec)) == RF_OK)
            ipsec = dict_lookup(w, w->scratch.data, &rc);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_TIME], r->time_ms);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_CONN], conn);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_SERVER], server);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_TUNNEL], tunnel);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_AUTH], auth);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_SPLIT], p->split_tunneling);
        if (rc == RF_OK)
            rc = pgarray_int(&c[C_POL_DEVTUN], p->device_tunnel);
        if (rc == RF_OK)
            rc = arr_opt_id(&c[C_POL_SUFFIX], suffix);
        if (rc == RF_OK)
            rc = arr_opt_id(&c[C_POL_IPSEC], ipsec);
        return rc;
    }
    case RF_KIND_AGENT_STATUS: /* written per group, pg_derived.h */
        return RF_OK;
    default:
        snprintf(w->err, sizeof(w->err), "record of unknown kind %d", (int)r->kind);
        return RF_EINVAL;
    }
}

/* Queues SAVEPOINT, device, store, RELEASE and a Sync for one batch. */
static int send_batch(struct pg_writer *w, struct writer_job *j, const char *now_text)
{
    const struct rf_batch *b = &j->batch;
    const struct rf_agent_info *a = &b->agent;
    char records[24];
    int rc = RF_OK;
    snprintf(records, sizeof(records), "%zu", b->n_records);
    for (int k = 0; k < C_COUNT && rc == RF_OK; k++)
        rc = pgarray_open(&w->col[k]);
    for (size_t i = 0; i < b->n_records && rc == RF_OK; i++)
        rc = add_record(w, &b->records[i]);
    for (int k = 0; k < C_COUNT && rc == RF_OK; k++)
        rc = pgarray_close(&w->col[k]);
    if (rc != RF_OK)
        return rc == RF_ENOMEM ? RF_ENOMEM : RF_EINVAL;
    const char *dev[5] = {a->device_id, a->hostname, a->os_version, a->agent_version, now_text};
    const char *store[STORE_PARAMS] = {a->device_id,   b->batch_id,      now_text,
                                       records,        a->hostname,      a->os_version,
                                       a->agent_version};
    for (int k = 0; k < C_COUNT; k++)
        store[7 + k] = w->col[k].data;
    if (send_simple(w, "SAVEPOINT batch") != RF_OK ||
        !PQsendQueryPrepared(w->conn, stmt_name[P_DEVICE], 5, dev, NULL, NULL, 0) ||
        !PQsendQueryPrepared(w->conn, stmt_name[P_STORE], STORE_PARAMS, store, NULL, NULL, 0) ||
        send_simple(w, "RELEASE batch") != RF_OK || !PQpipelineSync(w->conn)) {
        note_error(w, NULL, "cannot send to PostgreSQL");
        return RF_ESTORAGE;
    }
    return RF_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* inserted[] from P_STORE's answer: every record is new unless the answer
 * lists the event record ids that were (fewer than the batch's events). */
static int fill_inserted(struct writer_job *j, PGresult *r)
{
    const struct rf_batch *b = &j->batch;
    free(j->inserted);
    j->inserted = malloc(b->n_records ? b->n_records : 1);
    if (!j->inserted)
        return RF_ENOMEM;
    memset(j->inserted, 1, b->n_records);
    if (PQgetisnull(r, 0, 2))
        return RF_OK;
    /* "{1,2,3}": the ids that were inserted, each at most once */
    const char *p = PQgetvalue(r, 0, 2);
    size_t cap = b->n_records ? b->n_records : 1, n = 0;
    int64_t *ids = malloc(cap * sizeof(*ids));
    uint8_t *used = calloc(cap, 1);
    if (!ids || !used) {
        free(ids);
        free(used);
        return RF_ENOMEM;
    }
    while (*p && n < cap) {
        if (*p == '{' || *p == ',') {
            p++;
            continue;
        }
        if (*p == '}')
            break;
        char *end;
        ids[n++] = strtoll(p, &end, 10);
        p = end;
    }
    qsort(ids, n, sizeof(*ids), cmp_i64);
    for (size_t i = 0; i < b->n_records; i++) {
        if (b->records[i].kind != RF_KIND_RAS_EVENT)
            continue;
        int64_t rid = b->records[i].u.ev.record_id;
        int64_t *hit = bsearch(&rid, ids, n, sizeof(*ids), cmp_i64);
        size_t at = hit ? (size_t)(hit - ids) : 0;
        j->inserted[i] = hit && !used[at];
        if (hit)
            used[at] = 1;
    }
    free(ids);
    free(used);
    return RF_OK;
}

/* Reads one batch's results: SAVEPOINT, device, store, RELEASE, Sync. */
static int read_batch(struct pg_writer *w, struct writer_job *j)
{
    PGresult *dev = NULL, *store = NULL;
    int rc = RF_OK, index = 0;
    for (;;) {
        PGresult *r = next_result(w);
        if (!r) {
            note_error(w, NULL, "connection lost");
            rc = RF_ESTORAGE;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_FATAL_ERROR && rc == RF_OK)
            rc = note_error(w, r, "database error") ? RF_ESTORAGE : RF_EINVAL;
        if (st == PGRES_TUPLES_OK && index == 1)
            dev = r;
        else if (st == PGRES_TUPLES_OK && index == 2)
            store = r;
        else
            PQclear(r);
        index++;
    }
    if (rc == RF_OK && (!store || PQntuples(store) != 1)) {
        snprintf(w->err, sizeof(w->err), "unexpected answer to the batch insert");
        rc = RF_ESTORAGE;
    }
    if (rc == RF_OK) {
        j->res.status = RF_OK;
        j->res.accepted = j->batch.n_records;
        j->res.duplicate = PQgetisnull(store, 0, 0);
        j->created_device = dev && PQntuples(dev) == 1;
        if (!j->res.duplicate) {
            j->device_row = strtoll(PQgetvalue(store, 0, 0), NULL, 10);
            rc = fill_inserted(j, store);
        }
    }
    PQclear(dev);
    PQclear(store);
    return rc;
}

/* After batch `bad` failed: reads what was sent after it (the aborted
 * transaction refused it all), returns the transaction to the batch's
 * savepoint. */
static int recover_after(struct pg_writer *w, size_t in_flight)
{
    char keep[sizeof(w->err)];
    memcpy(keep, w->err, sizeof(keep));
    for (size_t i = 0; i < in_flight; i++)
        if (read_to_sync(w, NULL, 0, 0) == RF_ESTORAGE && PQstatus(w->conn) != CONNECTION_OK)
            return RF_ESTORAGE;
    int rc = RF_OK;
    if (send_simple(w, "ROLLBACK TO batch") != RF_OK || send_simple(w, "RELEASE batch") != RF_OK)
        rc = RF_ESTORAGE;
    if (rc == RF_OK)
        rc = sync_and_read(w, NULL, -1);
    memcpy(w->err, keep, sizeof(keep));
    return rc == RF_OK ? RF_OK : RF_ESTORAGE;
}

static void fail_job(struct writer_job *j, int status, const char *msg)
{
    j->res.status = status;
    j->res.duplicate = false;
    snprintf(j->res.message, sizeof(j->res.message), "%s", msg);
}

static size_t job_records(const struct writer_job *j)
{
    return j->batch.n_records ? j->batch.n_records : 1;
}

/* Sends and reads every batch of jobs[] inside the open transaction, at
 * most PIPELINE_BATCHES / PIPELINE_RECORDS in flight. A batch refused for
 * its own reason is failed alone and the ones sent after it again. */
static int store_batches(struct pg_writer *w, struct writer_job **jobs, size_t n, int64_t now)
{
    char now_text[24];
    snprintf(now_text, sizeof(now_text), "%" PRId64, now);
    size_t sent = 0, done = 0, in_flight = 0, flight_records = 0;
    while (done < n) {
        while (sent < n && (in_flight == 0 || (in_flight < PIPELINE_BATCHES &&
                                               flight_records + job_records(jobs[sent]) <=
                                                   PIPELINE_RECORDS))) {
            struct writer_job *j = jobs[sent++];
            int rc = send_batch(w, j, now_text);
            if (rc == RF_ESTORAGE)
                return rc;
            j->unsent = rc != RF_OK;
            if (j->unsent) { /* could not be encoded: fails alone, never sent */
                log_error("batch %s of device %s not stored: %s", j->batch.batch_id,
                          j->batch.agent.device_id, w->err);
                fail_job(j, rc == RF_ENOMEM ? RF_ESTORAGE : RF_EINVAL, w->err);
                continue;
            }
            in_flight++;
            flight_records += job_records(j);
        }
        struct writer_job *j = jobs[done++];
        if (j->unsent)
            continue;
        int rc = read_batch(w, j);
        in_flight--;
        flight_records -= job_records(j);
        if (rc == RF_ESTORAGE || rc == RF_ENOMEM)
            return RF_ESTORAGE;
        if (rc == RF_EINVAL) {
            log_error("batch %s of device %s refused by the database: %s", j->batch.batch_id,
                      j->batch.agent.device_id, w->err);
            fail_job(j, RF_EINVAL, w->err);
            if (recover_after(w, in_flight) != RF_OK)
                return RF_ESTORAGE;
            sent = done; /* the batches after it ran in the aborted transaction */
            in_flight = flight_records = 0;
        }
    }
    return RF_OK;
}

static int cmp_job(const void *a, const void *b)
{
    const struct writer_job *x = *(const struct writer_job *const *)a, *y = *(const struct writer_job *const *)b;
    int c = strcmp(x->batch.agent.device_id, y->batch.agent.device_id);
    return c ? c : strcmp(x->batch.batch_id, y->batch.batch_id);
}

/* BEGIN, the transaction's id when the tail wants it (its rows are applied
 * by the commit hook, so the tail skips them; *txid 0 otherwise), and the
 * previous agent totals of the group's reporting devices (read and
 * locked), in one round trip. The id is noted before any COMMIT can make
 * the rows visible to the tail. */
static int begin_group(struct pg_writer *w, struct writer_job *const *jobs, size_t n,
                       int64_t *txid)
{
    bool any = false;
    PGresult *got[2] = {NULL, NULL}; /* xid, previous totals */
    *txid = 0;
    int rc = pg_derived_status_devices(&w->derived, jobs, n, &any);
    if (rc != RF_OK) {
        snprintf(w->err, sizeof(w->err), "out of memory for agent status");
        return RF_ESTORAGE;
    }
    const char *param[1] = {w->derived.uids.data};
    bool want_xid = w->tx_hook != NULL;
    if (send_simple(w, "BEGIN") != RF_OK ||
        (want_xid && send_simple(w, "SELECT pg_current_xact_id()::text::bigint") != RF_OK) ||
        (any && !PQsendQueryPrepared(w->conn, stmt_name[P_PREV], 1, param, NULL, NULL, 0))) {
        note_error(w, NULL, "cannot send to PostgreSQL");
        return RF_ESTORAGE;
    }
    rc = want_xid ? sync_and_read_n(w, got, 1, 2) : sync_and_read_n(w, got + 1, 1, 1);
    if (rc == RF_OK && pg_derived_set_previous(&w->derived, got[1]) != RF_OK) {
        snprintf(w->err, sizeof(w->err), "out of memory for agent status");
        rc = RF_ESTORAGE;
    }
    if (rc == RF_OK && want_xid) {
        int64_t id = got[0] && PQntuples(got[0]) == 1 ? strtoll(PQgetvalue(got[0], 0, 0), NULL, 10)
                                                     : 0;
        if (id <= 0 || w->tx_hook(w->tx_hook_arg, id, true) != RF_OK) {
            snprintf(w->err, sizeof(w->err), "cannot note the transaction id");
            w->retryable = false;
            rc = RF_ESTORAGE;
        } else {
            *txid = id;
        }
    }
    PQclear(got[0]);
    PQclear(got[1]);
    return rc;
}

/* What the stored batches derive (pg_derived.h), then COMMIT. */
static int commit_group(struct pg_writer *w, struct writer_job *const *arrival, size_t n,
                        int64_t now)
{
    int rc = pg_derived_build(&w->derived, arrival, n, &w->dict_cache, now);
    if (rc != RF_OK) {
        snprintf(w->err, sizeof(w->err), "%s",
                 rc == RF_ENOMEM ? "out of memory for the rollups"
                                 : "rollups: a connection name missing from the dictionary");
        return RF_ESTORAGE;
    }
    const char *params[PG_DERIVED_PARAMS];
    pg_derived_params(&w->derived, params);
    if ((w->derived.has_rows && !PQsendQueryPrepared(w->conn, stmt_name[P_DERIVED],
                                                     PG_DERIVED_PARAMS, params, NULL, NULL, 0)) ||
        send_simple(w, "COMMIT") != RF_OK) {
        note_error(w, NULL, "cannot send to PostgreSQL");
        return RF_ESTORAGE;
    }
    return sync_and_read(w, NULL, -1);
}

/* One attempt at the whole group: RF_OK (committed; jobs carry their own
 * results) or RF_ESTORAGE (nothing committed; w->err says why). jobs[] is
 * in (device, batch) order, arrival[] the same jobs in arrival order. */
static int write_group(struct pg_writer *w, struct writer_job **jobs,
                       struct writer_job *const *arrival, size_t n, int64_t now)
{
    char err[sizeof(w->err)];
    if (!w->conn && connect_db(w, err, sizeof(err)) != RF_OK) {
        snprintf(w->err, sizeof(w->err), "%s", err);
        w->retryable = false;
        return RF_ESTORAGE;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&jobs[i]->res, 0, sizeof(jobs[i]->res));
        jobs[i]->created_device = false;
        jobs[i]->device_row = 0;
    }
    if (!PQenterPipelineMode(w->conn)) {
        note_error(w, NULL, "cannot enter pipeline mode");
        return RF_ESTORAGE;
    }
    int rc = resolve_dict(w, jobs, n);
    int64_t txid = 0;
    if (rc == RF_OK)
        rc = begin_group(w, jobs, n, &txid);
    if (rc == RF_OK)
        rc = store_batches(w, jobs, n, now);
    if (rc == RF_OK && (rc = commit_group(w, arrival, n, now)) == RF_EINVAL)
        log_error("PostgreSQL refused the group's commit: %s", w->err);
    if (rc == RF_OK && !PQexitPipelineMode(w->conn))
        rc = RF_ESTORAGE;
    if (rc != RF_OK) {
        disconnect(w); /* rolls back; the next attempt reconnects */
        if (txid)
            w->tx_hook(w->tx_hook_arg, txid, false);
        return RF_ESTORAGE;
    }
    return RF_OK;
}

static void call_hook(struct pg_writer *w, struct writer_job *group, int64_t now)
{
    const struct rf_batch *stored[GROUP_BATCHES_MAX];
    const uint8_t *inserted[GROUP_BATCHES_MAX];
    size_t n = 0;
    for (struct writer_job *j = group; j; j = j->next) {
        if (j->res.status == RF_OK && !j->res.duplicate) {
            inserted[n] = j->inserted;
            stored[n++] = &j->batch;
        }
    }
    if (n)
        w->hook(w->hook_arg, stored, inserted, n, now);
}

/* writer_queue_ops.process */
static void process_group(void *owner, struct writer_job *group)
{
    struct pg_writer *w = owner;
    int64_t t0 = time_mono_ns(), now = time_now_ms();
    struct writer_job *jobs[GROUP_BATCHES_MAX], *arrival[GROUP_BATCHES_MAX];
    size_t n = 0;
    for (struct writer_job *j = group; j && n < GROUP_BATCHES_MAX; j = j->next)
        arrival[n] = jobs[n] = j, n++;
    qsort(jobs, n, sizeof(*jobs), cmp_job);
    int rc = RF_ESTORAGE;
    for (int attempt = 0; attempt < GROUP_ATTEMPTS; attempt++) {
        if ((rc = write_group(w, jobs, arrival, n, now)) == RF_OK || !w->retryable)
            break;
        log_warn("group of %zu batches rolled back (%s); retrying", n, w->err);
    }
    if (rc != RF_OK) {
        writer_queue_set_commit_ok(&w->q, false);
        w->next_probe_ms = time_now_ms() + 1000;
        metrics_count_storage_error();
        log_error("group of %zu batches not stored: %s", n, w->err);
        for (size_t i = 0; i < n; i++)
            fail_job(jobs[i], RF_ESTORAGE, "the database is unavailable; retry later");
        return;
    }
    uint64_t kinds[RF_KIND_COUNT] = {0};
    size_t n_records = 0;
    int64_t new_devices = 0;
    for (size_t i = 0; i < n; i++) {
        struct writer_job *j = jobs[i];
        if (j->res.status != RF_OK)
            continue;
        metrics_count_batch(j->res.duplicate);
        if (j->res.duplicate)
            continue;
        n_records += j->batch.n_records;
        new_devices += j->created_device;
        for (size_t k = 0; k < j->batch.n_records; k++)
            kinds[j->batch.records[k].kind] += j->inserted[k];
    }
    metrics_observe_commit((double)(time_mono_ns() - t0) / 1e9, n, n_records);
    for (int k = 0; k < RF_KIND_COUNT; k++)
        metrics_count_records((enum rf_kind)k, kinds[k]);
    pthread_mutex_lock(&w->q.lock);
    writer_queue_commit_ok_locked(&w->q, true);
    w->devices_known += new_devices;
    w->cache_bytes = strmap_bytes(&w->dict_cache);
    pthread_mutex_unlock(&w->q.lock);
    if (w->hook)
        call_hook(w, group, now);
}

/* ---- housekeeping ---- */

/* Deletes rows older than their retention (raw rows: retention_days;
 * daily rollups: rollup_retention_days) RETENTION_STEP_ROWS per statement
 * (each its own transaction), yielding to queued batches after the first
 * step. Returns true when finished. */
static bool retention_run(struct pg_writer *w)
{
    bool finished = true, stepped = false;
    int64_t now = time_now_ms();
    uint64_t total = 0;
    for (size_t i = 0; i < retention_n_steps && finished; i++) {
        const struct retention_step *rs = &retention_steps[i];
        int days = retention_days_of(rs, w->cfg.retention_days, w->cfg.rollup_retention_days);
        if (days <= 0)
            continue;
        char p1[24], p2[24];
        snprintf(p1, sizeof(p1), "%" PRId64, retention_cutoff(rs, now, days));
        snprintf(p2, sizeof(p2), "%d", RETENTION_STEP_ROWS);
        const char *params[2] = {p1, p2};
        const Oid types[2] = {20, 20};
        for (;;) {
            if (stepped && writer_queue_has_work(&w->q)) {
                finished = false;
                break;
            }
            PGresult *r = PQexecParams(w->conn, rs->sql, 2, types, params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                log_warn("retention step failed: %s", PQresultErrorMessage(r));
                PQclear(r);
                return true;
            }
            long changed = strtol(PQcmdTuples(r), NULL, 10);
            PQclear(r);
            total += (uint64_t)changed;
            stepped = stepped || changed > 0;
            if (changed < RETENTION_STEP_ROWS)
                break;
        }
    }
    if (total) {
        metrics_count_retention(total);
        log_info("retention: deleted %llu rows (raw rows older than %d days, rollups older"
                 " than %d days; 0 = kept)",
                 (unsigned long long)total, w->cfg.retention_days, w->cfg.rollup_retention_days);
    }
    return finished;
}

/* After a storage error: reconnect, then a tiny write; success marks
 * storage healthy, failure drops the connection again. */
static void health_probe(struct pg_writer *w)
{
    char err[200];
    if (!w->conn && connect_db(w, err, sizeof(err)) != RF_OK)
        return;
    PGresult *r = PQexec(w->conn, "INSERT INTO meta VALUES('heartbeat', now()::text)"
                                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        writer_queue_probe_ok(&w->q);
        log_info("PostgreSQL accepts writes again");
    } else {
        disconnect(w); /* session settings (read-only) are fixed at connect */
    }
}

/* writer_queue_ops.housekeeping */
static void housekeeping(void *owner)
{
    struct pg_writer *w = owner;
    int64_t now = time_now_ms();
    bool healthy = writer_queue_healthy(&w->q);
    if (!healthy || !w->conn) {
        if (now >= w->next_probe_ms) {
            health_probe(w);
            w->next_probe_ms = now + 1000;
        }
        return;
    }
    if (w->auth && now >= w->next_token_check_ms) {
        if (pg_tokens_load(w->conn, w->auth) != RF_OK)
            log_warn("could not reload tokens: %s", PQerrorMessage(w->conn));
        w->next_token_check_ms = now + 1000;
    }
    if (now >= w->next_stats_ms) {
        refresh_stats(w);
        w->next_stats_ms = now + 5000;
    }
    if (now >= w->next_retention_ms) {
        bool finished = retention_run(w);
        w->next_retention_ms =
            now + (finished ? (int64_t)w->cfg.retention_interval_s * 1000 : 1000);
    }
}

/* ---- thread (the loop and queue policy of writer_queue.c) ---- */

static void *writer_main(void *arg)
{
    static const struct writer_queue_ops ops = {process_group, housekeeping, NULL, NULL};
    struct pg_writer *w = arg;
    writer_queue_run(&w->q, &ops, w);
    return NULL;
}

/* ---- lifecycle ---- */

static void writer_free(struct pg_writer *w)
{
    disconnect(w);
    strmap_free(&w->dict_cache);
    for (int i = 0; i < C_COUNT; i++)
        buf_free(&w->col[i]);
    buf_free(&w->scratch);
    pg_derived_free(&w->derived);
    writer_queue_destroy(&w->q);
    free(w->url);
    free(w);
}

int pg_writer_start(const struct writer_config *cfg, struct auth *auth, struct pg_writer **out,
                    char *errbuf, size_t errlen)
{
    struct pg_writer *w = calloc(1, sizeof(*w));
    int rc = RF_ENOMEM;
    if (!w)
        return RF_ENOMEM;
    w->cfg = *cfg;
    w->auth = auth;
    writer_queue_init(&w->q, cfg, GROUP_BATCHES_MAX);
    strmap_init(&w->dict_cache);
    for (int i = 0; i < C_COUNT; i++)
        buf_init(&w->col[i]);
    buf_init(&w->scratch);
    pg_derived_init(&w->derived);
    if (!(w->url = strdup(cfg->db_path)))
        goto fail;
    /* The first connection must work: a wrong URL or password is a
     * configuration error to report at start, not a 503 forever. */
    if ((rc = connect_db(w, errbuf, errlen)) != RF_OK)
        goto fail;
    refresh_stats(w);
    w->next_stats_ms = time_now_ms() + 5000;
    if (w->auth && (rc = pg_tokens_load(w->conn, w->auth)) != RF_OK) {
        pg_store_error(w->conn, "cannot load tokens", errbuf, errlen);
        goto fail;
    }
    w->next_token_check_ms = time_now_ms() + 1000;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(errbuf, errlen, "cannot start the writer thread");
        rc = RF_EIO;
        goto fail;
    }
    *out = w;
    return RF_OK;
fail:
    writer_free(w);
    return rc;
}

void pg_writer_set_commit_hook(struct pg_writer *w, writer_commit_hook_fn fn, void *arg)
{
    w->hook = fn;
    w->hook_arg = arg;
}

void pg_writer_set_tx_hook(struct pg_writer *w, writer_tx_hook_fn fn, void *arg)
{
    w->tx_hook = fn;
    w->tx_hook_arg = arg;
}

int pg_writer_submit(struct pg_writer *w, struct rf_batch *batch, size_t bytes,
                     writer_done_fn done, void *arg)
{
    return writer_queue_submit(&w->q, batch, bytes, done, arg);
}

void pg_writer_get_stats(struct pg_writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->q.lock);
    writer_queue_stats_locked(&w->q, out);
    out->devices_known = w->devices_known;
    out->cache_bytes = w->cache_bytes;
    out->database_bytes = w->database_bytes;
    pthread_mutex_unlock(&w->q.lock);
}

void pg_writer_stop(struct pg_writer *w)
{
    if (!w)
        return;
    writer_queue_stop(&w->q);
    pthread_join(w->thread, NULL);
    writer_free(w);
}
