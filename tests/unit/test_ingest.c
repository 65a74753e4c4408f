/*
 * test_ingest.c - unit tests for server/ingest.c: media type and encoding
 * classification, body -> batch with every refusal the contract prescribes,
 * and the JSON of a refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "gzip.h"
#include "ingest.h"
#include "metrics.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

static const struct ingest_limits LIM = {
    .max_body_bytes = 1u << 20,
    .max_inflated_bytes = 4u << 20,
    .max_records = 100,
};

static const char *BATCH =
    "{\"schema\":1,\"batch_id\":\"b-1\",\"agent\":{\"device_id\":\"dev-1\"},\"records\":["
    "{\"kind\":\"iface_metric\",\"time\":\"2026-11-20T08:05:00Z\",\"alias\":\"Ethernet\","
    "\"index\":12,\"family\":\"ipv4\",\"metric\":25,\"automatic\":true,\"connected\":true,"
    "\"if_type\":\"ethernet\"},"
    "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02.123Z\",\"event_id\":20227,"
    "\"record_id\":1,\"level\":\"error\",\"user\":\"CORP\\\\alice\","
    "\"connection\":\"Always On VPN\",\"error_code\":809}]}";

static char *read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(buf_append(&b, chunk, n), RF_OK);
    fclose(f);
    return buf_detach(&b, len);
}

/* Decodes from an exact-size heap copy (ASan catches reads past len). */
static int decode(const struct ingest_limits *lim, const struct ingest_request *req,
                  const void *body, size_t len, struct rf_batch *out, size_t *bytes,
                  struct ingest_refusal *ref)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    memset(ref, 0x5a, sizeof(*ref));
    ref->message[0] = '\0';
    int rc = ingest_decode(lim, req, copy, len, out, bytes, ref);
    free(copy);
    return rc;
}

static void assert_refused(const struct ingest_limits *lim, const struct ingest_request *req,
                           const void *body, size_t len, int expect_rc, int status,
                           enum metrics_reject reason, long record_index, const char *field)
{
    struct rf_batch out;
    size_t bytes = 0;
    struct ingest_refusal ref;
    int rc = decode(lim, req, body, len, &out, &bytes, &ref);
    if (rc != expect_rc)
        fail_msg("rc %d, expected %d (message '%s')", rc, expect_rc, ref.message);
    assert_int_equal(ref.http_status, status);
    if (ref.reason != reason)
        fail_msg("reason %s, expected %s ('%s')", metrics_reject_name(ref.reason),
                 metrics_reject_name(reason), ref.message);
    assert_int_equal(ref.record_index, record_index);
    assert_string_equal(ref.field, field);
    assert_true(strlen(ref.message) > 0);
    rf_batch_free(&out);
}

/* ---- classification ---- */

static void test_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *ct;
        bool ok, nd;
    } cases[] = {
        {"application/json", true, false},
        {"application/json; charset=utf-8", true, false},
        {"application/json;charset=UTF-8", true, false},
        {"Application/JSON", true, false},
        {"  application/json", true, false},
        {"application/x-ndjson", true, true},
        {"application/x-ndjson; charset=utf-8", true, true},
        {"application/ndjson", true, true},
        {"text/plain", false, false},
        {"text/plain; charset=utf-8", false, false},
        {"application/jsonp", false, false},
        {"application/json-seq", false, false},
        {"application/x-ndjsonx", false, false},
        {"application/xml", false, false},
        {"multipart/form-data", false, false},
        {"", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool nd = !cases[i].nd;
        bool ok = ingest_content_type(cases[i].ct, &nd);
        if (ok != cases[i].ok)
            fail_msg("'%s' classified %d, expected %d", cases[i].ct, ok, cases[i].ok);
        if (ok && nd != cases[i].nd)
            fail_msg("'%s' ndjson=%d", cases[i].ct, nd);
    }
    bool nd = false;
    assert_false(ingest_content_type(NULL, &nd));
}

static void test_content_encoding(void **state)
{
    (void)state;
    static const struct {
        const char *enc;
        bool ok, gz;
    } cases[] = {
        {NULL, true, false},     {"", true, false},      {"identity", true, false},
        {"IDENTITY", true, false}, {"gzip", true, true}, {"GZIP", true, true},
        {"x-gzip", true, true},  {"br", false, false},   {"deflate", false, false},
        {"compress", false, false}, {"gzip, br", false, false}, {"zstd", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool gz = !cases[i].gz;
        bool ok = ingest_content_encoding(cases[i].enc, &gz);
        if (ok != cases[i].ok)
            fail_msg("'%s' classified %d", cases[i].enc ? cases[i].enc : "(null)", ok);
        if (ok && gz != cases[i].gz)
            fail_msg("'%s' gzip=%d", cases[i].enc ? cases[i].enc : "(null)", gz);
    }
}

/* ---- decode ---- */

static void test_plain_json(void **state)
{
    (void)state;
    struct ingest_request req = {0};
    struct rf_batch out;
    size_t bytes = 0;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, BATCH, strlen(BATCH), &out, &bytes, &ref), RF_OK);
    assert_int_equal(out.n_records, 2);
    assert_string_equal(out.batch_id, "b-1");
    assert_string_equal(out.agent.device_id, "dev-1");
    assert_int_equal(out.records[1].u.ev.error_code, 809);
    assert_true(bytes >= sizeof(struct rf_batch) + 2 * sizeof(struct rf_record));
    rf_batch_free(&out);
}

static void test_gzip_fixture(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(body, len, 6, &gz), RF_OK);
    struct ingest_request req = {.gzip = true};
    struct rf_batch out, plain;
    size_t bytes = 0, plain_bytes = 0;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, gz.data, gz.len, &out, &bytes, &ref), RF_OK);
    assert_int_equal(out.n_records, 13);
    assert_string_equal(out.batch_id, "b6f0c3a2-6d2e-4c1e-9a51-3f0d1e2a7b10");
    assert_int_equal(out.records[2].u.ev.error_code, -2146762495LL);
    /* the same batch as the identity body */
    req.gzip = false;
    assert_int_equal(decode(&LIM, &req, body, len, &plain, &plain_bytes, &ref), RF_OK);
    assert_int_equal(plain.n_records, 13);
    assert_int_equal(bytes, plain_bytes);
    /* more records, more bytes */
    struct rf_batch small;
    size_t small_bytes = 0;
    assert_int_equal(decode(&LIM, &req, BATCH, strlen(BATCH), &small, &small_bytes, &ref),
                     RF_OK);
    assert_true(bytes > small_bytes);
    rf_batch_free(&small);
    rf_batch_free(&out);
    rf_batch_free(&plain);
    buf_free(&gz);
    free(body);
}

static void test_gzip_ndjson_fixture(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.ndjson", &len);
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(body, len, 9, &gz), RF_OK);
    struct ingest_request req = {
        .gzip = true,
        .ndjson = true,
        .header_agent = {.device_id = "4c4c4544-0042-3510-8051-b4c04f4b3732",
                         .hostname = "LT-0421"},
        .header_batch_id = "nd-1",
    };
    struct rf_batch out;
    size_t bytes = 0;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, gz.data, gz.len, &out, &bytes, &ref), RF_OK);
    assert_int_equal(out.n_records, 13);
    assert_string_equal(out.batch_id, "nd-1");
    assert_string_equal(out.agent.hostname, "LT-0421");
    assert_true(bytes > 0);
    rf_batch_free(&out);
    buf_free(&gz);
    free(body);
}

static void make_zero_bomb(struct buf *gz, size_t total)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    size_t chunk = 1u << 20;
    unsigned char *zeros = calloc(chunk, 1);
    unsigned char obuf[65536];
    assert_non_null(zeros);
    buf_init(gz);
    size_t left = total;
    int flush;
    do {
        size_t n = left < chunk ? left : chunk;
        left -= n;
        flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        zs.next_in = zeros;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = obuf;
            zs.avail_out = sizeof(obuf);
            deflate(&zs, flush);
            assert_int_equal(buf_append(gz, obuf, sizeof(obuf) - zs.avail_out), RF_OK);
        } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
    deflateEnd(&zs);
    free(zeros);
}

static void test_gzip_bomb(void **state)
{
    (void)state;
    struct buf gz;
    make_zero_bomb(&gz, 64u << 20);
    assert_true(gz.len < LIM.max_body_bytes);
    struct ingest_request req = {.gzip = true};
    assert_refused(&LIM, &req, gz.data, gz.len, RF_ETOOBIG, 413, REJECT_INFLATED_TOO_LARGE, -1,
                   "");
    buf_free(&gz);
}

static void test_inflated_exactly_at_limit(void **state)
{
    (void)state;
    /* a valid body padded with spaces to exactly max_inflated_bytes */
    struct ingest_limits lim = LIM;
    lim.max_inflated_bytes = 4096;
    struct buf body = BUF_INIT, gz = BUF_INIT;
    assert_int_equal(buf_append_str(&body, BATCH), RF_OK);
    while (body.len < lim.max_inflated_bytes)
        assert_int_equal(buf_append_char(&body, ' '), RF_OK);
    assert_int_equal(gzip_deflate(body.data, body.len, 6, &gz), RF_OK);
    struct ingest_request req = {.gzip = true};
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&lim, &req, gz.data, gz.len, &out, &bytes, &ref), RF_OK);
    assert_int_equal(out.n_records, 2);
    rf_batch_free(&out);
    lim.max_inflated_bytes = 4095;
    assert_refused(&lim, &req, gz.data, gz.len, RF_ETOOBIG, 413, REJECT_INFLATED_TOO_LARGE, -1,
                   "");
    buf_free(&body);
    buf_free(&gz);
}

static void test_gzip_truncated(void **state)
{
    (void)state;
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(BATCH, strlen(BATCH), 6, &gz), RF_OK);
    struct ingest_request req = {.gzip = true};
    assert_refused(&LIM, &req, gz.data, gz.len / 2, RF_EFORMAT, 400, REJECT_BAD_GZIP, -1, "");
    assert_refused(&LIM, &req, gz.data, gz.len - 8, RF_EFORMAT, 400, REJECT_BAD_GZIP, -1, "");
    /* the message says truncated */
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, gz.data, gz.len - 8, &out, &bytes, &ref), RF_EFORMAT);
    assert_non_null(strstr(ref.message, "truncated"));
    rf_batch_free(&out);
    /* empty gzip body */
    assert_refused(&LIM, &req, "", 0, RF_EFORMAT, 400, REJECT_BAD_GZIP, -1, "");
    buf_free(&gz);
}

static void test_gzip_garbage(void **state)
{
    (void)state;
    struct ingest_request req = {.gzip = true};
    /* plain JSON sent with Content-Encoding: gzip */
    assert_refused(&LIM, &req, BATCH, strlen(BATCH), RF_EFORMAT, 400, REJECT_BAD_GZIP, -1, "");
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(BATCH, strlen(BATCH), 6, &gz), RF_OK);
    assert_int_equal(buf_append_str(&gz, "junk"), RF_OK);
    assert_refused(&LIM, &req, gz.data, gz.len, RF_EFORMAT, 400, REJECT_BAD_GZIP, -1, "");
    buf_free(&gz);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    struct ingest_request req = {0};
    struct buf body = BUF_INIT;
    assert_int_equal(buf_append_str(&body, BATCH), RF_OK);
    /* replace the 'E' of "Ethernet" with a lone 0xff byte */
    char *e = strstr(body.data, "Ethernet");
    assert_non_null(e);
    size_t off = (size_t)(e - body.data);
    *e = (char)0xff;
    assert_refused(&LIM, &req, body.data, body.len, RF_EFORMAT, 400, REJECT_INVALID_UTF8, -1, "");
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, body.data, body.len, &out, &bytes, &ref), RF_EFORMAT);
    char expect[64];
    snprintf(expect, sizeof(expect), "(byte %zu)", off);
    assert_non_null(strstr(ref.message, expect));
    rf_batch_free(&out);
    /* an overlong inside a gzip body is found after inflating */
    *e = 'E';
    e[1] = (char)0xc0;
    e[2] = (char)0x80;
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(body.data, body.len, 6, &gz), RF_OK);
    req.gzip = true;
    assert_refused(&LIM, &req, gz.data, gz.len, RF_EFORMAT, 400, REJECT_INVALID_UTF8, -1, "");
    buf_free(&gz);
    buf_free(&body);
}

static void test_agent_status_invalid_utf8(void **state)
{
    (void)state;
    /* an agent_status whose last_error carries a cut UTF-8 sequence (an OS error text in
     * another code page) is refused before decoding, like any other record */
    static const char good[] =
        "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
        "{\"kind\":\"agent_status\",\"time\":\"2026-11-20T08:05:00Z\",\"spool_bytes\":0,"
        "\"spool_batches\":0,\"dropped_batches_total\":1,\"last_error\":\"Verbindung "
        "abgelehnt: caf\xc3\xa9\"}]}";
    struct ingest_request req = {0};
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, good, strlen(good), &out, &bytes, &ref), RF_OK);
    assert_int_equal(out.records[0].kind, RF_KIND_AGENT_STATUS);
    assert_string_equal(out.records[0].u.st.last_error, "Verbindung abgelehnt: caf\xc3\xa9");
    rf_batch_free(&out);
    char *bad = strdup(good);
    assert_non_null(bad);
    char *e = strstr(bad, "\xc3\xa9");
    assert_non_null(e);
    e[1] = 'X'; /* 0xc3 without its continuation byte: a cut sequence */
    assert_refused(&LIM, &req, bad, strlen(bad), RF_EFORMAT, 400, REJECT_INVALID_UTF8, -1, "");
    free(bad);
}

static void test_body_too_large(void **state)
{
    (void)state;
    struct ingest_limits lim = LIM;
    lim.max_body_bytes = strlen(BATCH) - 1;
    struct ingest_request req = {0};
    assert_refused(&lim, &req, BATCH, strlen(BATCH), RF_ETOOBIG, 413, REJECT_BODY_TOO_LARGE, -1,
                   "");
    /* exactly at the limit is fine */
    lim.max_body_bytes = strlen(BATCH);
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&lim, &req, BATCH, strlen(BATCH), &out, &bytes, &ref), RF_OK);
    rf_batch_free(&out);
    /* the wire size counts, before inflating */
    struct buf gz = BUF_INIT;
    assert_int_equal(gzip_deflate(BATCH, strlen(BATCH), 6, &gz), RF_OK);
    lim.max_body_bytes = gz.len - 1;
    req.gzip = true;
    assert_refused(&lim, &req, gz.data, gz.len, RF_ETOOBIG, 413, REJECT_BODY_TOO_LARGE, -1, "");
    lim.max_body_bytes = gz.len;
    assert_int_equal(decode(&lim, &req, gz.data, gz.len, &out, &bytes, &ref), RF_OK);
    rf_batch_free(&out);
    buf_free(&gz);
}

static void test_schema_errors(void **state)
{
    (void)state;
    struct ingest_request req = {0};
    const char *bad_family =
        "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
        "{\"kind\":\"iface_metric\",\"time\":\"2026-11-20T08:05:00Z\",\"alias\":\"Ethernet\","
        "\"index\":12,\"family\":\"ipv4\",\"metric\":25,\"automatic\":true,\"connected\":true,"
        "\"if_type\":\"ethernet\"},"
        "{\"kind\":\"iface_metric\",\"time\":\"2026-11-20T08:05:00Z\",\"alias\":\"Ethernet\","
        "\"index\":12,\"family\":\"ipx\",\"metric\":25,\"automatic\":true,\"connected\":true,"
        "\"if_type\":\"ethernet\"}]}";
    assert_refused(&LIM, &req, bad_family, strlen(bad_family), RF_EFORMAT, 400,
                   REJECT_INVALID_VALUE, 1, "family");
    const char *bad_kind = "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
                           "{\"kind\":\"nope\",\"time\":\"2026-11-20T08:05:00Z\"}]}";
    assert_refused(&LIM, &req, bad_kind, strlen(bad_kind), RF_EFORMAT, 400, REJECT_UNKNOWN_KIND,
                   0, "kind");
    const char *bad_time = "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
                           "{\"kind\":\"ras_event\",\"time\":\"yesterday\"}]}";
    assert_refused(&LIM, &req, bad_time, strlen(bad_time), RF_EFORMAT, 400, REJECT_INVALID_TIME,
                   0, "time");
    const char *no_agent = "{\"batch_id\":\"b\",\"records\":[]}";
    assert_refused(&LIM, &req, no_agent, strlen(no_agent), RF_EFORMAT, 400, REJECT_MISSING_FIELD,
                   -1, "agent");
    const char *schema2 =
        "{\"schema\":2,\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":[]}";
    assert_refused(&LIM, &req, schema2, strlen(schema2), RF_EFORMAT, 400,
                   REJECT_UNSUPPORTED_SCHEMA, -1, "schema");
    const char *malformed = "{\"batch_id\":";
    assert_refused(&LIM, &req, malformed, strlen(malformed), RF_EFORMAT, 400,
                   REJECT_MALFORMED_JSON, -1, "");
    const char *wrong = "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
                        "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:05:00Z\","
                        "\"event_id\":\"20227\"}]}";
    assert_refused(&LIM, &req, wrong, strlen(wrong), RF_EFORMAT, 400, REJECT_WRONG_TYPE, 0,
                   "event_id");
}

static void test_too_many_records(void **state)
{
    (void)state;
    struct ingest_limits lim = LIM;
    lim.max_records = 1;
    struct ingest_request req = {0};
    assert_refused(&lim, &req, BATCH, strlen(BATCH), RF_ETOOBIG, 413, REJECT_TOO_MANY_RECORDS, -1,
                   "records");
}

static void test_ndjson_errors(void **state)
{
    (void)state;
    const char *nd = "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02Z\",\"event_id\":1,"
                     "\"record_id\":1,\"level\":\"error\",\"user\":\"u\",\"connection\":\"c\"}\n"
                     "\n"
                     "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02Z\",\"event_id\":1,"
                     "\"record_id\":2,\"level\":\"fatal\",\"user\":\"u\",\"connection\":\"c\"}\n";
    struct ingest_request req = {.ndjson = true,
                                 .header_agent = {.device_id = "dev-1"},
                                 .header_batch_id = "b-1"};
    assert_refused(&LIM, &req, nd, strlen(nd), RF_EFORMAT, 400, REJECT_INVALID_VALUE, 1, "level");
    /* without the device header */
    struct ingest_request noh = {.ndjson = true, .header_batch_id = "b-1"};
    assert_refused(&LIM, &noh, nd, strlen(nd), RF_EFORMAT, 400, REJECT_MISSING_FIELD, -1,
                   RF_HDR_DEVICE);
    /* a malformed line: record index counts records, not lines */
    const char *bad = "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:01:02Z\","
                      "\"event_id\":1,\"record_id\":1,\"level\":\"error\",\"user\":\"u\","
                      "\"connection\":\"c\"}\n\n{oops\n";
    assert_refused(&LIM, &req, bad, strlen(bad), RF_EFORMAT, 400, REJECT_MALFORMED_JSON, 1, "");
}

static void test_refusal_json(void **state)
{
    (void)state;
    struct ingest_request req = {0};
    const char *bad = "{\"batch_id\":\"b\",\"agent\":{\"device_id\":\"d\"},\"records\":["
                      "{\"kind\":\"ras_event\",\"time\":\"2026-11-20T08:05:00Z\","
                      "\"event_id\":20227,\"record_id\":1,\"level\":\"fatal\","
                      "\"user\":\"u\",\"connection\":\"c\"}]}";
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, bad, strlen(bad), &out, &bytes, &ref), RF_EFORMAT);
    rf_batch_free(&out);
    struct buf j = BUF_INIT;
    assert_int_equal(ingest_refusal_json(&ref, &j), RF_OK);
    cJSON *root = cJSON_ParseWithLength(j.data, j.len);
    if (!root)
        fail_msg("refusal is not JSON: %s", j.data);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(root, "message");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    assert_true(cJSON_IsString(error));
    assert_string_equal(error->valuestring, "invalid_value");
    assert_true(cJSON_IsString(message));
    assert_string_equal(message->valuestring, ref.message);
    assert_true(cJSON_IsObject(detail));
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(detail, "record");
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(detail, "field");
    assert_true(cJSON_IsNumber(rec));
    assert_int_equal(rec->valueint, 0);
    assert_true(cJSON_IsString(field));
    assert_string_equal(field->valuestring, "level");
    assert_int_equal(cJSON_GetArraySize(root), 3);
    assert_int_equal(cJSON_GetArraySize(detail), 2);
    cJSON_Delete(root);
    buf_free(&j);
}

static cJSON *refusal_to_json(const struct ingest_refusal *r, struct buf *j)
{
    buf_init(j);
    assert_int_equal(ingest_refusal_json(r, j), RF_OK);
    cJSON *root = cJSON_ParseWithLength(j->data, j->len);
    if (!root)
        fail_msg("refusal is not JSON: %s", j->data);
    return root;
}

static void test_refusal_json_shapes(void **state)
{
    (void)state;
    struct ingest_refusal r;
    memset(&r, 0, sizeof(r));
    struct buf j;
    /* no record, no field: no detail */
    r.http_status = 413;
    r.reason = REJECT_BODY_TOO_LARGE;
    r.record_index = -1;
    snprintf(r.message, sizeof(r.message), "body is 9 bytes, the limit is 8");
    cJSON *root = refusal_to_json(&r, &j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "error")->valuestring,
                        "body_too_large");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "detail"));
    assert_string_equal(j.data, "{\"error\":\"body_too_large\","
                                "\"message\":\"body is 9 bytes, the limit is 8\"}");
    cJSON_Delete(root);
    buf_free(&j);
    /* field without record */
    r.reason = REJECT_MISSING_FIELD;
    snprintf(r.field, sizeof(r.field), "agent.device_id");
    root = refusal_to_json(&r, &j);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "detail");
    assert_true(cJSON_IsObject(d));
    assert_null(cJSON_GetObjectItemCaseSensitive(d, "record"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "field")->valuestring,
                        "agent.device_id");
    cJSON_Delete(root);
    buf_free(&j);
    /* record without field */
    r.reason = REJECT_WRONG_TYPE;
    r.field[0] = '\0';
    r.record_index = 17;
    root = refusal_to_json(&r, &j);
    d = cJSON_GetObjectItemCaseSensitive(root, "detail");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "record")->valueint, 17);
    assert_null(cJSON_GetObjectItemCaseSensitive(d, "field"));
    cJSON_Delete(root);
    buf_free(&j);
    /* a message with quotes, control chars and HTML stays valid JSON */
    r.record_index = 2;
    snprintf(r.field, sizeof(r.field), "a\"b<c>");
    snprintf(r.message, sizeof(r.message), "bad \"value\"\n</script>&\x01");
    root = refusal_to_json(&r, &j);
    assert_null(strstr(j.data, "</script>"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "message")->valuestring,
                        "bad \"value\"\n</script>&\x01");
    d = cJSON_GetObjectItemCaseSensitive(root, "detail");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "field")->valuestring, "a\"b<c>");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "record")->valueint, 2);
    cJSON_Delete(root);
    buf_free(&j);
}

static void test_refusal_json_for_each_decode_failure(void **state)
{
    (void)state;
    /* every refusal ingest_decode produces renders as parseable JSON with
     * the reason's name */
    struct ingest_request req = {.gzip = true};
    struct rf_batch out;
    size_t bytes;
    struct ingest_refusal ref;
    assert_int_equal(decode(&LIM, &req, "xx", 2, &out, &bytes, &ref), RF_EFORMAT);
    rf_batch_free(&out);
    struct buf j;
    cJSON *root = refusal_to_json(&ref, &j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "error")->valuestring,
                        "bad_gzip");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "detail"));
    cJSON_Delete(root);
    buf_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_content_encoding),
        cmocka_unit_test(test_plain_json),
        cmocka_unit_test(test_gzip_fixture),
        cmocka_unit_test(test_gzip_ndjson_fixture),
        cmocka_unit_test(test_gzip_bomb),
        cmocka_unit_test(test_inflated_exactly_at_limit),
        cmocka_unit_test(test_gzip_truncated),
        cmocka_unit_test(test_gzip_garbage),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_agent_status_invalid_utf8),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_too_many_records),
        cmocka_unit_test(test_ndjson_errors),
        cmocka_unit_test(test_refusal_json),
        cmocka_unit_test(test_refusal_json_shapes),
        cmocka_unit_test(test_refusal_json_for_each_decode_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
