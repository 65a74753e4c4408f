/*
 * readstore.c - the API's SQL reads: the queries (one text for both
 * backends), the per-thread readstore and the dispatch to the backend. See
 * readstore.h.
 */
#include "readstore.h"
#include "dburl.h"
#include "log.h"
#include "rasfleet/result.h"
#include "readstore_impl.h"

#include <pthread.h>
#include <stdio.h>

/* Portable SQL: "user" quoted (a reserved word on PostgreSQL), every
 * selected column grouped or aggregated, ties ordered. */
static const char *const query_sql[RS_QUERY_COUNT] = {
    [RS_DEVICE_ID] = "SELECT id FROM devices WHERE uid = ?1",
    [RS_INTERFACES] = "SELECT a.s, i.ifindex, i.family, i.metric, i.automatic, i.connected,"
                      " i.if_type, i.mtu, i.time FROM iface_metrics i JOIN dict a"
                      " ON a.id = i.alias WHERE i.device = ?1 AND i.time ="
                      " (SELECT max(time) FROM iface_metrics WHERE device = ?1)"
                      " ORDER BY i.family, i.metric, i.id",
    [RS_PBK] = "SELECT p.scope, c.s, s.s, p.time FROM pbk_entries p"
               " JOIN dict c ON c.id = p.connection JOIN dict s ON s.id = p.settings"
               " WHERE p.device = ?1 AND p.time ="
               " (SELECT max(time) FROM pbk_entries WHERE device = ?1) ORDER BY p.id",
    [RS_POLICIES] = "SELECT c.s, sv.s, tt.s, am.s, p.split_tunneling, p.device_tunnel,"
                    " ds.s, ip.s, p.time FROM vpn_policies p JOIN dict c ON c.id ="
                    " p.connection JOIN dict sv ON sv.id = p.server JOIN dict tt ON tt.id"
                    " = p.tunnel_type JOIN dict am ON am.id = p.auth_method LEFT JOIN dict"
                    " ds ON ds.id = p.dns_suffix LEFT JOIN dict ip ON ip.id = p.ipsec"
                    " WHERE p.device = ?1 AND p.time ="
                    " (SELECT max(time) FROM vpn_policies WHERE device = ?1) ORDER BY p.id",
    [RS_EVENTS] = "SELECT e.time, e.event_id, e.record_id, e.level, u.s, c.s,"
                  " e.error_code, e.reason_code, e.coid, e.message, e.message_template"
                  " FROM events e"
                  " JOIN dict u ON u.id = e.\"user\" JOIN dict c ON c.id = e.connection"
                  " WHERE e.device = ?1 ORDER BY e.time DESC, e.record_id DESC LIMIT 100",
    /* the events of one CoId, from the dial (20221) to the outcome */
    [RS_ATTEMPTS] = "SELECT e.coid, min(c.s), min(CASE WHEN e.event_id = 20221 THEN e.time END),"
                    " max(CASE WHEN e.event_id IN (20225, 20227) THEN e.time END),"
                    " max(CASE WHEN e.event_id = 20227 THEN 1 WHEN e.event_id = 20225 THEN 0 END),"
                    " max(CASE WHEN e.event_id = 20227 THEN e.error_code END),"
                    " max(CASE WHEN e.event_id BETWEEN 20221 AND 20224 THEN e.event_id END),"
                    " max(e.time) FROM events e JOIN dict c ON c.id = e.connection"
                    " WHERE e.device = ?1 AND e.coid IS NOT NULL GROUP BY e.coid"
                    " ORDER BY max(e.time) DESC, e.coid DESC LIMIT 50",
    [RS_AGENT_STATUS] = "SELECT time, received, agent_version, spool_bytes, spool_batches,"
                        " spool_limit_bytes, dropped_batches_total, dropped_records_total,"
                        " rejected_batches_total, last_success, last_error, last_error_time,"
                        " source_errors, last_drop, reports FROM agent_status WHERE device = ?1",
    [RS_AGENT_LOSSES] = "SELECT time, received, dropped_batches, dropped_records,"
                        " rejected_batches FROM agent_losses WHERE device = ?1"
                        " ORDER BY id DESC LIMIT 20",
    /* sum per key first, then look the names up once per result row */
    [RS_ROLLUP_FAILURES] =
        "SELECT d.uid, g.connection, c.s, g.code, g.n FROM"
        " (SELECT device, connection, code, sum(failures) AS n FROM rollup_failures"
        "  WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR code = ?3)"
        "  GROUP BY device, connection, code) g"
        " JOIN devices d ON d.id = g.device JOIN dict c ON c.id = g.connection",
    [RS_ROLLUP_ATTEMPTS] = "SELECT day, attempts FROM rollup_attempts WHERE day BETWEEN ?1 AND ?2",
    [RS_ROLLUP_DAILY] = "SELECT day, code, sum(failures) FROM rollup_failures"
                        " WHERE day BETWEEN ?1 AND ?2 GROUP BY day, code",
    [RS_DAILY_LOSSES] =
        "SELECT d.uid, sum(l.dropped_batches), sum(l.dropped_records), sum(l.rejected_batches)"
        " FROM agent_losses l JOIN devices d ON d.id = l.device"
        " WHERE l.time >= ?1 AND l.time < ?2 GROUP BY d.id, d.uid",
    [RS_SETTING] = "SELECT value FROM meta WHERE key = ?1",
};

const char *readstore_sql(enum rs_query q)
{
    return query_sql[q];
}

int readstore_open(const char *db, struct readstore **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (dburl_is_postgres(db))
        return pg_reads_open(db, out, errbuf, errlen);
    return readstore_sqlite_open(db, out, errbuf, errlen);
}

void readstore_close(struct readstore *rs)
{
    if (rs)
        rs->ops->close(rs);
}

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

static void close_thread_store(void *p)
{
    readstore_close(p);
}

static void make_thread_key(void)
{
    pthread_key_create(&thread_key, close_thread_store);
}

struct readstore *readstore_for_thread(const char *db)
{
    pthread_once(&thread_once, make_thread_key);
    struct readstore *rs = pthread_getspecific(thread_key);
    if (!rs) {
        char err[256];
        if (readstore_open(db, &rs, err, sizeof(err)) != RF_OK) {
            log_error("read connection: %s", err);
            return NULL;
        }
        pthread_setspecific(thread_key, rs);
    }
    return rs;
}

int readstore_begin(struct readstore *rs)
{
    return rs->ops->begin(rs);
}

void readstore_end(struct readstore *rs)
{
    rs->ops->end(rs);
}

int readstore_query(struct readstore *rs, enum rs_query q, const struct rs_arg *args, size_t n_args,
                    struct rs_rows **out)
{
    *out = NULL;
    return rs->ops->query(rs, q, args, n_args, out);
}

bool rs_next(struct rs_rows *r, int *rc)
{
    return r->ops->next(r, rc);
}

void rs_rewind(struct rs_rows *r)
{
    r->ops->rewind(r);
}

bool rs_null(struct rs_rows *r, int col)
{
    return r->ops->is_null(r, col);
}

int64_t rs_int(struct rs_rows *r, int col)
{
    return r->ops->int64(r, col);
}

const char *rs_text(struct rs_rows *r, int col)
{
    return r->ops->text(r, col);
}

void rs_close(struct rs_rows *r)
{
    if (r)
        r->ops->close_rows(r);
}

int readstore_save_setting(struct readstore *rs, const char *key, const char *value)
{
    return rs->ops->save_setting(rs, key, value);
}
