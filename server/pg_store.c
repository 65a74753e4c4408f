/*
 * pg_store.c - PostgreSQL connection, schema and migrations. See pg_store.h.
 *
 * Types: every SQLite INTEGER that holds a time, an id or a code is bigint
 * (times are Unix milliseconds as in SQLite); small enums are smallint.
 * "user" is a reserved word in PostgreSQL and is quoted wherever it is
 * named. Indexes are SQLite's, for the same reasons (store.c).
 */
#include "pg_store.h"
#include "log.h"
#include "rasfleet/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_xact_lock key of schema migrations ("rasfleet" in ASCII) */
#define MIGRATION_LOCK_KEY "7021802845648004212"

static const char *const migrations[] = {
    /* 1: initial schema, the same tables as SQLite's migrations 1 and 2 */
    "CREATE TABLE meta(key text PRIMARY KEY, value text);"
    /* A btree key holds at most ~2700 bytes and a pbk settings object can be
     * longer: dict strings are unique by their SHA-256 instead of by s.
     * textsend() is only STABLE (it depends on the database encoding, which
     * never changes for a database, and pg_store_connect insists on UTF8). */
    "CREATE FUNCTION rasfleet_dict_hash(s text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT"
    " PARALLEL SAFE AS 'SELECT sha256(textsend(s))';"
    "CREATE TABLE dict(id bigserial PRIMARY KEY, s text NOT NULL,"
    " h bytea GENERATED ALWAYS AS (rasfleet_dict_hash(s)) STORED UNIQUE);"
    "CREATE TABLE devices(id bigserial PRIMARY KEY, uid text NOT NULL UNIQUE, hostname text,"
    " os_version text, agent_version text, first_seen bigint NOT NULL,"
    " last_seen bigint NOT NULL);"
    "CREATE TABLE batches(device bigint NOT NULL, uid text NOT NULL,"
    " received bigint NOT NULL, records integer NOT NULL, PRIMARY KEY(device, uid));"
    "CREATE INDEX batches_received ON batches(received);"
    "CREATE TABLE events(id bigserial PRIMARY KEY, device bigint NOT NULL,"
    " time bigint NOT NULL, received bigint NOT NULL, event_id integer NOT NULL,"
    " record_id bigint NOT NULL, level smallint NOT NULL, \"user\" bigint NOT NULL,"
    " connection bigint NOT NULL, error_code bigint, reason_code bigint,"
    " coid text, message text);"
    "CREATE UNIQUE INDEX events_device_record ON events(device, record_id);"
    "CREATE INDEX events_minute ON events((time / 60000));"
    "CREATE TABLE iface_metrics(id bigserial PRIMARY KEY, device bigint NOT NULL,"
    " time bigint NOT NULL, alias bigint NOT NULL, ifindex bigint NOT NULL,"
    " family smallint NOT NULL, metric bigint NOT NULL, automatic smallint NOT NULL,"
    " connected smallint NOT NULL, if_type integer NOT NULL, mtu bigint);"
    "CREATE INDEX iface_metrics_device ON iface_metrics(device, time);"
    "CREATE INDEX iface_metrics_time ON iface_metrics(time);"
    "CREATE TABLE pbk_entries(id bigserial PRIMARY KEY, device bigint NOT NULL,"
    " time bigint NOT NULL, scope smallint NOT NULL, connection bigint NOT NULL,"
    " settings bigint NOT NULL);"
    "CREATE INDEX pbk_entries_device ON pbk_entries(device, time);"
    "CREATE INDEX pbk_entries_time ON pbk_entries(time);"
    "CREATE TABLE vpn_policies(id bigserial PRIMARY KEY, device bigint NOT NULL,"
    " time bigint NOT NULL, connection bigint NOT NULL, server bigint NOT NULL,"
    " tunnel_type bigint NOT NULL, auth_method bigint NOT NULL,"
    " split_tunneling smallint NOT NULL, device_tunnel smallint NOT NULL,"
    " dns_suffix bigint, ipsec bigint);"
    "CREATE INDEX vpn_policies_device ON vpn_policies(device, time);"
    "CREATE INDEX vpn_policies_time ON vpn_policies(time);"
    "CREATE TABLE tokens(id bigserial PRIMARY KEY, name text NOT NULL,"
    " role text NOT NULL CHECK(role IN ('agent','reader')), hash bytea NOT NULL UNIQUE,"
    " created bigint NOT NULL, revoked bigint);",
    /* 2: what several collectors need to answer reads for the whole fleet.
     * tx is the id of the transaction that wrote the row last (xid8 as
     * bigint, pg_current_xact_id() is the top-level id inside savepoints):
     * a collector reads the rows that other collectors committed since its
     * last look as those with prev_xmin <= tx < xmin of a fresh snapshot,
     * because every transaction below a snapshot's xmin has ended (pg_tail).
     * Rows are appended in xid order, so a BRIN index serves the range at a
     * negligible ingest cost; devices and agent_status are updated in
     * place, so theirs is a btree. The agent tables and daily rollups are
     * SQLite's migrations 3 and 4; findings holds the analyzer's latest run,
     * computed by one collector at a time (pg advisory lock). */
    "ALTER TABLE devices ADD COLUMN tx bigint NOT NULL"
    " DEFAULT (pg_current_xact_id()::text::bigint);"
    "CREATE INDEX devices_tx ON devices(tx);"
    "ALTER TABLE events ADD COLUMN tx bigint NOT NULL"
    " DEFAULT (pg_current_xact_id()::text::bigint);"
    "CREATE INDEX events_tx ON events USING brin(tx);"
    "ALTER TABLE iface_metrics ADD COLUMN tx bigint NOT NULL"
    " DEFAULT (pg_current_xact_id()::text::bigint);"
    "CREATE INDEX iface_metrics_tx ON iface_metrics USING brin(tx);"
    "ALTER TABLE pbk_entries ADD COLUMN tx bigint NOT NULL"
    " DEFAULT (pg_current_xact_id()::text::bigint);"
    "CREATE INDEX pbk_entries_tx ON pbk_entries USING brin(tx);"
    "ALTER TABLE vpn_policies ADD COLUMN tx bigint NOT NULL"
    " DEFAULT (pg_current_xact_id()::text::bigint);"
    "CREATE INDEX vpn_policies_tx ON vpn_policies USING brin(tx);"
    "CREATE TABLE agent_status(device bigint PRIMARY KEY, time bigint NOT NULL,"
    " received bigint NOT NULL, agent_version text, spool_bytes bigint NOT NULL,"
    " spool_batches bigint NOT NULL, spool_limit_bytes bigint,"
    " dropped_batches_total bigint NOT NULL, dropped_records_total bigint,"
    " rejected_batches_total bigint, last_success bigint, last_error text,"
    " last_error_time bigint, source_errors bigint, last_drop bigint,"
    " reports bigint NOT NULL, tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint));"
    "CREATE INDEX agent_status_tx ON agent_status(tx);"
    "CREATE TABLE agent_losses(id bigserial PRIMARY KEY, device bigint NOT NULL,"
    " time bigint NOT NULL, received bigint NOT NULL, dropped_batches bigint NOT NULL,"
    " dropped_records bigint NOT NULL, rejected_batches bigint NOT NULL,"
    " tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint));"
    "CREATE INDEX agent_losses_device ON agent_losses(device, id);"
    "CREATE INDEX agent_losses_time ON agent_losses(time);"
    "CREATE INDEX agent_losses_tx ON agent_losses USING brin(tx);"
    "CREATE TABLE rollup_attempts(day bigint PRIMARY KEY, attempts bigint NOT NULL);"
    "CREATE TABLE rollup_failures(day bigint NOT NULL, device bigint NOT NULL,"
    " connection bigint NOT NULL, code bigint NOT NULL, failures bigint NOT NULL,"
    " PRIMARY KEY(day, device, connection, code));"
    "INSERT INTO rollup_attempts(day, attempts)"
    " SELECT greatest(time, 0) / 86400000, count(*) FROM events"
    " WHERE event_id IN (20225, 20227) GROUP BY 1;"
    "INSERT INTO rollup_failures(day, device, connection, code, failures)"
    " SELECT greatest(time, 0) / 86400000, device, connection, coalesce(error_code, 0), count(*)"
    " FROM events WHERE event_id = 20227 GROUP BY 1, 2, 3, 4;"
    "CREATE TABLE findings(id smallint PRIMARY KEY CHECK(id = 1), generated bigint NOT NULL,"
    " node text NOT NULL, body text NOT NULL);",
    /* 3: SQLite's migration 5 (event_message.h): a 20226/20227 message that
     * is its catalogue text is stored as message_template = 1, message NULL */
    "ALTER TABLE events ADD COLUMN message_template smallint;",
};

#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pg_store_schema_version(void)
{
    return N_MIGRATIONS;
}

void pg_store_error(PGconn *c, const char *what, char *errbuf, size_t errlen)
{
    const char *msg = c ? PQerrorMessage(c) : "no connection";
    size_t n = strcspn(msg, "\n");
    snprintf(errbuf, errlen, "%s: %.*s", what, (int)n, msg);
}

int pg_store_connect(const char *url, PGconn **out, char *errbuf, size_t errlen)
{
    /* Later keywords win, and the URL expands in place of "dbname": the
     * defaults come first so that the URL can override them. */
    /* statement_timeout: a statement stuck behind another session's locks
     * fails the group (503, retried) instead of stalling ingest forever. */
    const char *const keys[] = {"connect_timeout", "application_name", "options", "dbname",
                                NULL};
    const char *const values[] = {"5", "rasfleet-collector", "-c statement_timeout=60000", url,
                                  NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    *out = NULL;
    if (!c) {
        snprintf(errbuf, errlen, "cannot connect to PostgreSQL: out of memory");
        return RF_ESTORAGE;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        pg_store_error(c, "cannot connect to PostgreSQL", errbuf, errlen);
        PQfinish(c);
        return RF_ESTORAGE;
    }
    /* Strings are sent as UTF-8 text, and the dictionary's hash key is
     * only stable in a UTF-8 database. */
    const char *enc = PQparameterStatus(c, "server_encoding");
    if (PQsetClientEncoding(c, "UTF8") != 0) {
        pg_store_error(c, "cannot set the client encoding", errbuf, errlen);
        PQfinish(c);
        return RF_ESTORAGE;
    }
    if (!enc || strcmp(enc, "UTF8") != 0) {
        snprintf(errbuf, errlen,
                 "the PostgreSQL database uses encoding %s; rasfleet needs a UTF8 database"
                 " (CREATE DATABASE ... ENCODING 'UTF8')",
                 enc ? enc : "?");
        PQfinish(c);
        return RF_ESTORAGE;
    }
    *out = c;
    return RF_OK;
}

/* Runs sql (one or several statements); RF_OK or RF_ESTORAGE + errbuf. */
static int exec(PGconn *c, const char *sql, char *errbuf, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = RF_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_store_error(c, "schema migration failed", errbuf, errlen);
        rc = RF_ESTORAGE;
    }
    PQclear(r);
    return rc;
}

static int current_version(PGconn *c, int *out, char *errbuf, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
    int rc = RF_ESTORAGE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *out = atoi(PQgetvalue(r, 0, 0));
        rc = RF_OK;
    } else {
        pg_store_error(c, "cannot read the schema version", errbuf, errlen);
    }
    PQclear(r);
    return rc;
}

int pg_store_migrate(PGconn *c, char *errbuf, size_t errlen)
{
    int version = 0, rc;
    if ((rc = exec(c,
                   "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ");"
                   " CREATE TABLE IF NOT EXISTS schema_version(version integer PRIMARY KEY,"
                   " applied bigint NOT NULL)",
                   errbuf, errlen)) != RF_OK ||
        (rc = current_version(c, &version, errbuf, errlen)) != RF_OK)
        goto out;
    if (version > N_MIGRATIONS) {
        snprintf(errbuf, errlen,
                 "database schema version %d is newer than this build (%d): upgrade rasfleet",
                 version, N_MIGRATIONS);
        rc = RF_ESTORAGE;
        goto out;
    }
    for (int v = version; v < N_MIGRATIONS && rc == RF_OK; v++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_version VALUES(%d, (extract(epoch FROM now()) * 1000)::bigint)",
                 v + 1);
        if ((rc = exec(c, migrations[v], errbuf, errlen)) == RF_OK)
            rc = exec(c, sql, errbuf, errlen);
        if (rc == RF_OK)
            log_info("PostgreSQL database: schema version %d", v + 1);
    }
    if (rc == RF_OK)
        rc = exec(c, "COMMIT", errbuf, errlen);
out:
    if (rc != RF_OK) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}

bool pg_store_is_storage_error(PGconn *c, const char *sqlstate)
{
    if (!c || PQstatus(c) != CONNECTION_OK || !sqlstate)
        return true;
    /* 08 connection, 53 insufficient resources (disk full, out of memory,
     * too many connections), 57 operator intervention (shutdown, cancel),
     * 58 system error (I/O), 40 deadlock/serialization (retry), 25006 the
     * database or transaction is read-only, XX internal errors. */
    static const char *const classes[] = {"08", "53", "57", "58", "40", "XX"};
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strncmp(sqlstate, classes[i], 2) == 0)
            return true;
    return strcmp(sqlstate, "25006") == 0;
}

int64_t pg_store_database_bytes(PGconn *c)
{
    int64_t n = -1;
    PGresult *r = PQexecParams(c, "SELECT pg_database_size(current_database())", 0, NULL, NULL,
                               NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}
