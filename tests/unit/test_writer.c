/*
 * test_writer.c - unit tests for server/writer.c: the writer thread on a
 * temp database, done callbacks, dedupe, the queue bound, draining on stop,
 * the commit hook, per-batch refusals and a full database; agent_status
 * reports (latest row, losses between reports) inside the group commit.
 *
 * Determinism: whenever the test needs batches to wait in the queue, it holds
 * the database's write lock from its own connection (BEGIN IMMEDIATE) so the
 * writer blocks in its BEGIN, and releases it well inside the writer's 5 s
 * busy timeout.
 *
 * Tests named regression_* reproduce defects found while writing this suite;
 * the defects are fixed and the tests guard against their return.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "batch_json.h"
#include "buf.h"
#include "log.h"
#include "rasfleet/record.h"
#include "rasfleet/result.h"
#include "writer.h"

#define MAX_SLOTS 256

/* ---- completion tracking ---- */

struct tracker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int order[MAX_SLOTS];
    bool called[MAX_SLOTS];
    int calls[MAX_SLOTS];
    struct writer_result res[MAX_SLOTS];
    struct writer_stats stats[MAX_SLOTS]; /* writer stats seen inside done */
    struct writer *w;
    /* stop test: submit from inside the first done callback */
    struct rf_batch *resubmit;
    int resubmit_rc;
};

struct ctx {
    struct tracker *t;
    int slot;
};

struct fx {
    char dir[64];
    char path[128];
    struct writer_config cfg;
    struct writer *w;
    sqlite3 *db; /* the test's own connection */
    struct tracker t;
    struct ctx ctx[MAX_SLOTS];
};

static void on_done(void *arg, const struct writer_result *res)
{
    struct ctx *c = arg;
    struct tracker *t = c->t;
    struct writer_stats st;
    memset(&st, 0, sizeof(st));
    if (t->w)
        writer_get_stats(t->w, &st);
    int resubmit_rc = 0;
    bool did_resubmit = false;
    if (c->slot == 0 && t->resubmit) {
        resubmit_rc = writer_submit(t->w, t->resubmit, 1, on_done, c);
        did_resubmit = true;
    }
    pthread_mutex_lock(&t->mu);
    if (did_resubmit) {
        t->resubmit_rc = resubmit_rc;
        t->resubmit = NULL;
    }
    t->res[c->slot] = *res;
    t->stats[c->slot] = st;
    t->calls[c->slot]++;
    t->called[c->slot] = true;
    if (t->done < MAX_SLOTS)
        t->order[t->done] = c->slot;
    t->done++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void wait_done(struct tracker *t, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&t->mu);
    while (t->done < n) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0)
            break;
    }
    int done = t->done;
    pthread_mutex_unlock(&t->mu);
    if (done < n)
        fail_msg("only %d of %d done callbacks after 20 s", done, n);
}

static int done_count(struct tracker *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->done;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ---- fixture ---- */

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/rfwriter-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/fleet.db", f->dir);
    f->cfg.db_path = f->path;
    f->cfg.queue_batches = 64;
    f->cfg.queue_bytes = 64u << 20;
    f->cfg.group_records = 50000;
    f->cfg.retention_days = 0;
    f->cfg.max_db_bytes = 0;
    f->cfg.retention_interval_s = 3600;
    pthread_mutex_init(&f->t.mu, NULL);
    pthread_cond_init(&f->t.cv, NULL);
    for (int i = 0; i < MAX_SLOTS; i++) {
        f->ctx[i].t = &f->t;
        f->ctx[i].slot = i;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->w)
        writer_stop(f->w);
    if (f->db)
        sqlite3_close(f->db);
    pthread_mutex_destroy(&f->t.mu);
    pthread_cond_destroy(&f->t.cv);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* Starts the writer and opens the test's own connection. */
static void start_auth(struct fx *f, struct auth *auth)
{
    char err[256] = "";
    if (writer_start(&f->cfg, auth, &f->w, err, sizeof(err)) != RF_OK)
        fail_msg("writer_start: %s", err);
    f->t.w = f->w;
    if (!f->db) {
        assert_int_equal(sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE, NULL),
                         SQLITE_OK);
        sqlite3_busy_timeout(f->db, 10000);
    }
}

static void start(struct fx *f)
{
    start_auth(f, NULL);
}

static void stop(struct fx *f)
{
    writer_stop(f->w);
    f->w = NULL;
    f->t.w = NULL;
}

static int64_t q(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(f->db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        fail_msg("'%s' gave %d: %s", sql, rc, sqlite3_errmsg(f->db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void q_text(struct fx *f, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(f->db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *s = sqlite3_column_text(st, 0);
    snprintf(out, n, "%s", s ? (const char *)s : "(null)");
    sqlite3_finalize(st);
}

static void lock_db(struct fx *f)
{
    assert_int_equal(sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
}

static void unlock_db(struct fx *f)
{
    assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static void wait_queue_depth(struct fx *f, size_t depth)
{
    for (int i = 0; i < 2000; i++) {
        struct writer_stats st;
        writer_get_stats(f->w, &st);
        if (st.queue_depth == depth)
            return;
        usleep(5000);
    }
    fail_msg("queue depth never reached %zu", depth);
}

/* ---- batches ---- */

static void decode_into(const char *json, size_t len, struct rf_batch *b)
{
    struct batch_limits lim = {.max_records = 100000};
    struct batch_error err;
    if (batch_decode_json(json, len, &lim, b, &err) != RF_OK)
        fail_msg("test batch invalid: %s %s: %s", err.code, err.field, err.message);
}

/* A batch of ras_events with the given record ids. */
static void events_batch(struct rf_batch *b, const char *device, const char *batch_id,
                         const int *ids, int n, const char *user, size_t msg_len)
{
    struct buf j = BUF_INIT;
    buf_printf(&j,
               "{\"schema\":1,\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\","
               "\"hostname\":\"host-%s\"},\"records\":[",
               batch_id, device, device);
    for (int i = 0; i < n; i++) {
        buf_printf(&j,
                   "%s{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02.123Z\","
                   "\"event_id\":20227,\"record_id\":%d,\"level\":\"error\",\"user\":\"%s\","
                   "\"connection\":\"Always On VPN\",\"error_code\":809,"
                   "\"coid\":\"{COID-%d}\"",
                   i ? "," : "", ids[i], user, ids[i]);
        if (msg_len) {
            buf_append_str(&j, ",\"message\":\"");
            for (size_t k = 0; k < msg_len; k++)
                buf_append_char(&j, (char)('a' + (k + (size_t)ids[i]) % 26));
            buf_append_char(&j, '"');
        }
        buf_append_char(&j, '}');
    }
    buf_append_str(&j, "]}");
    decode_into(j.data, j.len, b);
    buf_free(&j);
}

static void simple_batch(struct rf_batch *b, const char *device, const char *batch_id,
                         int first_id, int n)
{
    int ids[512];
    assert_true(n <= 512);
    for (int i = 0; i < n; i++)
        ids[i] = first_id + i;
    events_batch(b, device, batch_id, ids, n, "CORP\\\\alice", 0);
}

#define MIXED \
    "{\"schema\":1,\"batch_id\":\"mixed-%d\",\"agent\":{\"device_id\":\"dev-mixed\"," \
    "\"hostname\":\"LT-0421\",\"os_version\":\"10.0.22631\",\"agent_version\":\"0.1.0\"}," \
    "\"records\":[" \
    "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02.123Z\",\"event_id\":20227," \
    "\"record_id\":%d,\"level\":\"error\",\"user\":\"CORP\\\\alice\"," \
    "\"connection\":\"Always On VPN\",\"error_code\":-2146762495," \
    "\"coid\":\"{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}\",\"message\":\"failed 809\"}," \
    "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:02:11.908Z\",\"event_id\":20226," \
    "\"record_id\":%d,\"level\":\"information\",\"user\":\"CORP\\\\alice\"," \
    "\"connection\":\"Always On VPN\",\"reason_code\":833}," \
    "{\"kind\":\"iface_metric\",\"time\":\"2026-11-20T08:05:00Z\",\"alias\":\"Always On VPN\"," \
    "\"index\":41,\"family\":\"ipv6\",\"metric\":25,\"automatic\":false,\"connected\":true," \
    "\"if_type\":\"vpn\",\"mtu\":1400}," \
    "{\"kind\":\"pbk_entry\",\"time\":\"2026-11-20T08:05:00Z\",\"scope\":\"user\"," \
    "\"connection\":\"Always On VPN\",\"settings\":{\"VpnStrategy\":\"14\"," \
    "\"IpInterfaceMetric\":\"3\"}}," \
    "{\"kind\":\"vpn_policy\",\"time\":\"2026-11-20T08:05:00Z\",\"connection\":\"Always On VPN\"," \
    "\"server\":\"vpn.example.net\",\"tunnel_type\":\"Ikev2\",\"auth_method\":\"Eap\"," \
    "\"split_tunneling\":true,\"device_tunnel\":false,\"ipsec\":{\"cipher_transform\":\"AES128\"," \
    "\"auth_transform\":\"SHA256128\",\"encryption_method\":\"AES128\"," \
    "\"integrity_check_method\":\"SHA256\",\"dh_group\":\"Group14\",\"pfs_group\":\"PFS2048\"}}," \
    "{\"kind\":\"vpn_policy\",\"time\":\"2026-11-20T08:05:00Z\",\"connection\":\"Legacy VPN\"," \
    "\"server\":\"vpn2.example.net\",\"tunnel_type\":\"Automatic\",\"auth_method\":\"Eap\"," \
    "\"split_tunneling\":false,\"device_tunnel\":false}" \
    "]}"

static void mixed_batch(struct rf_batch *b, int n, int rid1, int rid2)
{
    char json[4096];
    int len = snprintf(json, sizeof(json), MIXED, n, rid1, rid2);
    assert_true(len > 0 && (size_t)len < sizeof(json));
    decode_into(json, (size_t)len, b);
}

static void submit_ok(struct fx *f, struct rf_batch *b, int slot)
{
    size_t n = b->n_records;
    int rc = writer_submit(f->w, b, 1000 + n * 100, on_done, &f->ctx[slot]);
    if (rc != RF_OK)
        fail_msg("submit of slot %d gave %d", slot, rc);
    /* the writer owns the contents now: the caller's struct is reset */
    assert_int_equal(b->n_records, 0);
    assert_null(b->records);
    assert_null(b->batch_id);
}

/* ---- tests ---- */

static void test_start_stats_stop(void **state)
{
    struct fx *f = *state;
    f->cfg.queue_batches = 17;
    start(f);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.queue_capacity, 17);
    assert_int_equal(st.queue_bytes, 0);
    assert_true(st.healthy);
    assert_int_equal(st.devices_known, 0);
    assert_int_equal(q(f, "PRAGMA user_version") > 0, 1);
    stop(f);
}

static void test_start_bad_path(void **state)
{
    struct fx *f = *state;
    f->cfg.db_path = "/nonexistent-rasfleet-dir/x/fleet.db";
    struct writer *w = (struct writer *)0x1;
    char err[256] = "";
    assert_int_equal(writer_start(&f->cfg, NULL, &w, err, sizeof(err)), RF_ESTORAGE);
    assert_ptr_equal(w, (struct writer *)0x1); /* not written on failure */
    assert_non_null(strstr(err, "/nonexistent-rasfleet-dir/x/fleet.db"));
}

static void test_store_every_kind(void **state)
{
    struct fx *f = *state;
    start(f);
    struct rf_batch b;
    mixed_batch(&b, 1, 100, 101);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    assert_int_equal(f->t.res[0].status, RF_OK);
    assert_false(f->t.res[0].duplicate);
    assert_int_equal(f->t.res[0].accepted, 6);
    assert_int_equal(f->t.calls[0], 1);
    /* rows, from a separate connection */
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM devices WHERE uid='dev-mixed' AND"
                          " hostname='LT-0421' AND os_version='10.0.22631' AND"
                          " agent_version='0.1.0' AND first_seen > 0 AND last_seen >= first_seen"),
                     1);
    assert_int_equal(q(f, "SELECT count(*) FROM batches WHERE uid='mixed-1' AND records=6"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM iface_metrics"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM pbk_entries"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM vpn_policies"), 2);
    /* event columns */
    assert_int_equal(
        q(f, "SELECT count(*) FROM events e WHERE record_id=100 AND event_id=20227 AND level=2"
             " AND time=1795161662123 AND error_code=-2146762495 AND reason_code IS NULL"
             " AND coid='3F2A0C1B-7A44-0000-8E61-0C2B447AD901' AND message='failed 809'"
             " AND (SELECT s FROM dict WHERE id=e.user)='CORP\\alice'"
             " AND (SELECT s FROM dict WHERE id=e.connection)='Always On VPN'"
             " AND device=(SELECT id FROM devices WHERE uid='dev-mixed')"),
        1);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id=101 AND level=4"
                          " AND error_code IS NULL AND reason_code=833 AND coid IS NULL"
                          " AND message IS NULL"),
                     1);
    /* interface columns */
    assert_int_equal(q(f, "SELECT count(*) FROM iface_metrics m WHERE ifindex=41 AND family=6"
                          " AND metric=25 AND automatic=0 AND connected=1 AND if_type=2"
                          " AND mtu=1400 AND (SELECT s FROM dict WHERE id=m.alias)="
                          "'Always On VPN'"),
                     1);
    /* pbk: settings object stored as canonical JSON in dict */
    char s[512];
    q_text(f, "SELECT (SELECT s FROM dict WHERE id=p.settings) FROM pbk_entries p", s,
           sizeof(s));
    assert_string_equal(s, "{\"VpnStrategy\":\"14\",\"IpInterfaceMetric\":\"3\"}");
    assert_int_equal(q(f, "SELECT scope FROM pbk_entries"), 1);
    /* policies */
    q_text(f,
           "SELECT (SELECT s FROM dict WHERE id=p.ipsec) FROM vpn_policies p WHERE"
           " (SELECT s FROM dict WHERE id=p.connection)='Always On VPN'",
           s, sizeof(s));
    assert_string_equal(s, "{\"cipher_transform\":\"AES128\",\"auth_transform\":\"SHA256128\","
                           "\"encryption_method\":\"AES128\",\"integrity_check_method\":"
                           "\"SHA256\",\"dh_group\":\"Group14\",\"pfs_group\":\"PFS2048\"}");
    assert_int_equal(q(f, "SELECT count(*) FROM vpn_policies p WHERE ipsec IS NULL AND"
                          " dns_suffix IS NULL AND split_tunneling=0 AND device_tunnel=0 AND"
                          " (SELECT s FROM dict WHERE id=p.tunnel_type)='Automatic' AND"
                          " (SELECT s FROM dict WHERE id=p.server)='vpn2.example.net'"),
                     1);
    /* "Always On VPN" is used by events, interface, pbk and policy: one row */
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='Always On VPN'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='Eap'"), 1);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.devices_known, 1);
    assert_int_equal(st.queue_depth, 0);
    assert_true(st.healthy);
}

static void test_duplicate_batch(void **state)
{
    struct fx *f = *state;
    start(f);
    struct rf_batch b;
    simple_batch(&b, "dev-1", "batch-1", 1, 3);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    assert_int_equal(f->t.res[0].status, RF_OK);
    assert_false(f->t.res[0].duplicate);
    assert_int_equal(f->t.res[0].accepted, 3);
    /* the same device + batch id again, even with other records */
    simple_batch(&b, "dev-1", "batch-1", 50, 2);
    submit_ok(f, &b, 1);
    wait_done(&f->t, 2);
    assert_int_equal(f->t.res[1].status, RF_OK);
    assert_true(f->t.res[1].duplicate);
    assert_int_equal(f->t.res[1].accepted, 2);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 3);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id >= 50"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 1);
    /* the same batch id from another device is a different batch */
    simple_batch(&b, "dev-2", "batch-1", 1, 3);
    submit_ok(f, &b, 2);
    wait_done(&f->t, 3);
    assert_int_equal(f->t.res[2].status, RF_OK);
    assert_false(f->t.res[2].duplicate);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 6);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 2);
    /* duplicates are detected across a restart too */
    stop(f);
    start(f);
    simple_batch(&b, "dev-2", "batch-1", 1, 3);
    submit_ok(f, &b, 3);
    wait_done(&f->t, 4);
    assert_true(f->t.res[3].duplicate);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.devices_known, 2);
}

static void test_events_once_dict_once(void **state)
{
    struct fx *f = *state;
    start(f);
    /* overlapping record ids across batches of the same device: each event
     * is stored once; another device's ids are its own */
    static const int a[] = {1, 2, 3, 4, 5}, b2[] = {4, 5, 6, 7}, c[] = {7, 8, 1};
    struct rf_batch b;
    events_batch(&b, "dev-1", "b-a", a, 5, "CORP\\\\alice", 0);
    submit_ok(f, &b, 0);
    events_batch(&b, "dev-1", "b-b", b2, 4, "CORP\\\\alice", 0);
    submit_ok(f, &b, 1);
    events_batch(&b, "dev-1", "b-c", c, 3, "CORP\\\\bob", 0);
    submit_ok(f, &b, 2);
    events_batch(&b, "dev-2", "b-a", a, 5, "CORP\\\\alice", 0);
    submit_ok(f, &b, 3);
    wait_done(&f->t, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(f->t.res[i].status, RF_OK);
        assert_false(f->t.res[i].duplicate);
    }
    /* accepted counts the batch's records (dedupe is silent) */
    assert_int_equal(f->t.res[0].accepted, 5);
    assert_int_equal(f->t.res[1].accepted, 4);
    assert_int_equal(f->t.res[2].accepted, 3);
    /* dev-1 sent ids {1..8}: 8 events; dev-2: 5 */
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE device=(SELECT id FROM devices"
                          " WHERE uid='dev-1')"),
                     8);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE device=(SELECT id FROM devices"
                          " WHERE uid='dev-2')"),
                     5);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 13);
    /* the first batch's copy of a duplicate id wins (alice, not bob, for id 1) */
    assert_int_equal(q(f, "SELECT count(*) FROM events e WHERE record_id=1 AND"
                          " (SELECT s FROM dict WHERE id=e.user)='CORP\\alice'"),
                     2);
    /* dictionary strings are stored once */
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='CORP\\alice'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='CORP\\bob'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='Always On VPN'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM dict"), 3);
    assert_int_equal(q(f, "SELECT count(DISTINCT user) FROM events"), 2);
    /* and after a restart (cold caches) the same strings are reused */
    stop(f);
    start(f);
    static const int d[] = {100};
    events_batch(&b, "dev-3", "b-d", d, 1, "CORP\\\\alice", 0);
    submit_ok(f, &b, 4);
    wait_done(&f->t, 5);
    assert_int_equal(f->t.res[4].status, RF_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM dict"), 3);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 14);
}

static void test_pbk_and_ipsec_dedup_in_dict(void **state)
{
    struct fx *f = *state;
    start(f);
    struct rf_batch b;
    for (int i = 0; i < 3; i++) {
        mixed_batch(&b, i, 1000 + 2 * i, 1001 + 2 * i);
        submit_ok(f, &b, i);
    }
    wait_done(&f->t, 3);
    assert_int_equal(q(f, "SELECT count(*) FROM pbk_entries"), 3);
    assert_int_equal(q(f, "SELECT count(DISTINCT settings) FROM pbk_entries"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM vpn_policies WHERE ipsec IS NOT NULL"), 3);
    assert_int_equal(q(f, "SELECT count(DISTINCT ipsec) FROM vpn_policies"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s LIKE '{\"VpnStrategy\"%'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 6);
}

static void test_queue_bound_busy(void **state)
{
    struct fx *f = *state;
    f->cfg.queue_batches = 1;
    start(f);
    lock_db(f);
    struct rf_batch b;
    simple_batch(&b, "dev-1", "q-1", 1, 2);
    submit_ok(f, &b, 0);
    /* the writer takes it off the queue and blocks in BEGIN */
    wait_queue_depth(f, 0);
    simple_batch(&b, "dev-1", "q-2", 10, 2);
    submit_ok(f, &b, 1);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_depth, 1);
    assert_int_equal(st.queue_capacity, 1);
    /* full: RF_EBUSY, and the caller keeps its batch */
    simple_batch(&b, "dev-1", "q-3", 20, 3);
    assert_int_equal(writer_submit(f->w, &b, 1000, on_done, &f->ctx[2]), RF_EBUSY);
    assert_int_equal(b.n_records, 3);
    assert_string_equal(b.batch_id, "q-3");
    assert_int_equal(b.records[2].u.ev.record_id, 22);
    assert_int_equal(writer_submit(f->w, &b, 1000, on_done, &f->ctx[2]), RF_EBUSY);
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_depth, 1);
    assert_int_equal(done_count(&f->t), 0);
    unlock_db(f);
    wait_done(&f->t, 2);
    assert_int_equal(f->t.res[0].status, RF_OK);
    assert_int_equal(f->t.res[1].status, RF_OK);
    assert_false(f->t.called[2]);
    /* room again: the refused batch goes in now */
    wait_queue_depth(f, 0);
    assert_int_equal(writer_submit(f->w, &b, 1000, on_done, &f->ctx[2]), RF_OK);
    wait_done(&f->t, 3);
    assert_int_equal(f->t.res[2].status, RF_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 7);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 3);
}

static void test_queue_byte_bound(void **state)
{
    struct fx *f = *state;
    f->cfg.queue_batches = 100;
    f->cfg.queue_bytes = 1000;
    start(f);
    lock_db(f);
    struct rf_batch b;
    simple_batch(&b, "dev-1", "y-1", 1, 1);
    assert_int_equal(writer_submit(f->w, &b, 600, on_done, &f->ctx[0]), RF_OK);
    wait_queue_depth(f, 0);
    /* an empty queue takes a batch of any size */
    simple_batch(&b, "dev-1", "y-2", 2, 1);
    assert_int_equal(writer_submit(f->w, &b, 5000, on_done, &f->ctx[1]), RF_OK);
    simple_batch(&b, "dev-1", "y-3", 3, 1);
    assert_int_equal(writer_submit(f->w, &b, 1, on_done, &f->ctx[2]), RF_EBUSY);
    assert_string_equal(b.batch_id, "y-3"); /* refused: the caller keeps it */
    rf_batch_free(&b);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_bytes, 5000);
    unlock_db(f);
    wait_done(&f->t, 2);
    wait_queue_depth(f, 0);
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_bytes, 0);
    /* 400 + 600 fit exactly, 1 more byte does not */
    lock_db(f);
    simple_batch(&b, "dev-1", "y-4", 4, 1);
    assert_int_equal(writer_submit(f->w, &b, 10, on_done, &f->ctx[3]), RF_OK);
    wait_queue_depth(f, 0);
    simple_batch(&b, "dev-1", "y-5", 5, 1);
    assert_int_equal(writer_submit(f->w, &b, 400, on_done, &f->ctx[4]), RF_OK);
    simple_batch(&b, "dev-1", "y-6", 6, 1);
    assert_int_equal(writer_submit(f->w, &b, 600, on_done, &f->ctx[5]), RF_OK);
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_bytes, 1000);
    assert_int_equal(writer_submit(f->w, &b, 1, on_done, &f->ctx[6]), RF_EBUSY);
    unlock_db(f);
    wait_done(&f->t, 5);
    /* the refused y-3 was never queued */
    assert_false(f->t.called[2]);
    assert_false(f->t.called[6]);
    rf_batch_free(&b);
    for (int i = 0; i < 6; i++)
        if (i != 2)
            assert_int_equal(f->t.res[i].status, RF_OK);
}

struct releaser {
    struct fx *f;
    int delay_ms;
};

static void *release_later(void *arg)
{
    struct releaser *r = arg;
    usleep((useconds_t)r->delay_ms * 1000);
    sqlite3_exec(r->f->db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void test_stop_drains_queue(void **state)
{
    struct fx *f = *state;
    start(f);
    lock_db(f);
    enum { N = 40 };
    struct rf_batch b;
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "drain-%d", i);
        simple_batch(&b, i % 2 ? "dev-odd" : "dev-even", id, 1 + i * 10, 5);
        submit_ok(f, &b, i);
        /* the writer takes the first batch alone and blocks on the lock:
         * the other 39 are still queued when writer_stop is called */
        if (i == 0)
            wait_queue_depth(f, 0);
    }
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_int_equal(st.queue_depth, N - 1);
    struct rf_batch late;
    simple_batch(&late, "dev-late", "late-1", 1, 1);
    f->t.resubmit = &late;
    struct releaser r = {f, 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &r), 0);
    assert_int_equal(done_count(&f->t), 0);
    stop(f); /* must not return before every queued batch is done */
    int done = done_count(&f->t);
    pthread_join(th, NULL);
    assert_int_equal(done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->t.calls[i], 1);
        if (f->t.res[i].status != RF_OK)
            fail_msg("batch %d: status %d (%s)", i, f->t.res[i].status, f->t.res[i].message);
        assert_false(f->t.res[i].duplicate);
        assert_int_equal(f->t.res[i].accepted, 5);
    }
    /* done callbacks ran in submission order */
    for (int i = 0; i < N; i++)
        assert_int_equal(f->t.order[i], i);
    /* a submit while stopping is refused and the caller keeps the batch */
    assert_int_equal(f->t.resubmit_rc, RF_ESTOPPED);
    assert_int_equal(late.n_records, 1);
    rf_batch_free(&late);
    /* everything is durable */
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), N);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), N * 5);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM devices WHERE uid='dev-late'"), 0);
}

static void test_stop_idle(void **state)
{
    struct fx *f = *state;
    start(f);
    stop(f);
    assert_int_equal(done_count(&f->t), 0);
    /* the WAL was checkpointed and truncated */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    FILE *fp = fopen(wal, "rb");
    if (fp) {
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fclose(fp);
        assert_int_equal(size, 0);
    }
}

/* ---- commit hook ---- */

static int64_t time_now_ms_for_test(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct hook_log {
    pthread_mutex_t mu;
    int calls;
    size_t n[16];
    char ids[16][8][64];
    uint8_t ins[16][8][8]; /* inserted flags of the first 8 records */
    int64_t now[16];
    int done_before[16];
    int empty_batches; /* batches with no records seen by the hook */
    struct tracker *t;
};

static void on_commit(void *arg, const struct rf_batch *const *batches,
                      const uint8_t *const *inserted, size_t n, int64_t now_ms)
{
    struct hook_log *h = arg;
    int done = done_count(h->t);
    pthread_mutex_lock(&h->mu);
    if (h->calls < 16) {
        h->n[h->calls] = n;
        h->done_before[h->calls] = done;
        h->now[h->calls] = now_ms;
        for (size_t i = 0; i < n && i < 8; i++) {
            /* the batch is intact while the hook runs (checked later:
             * no cmocka assertions off the test thread) */
            if (batches[i]->n_records == 0 || !batches[i]->records)
                h->empty_batches++;
            snprintf(h->ids[h->calls][i], 64, "%s/%s", batches[i]->agent.device_id,
                     batches[i]->batch_id);
            for (size_t r = 0; r < batches[i]->n_records && r < 8; r++)
                h->ins[h->calls][i][r] = inserted[i][r];
        }
    }
    h->calls++;
    pthread_mutex_unlock(&h->mu);
}

static void test_commit_hook_excludes_duplicates(void **state)
{
    struct fx *f = *state;
    start(f);
    struct hook_log h;
    memset(&h, 0, sizeof(h));
    pthread_mutex_init(&h.mu, NULL);
    h.t = &f->t;
    writer_set_commit_hook(f->w, on_commit, &h);
    struct rf_batch b;
    simple_batch(&b, "dev-1", "A", 1, 2);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    simple_batch(&b, "dev-1", "A", 1, 2); /* duplicate */
    submit_ok(f, &b, 1);
    wait_done(&f->t, 2);
    assert_true(f->t.res[1].duplicate);
    /* a group mixing a new batch, a duplicate and another new batch */
    lock_db(f);
    simple_batch(&b, "dev-9", "X", 1, 1);
    submit_ok(f, &b, 2);
    wait_queue_depth(f, 0);
    simple_batch(&b, "dev-1", "A", 1, 2); /* duplicate */
    submit_ok(f, &b, 3);
    simple_batch(&b, "dev-1", "C", 5, 2);
    submit_ok(f, &b, 4);
    simple_batch(&b, "dev-2", "A", 1, 2);
    submit_ok(f, &b, 5);
    /* D repeats event 2 (stored by A) and 5 (stored by C in this group) */
    static const int d_ids[] = {2, 5, 9};
    events_batch(&b, "dev-1", "D", d_ids, 3, "CORP\\\\alice", 0);
    submit_ok(f, &b, 6);
    int64_t t0 = time_now_ms_for_test();
    unlock_db(f);
    wait_done(&f->t, 7);
    int64_t t1 = time_now_ms_for_test();
    assert_true(f->t.res[3].duplicate);
    assert_false(f->t.res[4].duplicate);
    assert_false(f->t.res[5].duplicate);
    assert_false(f->t.res[6].duplicate);
    assert_int_equal(f->t.res[6].accepted, 3);
    pthread_mutex_lock(&h.mu);
    assert_int_equal(h.calls, 3);
    assert_int_equal(h.n[0], 1);
    assert_string_equal(h.ids[0][0], "dev-1/A");
    /* the hook runs before the group's done callbacks (an earlier group may
     * still wait for its WAL sync, so fewer than all earlier ones may have
     * been answered) */
    assert_int_equal(h.done_before[0], 0);
    assert_int_equal(h.n[1], 1);
    assert_string_equal(h.ids[1][0], "dev-9/X");
    assert_true(h.done_before[1] <= 2);
    assert_int_equal(h.n[2], 3);
    assert_string_equal(h.ids[2][0], "dev-1/C");
    assert_string_equal(h.ids[2][1], "dev-2/A");
    assert_string_equal(h.ids[2][2], "dev-1/D");
    assert_true(h.done_before[2] <= 3);
    assert_int_equal(h.empty_batches, 0);
    /* inserted flags: new events 1, events already stored 0 */
    assert_int_equal(h.ins[0][0][0], 1);
    assert_int_equal(h.ins[0][0][1], 1);
    assert_int_equal(h.ins[2][0][0], 1);
    assert_int_equal(h.ins[2][0][1], 1);
    assert_int_equal(h.ins[2][1][0], 1);
    assert_int_equal(h.ins[2][1][1], 1);
    assert_int_equal(h.ins[2][2][0], 0);
    assert_int_equal(h.ins[2][2][1], 0);
    assert_int_equal(h.ins[2][2][2], 1);
    /* now_ms is the receipt time written for the group's batches */
    assert_true(h.now[2] >= t0 - 1000 && h.now[2] <= t1);
    assert_int_equal(q(f, "SELECT received FROM batches WHERE uid='D'"), h.now[2]);
    assert_int_equal(q(f, "SELECT received FROM batches WHERE uid='C'"), h.now[2]);
    assert_int_equal(q(f, "SELECT count(*) FROM events e JOIN devices d ON d.id=e.device"
                          " WHERE d.uid='dev-1'"),
                     5); /* 1, 2, 5, 6, 9 */
    pthread_mutex_unlock(&h.mu);
    pthread_mutex_destroy(&h.mu);
}

/* ---- refusals ---- */

/* The database refuses any event with record_id 666 (not a storage error). */
static void refuse_record_666(struct fx *f)
{
    assert_int_equal(sqlite3_exec(f->db,
                                  "CREATE TRIGGER refuse_666 BEFORE INSERT ON events"
                                  " WHEN NEW.record_id = 666 BEGIN"
                                  " SELECT RAISE(ABORT, 'record 666 refused'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
}

static void test_batch_refused_alone(void **state)
{
    struct fx *f = *state;
    start(f);
    /* the database refuses any event with record_id 666 (not a storage
     * error): that batch fails alone, the rest of its group is stored */
    refuse_record_666(f);
    lock_db(f);
    struct rf_batch b;
    simple_batch(&b, "dev-1", "warm", 1, 1);
    submit_ok(f, &b, 0);
    wait_queue_depth(f, 0);
    simple_batch(&b, "dev-1", "good-1", 10, 3);
    submit_ok(f, &b, 1);
    static const int bad_ids[] = {700, 701, 666, 702};
    events_batch(&b, "dev-bad", "bad", bad_ids, 4, "CORP\\\\mallory", 0);
    submit_ok(f, &b, 2);
    simple_batch(&b, "dev-2", "good-2", 20, 2);
    submit_ok(f, &b, 3);
    unlock_db(f);
    wait_done(&f->t, 4);
    assert_int_equal(f->t.res[0].status, RF_OK);
    assert_int_equal(f->t.res[1].status, RF_OK);
    assert_int_equal(f->t.res[2].status, RF_EINVAL);
    assert_false(f->t.res[2].duplicate);
    assert_non_null(strstr(f->t.res[2].message, "record 666 refused"));
    assert_int_equal(f->t.res[3].status, RF_OK);
    /* nothing of the refused batch: no batch row, no events, no device, no
     * dictionary string of its own */
    assert_int_equal(q(f, "SELECT count(*) FROM batches WHERE uid='bad'"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id >= 700"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM devices WHERE uid='dev-bad'"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM dict WHERE s='CORP\\mallory'"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 3);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 6);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_true(st.healthy);
    assert_int_equal(st.devices_known, 2);
    /* the writer is consistent afterwards: a new batch of a known device and
     * of the refused one both store */
    simple_batch(&b, "dev-bad", "bad-retry", 700, 3);
    submit_ok(f, &b, 4);
    simple_batch(&b, "dev-1", "good-3", 30, 1);
    submit_ok(f, &b, 5);
    wait_done(&f->t, 6);
    assert_int_equal(f->t.res[4].status, RF_OK);
    assert_int_equal(f->t.res[5].status, RF_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 3);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 10);
    assert_int_equal(q(f, "SELECT count(*) FROM events e JOIN devices d ON d.id=e.device"
                          " WHERE d.uid='dev-bad'"),
                     3);
    writer_get_stats(f->w, &st);
    assert_int_equal(st.devices_known, 3);
}

static void test_database_full(void **state)
{
    struct fx *f = *state;
    f->cfg.max_db_bytes = 64 * 1024;
    start(f);
    int64_t pages_before = q(f, "PRAGMA page_count");
    /* 200 events with 8 KB messages: far more than the cap */
    static int ids[200];
    for (int i = 0; i < 200; i++)
        ids[i] = i + 1;
    struct rf_batch b;
    events_batch(&b, "dev-big", "big-1", ids, 200, "CORP\\\\alice", 8000);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    assert_int_equal(f->t.res[0].status, RF_ESTORAGE);
    assert_false(f->t.res[0].duplicate);
    assert_non_null(strstr(f->t.res[0].message, "full"));
    /* unhealthy when the done callback ran */
    assert_false(f->t.stats[0].healthy);
    assert_int_equal(f->t.stats[0].devices_known, 0);
    /* nothing of that batch is stored */
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM dict"), 0);
    assert_true(q(f, "PRAGMA page_count") <= (pages_before > 16 ? pages_before : 16));
    /* the same batch id can be sent again later (it was not recorded) */
    simple_batch(&b, "dev-big", "big-1", 1, 1);
    submit_ok(f, &b, 1);
    wait_done(&f->t, 2);
    assert_int_equal(f->t.res[1].status, RF_OK);
    assert_false(f->t.res[1].duplicate);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 1);
    /* a successful commit marks storage healthy again */
    assert_true(f->t.stats[1].healthy);
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_true(st.healthy);
    assert_int_equal(st.devices_known, 1);
}

static void test_storage_error_fails_whole_group(void **state)
{
    struct fx *f = *state;
    f->cfg.max_db_bytes = 64 * 1024;
    start(f);
    lock_db(f);
    struct rf_batch b;
    simple_batch(&b, "dev-w", "w", 1, 1);
    submit_ok(f, &b, 0);
    wait_queue_depth(f, 0);
    /* a small batch and a huge one end up in the same transaction */
    simple_batch(&b, "dev-s", "small", 1, 2);
    submit_ok(f, &b, 1);
    static int ids[100];
    for (int i = 0; i < 100; i++)
        ids[i] = 1000 + i;
    events_batch(&b, "dev-h", "huge", ids, 100, "CORP\\\\alice", 8000);
    submit_ok(f, &b, 2);
    unlock_db(f);
    wait_done(&f->t, 3);
    assert_int_equal(f->t.res[0].status, RF_OK);
    /* a storage error is not the batch's fault: the whole group is 503 */
    assert_int_equal(f->t.res[1].status, RF_ESTORAGE);
    assert_int_equal(f->t.res[2].status, RF_ESTORAGE);
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM devices WHERE uid IN ('dev-s','dev-h')"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 1);
}

/* ---- the WAL: wrapped in place, synced before answers ---- */

static int64_t file_bytes(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    int64_t n = ftell(fp);
    fclose(fp);
    return n;
}

static void test_wal_wraps_in_place(void **state)
{
    struct fx *f = *state;
    f->cfg.wal_wrap_frames = 64;
    start(f);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    /* 40 groups of 50 events with 1 KB messages: ~15 new pages each, ~600
     * frames in all, nearly ten times the wrap limit */
    static int ids[50];
    int64_t wal_max = 0;
    for (int g = 0; g < 40; g++) {
        for (int i = 0; i < 50; i++)
            ids[i] = g * 50 + i + 1;
        char batch_id[16];
        snprintf(batch_id, sizeof(batch_id), "w-%d", g);
        struct rf_batch b;
        events_batch(&b, "dev-wal", batch_id, ids, 50, "CORP\\\\alice", 1000);
        submit_ok(f, &b, g);
        wait_done(&f->t, g + 1);
        assert_int_equal(f->t.res[g].status, RF_OK);
        int64_t n = file_bytes(wal);
        wal_max = n > wal_max ? n : wal_max;
    }
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_true(st.wal_wraps >= 2);
    /* the WAL started over instead of growing past the limit (a frame is a
     * 4 KiB page and 24 bytes; one group past the limit, a few in flight) */
    if (wal_max > 64 * 4120 * 3)
        fail_msg("the WAL grew to %lld bytes with a 64-frame limit", (long long)wal_max);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 2000);
    char ok[64];
    q_text(f, "PRAGMA integrity_check", ok, sizeof(ok));
    assert_string_equal(ok, "ok");
}

static void test_wal_sync_failure_is_503(void **state)
{
    struct fx *f = *state;
    start(f);
    struct rf_batch b;
    simple_batch(&b, "dev-a", "a-1", 1, 1);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    assert_int_equal(f->t.res[0].status, RF_OK);
    /* the write-ahead log vanishes under the collector: no sync can make the
     * next commit durable, so it is not acknowledged */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(unlink(wal), 0);
    simple_batch(&b, "dev-a", "a-2", 2, 1);
    submit_ok(f, &b, 1);
    wait_done(&f->t, 2);
    assert_int_equal(f->t.res[1].status, RF_ESTORAGE);
    assert_non_null(strstr(f->t.res[1].message, "write-ahead log"));
    struct writer_stats st;
    writer_get_stats(f->w, &st);
    assert_false(st.healthy);
}

/* ---- housekeeping ---- */

static void rfc3339(int64_t ms, char *out, size_t n)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void test_retention_deletes_old_rows(void **state)
{
    struct fx *f = *state;
    f->cfg.retention_days = 3;
    f->cfg.retention_interval_s = 0; /* every idle moment */
    start(f);
    int64_t now = time_now_ms_for_test();
    char old_t[96], new_t[96];
    rfc3339(now - 10LL * 86400000, old_t, sizeof(old_t));
    rfc3339(now - 3600000, new_t, sizeof(new_t));
    struct buf j = BUF_INIT;
    buf_printf(&j, "{\"batch_id\":\"ret-1\",\"agent\":{\"device_id\":\"dev-r\"},\"records\":[");
    for (int i = 0; i < 6; i++)
        buf_printf(&j,
                   "%s{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,"
                   "\"record_id\":%d,\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\"}",
                   i ? "," : "", i < 4 ? old_t : new_t, i + 1);
    buf_printf(&j,
               ",{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"a\",\"index\":1,"
               "\"family\":\"ipv4\",\"metric\":1,\"automatic\":true,\"connected\":true,"
               "\"if_type\":\"vpn\"}"
               ",{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"a\",\"index\":1,"
               "\"family\":\"ipv4\",\"metric\":1,\"automatic\":true,\"connected\":true,"
               "\"if_type\":\"vpn\"}"
               ",{\"kind\":\"pbk_entry\",\"time\":\"%s\",\"scope\":\"user\",\"connection\":\"c\","
               "\"settings\":{}}"
               ",{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"c\",\"server\":\"s\","
               "\"tunnel_type\":\"Ikev2\",\"auth_method\":\"Eap\",\"split_tunneling\":true,"
               "\"device_tunnel\":false}]}",
               old_t, new_t, old_t, old_t);
    struct rf_batch b;
    decode_into(j.data, j.len, &b);
    buf_free(&j);
    submit_ok(f, &b, 0);
    wait_done(&f->t, 1);
    assert_int_equal(f->t.res[0].status, RF_OK);
    /* the writer deletes in the background when idle (at least every 1 s) */
    int i;
    for (i = 0; i < 100; i++) {
        if (q(f, "SELECT count(*) FROM events") == 2 &&
            q(f, "SELECT count(*) FROM vpn_policies") == 0)
            break;
        usleep(50000);
    }
    if (i == 100)
        fail_msg("retention did not run within 5 s (events %lld)",
                 (long long)q(f, "SELECT count(*) FROM events"));
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id IN (5, 6)"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM iface_metrics"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM pbk_entries"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM vpn_policies"), 0);
    /* the batch row was received now: kept, so a resend is still a duplicate */
    assert_int_equal(q(f, "SELECT count(*) FROM batches"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM devices"), 1);
}

/* A batch of n events of device dev at time t (RFC 3339). */
static void timed_batch(struct rf_batch *b, const char *dev, const char *id, const char *t,
                        int first, int n)
{
    struct buf j = BUF_INIT;
    buf_printf(&j, "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\"},\"records\":[", id,
               dev);
    for (int i = 0; i < n; i++)
        buf_printf(&j,
                   "%s{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":20227,"
                   "\"record_id\":%d,\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\"}",
                   i ? "," : "", t, first + i);
    buf_append_str(&j, "]}");
    decode_into(j.data, j.len, b);
    buf_free(&j);
}

/*
 * Bug: retention_run() yields as soon as a batch is queued ("the rest waits
 * for the next idle moment"), but housekeeping() then sets
 * next_retention_ms = now + retention_interval_s regardless, so the rest
 * waits a whole interval (60 s in main.c) even though the writer is idle a
 * moment later; under steady ingest, retention can be starved indefinitely.
 * Here: the first retention run finds a batch queued, yields, and 3 s of
 * idleness later the expired rows are still there.
 */
static void regression_retention_yield_waits_full_interval(void **state)
{
    struct fx *f = *state;
    f->cfg.retention_days = 3;
    f->cfg.retention_interval_s = 60; /* as main.c configures it */
    int64_t t_start = time_now_ms_for_test();
    start(f);
    char old_t[96], new_t[96];
    rfc3339(t_start - 10LL * 86400000, old_t, sizeof(old_t));
    rfc3339(t_start - 60000, new_t, sizeof(new_t));
    lock_db(f);
    struct rf_batch b;
    timed_batch(&b, "dev-r", "old", old_t, 1, 4);
    submit_ok(f, &b, 0);
    wait_queue_depth(f, 0);
    timed_batch(&b, "dev-r", "new", new_t, 100, 2);
    submit_ok(f, &b, 1);
    /* release after the writer's first housekeeping is due (start + 1 s):
     * it runs right after the first group, while "new" is still queued */
    while (time_now_ms_for_test() < t_start + 1300)
        usleep(20000);
    unlock_db(f);
    wait_done(&f->t, 2);
    assert_int_equal(f->t.res[0].status, RF_OK);
    assert_int_equal(f->t.res[1].status, RF_OK);
    /* the writer is idle now: the expired rows should go at the next idle
     * moment (the idle loop wakes every second) */
    int i;
    for (i = 0; i < 60 && q(f, "SELECT count(*) FROM events WHERE record_id < 100") != 0; i++)
        usleep(50000);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id < 100"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE record_id >= 100"), 2);
}

/*
 * Retention must make progress while the writer is never idle: housekeeping
 * after a group takes at least one step even with batches queued. Before,
 * it yielded before its first step whenever the queue held work, so under
 * steady ingest expired rows were never deleted.
 */
static void test_retention_progresses_under_steady_ingest(void **state)
{
    struct fx *f = *state;
    int64_t t0 = time_now_ms_for_test();
    char old_t[96], new_t[96];
    rfc3339(t0 - 10LL * 86400000, old_t, sizeof(old_t));
    rfc3339(t0 - 60000, new_t, sizeof(new_t));
    /* 7 500 expired events, stored while retention is off */
    start(f);
    struct rf_batch b;
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "old-%d", i);
        timed_batch(&b, "dev-old", id, old_t, 1 + i * 2500, 2500);
        submit_ok(f, &b, i);
    }
    wait_done(&f->t, 3);
    stop(f);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 7500);

    f->cfg.retention_days = 3;
    f->cfg.retention_interval_s = 0;
    start(f);
    /* keep the queue busy for 3.5 s (bounded in count too) */
    int sent = 0;
    int64_t end = time_now_ms_for_test() + 3500;
    while (time_now_ms_for_test() < end && sent < 200000) {
        char id[16];
        snprintf(id, sizeof(id), "new-%d", sent);
        timed_batch(&b, "dev-new", id, new_t, 1 + sent * 20, 20);
        int rc;
        while ((rc = writer_submit(f->w, &b, 2000, on_done, &f->ctx[3])) == RF_EBUSY)
            usleep(500);
        assert_int_equal(rc, RF_OK);
        sent++;
    }
    /* still under load: some expired rows must be gone already */
    int64_t left = q(f, "SELECT count(*) FROM events WHERE device ="
                        " (SELECT id FROM devices WHERE uid = 'dev-old')");
    wait_done(&f->t, 3 + sent);
    if (left > 7500 - 2000)
        fail_msg("only %lld of 7500 expired events deleted during 3.5 s of ingest"
                 " (%d batches)",
                 (long long)(7500 - left), sent);
    assert_int_equal(q(f, "SELECT count(*) FROM events WHERE device ="
                          " (SELECT id FROM devices WHERE uid = 'dev-new')"),
                     (int64_t)sent * 20);
}

static void test_tokens_reloaded_from_database(void **state)
{
    struct fx *f = *state;
    struct auth *a = NULL;
    assert_int_equal(auth_create(NULL, &a), RF_OK);
    start_auth(f, a);
    char tok[AUTH_TOKEN_LEN + 1], hdr[80];
    int64_t id;
    /* another process (here: the test's connection) adds a token */
    assert_int_equal(tokens_add(f->db, AUTH_READER, "cli", tok, &id), RF_OK);
    snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
    int i;
    for (i = 0; i < 100 && auth_check(a, hdr) != AUTH_READER; i++)
        usleep(50000);
    assert_int_equal(auth_check(a, hdr), AUTH_READER);
    /* and revokes it */
    assert_int_equal(tokens_revoke(f->db, id), RF_OK);
    for (i = 0; i < 100 && auth_check(a, hdr) != AUTH_NONE; i++)
        usleep(50000);
    assert_int_equal(auth_check(a, hdr), AUTH_NONE);
    stop(f);
    auth_destroy(a);
}

/* ---- agent_status ---- */

/* A batch holding one agent_status with the given totals at time t (RFC 3339). */
static void status_batch(struct rf_batch *b, const char *dev, const char *id, const char *t,
                         int dropped, int records, int rejected)
{
    char json[1024];
    int n = snprintf(json, sizeof(json),
                     "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\"},\"records\":["
                     "{\"kind\":\"agent_status\",\"time\":\"%s\",\"agent_version\":\"0.1.0\","
                     "\"spool_bytes\":%d,\"spool_batches\":%d,\"spool_limit_bytes\":65536,"
                     "\"dropped_batches_total\":%d,\"dropped_records_total\":%d,"
                     "\"rejected_batches_total\":%d,\"last_success\":\"2026-11-20T07:00:00Z\","
                     "\"last_error\":\"cannot reach collector\","
                     "\"last_error_time\":\"2026-11-20T07:30:00Z\",\"source_errors\":1}]}",
                     id, dev, t, 1000 * dropped, dropped, dropped, records, rejected);
    assert_true(n > 0 && (size_t)n < sizeof(json));
    decode_into(json, (size_t)n, b);
}

#define STATUS_ROW(col) \
    "SELECT " col " FROM agent_status s JOIN devices d ON d.id = s.device WHERE d.uid = 'dev-a'"

static void test_agent_status_latest_and_losses(void **state)
{
    struct fx *f = *state;
    start(f);
    static const struct {
        const char *t;
        int dropped, records, rejected;
    } seq[] = {
        {"2026-11-20T08:00:00Z", 2, 100, 0}, /* first report: all of it is new */
        {"2026-11-20T09:00:00Z", 2, 100, 1}, /* one batch refused, no new drop */
        {"2026-11-20T10:00:00Z", 5, 250, 1}, /* three more drops */
        {"2026-11-20T11:00:00Z", 1, 40, 0},  /* the agent's state was reset */
        {"2026-11-20T12:00:00Z", 1, 40, 0},  /* nothing new */
    };
    struct rf_batch b;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "st-%d", i);
        status_batch(&b, "dev-a", id, seq[i].t, seq[i].dropped, seq[i].records, seq[i].rejected);
        submit_ok(f, &b, i);
        wait_done(&f->t, i + 1);
        assert_int_equal(f->t.res[i].status, RF_OK);
    }
    /* a repeated batch changes nothing */
    status_batch(&b, "dev-a", "st-4", "2026-11-20T12:00:00Z", 1, 40, 0);
    submit_ok(f, &b, 5);
    wait_done(&f->t, 6);
    assert_true(f->t.res[5].duplicate);

    /* one row: the newest report */
    assert_int_equal(q(f, "SELECT count(*) FROM agent_status"), 1);
    assert_int_equal(q(f, STATUS_ROW("time")), 1795176000000LL); /* 12:00 */
    assert_int_equal(q(f, STATUS_ROW("dropped_batches_total")), 1);
    assert_int_equal(q(f, STATUS_ROW("dropped_records_total")), 40);
    assert_int_equal(q(f, STATUS_ROW("rejected_batches_total")), 0);
    assert_int_equal(q(f, STATUS_ROW("spool_bytes")), 1000);
    assert_int_equal(q(f, STATUS_ROW("spool_limit_bytes")), 65536);
    assert_int_equal(q(f, STATUS_ROW("source_errors")), 1);
    assert_int_equal(q(f, STATUS_ROW("last_success")), 1795158000000LL);
    assert_int_equal(q(f, STATUS_ROW("last_error_time")), 1795159800000LL);
    assert_int_equal(q(f, STATUS_ROW("reports")), 5);
    char text[128];
    q_text(f, STATUS_ROW("last_error"), text, sizeof(text));
    assert_string_equal(text, "cannot reach collector");
    q_text(f, STATUS_ROW("s.agent_version"), text, sizeof(text));
    assert_string_equal(text, "0.1.0");
    /* the last report that added drops: 11:00 (after the reset) */
    assert_int_equal(q(f, STATUS_ROW("last_drop")), 1795172400000LL);

    /* the losses, one row per report that added some, in arrival order */
    assert_int_equal(q(f, "SELECT count(*) FROM agent_losses"), 4);
    assert_int_equal(q(f, "SELECT group_concat(dropped_batches || '/' || dropped_records || '/' ||"
                          " rejected_batches, ' ') = '2/100/0 0/0/1 3/150/0 1/40/0'"
                          " FROM (SELECT * FROM agent_losses ORDER BY id)"),
                     1);
    assert_int_equal(q(f, "SELECT sum(dropped_batches) FROM agent_losses"), 6);
    assert_int_equal(q(f, "SELECT min(time) FROM agent_losses"), 1795161600000LL);
}

static void test_agent_status_in_the_group_transaction(void **state)
{
    struct fx *f = *state;
    start(f);
    refuse_record_666(f);
    lock_db(f);
    struct rf_batch b;
    simple_batch(&b, "dev-w", "warm", 1, 1);
    submit_ok(f, &b, 0);
    wait_queue_depth(f, 0);
    /* one group: two reports of dev-a (the second sees the first, not yet
     * committed), and a batch of dev-bad whose event the database refuses
     * after its status was written: that status goes with its batch */
    status_batch(&b, "dev-a", "a-1", "2026-11-20T08:00:00Z", 3, 30, 0);
    submit_ok(f, &b, 1);
    status_batch(&b, "dev-a", "a-2", "2026-11-20T09:00:00Z", 4, 40, 0);
    submit_ok(f, &b, 2);
    char json[1024];
    int n = snprintf(json, sizeof(json),
                     "{\"batch_id\":\"bad\",\"agent\":{\"device_id\":\"dev-bad\"},\"records\":["
                     "{\"kind\":\"agent_status\",\"time\":\"2026-11-20T08:00:00Z\","
                     "\"spool_bytes\":0,\"spool_batches\":0,\"dropped_batches_total\":9},"
                     "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02Z\",\"event_id\":20227,"
                     "\"record_id\":666,\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\"}]}");
    decode_into(json, (size_t)n, &b);
    submit_ok(f, &b, 3);
    unlock_db(f);
    wait_done(&f->t, 4);
    assert_int_equal(f->t.res[1].status, RF_OK);
    assert_int_equal(f->t.res[2].status, RF_OK);
    assert_int_equal(f->t.res[3].status, RF_EINVAL);
    assert_int_equal(q(f, "SELECT count(*) FROM agent_status"), 1);
    assert_int_equal(q(f, STATUS_ROW("dropped_batches_total")), 4);
    assert_int_equal(q(f, STATUS_ROW("reports")), 2);
    assert_int_equal(q(f, "SELECT group_concat(dropped_batches, ' ') = '3 1'"
                          " FROM (SELECT * FROM agent_losses ORDER BY id)"),
                     1);
}

static void test_retention_deletes_old_losses(void **state)
{
    struct fx *f = *state;
    f->cfg.retention_days = 3;
    f->cfg.retention_interval_s = 0;
    start(f);
    int64_t now = time_now_ms_for_test();
    char old_t[96], new_t[96];
    rfc3339(now - 10LL * 86400000, old_t, sizeof(old_t));
    rfc3339(now - 3600000, new_t, sizeof(new_t));
    struct rf_batch b;
    status_batch(&b, "dev-a", "old", old_t, 2, 20, 0);
    submit_ok(f, &b, 0);
    status_batch(&b, "dev-a", "new", new_t, 3, 30, 0);
    submit_ok(f, &b, 1);
    wait_done(&f->t, 2);
    int i;
    for (i = 0; i < 100 && q(f, "SELECT count(*) FROM agent_losses") != 1; i++)
        usleep(50000);
    assert_int_equal(q(f, "SELECT count(*) FROM agent_losses"), 1);
    assert_int_equal(q(f, "SELECT dropped_batches FROM agent_losses"), 1);
    /* the device's latest status is kept, like the device itself */
    assert_int_equal(q(f, STATUS_ROW("dropped_batches_total")), 3);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_ERROR + 1); /* the failures below log on purpose */
    const struct CMUnitTest tests[] = {
        T(test_start_stats_stop),
        T(test_retention_progresses_under_steady_ingest),
        T(test_start_bad_path),
        T(test_store_every_kind),
        T(test_duplicate_batch),
        T(test_events_once_dict_once),
        T(test_pbk_and_ipsec_dedup_in_dict),
        T(test_queue_bound_busy),
        T(test_queue_byte_bound),
        T(test_stop_drains_queue),
        T(test_stop_idle),
        T(test_commit_hook_excludes_duplicates),
        T(test_batch_refused_alone),
        T(test_database_full),
        T(test_storage_error_fails_whole_group),
        T(test_wal_wraps_in_place),
        T(test_wal_sync_failure_is_503),
        T(test_retention_deletes_old_rows),
        T(test_tokens_reloaded_from_database),
        T(regression_retention_yield_waits_full_interval),
        T(test_agent_status_latest_and_losses),
        T(test_agent_status_in_the_group_transaction),
        T(test_retention_deletes_old_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
