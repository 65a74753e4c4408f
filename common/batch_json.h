/*
 * batch_json.h - decode and validate api-v1 ingest bodies (one JSON batch
 * object, or NDJSON records) into the record model, and encode records back
 * to JSON.
 *
 * Decoding is all-or-nothing: the first violation stops it and is described
 * in struct batch_error (record index, field, machine code, sentence), which
 * the collector returns in its 400 answer. Nothing is half-filled on error:
 * the caller just frees the batch.
 */
#ifndef RASFLEET_BATCH_JSON_H
#define RASFLEET_BATCH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "rasfleet/record.h"

struct batch_limits {
    size_t max_records;
};

struct batch_error {
    long record_index; /* -1 when the error is not inside a record */
    char field[64];    /* offending field ("" when none) */
    const char *code;  /* machine code: "malformed_json", "wrong_type", ... */
    char message[256]; /* one sentence for a person */
};

/*
 * Decodes a batch object from body[0..len) (UTF-8 already validated by the
 * caller or not: this function validates it again only where cJSON needs).
 * On success fills *out (initialised by the function) and returns RF_OK; on a
 * violation returns RF_EFORMAT (or RF_ETOOBIG for too many records) and fills
 * *err; RF_ENOMEM on allocation failure. The caller always calls
 * rf_batch_free(out).
 */
int batch_decode_json(const char *body, size_t len, const struct batch_limits *lim,
                      struct rf_batch *out, struct batch_error *err);

/*
 * Decodes NDJSON (one record object per line; blank lines ignored). The agent
 * identity and batch id come from HTTP headers and are validated here too.
 */
int batch_decode_ndjson(const char *body, size_t len, const struct rf_agent_info *agent,
                        const char *batch_id, const struct batch_limits *lim,
                        struct rf_batch *out, struct batch_error *err);

/* Appends {"cipher_transform":...,"pfs_group":...} (api-v1 names, in that
 * order): the canonical form stored in the dictionary and shown by the API. */
int ipsec_policy_encode_json(const struct rf_ipsec_policy *ip, struct buf *out);
/* Appends a pbk settings object {"Key":"value",...} in file order. */
int pbk_settings_encode_json(const struct rf_pbk_entry *p, struct buf *out);

/* Appends one record as a JSON object (api-v1 field names). */
int record_encode_json(const struct rf_record *r, struct buf *out);
/* Appends a whole batch object. */
int batch_encode_json(const struct rf_batch *b, struct buf *out);

/* Signed 32-bit view of a Windows error code given in any of its decimal
 * forms (-2146762495 or 2148204801 both give -2146762495). False when out of
 * the 32-bit range. */
bool batch_normalize_code(double v, int64_t *out);

#endif
