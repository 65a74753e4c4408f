/*
 * analyzer.h - the findings: device-check verdicts gathered across the
 * fleet, and fleet patterns computed from the hot aggregate:
 *   concentration - for a failing code, an attribute value (server,
 *     connection, policy fingerprint, OS build, agent version, interface
 *     type, tunnel type) over-represented among the failing devices against
 *     the reporting fleet (support, lift, counts, minimum evidence);
 *   spike - a code's failures in the recent window against its own
 *     trailing baseline, with the minute it began and the devices affected.
 * Findings are recomputed at most every few seconds when the fleet changed
 * and served from a cached JSON document.
 */
#ifndef RASFLEET_ANALYZER_H
#define RASFLEET_ANALYZER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "fleet.h"

struct analyzer_config {
    int min_devices;        /* concentration: failing devices needed (default 10) */
    double min_lift;        /* concentration: lift needed (default 2.0) */
    double min_support;     /* concentration: share of failing devices (default 0.5) */
    /* a value held by >= 1/min_lift of the fleet: rates with/without it */
    double min_rate_ratio;       /* default 4 */
    double min_majority_support; /* default 0.9 */
    double max_p_value;          /* binomial tail, default 1e-4 */
    int spike_window_min;   /* recent window (default 60) */
    int spike_baseline_h;   /* trailing baseline (default 24) */
    double spike_factor;    /* recent rate / baseline rate (default 5) */
    int spike_min_devices;  /* devices in the recent window (default 5) */
    int recompute_ms;       /* cache lifetime (default 5000) */
};

/* Findings shared by several collectors (PostgreSQL: pg_election.c). Called
 * from the analyzer thread only, once per interval (elect, then publish or
 * fetch). With a share, requests never compute: they serve the document of
 * the last tick. */
struct analyzer_share {
    void *arg;
    /* May this collector compute? RF_OK and *leader; an error = follower. */
    int (*elect)(void *arg, bool *leader);
    /* Leader: stores a document just built at generated_ms for the others;
     * may rewrite doc first (saying who built it): doc is what it serves. */
    int (*publish)(void *arg, int64_t generated_ms, struct buf *doc);
    /* Follower: the leader's latest document into doc (empty on entry) and
     * its time; RF_ENOTFOUND none yet, RF_EBUSY unchanged since the last
     * fetch, other errors: keep serving what it has. */
    int (*fetch)(void *arg, int64_t *generated_ms, struct buf *doc);
};

struct analyzer {
    struct fleet *fleet;
    struct analyzer_config cfg;
    pthread_mutex_t lock; /* guards the cache below and `stopping` */
    pthread_cond_t wake;
    pthread_t thread;
    bool running, stopping;
    uint64_t version;    /* fleet version the cache was built from */
    int64_t built_ms;
    char *json;          /* cached {"generated_at":..., "findings":[...]} */
    size_t json_len;
    struct analyzer_share share; /* share.elect NULL: computes alone */
    bool leader;                 /* with a share: won the last election */
};

void analyzer_config_defaults(struct analyzer_config *c);
int analyzer_init(struct analyzer *a, struct fleet *f, const struct analyzer_config *cfg);
/* Shares the findings through s (before analyzer_start). */
void analyzer_set_share(struct analyzer *a, const struct analyzer_share *s);
/* Starts the background thread that keeps the findings current, so reads
 * never pay for a recomputation. */
int analyzer_start(struct analyzer *a);
/* Stops the thread (if started) and frees the cache. */
void analyzer_free(struct analyzer *a);

/* Appends the findings document (recomputing when stale). Optional filter:
 * rule id or NULL. RF_EBUSY: shared, and no leader has published one yet. */
int analyzer_findings_json(struct analyzer *a, const char *rule_filter, struct buf *out);

/* Devices flagged by a device rule (read lock held by the caller): calls fn
 * for each device index and its finding. */
typedef void (*analyzer_device_fn)(void *arg, size_t dev, const struct fleet_finding *fd);
void analyzer_devices_for_rule(const struct fleet *f, size_t rule_index, analyzer_device_fn fn,
                               void *arg);

#endif
