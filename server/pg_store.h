/*
 * pg_store.h - the PostgreSQL database: connecting with the collector's
 * session settings, the schema with its migrations (table schema_version,
 * one row per migration applied), and telling a storage error (answered 503
 * and retried) from a statement the database refuses for a reason of its
 * own.
 *
 * The schema mirrors SQLite's (store.c) table for table and column for
 * column, so the read side and a future `migrate` command can use the same
 * names: dict, devices, batches (primary key (device, uid): the dedupe key),
 * events (unique (device, record_id)), iface_metrics, pbk_entries,
 * vpn_policies, meta, tokens. See docs/storage.md.
 */
#ifndef RASFLEET_PG_STORE_H
#define RASFLEET_PG_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Connects to url (a postgresql:// URI; connect_timeout defaults to 5 s and
 * statement_timeout to 60 s unless the URL sets them). Returns RF_OK and
 * *out, or RF_ESTORAGE with errbuf saying why (never the password). *out is
 * NULL on failure.
 */
int pg_store_connect(const char *url, PGconn **out, char *errbuf, size_t errlen);

/* Applies every migration above the database's schema version in one
 * transaction, serialised between collectors by an advisory lock. RF_OK,
 * or RF_ESTORAGE with errbuf (also when the database is newer than this
 * build). The connection must not be in pipeline mode. */
int pg_store_migrate(PGconn *c, char *errbuf, size_t errlen);

/* Number of migrations this build knows. */
int pg_store_schema_version(void);

/* True when a failed statement means "storage unavailable": the connection
 * is lost, the server shuts down, refuses writes (read-only, disk full) or
 * aborted us for a deadlock or serialization failure. sqlstate may be NULL
 * (no server answer). */
bool pg_store_is_storage_error(PGconn *c, const char *sqlstate);

/* pg_database_size() of the current database; -1 on error. */
int64_t pg_store_database_bytes(PGconn *c);

/* Copies the connection's last error into errbuf, one line. */
void pg_store_error(PGconn *c, const char *what, char *errbuf, size_t errlen);

#endif
