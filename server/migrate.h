/*
 * migrate.h - `rasfleet-collector migrate`: copies a SQLite database (any
 * schema version this build knows; it is brought to the current one by
 * store.c first) into a PostgreSQL database (brought to the current schema
 * by pg_store.c), table for table with the same ids, in one transaction:
 * either every row arrives and the row counts of both sides are equal, or
 * the target is left as it was. See docs/storage.md ("Moving from SQLite").
 */
#ifndef RASFLEET_MIGRATE_H
#define RASFLEET_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

struct migrate_options {
    const char *sqlite_path; /* source, a plain file path */
    const char *pg_url;      /* target, postgresql://... */
    FILE *progress;          /* one line per table and a summary; NULL = quiet */
};

/* What migrate_run found, for the summary and the tests. */
struct migrate_report {
    long long rows;        /* rows copied, all tables */
    int tables;            /* tables copied */
    int source_version;    /* SQLite schema version before the run */
    double seconds;        /* wall time of the whole run */
};

/*
 * Runs the migration. Returns RF_OK, or:
 *   RF_EFORMAT   the source is not a rasfleet SQLite database, or its schema
 *                is newer than this build
 *   RF_EBUSY     the target already holds rasfleet data (errbuf says which
 *                tables and what to do); nothing was written
 *   RF_ESTORAGE  either database failed (connection, COPY, constraint);
 *                the target transaction was rolled back
 *   RF_EIO       the row counts differed after the copy (rolled back)
 *   RF_ENOMEM
 * errbuf says why in one line (never the password).
 */
int migrate_run(const struct migrate_options *o, struct migrate_report *report, char *errbuf,
                size_t errlen);

#endif
