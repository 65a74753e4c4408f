/*
 * test_checkpointer.c - the background WAL checkpointer: it copies committed
 * pages into the database file without the writer's help, every interval
 * and as soon as the writer reports enough uncopied frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpointer.h"
#include "log.h"
#include "rasfleet/result.h"

struct fx {
    char dir[64];
    char path[128];
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/rfckpt-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    if (sqlite3_open(f->path, &f->db) != SQLITE_OK ||
        sqlite3_busy_timeout(f->db, 5000) != SQLITE_OK ||
        sqlite3_exec(f->db,
                     "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                     " CREATE TABLE t(x BLOB);",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[160];
    sqlite3_close(f->db);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Commits n transactions of one 8 KiB row each (3+ WAL frames apiece). */
static void write_rows(struct fx *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(
            sqlite3_exec(f->db, "INSERT INTO t VALUES(zeroblob(8192))", NULL, NULL, NULL),
            SQLITE_OK);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void wait_frames(struct checkpointer *c, uint64_t at_least, struct checkpointer_stats *s)
{
    for (int i = 0; i < 200; i++) {
        checkpointer_get_stats(c, s);
        if (s->frames >= at_least)
            return;
        usleep(20000);
    }
    fail_msg("checkpointer copied %llu frames in 4 s, expected >= %llu",
             (unsigned long long)s->frames, (unsigned long long)at_least);
}

static void test_copies_committed_pages(void **state)
{
    struct fx *f = *state;
    int64_t before = file_size(f->path);
    write_rows(f, 50);
    struct checkpointer *c = NULL;
    char err[256] = "";
    struct checkpointer_config cfg = {
        .db_path = f->path, .interval_ms = 20, .catchup_frames = 1 << 20};
    assert_int_equal(checkpointer_start(&cfg, &c, err, sizeof(err)), RF_OK);
    struct checkpointer_stats s;
    wait_frames(c, 100, &s);
    /* the pages are in the database file now, not only in the WAL */
    assert_true(file_size(f->path) >= before + 50 * 8192);
    assert_int_equal(s.failures, 0);
    /* once everything is copied, the next commit wraps the WAL to its start */
    write_rows(f, 1);
    uint64_t copied = s.frames;
    wait_frames(c, copied + 1, &s);
    assert_true(s.wal_frames < 20);
    checkpointer_stop(c);
}

static void test_commits_wake_it(void **state)
{
    struct fx *f = *state;
    struct checkpointer *c = NULL;
    char err[256] = "";
    /* an interval that never comes in this test: only the writer's reports
     * make it copy */
    struct checkpointer_config cfg = {.db_path = f->path, .interval_ms = 600000,
                                      .catchup_frames = 30};
    assert_int_equal(checkpointer_start(&cfg, &c, err, sizeof(err)), RF_OK);
    write_rows(f, 5);
    checkpointer_committed(c, 20); /* under catchup_frames: no pass */
    usleep(200000);
    struct checkpointer_stats s;
    checkpointer_get_stats(c, &s);
    assert_int_equal(s.frames, 0);
    write_rows(f, 35);
    checkpointer_committed(c, 130); /* past it: a pass at once */
    wait_frames(c, 100, &s);
    assert_int_equal(s.failures, 0);
    checkpointer_stop(c);
    int64_t n = 0;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(n, 40);
}

static void test_bad_path(void **state)
{
    (void)state;
    struct checkpointer *c = NULL;
    char err[256] = "";
    struct checkpointer_config cfg = {.db_path = "/nonexistent-dir/x.db"};
    assert_int_equal(checkpointer_start(&cfg, &c, err, sizeof(err)), RF_ESTORAGE);
    assert_null(c);
    assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
    checkpointer_stop(NULL);
}

int main(void)
{
    log_set_level(LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_copies_committed_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_wake_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
