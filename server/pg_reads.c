/*
 * pg_reads.c - the readstore on PostgreSQL: one connection (per HTTP
 * thread), a REPEATABLE READ READ ONLY transaction with a statement timeout
 * as the snapshot, the queries of readstore.c prepared on first use, a lost
 * connection opened again at the next snapshot. See readstore.h.
 */
#include "log.h"
#include "pg_store.h"
#include "rasfleet/result.h"
#include "readstore_impl.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A read that takes longer is cancelled (503) rather than holding an HTTP
 * thread and a snapshot (which holds back vacuum) any longer. */
#define READ_TIMEOUT_MS "10000"
#define OID_INT8 20
#define OID_TEXT 25
#define MAX_ARGS 4

struct pg_rows {
    struct rs_rows base;
    PGresult *res;
    int row; /* -1 before the first */
};

struct pg_reads {
    struct readstore base;
    char *url;
    PGconn *conn; /* NULL while disconnected */
    bool prepared[RS_QUERY_COUNT];
    struct pg_rows rows;
};

static void disconnect(struct pg_reads *p)
{
    if (p->conn)
        PQfinish(p->conn);
    p->conn = NULL;
    memset(p->prepared, 0, sizeof(p->prepared));
}

static int ensure_connected(struct pg_reads *p)
{
    char err[256];
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return RF_OK;
    disconnect(p);
    if (pg_store_connect(p->url, &p->conn, err, sizeof(err)) != RF_OK) {
        log_warn("read connection: %s", err);
        return RF_ESTORAGE;
    }
    return RF_OK;
}

static bool exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static int p_begin(struct readstore *rs)
{
    static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
                                " SET LOCAL statement_timeout = " READ_TIMEOUT_MS;
    struct pg_reads *p = (struct pg_reads *)rs;
    /* A connection lost since the last request shows only when used: one
     * more try on a fresh one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_connected(p) != RF_OK)
            return RF_ESTORAGE;
        if (exec_ok(p->conn, begin))
            return RF_OK;
        if (PQstatus(p->conn) == CONNECTION_OK) {
            log_warn("read snapshot: %s", PQerrorMessage(p->conn));
            exec_ok(p->conn, "ROLLBACK");
            return RF_ESTORAGE;
        }
        disconnect(p);
    }
    return RF_ESTORAGE;
}

static void p_end(struct readstore *rs)
{
    struct pg_reads *p = (struct pg_reads *)rs;
    if (p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE && !exec_ok(p->conn, "COMMIT"))
        disconnect(p); /* whatever state it is in, the next request starts afresh */
}

/* ?N -> $N */
static char *pg_text(const char *sql)
{
    char *out = strdup(sql);
    for (char *c = out; c && *c; c++)
        if (*c == '?')
            *c = '$';
    return out;
}

static int prepare(struct pg_reads *p, enum rs_query q, const struct rs_arg *args, size_t n)
{
    char name[16];
    Oid types[MAX_ARGS];
    snprintf(name, sizeof(name), "rs_%d", (int)q);
    for (size_t i = 0; i < n; i++)
        types[i] = args[i].text ? OID_TEXT : OID_INT8;
    char *sql = pg_text(readstore_sql(q));
    if (!sql)
        return RF_ENOMEM;
    PGresult *r = PQprepare(p->conn, name, sql, (int)n, types);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? RF_OK : RF_ESTORAGE;
    if (rc != RF_OK)
        log_warn("read query %d: %s", (int)q, PQerrorMessage(p->conn));
    PQclear(r);
    free(sql);
    p->prepared[q] = rc == RF_OK;
    return rc;
}

static int p_query(struct readstore *rs, enum rs_query q, const struct rs_arg *args, size_t n,
                   struct rs_rows **out)
{
    struct pg_reads *p = (struct pg_reads *)rs;
    char name[16], ints[MAX_ARGS][24];
    const char *values[MAX_ARGS];
    if (n > MAX_ARGS || p->rows.res || !p->conn)
        return RF_ESTORAGE;
    int rc = p->prepared[q] ? RF_OK : prepare(p, q, args, n);
    if (rc != RF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        snprintf(ints[i], sizeof(ints[i]), "%" PRId64, args[i].i);
        values[i] = args[i].is_null ? NULL : args[i].text ? args[i].text : ints[i];
    }
    snprintf(name, sizeof(name), "rs_%d", (int)q);
    PGresult *r = PQexecPrepared(p->conn, name, (int)n, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warn("read query %d: %s", (int)q, PQerrorMessage(p->conn));
        PQclear(r);
        return RF_ESTORAGE;
    }
    p->rows.res = r;
    p->rows.row = -1;
    *out = &p->rows.base;
    return RF_OK;
}

static bool p_next(struct rs_rows *r, int *rc)
{
    (void)rc; /* the whole result is already here */
    struct pg_rows *pr = (struct pg_rows *)r;
    if (pr->row + 1 >= PQntuples(pr->res))
        return false;
    pr->row++;
    return true;
}

static void p_rewind(struct rs_rows *r)
{
    ((struct pg_rows *)r)->row = -1;
}

static bool p_is_null(struct rs_rows *r, int col)
{
    struct pg_rows *pr = (struct pg_rows *)r;
    return PQgetisnull(pr->res, pr->row, col);
}

static int64_t p_int64(struct rs_rows *r, int col)
{
    struct pg_rows *pr = (struct pg_rows *)r;
    return strtoll(PQgetvalue(pr->res, pr->row, col), NULL, 10);
}

static const char *p_text(struct rs_rows *r, int col)
{
    struct pg_rows *pr = (struct pg_rows *)r;
    return PQgetisnull(pr->res, pr->row, col) ? NULL : PQgetvalue(pr->res, pr->row, col);
}

static void p_close_rows(struct rs_rows *r)
{
    struct pg_rows *pr = (struct pg_rows *)r;
    PQclear(pr->res);
    pr->res = NULL;
}

static int p_save_setting(struct readstore *rs, const char *key, const char *value)
{
    struct pg_reads *p = (struct pg_reads *)rs;
    const char *values[2] = {key, value};
    if (ensure_connected(p) != RF_OK)
        return RF_ESTORAGE;
    PGresult *r = PQexecParams(p->conn,
                               "INSERT INTO meta(key, value) VALUES($1, $2)"
                               " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                               2, NULL, values, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? RF_OK : RF_ESTORAGE;
    if (rc != RF_OK)
        log_warn("saving setting %s: %s", key, PQerrorMessage(p->conn));
    PQclear(r);
    return rc;
}

static void p_close(struct readstore *rs)
{
    struct pg_reads *p = (struct pg_reads *)rs;
    PQclear(p->rows.res);
    disconnect(p);
    free(p->url);
    free(p);
}

static const struct readstore_ops pg_ops = {p_begin,      p_end,          p_query, p_next,
                                            p_rewind,     p_is_null,      p_int64, p_text,
                                            p_close_rows, p_save_setting, p_close};

int pg_reads_open(const char *url, struct readstore **out, char *errbuf, size_t errlen)
{
    struct pg_reads *p = calloc(1, sizeof(*p));
    if (!p || !(p->url = strdup(url))) {
        free(p);
        snprintf(errbuf, errlen, "out of memory");
        return RF_ENOMEM;
    }
    p->base.ops = &pg_ops;
    p->rows.base.ops = &pg_ops;
    int rc = pg_store_connect(url, &p->conn, errbuf, errlen);
    if (rc != RF_OK) {
        p_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return RF_OK;
}
