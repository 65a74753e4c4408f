/*
 * pg_election.c - the analyzer's leader election on PostgreSQL. See
 * pg_election.h.
 *
 * Each analyzer tick (analyzer.c, every recompute_ms) calls elect: without
 * a connection it reconnects (and is a follower until the lock is won);
 * a follower tries pg_try_advisory_lock; a leader checks that its
 * connection still answers (the lock lives exactly as long as the session).
 * So a collector killed with -9 or cut off from the database loses the
 * lock when PostgreSQL closes its session, and another collector takes it
 * at its next tick. A leader's publish is an upsert of the findings row; a
 * follower's fetch reads the row's body only when (generated, node)
 * changed since its last read.
 *
 * Fencing: the publish goes through the connection whose session holds the
 * lock, so it can only succeed while this collector still is the leader; a
 * leader whose session was ended learns it from the failed statement.
 */
#include "pg_election.h"
#include "log.h"
#include "metrics.h"
#include "pg_store.h"
#include "rasfleet/result.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* pg_try_advisory_lock key of the analyzer ("rasfleet" in ASCII, + 1: the
 * schema migrations use the key itself) */
#define ANALYZER_LOCK_KEY "7021802845648004213"

struct pg_election {
    char url[1024];
    char node[256];
    PGconn *c;
    atomic_bool leader;
    bool unreachable_logged;
    int64_t fetched_generated; /* the row this follower serves */
    char fetched_node[256];
};

void pg_election_node_name(char *out, size_t cap)
{
    char host[200] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "unknown-host");
    snprintf(out, cap, "%s/%ld", host, (long)getpid());
}

static void set_leader(struct pg_election *e, bool leader)
{
    if (atomic_load(&e->leader) != leader)
        log_info("analyzer: this collector (%s) is now %s", e->node,
                 leader ? "the leader: it computes the findings for every collector"
                        : "a follower: it serves the findings the leader publishes");
    atomic_store(&e->leader, leader);
    metrics_set_analyzer_leader(leader);
}

static void drop_connection(struct pg_election *e)
{
    if (e->c)
        PQfinish(e->c);
    e->c = NULL;
    e->fetched_generated = 0;
    e->fetched_node[0] = '\0';
    set_leader(e, false);
}

static int connect_db(struct pg_election *e, char *errbuf, size_t errlen)
{
    if (pg_store_connect(e->url, &e->c, errbuf, errlen) != RF_OK)
        return RF_ESTORAGE;
    /* a frozen server must not hold the analyzer thread (and shutdown) long */
    PGresult *r = PQexec(e->c, "SET statement_timeout = 5000");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? RF_OK : RF_ESTORAGE;
    PQclear(r);
    if (rc != RF_OK) {
        pg_store_error(e->c, "cannot set up the analyzer connection", errbuf, errlen);
        PQfinish(e->c);
        e->c = NULL;
    }
    return rc;
}

int pg_election_create(const char *url, const char *node, struct pg_election **out,
                       char *errbuf, size_t errlen)
{
    struct pg_election *e = calloc(1, sizeof(*e));
    *out = NULL;
    if (!e) {
        snprintf(errbuf, errlen, "out of memory");
        return RF_ENOMEM;
    }
    snprintf(e->url, sizeof(e->url), "%s", url);
    snprintf(e->node, sizeof(e->node), "%s", node);
    atomic_init(&e->leader, false);
    metrics_set_analyzer_leader(false);
    /* the findings table must exist before the first publish, which can
     * come before the writer connects (migrations run once, under a lock) */
    if (connect_db(e, errbuf, errlen) != RF_OK ||
        pg_store_migrate(e->c, errbuf, errlen) != RF_OK) {
        if (e->c)
            PQfinish(e->c);
        free(e);
        return RF_ESTORAGE;
    }
    *out = e;
    return RF_OK;
}

void pg_election_destroy(struct pg_election *e)
{
    if (!e)
        return;
    if (e->c)
        PQfinish(e->c); /* ends the session: the lock is free for the others now */
    free(e);
}

bool pg_election_is_leader(const struct pg_election *e)
{
    return atomic_load(&e->leader);
}

static int elect(void *arg, bool *leader)
{
    struct pg_election *e = arg;
    char err[512];
    *leader = false;
    if (e->c && PQstatus(e->c) != CONNECTION_OK)
        drop_connection(e);
    if (!e->c) {
        if (connect_db(e, err, sizeof(err)) != RF_OK) {
            if (!e->unreachable_logged)
                log_warn("analyzer election: %s; retrying every interval", err);
            e->unreachable_logged = true;
            return RF_ESTORAGE;
        }
        e->unreachable_logged = false;
    }
    PGresult *r = PQexec(e->c, atomic_load(&e->leader)
                                   ? "SELECT true"
                                   : "SELECT pg_try_advisory_lock(" ANALYZER_LOCK_KEY ")");
    int rc = RF_OK;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        set_leader(e, PQgetvalue(r, 0, 0)[0] == 't');
    } else {
        pg_store_error(e->c, "analyzer election", err, sizeof(err));
        log_warn("%s; reconnecting", err);
        drop_connection(e);
        rc = RF_ESTORAGE;
    }
    PQclear(r);
    *leader = atomic_load(&e->leader);
    return rc;
}

/* doc becomes {"node":"<node>", ...the analyzer's members}. */
static int add_node(struct pg_election *e, struct buf *doc)
{
    struct buf out = BUF_INIT;
    if (doc->len < 2 || doc->data[0] != '{')
        return RF_EINVAL;
    int rc = buf_append_str(&out, "{\"node\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(&out, e->node);
    if (rc == RF_OK)
        rc = buf_append_char(&out, ',');
    if (rc == RF_OK)
        rc = buf_append(&out, doc->data + 1, doc->len - 1);
    if (rc == RF_OK) {
        buf_free(doc);
        *doc = out;
    } else {
        buf_free(&out);
    }
    return rc;
}

static int publish(void *arg, int64_t generated_ms, struct buf *doc)
{
    struct pg_election *e = arg;
    char gen[24], err[512];
    int rc = add_node(e, doc);
    if (rc != RF_OK)
        return rc;
    if (!e->c || !atomic_load(&e->leader))
        return RF_ESTORAGE;
    snprintf(gen, sizeof(gen), "%lld", (long long)generated_ms);
    rc = buf_append_char(doc, '\0'); /* a C string for libpq; len stays the JSON's */
    if (rc != RF_OK)
        return rc;
    doc->len--;
    const char *params[3] = {gen, e->node, doc->data};
    PGresult *r = PQexecParams(e->c,
                               "INSERT INTO findings(id, generated, node, body)"
                               " VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET"
                               " generated = EXCLUDED.generated, node = EXCLUDED.node,"
                               " body = EXCLUDED.body",
                               3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_store_error(e->c, "cannot publish the findings", err, sizeof(err));
        log_warn("analyzer: %s", err);
        rc = RF_ESTORAGE;
    }
    PQclear(r);
    return rc;
}

static int fetch(void *arg, int64_t *generated_ms, struct buf *doc)
{
    struct pg_election *e = arg;
    char gen[24], err[512];
    if (!e->c)
        return RF_ESTORAGE;
    snprintf(gen, sizeof(gen), "%lld", (long long)e->fetched_generated);
    const char *params[2] = {gen, e->fetched_node};
    PGresult *r = PQexecParams(e->c,
                               "SELECT generated, node, CASE WHEN generated = $1 AND node = $2"
                               " THEN NULL ELSE body END FROM findings WHERE id = 1",
                               2, NULL, params, NULL, NULL, 0);
    int rc = RF_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_store_error(e->c, "cannot read the findings", err, sizeof(err));
        log_warn("analyzer: %s", err);
        rc = RF_ESTORAGE;
    } else if (PQntuples(r) == 0) {
        rc = RF_ENOTFOUND; /* no leader has published yet */
    } else if (PQgetisnull(r, 0, 2)) {
        rc = RF_EBUSY; /* unchanged since the last fetch: nothing to swap in */
    } else {
        *generated_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        rc = buf_append(doc, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
        if (rc == RF_OK) {
            e->fetched_generated = *generated_ms;
            snprintf(e->fetched_node, sizeof(e->fetched_node), "%s", PQgetvalue(r, 0, 1));
        }
    }
    PQclear(r);
    return rc;
}

void pg_election_share(struct pg_election *e, struct analyzer_share *out)
{
    *out = (struct analyzer_share){.arg = e, .elect = elect, .publish = publish, .fetch = fetch};
}
