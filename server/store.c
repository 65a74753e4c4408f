/*
 * store.c - database open, pragmas and schema migrations. See store.h.
 *
 * Index choice (measured in bench/, recorded in docs/benchmarks.md): every
 * secondary index costs ingest speed, so each one below serves a read of the
 * api-v1 contract or retention:
 *   events(time / 60000)    retention (migration 2; see below)
 *   events(device, record_id) UNIQUE: per-device event dedupe and device detail
 *   <snapshot>(device, time)  device detail (latest interfaces/pbk/policy)
 *   <snapshot>(time)          retention
 *   agent_losses(device, id)  device detail (its recent losses)
 *   agent_losses(time)        window reads, retention
 * agent_status has one row per device (its key), replaced by every report.
 * The rollup tables (migration 4) are WITHOUT ROWID tables whose primary key
 * starts with the day: the API reads day ranges and retention deletes the
 * oldest days, both along the key, with no secondary index.
 */
#include "store.h"
#include "log.h"
#include "rasfleet/result.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE dict(id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);"
    "CREATE TABLE devices(id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, hostname TEXT,"
    " os_version TEXT, agent_version TEXT, first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL);"
    "CREATE TABLE batches(device INTEGER NOT NULL, uid TEXT NOT NULL,"
    " received INTEGER NOT NULL, records INTEGER NOT NULL,"
    " PRIMARY KEY(device, uid)) WITHOUT ROWID;"
    "CREATE INDEX batches_received ON batches(received);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, device INTEGER NOT NULL,"
    " time INTEGER NOT NULL, received INTEGER NOT NULL, event_id INTEGER NOT NULL,"
    " record_id INTEGER NOT NULL, level INTEGER NOT NULL, user INTEGER NOT NULL,"
    " connection INTEGER NOT NULL, error_code INTEGER, reason_code INTEGER,"
    " coid TEXT, message TEXT);"
    "CREATE UNIQUE INDEX events_device_record ON events(device, record_id);"
    "CREATE INDEX events_time ON events(time);"
    "CREATE TABLE iface_metrics(id INTEGER PRIMARY KEY, device INTEGER NOT NULL,"
    " time INTEGER NOT NULL, alias INTEGER NOT NULL, ifindex INTEGER NOT NULL,"
    " family INTEGER NOT NULL, metric INTEGER NOT NULL, automatic INTEGER NOT NULL,"
    " connected INTEGER NOT NULL, if_type INTEGER NOT NULL, mtu INTEGER);"
    "CREATE INDEX iface_metrics_device ON iface_metrics(device, time);"
    "CREATE INDEX iface_metrics_time ON iface_metrics(time);"
    "CREATE TABLE pbk_entries(id INTEGER PRIMARY KEY, device INTEGER NOT NULL,"
    " time INTEGER NOT NULL, scope INTEGER NOT NULL, connection INTEGER NOT NULL,"
    " settings INTEGER NOT NULL);"
    "CREATE INDEX pbk_entries_device ON pbk_entries(device, time);"
    "CREATE INDEX pbk_entries_time ON pbk_entries(time);"
    "CREATE TABLE vpn_policies(id INTEGER PRIMARY KEY, device INTEGER NOT NULL,"
    " time INTEGER NOT NULL, connection INTEGER NOT NULL, server INTEGER NOT NULL,"
    " tunnel_type INTEGER NOT NULL, auth_method INTEGER NOT NULL,"
    " split_tunneling INTEGER NOT NULL, device_tunnel INTEGER NOT NULL,"
    " dns_suffix INTEGER, ipsec INTEGER);"
    "CREATE INDEX vpn_policies_device ON vpn_policies(device, time);"
    "CREATE INDEX vpn_policies_time ON vpn_policies(time);"
    "CREATE TABLE tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK(role IN ('agent','reader')), hash BLOB NOT NULL UNIQUE,"
    " created INTEGER NOT NULL, revoked INTEGER);",
    /* 2: events(time) -> events(time / 60000). A batch carries times spread
     * over minutes, so an index on the exact time takes every row at a random
     * leaf and each group commit rewrote thousands of its pages (ingest fell
     * to a third, docs/benchmarks.md). Rows of one minute are ordered by
     * rowid inside the minute's key, so inserts append at a few places.
     * Retention is its only user (reads come from the hot aggregate). */
    "DROP INDEX events_time;"
    "CREATE INDEX events_minute ON events(time / 60000);",
    /* 3: agent_status records: the newest report per device (arrival order), and
     * the losses (spool drops, refused batches) each report added */
    "CREATE TABLE agent_status(device INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    " received INTEGER NOT NULL, agent_version TEXT, spool_bytes INTEGER NOT NULL,"
    " spool_batches INTEGER NOT NULL, spool_limit_bytes INTEGER,"
    " dropped_batches_total INTEGER NOT NULL, dropped_records_total INTEGER,"
    " rejected_batches_total INTEGER, last_success INTEGER, last_error TEXT,"
    " last_error_time INTEGER, source_errors INTEGER, last_drop INTEGER,"
    " reports INTEGER NOT NULL);"
    "CREATE TABLE agent_losses(id INTEGER PRIMARY KEY, device INTEGER NOT NULL,"
    " time INTEGER NOT NULL, received INTEGER NOT NULL, dropped_batches INTEGER NOT NULL,"
    " dropped_records INTEGER NOT NULL, rejected_batches INTEGER NOT NULL);"
    "CREATE INDEX agent_losses_device ON agent_losses(device, id);"
    "CREATE INDEX agent_losses_time ON agent_losses(time);",
    /* 4: daily rollups of the outcome events (20225, 20227) for windows past
     * the hot horizon, written by the writer in the transaction of the raw
     * rows (server/rollup.h says what a row means). Attempts are per UTC day
     * only: no answer groups them. Failures keep the device and connection
     * ids, so the API can count distinct devices per group and group by the
     * device's current attributes, as the hot path does. The day of a time
     * is max(time, 0) / 86400000 (rollup_day()). The fill makes an upgraded
     * database answer as if the rollups had always been written. */
    "CREATE TABLE rollup_attempts(day INTEGER PRIMARY KEY, attempts INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE rollup_failures(day INTEGER NOT NULL, device INTEGER NOT NULL,"
    " connection INTEGER NOT NULL, code INTEGER NOT NULL, failures INTEGER NOT NULL,"
    " PRIMARY KEY(day, device, connection, code)) WITHOUT ROWID;"
    "INSERT INTO rollup_attempts(day, attempts)"
    " SELECT max(time, 0) / 86400000, count(*) FROM events"
    " WHERE event_id IN (20225, 20227) GROUP BY 1;"
    "INSERT INTO rollup_failures(day, device, connection, code, failures)"
    " SELECT max(time, 0) / 86400000, device, connection, coalesce(error_code, 0), count(*)"
    " FROM events WHERE event_id = 20227 GROUP BY 1, 2, 3, 4;",
    /* 5: a 20226/20227 message that is exactly its catalogue text
     * (event_message.h) is stored as message_template = 1 and message NULL:
     * half of an events row, rendered back by the API. Rows stored before
     * keep their text. */
    "ALTER TABLE events ADD COLUMN message_template INTEGER;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_schema_version(void)
{
    return N_MIGRATIONS;
}

bool store_is_storage_error(int rc)
{
    int primary = rc & 0xff;
    return primary == SQLITE_FULL || primary == SQLITE_READONLY || primary == SQLITE_IOERR ||
           primary == SQLITE_CANTOPEN || primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
           primary == SQLITE_NOMEM || primary == SQLITE_CORRUPT || primary == SQLITE_PERM;
}

static int exec(sqlite3 *db, const char *sql, char *errbuf, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return RF_ESTORAGE;
    }
    return RF_OK;
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    } else {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? RF_OK : RF_ESTORAGE;
}

int store_migrate(sqlite3 *db, char *errbuf, size_t errlen)
{
    return store_migrate_to(db, N_MIGRATIONS, errbuf, errlen);
}

int store_migrate_to(sqlite3 *db, int target, char *errbuf, size_t errlen)
{
    int version = 0;
    if (target < 0 || target > N_MIGRATIONS) {
        snprintf(errbuf, errlen, "no schema version %d (this build knows 1..%d)", target,
                 N_MIGRATIONS);
        return RF_EINVAL;
    }
    if (user_version(db, &version) != RF_OK) {
        snprintf(errbuf, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
        return RF_ESTORAGE;
    }
    if (version > N_MIGRATIONS) {
        snprintf(errbuf, errlen,
                 "database schema version %d is newer than this build (%d): upgrade rasfleet",
                 version, N_MIGRATIONS);
        return RF_ESTORAGE;
    }
    for (int v = version; v < target; v++) {
        char sql[64];
        if (exec(db, "BEGIN IMMEDIATE", errbuf, errlen) != RF_OK)
            return RF_ESTORAGE;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (exec(db, migrations[v], errbuf, errlen) != RF_OK ||
            exec(db, sql, errbuf, errlen) != RF_OK) {
            char ignored[8];
            exec(db, "ROLLBACK", ignored, sizeof(ignored));
            return RF_ESTORAGE;
        }
        if (exec(db, "COMMIT", errbuf, errlen) != RF_OK)
            return RF_ESTORAGE;
        log_info("database migrated to schema version %d", v + 1);
    }
    return RF_OK;
}

int store_open(const char *path, enum store_mode mode, sqlite3 **out, char *errbuf,
               size_t errlen)
{
    sqlite3 *db = NULL;
    int flags = mode == STORE_READ_ONLY ? SQLITE_OPEN_READONLY
                                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX; /* each connection is used by one thread at a time */
    *out = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "cannot open database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return RF_ESTORAGE;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    if (mode == STORE_READ_WRITE) {
        /* WAL + synchronous=NORMAL alone would lose the last commits on
         * power loss; an ack promises durability, so commits are
         * synchronous=FULL. The collector's writer is the exception: it
         * commits with NORMAL and syncs the WAL itself before any answer,
         * on another thread (walsync.h). */
        if (exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
                 " PRAGMA wal_autocheckpoint=4000;",
                 errbuf, errlen) != RF_OK ||
            store_migrate(db, errbuf, errlen) != RF_OK) {
            sqlite3_close(db);
            return RF_ESTORAGE;
        }
    } else {
        exec(db, "PRAGMA query_only=1;", errbuf, errlen);
    }
    *out = db;
    return RF_OK;
}

int64_t store_disk_bytes(const char *path)
{
    struct stat st;
    int64_t total = 0;
    char wal[4096];
    if (stat(path, &st) == 0)
        total += st.st_size;
    snprintf(wal, sizeof(wal), "%s-wal", path);
    if (stat(wal, &st) == 0)
        total += st.st_size;
    return total;
}
