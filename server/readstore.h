/*
 * readstore.h - the SQL reads of the API on either storage backend: device
 * detail, daily rollup windows, daily agent losses, and the settings kept
 * in the meta table (the IPsec baseline). One function per query shape, so
 * that api.c and rollup.c never know which database answers.
 *
 * A readstore is one connection: SQLite read-only (readstore_sqlite.c) or
 * PostgreSQL (pg_reads.c). HTTP threads each use their own
 * (readstore_for_thread(), opened on first use, closed when the thread
 * ends). A request reads one snapshot: readstore_begin() ... readstore_end()
 * (SQLite: a read transaction; PostgreSQL: REPEATABLE READ READ ONLY with a
 * statement timeout). A PostgreSQL connection that was lost is opened again
 * by the next readstore_begin().
 *
 * Queries are the same SQL on both backends (readstore.c), parameters
 * numbered ?1, ?2 (sent as $1, $2 to PostgreSQL) and typed by the caller.
 * Functions return RF_OK, RF_ESTORAGE (the database failed) or RF_ENOMEM.
 */
#ifndef RASFLEET_READSTORE_H
#define RASFLEET_READSTORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rs_query {
    RS_DEVICE_ID,       /* ?1 uid -> id */
    RS_INTERFACES,      /* ?1 device: its latest interface snapshot */
    RS_PBK,             /* ?1 device: its latest phonebook snapshot */
    RS_POLICIES,        /* ?1 device: its latest policy snapshot */
    RS_EVENTS,          /* ?1 device: its 100 latest events */
    RS_ATTEMPTS,        /* ?1 device: its 50 latest connection attempts */
    RS_AGENT_STATUS,    /* ?1 device: its agent's latest status */
    RS_AGENT_LOSSES,    /* ?1 device: its 20 latest losses */
    RS_ROLLUP_FAILURES, /* ?1..?2 days, ?3 code or NULL: failures per device/connection/code */
    RS_ROLLUP_ATTEMPTS, /* ?1..?2 days: attempts per day */
    RS_ROLLUP_DAILY,    /* ?1..?2 days: failures per day and code */
    RS_DAILY_LOSSES,    /* [?1, ?2) ms: agent losses per device */
    RS_SETTING,         /* ?1 key: meta value */
    RS_QUERY_COUNT
};

/* A query parameter: an integer, a text (text != NULL) or NULL. */
struct rs_arg {
    bool is_null;
    const char *text;
    int64_t i;
};

#define RS_INT(v) ((struct rs_arg){false, NULL, (v)})
#define RS_TEXT(s) ((struct rs_arg){false, (s), 0})
#define RS_NULL_INT ((struct rs_arg){true, NULL, 0})

struct readstore;
struct rs_rows;

/* The calling thread's readstore on db (a SQLite path or a postgresql://
 * URL), opened on first use; NULL when it cannot be opened (logged). */
struct readstore *readstore_for_thread(const char *db);

/* A readstore of its own (the caller closes it); errbuf says why not. */
int readstore_open(const char *db, struct readstore **out, char *errbuf, size_t errlen);
/* Wraps an open SQLite connection (still the caller's; tests). */
int readstore_wrap_sqlite(sqlite3 *db, struct readstore **out);
void readstore_close(struct readstore *rs);

/* One snapshot for the reads up to readstore_end() (which ends it on every
 * path, also after a failed read). */
int readstore_begin(struct readstore *rs);
void readstore_end(struct readstore *rs);

/* Runs q; *out is the result, read with rs_next() and closed with
 * rs_close() (one result open at a time per readstore). */
int readstore_query(struct readstore *rs, enum rs_query q, const struct rs_arg *args, size_t n_args,
                    struct rs_rows **out);

/* Moves to the next row: true while there is one; *rc stays RF_OK at the
 * end and becomes RF_ESTORAGE when the database failed. */
bool rs_next(struct rs_rows *r, int *rc);
/* Back before the first row (the same rows again). */
void rs_rewind(struct rs_rows *r);
bool rs_null(struct rs_rows *r, int col);
int64_t rs_int(struct rs_rows *r, int col);
/* NULL for SQL NULL; valid until the next rs_next()/rs_close(). */
const char *rs_text(struct rs_rows *r, int col);
void rs_close(struct rs_rows *r);

/* Sets meta(key) = value in a write transaction of its own. */
int readstore_save_setting(struct readstore *rs, const char *key, const char *value);

#endif
