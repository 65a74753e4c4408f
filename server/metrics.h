/*
 * metrics.h - the collector's own counters, rendered in the Prometheus text
 * exposition format at GET /metrics.
 *
 * Counters are lock-free atomics bumped on the request and writer paths;
 * gauges that cost a system call (database bytes) are read at render time
 * through callbacks. Label values come from closed enums, never from client
 * input, so the series count is bounded.
 */
#ifndef RASFLEET_METRICS_H
#define RASFLEET_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "rasfleet/record.h"

enum metrics_route {
    ROUTE_INGEST = 0,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_API,
    ROUTE_STATIC,
    ROUTE_OTHER,
    ROUTE_COUNT
};

/* Reject reasons: the "error" codes of 4xx/5xx answers. */
enum metrics_reject {
    REJECT_MALFORMED_JSON = 0,
    REJECT_INVALID_UTF8,
    REJECT_WRONG_TYPE,
    REJECT_MISSING_FIELD,
    REJECT_INVALID_VALUE,
    REJECT_UNKNOWN_KIND,
    REJECT_FIELD_TOO_LONG,
    REJECT_TOO_MANY_RECORDS,
    REJECT_INVALID_TIME,
    REJECT_UNSUPPORTED_SCHEMA,
    REJECT_BODY_TOO_LARGE,
    REJECT_INFLATED_TOO_LARGE,
    REJECT_BAD_GZIP,
    REJECT_UNSUPPORTED_ENCODING,
    REJECT_UNSUPPORTED_MEDIA_TYPE,
    REJECT_MISSING_HEADER,
    REJECT_UNAUTHORIZED,
    REJECT_FORBIDDEN,
    REJECT_RATE_LIMITED,
    REJECT_QUEUE_FULL,
    REJECT_STORAGE_UNAVAILABLE,
    REJECT_SHUTTING_DOWN,
    REJECT_METHOD_NOT_ALLOWED,
    REJECT_NOT_FOUND,
    REJECT_BAD_REQUEST,
    REJECT_INTERNAL,
    REJECT_COUNT
};

/* Machine code of a reject reason ("malformed_json", ...). */
const char *metrics_reject_name(enum metrics_reject r);
/* Reject reason for a machine code; REJECT_COUNT when unknown. */
enum metrics_reject metrics_reject_from_name(const char *name);

void metrics_count_request(enum metrics_route route, int http_status);
void metrics_count_reject(enum metrics_reject reason);
void metrics_count_records(enum rf_kind kind, uint64_t n);
void metrics_count_batch(int duplicate);
void metrics_observe_commit(double seconds, uint64_t batches, uint64_t records);
void metrics_count_storage_error(void);
void metrics_count_retention(uint64_t rows);
/* A background WAL checkpoint copied `frames` pages. */
void metrics_count_checkpoint(uint64_t frames);
/* The writer copied the WAL's last `frames` pages so that the WAL wraps. */
void metrics_count_wal_wrap(uint64_t frames);

/* Whether this collector computes the findings (pg_election.c sets it;
 * 1 until then): rasfleet_analyzer_leader and /healthz's "analyzer". */
void metrics_set_analyzer_leader(int leader);
int metrics_analyzer_leader(void);

/* Gauges read when /metrics is rendered. */
struct metrics_gauges {
    int64_t queue_depth;    /* batches waiting for the writer */
    int64_t queue_capacity; /* bound of the queue */
    int64_t queue_bytes;    /* bytes held by queued batches */
    int64_t database_bytes; /* main file + WAL */
    int64_t healthy;        /* 1 when the last write succeeded */
    int64_t hot_bytes;      /* memory held by the hot aggregate (0 until enabled) */
    int64_t devices_known;
    double start_time;      /* unix seconds */
    /* the fleet's agents, from their latest agent_status reports */
    int64_t agents_reporting;     /* devices whose agent sent one */
    int64_t agents_dropping;      /* devices the agent-spool-drops rule flags */
    int64_t agent_spool_bytes;    /* sum of the spools' sizes */
    int64_t agent_spool_batches;  /* sum of the batches waiting in them */
    int64_t agent_dropped_batches; /* sum of the agents' drop totals */
};

/* Appends the whole exposition. */
int metrics_render(const struct metrics_gauges *g, struct buf *out);

/* Test hook: zeroes every counter. */
void metrics_reset(void);

#endif
