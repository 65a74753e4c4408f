/*
 * test_rollup.c - unit tests for server/rollup.c (folding a batch's outcome
 * events into rows, reading day ranges) and for the rollup upserts the
 * writer makes in the transaction of the raw rows: duplicates and resent
 * events are not counted twice, days split at UTC midnight, a refused
 * batch leaves nothing, after any mix of batches the rollups equal SQL over
 * the raw events table, and rollup retention is separate from raw retention.
 *
 * The writer tests use a real writer on a temp database and read its rows
 * back through a connection of their own. To make several batches share
 * one group commit, the test holds the write lock (BEGIN IMMEDIATE) while
 * it submits them, as test_writer.c does.
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
#include "rasfleet/result.h"
#include "rollup.h"
#include "store.h"
#include "timeutil.h"
#include "writer.h"

#define DAY ROLLUP_DAY_MS
/* 2025-11-21T00:00:00Z, the first millisecond of day 20413 */
#define MIDNIGHT 1763683200000LL

/* ---- folding (no database) ---- */

static void test_day_of_time(void **state)
{
    (void)state;
    assert_int_equal(rollup_day(0), 0);
    assert_int_equal(rollup_day(-1), 0);
    assert_int_equal(rollup_day(-5 * DAY), 0); /* before 1970: day 0, as fleet_minute() */
    assert_int_equal(rollup_day(DAY - 1), 0);
    assert_int_equal(rollup_day(DAY), 1);
    assert_int_equal(rollup_day(MIDNIGHT - 1), 20412);
    assert_int_equal(rollup_day(MIDNIGHT), 20413);
}

static void test_batch_folds_outcomes_only(void **state)
{
    (void)state;
    struct rollup_batch rb;
    rollup_batch_init(&rb);
    /* day 20413: two 809 and one code-less failure on connection 7, one 809
     * on connection 8, a success; 20412: one 691 (added last, out of order);
     * progress and termination events count nothing */
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 5, 20227, 7, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 6, 20227, 8, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 7, 20227, 7, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 8, 20227, 7, false, 0), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 9, 20225, 7, false, 0), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 9, 20221, 7, false, 0), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + 9, 20226, 7, true, 833), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT - 1, 20227, 7, true, 691), RF_OK);
    rollup_batch_finish(&rb);
    assert_int_equal(rb.n_days, 2);
    assert_int_equal(rb.days[0].day, 20412);
    assert_int_equal(rb.days[0].attempts, 1);
    assert_int_equal(rb.days[1].day, 20413);
    assert_int_equal(rb.days[1].attempts, 5);
    /* primary-key order: day, connection, code */
    static const struct rollup_failure_cell want[] = {
        {20412, 3, 7, 691, 1}, {20413, 3, 7, 0, 1}, {20413, 3, 7, 809, 2}, {20413, 3, 8, 809, 1}};
    assert_int_equal(rb.n_cells, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rb.cells[i].day, want[i].day);
        assert_int_equal(rb.cells[i].connection, want[i].connection);
        assert_int_equal(rb.cells[i].code, want[i].code);
        assert_int_equal(rb.cells[i].failures, want[i].failures);
    }
    /* a reset batch starts empty and keeps working */
    rollup_batch_reset(&rb);
    rollup_batch_finish(&rb);
    assert_int_equal(rb.n_days, 0);
    assert_int_equal(rb.n_cells, 0);
    assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT, 20227, 1, true, -2146762495), RF_OK);
    rollup_batch_finish(&rb);
    assert_int_equal(rb.n_cells, 1);
    assert_int_equal(rb.cells[0].code, -2146762495);
    rollup_batch_free(&rb);
}

/* A group of batches of several devices (the PostgreSQL writer folds a
 * whole group): cells of different devices never merge, equal keys of the
 * same device from different batches do, and the order is the primary
 * key's (day, device, connection, code). */
static void test_group_folds_per_device(void **state)
{
    (void)state;
    struct rollup_batch rb;
    rollup_batch_init(&rb);
    assert_int_equal(rollup_batch_add(&rb, 9, MIDNIGHT + 1, 20227, 7, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 2, MIDNIGHT + 2, 20227, 7, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 9, MIDNIGHT + 3, 20227, 7, true, 809), RF_OK);
    assert_int_equal(rollup_batch_add(&rb, 2, MIDNIGHT + 4, 20225, 7, false, 0), RF_OK);
    rollup_batch_finish(&rb);
    assert_int_equal(rb.n_days, 1);
    assert_int_equal(rb.days[0].attempts, 4);
    assert_int_equal(rb.n_cells, 2);
    assert_int_equal(rb.cells[0].device, 2);
    assert_int_equal(rb.cells[0].failures, 1);
    assert_int_equal(rb.cells[1].device, 9);
    assert_int_equal(rb.cells[1].failures, 2);
    rollup_batch_free(&rb);
}

/* Keys interleaved so that no two neighbours share one: the merge after
 * the sort must still add every event exactly once. */
static void test_batch_merges_scattered_keys(void **state)
{
    (void)state;
    struct rollup_batch rb;
    rollup_batch_init(&rb);
    for (int i = 0; i < 6000; i++)
        assert_int_equal(rollup_batch_add(&rb, 3, MIDNIGHT + (int64_t)(i % 3) * DAY, 20227, i % 5,
                                          true, 800 + i % 7),
                         RF_OK);
    rollup_batch_finish(&rb);
    assert_int_equal(rb.n_days, 3);
    assert_int_equal(rb.n_cells, 3 * 5 * 7);
    uint64_t total = 0;
    for (size_t i = 0; i < rb.n_cells; i++) {
        total += rb.cells[i].failures;
        if (i)
            assert_true(rb.cells[i - 1].day < rb.cells[i].day ||
                        (rb.cells[i - 1].day == rb.cells[i].day &&
                         (rb.cells[i - 1].connection < rb.cells[i].connection ||
                          (rb.cells[i - 1].connection == rb.cells[i].connection &&
                           rb.cells[i - 1].code < rb.cells[i].code))));
    }
    assert_int_equal(total, 6000);
    for (size_t i = 0; i < rb.n_days; i++)
        assert_int_equal(rb.days[i].attempts, 2000);
    rollup_batch_free(&rb);
}

/* ---- the writer's upserts ---- */

struct fx {
    char dir[64];
    char path[128];
    struct writer_config cfg;
    struct writer *w;
    sqlite3 *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    struct writer_result res[64];
};

struct slot {
    struct fx *f;
    int i;
};

static struct slot slots[64];

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
    snprintf(f->dir, sizeof(f->dir), "/tmp/rfrollup-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/fleet.db", f->dir);
    f->cfg = (struct writer_config){.db_path = f->path,
                                    .queue_batches = 64,
                                    .queue_bytes = 64u << 20,
                                    .group_records = 50000,
                                    .retention_interval_s = 3600};
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    for (int i = 0; i < 64; i++)
        slots[i] = (struct slot){f, i};
    char err[256] = "";
    if (writer_start(&f->cfg, NULL, &f->w, err, sizeof(err)) != RF_OK)
        fail_msg("writer_start: %s", err);
    assert_int_equal(sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(f->db, 10000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    writer_stop(f->w);
    sqlite3_close(f->db);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void on_done(void *arg, const struct writer_result *res)
{
    struct slot *s = arg;
    pthread_mutex_lock(&s->f->mu);
    s->f->res[s->i] = *res;
    s->f->done++;
    pthread_cond_broadcast(&s->f->cv);
    pthread_mutex_unlock(&s->f->mu);
}

static void wait_done(struct fx *f, int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&f->mu);
    while (f->done < n && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
        ;
    int done = f->done;
    pthread_mutex_unlock(&f->mu);
    if (done < n)
        fail_msg("only %d of %d batches answered after 20 s", done, n);
}

/* One ras_event of a test batch (code 0 = no error_code, conn NULL = "VPN"). */
struct ev {
    int record_id;
    int event_id;
    int code; /* 0 = none */
    int64_t t;
    const char *conn;
};

static void submit(struct fx *f, int slot, const char *device, const char *batch_id,
                   const struct ev *evs, size_t n)
{
    struct buf j = BUF_INIT;
    buf_printf(&j, "{\"batch_id\":\"%s\",\"agent\":{\"device_id\":\"%s\"},\"records\":[", batch_id,
               device);
    for (size_t i = 0; i < n; i++) {
        char ts[TIME_RFC3339_MAX];
        time_format_rfc3339(evs[i].t, ts, sizeof(ts));
        buf_printf(&j,
                   "%s{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":%d,\"record_id\":%d,"
                   "\"level\":\"error\",\"user\":\"u\",\"connection\":\"%s\"",
                   i ? "," : "", ts, evs[i].event_id, evs[i].record_id,
                   evs[i].conn ? evs[i].conn : "VPN");
        if (evs[i].code)
            buf_printf(&j, ",\"error_code\":%d", evs[i].code);
        buf_append_char(&j, '}');
    }
    buf_append_str(&j, "]}");
    struct rf_batch b;
    struct batch_limits lim = {.max_records = 100000};
    struct batch_error err;
    if (batch_decode_json(j.data, j.len, &lim, &b, &err) != RF_OK)
        fail_msg("test batch invalid: %s %s: %s", err.code, err.field, err.message);
    buf_free(&j);
    assert_int_equal(writer_submit(f->w, &b, 1000, on_done, &slots[slot]), RF_OK);
}

static int64_t q(struct fx *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(f->db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(f->db));
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("'%s': %s", sql, sqlite3_errmsg(f->db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t attempts_on(struct fx *f, int64_t day)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(attempts), 0) FROM rollup_attempts WHERE day = %lld",
             (long long)day);
    return q(f, sql);
}

static int64_t failures_of(struct fx *f, int64_t day, const char *device, int code)
{
    char sql[320];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(failures), 0) FROM rollup_failures WHERE day = %lld AND"
             " code = %d AND device = (SELECT id FROM devices WHERE uid = '%s')",
             (long long)day, code, device);
    return q(f, sql);
}

/* The rollups hold exactly what SQL over the raw events says. */
static void assert_rollups_match_events(struct fx *f)
{
    static const char *const pairs[][2] = {
        {"SELECT count(*) FROM (SELECT day, attempts FROM rollup_attempts EXCEPT"
         " SELECT max(time, 0) / 86400000, count(*) FROM events"
         " WHERE event_id IN (20225, 20227) GROUP BY 1)",
         "SELECT count(*) FROM (SELECT max(time, 0) / 86400000, count(*) FROM events"
         " WHERE event_id IN (20225, 20227) GROUP BY 1 EXCEPT"
         " SELECT day, attempts FROM rollup_attempts)"},
        {"SELECT count(*) FROM (SELECT day, device, connection, code, failures"
         " FROM rollup_failures EXCEPT SELECT max(time, 0) / 86400000, device, connection,"
         " coalesce(error_code, 0), count(*) FROM events WHERE event_id = 20227"
         " GROUP BY 1, 2, 3, 4)",
         "SELECT count(*) FROM (SELECT max(time, 0) / 86400000, device, connection,"
         " coalesce(error_code, 0), count(*) FROM events WHERE event_id = 20227"
         " GROUP BY 1, 2, 3, 4 EXCEPT SELECT day, device, connection, code, failures"
         " FROM rollup_failures)"},
    };
    for (size_t i = 0; i < 2; i++) {
        if (q(f, pairs[i][0]) != 0 || q(f, pairs[i][1]) != 0)
            fail_msg("rollups differ from the raw events (%s)", i ? "failures" : "attempts");
    }
}

static void test_upsert_counts_each_event_once(void **state)
{
    struct fx *f = *state;
    /* record 2 twice in one batch: stored once, counted once */
    const struct ev a[] = {{1, 20227, 809, MIDNIGHT + 1000, NULL},
                           {2, 20227, 809, MIDNIGHT + 2000, NULL},
                           {2, 20227, 809, MIDNIGHT + 2000, NULL},
                           {3, 20225, 0, MIDNIGHT + 3000, NULL},
                           {4, 20226, 0, MIDNIGHT + 4000, NULL}};
    submit(f, 0, "dev-1", "b1", a, 5);
    wait_done(f, 1);
    assert_int_equal(f->res[0].status, RF_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 4);
    assert_int_equal(attempts_on(f, 20413), 3);
    assert_int_equal(failures_of(f, 20413, "dev-1", 809), 2);
    /* the same batch again: a duplicate, nothing counted */
    submit(f, 1, "dev-1", "b1", a, 5);
    wait_done(f, 2);
    assert_true(f->res[1].duplicate);
    /* a new batch resending records 1..3 with one new failure: only the new
     * one counts, and its upsert adds to the existing row */
    const struct ev b[] = {{1, 20227, 809, MIDNIGHT + 1000, NULL},
                           {2, 20227, 809, MIDNIGHT + 2000, NULL},
                           {3, 20225, 0, MIDNIGHT + 3000, NULL},
                           {5, 20227, 809, MIDNIGHT + 5000, NULL}};
    submit(f, 2, "dev-1", "b2", b, 4);
    wait_done(f, 3);
    assert_int_equal(f->res[2].status, RF_OK);
    assert_false(f->res[2].duplicate);
    assert_int_equal(attempts_on(f, 20413), 4);
    assert_int_equal(failures_of(f, 20413, "dev-1", 809), 3);
    assert_int_equal(q(f, "SELECT count(*) FROM rollup_failures"), 1);
    /* the same record ids from another device are that device's own */
    submit(f, 3, "dev-2", "b1", b, 4);
    wait_done(f, 4);
    assert_int_equal(attempts_on(f, 20413), 8);
    assert_int_equal(failures_of(f, 20413, "dev-2", 809), 3);
    /* and a resend after a restart (cold caches, a new writer) counts nothing */
    writer_stop(f->w);
    char err[256] = "";
    assert_int_equal(writer_start(&f->cfg, NULL, &f->w, err, sizeof(err)), RF_OK);
    submit(f, 4, "dev-2", "b3", b, 4);
    wait_done(f, 5);
    assert_int_equal(f->res[4].status, RF_OK);
    assert_int_equal(attempts_on(f, 20413), 8);
    assert_int_equal(failures_of(f, 20413, "dev-2", 809), 3);
    assert_rollups_match_events(f);
}

static void test_upsert_splits_days_at_utc_midnight(void **state)
{
    struct fx *f = *state;
    const struct ev a[] = {
        {1, 20227, 809, MIDNIGHT - 1, NULL},   {2, 20225, 0, MIDNIGHT - 1, NULL},
        {3, 20227, 809, MIDNIGHT, NULL},       {4, 20227, 809, MIDNIGHT + DAY - 1, NULL},
        {5, 20227, 809, MIDNIGHT + DAY, NULL}, {6, 20227, 0, MIDNIGHT + DAY, "Other VPN"}};
    submit(f, 0, "dev-1", "b1", a, 6);
    wait_done(f, 1);
    assert_int_equal(f->res[0].status, RF_OK);
    assert_int_equal(attempts_on(f, 20412), 2);
    assert_int_equal(attempts_on(f, 20413), 2);
    assert_int_equal(attempts_on(f, 20414), 2);
    assert_int_equal(failures_of(f, 20412, "dev-1", 809), 1);
    assert_int_equal(failures_of(f, 20413, "dev-1", 809), 2);
    assert_int_equal(failures_of(f, 20414, "dev-1", 809), 1);
    /* a failure without a code, on its own connection: code 0 */
    assert_int_equal(failures_of(f, 20414, "dev-1", 0), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM rollup_failures f JOIN dict c"
                          " ON c.id = f.connection WHERE c.s = 'Other VPN' AND f.code = 0"),
                     1);
    assert_rollups_match_events(f);
}

/* Batches in one group: a batch the database refuses leaves no rollup row
 * (and no partial count leaks into the next batch of the group). */
static void test_refused_batch_leaves_no_rollup(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sqlite3_exec(f->db,
                                  "CREATE TRIGGER refuse_666 BEFORE INSERT ON events"
                                  " WHEN NEW.record_id = 666 BEGIN"
                                  " SELECT RAISE(ABORT, 'record 666 refused'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    const struct ev good[] = {{1, 20227, 809, MIDNIGHT, NULL}, {2, 20225, 0, MIDNIGHT, NULL}};
    const struct ev bad[] = {{700, 20227, 809, MIDNIGHT, NULL},
                             {701, 20227, 809, MIDNIGHT, NULL},
                             {666, 20227, 809, MIDNIGHT, NULL}};
    const struct ev next[] = {{3, 20227, 691, MIDNIGHT, NULL}};
    assert_int_equal(sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    submit(f, 0, "dev-1", "good", good, 2);
    submit(f, 1, "dev-bad", "bad", bad, 3);
    submit(f, 2, "dev-1", "next", next, 1);
    assert_int_equal(sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    wait_done(f, 3);
    assert_int_equal(f->res[0].status, RF_OK);
    assert_int_equal(f->res[1].status, RF_EINVAL);
    assert_int_equal(f->res[2].status, RF_OK);
    assert_int_equal(attempts_on(f, 20413), 3);
    assert_int_equal(failures_of(f, 20413, "dev-1", 809), 1);
    assert_int_equal(failures_of(f, 20413, "dev-1", 691), 1);
    assert_int_equal(q(f, "SELECT sum(failures) FROM rollup_failures"), 2);
    assert_rollups_match_events(f);
}

/* Many batches with overlapping record ids over several days, several
 * devices and connections, read back through the module's readers. */
static int sum_attempts(void *arg, int64_t day, uint64_t n)
{
    (void)day;
    *(uint64_t *)arg += n;
    return RF_OK;
}

static int sum_daily(void *arg, int64_t day, int32_t code, uint64_t n)
{
    (void)day;
    if (code == 809)
        *(uint64_t *)arg += n;
    return RF_OK;
}

static int stop_at_first(void *arg, int64_t day, uint64_t n)
{
    (void)arg, (void)day, (void)n;
    return RF_EINVAL;
}

static void test_mixed_batches_match_sql_and_read_back(void **state)
{
    struct fx *f = *state;
    static const char *const conns[] = {"VPN", "Device VPN", "Legacy"};
    static const int codes[] = {809, 691, 0, -2146762495};
    int slot = 0;
    for (int round = 0; round < 3; round++) {
        for (int d = 0; d < 4; d++) {
            struct ev evs[40];
            for (int i = 0; i < 40; i++) {
                /* ids overlap between rounds: round r resends half of r-1 */
                int id = round * 20 + i;
                evs[i] = (struct ev){id,
                                     id % 4 == 0   ? 20225
                                     : id % 7 == 0 ? 20226
                                                   : 20227,
                                     codes[id % 4], MIDNIGHT + (int64_t)(id % 5) * DAY - 3600000,
                                     conns[(id + d) % 3]};
            }
            char dev[16], bid[16];
            snprintf(dev, sizeof(dev), "dev-%d", d);
            snprintf(bid, sizeof(bid), "r%d", round);
            submit(f, slot++, dev, bid, evs, 40);
        }
    }
    wait_done(f, slot);
    for (int i = 0; i < slot; i++)
        assert_int_equal(f->res[i].status, RF_OK);
    assert_rollups_match_events(f);
    /* the readers over days 20412..20414 */
    int64_t from = 20412, to = 20414;
    uint64_t att = 0, daily809 = 0;
    struct readstore *rs = NULL;
    assert_int_equal(readstore_wrap_sqlite(f->db, &rs), RF_OK);
    assert_int_equal(rollup_read_attempts(rs, from, to, sum_attempts, &att), RF_OK);
    assert_int_equal(att, q(f, "SELECT count(*) FROM events WHERE event_id IN (20225, 20227)"
                               " AND time >= 1763596800000 AND time < 1763856000000"));
    assert_int_equal(rollup_read_daily_failures(rs, from, to, sum_daily, &daily809), RF_OK);
    assert_int_equal(daily809, q(f, "SELECT count(*) FROM events WHERE event_id = 20227 AND"
                                    " error_code = 809 AND time >= 1763596800000"
                                    " AND time < 1763856000000"));
    assert_int_equal(rollup_read_attempts(rs, from, to, stop_at_first, NULL), RF_EINVAL);
    struct rollup_failures rows;
    rollup_failures_init(&rows);
    assert_int_equal(rollup_read_failures(rs, from, to, NULL, &rows), RF_OK);
    assert_int_equal(rows.n, q(f, "SELECT count(*) FROM (SELECT DISTINCT device, connection,"
                                  " coalesce(error_code, 0) FROM events WHERE event_id = 20227"
                                  " AND time >= 1763596800000 AND time < 1763856000000)"));
    uint64_t total = 0;
    for (size_t i = 0; i < rows.n; i++) {
        assert_non_null(strstr(rows.rows[i].device, "dev-"));
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM dict WHERE id = %lld AND s = '%s'",
                 (long long)rows.rows[i].connection_id, rows.rows[i].connection);
        assert_int_equal(q(f, sql), 1);
        total += rows.rows[i].failures;
    }
    assert_int_equal(total, q(f, "SELECT count(*) FROM events WHERE event_id = 20227 AND"
                                 " time >= 1763596800000 AND time < 1763856000000"));
    rollup_failures_free(&rows);
    /* with a code: only that code's rows */
    int32_t code = -2146762495;
    rollup_failures_init(&rows);
    assert_int_equal(rollup_read_failures(rs, from, to, &code, &rows), RF_OK);
    assert_true(rows.n > 0);
    for (size_t i = 0; i < rows.n; i++)
        assert_int_equal(rows.rows[i].code, code);
    rollup_failures_free(&rows);
    readstore_close(rs);
}

static void restart(struct fx *f)
{
    char err[256] = "";
    writer_stop(f->w);
    if (writer_start(&f->cfg, NULL, &f->w, err, sizeof(err)) != RF_OK)
        fail_msg("writer_start: %s", err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to 5 s for sql to give want (retention runs when the writer idles). */
static void wait_for(struct fx *f, const char *sql, int64_t want)
{
    for (int i = 0; i < 100 && q(f, sql) != want; i++)
        usleep(50000);
    if (q(f, sql) != want)
        fail_msg("'%s' gave %lld, not %lld, after 5 s", sql, (long long)q(f, sql), (long long)want);
}

/* The two retentions are separate: raw rows go after retention_days while
 * their rollups stay; rollups go after rollup_retention_days, in whole days,
 * while raw rows kept forever stay. */
static void test_rollup_retention_is_its_own(void **state)
{
    struct fx *f = *state;
    int64_t now = now_ms(), today = rollup_day(now);
    const struct ev evs[] = {{1, 20227, 809, now - 10 * DAY, NULL},
                             {2, 20225, 0, now - 10 * DAY, NULL},
                             {3, 20227, 809, (today - 3) * DAY, NULL}, /* kept: day today-3 */
                             {4, 20227, 809, now - 3600000, NULL}};
    submit(f, 0, "dev-1", "b1", evs, 4);
    wait_done(f, 1);
    assert_int_equal(q(f, "SELECT count(*) FROM rollup_failures"), 3);
    /* raw rows older than 3 days go (all but record 4), every rollup row stays */
    f->cfg.retention_days = 3;
    f->cfg.rollup_retention_days = 0;
    f->cfg.retention_interval_s = 0;
    restart(f);
    wait_for(f, "SELECT count(*) FROM events", 1);
    usleep(300000);
    assert_int_equal(q(f, "SELECT count(*) FROM rollup_failures"), 3);
    assert_int_equal(q(f, "SELECT sum(attempts) FROM rollup_attempts"), 4);
    /* rollups of days before today - 3 go; raw rows kept forever stay */
    f->cfg.retention_days = 0;
    f->cfg.rollup_retention_days = 3;
    restart(f);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rollup_failures WHERE day < %lld",
             (long long)(today - 3));
    wait_for(f, sql, 0);
    wait_for(f, "SELECT count(*) FROM rollup_attempts", 2);
    assert_int_equal(q(f, "SELECT count(*) FROM rollup_failures"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM events"), 1);
}

/* Retention deletes rollup rows in steps of 2000: 5000 rows go in three. */
static void test_rollup_retention_in_steps(void **state)
{
    struct fx *f = *state;
    int64_t old = rollup_day(now_ms()) - 30;
    char sql[200];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)"
             " INSERT INTO rollup_failures SELECT %lld - i %% 3, i, 1, 809, 1 FROM n",
             (long long)old);
    assert_int_equal(sqlite3_exec(f->db, sql, NULL, NULL, NULL), SQLITE_OK);
    f->cfg.rollup_retention_days = 10;
    f->cfg.retention_interval_s = 0;
    restart(f);
    wait_for(f, "SELECT count(*) FROM rollup_failures", 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_ERROR + 1); /* the refused batch logs on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_of_time),
        cmocka_unit_test(test_batch_folds_outcomes_only),
        cmocka_unit_test(test_batch_merges_scattered_keys),
        cmocka_unit_test(test_group_folds_per_device),
        T(test_upsert_counts_each_event_once),
        T(test_upsert_splits_days_at_utc_midnight),
        T(test_refused_batch_leaves_no_rollup),
        T(test_mixed_batches_match_sql_and_read_back),
        T(test_rollup_retention_is_its_own),
        T(test_rollup_retention_in_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
