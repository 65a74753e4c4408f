/*
 * store.h - the SQLite database: opening it with the right pragmas, and the
 * schema with its migrations (PRAGMA user_version = number of migrations
 * applied).
 *
 * Layout idea: strings that repeat across the fleet (connection names,
 * users, interface aliases, servers, whole pbk settings objects, IPsec
 * policies) live once in `dict` and rows reference them by id; per-record
 * tables carry integer columns only, plus the few strings that are unique
 * per row (CoId, message). See docs/storage.md.
 */
#ifndef RASFLEET_STORE_H
#define RASFLEET_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_mode { STORE_READ_WRITE, STORE_READ_ONLY };

/*
 * Opens (creating when needed) the database at path, sets WAL, busy timeout
 * and foreign-key-free pragmas, and (read-write mode) applies pending
 * migrations. Returns RF_OK and *out; on failure *out is NULL and errbuf says
 * why.
 */
int store_open(const char *path, enum store_mode mode, sqlite3 **out, char *errbuf,
               size_t errlen);

/* Applies every migration above the database's user_version, each in its
 * own transaction. Returns RF_OK or RF_ESTORAGE (errbuf filled). */
int store_migrate(sqlite3 *db, char *errbuf, size_t errlen);

/* Applies the migrations above the database's user_version up to target
 * (tests use it to build a database as an older release left it). */
int store_migrate_to(sqlite3 *db, int target, char *errbuf, size_t errlen);

/* Number of migrations this build knows (the schema version it writes). */
int store_schema_version(void);

/* Bytes the database uses on disk: main file + WAL. */
int64_t store_disk_bytes(const char *path);

/* True when an SQLite result code means "storage refuses writes" (full,
 * read-only, I/O error): answered 503 and retried, never fatal. */
bool store_is_storage_error(int sqlite_rc);

#endif
