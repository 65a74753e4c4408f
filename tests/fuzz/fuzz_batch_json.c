/*
 * fuzz_batch_json - batch_decode_json() on arbitrary bytes (the JSON form of
 * an api-v1 ingest body).
 *
 * Invariants beyond "no crash":
 *  - the result is RF_OK, RF_EFORMAT or RF_ETOOBIG; on error err.code and a
 *    NUL-terminated message are set and record_index is -1 or a valid index;
 *  - RF_OK: n_records <= max_records, every record obeys the record model
 *    (check_record; strings valid UTF-8 when the body was), and the batch
 *    survives batch_encode_json -> batch_decode_json with the same count and
 *    kinds and byte-identical re-encoding (api_roundtrip);
 *  - the refusal is a value of the machine-code vocabulary the collector
 *    maps to metrics (metrics_reject_from_name knows it).
 */
#include "fuzz_common.h"
#include "json_scratch.h"
#include "metrics.h"

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
    struct rf_batch b;
    struct batch_error err;
    /* a small record limit half of the time, so the too_many_records path runs */
    struct batch_limits lim = {.max_records = size && (data[size - 1] & 1) ? 3 : 20000};
    int rc = batch_decode_json((const char *)data, size, &lim, &b, &err);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    bool utf8 = fuzz_utf8_ok((const char *)data, size);
    if (rc == RF_OK) {
        FUZZ_CHECK(b.n_records <= lim.max_records, "%zu records", b.n_records);
        FUZZ_CHECK(fuzz_str_ok(b.batch_id, RF_MAX_ID_LEN, utf8) && b.batch_id[0], "batch_id");
        FUZZ_CHECK(fuzz_str_ok(b.agent.device_id, RF_MAX_ID_LEN, utf8), "device_id");
        for (size_t i = 0; i < b.n_records; i++)
            check_record(&b.records[i], CR_API | (utf8 ? CR_UTF8 : 0), i);
        if (!fuzz_skip("time-range")) {
            for (size_t i = 0; i < b.n_records; i++) {
                char *j = time_renderable(b.records[i].time_ms) ? NULL : record_json(&b.records[i]);
                FUZZ_CHECK(!j, "accepted record %zu has a time that cannot be written back as "
                               "RFC 3339: %.300s", i, j);
            }
        }
        bool times_ok = true;
        for (size_t i = 0; i < b.n_records; i++)
            times_ok &= time_renderable(b.records[i].time_ms);
        if (times_ok)
            api_roundtrip(b.records, b.n_records, utf8, "batch_json");
    } else {
        FUZZ_CHECK(err.code != NULL, "error without a code");
        FUZZ_CHECK(memchr(err.message, 0, sizeof(err.message)) && err.message[0], "message");
        FUZZ_CHECK(memchr(err.field, 0, sizeof(err.field)), "field not terminated");
        FUZZ_CHECK(err.record_index >= -1, "record_index %ld", err.record_index);
        FUZZ_CHECK(metrics_reject_from_name(err.code) != REJECT_COUNT,
                   "machine code '%s' has no metrics counter", err.code);
        if (utf8 && !fuzz_skip("msg-utf8"))
            FUZZ_CHECK(fuzz_utf8_ok(err.message, strlen(err.message)),
                       "error message for a valid UTF-8 body is not valid UTF-8: %s", err.message);
    }
    rf_batch_free(&b);
    return 0;
}
