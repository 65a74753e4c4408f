/*
 * agent_run.c - the agent's cycle: recover, collect into the spool, deliver,
 * report. See agent_run.h for the delivery policy.
 *
 * Ordering that makes a re-run never duplicate and never lose:
 *   1. a batch is written to the spool (durably) before anything else
 *      happens to it;
 *   2. then its delta (dedupe keys, file progress) is applied to the
 *      progress files - after a crash between 1 and 2 the next cycle
 *      replays the delta from the spooled batch (replay());
 *   3. only then may it be sent, and it leaves the spool only on a 200.
 * A crash before 1 loses nothing (progress did not move, the records are
 * collected again); after 1 the batch is in the spool with a fixed
 * batch_id, so a resend after a crash during 3 is answered "duplicate" by
 * the collector.
 */
#include "agent_run.h"
#include "backoff.h"
#include "batch_json.h"
#include "batcher.h"
#include "gzip.h"
#include "log.h"
#include "osdep.h"
#include "progress.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "report.h"
#include "sources.h"
#include "spool.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_MAX_PROBLEMS 50
#define AGENT_MAX_RETRY_AFTER_MS (3600LL * 1000)

struct agent_problem {
    char path[PARSE_REPORT_PATH_MAX];
    long line, offset, item;
    bool fatal;
    char reason[PARSE_REPORT_REASON_MAX];
};

struct agent_cycle_stats {
    int64_t started_ms;
    bool offline;        /* stopped sending: retries exhausted or collector unreachable */
    bool auth_failed;    /* 401/403/404/redirect */
    bool storage_failed; /* spool or progress could not be written */
    int64_t waited_ms;   /* spent waiting to retry */
    size_t records, spooled, delivered, rejected, problems;
    struct sources_stats sources;
};

struct agent {
    const struct agent_config *cfg;
    const struct transport *tr;
    char spool_dir[OSDEP_PATH_MAX];
    char status_path[OSDEP_PATH_MAX];
    char url[2048];
    char device_id[RF_MAX_ID_LEN + 1];
    char hostname[256];
    char os_version[128];
    struct rf_agent_info info;
    intptr_t lock;
    struct spool *spool;
    struct progress *progress;
    struct backoff_policy policy;
    agent_native_fn native;
    void *native_ctx;
    struct agent_cycle_stats cy;
    int64_t not_before_ms; /* a Retry-After still running, across cycles */
    bool reload_progress;  /* a storage failure left keys in memory that are not on disk */
    struct report_health health; /* last success and last error, kept across runs */
    struct agent_problem problems[AGENT_MAX_PROBLEMS];
    size_t n_problems;
    struct buf json, gz;
};

static void set_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remembers an error for the report (report_set_error) and status.json. */
static void vnote_error(struct agent *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vnote_error(struct agent *a, const char *fmt, va_list ap)
{
    char text[REPORT_ERROR_MAX];
    vsnprintf(text, sizeof(text), fmt, ap);
    report_set_error(&a->health, time_now_ms(), text);
}

/* An error that stops something: remembered and logged as an error. */
static void set_error(struct agent *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote_error(a, fmt, ap);
    va_end(ap);
    log_error("%s", a->health.last_error);
}

/* An error that a retry may cure: remembered; the caller logs it as it sees fit. */
static void note_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_error(struct agent *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote_error(a, fmt, ap);
    va_end(ap);
}

int agent_uuid_v4(char out[37])
{
    unsigned char r[16];
    int rc = osdep_random(r, sizeof(r));
    if (rc != RF_OK)
        return rc;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return RF_OK;
}

/* ---- identity ---- */

static bool usable_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RF_MAX_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    return true;
}

/* --device-id, else the id kept in the state dir, else the machine id (or
 * a random UUID when the system has none), which is then kept. */
static int resolve_device_id(struct agent *a, struct buf *err)
{
    char path[OSDEP_PATH_MAX], id[RF_MAX_ID_LEN + 1];
    struct buf b = BUF_INIT;
    int rc = RF_OK;
    if (a->cfg->device_id) {
        snprintf(a->device_id, sizeof(a->device_id), "%s", a->cfg->device_id);
        return RF_OK;
    }
    snprintf(path, sizeof(path), "%s/device-id", a->cfg->state_dir);
    if (osdep_read_file(path, 1024, &b) == RF_OK) {
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
            n--;
        if (n > 0 && n <= RF_MAX_ID_LEN) {
            memcpy(a->device_id, b.data, n);
            a->device_id[n] = '\0';
            if (usable_id(a->device_id))
                goto out;
        }
        log_warn("%s holds no usable device id; deriving it again", path);
    }
    if (osdep_machine_id(id, sizeof(id)) != RF_OK || !usable_id(id)) {
        log_warn("no machine id on this system; using a random device id");
        if ((rc = agent_uuid_v4(id)) != RF_OK)
            goto out;
    }
    snprintf(a->device_id, sizeof(a->device_id), "%s", id);
    char line[RF_MAX_ID_LEN + 2];
    int n = snprintf(line, sizeof(line), "%s\n", id);
    struct osdep_chunk c = {line, (size_t)n};
    if ((rc = osdep_write_atomic(path, &c, 1)) != RF_OK)
        buf_printf(err, "cannot write %s: %s", path, osdep_strerror());
out:
    buf_free(&b);
    return rc;
}

/* ---- problems reported by the sources ---- */

static void on_report(void *ctx, const struct parse_report *r)
{
    struct agent *a = ctx;
    char where[64] = "";
    if (r->line > 0 && r->offset >= 0)
        snprintf(where, sizeof(where), ":%ld (offset %ld)", r->line, r->offset);
    else if (r->line > 0)
        snprintf(where, sizeof(where), ":%ld", r->line);
    else if (r->offset >= 0)
        snprintf(where, sizeof(where), " (offset %ld)", r->offset);
    if (r->item >= 0)
        snprintf(where + strlen(where), sizeof(where) - strlen(where), " [item %ld]", r->item);
    log_warn("source %s%s: %s%s", r->path, where, r->reason, r->fatal ? " (file skipped)" : "");
    a->cy.problems++;
    if (a->n_problems == AGENT_MAX_PROBLEMS) {
        memmove(&a->problems[0], &a->problems[1],
                (AGENT_MAX_PROBLEMS - 1) * sizeof(a->problems[0]));
        a->n_problems--;
    }
    struct agent_problem *p = &a->problems[a->n_problems++];
    snprintf(p->path, sizeof(p->path), "%s", r->path);
    p->line = r->line;
    p->offset = r->offset;
    p->item = r->item;
    p->fatal = r->fatal;
    snprintf(p->reason, sizeof(p->reason), "%s", r->reason);
}

/* ---- delivery ---- */

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    if (osdep_random(&v, sizeof(v)) != RF_OK)
        v = (uint32_t)time_mono_ns();
    return v;
}

/* One POST of a gzip batch body; r->status is 0 when no answer arrived. */
static void post_batch(struct agent *a, const char *batch_id, const void *body, size_t len,
                       struct transport_response *r)
{
    struct transport_request req = {a->url, a->cfg->token, a->device_id, batch_id, body, len};
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    if (a->tr->post(a->tr->ctx, &req, r) != RF_OK)
        r->status = 0;
}

/* Waits ms if the cycle's retry budget allows it; false (offline) if not. */
static bool wait_for_retry(struct agent *a, unsigned attempts, int64_t ms)
{
    if (!backoff_should_retry(&a->policy, attempts, a->cy.waited_ms, ms)) {
        a->cy.offline = true;
        return false;
    }
    log_info("retrying in %" PRId64 " ms", ms);
    a->cy.waited_ms += ms;
    if (osdep_sleep_ms(ms)) {
        a->cy.offline = true;
        return false;
    }
    return true;
}

static void reject(struct agent *a, const struct spool_entry *e, const struct transport_response *r)
{
    char reason[1024];
    uint64_t seq = e->seq;
    snprintf(reason, sizeof(reason), "HTTP %ld from %.300s\nbatch_id %s\nrecords %" PRIu64 "\n%s\n",
             r->status, a->url, e->batch_id, e->records, r->body);
    set_error(a, "collector refused batch %s with HTTP %ld: %.200s; moved to %s", e->batch_id,
              r->status, r->body, spool_rejected_dir(a->spool));
    if (spool_reject(a->spool, seq, reason) != RF_OK) {
        set_error(a, "cannot move a refused batch aside: %s", osdep_strerror());
        a->cy.storage_failed = true;
        return;
    }
    a->cy.rejected++;
}

/* Sends the oldest batch until it is acknowledged, refused, or the cycle
 * gives up; false when delivery must stop for this cycle. */
static bool deliver_one(struct agent *a, const struct spool_entry *entry)
{
    struct spool_entry e = *entry;
    struct buf body = BUF_INIT;
    struct transport_response r;
    bool go_on = false;
    unsigned attempts = 0;
    if (spool_read(a->spool, e.seq, &body, NULL) != RF_OK) {
        set_error(a, "cannot read spooled batch %s: %s", e.batch_id, osdep_strerror());
        a->cy.storage_failed = true;
        goto out;
    }
    for (;;) {
        int64_t now = time_now_ms();
        if (a->not_before_ms > now && !wait_for_retry(a, attempts, a->not_before_ms - now))
            goto out;
        post_batch(a, e.batch_id, body.data, body.len, &r);
        attempts++;
        if (r.status == 200) {
            if (spool_ack(a->spool, e.seq) != RF_OK) {
                set_error(a, "cannot delete delivered batch %s: %s", e.batch_id, osdep_strerror());
                a->cy.storage_failed = true;
                goto out;
            }
            log_info("delivered batch %s (%" PRIu64 " records)", e.batch_id, e.records);
            a->health.last_success_ms = time_now_ms();
            a->cy.delivered++;
            a->not_before_ms = 0;
            go_on = true;
            goto out;
        }
        if (r.status == 401 || r.status == 403 || r.status == 404 ||
            (r.status >= 300 && r.status < 400)) {
            set_error(a,
                      "collector answered HTTP %ld to %.200s: %.200s; check the token and the URL "
                      "(the spool is kept)",
                      r.status, a->url, r.body);
            a->cy.auth_failed = true;
            goto out;
        }
        /* another 2xx is not the contract's acknowledgement: kept and retried */
        if (!backoff_status_retryable(r.status) && (r.status < 200 || r.status > 299)) {
            reject(a, &e, &r);
            go_on = !a->cy.storage_failed;
            goto out;
        }
        if (r.status == 0)
            note_error(a, "cannot reach %.200s: %s", a->url, r.error); /* TLS advice is long */
        else
            note_error(a, "collector answered HTTP %ld: %.200s", r.status, r.body);
        log_warn("batch %s: %s", e.batch_id, a->health.last_error);
        int64_t delay = backoff_delay_ms(&a->policy, attempts, r.retry_after_ms, random_u32());
        if (r.retry_after_ms >= 0)
            a->not_before_ms = time_now_ms() + delay;
        if (a->not_before_ms > time_now_ms())
            continue; /* the wait happens at the top, against the budget */
        if (!wait_for_retry(a, attempts, delay))
            goto out;
    }
out:
    if (a->cy.offline)
        log_warn("giving up delivery for this cycle after %u attempt(s); %zu batch(es) kept in "
                 "the spool",
                 attempts, spool_count(a->spool));
    buf_free(&body);
    return go_on;
}

static void deliver(struct agent *a)
{
    while (!a->cy.offline && !a->cy.auth_failed && !a->cy.storage_failed &&
           spool_count(a->spool) > 0 && !osdep_stop_requested()) {
        const struct spool_entry *e = spool_entry_at(a->spool, 0);
        if (e->seq > progress_applied_seq(a->progress))
            break; /* its progress is not durable yet: never send it */
        if (!deliver_one(a, e))
            break;
    }
}

/* ---- the batcher's flush: spool, progress, delivery ---- */

static int on_flush(void *ctx, struct batcher *b)
{
    struct agent *a = ctx;
    struct spool_entry e;
    int rc;
    if (b->n_records == 0) {
        /* only file progress of files that yielded nothing new: no batch */
        rc = progress_apply_delta(a->progress, progress_applied_seq(a->progress), b->delta.data,
                                  b->delta.len);
        goto progress_failed;
    }
    memset(&e, 0, sizeof(e));
    if ((rc = agent_uuid_v4(e.batch_id)) != RF_OK)
        goto out;
    buf_reset(&a->json);
    buf_reset(&a->gz);
    /* compressed from the batcher's own records: no copy of the batch */
    if ((rc = batcher_body_head(e.batch_id, &a->info, &a->json)) != RF_OK)
        goto out;
    const struct gzip_piece body[] = {{a->json.data, a->json.len},
                                      {b->records.data, b->records.len},
                                      {BATCHER_BODY_TAIL, strlen(BATCHER_BODY_TAIL)}};
    if ((rc = gzip_deflate_pieces(body, 3, 6, &a->gz)) != RF_OK)
        goto out;
    e.seq = progress_next_seq(a->progress, spool_max_seq(a->spool));
    e.created_ms = time_now_ms();
    e.records = b->n_records;
    rc = spool_push(a->spool, &e, a->gz.data, a->gz.len, b->delta.data, b->delta.len);
    if (rc != RF_OK) {
        set_error(a, "cannot write a batch of %zu records to the spool %s: %s", b->n_records,
                  a->spool_dir,
                  rc == RF_ETOOBIG ? "larger than --spool-max-bytes" : osdep_strerror());
        goto out;
    }
    rc = progress_apply_delta(a->progress, e.seq, b->delta.data, b->delta.len);
    if (rc != RF_OK)
        goto progress_failed;
    a->cy.spooled++;
    a->cy.records += b->n_records;
    log_debug("spooled batch %s: %zu records, %zu bytes gzip", e.batch_id, b->n_records, a->gz.len);
    deliver(a);
    goto out;
progress_failed:
    if (rc != RF_OK)
        set_error(a, "cannot record progress in %s: %s", a->cfg->state_dir, osdep_strerror());
out:
    if (rc != RF_OK)
        a->cy.storage_failed = true;
    return rc;
}

/* ---- recovery, status ---- */

/* Applies the deltas of spooled batches that a crash kept from the progress. */
static int replay(struct agent *a)
{
    struct buf delta = BUF_INIT;
    int rc = RF_OK;
    for (size_t i = 0; i < spool_count(a->spool) && rc == RF_OK; i++) {
        const struct spool_entry *e = spool_entry_at(a->spool, i);
        if (e->seq <= progress_applied_seq(a->progress))
            continue;
        log_warn("recovering progress of spooled batch %s (seq %" PRIu64 ")", e->batch_id, e->seq);
        buf_reset(&delta);
        if ((rc = spool_read(a->spool, e->seq, NULL, &delta)) == RF_OK)
            rc = progress_apply_delta(a->progress, e->seq, delta.data ? delta.data : "", delta.len);
    }
    buf_free(&delta);
    return rc;
}

static int write_status(struct agent *a, int exit_code)
{
    struct buf b = BUF_INIT;
    char t0[TIME_RFC3339_MAX], t1[TIME_RFC3339_MAX], te[TIME_RFC3339_MAX], ts[TIME_RFC3339_MAX];
    uint64_t dropped_batches, dropped_records;
    const struct spool_entry *oldest = spool_entry_at(a->spool, 0);
    spool_drops(a->spool, &dropped_batches, &dropped_records);
    time_format_rfc3339(a->cy.started_ms, t0, sizeof(t0));
    time_format_rfc3339(time_now_ms(), t1, sizeof(t1));
    time_format_rfc3339(a->health.last_error_ms, te, sizeof(te));
    time_format_rfc3339(a->health.last_success_ms, ts, sizeof(ts));
    int rc = buf_printf(&b, "{\n  \"agent_version\": \"%s\",\n  \"device_id\": ", AGENT_VERSION);
    if (rc == RF_OK)
        rc = buf_append_json_str(&b, a->device_id);
    if (rc == RF_OK)
        rc = buf_printf(&b,
                        ",\n  \"last_cycle\": {\"started\": \"%s\", \"finished\": \"%s\", "
                        "\"exit_code\": %d, \"records_spooled\": %zu, \"batches_spooled\": %zu, "
                        "\"batches_delivered\": %zu, \"batches_rejected\": %zu, "
                        "\"files\": %zu, \"files_unchanged\": %zu, \"files_failed\": %zu, "
                        "\"duplicates_skipped\": %zu, \"unnamed_events_dropped\": %zu, "
                        "\"problems\": %zu},\n",
                        t0, t1, exit_code, a->cy.records, a->cy.spooled, a->cy.delivered,
                        a->cy.rejected, a->cy.sources.files, a->cy.sources.files_unchanged,
                        a->cy.sources.files_failed, a->cy.sources.duplicates,
                        a->cy.sources.unnamed_dropped, a->cy.problems);
    if (rc == RF_OK)
        rc = buf_printf(&b,
                        "  \"spool\": {\"batches\": %zu, \"bytes\": %" PRIu64
                        ", \"oldest_seq\": %" PRIu64 ", \"dropped_batches\": %" PRIu64
                        ", \"dropped_records\": %" PRIu64 ", \"rejected_batches\": %" PRIu64
                        "},\n  \"last_error\": ",
                        spool_count(a->spool), spool_bytes(a->spool), oldest ? oldest->seq : 0,
                        dropped_batches, dropped_records, spool_rejects(a->spool));
    if (rc == RF_OK)
        rc = buf_append_json_str(&b, a->health.last_error_ms ? a->health.last_error : NULL);
    if (rc == RF_OK)
        rc = buf_append_str(&b, ",\n  \"last_error_time\": ");
    if (rc == RF_OK)
        rc = buf_append_json_str(&b, a->health.last_error_ms ? te : NULL);
    if (rc == RF_OK)
        rc = buf_append_str(&b, ",\n  \"last_success\": ");
    if (rc == RF_OK)
        rc = buf_append_json_str(&b, a->health.last_success_ms ? ts : NULL);
    if (rc == RF_OK)
        rc = buf_append_str(&b, ",\n  \"problems\": [");
    for (size_t i = 0; i < a->n_problems && rc == RF_OK; i++) {
        const struct agent_problem *p = &a->problems[i];
        rc = buf_printf(&b, "%s\n    {\"path\": ", i ? "," : "");
        if (rc == RF_OK)
            rc = buf_append_json_str(&b, p->path);
        if (rc == RF_OK)
            rc = buf_printf(&b,
                            ", \"line\": %ld, \"offset\": %ld, \"item\": %ld, "
                            "\"fatal\": %s, \"reason\": ",
                            p->line, p->offset, p->item, p->fatal ? "true" : "false");
        if (rc == RF_OK)
            rc = buf_append_json_str(&b, p->reason);
        if (rc == RF_OK)
            rc = buf_append_char(&b, '}');
    }
    if (rc == RF_OK)
        rc = buf_append_str(&b, "\n  ]\n}\n");
    if (rc == RF_OK) {
        struct osdep_chunk c = {b.data, b.len};
        rc = osdep_write_atomic(a->status_path, &c, 1);
        if (rc != RF_OK)
            log_error("cannot write %s: %s", a->status_path, osdep_strerror());
    }
    buf_free(&b);
    return rc;
}

/* ---- the agent's report on itself ---- */

/*
 * Sends this cycle's agent_status in a batch of its own, once, never
 * spooled, when it says something new (report_due(): a change since the
 * last acknowledged report, or a daily heartbeat): it carries cumulative
 * totals, so a report that is lost is made good by the next one, and the
 * spool never grows for it. Alone in its
 * batch, it is the only thing a collector older than the record kind
 * refuses (400 unknown_kind). Not tried when the collector was unreachable
 * or refused the token in this cycle. The exit code does not depend on it.
 */
static void send_report(struct agent *a)
{
    struct rf_record r;
    struct transport_response resp;
    char batch_id[37];
    uint64_t dropped, records;
    int64_t now = time_now_ms();
    if (a->cy.offline || a->cy.auth_failed || osdep_stop_requested() || a->not_before_ms > now ||
        agent_uuid_v4(batch_id) != RF_OK)
        return;
    spool_drops(a->spool, &dropped, &records);
    struct report_spool sp = {spool_bytes(a->spool), spool_count(a->spool),
                              a->cfg->spool_max_bytes, dropped, records,
                              spool_rejects(a->spool)};
    report_record(&a->health, &sp, a->cy.sources.files_failed, AGENT_VERSION, now, &r);
    uint64_t digest = report_digest(&r);
    if (!report_due(&a->health, digest, now)) {
        log_debug("agent status unchanged since its last report: not sent");
        return;
    }
    struct rf_batch b = {.batch_id = batch_id, .agent = a->info, .n_records = 1, .records = &r};
    buf_reset(&a->json);
    buf_reset(&a->gz);
    if (batch_encode_json(&b, &a->json) != RF_OK ||
        gzip_deflate(a->json.data, a->json.len, 6, &a->gz) != RF_OK)
        return;
    post_batch(a, batch_id, a->gz.data, a->gz.len, &resp);
    if (resp.status == 200) {
        a->health.last_success_ms = time_now_ms();
        report_acknowledged(&a->health, digest, now);
        log_debug("reported the agent's status (spool %" PRIu64 " bytes, %" PRIu64
                  " batches dropped)",
                  sp.bytes, dropped);
    } else if (resp.status == 400 && strstr(resp.body, "unknown_kind")) {
        log_info("the collector does not know agent_status records (it is older than this "
                 "agent): the agent's status is not reported");
    } else if (resp.status == 0) {
        note_error(a, "cannot reach %.200s: %.200s", a->url, resp.error);
        log_warn("agent status not reported: %s", a->health.last_error);
    } else {
        note_error(a, "collector answered HTTP %ld to the agent's status: %.200s", resp.status,
                   resp.body);
        log_warn("%s", a->health.last_error);
    }
}

/* ---- lifecycle ---- */

static void ingest_url(const char *base, char *out, size_t len)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (strstr(base, RF_PATH_INGEST))
        snprintf(out, len, "%.*s", (int)n, base);
    else
        snprintf(out, len, "%.*s%s", (int)n, base, RF_PATH_INGEST);
}

int agent_open(const struct agent_config *cfg, const struct transport *tr, struct agent **out,
               struct buf *err)
{
    struct agent *a = calloc(1, sizeof(*a));
    char path[OSDEP_PATH_MAX];
    int rc = RF_ENOMEM;
    *out = NULL;
    if (!a)
        goto out;
    a->cfg = cfg;
    a->tr = tr;
    a->lock = -1;
    ingest_url(cfg->collector, a->url, sizeof(a->url));
    snprintf(a->spool_dir, sizeof(a->spool_dir), "%s/spool", cfg->state_dir);
    snprintf(a->status_path, sizeof(a->status_path), "%s/status.json", cfg->state_dir);
    snprintf(path, sizeof(path), "%s/lock", cfg->state_dir);
    if ((rc = osdep_mkdirs(cfg->state_dir)) != RF_OK) {
        buf_printf(err, "cannot create state dir: %s", osdep_strerror());
        goto out;
    }
    if ((rc = osdep_lock(path, &a->lock)) != RF_OK) {
        buf_printf(err, "%s", osdep_strerror());
        goto out;
    }
    if ((rc = resolve_device_id(a, err)) != RF_OK)
        goto out;
    osdep_hostname(a->hostname, sizeof(a->hostname));
    osdep_os_version(a->os_version, sizeof(a->os_version));
    a->info.device_id = a->device_id;
    a->info.hostname = a->hostname[0] ? a->hostname : NULL;
    a->info.os_version = a->os_version[0] ? a->os_version : NULL;
    a->info.agent_version = AGENT_VERSION;
    struct spool_limits lim = {cfg->spool_max_bytes, cfg->spool_max_age_ms};
    if ((rc = spool_open(a->spool_dir, &lim, &a->spool)) != RF_OK) {
        buf_printf(err, "cannot open the spool %s: %s", a->spool_dir, osdep_strerror());
        goto out;
    }
    if ((rc = progress_open(cfg->state_dir, cfg->dedupe_keys, &a->progress)) != RF_OK) {
        buf_printf(err, "cannot load the progress in %s: %s", cfg->state_dir, osdep_strerror());
        goto out;
    }
    if (report_load(cfg->state_dir, &a->health) != RF_OK)
        log_warn("cannot read %s/health (%s); the last error and success start empty",
                 cfg->state_dir, osdep_strerror());
    /* a Retry-After longer than what is left of the budget ends the cycle's sending
       at once (backoff_should_retry); one over an hour is taken as an hour */
    a->policy = (struct backoff_policy){cfg->retry_base_ms, cfg->retry_max_delay_ms,
                                        AGENT_MAX_RETRY_AFTER_MS, cfg->retry_attempts,
                                        cfg->retry_budget_ms};
    *out = a;
    a = NULL;
    rc = RF_OK;
out:
    agent_close(a);
    return rc;
}

void agent_set_native(struct agent *a, agent_native_fn fn, void *ctx)
{
    a->native = fn;
    a->native_ctx = ctx;
}

void agent_close(struct agent *a)
{
    if (!a)
        return;
    spool_close(a->spool);
    progress_close(a->progress);
    osdep_unlock(a->lock);
    buf_free(&a->json);
    buf_free(&a->gz);
    free(a);
}

static int collect(struct agent *a)
{
    struct batcher b;
    struct batcher_limits lim = {a->cfg->batch_records, a->cfg->batch_bytes};
    int rc = RF_OK;
    batcher_init(&b, &lim, on_flush, a);
    if (a->cfg->source_dir) {
        struct sources_config sc = {a->cfg->source_dir, a->cfg->state_dir, on_report, a};
        rc = sources_collect(&sc, a->progress, &b, &a->cy.sources);
    }
    if (rc == RF_OK && a->native) {
        struct sources_config sc = {NULL, NULL, on_report, a};
        rc = a->native(a->native_ctx, &sc, a->progress, &b);
    }
    if (rc == RF_OK)
        rc = batcher_flush(&b);
    if (rc == RF_OK && (!a->cfg->source_dir || a->cy.sources.listed))
        rc = progress_forget_unvisited(a->progress);
    batcher_free(&b);
    return rc;
}

int agent_cycle(struct agent *a)
{
    uint64_t drops0, drops1, recs0, recs1;
    int code;
    memset(&a->cy, 0, sizeof(a->cy));
    a->cy.started_ms = time_now_ms();
    if (a->reload_progress) {
        struct progress *p = NULL;
        if (progress_open(a->cfg->state_dir, a->cfg->dedupe_keys, &p) == RF_OK) {
            progress_close(a->progress);
            a->progress = p;
            a->reload_progress = false;
        } else {
            set_error(a, "cannot reload the progress: %s", osdep_strerror());
            a->cy.storage_failed = true;
        }
    }
    spool_drops(a->spool, &drops0, &recs0);
    if (replay(a) != RF_OK) {
        set_error(a, "cannot recover the progress of spooled batches: %s", osdep_strerror());
        a->cy.storage_failed = true;
    }
    if (!a->cy.storage_failed && spool_expire(a->spool, a->cy.started_ms) != RF_OK) {
        set_error(a, "cannot expire old batches: %s", osdep_strerror());
        a->cy.storage_failed = true;
    }
    deliver(a);
    if (!a->cy.storage_failed) {
        int rc = collect(a);
        if (rc != RF_OK && !a->cy.storage_failed)
            set_error(a, "collection stopped: %s", rf_strerror(rc));
        if (rc != RF_OK)
            a->cy.storage_failed = true;
    }
    deliver(a);
    spool_drops(a->spool, &drops1, &recs1);
    if (drops1 > drops0)
        log_warn("the spool dropped %" PRIu64 " batch(es) (%" PRIu64
                 " records) this cycle, %" PRIu64 " (%" PRIu64 " records) in all",
                 drops1 - drops0, recs1 - recs0, drops1, recs1);
    if (a->cy.storage_failed) {
        a->reload_progress = true; /* keys noted in memory may not have reached the disk */
        code = AGENT_EXIT_STORAGE;
    } else if (a->cy.auth_failed)
        code = AGENT_EXIT_AUTH;
    else if (spool_count(a->spool) > 0 || a->cy.rejected > 0)
        code = AGENT_EXIT_UNDELIVERED;
    else
        code = AGENT_EXIT_OK;
    send_report(a);
    if (report_save(a->cfg->state_dir, &a->health) != RF_OK)
        log_error("cannot write %s/health: %s", a->cfg->state_dir, osdep_strerror());
    log_info("cycle done: %zu records in %zu batches spooled, %zu delivered, %zu rejected, %zu "
             "still spooled (%" PRIu64 " bytes), %zu source problem(s); peak RSS %ld KiB; exit %d",
             a->cy.records, a->cy.spooled, a->cy.delivered, a->cy.rejected, spool_count(a->spool),
             spool_bytes(a->spool), a->cy.problems, osdep_peak_rss_kib(), code);
    write_status(a, code);
    return code;
}
