/*
 * rawinsert.c - rasfleet-rawinsert: the SQLite baseline for the ingest
 * benchmark.
 *
 * Inserts the rows rasfleet-loadgen sends (same generator, same order:
 * batches of N events cycling over D devices) straight into the events
 * table of a fresh database opened with the collector's own store_open(),
 * so schema, pragmas (WAL, synchronous=FULL, cache size, autocheckpoint)
 * are the collector's (whose writer instead syncs the WAL on another thread,
 * walsync.h: here every COMMIT waits for its sync). It uses the writer's exact INSERT statement and, as
 * the writer does, stores a 20226/20227 message that is its catalogue text
 * as a mark (common/event_message.h),
 * prepared once, in transactions of --txn-rows rows (the collector's
 * group_records default). No HTTP, no JSON, no dictionary lookups: the
 * rate the storage engine allows, to divide the collector's rate by.
 *
 * Two databases are measured: "pk" (every secondary index dropped: only
 * the tables' primary keys remain) and "full" (the schema as migrated).
 * Rows are generated before each transaction starts and only the time
 * between BEGIN and the return of COMMIT is counted. Besides the wall-clock
 * rate, each run reports the process CPU time and the pages SQLite wrote to
 * the WAL (SQLITE_DBSTATUS_CACHE_WRITE) over the same sections: on a shared
 * machine whose disk and cores other work also uses, those two vary far
 * less than rows/s.
 *
 * --rollups adds what the writer does per batch for the daily rollups
 * (server/rollup.c, the same code): each inserted outcome event is folded
 * in memory and the batch's few rows are upserted after its events, so
 * "full" and "full+rollups" runs side by side give the storage cost of the
 * rollups.
 */
#include "benchgen.h"
#include "event_message.h"
#include "rasfleet/result.h"
#include "rollup.h"
#include "store.h"
#include "timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* server/writer.c, ST_EVENT_INSERT */
static const char *const event_insert_sql =
    "INSERT OR IGNORE INTO events(device, time, received, event_id,"
    " record_id, level, user, connection, error_code, reason_code, coid,"
    " message, message_template) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)";

struct opts {
    const char *dir;
    uint64_t rows;
    uint32_t records;
    uint32_t devices;
    uint64_t txn_rows;
    bool do_pk, do_full;
    bool keep;
    bool rollups;
    const char *drop[16]; /* --drop-index: dropped from the "full" database too */
    int n_drop;
    const char *sql[16]; /* --sql: run on the "full" database after the drops */
    int n_sql;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: rasfleet-rawinsert [--dir DIR] [--rows N] [--records N] [--devices D]\n"
                 "                          [--txn-rows R] [--mode pk|full|both] [--keep] [--rollups]\n"
                 "  --dir DIR       where the fresh databases go (default: a new folder in"
                 " $TMPDIR or /tmp)\n"
                 "  --rows N        rows per database (default 2000000)\n"
                 "  --records N     events per simulated batch (default 500)\n"
                 "  --devices D     simulated devices (default 2000)\n"
                 "  --txn-rows R    rows per transaction (default 50000)\n"
                 "  --mode M        pk (secondary indexes dropped), full, or both (default)\n"
                 "  --drop-index I  drop index I from the full schema as well (repeatable):\n"
                 "                  the cost of one index\n"
                 "  --sql STMT      run STMT on the full database after the drops (repeatable),\n"
                 "                  e.g. to try another index\n"
                 "  --rollups       also fold each batch's events into the daily rollup tables\n"
                 "                  and upsert them, as the collector's writer does\n"
                 "  --keep          keep the database files\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "rasfleet-rawinsert: %s: %s\n", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

/* Drops every index that has SQL text (the explicit CREATE INDEX ones);
 * the automatic indexes of PRIMARY KEY / UNIQUE constraints stay. */
static int drop_secondary_indexes(sqlite3 *db, int *dropped)
{
    sqlite3_stmt *st = NULL;
    char names[64][128];
    int n = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS"
                               " NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW && n < 64)
        snprintf(names[n++], sizeof(names[0]), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        char *sql = sqlite3_mprintf("DROP INDEX \"%w\"", names[i]);
        int rc = sql ? exec(db, sql) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
            return -1;
    }
    *dropped = n;
    return 0;
}

static int64_t file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Process CPU time (user + system) in ns. */
static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Pages the connection has written to disk (the WAL) so far. */
static int64_t pages_written(sqlite3 *db)
{
    int cur = 0, hi = 0;
    sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 0);
    return cur;
}

static int run_mode(const struct opts *o, bool full, struct benchgen_event *evs)
{
    const char *mode = full ? "full" : "pk";
    char path[4096], wal[4200], shm[4200], err[512];
    snprintf(path, sizeof(path), "%s/rawinsert-%s.db", o->dir, mode);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    sqlite3 *db = NULL;
    if (store_open(path, STORE_READ_WRITE, &db, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "rasfleet-rawinsert: %s\n", err);
        return -1;
    }
    int dropped = 0;
    if (!full && drop_secondary_indexes(db, &dropped) != 0) {
        sqlite3_close(db);
        return -1;
    }
    char label[600];
    snprintf(label, sizeof(label), "%s", mode);
    for (int i = 0; full && i < o->n_drop; i++) {
        char *sql = sqlite3_mprintf("DROP INDEX \"%w\"", o->drop[i]);
        int rc = sql ? exec(db, sql) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            sqlite3_close(db);
            return -1;
        }
        size_t len = strlen(label);
        snprintf(label + len, sizeof(label) - len, "%s%s", i ? "," : "-without:", o->drop[i]);
        dropped++;
    }
    for (int i = 0; full && i < o->n_sql; i++) {
        if (exec(db, o->sql[i]) != SQLITE_OK) {
            sqlite3_close(db);
            return -1;
        }
        size_t len = strlen(label);
        snprintf(label + len, sizeof(label) - len, "%s", i ? "" : "+sql");
    }
    if (o->rollups) {
        size_t len = strlen(label);
        snprintf(label + len, sizeof(label) - len, "+rollups");
    }
    sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL, *up_att = NULL, *up_fail = NULL;
    struct rollup_batch rb;
    rollup_batch_init(&rb);
    if (sqlite3_prepare_v3(db, event_insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &ins, NULL) ||
        sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) ||
        sqlite3_prepare_v3(db, ROLLUP_UPSERT_ATTEMPTS_SQL, -1, SQLITE_PREPARE_PERSISTENT, &up_att,
                           NULL) ||
        sqlite3_prepare_v3(db, ROLLUP_UPSERT_FAILURES_SQL, -1, SQLITE_PREPARE_PERSISTENT,
                           &up_fail, NULL)) {
        fprintf(stderr, "rasfleet-rawinsert: prepare: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(ins);
        sqlite3_finalize(begin);
        sqlite3_finalize(commit);
        sqlite3_finalize(up_att);
        sqlite3_finalize(up_fail);
        sqlite3_close(db);
        return -1;
    }
    struct benchgen g = {.run = 1, .devices = o->devices, .records = o->records,
                         .base_ms = time_now_ms()};
    int64_t spent_ns = 0, worst_commit_ns = 0, spent_cpu_ns = 0, pages = 0;
    uint64_t inserted = 0, txns = 0;
    int rc = 0;
    for (uint64_t r0 = 0; r0 < o->rows && rc == 0; r0 += o->txn_rows) {
        uint64_t n = o->rows - r0 < o->txn_rows ? o->rows - r0 : o->txn_rows;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t r = r0 + i;
            benchgen_event(&g, r / o->records, (uint32_t)(r % o->records), &evs[i]);
        }
        int64_t now_ms = time_now_ms();
        int64_t c0 = cpu_ns(), p0 = pages_written(db);
        int64_t t0 = time_mono_ns();
        if (sqlite3_step(begin) != SQLITE_DONE) {
            fprintf(stderr, "rasfleet-rawinsert: BEGIN: %s\n", sqlite3_errmsg(db));
            rc = -1;
            break;
        }
        sqlite3_reset(begin);
        for (uint64_t i = 0; i < n; i++) {
            const struct benchgen_event *e = &evs[i];
            uint64_t r = r0 + i;
            uint32_t dev = (uint32_t)((r / o->records) % o->devices);
            /* ids as the writer's dictionary would hand them out */
            int64_t user = e->user[0] == 'S' ? 1 : (int64_t)dev + 3;
            int64_t conn = e->connection[13] == '\0' ? 2 : 4;
            sqlite3_bind_int64(ins, 1, (int64_t)dev + 1);
            sqlite3_bind_int64(ins, 2, e->time_ms);
            sqlite3_bind_int64(ins, 3, now_ms);
            sqlite3_bind_int(ins, 4, e->event_id);
            sqlite3_bind_int64(ins, 5, e->record_id);
            sqlite3_bind_int(ins, 6, e->level);
            sqlite3_bind_int64(ins, 7, user);
            sqlite3_bind_int64(ins, 8, conn);
            if (e->has_error_code)
                sqlite3_bind_int64(ins, 9, e->error_code);
            if (e->has_reason_code)
                sqlite3_bind_int64(ins, 10, e->reason_code);
            sqlite3_bind_text(ins, 11, e->coid, -1, SQLITE_STATIC);
            int64_t code = e->event_id == 20226 ? e->reason_code : e->error_code;
            bool has_code = e->event_id == 20226 ? e->has_reason_code : e->has_error_code;
            if (has_code && e->message[0] &&
                event_message_matches(e->event_id, e->coid, e->user, e->connection, code,
                                      e->message))
                sqlite3_bind_int(ins, 13, EVENT_MESSAGE_TEMPLATE_EN);
            else if (e->message[0])
                sqlite3_bind_text(ins, 12, e->message, -1, SQLITE_STATIC);
            int src = sqlite3_step(ins);
            sqlite3_reset(ins);
            sqlite3_clear_bindings(ins);
            if (src != SQLITE_DONE) {
                fprintf(stderr, "rasfleet-rawinsert: INSERT: %s\n", sqlite3_errmsg(db));
                rc = -1;
                break;
            }
            int changed = sqlite3_changes(db);
            inserted += (uint64_t)changed;
            if (o->rollups && changed &&
                rollup_batch_add(&rb, (int64_t)dev + 1, e->time_ms, e->event_id, conn,
                                 e->has_error_code, e->error_code) != RF_OK) {
                rc = -1;
                break;
            }
            /* the end of a simulated batch (or of the transaction): its rows */
            if (o->rollups && ((r + 1) % o->records == 0 || i + 1 == n)) {
                if (rollup_batch_write(&rb, up_att, up_fail) != SQLITE_OK) {
                    fprintf(stderr, "rasfleet-rawinsert: rollups: %s\n", sqlite3_errmsg(db));
                    rc = -1;
                    break;
                }
                rollup_batch_reset(&rb);
            }
        }
        if (rc != 0)
            break;
        int64_t tc = time_mono_ns();
        if (sqlite3_step(commit) != SQLITE_DONE) {
            fprintf(stderr, "rasfleet-rawinsert: COMMIT: %s\n", sqlite3_errmsg(db));
            rc = -1;
            break;
        }
        sqlite3_reset(commit);
        int64_t t1 = time_mono_ns();
        if (t1 - tc > worst_commit_ns)
            worst_commit_ns = t1 - tc;
        spent_ns += t1 - t0;
        spent_cpu_ns += cpu_ns() - c0;
        pages += pages_written(db) - p0;
        txns++;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(up_att);
    sqlite3_finalize(up_fail);
    rollup_batch_free(&rb);
    int64_t bytes = file_bytes(path) + file_bytes(wal);
    sqlite3_close(db);
    if (rc == 0) {
        double secs = (double)spent_ns / 1e9;
        double rows = inserted ? (double)inserted : 1.0;
        printf("  %-4s  %9" PRIu64 " rows  %3" PRIu64 " txns  %7.2f s  %9.0f rows/s"
               "  worst COMMIT %6.1f ms  %6.1f MiB on disk  CPU %.2f us/row"
               "  %.1f WAL pages per 1000 rows%s\n",
               label, inserted, txns, secs, (double)inserted / secs,
               (double)worst_commit_ns / 1e6, (double)bytes / 1048576.0,
               (double)spent_cpu_ns / 1e3 / rows, (double)pages * 1000.0 / rows,
               full ? "" : "  (secondary indexes dropped)");
        printf("RESULT mode=%s rows=%" PRIu64 " seconds=%.3f rows_per_s=%.0f dropped_indexes=%d"
               " cpu_us_per_row=%.3f wal_pages_per_krow=%.2f\n",
               label, inserted, secs, (double)inserted / secs, dropped,
               (double)spent_cpu_ns / 1e3 / rows, (double)pages * 1000.0 / rows);
        fflush(stdout);
    }
    if (!o->keep) {
        unlink(path);
        unlink(wal);
        unlink(shm);
    }
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"dir", required_argument, NULL, 'D'},     {"rows", required_argument, NULL, 'n'},
        {"records", required_argument, NULL, 'r'}, {"devices", required_argument, NULL, 'd'},
        {"txn-rows", required_argument, NULL, 't'}, {"mode", required_argument, NULL, 'm'},
        {"keep", no_argument, NULL, 'k'},          {"help", no_argument, NULL, 'h'},
        {"drop-index", required_argument, NULL, 'x'}, {"sql", required_argument, NULL, 'S'},
        {"rollups", no_argument, NULL, 'R'},          {NULL, 0, NULL, 0},
    };
    struct opts o = {.rows = 2000000, .records = 500, .devices = 2000, .txn_rows = 50000,
                     .do_pk = true, .do_full = true};
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'D':
            o.dir = optarg;
            break;
        case 'n':
            if (parse_u64(optarg, 1, 1000000000, &o.rows))
                goto bad;
            break;
        case 'r':
            if (parse_u64(optarg, 1, 20000, &v))
                goto bad;
            o.records = (uint32_t)v;
            break;
        case 'd':
            if (parse_u64(optarg, 1, 10000000, &v))
                goto bad;
            o.devices = (uint32_t)v;
            break;
        case 't':
            if (parse_u64(optarg, 1, 10000000, &o.txn_rows))
                goto bad;
            break;
        case 'm':
            o.do_pk = strcmp(optarg, "pk") == 0 || strcmp(optarg, "both") == 0;
            o.do_full = strcmp(optarg, "full") == 0 || strcmp(optarg, "both") == 0;
            if (!o.do_pk && !o.do_full)
                goto bad;
            break;
        case 'k':
            o.keep = true;
            break;
        case 'R':
            o.rollups = true;
            break;
        case 'x':
            if (o.n_drop >= 16)
                goto bad;
            o.drop[o.n_drop++] = optarg;
            break;
        case 'S':
            if (o.n_sql >= 16)
                goto bad;
            o.sql[o.n_sql++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "rasfleet-rawinsert: bad value: %s\n", optarg);
        usage(stderr);
        return 2;
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    char tmpl[4096];
    bool own_dir = false;
    if (!o.dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof(tmpl), "%s/rasfleet-rawinsert-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl)) {
            perror("rasfleet-rawinsert: mkdtemp");
            return 2;
        }
        o.dir = tmpl;
        own_dir = true;
    }
    struct benchgen_event *evs = calloc(o.txn_rows, sizeof(*evs));
    if (!evs) {
        fprintf(stderr, "rasfleet-rawinsert: out of memory\n");
        return 2;
    }
    printf("rasfleet-rawinsert: SQLite %s, %" PRIu64 " event rows per database, batches of %" PRIu32
           " from %" PRIu32 " devices, %" PRIu64 " rows per transaction, in %s\n",
           sqlite3_libversion(), o.rows, o.records, o.devices, o.txn_rows, o.dir);
    fflush(stdout);
    int rc = 0;
    if (o.do_pk && run_mode(&o, false, evs) != 0)
        rc = 1;
    if (o.do_full && run_mode(&o, true, evs) != 0)
        rc = 1;
    free(evs);
    if (own_dir && !o.keep)
        rmdir(o.dir);
    return rc;
}
