/*
 * ingest.h - turns one POST /api/v1/ingest body into a validated batch, or
 * into the exact refusal the contract prescribes (status, error code,
 * sentence, offending record and field).
 *
 * This is the part of the ingest path that runs on the HTTP threads:
 * inflate (capped), UTF-8 check, JSON/NDJSON decode and field validation.
 * It holds no global state, so it is unit-tested without a server.
 */
#ifndef RASFLEET_INGEST_H
#define RASFLEET_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "metrics.h"
#include "rasfleet/record.h"

struct ingest_limits {
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    size_t max_records;
};

struct ingest_request {
    bool gzip;
    bool ndjson;
    struct rf_agent_info header_agent; /* NDJSON: from X-Rasfleet-* headers */
    const char *header_batch_id;       /* NDJSON: X-Rasfleet-Batch */
};

struct ingest_refusal {
    int http_status;
    enum metrics_reject reason;
    long record_index; /* -1 when not about one record */
    char field[64];
    char message[256];
};

/* Classifies the Content-Type; false when it is neither JSON nor NDJSON. */
bool ingest_content_type(const char *content_type, bool *ndjson);
/* Classifies the Content-Encoding; false when unsupported. */
bool ingest_content_encoding(const char *encoding, bool *gzip);

/*
 * Decodes body[0..len). RF_OK: *out holds the batch and *bytes an estimate
 * of its memory (for the queue's byte bound). Otherwise RF_EFORMAT or
 * RF_ETOOBIG with *refusal filled. The caller always rf_batch_free()s *out
 * (a no-op when it was moved to the writer).
 */
int ingest_decode(const struct ingest_limits *lim, const struct ingest_request *req,
                  const char *body, size_t len, struct rf_batch *out, size_t *bytes,
                  struct ingest_refusal *refusal);

/* Appends the api-v1 error object for a refusal. */
int ingest_refusal_json(const struct ingest_refusal *r, struct buf *out);

#endif
