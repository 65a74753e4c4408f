/* Unit tests for server/readstore.c and readstore_sqlite.c: the readstore on
 * SQLite (PostgreSQL's, pg_reads.c, is exercised by
 * tests/integration/test_pg_reads.py against a real server): typed
 * parameters, NULLs, rewinding, one open result at a time, settings saved
 * through their own connection and read back, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rasfleet/result.h"
#include "readstore.h"
#include "store.h"

struct fx {
    char dir[64], path[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/rf-readstore-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    sqlite3 *db = NULL;
    char err[200];
    if (store_open(f->path, STORE_READ_WRITE, &db, err, sizeof(err)) != RF_OK)
        return -1;
    int rc = sqlite3_exec(db,
                          "INSERT INTO devices(uid, hostname, first_seen, last_seen)"
                          " VALUES('dev-1', NULL, 1, 2);"
                          "INSERT INTO rollup_attempts(day, attempts) VALUES(10, 3), (11, 4);"
                          "INSERT INTO dict(s) VALUES('VPN');"
                          "INSERT INTO rollup_failures(day, device, connection, code, failures)"
                          " SELECT 10, d.id, c.id, 809, 2 FROM devices d, dict c;",
                          NULL, NULL, NULL);
    sqlite3_close(db);
    *state = f;
    return rc == SQLITE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void test_typed_queries_and_nulls(void **state)
{
    struct fx *f = *state;
    struct readstore *rs = NULL;
    struct rs_rows *r = NULL;
    char err[200];
    int rc = RF_OK;
    assert_int_equal(readstore_open(f->path, &rs, err, sizeof(err)), RF_OK);
    assert_int_equal(readstore_begin(rs), RF_OK);
    struct rs_arg uid = RS_TEXT("dev-1");
    assert_int_equal(readstore_query(rs, RS_DEVICE_ID, &uid, 1, &r), RF_OK);
    assert_true(rs_next(r, &rc));
    int64_t dev = rs_int(r, 0);
    assert_false(rs_next(r, &rc));
    assert_int_equal(rc, RF_OK);
    /* one result at a time */
    struct rs_rows *other = NULL;
    assert_int_equal(readstore_query(rs, RS_DEVICE_ID, &uid, 1, &other), RF_ESTORAGE);
    assert_null(other);
    rs_close(r);
    /* a NULL parameter: every code */
    struct rs_arg days[3] = {RS_INT(10), RS_INT(11), RS_NULL_INT};
    assert_int_equal(readstore_query(rs, RS_ROLLUP_FAILURES, days, 3, &r), RF_OK);
    assert_true(rs_next(r, &rc));
    assert_string_equal(rs_text(r, 0), "dev-1");
    assert_string_equal(rs_text(r, 2), "VPN");
    assert_int_equal(rs_int(r, 3), 809);
    assert_int_equal(rs_int(r, 4), 2);
    assert_false(rs_null(r, 4));
    /* rewinding gives the same rows again */
    rs_rewind(r);
    assert_true(rs_next(r, &rc));
    assert_int_equal(rs_int(r, 4), 2);
    rs_close(r);
    /* another code: nothing */
    days[2] = RS_INT(691);
    assert_int_equal(readstore_query(rs, RS_ROLLUP_FAILURES, days, 3, &r), RF_OK);
    assert_false(rs_next(r, &rc));
    assert_int_equal(rc, RF_OK);
    rs_close(r);
    /* SQL NULL reads as NULL text */
    struct rs_arg d = RS_INT(dev);
    assert_int_equal(readstore_query(rs, RS_AGENT_STATUS, &d, 1, &r), RF_OK);
    assert_false(rs_next(r, &rc)); /* this device's agent never reported */
    rs_close(r);
    readstore_end(rs);
    readstore_end(rs); /* ending twice is harmless */
    readstore_close(rs);
}

static void test_settings_round_trip(void **state)
{
    struct fx *f = *state;
    struct readstore *rs = NULL, *wrapped = NULL;
    struct rs_rows *r = NULL;
    char err[200];
    int rc = RF_OK;
    assert_int_equal(readstore_open(f->path, &rs, err, sizeof(err)), RF_OK);
    struct rs_arg key = RS_TEXT("ipsec_baseline");
    assert_int_equal(readstore_query(rs, RS_SETTING, &key, 1, &r), RF_OK);
    assert_false(rs_next(r, &rc)); /* none saved yet */
    rs_close(r);
    assert_int_equal(readstore_save_setting(rs, "ipsec_baseline", "{\"a\":1}"), RF_OK);
    assert_int_equal(readstore_save_setting(rs, "ipsec_baseline", "{\"a\":2}"), RF_OK);
    assert_int_equal(readstore_query(rs, RS_SETTING, &key, 1, &r), RF_OK);
    assert_true(rs_next(r, &rc));
    assert_string_equal(rs_text(r, 0), "{\"a\":2}");
    rs_close(r);
    /* a wrapped connection has no path to write through */
    sqlite3 *db = NULL;
    assert_int_equal(store_open(f->path, STORE_READ_ONLY, &db, err, sizeof(err)), RF_OK);
    assert_int_equal(readstore_wrap_sqlite(db, &wrapped), RF_OK);
    assert_int_equal(readstore_save_setting(wrapped, "k", "v"), RF_ESTORAGE);
    readstore_close(wrapped);
    sqlite3_close(db); /* still the caller's */
    readstore_close(rs);
}

static void test_open_refuses_a_missing_database(void **state)
{
    struct fx *f = *state;
    struct readstore *rs = NULL;
    char err[200] = "", path[128];
    snprintf(path, sizeof(path), "%s/missing/none.db", f->dir);
    assert_int_not_equal(readstore_open(path, &rs, err, sizeof(err)), RF_OK);
    assert_null(rs);
    assert_true(err[0] != '\0');
    readstore_close(NULL); /* harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_typed_queries_and_nulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_a_missing_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
