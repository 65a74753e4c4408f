/*
 * pg_tail.h - the hot aggregate of the whole fleet on PostgreSQL, where
 * several collectors share one database: rebuilds it at start from every
 * collector's rows (as fleet_load.c does from SQLite) and then, every
 * refresh interval, applies the rows the other collectors committed since
 * its last look.
 *
 * Exactness: a refresh reads, in one REPEATABLE READ snapshot, the rows
 * whose tx (the writing transaction's id, pg_store.c migration 2) is in
 * [prev_xmin, xmin) with xmin = pg_snapshot_xmin() of that snapshot. Every
 * transaction below a snapshot's xmin has ended, so each committed row
 * falls in exactly one refresh's range: none is missed, none applied
 * twice. Rows of this collector's own transactions (txset.h, fed by the
 * writer) are skipped: the commit hook already applied them.
 *
 * Freshness: a read reflects every transaction that committed before
 * "complete_ms" (the time of the newest refresh whose snapshot's xmax the
 * current xmin has passed); lag = now - complete_ms. A long transaction
 * anywhere in the database holds xmin back and the lag grows; so does a
 * lost connection (retried with backoff; the aggregate keeps answering).
 * See docs/storage.md.
 */
#ifndef RASFLEET_PG_TAIL_H
#define RASFLEET_PG_TAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "fleet.h"

struct pg_tail;

struct pg_tail_config {
    const char *url;  /* postgresql:// */
    int refresh_ms;   /* between refreshes; > 0 */
};

struct pg_tail_stats {
    bool connected;
    int64_t last_refresh_ms;  /* wall time of the last successful refresh; 0 = none */
    int64_t complete_ms;      /* every transaction committed before this is applied */
    int64_t xmin;             /* the horizon applied up to (exclusive) */
    uint64_t refreshes, errors, rows_applied;
    uint64_t own_pending;     /* own transaction ids not yet passed */
    double last_refresh_seconds;
    char last_error[200];
};

/* Connects, rebuilds f from the database (f must be empty and nothing may
 * apply to it meanwhile) and starts the refresh thread. RF_OK, or
 * RF_ESTORAGE / RF_ENOMEM with errbuf set. */
int pg_tail_start(struct fleet *f, const struct pg_tail_config *cfg, struct pg_tail **out,
                  char *errbuf, size_t errlen);
void pg_tail_stop(struct pg_tail *t);

/* The writer's transaction hook (writer_tx_hook_fn): begun = true right
 * after BEGIN (RF_OK, or RF_ENOMEM: the group must not commit), false when
 * the transaction did not commit. */
int pg_tail_own_tx(void *t, int64_t txid, bool begun);

void pg_tail_get_stats(struct pg_tail *t, struct pg_tail_stats *out);
/* Appends the rasfleet_pg_tail_* series (Prometheus text) to b. */
int pg_tail_metrics(struct pg_tail *t, struct buf *b);
/* Appends ,"hot_aggregate":{...} (JSON members for /healthz) to b. */
int pg_tail_health(struct pg_tail *t, struct buf *b);

#endif
