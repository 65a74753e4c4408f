/*
 * metrics.c - Prometheus counters and rendering. See metrics.h.
 *
 * The commit latency histogram uses fixed buckets from 1 ms to 10 s; its
 * sum is kept in microseconds in an integer atomic to avoid float atomics.
 */
#include "metrics.h"
#include "rasfleet/result.h"

#include <stdatomic.h>
#include <string.h>

static const int tracked_status[] = {200, 204, 304, 400, 401, 403, 404,
                                     405, 413, 415, 429, 500, 503};
#define N_STATUS (sizeof(tracked_status) / sizeof(tracked_status[0]))

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_INGEST] = "ingest", [ROUTE_HEALTHZ] = "healthz", [ROUTE_METRICS] = "metrics",
    [ROUTE_API] = "api",       [ROUTE_STATIC] = "static",   [ROUTE_OTHER] = "other",
};

static const char *const reject_names[REJECT_COUNT] = {
    [REJECT_MALFORMED_JSON] = "malformed_json",
    [REJECT_INVALID_UTF8] = "invalid_utf8",
    [REJECT_WRONG_TYPE] = "wrong_type",
    [REJECT_MISSING_FIELD] = "missing_field",
    [REJECT_INVALID_VALUE] = "invalid_value",
    [REJECT_UNKNOWN_KIND] = "unknown_kind",
    [REJECT_FIELD_TOO_LONG] = "field_too_long",
    [REJECT_TOO_MANY_RECORDS] = "too_many_records",
    [REJECT_INVALID_TIME] = "invalid_time",
    [REJECT_UNSUPPORTED_SCHEMA] = "unsupported_schema",
    [REJECT_BODY_TOO_LARGE] = "body_too_large",
    [REJECT_INFLATED_TOO_LARGE] = "inflated_too_large",
    [REJECT_BAD_GZIP] = "bad_gzip",
    [REJECT_UNSUPPORTED_ENCODING] = "unsupported_encoding",
    [REJECT_UNSUPPORTED_MEDIA_TYPE] = "unsupported_media_type",
    [REJECT_MISSING_HEADER] = "missing_header",
    [REJECT_UNAUTHORIZED] = "unauthorized",
    [REJECT_FORBIDDEN] = "forbidden",
    [REJECT_RATE_LIMITED] = "rate_limited",
    [REJECT_QUEUE_FULL] = "queue_full",
    [REJECT_STORAGE_UNAVAILABLE] = "storage_unavailable",
    [REJECT_SHUTTING_DOWN] = "shutting_down",
    [REJECT_METHOD_NOT_ALLOWED] = "method_not_allowed",
    [REJECT_NOT_FOUND] = "not_found",
    [REJECT_BAD_REQUEST] = "bad_request",
    [REJECT_INTERNAL] = "internal_error",
};

static const double commit_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
#define N_BUCKETS (sizeof(commit_buckets) / sizeof(commit_buckets[0]))

static struct {
    _Atomic uint64_t requests[ROUTE_COUNT][N_STATUS + 1]; /* last slot: other codes */
    _Atomic uint64_t rejects[REJECT_COUNT];
    _Atomic uint64_t records[RF_KIND_COUNT];
    _Atomic uint64_t batches_stored;
    _Atomic uint64_t batches_duplicate;
    _Atomic uint64_t commit_bucket[N_BUCKETS + 1];
    _Atomic uint64_t commit_count;
    _Atomic uint64_t commit_sum_us;
    _Atomic uint64_t commit_batches;
    _Atomic uint64_t commit_records;
    _Atomic uint64_t storage_errors;
    _Atomic uint64_t retention_rows;
    _Atomic uint64_t checkpoint_frames;
    _Atomic uint64_t checkpoint_restarts;
    _Atomic uint64_t analyzer_follower; /* 0: computes findings (alone or elected) */
} m;

const char *metrics_reject_name(enum metrics_reject r)
{
    return (unsigned)r < REJECT_COUNT ? reject_names[r] : "other";
}

enum metrics_reject metrics_reject_from_name(const char *name)
{
    for (int i = 0; i < REJECT_COUNT; i++)
        if (strcmp(reject_names[i], name) == 0)
            return (enum metrics_reject)i;
    return REJECT_COUNT;
}

void metrics_count_request(enum metrics_route route, int status)
{
    size_t slot = N_STATUS;
    for (size_t i = 0; i < N_STATUS; i++)
        if (tracked_status[i] == status)
            slot = i;
    if ((unsigned)route >= ROUTE_COUNT)
        route = ROUTE_OTHER;
    atomic_fetch_add_explicit(&m.requests[route][slot], 1, memory_order_relaxed);
}

void metrics_count_reject(enum metrics_reject reason)
{
    if ((unsigned)reason < REJECT_COUNT)
        atomic_fetch_add_explicit(&m.rejects[reason], 1, memory_order_relaxed);
}

void metrics_count_records(enum rf_kind kind, uint64_t n)
{
    if ((unsigned)kind < RF_KIND_COUNT)
        atomic_fetch_add_explicit(&m.records[kind], n, memory_order_relaxed);
}

void metrics_count_batch(int duplicate)
{
    atomic_fetch_add_explicit(duplicate ? &m.batches_duplicate : &m.batches_stored, 1,
                              memory_order_relaxed);
}

void metrics_observe_commit(double seconds, uint64_t batches, uint64_t records)
{
    size_t b = N_BUCKETS;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (seconds <= commit_buckets[i]) {
            b = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&m.commit_bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commit_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commit_sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commit_batches, batches, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.commit_records, records, memory_order_relaxed);
}

void metrics_count_storage_error(void)
{
    atomic_fetch_add_explicit(&m.storage_errors, 1, memory_order_relaxed);
}

void metrics_count_retention(uint64_t rows)
{
    atomic_fetch_add_explicit(&m.retention_rows, rows, memory_order_relaxed);
}

void metrics_count_checkpoint(uint64_t frames)
{
    atomic_fetch_add_explicit(&m.checkpoint_frames, frames, memory_order_relaxed);
}

void metrics_count_wal_wrap(uint64_t frames)
{
    atomic_fetch_add_explicit(&m.checkpoint_frames, frames, memory_order_relaxed);
    atomic_fetch_add_explicit(&m.checkpoint_restarts, 1, memory_order_relaxed);
}

void metrics_set_analyzer_leader(int leader)
{
    atomic_store_explicit(&m.analyzer_follower, leader ? 0 : 1, memory_order_relaxed);
}

int metrics_analyzer_leader(void)
{
    return atomic_load_explicit(&m.analyzer_follower, memory_order_relaxed) ? 0 : 1;
}

void metrics_reset(void)
{
    memset(&m, 0, sizeof(m));
}

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

static int header(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int render_counters(struct buf *b)
{
    int rc = header(b, "rasfleet_http_requests_total", "counter",
                    "HTTP requests answered, by route and status code.");
    for (int r = 0; r < ROUTE_COUNT && rc == RF_OK; r++) {
        for (size_t s = 0; s <= N_STATUS && rc == RF_OK; s++) {
            uint64_t v = ld(&m.requests[r][s]);
            if (!v)
                continue;
            if (s < N_STATUS)
                rc = buf_printf(b, "rasfleet_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                                route_names[r], tracked_status[s], (unsigned long long)v);
            else
                rc = buf_printf(b,
                                "rasfleet_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                                route_names[r], (unsigned long long)v);
        }
    }
    if (rc == RF_OK)
        rc = header(b, "rasfleet_ingest_records_total", "counter",
                    "Records committed to storage, by kind (duplicates excluded).");
    for (int k = 0; k < RF_KIND_COUNT && rc == RF_OK; k++)
        rc = buf_printf(b, "rasfleet_ingest_records_total{kind=\"%s\"} %llu\n",
                        rf_kind_name((enum rf_kind)k), (unsigned long long)ld(&m.records[k]));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_ingest_batches_total", "counter",
                    "Batches acknowledged, by result (stored or duplicate).");
    if (rc == RF_OK)
        rc = buf_printf(b,
                        "rasfleet_ingest_batches_total{result=\"stored\"} %llu\n"
                        "rasfleet_ingest_batches_total{result=\"duplicate\"} %llu\n",
                        (unsigned long long)ld(&m.batches_stored),
                        (unsigned long long)ld(&m.batches_duplicate));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_ingest_rejects_total", "counter",
                    "Requests refused, by reason (the error code of the answer).");
    for (int r = 0; r < REJECT_COUNT && rc == RF_OK; r++)
        rc = buf_printf(b, "rasfleet_ingest_rejects_total{reason=\"%s\"} %llu\n", reject_names[r],
                        (unsigned long long)ld(&m.rejects[r]));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_storage_errors_total", "counter",
                    "Transactions the database refused (disk full, read-only, I/O error).");
    if (rc == RF_OK)
        rc = buf_printf(b, "rasfleet_storage_errors_total %llu\n",
                        (unsigned long long)ld(&m.storage_errors));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_retention_deleted_rows_total", "counter",
                    "Rows deleted by retention.");
    if (rc == RF_OK)
        rc = buf_printf(b, "rasfleet_retention_deleted_rows_total %llu\n",
                        (unsigned long long)ld(&m.retention_rows));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_wal_checkpoint_pages_total", "counter",
                    "WAL pages copied into the database file (background checkpointer and WAL wraps).");
    if (rc == RF_OK)
        rc = buf_printf(b, "rasfleet_wal_checkpoint_pages_total %llu\n",
                        (unsigned long long)ld(&m.checkpoint_frames));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_wal_checkpoint_restarts_total", "counter",
                    "WAL wraps: the writer copied the WAL's last pages between two groups so that its next commit starts the WAL over.");
    if (rc == RF_OK)
        rc = buf_printf(b, "rasfleet_wal_checkpoint_restarts_total %llu\n",
                        (unsigned long long)ld(&m.checkpoint_restarts));
    return rc;
}

static int render_histogram(struct buf *b)
{
    int rc = header(b, "rasfleet_commit_duration_seconds", "histogram",
                    "Time to write and commit one group of batches.");
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BUCKETS && rc == RF_OK; i++) {
        cum += ld(&m.commit_bucket[i]);
        rc = buf_printf(b, "rasfleet_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
                        commit_buckets[i], (unsigned long long)cum);
    }
    cum += ld(&m.commit_bucket[N_BUCKETS]);
    if (rc == RF_OK)
        rc = buf_printf(b,
                        "rasfleet_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "rasfleet_commit_duration_seconds_sum %.6f\n"
                        "rasfleet_commit_duration_seconds_count %llu\n",
                        (unsigned long long)cum, (double)ld(&m.commit_sum_us) / 1e6,
                        (unsigned long long)ld(&m.commit_count));
    if (rc == RF_OK)
        rc = header(b, "rasfleet_commit_batches_total", "counter",
                    "Batches written by group commits (stored and duplicate).");
    if (rc == RF_OK)
        rc = buf_printf(b, "rasfleet_commit_batches_total %llu\n",
                        (unsigned long long)ld(&m.commit_batches));
    return rc;
}

static int gauge(struct buf *b, const char *name, const char *help, double v)
{
    int rc = header(b, name, "gauge", help);
    return rc == RF_OK ? buf_printf(b, "%s %.17g\n", name, v) : rc;
}

/* The fleet's agents as their latest agent_status reports describe them.
 * Gauges, not counters: a sum over agents falls when one is reset or gone. */
static int render_agents(const struct metrics_gauges *g, struct buf *b)
{
    int rc = gauge(b, "rasfleet_agents_reporting_status",
                   "Devices whose agent has sent an agent_status report.",
                   (double)g->agents_reporting);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_agents_dropping",
                   "Devices whose agent dropped telemetry from a full spool recently "
                   "(rule agent-spool-drops).",
                   (double)g->agents_dropping);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_agent_spool_bytes",
                   "Bytes waiting in the agents' spools, summed over the fleet.",
                   (double)g->agent_spool_bytes);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_agent_spool_batches",
                   "Batches waiting in the agents' spools, summed over the fleet.",
                   (double)g->agent_spool_batches);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_agent_dropped_batches",
                   "Batches the agents dropped from full spools, their reported totals summed.",
                   (double)g->agent_dropped_batches);
    return rc;
}

int metrics_render(const struct metrics_gauges *g, struct buf *b)
{
    int rc = render_counters(b);
    if (rc == RF_OK)
        rc = render_histogram(b);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_writer_queue_depth", "Batches waiting for the writer.",
                   (double)g->queue_depth);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_writer_queue_capacity",
                   "Batches the writer queue holds before answering 503.",
                   (double)g->queue_capacity);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_writer_queue_bytes", "Bytes held by queued batches.",
                   (double)g->queue_bytes);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_database_bytes", "Size of the database on disk (main file and WAL).",
                   (double)g->database_bytes);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_storage_healthy", "1 when the last database write succeeded.",
                   (double)g->healthy);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_hot_aggregate_bytes", "Memory held by the hot aggregate.",
                   (double)g->hot_bytes);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_devices_known", "Devices that ever sent a batch.",
                   (double)g->devices_known);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_start_time_seconds", "Unix time the collector started.",
                   g->start_time);
    if (rc == RF_OK)
        rc = gauge(b, "rasfleet_analyzer_leader",
                   "1 when this collector computes the findings (alone, or elected among"
                   " collectors sharing PostgreSQL); 0: it serves the leader's.",
                   (double)metrics_analyzer_leader());
    if (rc == RF_OK)
        rc = render_agents(g, b);
    return rc;
}
