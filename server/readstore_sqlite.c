/*
 * readstore_sqlite.c - the readstore on SQLite: a read-only connection, a
 * read transaction as the snapshot; settings are saved through a short
 * read-write connection of their own. See readstore.h.
 */
#include "rasfleet/result.h"
#include "readstore_impl.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sqlite_rows {
    struct rs_rows base;
    sqlite3_stmt *st;
};

struct sqlite_store {
    struct readstore base;
    sqlite3 *db;
    bool owned; /* opened here (closed here) */
    char *path; /* for saving settings; NULL when wrapped */
    struct sqlite_rows rows;
};

static int s_begin(struct readstore *rs)
{
    struct sqlite_store *s = (struct sqlite_store *)rs;
    return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? RF_OK : RF_ESTORAGE;
}

static void s_end(struct readstore *rs)
{
    struct sqlite_store *s = (struct sqlite_store *)rs;
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
}

static int s_query(struct readstore *rs, enum rs_query q, const struct rs_arg *args, size_t n,
                   struct rs_rows **out)
{
    struct sqlite_store *s = (struct sqlite_store *)rs;
    sqlite3_stmt *st = NULL;
    if (s->rows.st || sqlite3_prepare_v2(s->db, readstore_sql(q), -1, &st, NULL) != SQLITE_OK)
        return RF_ESTORAGE;
    for (size_t i = 0; i < n; i++) {
        int col = (int)i + 1;
        if (args[i].is_null)
            sqlite3_bind_null(st, col);
        else if (args[i].text)
            sqlite3_bind_text(st, col, args[i].text, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, col, args[i].i);
    }
    s->rows.st = st;
    *out = &s->rows.base;
    return RF_OK;
}

static bool s_next(struct rs_rows *r, int *rc)
{
    int step = sqlite3_step(((struct sqlite_rows *)r)->st);
    if (step == SQLITE_ROW)
        return true;
    if (step != SQLITE_DONE)
        *rc = RF_ESTORAGE;
    return false;
}

static void s_rewind(struct rs_rows *r)
{
    sqlite3_reset(((struct sqlite_rows *)r)->st);
}

static bool s_is_null(struct rs_rows *r, int col)
{
    return sqlite3_column_type(((struct sqlite_rows *)r)->st, col) == SQLITE_NULL;
}

static int64_t s_int64(struct rs_rows *r, int col)
{
    return sqlite3_column_int64(((struct sqlite_rows *)r)->st, col);
}

static const char *s_text(struct rs_rows *r, int col)
{
    return (const char *)sqlite3_column_text(((struct sqlite_rows *)r)->st, col);
}

static void s_close_rows(struct rs_rows *r)
{
    struct sqlite_rows *sr = (struct sqlite_rows *)r;
    sqlite3_finalize(sr->st);
    sr->st = NULL;
}

static int s_save_setting(struct readstore *rs, const char *key, const char *value)
{
    struct sqlite_store *s = (struct sqlite_store *)rs;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char err[256];
    if (!s->path || store_open(s->path, STORE_READ_WRITE, &db, err, sizeof(err)) != RF_OK)
        return RF_ESTORAGE;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? RF_OK : RF_ESTORAGE;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

static void s_close(struct readstore *rs)
{
    struct sqlite_store *s = (struct sqlite_store *)rs;
    sqlite3_finalize(s->rows.st);
    if (s->owned)
        sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static const struct readstore_ops sqlite_ops = {s_begin,      s_end,          s_query, s_next,
                                                s_rewind,     s_is_null,      s_int64, s_text,
                                                s_close_rows, s_save_setting, s_close};

static struct sqlite_store *new_store(sqlite3 *db, bool owned)
{
    struct sqlite_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base.ops = &sqlite_ops;
    s->rows.base.ops = &sqlite_ops;
    s->db = db;
    s->owned = owned;
    return s;
}

int readstore_sqlite_open(const char *path, struct readstore **out, char *errbuf, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = store_open(path, STORE_READ_ONLY, &db, errbuf, errlen);
    if (rc != RF_OK)
        return rc;
    struct sqlite_store *s = new_store(db, true);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        sqlite3_close(db);
        snprintf(errbuf, errlen, "out of memory");
        return RF_ENOMEM;
    }
    *out = &s->base;
    return RF_OK;
}

int readstore_wrap_sqlite(sqlite3 *db, struct readstore **out)
{
    struct sqlite_store *s = new_store(db, false);
    if (!s)
        return RF_ENOMEM;
    *out = &s->base;
    return RF_OK;
}
