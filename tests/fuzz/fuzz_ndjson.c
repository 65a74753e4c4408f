/*
 * fuzz_ndjson - batch_decode_ndjson() with its header-supplied identity.
 *
 * Input layout: one flag byte, then (when flag 0x10 is set) the device id,
 * batch id, hostname, OS version and agent version as NUL-terminated
 * strings (the X-Rasfleet-* headers), then the NDJSON body. Without 0x10
 * fixed valid ids are used so the body gets explored. Flags 0x01/0x02/0x04
 * pass hostname/os/agent (else NULL); 0x08 lowers max_records to 3.
 *
 * Invariants beyond "no crash":
 *  - RF_OK: records obey the record model, count <= max_records, ids copied
 *    exactly, and the batch survives the api-v1 JSON round trip;
 *  - error: a machine code the metrics know and a terminated message;
 *  - differential: when every non-blank line is on its own a JSON value and
 *    the count is within the limit, the same lines put in the "records"
 *    array of a JSON batch decode to the same outcome (same error code,
 *    record index and field, or the same records).
 */
#include "fuzz_common.h"
#include "json_scratch.h"
#include "metrics.h"

#include <cjson/cJSON.h>

static bool line_parses(const char *s, size_t n)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, false);
    if (!v)
        return false;
    while (end < s + n && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    cJSON_Delete(v);
    return end == s + n;
}

/* Builds the JSON-batch equivalent of the body; false when not comparable. */
static bool json_equivalent(const char *body, size_t len, size_t max_records, struct buf *out)
{
    size_t count = 0, pos = 0;
    buf_append_str(out, "{\"batch_id\":\"fuzz-batch\",\"agent\":{\"device_id\":\"fuzz-device\"},"
                        "\"records\":[");
    while (pos < len) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - body) : len, s = pos, e = end;
        pos = end + 1;
        while (s < e && (body[s] == ' ' || body[s] == '\t' || body[s] == '\r'))
            s++;
        while (e > s && (body[e - 1] == ' ' || body[e - 1] == '\t' || body[e - 1] == '\r'))
            e--;
        if (s == e)
            continue;
        /* cJSON skips a UTF-8 BOM at the start of each buffer it parses, so an
         * NDJSON line may start with one, which cannot appear inside an array */
        if (e - s >= 3 && memcmp(body + s, "\xEF\xBB\xBF", 3) == 0)
            return false;
        if (!line_parses(body + s, e - s))
            return false;
        if (count++)
            buf_append_char(out, ',');
        buf_append(out, body + s, e - s);
    }
    buf_append_str(out, "]}");
    return count <= max_records;
}

/* As in the collector: the cJSON trees live in the scratch region, poisoned
 * under ASan after each decode, so a batch that kept a pointer into its
 * tree is caught. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_scratch_install();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fdp f = {data, size};
    uint8_t flags = fdp_u8(&f);
    char *dev = NULL, *bid = NULL, *host = NULL, *os = NULL, *agv = NULL;
    bool fixed = !(flags & 0x10);
    if (fixed) {
        dev = fuzz_cstr((const uint8_t *)"fuzz-device", 11);
        bid = fuzz_cstr((const uint8_t *)"fuzz-batch", 10);
    } else {
        dev = fdp_take_until(&f, 0, NULL);
        bid = fdp_take_until(&f, 0, NULL);
        host = fdp_take_until(&f, 0, NULL);
        os = fdp_take_until(&f, 0, NULL);
        agv = fdp_take_until(&f, 0, NULL);
    }
    struct rf_agent_info agent = {
        .device_id = dev,
        .hostname = flags & 0x01 ? host : NULL,
        .os_version = flags & 0x02 ? os : NULL,
        .agent_version = flags & 0x04 ? agv : NULL,
    };
    struct batch_limits lim = {.max_records = flags & 0x08 ? 3 : 20000};
    const char *body = (const char *)f.p;
    size_t len = f.n;
    /* the body in an exactly sized heap block so ASan sees any over-read */
    char *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, body, len);
    body = copy;

    struct rf_batch b;
    struct batch_error err;
    int rc = batch_decode_ndjson(body, len, &agent, bid, &lim, &b, &err);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    bool utf8 = fuzz_utf8_ok(body, len);
    if (rc == RF_OK) {
        FUZZ_CHECK(b.n_records <= lim.max_records, "%zu records", b.n_records);
        FUZZ_CHECK(strcmp(b.batch_id, bid) == 0 && strcmp(b.agent.device_id, dev) == 0, "ids");
        FUZZ_CHECK(!agent.hostname || strcmp(b.agent.hostname, agent.hostname) == 0, "hostname");
        for (size_t i = 0; i < b.n_records; i++)
            check_record(&b.records[i], CR_API | (utf8 ? CR_UTF8 : 0), i);
        bool times_ok = true;
        for (size_t i = 0; i < b.n_records; i++)
            times_ok &= time_renderable(b.records[i].time_ms);
        if (times_ok && fixed)
            api_roundtrip(b.records, b.n_records, utf8, "ndjson");
    } else {
        FUZZ_CHECK(err.code && metrics_reject_from_name(err.code) != REJECT_COUNT, "code %s",
                   err.code ? err.code : "(null)");
        FUZZ_CHECK(memchr(err.message, 0, sizeof(err.message)) && err.message[0], "message");
        if (utf8 && !fuzz_skip("msg-utf8"))
            FUZZ_CHECK(fuzz_utf8_ok(err.message, strlen(err.message)),
                       "error message for a valid UTF-8 body is not valid UTF-8: %s", err.message);
    }

    struct buf j = BUF_INIT;
    if (fixed && !agent.hostname && !agent.os_version && !agent.agent_version &&
        json_equivalent(body, len, lim.max_records, &j)) {
        struct rf_batch b2;
        struct batch_error err2;
        int rc2 = batch_decode_json(j.data, j.len, &lim, &b2, &err2);
        FUZZ_CHECK(rc == rc2, "NDJSON rc=%d but the same records as a JSON batch rc=%d (%s)", rc,
                   rc2, rc2 ? err2.message : rc ? err.message : "");
        if (rc == RF_OK) {
            struct buf e1 = BUF_INIT, e2 = BUF_INIT;
            batch_encode_json(&b, &e1);
            batch_encode_json(&b2, &e2);
            FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0,
                       "NDJSON and JSON forms decode differently");
            buf_free(&e1);
            buf_free(&e2);
        } else {
            FUZZ_CHECK(strcmp(err.code, err2.code) == 0 && err.record_index == err2.record_index &&
                           strcmp(err.field, err2.field) == 0,
                       "NDJSON refusal %s/%ld/%s differs from JSON refusal %s/%ld/%s", err.code,
                       err.record_index, err.field, err2.code, err2.record_index, err2.field);
        }
        rf_batch_free(&b2);
    }
    buf_free(&j);
    rf_batch_free(&b);
    free(copy);
    free(dev);
    free(bid);
    free(host);
    free(os);
    free(agv);
    return 0;
}
