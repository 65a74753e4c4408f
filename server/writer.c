/*
 * writer.c - writer thread, bounded queue, group commit, dedupe, daily
 * rollups, retention. See writer.h for the contract.
 *
 * Invariants:
 * - Only this thread writes through `db`.
 * - A done callback with RF_OK is issued only after COMMIT returned OK and
 *   a sync of the WAL that began after it succeeded (sync_wal, walsync.h:
 *   the connection commits with synchronous=NORMAL).
 * - The id caches (dictionary strings, devices) only ever hold ids that are
 *   committed or belong to the open transaction; every ROLLBACK clears them.
 * - Each batch runs inside its own SAVEPOINT, so a batch the database
 *   refuses for a reason of its own fails alone (500) while a storage error
 *   (full, read-only, I/O) fails the whole group (503, the agent retries).
 * - A batch's rollup rows (rollup.h) are upserted inside its SAVEPOINT and
 *   count exactly the events it inserted: an event already stored under
 *   the same device and record id adds nothing, and a refused batch's rows
 *   go with its savepoint.
 */
#include "writer.h"
#include "agentloss.h"
#include "batch_json.h"
#include "buf.h"
#include "checkpointer.h"
#include "dburl.h"
#include "event_message.h"
#include "log.h"
#include "metrics.h"
#include "pg_writer.h"
#include "rasfleet/result.h"
#include "retention.h"
#include "rollup.h"
#include "store.h"
#include "strmap.h"
#include "timeutil.h"
#include "walsync.h"
#include "writer_queue.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DICT_CACHE_MAX 2000000
#define DEVICE_CACHE_MAX 1000000
#define RETENTION_STEP_ROWS 2000
#define GROUP_BATCHES_MAX 512

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_DEV_SELECT,
    ST_DEV_INSERT,
    ST_DEV_UPDATE,
    ST_BATCH_INSERT,
    ST_DICT_SELECT,
    ST_DICT_INSERT,
    ST_EVENT_INSERT,
    ST_IFACE_INSERT,
    ST_PBK_INSERT,
    ST_POLICY_INSERT,
    ST_STATUS_SELECT,
    ST_STATUS_UPSERT,
    ST_LOSS_INSERT,
    ST_ROLLUP_ATTEMPTS,
    ST_ROLLUP_FAILURES,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT batch",
    [ST_RELEASE] = "RELEASE batch",
    [ST_ROLLBACK_TO] = "ROLLBACK TO batch",
    [ST_DEV_SELECT] = "SELECT id FROM devices WHERE uid = ?",
    [ST_DEV_INSERT] = "INSERT INTO devices(uid, hostname, os_version, agent_version, first_seen,"
                      " last_seen) VALUES(?,?,?,?,?,?)",
    [ST_DEV_UPDATE] = "UPDATE devices SET last_seen = max(last_seen, ?2),"
                      " hostname = coalesce(?3, hostname), os_version = coalesce(?4, os_version),"
                      " agent_version = coalesce(?5, agent_version) WHERE id = ?1",
    [ST_BATCH_INSERT] = "INSERT OR IGNORE INTO batches(device, uid, received, records)"
                        " VALUES(?,?,?,?)",
    [ST_DICT_SELECT] = "SELECT id FROM dict WHERE s = ?",
    [ST_DICT_INSERT] = "INSERT INTO dict(s) VALUES(?)",
    [ST_EVENT_INSERT] = "INSERT OR IGNORE INTO events(device, time, received, event_id,"
                        " record_id, level, user, connection, error_code, reason_code, coid,"
                        " message, message_template) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_IFACE_INSERT] = "INSERT INTO iface_metrics(device, time, alias, ifindex, family, metric,"
                        " automatic, connected, if_type, mtu) VALUES(?,?,?,?,?,?,?,?,?,?)",
    [ST_PBK_INSERT] = "INSERT INTO pbk_entries(device, time, scope, connection, settings)"
                      " VALUES(?,?,?,?,?)",
    [ST_POLICY_INSERT] = "INSERT INTO vpn_policies(device, time, connection, server, tunnel_type,"
                         " auth_method, split_tunneling, device_tunnel, dns_suffix, ipsec)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?)",
    [ST_STATUS_SELECT] = "SELECT dropped_batches_total, coalesce(dropped_records_total, 0),"
                         " coalesce(rejected_batches_total, 0) FROM agent_status WHERE device = ?",
    [ST_STATUS_UPSERT] =
        AGENTLOSS_STATUS_INSERT_SQL
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,1)"
        AGENTLOSS_STATUS_REPLACE_SQL
        " reports = agent_status.reports + 1",
    [ST_LOSS_INSERT] = "INSERT INTO agent_losses(device, time, received, dropped_batches,"
                       " dropped_records, rejected_batches) VALUES(?,?,?,?,?,?)",
    [ST_ROLLUP_ATTEMPTS] = ROLLUP_UPSERT_ATTEMPTS_SQL,
    [ST_ROLLUP_FAILURES] = ROLLUP_UPSERT_FAILURES_SQL,
};

struct writer {
    struct pg_writer *pg; /* PostgreSQL backend: every call below is forwarded */
    struct writer_config cfg;
    char *db_path;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct auth *auth;
    writer_commit_hook_fn hook;
    void *hook_arg;
    struct checkpointer *checkpointer;
    struct walsync walsync; /* the answering thread's (sync_wal) */

    pthread_t thread;
    struct writer_queue q;  /* its lock also guards the three below */
    int64_t devices_known;  /* guarded by q.lock */
    size_t cache_bytes;     /* guarded by q.lock */

    /* writer-thread state */
    struct strmap dict_cache;
    struct strmap device_cache;
    struct buf scratch;
    struct rollup_batch rollup; /* the current batch's outcome events */
    int data_version;
    int64_t next_retention_ms;
    int64_t next_probe_ms;
    int64_t next_token_check_ms;
    int wal_frames; /* frames in the WAL after the last commit (wal_committed) */
    uint64_t wal_wraps; /* guarded by q.lock */
};

/* By default the WAL wraps once it holds this many frames (16.5 MiB of 4 KiB
 * pages). */
#define WAL_WRAP_FRAMES 4096

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int run(struct writer *w, enum stmt_id id)
{
    return step_reset(w->st[id]);
}

static void clear_caches(struct writer *w)
{
    strmap_clear(&w->dict_cache);
    strmap_clear(&w->device_cache);
}

/* Id of a dictionary string (inserted when new); 0 for NULL strings. */
static int dict_id(struct writer *w, const char *s, int64_t *out)
{
    if (!s) {
        *out = 0;
        return SQLITE_OK;
    }
    if (strmap_get(&w->dict_cache, s, out))
        return SQLITE_OK;
    sqlite3_stmt *sel = w->st[ST_DICT_SELECT];
    sqlite3_bind_text(sel, 1, s, -1, SQLITE_STATIC);
    int rc = sqlite3_step(sel);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(sel, 0);
        rc = SQLITE_OK;
    }
    sqlite3_reset(sel);
    sqlite3_clear_bindings(sel);
    if (rc == SQLITE_DONE) {
        sqlite3_bind_text(w->st[ST_DICT_INSERT], 1, s, -1, SQLITE_STATIC);
        rc = run(w, ST_DICT_INSERT);
        if (rc != SQLITE_DONE)
            return rc;
        *out = sqlite3_last_insert_rowid(w->db);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        return rc;
    if (w->dict_cache.len >= DICT_CACHE_MAX)
        strmap_clear(&w->dict_cache);
    if (strmap_put(&w->dict_cache, s, *out) != RF_OK)
        strmap_clear(&w->dict_cache);
    return SQLITE_OK;
}

static void bind_opt_id(sqlite3_stmt *st, int col, int64_t id)
{
    if (id)
        sqlite3_bind_int64(st, col, id);
    else
        sqlite3_bind_null(st, col);
}

static void bind_opt_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

/* Finds or creates the device row and refreshes its metadata. */
static int device_id(struct writer *w, const struct rf_agent_info *a, int64_t now, int64_t *out,
                     bool *created)
{
    int rc;
    *created = false;
    if (!strmap_get(&w->device_cache, a->device_id, out)) {
        sqlite3_stmt *sel = w->st[ST_DEV_SELECT];
        sqlite3_bind_text(sel, 1, a->device_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(sel);
        if (rc == SQLITE_ROW)
            *out = sqlite3_column_int64(sel, 0);
        sqlite3_reset(sel);
        sqlite3_clear_bindings(sel);
        if (rc == SQLITE_DONE) {
            sqlite3_stmt *ins = w->st[ST_DEV_INSERT];
            sqlite3_bind_text(ins, 1, a->device_id, -1, SQLITE_STATIC);
            bind_opt_text(ins, 2, a->hostname);
            bind_opt_text(ins, 3, a->os_version);
            bind_opt_text(ins, 4, a->agent_version);
            sqlite3_bind_int64(ins, 5, now);
            sqlite3_bind_int64(ins, 6, now);
            rc = step_reset(ins);
            if (rc != SQLITE_DONE)
                return rc;
            *out = sqlite3_last_insert_rowid(w->db);
            *created = true;
        } else if (rc != SQLITE_ROW) {
            return rc;
        }
        if (w->device_cache.len >= DEVICE_CACHE_MAX)
            strmap_clear(&w->device_cache);
        if (strmap_put(&w->device_cache, a->device_id, *out) != RF_OK)
            strmap_clear(&w->device_cache);
    }
    return SQLITE_OK;
}

static int touch_device(struct writer *w, int64_t dev, const struct rf_agent_info *a, int64_t now)
{
    sqlite3_stmt *up = w->st[ST_DEV_UPDATE];
    sqlite3_bind_int64(up, 1, dev);
    sqlite3_bind_int64(up, 2, now);
    bind_opt_text(up, 3, a->hostname);
    bind_opt_text(up, 4, a->os_version);
    bind_opt_text(up, 5, a->agent_version);
    int rc = step_reset(up);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_event(struct writer *w, int64_t dev, int64_t now, const struct rf_record *r,
                        bool *inserted)
{
    const struct rf_ras_event *e = &r->u.ev;
    int64_t user, conn;
    int rc;
    if ((rc = dict_id(w, e->user, &user)) != SQLITE_OK ||
        (rc = dict_id(w, e->connection, &conn)) != SQLITE_OK)
        return rc;
    sqlite3_stmt *st = w->st[ST_EVENT_INSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, e->event_id);
    sqlite3_bind_int64(st, 5, e->record_id);
    sqlite3_bind_int(st, 6, e->level);
    sqlite3_bind_int64(st, 7, user);
    sqlite3_bind_int64(st, 8, conn);
    if (e->has_error_code)
        sqlite3_bind_int64(st, 9, e->error_code);
    if (e->has_reason_code)
        sqlite3_bind_int64(st, 10, e->reason_code);
    bind_opt_text(st, 11, e->coid);
    /* a message that is its catalogue text is stored as a mark (event_message.h) */
    if (event_message_is_template(e))
        sqlite3_bind_int(st, 13, EVENT_MESSAGE_TEMPLATE_EN);
    else
        bind_opt_text(st, 12, e->message);
    rc = step_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    *inserted = sqlite3_changes(w->db) > 0;
    if (*inserted && rollup_batch_add(&w->rollup, dev, r->time_ms, e->event_id, conn,
                                      e->has_error_code, e->error_code) != RF_OK)
        return SQLITE_NOMEM;
    return SQLITE_OK;
}

static int insert_iface(struct writer *w, int64_t dev, const struct rf_record *r)
{
    const struct rf_iface_metric *m = &r->u.ifm;
    int64_t alias;
    int rc = dict_id(w, m->alias, &alias);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *st = w->st[ST_IFACE_INSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, alias);
    sqlite3_bind_int64(st, 4, m->index);
    sqlite3_bind_int(st, 5, m->family);
    sqlite3_bind_int64(st, 6, m->metric);
    sqlite3_bind_int(st, 7, m->automatic);
    sqlite3_bind_int(st, 8, m->connected);
    sqlite3_bind_int(st, 9, m->if_type);
    if (m->has_mtu)
        sqlite3_bind_int64(st, 10, m->mtu);
    rc = step_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_pbk(struct writer *w, int64_t dev, const struct rf_record *r)
{
    const struct rf_pbk_entry *p = &r->u.pbk;
    int64_t conn, settings;
    int rc;
    /* Canonical JSON of the settings, stored once in dict per distinct
     * content: the common case across a fleet with one profile. */
    buf_reset(&w->scratch);
    if (pbk_settings_encode_json(p, &w->scratch) != RF_OK)
        return SQLITE_NOMEM;
    if ((rc = dict_id(w, p->connection, &conn)) != SQLITE_OK ||
        (rc = dict_id(w, w->scratch.data, &settings)) != SQLITE_OK)
        return rc;
    sqlite3_stmt *st = w->st[ST_PBK_INSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int(st, 3, p->scope);
    sqlite3_bind_int64(st, 4, conn);
    sqlite3_bind_int64(st, 5, settings);
    rc = step_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_policy(struct writer *w, int64_t dev, const struct rf_record *r)
{
    const struct rf_vpn_policy *p = &r->u.pol;
    int64_t conn, server, tunnel, auth, suffix, ipsec = 0;
    int rc;
    if ((rc = dict_id(w, p->connection, &conn)) != SQLITE_OK ||
        (rc = dict_id(w, p->server, &server)) != SQLITE_OK ||
        (rc = dict_id(w, p->tunnel_type, &tunnel)) != SQLITE_OK ||
        (rc = dict_id(w, p->auth_method, &auth)) != SQLITE_OK ||
        (rc = dict_id(w, p->dns_suffix, &suffix)) != SQLITE_OK)
        return rc;
    if (p->has_ipsec) {
        buf_reset(&w->scratch);
        if (ipsec_policy_encode_json(&p->ipsec, &w->scratch) != RF_OK)
            return SQLITE_NOMEM;
        if ((rc = dict_id(w, w->scratch.data, &ipsec)) != SQLITE_OK)
            return rc;
    }
    sqlite3_stmt *st = w->st[ST_POLICY_INSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, conn);
    sqlite3_bind_int64(st, 4, server);
    sqlite3_bind_int64(st, 5, tunnel);
    sqlite3_bind_int64(st, 6, auth);
    sqlite3_bind_int(st, 7, p->split_tunneling);
    sqlite3_bind_int(st, 8, p->device_tunnel);
    bind_opt_id(st, 9, suffix);
    bind_opt_id(st, 10, ipsec);
    rc = step_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_opt_int(sqlite3_stmt *st, int col, bool present, int64_t v)
{
    if (present)
        sqlite3_bind_int64(st, col, v);
    else
        sqlite3_bind_null(st, col);
}

/* The device's previous totals, or *found = false before its first report. */
static int status_totals(struct writer *w, int64_t dev, struct agentloss_totals *out, bool *found)
{
    sqlite3_stmt *sel = w->st[ST_STATUS_SELECT];
    sqlite3_bind_int64(sel, 1, dev);
    int rc = sqlite3_step(sel);
    *found = rc == SQLITE_ROW;
    if (*found) {
        out->dropped_batches = sqlite3_column_int64(sel, 0);
        out->dropped_records = sqlite3_column_int64(sel, 1);
        out->rejected_batches = sqlite3_column_int64(sel, 2);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(sel);
    sqlite3_clear_bindings(sel);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Replaces the device's latest status and logs what it lost since the
 * previous report (agentloss.h; the hot aggregate computes the same). */
static int insert_status(struct writer *w, int64_t dev, int64_t now, const struct rf_record *r)
{
    const struct rf_agent_status *s = &r->u.st;
    struct agentloss_totals prev, cur;
    struct agentloss loss;
    bool found;
    int rc = status_totals(w, dev, &prev, &found);
    if (rc != SQLITE_OK)
        return rc;
    agentloss_totals_of(s, &cur);
    agentloss_between(found ? &prev : NULL, &cur, &loss);
    sqlite3_stmt *st = w->st[ST_STATUS_UPSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, now);
    bind_opt_text(st, 4, s->agent_version);
    sqlite3_bind_int64(st, 5, s->spool_bytes);
    sqlite3_bind_int64(st, 6, s->spool_batches);
    bind_opt_int(st, 7, s->has_spool_limit, s->spool_limit_bytes);
    sqlite3_bind_int64(st, 8, s->dropped_batches_total);
    bind_opt_int(st, 9, s->has_dropped_records, s->dropped_records_total);
    bind_opt_int(st, 10, s->has_rejected_batches, s->rejected_batches_total);
    bind_opt_int(st, 11, s->has_last_success, s->last_success_ms);
    bind_opt_text(st, 12, s->last_error);
    bind_opt_int(st, 13, s->has_last_error_time, s->last_error_ms);
    bind_opt_int(st, 14, s->has_source_errors, s->source_errors);
    bind_opt_int(st, 15, loss.dropped_batches > 0, r->time_ms);
    if ((rc = step_reset(st)) != SQLITE_DONE)
        return rc;
    if (!agentloss_any(&loss))
        return SQLITE_OK;
    st = w->st[ST_LOSS_INSERT];
    sqlite3_bind_int64(st, 1, dev);
    sqlite3_bind_int64(st, 2, r->time_ms);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, loss.dropped_batches);
    sqlite3_bind_int64(st, 5, loss.dropped_records);
    sqlite3_bind_int64(st, 6, loss.rejected_batches);
    rc = step_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writes one batch inside the open transaction. Counts what it stored in
 * per_kind (only when the whole group later commits do they count). */
static int store_batch(struct writer *w, struct writer_job *job, int64_t now,
                       uint64_t per_kind[RF_KIND_COUNT], int64_t *new_devices)
{
    const struct rf_batch *b = &job->batch;
    int64_t dev;
    bool created;
    int rc = device_id(w, &b->agent, now, &dev, &created);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *bi = w->st[ST_BATCH_INSERT];
    sqlite3_bind_int64(bi, 1, dev);
    sqlite3_bind_text(bi, 2, b->batch_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(bi, 3, now);
    sqlite3_bind_int64(bi, 4, (int64_t)b->n_records);
    rc = step_reset(bi);
    if (rc != SQLITE_DONE)
        return rc;
    job->res.accepted = b->n_records;
    if (sqlite3_changes(w->db) == 0) {
        job->res.duplicate = true;
        return SQLITE_OK;
    }
    if (created)
        (*new_devices)++;
    else if ((rc = touch_device(w, dev, &b->agent, now)) != SQLITE_OK)
        return rc;
    free(job->inserted);
    job->inserted = malloc(b->n_records ? b->n_records : 1);
    if (!job->inserted)
        return SQLITE_NOMEM;
    rollup_batch_reset(&w->rollup);
    for (size_t i = 0; i < b->n_records; i++) {
        const struct rf_record *r = &b->records[i];
        bool inserted = true;
        switch (r->kind) {
        case RF_KIND_RAS_EVENT:
            rc = insert_event(w, dev, now, r, &inserted);
            break;
        case RF_KIND_IFACE_METRIC:
            rc = insert_iface(w, dev, r);
            break;
        case RF_KIND_PBK_ENTRY:
            rc = insert_pbk(w, dev, r);
            break;
        case RF_KIND_VPN_POLICY:
            rc = insert_policy(w, dev, r);
            break;
        case RF_KIND_AGENT_STATUS:
            rc = insert_status(w, dev, now, r);
            break;
        default:
            rc = SQLITE_MISUSE;
        }
        if (rc != SQLITE_OK)
            return rc;
        job->inserted[i] = inserted;
        per_kind[r->kind] += inserted;
    }
    /* the batch's new outcome events, folded by insert_event() */
    return rollup_batch_write(&w->rollup, w->st[ST_ROLLUP_ATTEMPTS],
                              w->st[ST_ROLLUP_FAILURES]);
}

static void fail_job(struct writer_job *job, int status, const char *msg)
{
    job->res.status = status;
    job->res.duplicate = false;
    snprintf(job->res.message, sizeof(job->res.message), "%s", msg);
}

/* sqlite3_wal_hook: called after each commit with the WAL's frame count.
 * Replaces SQLite's auto-checkpoint hook (checkpoints are the
 * checkpointer's and wal_wrap()'s). */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    struct writer *w = arg;
    w->wal_frames = frames;
    checkpointer_committed(w->checkpointer, frames);
    return SQLITE_OK;
}

/* Between two groups, with the WAL past WAL_WRAP_FRAMES: copies the frames
 * the checkpointer has not (a pass's worth at most, checkpointer.h), so that
 * the next transaction finds every frame copied and starts the WAL over. The
 * file is then rewritten in place (journal_size_limit keeps it at 64 MiB)
 * instead of growing. Busy (the checkpointer is mid-pass, or a reader holds
 * an old snapshot): the next group tries again. */
static void wal_wrap(struct writer *w)
{
    int frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (rc == SQLITE_OK && copied == frames) {
        metrics_count_wal_wrap((uint64_t)frames);
        w->wal_frames = 0;
        pthread_mutex_lock(&w->q.lock);
        w->wal_wraps++;
        pthread_mutex_unlock(&w->q.lock);
    }
}

/* writer_queue_ops.process */
static void process_group(void *owner, struct writer_job *group)
{
    struct writer *w = owner;
    if (w->wal_frames >= w->cfg.wal_wrap_frames)
        wal_wrap(w);
    int64_t t0 = time_mono_ns(), now = time_now_ms();
    uint64_t per_kind[RF_KIND_COUNT] = {0}, group_kind[RF_KIND_COUNT] = {0};
    int64_t new_devices = 0;
    size_t n_jobs = 0, n_records = 0;
    char err[200] = "";
    int rc = run(w, ST_BEGIN);
    if (rc != SQLITE_DONE) {
        snprintf(err, sizeof(err), "database refused the transaction: %s", sqlite3_errmsg(w->db));
        goto failed;
    }
    for (struct writer_job *j = group; j; j = j->next) {
        n_jobs++;
        memset(per_kind, 0, sizeof(per_kind));
        int64_t dev_before = new_devices;
        if (run(w, ST_SAVEPOINT) != SQLITE_DONE) {
            rc = sqlite3_errcode(w->db);
            snprintf(err, sizeof(err), "database error: %s", sqlite3_errmsg(w->db));
            run(w, ST_ROLLBACK);
            goto failed;
        }
        rc = store_batch(w, j, now, per_kind, &new_devices);
        if (rc == SQLITE_OK && run(w, ST_RELEASE) == SQLITE_DONE) {
            for (int k = 0; k < RF_KIND_COUNT; k++)
                group_kind[k] += per_kind[k];
            n_records += j->batch.n_records;
            continue;
        }
        if (rc == SQLITE_OK)
            rc = sqlite3_errcode(w->db);
        snprintf(err, sizeof(err), "database error: %s", sqlite3_errmsg(w->db));
        if (store_is_storage_error(rc)) {
            run(w, ST_ROLLBACK);
            goto failed;
        }
        /* This batch alone is refused; the others in the group go on. */
        run(w, ST_ROLLBACK_TO);
        run(w, ST_RELEASE);
        clear_caches(w);
        new_devices = dev_before;
        log_error("batch %s of device %s refused by the database: %s", j->batch.batch_id,
                  j->batch.agent.device_id, err);
        fail_job(j, RF_EINVAL, err);
    }
    rc = run(w, ST_COMMIT);
    if (rc != SQLITE_DONE) {
        snprintf(err, sizeof(err), "database refused the commit: %s", sqlite3_errmsg(w->db));
        run(w, ST_ROLLBACK);
        goto failed;
    }
    metrics_observe_commit((double)(time_mono_ns() - t0) / 1e9, n_jobs, n_records);
    for (int k = 0; k < RF_KIND_COUNT; k++)
        metrics_count_records((enum rf_kind)k, group_kind[k]);
    pthread_mutex_lock(&w->q.lock);
    writer_queue_commit_ok_locked(&w->q, true);
    w->devices_known += new_devices;
    w->cache_bytes = strmap_bytes(&w->dict_cache) + strmap_bytes(&w->device_cache);
    pthread_mutex_unlock(&w->q.lock);
    for (struct writer_job *j = group; j; j = j->next)
        j->received_ms = now;
    for (struct writer_job *j = group; j; j = j->next)
        if (j->res.status == RF_OK)
            metrics_count_batch(j->res.duplicate);
    return;
failed:
    clear_caches(w);
    writer_queue_set_commit_ok(&w->q, false);
    metrics_count_storage_error();
    log_error("group of %zu batches not stored: %s", n_jobs, err);
    for (struct writer_job *j = group; j; j = j->next)
        fail_job(j, RF_ESTORAGE, err);
}

/* ---- housekeeping ---- */

static int exec_simple(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Deletes rows older than their retention (raw rows: retention_days;
 * daily rollups: rollup_retention_days, whole days before the cutoff's) in
 * steps of a few thousand rows, each its own transaction, yielding whenever
 * batches are queued. Every call makes at least one step, so a collector
 * that is never idle still ages its data out (one step per housekeeping
 * second). Returns true when it finished, false when it yielded to queued
 * batches. */
static bool retention_run(struct writer *w)
{
    bool finished = true;
    int64_t now = time_now_ms();
    uint64_t total = 0;
    bool stepped = false;
    for (size_t i = 0; i < retention_n_steps && finished; i++) {
        const struct retention_step *rs = &retention_steps[i];
        int days = retention_days_of(rs, w->cfg.retention_days, w->cfg.rollup_retention_days);
        sqlite3_stmt *st = NULL;
        if (days <= 0)
            continue;
        if (sqlite3_prepare_v2(w->db, rs->sql, -1, &st, NULL) != SQLITE_OK)
            continue;
        int64_t cutoff = retention_cutoff(rs, now, days);
        for (;;) {
            if (stepped && writer_queue_has_work(&w->q)) {
                finished = false; /* ingest first; the rest waits for the next idle moment */
                break;
            }
            sqlite3_bind_int64(st, 1, cutoff);
            sqlite3_bind_int(st, 2, RETENTION_STEP_ROWS);
            int rc = step_reset(st);
            int changed = sqlite3_changes(w->db);
            if (rc != SQLITE_DONE) {
                log_warn("retention step failed: %s", sqlite3_errmsg(w->db));
                break;
            }
            total += (uint64_t)changed;
            stepped = stepped || changed > 0;
            if (changed < RETENTION_STEP_ROWS)
                break;
        }
        sqlite3_finalize(st);
    }
    if (total) {
        metrics_count_retention(total);
        log_info("retention: deleted %llu rows (raw rows older than %d days, rollups older"
                 " than %d days; 0 = kept)",
                 (unsigned long long)total, w->cfg.retention_days, w->cfg.rollup_retention_days);
    }
    return finished;
}

static void check_tokens(struct writer *w)
{
    sqlite3_stmt *st = NULL;
    if (!w->auth)
        return;
    if (sqlite3_prepare_v2(w->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int v = sqlite3_column_int(st, 0);
        if (v != w->data_version) {
            w->data_version = v;
            if (auth_reload(w->auth, w->db) != RF_OK)
                log_warn("could not reload tokens: %s", sqlite3_errmsg(w->db));
        }
    }
    sqlite3_finalize(st);
}

/* After a storage error: try a tiny write; success marks storage healthy. */
static void health_probe(struct writer *w)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "BEGIN IMMEDIATE; INSERT OR REPLACE INTO meta VALUES('heartbeat', '%lld'); COMMIT;",
             (long long)time_now_ms());
    char err[200];
    if (exec_simple(w->db, sql) == SQLITE_OK &&
        walsync_flush(&w->walsync, err, sizeof(err)) == RF_OK) {
        writer_queue_probe_ok(&w->q);
        log_info("storage accepts writes again");
    } else {
        exec_simple(w->db, "ROLLBACK");
    }
}

/* writer_queue_ops.committed, on the queue's answering thread before the
 * group is answered: the commit hook (the hot aggregate) sees the group's
 * new batches. Off the writer thread, so a reader holding the aggregate's
 * lock (the analyzer's recompute, tens of ms on a big fleet) delays these
 * answers but never the next commits (docs/storage.md). */
static void apply_committed(void *owner, struct writer_job *group)
{
    struct writer *w = owner;
    if (!w->hook)
        return;
    const struct rf_batch *stored[512];
    const uint8_t *inserted[512];
    size_t n = 0;
    int64_t now = 0;
    for (struct writer_job *j = group; j; j = j->next) {
        if (j->res.status == RF_OK && !j->res.duplicate) {
            inserted[n] = j->inserted;
            stored[n++] = &j->batch;
            now = j->received_ms; /* the same for the whole group */
            if (n == sizeof(stored) / sizeof(stored[0])) {
                w->hook(w->hook_arg, stored, inserted, n, now);
                n = 0;
            }
        }
    }
    if (n)
        w->hook(w->hook_arg, stored, inserted, n, now);
}

/* writer_queue_ops.flush, on the queue's answering thread */
static int sync_wal(void *owner, char *err, size_t errlen)
{
    struct writer *w = owner;
    int rc = walsync_flush(&w->walsync, err, errlen);
    if (rc != RF_OK) { /* the queue marks storage unhealthy until a flush succeeds */
        metrics_count_storage_error();
        log_error("%s", err);
    }
    return rc;
}

/* writer_queue_ops.housekeeping */
static void housekeeping(void *owner)
{
    struct writer *w = owner;
    int64_t now = time_now_ms();
    bool healthy = writer_queue_healthy(&w->q);
    if (now >= w->next_token_check_ms) {
        check_tokens(w);
        w->next_token_check_ms = now + 1000;
    }
    if (!healthy && now >= w->next_probe_ms) {
        health_probe(w);
        w->next_probe_ms = now + 2000;
    }
    if (healthy && now >= w->next_retention_ms) {
        /* Interrupted by ingest: resume at the next idle second, not a
         * whole interval later, or a busy collector would never catch up. */
        bool finished = retention_run(w);
        w->next_retention_ms = now + (finished ? (int64_t)w->cfg.retention_interval_s * 1000 : 1000);
    }
}

static void *writer_main(void *arg)
{
    static const struct writer_queue_ops ops = {process_group, housekeeping, sync_wal,
                                                apply_committed};
    struct writer *w = arg;
    pthread_setname_np(pthread_self(), "rf-writer");
    writer_queue_run(&w->q, &ops, w);
    return NULL;
}

/* ---- lifecycle ---- */

static int prepare_all(struct writer *w, char *errbuf, size_t errlen)
{
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(w->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(errbuf, errlen, "cannot prepare statement: %s", sqlite3_errmsg(w->db));
            return RF_ESTORAGE;
        }
    }
    return RF_OK;
}

static int count_devices(sqlite3 *db, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM devices", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = RF_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static void writer_free(struct writer *w)
{
    checkpointer_stop(w->checkpointer);
    walsync_free(&w->walsync);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(w->st[i]);
    if (w->db)
        sqlite3_close(w->db);
    strmap_free(&w->dict_cache);
    strmap_free(&w->device_cache);
    buf_free(&w->scratch);
    rollup_batch_free(&w->rollup);
    writer_queue_destroy(&w->q);
    free(w->db_path);
    free(w);
}

int writer_start(const struct writer_config *cfg, struct auth *auth, struct writer **out,
                 char *errbuf, size_t errlen)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return RF_ENOMEM;
    if (dburl_is_postgres(cfg->db_path)) {
        int prc = pg_writer_start(cfg, auth, &w->pg, errbuf, errlen);
        if (prc != RF_OK)
            free(w);
        else
            *out = w;
        return prc;
    }
    w->cfg = *cfg;
    if (w->cfg.wal_wrap_frames <= 0)
        w->cfg.wal_wrap_frames = WAL_WRAP_FRAMES;
    w->db_path = strdup(cfg->db_path);
    w->auth = auth;
    writer_queue_init(&w->q, cfg, GROUP_BATCHES_MAX);
    strmap_init(&w->dict_cache);
    strmap_init(&w->device_cache);
    buf_init(&w->scratch);
    rollup_batch_init(&w->rollup);
    int rc = walsync_init(&w->walsync, cfg->db_path);
    if (rc != RF_OK)
        goto fail;
    rc = store_open(cfg->db_path, STORE_READ_WRITE, &w->db, errbuf, errlen);
    if (rc != RF_OK)
        goto fail;
    if (cfg->max_db_bytes > 0) {
        char sql[96];
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
                 (long long)(cfg->max_db_bytes / 4096 > 1 ? cfg->max_db_bytes / 4096 : 1));
        exec_simple(w->db, sql);
    }
    /* checkpoints run on their own thread, off the commit path; the writer
     * wraps the WAL every wal_wrap_frames frames (see checkpointer.h) */
    exec_simple(w->db, "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;");
    /* commits are made durable by sync_wal() before they are answered */
    exec_simple(w->db, "PRAGMA synchronous=NORMAL;");
    sqlite3_wal_hook(w->db, wal_committed, w);
    struct checkpointer_config cc = {.db_path = cfg->db_path, .interval_ms = 500};
    if ((rc = checkpointer_start(&cc, &w->checkpointer, errbuf, errlen)) != RF_OK)
        goto fail;
    if ((rc = prepare_all(w, errbuf, errlen)) != RF_OK)
        goto fail;
    if ((rc = count_devices(w->db, &w->devices_known)) != RF_OK) {
        snprintf(errbuf, errlen, "cannot count devices: %s", sqlite3_errmsg(w->db));
        goto fail;
    }
    w->data_version = -1;
    check_tokens(w);
    w->next_token_check_ms = time_now_ms() + 1000;
    w->next_retention_ms = 0;
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

void writer_set_commit_hook(struct writer *w, writer_commit_hook_fn fn, void *arg)
{
    if (w->pg) {
        pg_writer_set_commit_hook(w->pg, fn, arg);
        return;
    }
    w->hook = fn;
    w->hook_arg = arg;
}

void writer_set_tx_hook(struct writer *w, writer_tx_hook_fn fn, void *arg)
{
    if (w->pg)
        pg_writer_set_tx_hook(w->pg, fn, arg);
}

int writer_submit(struct writer *w, struct rf_batch *batch, size_t bytes, writer_done_fn done,
                  void *arg)
{
    if (w->pg)
        return pg_writer_submit(w->pg, batch, bytes, done, arg);
    return writer_queue_submit(&w->q, batch, bytes, done, arg);
}

void writer_get_stats(struct writer *w, struct writer_stats *out)
{
    if (w->pg) {
        pg_writer_get_stats(w->pg, out);
        return;
    }
    pthread_mutex_lock(&w->q.lock);
    writer_queue_stats_locked(&w->q, out);
    out->devices_known = w->devices_known;
    out->cache_bytes = w->cache_bytes;
    out->wal_wraps = w->wal_wraps;
    pthread_mutex_unlock(&w->q.lock);
}

void writer_stop(struct writer *w)
{
    if (!w)
        return;
    if (w->pg) {
        pg_writer_stop(w->pg);
        free(w);
        return;
    }
    writer_queue_stop(&w->q);
    pthread_join(w->thread, NULL);
    checkpointer_stop(w->checkpointer);
    w->checkpointer = NULL;
    if (exec_simple(w->db, "PRAGMA wal_checkpoint(TRUNCATE)") != SQLITE_OK)
        log_warn("final WAL checkpoint failed: %s", sqlite3_errmsg(w->db));
    writer_free(w);
}
