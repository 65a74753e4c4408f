/*
 * ingest.c - body -> batch for POST /api/v1/ingest. See ingest.h.
 */
#include "ingest.h"
#include "batch_json.h"
#include "gzip.h"
#include "rasfleet/result.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool media_type_is(const char *v, const char *type)
{
    size_t n = strlen(type);
    while (*v == ' ')
        v++;
    return strncasecmp(v, type, n) == 0 && (v[n] == '\0' || v[n] == ';' || v[n] == ' ');
}

bool ingest_content_type(const char *ct, bool *ndjson)
{
    if (!ct)
        return false;
    if (media_type_is(ct, "application/json")) {
        *ndjson = false;
        return true;
    }
    if (media_type_is(ct, "application/x-ndjson") || media_type_is(ct, "application/ndjson")) {
        *ndjson = true;
        return true;
    }
    return false;
}

bool ingest_content_encoding(const char *enc, bool *gzip)
{
    *gzip = false;
    if (!enc || !*enc || strcasecmp(enc, "identity") == 0)
        return true;
    if (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0) {
        *gzip = true;
        return true;
    }
    return false;
}

static int refuse(struct ingest_refusal *r, int status, enum metrics_reject reason, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

static int refuse(struct ingest_refusal *r, int status, enum metrics_reject reason, const char *fmt,
                  ...)
{
    va_list ap;
    r->http_status = status;
    r->reason = reason;
    r->record_index = -1;
    r->field[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    return status == 413 ? RF_ETOOBIG : RF_EFORMAT;
}

static size_t batch_bytes(const struct rf_batch *b)
{
    return sizeof(*b) + b->arena.bytes;
}

int ingest_decode(const struct ingest_limits *lim, const struct ingest_request *req,
                  const char *body, size_t len, struct rf_batch *out, size_t *bytes,
                  struct ingest_refusal *refusal)
{
    struct buf inflated = BUF_INIT;
    int rc;
    rf_batch_init(out);
    if (len > lim->max_body_bytes)
        return refuse(refusal, 413, REJECT_BODY_TOO_LARGE, "body is %zu bytes, the limit is %zu",
                      len, lim->max_body_bytes);
    if (req->gzip) {
        rc = gzip_inflate(body, len, lim->max_inflated_bytes, &inflated);
        if (rc == RF_ETOOBIG) {
            rc = refuse(refusal, 413, REJECT_INFLATED_TOO_LARGE,
                        "gzip body inflates to more than %zu bytes", lim->max_inflated_bytes);
            goto out;
        }
        if (rc == RF_ETRUNC) {
            rc = refuse(refusal, 400, REJECT_BAD_GZIP, "gzip stream is truncated");
            goto out;
        }
        if (rc == RF_ENOMEM)
            goto out;
        if (rc != RF_OK) {
            rc = refuse(refusal, 400, REJECT_BAD_GZIP, "body is not a valid gzip stream");
            goto out;
        }
        body = inflated.data ? inflated.data : "";
        len = inflated.len;
    }
    size_t bad = 0;
    if (!utf8_validate(body, len, &bad)) {
        rc = refuse(refusal, 400, REJECT_INVALID_UTF8, "body is not valid UTF-8 (byte %zu)", bad);
        goto out;
    }
    struct batch_limits bl = {.max_records = lim->max_records};
    struct batch_error err;
    if (req->ndjson)
        rc = batch_decode_ndjson(body, len, &req->header_agent, req->header_batch_id, &bl, out,
                                 &err);
    else
        rc = batch_decode_json(body, len, &bl, out, &err);
    if (rc == RF_EFORMAT || rc == RF_ETOOBIG) {
        enum metrics_reject reason = metrics_reject_from_name(err.code);
        if (reason == REJECT_COUNT)
            reason = REJECT_INVALID_VALUE;
        refuse(refusal, rc == RF_ETOOBIG ? 413 : 400, reason, "%s", err.message);
        refusal->record_index = err.record_index;
        snprintf(refusal->field, sizeof(refusal->field), "%s", err.field);
        goto out;
    }
    if (rc == RF_OK)
        *bytes = batch_bytes(out);
out:
    buf_free(&inflated);
    return rc;
}

int ingest_refusal_json(const struct ingest_refusal *r, struct buf *out)
{
    int rc = buf_append_str(out, "{\"error\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(out, metrics_reject_name(r->reason));
    if (rc == RF_OK)
        rc = buf_append_str(out, ",\"message\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(out, r->message);
    if (rc == RF_OK && (r->record_index >= 0 || r->field[0])) {
        rc = buf_append_str(out, ",\"detail\":{");
        if (rc == RF_OK && r->record_index >= 0)
            rc = buf_printf(out, "\"record\":%ld%s", r->record_index, r->field[0] ? "," : "");
        if (rc == RF_OK && r->field[0]) {
            rc = buf_append_str(out, "\"field\":");
            if (rc == RF_OK)
                rc = buf_append_json_str(out, r->field);
        }
        if (rc == RF_OK)
            rc = buf_append_char(out, '}');
    }
    if (rc == RF_OK)
        rc = buf_append_char(out, '}');
    return rc;
}
