/*
 * fuzz_ingest_decode - the whole POST /api/v1/ingest body path:
 * ingest_decode() (size limit, capped gunzip, UTF-8 check, JSON or NDJSON
 * decode and validation) and the refusal JSON the collector answers with.
 *
 * The first input byte picks the variant, the rest is the body:
 *   0x01 Content-Encoding: gzip (the body is taken as a gzip stream)
 *   0x02 Content-Type: application/x-ndjson (fixed valid X-Rasfleet-* ids)
 *   0x04 wrap: the harness gzips the body itself and checks that the gzip
 *        request decodes exactly like the plain one (ignored with 0x01)
 *   0x08 small limits: max_body 4096, max_inflated 2048, max_records 3
 *
 * Invariants beyond "no crash":
 *  - rc is RF_OK, RF_EFORMAT or RF_ETOOBIG, and RF_ETOOBIG <=> status 413;
 *  - RF_OK: count <= max_records, *bytes set, every record obeys the record
 *    model with valid UTF-8 strings (the body was validated);
 *  - refusal: status 400/413, a known reason, a terminated message, and
 *    ingest_refusal_json() gives valid UTF-8 JSON (cJSON parses it back,
 *    with "error" = the reason's name);
 *  - wrap: same rc, same refusal (status, reason, record, field, message)
 *    and the same records as the plain request.
 */
#include "fuzz_common.h"
#include "gzip.h"
#include "ingest.h"
#include "metrics.h"

#include <cjson/cJSON.h>

static void check_refusal(const struct ingest_refusal *r, int rc)
{
    FUZZ_CHECK(r->http_status == 400 || r->http_status == 413, "status %d", r->http_status);
    FUZZ_CHECK((rc == RF_ETOOBIG) == (r->http_status == 413), "rc %d with status %d", rc,
               r->http_status);
    FUZZ_CHECK((unsigned)r->reason < REJECT_COUNT, "reason %d", (int)r->reason);
    FUZZ_CHECK(memchr(r->message, 0, sizeof(r->message)) && r->message[0], "message");
    FUZZ_CHECK(memchr(r->field, 0, sizeof(r->field)), "field");
    struct buf j = BUF_INIT;
    FUZZ_CHECK(ingest_refusal_json(r, &j) == RF_OK, "ingest_refusal_json failed");
    if (!fuzz_skip("msg-utf8"))
        FUZZ_CHECK(fuzz_utf8_ok(j.data, j.len),
                   "the %d answer body is not valid UTF-8 (RFC 8259 requires it): %s",
                   r->http_status, j.data);
    cJSON *doc = cJSON_ParseWithLength(j.data, j.len);
    FUZZ_CHECK(doc && cJSON_IsObject(doc), "refusal is not a JSON object: %s", j.data);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    FUZZ_CHECK(cJSON_IsString(e) && strcmp(e->valuestring, metrics_reject_name(r->reason)) == 0,
               "refusal error field: %s", j.data);
    cJSON_Delete(doc);
    buf_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct ingest_limits lim = {RF_DEFAULT_MAX_BODY, 1u << 20, RF_DEFAULT_MAX_RECORDS};
    if (mode & 0x08)
        lim = (struct ingest_limits){4096, 2048, 3};
    struct ingest_request req = {
        .gzip = mode & 0x01,
        .ndjson = mode & 0x02,
        .header_agent = {.device_id = "fuzz-device", .hostname = "host-1"},
        .header_batch_id = "fuzz-batch",
    };
    struct rf_batch b;
    struct ingest_refusal ref;
    size_t bytes = 0;
    memset(&ref, 0, sizeof(ref));
    int rc = ingest_decode(&lim, &req, body, len, &b, &bytes, &ref);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    if (rc == RF_OK) {
        FUZZ_CHECK(b.n_records <= lim.max_records, "%zu records", b.n_records);
        FUZZ_CHECK(bytes >= sizeof(b), "bytes=%zu", bytes);
        for (size_t i = 0; i < b.n_records; i++)
            check_record(&b.records[i], CR_API | CR_UTF8, i);
    } else {
        check_refusal(&ref, rc);
    }

    if ((mode & 0x04) && !(mode & 0x01)) {
        struct buf z = BUF_INIT;
        FUZZ_CHECK(gzip_deflate(body, len, 6, &z) == RF_OK, "gzip_deflate");
        if (len <= lim.max_body_bytes && len <= lim.max_inflated_bytes &&
            z.len <= lim.max_body_bytes) {
            struct ingest_request zreq = req;
            zreq.gzip = true;
            struct rf_batch b2;
            struct ingest_refusal ref2;
            size_t bytes2 = 0;
            memset(&ref2, 0, sizeof(ref2));
            int rc2 = ingest_decode(&lim, &zreq, z.data, z.len, &b2, &bytes2, &ref2);
            FUZZ_CHECK(rc2 == rc, "plain rc=%d, gzip rc=%d (%s)", rc, rc2,
                       rc2 ? ref2.message : ref.message);
            if (rc == RF_OK) {
                struct buf e1 = BUF_INIT, e2 = BUF_INIT;
                batch_encode_json(&b, &e1);
                batch_encode_json(&b2, &e2);
                FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0,
                           "gzip body decodes to different records");
                buf_free(&e1);
                buf_free(&e2);
            } else {
                FUZZ_CHECK(ref.http_status == ref2.http_status && ref.reason == ref2.reason &&
                               ref.record_index == ref2.record_index &&
                               strcmp(ref.field, ref2.field) == 0 &&
                               strcmp(ref.message, ref2.message) == 0,
                           "plain refusal '%s' != gzip refusal '%s'", ref.message, ref2.message);
            }
            rf_batch_free(&b2);
        }
        buf_free(&z);
    }
    rf_batch_free(&b);
    return 0;
}
