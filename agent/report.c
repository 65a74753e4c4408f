/*
 * report.c - the agent's health file and its agent_status record. See
 * report.h.
 */
#include "report.h"
#include "buf.h"
#include "log.h"
#include "osdep.h"
#include "rasfleet/result.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define REPORT_MAGIC "rasfleet-agent-health 1\n"

static int health_path(const char *state_dir, char *out, size_t len)
{
    return osdep_path(out, len, "%s/health", state_dir);
}

/* The rest of the line after "key " in text, copied into out; false when absent. */
static bool line_value(const char *text, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, key, k) == 0 && p[k] == ' ') {
            const char *v = p + k + 1, *end = strchr(v, '\n');
            size_t n = end ? (size_t)(end - v) : strlen(v);
            snprintf(out, len, "%.*s", (int)n, v);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static int64_t line_int(const char *text, const char *key)
{
    char v[32];
    long long x = 0;
    if (!line_value(text, key, v, sizeof(v)) || sscanf(v, "%lld", &x) != 1 || x < 0)
        return 0;
    return (int64_t)x;
}

int report_load(const char *state_dir, struct report_health *out)
{
    char path[OSDEP_PATH_MAX];
    struct buf b = BUF_INIT;
    memset(out, 0, sizeof(*out));
    int rc = health_path(state_dir, path, sizeof(path));
    if (rc != RF_OK)
        return rc;
    rc = osdep_read_file(path, 4096, &b);
    if (rc == RF_ENOTFOUND) {
        rc = RF_OK;
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    if (!b.data || strncmp(b.data, REPORT_MAGIC, strlen(REPORT_MAGIC)) != 0) {
        log_warn("%s is not an agent health file; the last error and success start empty",
                 path);
        goto out;
    }
    out->last_success_ms = line_int(b.data, "last_success");
    out->last_error_ms = line_int(b.data, "last_error_time");
    char reported[64];
    unsigned long long digest = 0;
    long long when = 0;
    if (line_value(b.data, "reported", reported, sizeof(reported)) &&
        sscanf(reported, "%lld %llu", &when, &digest) == 2 && when > 0) {
        out->reported_ms = (int64_t)when;
        out->reported_digest = (uint64_t)digest;
    }
    if (line_value(b.data, "last_error", out->last_error, sizeof(out->last_error)))
        utf8_sanitize_message(out->last_error);
    else
        out->last_error_ms = 0;
out:
    buf_free(&b);
    return rc;
}

int report_save(const char *state_dir, const struct report_health *h)
{
    char path[OSDEP_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc = health_path(state_dir, path, sizeof(path));
    if (rc == RF_OK)
        rc = buf_printf(&b, REPORT_MAGIC "last_success %" PRId64 "\n", h->last_success_ms);
    if (rc == RF_OK && h->reported_ms)
        rc = buf_printf(&b, "reported %" PRId64 " %" PRIu64 "\n", h->reported_ms,
                        h->reported_digest);
    if (rc == RF_OK && h->last_error_ms)
        rc = buf_printf(&b, "last_error_time %" PRId64 "\nlast_error %s\n", h->last_error_ms,
                        h->last_error);
    if (rc == RF_OK) {
        struct osdep_chunk c = {b.data, b.len};
        rc = osdep_write_atomic(path, &c, 1);
    }
    buf_free(&b);
    return rc;
}

void report_set_error(struct report_health *h, int64_t now_ms, const char *text)
{
    snprintf(h->last_error, sizeof(h->last_error), "%s", text);
    utf8_sanitize_message(h->last_error); /* cut mid-character, or a newline from a server */
    h->last_error_ms = now_ms;
}

void report_record(const struct report_health *h, const struct report_spool *sp,
                   size_t source_errors, const char *version, int64_t now_ms,
                   struct rf_record *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = RF_KIND_AGENT_STATUS;
    r->time_ms = now_ms;
    struct rf_agent_status *s = &r->u.st;
    s->agent_version = version;
    s->spool_bytes = (int64_t)sp->bytes;
    s->spool_batches = (int64_t)sp->batches;
    s->has_spool_limit = true;
    s->spool_limit_bytes = (int64_t)sp->limit_bytes;
    s->dropped_batches_total = (int64_t)sp->dropped_batches;
    s->has_dropped_records = true;
    s->dropped_records_total = (int64_t)sp->dropped_records;
    s->has_rejected_batches = true;
    s->rejected_batches_total = (int64_t)sp->rejected_batches;
    s->has_last_success = h->last_success_ms > 0;
    s->last_success_ms = h->last_success_ms;
    s->last_error = h->last_error_ms ? h->last_error : NULL;
    s->has_last_error_time = h->last_error_ms > 0;
    s->last_error_ms = h->last_error_ms;
    s->has_source_errors = true;
    s->source_errors = (int64_t)source_errors;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    h = mix(h, s ? 1 : 0);
    for (; s && *s; s++)
        h = mix(h, (unsigned char)*s);
    return h;
}

uint64_t report_digest(const struct rf_record *r)
{
    const struct rf_agent_status *s = &r->u.st;
    uint64_t h = 0x52464147454e54ull; /* "RFAGENT" */
    h = mix_str(h, s->agent_version);
    h = mix(h, (uint64_t)s->spool_batches);
    h = mix(h, (uint64_t)s->spool_limit_bytes);
    h = mix(h, (uint64_t)s->dropped_batches_total);
    h = mix(h, (uint64_t)s->dropped_records_total);
    h = mix(h, (uint64_t)s->rejected_batches_total);
    h = mix(h, (uint64_t)s->last_error_ms);
    h = mix_str(h, s->last_error);
    h = mix(h, (uint64_t)s->source_errors);
    return h ? h : 1;
}

bool report_due(const struct report_health *h, uint64_t digest, int64_t now_ms)
{
    return !h->reported_ms || h->reported_digest != digest ||
           now_ms - h->reported_ms >= REPORT_HEARTBEAT_MS || now_ms < h->reported_ms;
}

void report_acknowledged(struct report_health *h, uint64_t digest, int64_t now_ms)
{
    h->reported_ms = now_ms;
    h->reported_digest = digest;
}
