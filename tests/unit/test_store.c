/*
 * test_store.c - unit tests for server/store.c: open, pragmas, migrations,
 * version guard, storage-error classification.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log.h"
#include "rasfleet/result.h"
#include "store.h"

struct fx {
    char dir[64];
    char path[128];
};

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
    snprintf(f->dir, sizeof(f->dir), "/tmp/rfstore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/fleet.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rm_rf(f->dir);
    free(f);
    return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static bool object_exists(sqlite3 *db, const char *type, const char *name)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_schema WHERE type=? AND name=?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool yes = sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    return yes;
}

static const char *const TABLES[] = {"meta",         "dict",         "devices",
                                     "batches",      "events",       "iface_metrics",
                                     "pbk_entries",  "vpn_policies", "tokens",
                                     "rollup_attempts", "rollup_failures"};
static const char *const INDEXES[] = {"batches_received",     "events_device_record",
                                      "events_minute",        "iface_metrics_device",
                                      "iface_metrics_time",   "pbk_entries_device",
                                      "pbk_entries_time",     "vpn_policies_device",
                                      "vpn_policies_time"};

static void test_schema_version(void **state)
{
    (void)state;
    assert_true(store_schema_version() >= 1);
}

static void test_open_fresh(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    char err[256] = "";
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_non_null(db);
    assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_version());
    char mode[32];
    query_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(query_int(db, "PRAGMA busy_timeout"), 5000);
    for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++)
        if (!object_exists(db, "table", TABLES[i]))
            fail_msg("table %s missing", TABLES[i]);
    for (size_t i = 0; i < sizeof(INDEXES) / sizeof(INDEXES[0]); i++)
        if (!object_exists(db, "index", INDEXES[i]))
            fail_msg("index %s missing", INDEXES[i]);
    /* every table is empty and usable */
    for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", TABLES[i]);
        assert_int_equal(query_int(db, sql), 0);
    }
    sqlite3_close(db);
    assert_true(store_disk_bytes(f->path) > 0);
}

static void test_schema_constraints(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    /* the per-device event dedupe and the token role check exist */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO events(device,time,received,event_id,record_id,"
                                  "level,user,connection) VALUES(1,0,0,20227,5,2,1,1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO events(device,time,received,event_id,record_id,"
                                  "level,user,connection) VALUES(1,0,0,20227,5,2,1,1)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT_UNIQUE);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO tokens(name,role,hash,created)"
                                  " VALUES('x','admin',x'00',0)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT_CHECK);
    assert_int_equal(
        sqlite3_exec(db, "INSERT INTO dict(s) VALUES('a'); INSERT INTO dict(s) VALUES('a')", NULL,
                     NULL, NULL),
        SQLITE_CONSTRAINT_UNIQUE);
    sqlite3_close(db);
}

static void test_reopen_is_noop(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO meta VALUES('k', 'v')", NULL, NULL, NULL),
                     SQLITE_OK);
    int64_t objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
    sqlite3_close(db);
    db = NULL;
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
    assert_int_equal(query_int(db, "SELECT count(*) FROM meta WHERE key='k' AND value='v'"), 1);
    /* migrating an up-to-date database changes nothing either */
    assert_int_equal(store_migrate(db, err, sizeof(err)), RF_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
    sqlite3_close(db);
}

/* A database left by schema 1 (events_time) is upgraded in place: rows
 * kept, the index replaced, and retention's query served by the new one. */
static void test_upgrade_from_version_1(void **state)
{
    struct fx *f = *state;
    sqlite3 *raw = NULL;
    char err[256] = "", plan[256] = "";
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(store_migrate_to(raw, 1, err, sizeof(err)), RF_OK);
    assert_true(object_exists(raw, "index", "events_time"));
    assert_int_equal(sqlite3_exec(raw,
                                  "INSERT INTO devices VALUES(1,'d',NULL,NULL,NULL,0,0);"
                                  "INSERT INTO events(device,time,received,event_id,record_id,"
                                  "level,user,connection) VALUES(1,120000,0,20227,1,2,1,1),"
                                  "(1,60000,0,20227,2,2,1,1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = NULL;
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_version());
    assert_false(object_exists(db, "index", "events_time"));
    assert_true(object_exists(db, "index", "events_minute"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM events"), 2);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT id FROM events"
                                        " WHERE time / 60000 < 2 LIMIT 10",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) /* columns: id, parent, notused, detail */
        snprintf(plan + strlen(plan), sizeof(plan) - strlen(plan), "%s;",
                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    if (!strstr(plan, "events_minute"))
        fail_msg("retention query does not use events_minute: %s", plan);
    assert_int_equal(query_int(db, "SELECT count(*) FROM events WHERE time / 60000 < 2"), 1);
    assert_int_equal(store_migrate_to(db, store_schema_version() + 1, err, sizeof(err)),
                     RF_EINVAL);
    sqlite3_close(db);
}

/* A database left by schema 2 (no rollups) gets its rollups filled from the
 * raw events it holds: outcome events only, days split at UTC midnight, a
 * failure without a code under code 0, a time before 1970 on day 0. */
static void test_upgrade_from_version_2_fills_rollups(void **state)
{
    struct fx *f = *state;
    sqlite3 *raw = NULL;
    char err[256] = "";
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(store_migrate_to(raw, 2, err, sizeof(err)), RF_OK);
    assert_false(object_exists(raw, "table", "rollup_failures"));
    /* day 20412 = 2025-11-20; 1763683199999 is its last millisecond */
    assert_int_equal(
        sqlite3_exec(raw,
                     "INSERT INTO devices VALUES(1,'d1',NULL,NULL,NULL,0,0),"
                     "(2,'d2',NULL,NULL,NULL,0,0);"
                     "INSERT INTO events(device,time,received,event_id,record_id,level,user,"
                     "connection,error_code) VALUES"
                     "(1,1763683199999,0,20227,1,2,1,7,809),"   /* day 20412 */
                     "(1,1763683200000,0,20227,2,2,1,7,809),"   /* day 20413 */
                     "(1,1763683200001,0,20227,3,2,1,7,809),"
                     "(1,1763683200002,0,20227,4,2,1,8,809),"   /* other connection */
                     "(1,1763683200003,0,20227,5,2,1,7,NULL),"  /* no code: 0 */
                     "(2,1763683200004,0,20227,1,2,1,7,809),"
                     "(1,1763683200005,0,20225,6,4,1,7,NULL),"  /* success */
                     "(1,1763683200006,0,20226,7,4,1,7,NULL),"  /* not an outcome */
                     "(1,1763683200007,0,20221,8,4,1,7,NULL),"
                     "(2,-5000,0,20227,2,2,1,7,691);",          /* before 1970: day 0 */
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = NULL;
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(query_int(db, "SELECT count(*) FROM rollup_attempts"), 3);
    assert_int_equal(query_int(db, "SELECT attempts FROM rollup_attempts WHERE day = 20412"), 1);
    assert_int_equal(query_int(db, "SELECT attempts FROM rollup_attempts WHERE day = 20413"), 6);
    assert_int_equal(query_int(db, "SELECT attempts FROM rollup_attempts WHERE day = 0"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM rollup_failures"), 6);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 20412"
                                   " AND device = 1 AND connection = 7 AND code = 809"),
                     1);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 20413"
                                   " AND device = 1 AND connection = 7 AND code = 809"),
                     2);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 20413"
                                   " AND device = 1 AND connection = 8 AND code = 809"),
                     1);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 20413"
                                   " AND device = 1 AND connection = 7 AND code = 0"),
                     1);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 20413"
                                   " AND device = 2 AND code = 809"),
                     1);
    assert_int_equal(query_int(db, "SELECT failures FROM rollup_failures WHERE day = 0"
                                   " AND device = 2 AND code = 691"),
                     1);
    /* the rollups hold every outcome event of the raw table */
    assert_int_equal(query_int(db, "SELECT sum(attempts) FROM rollup_attempts"),
                     query_int(db, "SELECT count(*) FROM events"
                                   " WHERE event_id IN (20225, 20227)"));
    assert_int_equal(query_int(db, "SELECT sum(failures) FROM rollup_failures"),
                     query_int(db, "SELECT count(*) FROM events WHERE event_id = 20227"));
    sqlite3_close(db);
}

static void test_newer_version_refused(void **state)
{
    struct fx *f = *state;
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = (sqlite3 *)0x1;
    char err[256] = "";
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_ESTORAGE);
    assert_null(db);
    char expect[256];
    snprintf(expect, sizeof(expect),
             "database schema version %d is newer than this build (%d): upgrade rasfleet",
             store_schema_version() + 1, store_schema_version());
    assert_string_equal(err, expect);
    /* nothing was created in it */
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(query_int(raw, "SELECT count(*) FROM sqlite_schema"), 0);
    assert_int_equal(query_int(raw, "PRAGMA user_version"), store_schema_version() + 1);
    sqlite3_close(raw);
}

static void test_failed_migration_rolls_back(void **state)
{
    struct fx *f = *state;
    sqlite3 *raw;
    /* a foreign table named like one of ours makes migration 1 fail */
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "CREATE TABLE events(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    sqlite3 *db = NULL;
    char err[256] = "";
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_ESTORAGE);
    assert_null(db);
    assert_non_null(strstr(err, "events"));
    assert_int_equal(sqlite3_open(f->path, &raw), SQLITE_OK);
    assert_int_equal(query_int(raw, "PRAGMA user_version"), 0);
    /* tables created before the failing statement were rolled back */
    assert_false(object_exists(raw, "table", "meta"));
    assert_false(object_exists(raw, "table", "dict"));
    assert_true(object_exists(raw, "table", "events"));
    sqlite3_close(raw);
}

static void test_open_not_a_database(void **state)
{
    struct fx *f = *state;
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 512; i++)
        fputs("this is not an SQLite database. ", fp);
    fclose(fp);
    sqlite3 *db = NULL;
    char err[256] = "";
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_ESTORAGE);
    assert_null(db);
    assert_true(strlen(err) > 0);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    char err[256] = "";
    const char *p = "/nonexistent-rasfleet-dir/sub/fleet.db";
    assert_int_equal(store_open(p, STORE_READ_WRITE, &db, err, sizeof(err)), RF_ESTORAGE);
    assert_null(db);
    assert_non_null(strstr(err, "cannot open database"));
    assert_non_null(strstr(err, p));
}

static void test_read_only(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    char err[256] = "";
    /* a missing file is not created in read-only mode */
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &db, err, sizeof(err)), RF_ESTORAGE);
    assert_null(db);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO meta VALUES('a','b')", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3 *ro = NULL;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &ro, err, sizeof(err)), RF_OK);
    assert_int_equal(query_int(ro, "SELECT count(*) FROM meta"), 1);
    int rc = sqlite3_exec(ro, "INSERT INTO meta VALUES('c','d')", NULL, NULL, NULL);
    assert_int_equal(rc & 0xff, SQLITE_READONLY);
    assert_true(store_is_storage_error(rc));
    assert_int_equal(query_int(db, "SELECT count(*) FROM meta"), 1);
    sqlite3_close(ro);
    sqlite3_close(db);
}

static void test_disk_bytes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_disk_bytes(f->path), 0);
    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    int64_t before = store_disk_bytes(f->path);
    assert_true(before > 0);
    assert_int_equal(sqlite3_exec(db,
                                  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n"
                                  " WHERE i < 2000) INSERT INTO dict(s)"
                                  " SELECT printf('%0200d', i) FROM n",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* main file + WAL: grows with the data before any checkpoint */
    assert_true(store_disk_bytes(f->path) >= before + 2000 * 200);
    sqlite3_close(db);
}

static void test_storage_error_classes(void **state)
{
    (void)state;
    assert_true(store_is_storage_error(SQLITE_FULL));
    assert_true(store_is_storage_error(SQLITE_READONLY));
    assert_true(store_is_storage_error(SQLITE_READONLY_DBMOVED));
    assert_true(store_is_storage_error(SQLITE_IOERR));
    assert_true(store_is_storage_error(SQLITE_IOERR_WRITE));
    assert_true(store_is_storage_error(SQLITE_IOERR_FSYNC));
    assert_true(store_is_storage_error(SQLITE_CANTOPEN));
    assert_true(store_is_storage_error(SQLITE_BUSY));
    assert_true(store_is_storage_error(SQLITE_LOCKED));
    assert_true(store_is_storage_error(SQLITE_NOMEM));
    assert_true(store_is_storage_error(SQLITE_CORRUPT));
    assert_true(store_is_storage_error(SQLITE_PERM));
    assert_false(store_is_storage_error(SQLITE_CONSTRAINT));
    assert_false(store_is_storage_error(SQLITE_CONSTRAINT_UNIQUE));
    assert_false(store_is_storage_error(SQLITE_CONSTRAINT_NOTNULL));
    assert_false(store_is_storage_error(SQLITE_OK));
    assert_false(store_is_storage_error(SQLITE_DONE));
    assert_false(store_is_storage_error(SQLITE_ROW));
    assert_false(store_is_storage_error(SQLITE_ERROR));
    assert_false(store_is_storage_error(SQLITE_MISUSE));
    assert_false(store_is_storage_error(SQLITE_MISMATCH));
    assert_false(store_is_storage_error(SQLITE_TOOBIG));
}

static void test_full_database_is_storage_error(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = NULL;
    char err[256];
    assert_int_equal(store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)), RF_OK);
    int64_t pages = query_int(db, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    int rc = sqlite3_exec(db,
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n"
                          " WHERE i < 5000) INSERT INTO dict(s)"
                          " SELECT printf('%0500d', i) FROM n",
                          NULL, NULL, NULL);
    assert_int_equal(rc, SQLITE_FULL);
    assert_true(store_is_storage_error(rc));
    assert_int_equal(query_int(db, "SELECT count(*) FROM dict"), 0);
    sqlite3_close(db);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_version),
        T(test_open_fresh),
        T(test_schema_constraints),
        T(test_reopen_is_noop),
        T(test_upgrade_from_version_1),
        T(test_upgrade_from_version_2_fills_rollups),
        T(test_newer_version_refused),
        T(test_failed_migration_rolls_back),
        T(test_open_not_a_database),
        cmocka_unit_test(test_open_bad_path),
        T(test_read_only),
        T(test_disk_bytes),
        cmocka_unit_test(test_storage_error_classes),
        T(test_full_database_is_storage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
