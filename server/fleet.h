/*
 * fleet.h - the hot aggregate: what the collector knows about the fleet in
 * memory, updated after each commit and rebuilt from SQLite at start (on
 * PostgreSQL rebuilt from, and kept up with, every collector's rows:
 * pg_tail.h).
 *
 * - Per device: identity, OS build, agent version, first/last seen, last
 *   error, its VPN profiles (connection, server, tunnel, policy
 *   fingerprint), its primary physical interface type, a compact copy of
 *   its latest interfaces / pbk entries (checked keys only) / policies, and
 *   the device-check findings computed from them.
 * - Per minute of the hot horizon (default 31 days): connection attempts
 *   (RasClient outcome events: 20225 success, 20227 failure) and failures.
 * - A log of the failures of the horizon (minute, device, code,
 *   connection), scanned for distinct-device counts and group-bys.
 * - Per device, the numbers of its agent's latest agent_status report, and a
 *   log of the losses the reports added in the horizon (spool drops, batches
 *   the collector refused; agentloss.h), for window counts.
 *
 * An attempt is one outcome event: every dial ends in exactly one 20225 or
 * one 20227, so failures / attempts is a per-attempt failure rate (the
 * 20221..20224 progress events of the same CoId are not counted).
 *
 * Devices are also kept in a list ordered by last_seen (newest first): a
 * batch's receipt time is always the newest, so moving its device to the
 * front keeps the order, and the device list pages without sorting.
 *
 * Locking: fleet_lock_read()/fleet_unlock() around every read; updates take
 * the write lock inside fleet_apply(). The lock prefers writers, so a read
 * must never take it twice; a long read lets updates in with
 * fleet_yield_read(). Memory is bounded by the horizon and
 * by max_failures; fleet_memory_bytes() reports it.
 */
#ifndef RASFLEET_FLEET_H
#define RASFLEET_FLEET_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "agentloss.h"
#include "checks.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"
#include "strtab.h"

#define FLEET_MAX_POLICIES 8
#define FLEET_MAX_IFACES 16
#define FLEET_MAX_PBK 8
#define FLEET_NO_IF 0xff

struct fleet_policy {
    uint32_t conn, server, tunnel, auth, fp; /* strtab ids; fp = IPsec policy JSON or 0 */
    bool device_tunnel, split;
    bool ike; /* tunnel type Ikev2 or Automatic: an IPsec policy applies */
};

struct fleet_iface {
    uint32_t alias;
    uint32_t index;
    uint32_t metric;
    uint32_t mtu;
    uint8_t family, if_type;
    bool automatic, connected, has_mtu;
};

struct fleet_kv {
    uint32_t key, value;
};

struct fleet_pbk {
    uint32_t conn;
    uint8_t scope;
    uint8_t n_kv;
    struct fleet_kv *kv; /* checked keys only (see fleet.c) */
};

/* A device-check finding. Its evidence is not kept: the checks are a pure
 * function of the device's stored state and the baseline, so readers
 * recompute it with fleet_device_evidence() (8 bytes per finding instead of
 * ~300 of JSON; docs/benchmarks.md). */
struct fleet_finding {
    uint16_t rule; /* index into checks_rule_at() */
    uint32_t conn; /* strtab id, 0 = device-wide */
};

/* The latest agent_status of a device, numbers only (strings are NULL: the
 * device page reads them from SQLite). */
struct fleet_agent {
    bool present;
    bool has_last_drop;
    int64_t time_ms;      /* the report's own time */
    int64_t last_drop_ms; /* time of the latest report that added dropped batches */
    struct rf_agent_status st;
};

struct fleet_device {
    uint32_t uid, hostname, os, agent;
    int64_t first_seen, last_seen; /* ms, when batches arrived */
    int64_t last_error_ms;
    int32_t last_error;
    bool has_error;
    uint8_t n_pol, n_if, n_pbk;
    uint8_t primary_if; /* rf_if_type or FLEET_NO_IF */
    /* latest snapshots, exactly n_* long (at most FLEET_MAX_*), owned */
    struct fleet_policy *pol;
    struct fleet_iface *ifs;
    struct fleet_pbk *pbk;
    int64_t snap_if_ms, snap_pbk_ms, snap_pol_ms;
    struct fleet_agent *agent_status; /* NULL until its agent reports (owned) */
    uint16_t n_findings;
    struct fleet_finding *findings;
    uint32_t newer, older; /* recency list by last_seen (FLEET_NONE at the ends) */
};

#define FLEET_NONE 0xffffffffu

struct fleet_fail {
    uint32_t minute;
    uint32_t dev;
    int32_t code;
    uint32_t conn;
};

/* What one agent_status report added (agentloss.h), at the report's minute. */
struct fleet_loss {
    uint32_t minute;
    uint32_t dev;
    struct agentloss loss;
};

struct fleet_config {
    int horizon_days;    /* minutes kept in memory; default 31 */
    size_t max_failures; /* failure log bound; default 8M entries */
    size_t max_losses;   /* loss log bound; default 1M entries */
};

struct fleet {
    pthread_rwlock_t lock;
    struct fleet_config cfg;
    struct strtab str;
    uint32_t *dev_of;        /* strtab id of a uid -> device index + 1 (0: none) */
    size_t dev_of_len;
    struct fleet_device *devs;
    size_t n_devs, cap_devs;
    uint32_t ring_len;       /* minutes */
    uint32_t *ring_tag;      /* minute stored in the slot */
    uint32_t *ring_attempts;
    uint32_t *ring_failures;
    struct fleet_fail *fails;
    size_t n_fails, cap_fails;
    struct fleet_loss *losses; /* in arrival order, like fails */
    size_t n_losses, cap_losses;
    uint32_t oldest_minute;  /* nothing older is in memory */
    struct ipsec_baseline baseline;
    struct rf_arena baseline_arena;
    uint32_t newest, oldest; /* ends of the recency list; FLEET_NONE when empty */
    uint64_t version;        /* bumped by every change */
    uint64_t dropped_failures;
    uint64_t dropped_losses;
};

int fleet_init(struct fleet *f, const struct fleet_config *cfg);
void fleet_free(struct fleet *f);

void fleet_lock_read(struct fleet *f);
void fleet_unlock(struct fleet *f);
/* With the read lock held: lets a waiting update in, then reads on. The
 * logs and the device array may have grown or moved meanwhile: re-read
 * f->fails, f->n_fails, f->devs, f->n_devs (entries are only appended, but
 * for the compaction of entries past the horizon). */
void fleet_yield_read(struct fleet *f);

/* Applies committed batches (writer commit hook). inserted[i][r] tells
 * whether record r of batch i was new (events deduplicated by record id
 * are not counted twice). now_ms is the commit's receipt time. */
void fleet_apply(struct fleet *f, const struct rf_batch *const *batches,
                 const uint8_t *const *inserted, size_t n, int64_t now_ms);

/* Loads devices, latest snapshots and the horizon's outcome events from the
 * database. Returns RF_OK or RF_ESTORAGE. */
int fleet_rebuild(struct fleet *f, sqlite3 *db);

/* Replaces the IPsec baseline and re-runs the device checks (write lock). */
int fleet_set_baseline(struct fleet *f, const struct ipsec_baseline *b);

/* Helpers for readers (call with the read lock held). */
uint32_t fleet_minute(int64_t ms);
/* Attempts and failures in [from_minute, to_minute]. */
void fleet_sum(const struct fleet *f, uint32_t from_minute, uint32_t to_minute,
               uint64_t *attempts, uint64_t *failures);
/* Device index for a uid, or -1. */
long fleet_find_device(const struct fleet *f, const char *uid);
/* Rebuilds the recency list from last_seen (after a bulk load). */
int fleet_sort_recency(struct fleet *f);
/* Policy of a device for a connection id, or NULL. */
const struct fleet_policy *fleet_device_policy(const struct fleet_device *d, uint32_t conn);
size_t fleet_memory_bytes(const struct fleet *f);

/* The evidence JSON of each of d's findings, recomputed from its stored
 * state: (*out)[k] belongs to d->findings[k] ("{}" should the checks no
 * longer produce it). Strings and array live in arena. Read lock held.
 * Returns RF_OK or RF_ENOMEM. */
int fleet_device_evidence(const struct fleet *f, const struct fleet_device *d,
                          struct rf_arena *arena, const char *const **out);

/* Losses reported in [from_minute, to_minute]. */
struct fleet_loss_sum {
    uint64_t devices_dropping; /* devices whose agent dropped batches */
    int64_t dropped_batches, dropped_records, rejected_batches;
};
/* Sums the loss log over the range; when dropping is not NULL (n_devs / 64
 * + 1 zeroed words) it also gets a bit per device that dropped batches.
 * RF_OK or RF_ENOMEM. */
int fleet_sum_losses(const struct fleet *f, uint32_t from_minute, uint32_t to_minute,
                     struct fleet_loss_sum *out, uint64_t *dropping);

/* The fleet's agents now, from their latest reports (for /metrics). */
struct fleet_agent_totals {
    uint64_t reporting;        /* devices whose agent sent an agent_status */
    uint64_t dropping;         /* devices the agent-spool-drops rule flags */
    int64_t spool_bytes, spool_batches, dropped_batches;
};
void fleet_agent_totals(const struct fleet *f, struct fleet_agent_totals *out);

#endif
