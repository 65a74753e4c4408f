/*
 * fleet_rows.h - applies database rows to the hot aggregate, whichever
 * database they come from: the rebuild at start (fleet_load.c from SQLite,
 * pg_tail.c from PostgreSQL) and the PostgreSQL tail's refreshes (rows
 * other collectors committed) share these functions, so both backends and
 * both paths turn a row into the same fleet state.
 *
 * A query's rows come through a cursor (struct fleet_rows) that each
 * backend implements over its own statement or result. Columns are read by
 * position; each function below names the columns it expects.
 *
 * Devices are named by their database id; struct fleet_rowmap maps those
 * ids to fleet indexes and remembers which devices changed, so that the
 * device checks run once per changed device (fleet_rows_checks).
 *
 * Every function expects the fleet's write lock (fleet_internal_lock).
 */
#ifndef RASFLEET_FLEET_ROWS_H
#define RASFLEET_FLEET_ROWS_H

#include "fleet.h"

#include <stdbool.h>
#include <stdint.h>

struct fleet_rows {
    void *ctx;
    /* 1: the next row is current; 0: no more rows; -1: the query failed */
    int (*next)(void *ctx);
    bool (*is_null)(void *ctx, int col);
    int64_t (*i64)(void *ctx, int col);
    const char *(*text)(void *ctx, int col); /* NULL for SQL NULL */
};

struct fleet_rowmap {
    long *idx;  /* database device id -> fleet index, -1 unknown */
    size_t len; /* ids 0..len-1 */
    uint8_t *dirty; /* per fleet index: the checks must run again */
    size_t dirty_len;
    long *touched; /* fleet indexes with dirty set */
    size_t n_touched, cap_touched;
    uint64_t applied; /* rows applied since init (snapshots, events, statuses, losses, devices) */
    bool bulk; /* a rebuild: devices keep their recency place until fleet_sort_recency() */
};

void fleet_rowmap_init(struct fleet_rowmap *m);
void fleet_rowmap_free(struct fleet_rowmap *m);
/* The fleet index of a database device id, or -1. */
long fleet_rowmap_get(const struct fleet_rowmap *m, int64_t id);
/* Marks every device of f for the checks (after a rebuild). RF_OK/ENOMEM. */
int fleet_rowmap_mark_all(struct fleet_rowmap *m, const struct fleet *f);

/* Columns: id, uid, hostname, os_version, agent_version, first_seen,
 * last_seen. A new uid becomes a device; a known one widens its
 * first/last seen, and takes the row's names when the row is not older
 * than what the fleet has (the newest write wins). RF_OK, RF_ENOMEM or
 * RF_ESTORAGE (the cursor failed). */
int fleet_rows_devices(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r);

/* The interface (RF_KIND_IFACE_METRIC), pbk (RF_KIND_PBK_ENTRY) or policy
 * (RF_KIND_VPN_POLICY) rows of snapshots, ordered by device, time, then
 * the order of the records. Columns: device, time, then
 *   iface:  alias, ifindex, family, metric, automatic, connected, if_type, mtu
 *   pbk:    scope, connection, settings (JSON object of strings)
 *   policy: connection, server, tunnel_type, auth_method, split_tunneling,
 *           device_tunnel, dns_suffix, ipsec (JSON object or NULL)
 * Each (device, time) group not older than the device's snapshot of that
 * kind replaces it (or adds to it, same time: a snapshot split over two
 * batches), as fleet_apply() does. Rows of unknown devices are skipped. */
int fleet_rows_snapshots(struct fleet *f, struct fleet_rowmap *m, enum rf_kind kind,
                         struct fleet_rows *r);

/* Stored RasClient events, each applied once. Columns: device, time,
 * event_id, error_code, connection. now_ms bounds the hot horizon. */
int fleet_rows_events(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                      int64_t now_ms);

/* Latest agent_status rows (replace the device's). Columns: device, time,
 * spool_bytes, spool_batches, spool_limit_bytes, dropped_batches_total,
 * dropped_records_total, rejected_batches_total, last_success,
 * last_error_time, source_errors, last_drop. */
int fleet_rows_agent_status(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r);

/* agent_losses rows in arrival order. Columns: device, time,
 * dropped_batches, dropped_records, rejected_batches. */
int fleet_rows_losses(struct fleet *f, struct fleet_rowmap *m, struct fleet_rows *r,
                      int64_t now_ms);

/* Runs the device checks of every device marked since the last call. */
int fleet_rows_checks(struct fleet *f, struct fleet_rowmap *m);

#endif
