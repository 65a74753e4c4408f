/*
 * migrate.c - copies a SQLite database into PostgreSQL. See migrate.h.
 *
 * Source: opened read-only when its schema is current; an older file is
 * opened read-write once so store.c applies its migrations (what any
 * collector would do on start). Every table is read in one SQLite read
 * transaction, so the copy is one consistent snapshot even if a collector
 * still writes to the file.
 *
 * Target: one transaction. The tables are locked (EXCLUSIVE: collectors
 * that write meanwhile wait, readers do not), checked empty, and filled with
 * COPY ... FROM STDIN in text format; the column list of each table is the
 * SQLite table's own, so PostgreSQL's extra columns (tx, dict.h) take their
 * defaults / generated values. Ids are copied as they are (dict ids are
 * referenced by every other table), then each bigserial sequence is moved
 * past its table's max(id). Before COMMIT the row counts of both sides are
 * compared; any difference or error rolls everything back.
 */
#include "migrate.h"
#include "buf.h"
#include "pg_store.h"
#include "rasfleet/result.h"
#include "store.h"
#include "timeutil.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Every table of the schema, in an order where ids that others reference
 * (dict, devices) come first; meta may hold a PostgreSQL collector's
 * heartbeat and is the one table allowed to be non-empty. */
static const char *const tables[] = {
    "meta",          "dict",         "devices",         "batches",        "events",
    "iface_metrics", "pbk_entries",  "vpn_policies",    "tokens",         "agent_status",
    "agent_losses",  "rollup_attempts", "rollup_failures",
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

#define COPY_CHUNK (256 * 1024) /* bytes sent per PQputCopyData */

struct mig {
    sqlite3 *src;
    PGconn *dst;
    FILE *progress;
    char *err;
    size_t errlen;
};

static void progress(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct mig *m, const char *fmt, ...)
{
    if (!m->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(m->progress, fmt, ap);
    va_end(ap);
    fflush(m->progress);
}

/* Runs one statement on the target; RF_OK or RF_ESTORAGE with m->err. */
static int pg_exec(struct mig *m, const char *sql, const char *what)
{
    PGresult *r = PQexec(m->dst, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return RF_OK;
    pg_store_error(m->dst, what, m->err, m->errlen);
    return RF_ESTORAGE;
}

/* One bigint answered by sql; RF_OK or RF_ESTORAGE. */
static int pg_int(struct mig *m, const char *sql, long long *out)
{
    PGresult *r = PQexec(m->dst, sql);
    int rc = RF_ESTORAGE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1) {
        *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        rc = RF_OK;
    } else {
        pg_store_error(m->dst, "PostgreSQL", m->err, m->errlen);
    }
    PQclear(r);
    return rc;
}

static int sqlite_int(struct mig *m, const char *sql, long long *out)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(m->src, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = RF_OK;
    } else {
        snprintf(m->err, m->errlen, "cannot read the SQLite database: %s", sqlite3_errmsg(m->src));
    }
    sqlite3_finalize(st);
    return rc;
}

/* Opens the source at the current schema (see the top comment). */
static int open_source(const char *path, struct mig *m, int *version_out)
{
    long long version = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(m->err, m->errlen, "cannot open %s: no such file or not readable", path);
        return RF_EFORMAT;
    }
    fclose(f);
    if (store_open(path, STORE_READ_ONLY, &m->src, m->err, m->errlen) != RF_OK)
        return RF_EFORMAT;
    /* An empty file or another file type fails here ("file is not a database"). */
    if (sqlite_int(m, "PRAGMA user_version", &version) != RF_OK ||
        sqlite_int(m, "SELECT count(*) FROM sqlite_schema", &(long long){0}) != RF_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", sqlite3_errmsg(m->src));
        snprintf(m->err, m->errlen, "%s is not a rasfleet SQLite database: %s", path, why);
        return RF_EFORMAT;
    }
    *version_out = (int)version;
    if (version > store_schema_version()) {
        snprintf(m->err, m->errlen,
                 "%s has schema version %lld, newer than this build (%d): migrate with the"
                 " rasfleet release that wrote it",
                 path, version, store_schema_version());
        return RF_EFORMAT;
    }
    if (version == 0) {
        snprintf(m->err, m->errlen, "%s is not a rasfleet database (schema version 0, no tables)",
                 path);
        return RF_EFORMAT;
    }
    if (version < store_schema_version()) {
        progress(m, "source schema version %lld: upgrading it to %d first\n", version,
                 store_schema_version());
        sqlite3_close(m->src);
        m->src = NULL;
        if (store_open(path, STORE_READ_WRITE, &m->src, m->err, m->errlen) != RF_OK)
            return RF_EFORMAT;
    }
    return RF_OK;
}

/* The quoted column names of a SQLite table, "a","b",... into cols. */
static int table_columns(struct mig *m, const char *table, struct buf *cols, bool *has_id)
{
    char sql[128];
    sqlite3_stmt *st = NULL;
    int rc = RF_OK, n = 0;
    *has_id = false;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(\"%s\")", table);
    if (sqlite3_prepare_v2(m->src, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "SQLite table %s: %s", table, sqlite3_errmsg(m->src));
        return RF_ESTORAGE;
    }
    while (rc == RF_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (!name)
            continue;
        *has_id = *has_id || strcmp(name, "id") == 0;
        rc = buf_printf(cols, "%s\"%s\"", n++ ? "," : "", name);
    }
    sqlite3_finalize(st);
    if (rc == RF_OK && n == 0) {
        snprintf(m->err, m->errlen, "the SQLite database has no table %s", table);
        rc = RF_EFORMAT;
    }
    return rc;
}

/* Appends one value in COPY text format. */
static int copy_value(struct mig *m, sqlite3_stmt *st, int col, const char *table,
                      struct buf *out)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        return buf_append_str(out, "\\N");
    case SQLITE_INTEGER:
        return buf_printf(out, "%lld", (long long)sqlite3_column_int64(st, col));
    case SQLITE_FLOAT:
        return buf_printf(out, "%.17g", sqlite3_column_double(st, col));
    case SQLITE_BLOB: {
        /* bytea hex input \x..., its backslash escaped for COPY */
        const unsigned char *p = sqlite3_column_blob(st, col);
        int n = sqlite3_column_bytes(st, col);
        int rc = buf_append_str(out, "\\\\x");
        for (int i = 0; i < n && rc == RF_OK; i++)
            rc = buf_printf(out, "%02x", p[i]);
        return rc;
    }
    default: {
        const char *s = (const char *)sqlite3_column_text(st, col);
        int n = sqlite3_column_bytes(st, col);
        int rc = buf_reserve(out, (size_t)n + 16);
        for (int i = 0; i < n && rc == RF_OK; i++) {
            char c = s[i], esc = 0;
            switch (c) {
            case '\\': esc = '\\'; break;
            case '\n': esc = 'n'; break;
            case '\r': esc = 'r'; break;
            case '\t': esc = 't'; break;
            case '\b': esc = 'b'; break;
            case '\f': esc = 'f'; break;
            case '\v': esc = 'v'; break;
            case '\0':
                snprintf(m->err, m->errlen,
                         "table %s, column %d: a string holds a NUL character, which"
                         " PostgreSQL text cannot store",
                         table, col + 1);
                return RF_EFORMAT;
            default: break;
            }
            if (esc) {
                rc = buf_append_char(out, '\\');
                if (rc == RF_OK)
                    rc = buf_append_char(out, esc);
            } else {
                rc = buf_append_char(out, c);
            }
        }
        return rc;
    }
    }
}

static int put_copy(struct mig *m, struct buf *b)
{
    if (b->len && PQputCopyData(m->dst, b->data, (int)b->len) != 1) {
        pg_store_error(m->dst, "COPY failed", m->err, m->errlen);
        return RF_ESTORAGE;
    }
    buf_reset(b);
    return RF_OK;
}

/* Ends the COPY (with an error message when rc != RF_OK) and reads its
 * result; returns the first failure. */
static int end_copy(struct mig *m, int rc, const char *table)
{
    if (PQputCopyEnd(m->dst, rc == RF_OK ? NULL : "rasfleet migrate aborted") != 1 &&
        rc == RF_OK) {
        pg_store_error(m->dst, "COPY failed", m->err, m->errlen);
        rc = RF_ESTORAGE;
    }
    PGresult *r;
    while ((r = PQgetResult(m->dst)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == RF_OK) {
            char what[96];
            snprintf(what, sizeof(what), "PostgreSQL refused the rows of %s", table);
            pg_store_error(m->dst, what, m->err, m->errlen);
            rc = RF_ESTORAGE;
        }
        PQclear(r);
    }
    return rc;
}

/* Streams one table from SQLite into COPY; *rows = rows sent. */
static int copy_table(struct mig *m, const char *table, long long *rows)
{
    struct buf cols = BUF_INIT, sql = BUF_INIT, data = BUF_INIT;
    sqlite3_stmt *st = NULL;
    bool has_id;
    int rc = table_columns(m, table, &cols, &has_id);
    *rows = 0;
    if (rc == RF_OK)
        rc = buf_printf(&sql, "SELECT %s FROM \"%s\"", cols.data, table);
    if (rc == RF_OK && sqlite3_prepare_v2(m->src, sql.data, -1, &st, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "SQLite table %s: %s", table, sqlite3_errmsg(m->src));
        rc = RF_ESTORAGE;
    }
    buf_reset(&sql);
    if (rc == RF_OK)
        rc = buf_printf(&sql, "COPY \"%s\"(%s) FROM STDIN", table, cols.data);
    if (rc == RF_OK) {
        PGresult *r = PQexec(m->dst, sql.data);
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            pg_store_error(m->dst, "cannot start COPY", m->err, m->errlen);
            rc = RF_ESTORAGE;
        }
        PQclear(r);
        if (rc == RF_OK) {
            int ncol = sqlite3_column_count(st), s;
            while (rc == RF_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
                for (int c = 0; c < ncol && rc == RF_OK; c++) {
                    if (c)
                        rc = buf_append_char(&data, '\t');
                    if (rc == RF_OK)
                        rc = copy_value(m, st, c, table, &data);
                }
                if (rc == RF_OK)
                    rc = buf_append_char(&data, '\n');
                (*rows)++;
                if (rc == RF_OK && data.len >= COPY_CHUNK)
                    rc = put_copy(m, &data);
            }
            if (rc == RF_OK && s != SQLITE_DONE) {
                snprintf(m->err, m->errlen, "reading SQLite table %s: %s", table,
                         sqlite3_errmsg(m->src));
                rc = RF_ESTORAGE;
            }
            if (rc == RF_OK)
                rc = put_copy(m, &data);
            rc = end_copy(m, rc, table);
        }
    }
    if (rc == RF_OK && has_id) {
        /* the next id a collector takes is past every copied one */
        buf_reset(&sql);
        rc = buf_printf(&sql,
                        "SELECT setval(s, coalesce((SELECT max(id) FROM \"%s\"), 0) + 1, false)"
                        " FROM pg_get_serial_sequence('%s', 'id') s WHERE s IS NOT NULL",
                        table, table);
        if (rc == RF_OK)
            rc = pg_exec(m, sql.data, "cannot move the id sequence");
    }
    sqlite3_finalize(st);
    buf_free(&cols);
    buf_free(&sql);
    buf_free(&data);
    return rc;
}

/* RF_OK when no table but meta holds rows; RF_EBUSY naming them. */
static int check_target_empty(struct mig *m)
{
    struct buf busy = BUF_INIT;
    int rc = RF_OK;
    for (size_t i = 1; i < N_TABLES && rc == RF_OK; i++) {
        char sql[128];
        long long n = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM (SELECT 1 FROM \"%s\" LIMIT 1000) t",
                 tables[i]);
        if ((rc = pg_int(m, sql, &n)) == RF_OK && n > 0)
            rc = buf_printf(&busy, "%s%s (%s%lld rows)", busy.len ? ", " : "", tables[i],
                            n >= 1000 ? ">= " : "", n);
    }
    if (rc == RF_OK && busy.len) {
        snprintf(m->err, m->errlen,
                 "the PostgreSQL database already holds rasfleet data: %s. Nothing was"
                 " written. Migrate into a new, empty database (CREATE DATABASE ... ENCODING"
                 " 'UTF8' OWNER ...) and point --db at it, or drop and recreate this one if"
                 " its data is not needed",
                 busy.data);
        rc = RF_EBUSY;
    }
    buf_free(&busy);
    return rc;
}

/* Row counts of both sides, table by table; RF_EIO on any difference. */
static int verify(struct mig *m, const long long *copied)
{
    for (size_t i = 0; i < N_TABLES; i++) {
        char sql[128];
        long long in_sqlite = 0, in_pg = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", tables[i]);
        if (sqlite_int(m, sql, &in_sqlite) != RF_OK || pg_int(m, sql, &in_pg) != RF_OK)
            return RF_ESTORAGE;
        /* meta may also hold the target's own heartbeat row */
        long long extra = in_pg - in_sqlite;
        bool ok = i == 0 ? extra >= 0 && copied[i] == in_sqlite
                         : extra == 0 && copied[i] == in_sqlite;
        if (!ok) {
            snprintf(m->err, m->errlen,
                     "verification failed for %s: SQLite has %lld rows, %lld were sent,"
                     " PostgreSQL has %lld; rolled back",
                     tables[i], in_sqlite, copied[i], in_pg);
            return RF_EIO;
        }
    }
    return RF_OK;
}

static int run(struct mig *m, const struct migrate_options *o, struct migrate_report *rep)
{
    long long copied[N_TABLES] = {0};
    int rc = open_source(o->sqlite_path, m, &rep->source_version);
    if (rc != RF_OK)
        return rc;
    if ((rc = pg_store_connect(o->pg_url, &m->dst, m->err, m->errlen)) != RF_OK ||
        (rc = pg_store_migrate(m->dst, m->err, m->errlen)) != RF_OK)
        return RF_ESTORAGE;
    /* one snapshot of the source for every table */
    if (sqlite3_exec(m->src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(m->err, m->errlen, "SQLite: %s", sqlite3_errmsg(m->src));
        return RF_ESTORAGE;
    }
    struct buf lock = BUF_INIT;
    rc = buf_append_str(&lock, "LOCK TABLE ");
    for (size_t i = 0; i < N_TABLES && rc == RF_OK; i++)
        rc = buf_printf(&lock, "%s\"%s\"", i ? "," : "", tables[i]);
    if (rc == RF_OK)
        rc = buf_append_str(&lock, " IN EXCLUSIVE MODE");
    /* No statement timeout for a long COPY; a collector holding the
     * tables makes the lock fail after 10 s instead of waiting forever. */
    if (rc == RF_OK &&
        (rc = pg_exec(m, "BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '10s'",
                      "cannot begin")) == RF_OK)
        rc = pg_exec(m, lock.data,
                     "cannot lock the target tables (is a collector writing to it?)");
    buf_free(&lock);
    if (rc == RF_OK)
        rc = check_target_empty(m);
    for (size_t i = 0; i < N_TABLES && rc == RF_OK; i++) {
        int64_t t0 = time_mono_ns();
        rc = copy_table(m, tables[i], &copied[i]);
        if (rc == RF_OK) {
            progress(m, "  %-16s %12lld rows  %7.2f s\n", tables[i], copied[i],
                     (double)(time_mono_ns() - t0) / 1e9);
            rep->rows += copied[i];
            rep->tables++;
        }
    }
    if (rc == RF_OK && (rc = verify(m, copied)) == RF_OK)
        rc = pg_exec(m, "COMMIT", "COMMIT failed");
    if (rc != RF_OK && PQstatus(m->dst) == CONNECTION_OK) {
        PGresult *r = PQexec(m->dst, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

int migrate_run(const struct migrate_options *o, struct migrate_report *report, char *errbuf,
                size_t errlen)
{
    struct mig m = {.progress = o->progress, .err = errbuf, .errlen = errlen};
    struct migrate_report rep = {0};
    int64_t t0 = time_mono_ns();
    errbuf[0] = '\0';
    int rc = run(&m, o, &rep);
    rep.seconds = (double)(time_mono_ns() - t0) / 1e9;
    if (rc == RF_OK)
        progress(&m, "migrated %lld rows in %d tables in %.2f s; row counts verified equal\n",
                 rep.rows, rep.tables, rep.seconds);
    if (m.src) {
        sqlite3_exec(m.src, "ROLLBACK", NULL, NULL, NULL); /* ends the read transaction */
        sqlite3_close(m.src);
    }
    if (m.dst)
        PQfinish(m.dst);
    if (report)
        *report = rep;
    return rc;
}
