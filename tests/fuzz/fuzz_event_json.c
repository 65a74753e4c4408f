/*
 * fuzz_event_json - RasClient events from PowerShell JSON (event_json_parse)
 * on raw file bytes (UTF-8 with/without BOM, UTF-16).
 *
 * Invariants beyond "no crash":
 *  - rc is RF_OK, RF_EFORMAT or RF_ETOOBIG; a failure reported a fatal
 *    problem, a success none; every report reason is valid UTF-8;
 *  - every record is a ras_event obeying the record model, valid UTF-8;
 *    emitted == callbacks; on success emitted + skipped == the number of
 *    elements (1 for a bare object, the array size otherwise);
 *  - a callback returning non-zero on the 2nd record stops the parse there
 *    and its value is returned;
 *  - records with both names and a renderable time survive the api-v1
 *    round trip.
 */
#include "event_json.h"
#include "fuzz_report.h"

#include <cjson/cJSON.h>

#define STOP_RC 4242

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct rf_arena arena;
    struct rec_vec rv = {0};
    struct parse_sink sink;
    struct report_ctx rctx;
    struct event_parse_stats st;
    rf_arena_init(&arena);
    report_sink_init(&sink, &rctx, true);
    int rc = event_json_parse(buf, size, &arena, rec_vec_push, &rv, &sink, &st);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    report_check_outcome(&sink, rc, 0);
    FUZZ_CHECK(st.emitted == rv.calls, "emitted %zu callbacks %zu", st.emitted, rv.calls);
    for (size_t i = 0; i < rv.n; i++) {
        FUZZ_CHECK(rv.v[i].kind == RF_KIND_RAS_EVENT, "kind");
        check_record(&rv.v[i], CR_UTF8, i);
    }
    if (rc == RF_OK) {
        cJSON *root = NULL;
        FUZZ_CHECK(parse_json_document(buf, size, EVENT_JSON_MAX_INPUT, NULL, &root) == RF_OK,
                   "document parsed once but not twice");
        size_t elems = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 1;
        FUZZ_CHECK(st.emitted + st.skipped_invalid + st.skipped_provider == elems,
                   "%zu elements but %zu emitted + %zu invalid + %zu other provider", elems,
                   st.emitted, st.skipped_invalid, st.skipped_provider);
        cJSON_Delete(root);
    }
    struct rf_record *send = malloc((rv.n ? rv.n : 1) * sizeof(*send));
    size_t n_send = 0;
    for (size_t i = 0; i < rv.n; i++) {
        const struct rf_ras_event *e = &rv.v[i].u.ev;
        if (!e->user[0] || !e->connection[0])
            continue;
        if (!time_renderable(rv.v[i].time_ms)) {
            char *j = record_json(&rv.v[i]);
            FUZZ_CHECK(fuzz_skip("time-range"),
                       "event time cannot be written as RFC 3339 (the collector will refuse "
                       "the batch): %.300s",
                       j);
            free(j);
            continue;
        }
        send[n_send++] = rv.v[i];
    }
    api_roundtrip(send, n_send, true, "event_json records");
    free(send);

    if (rv.n >= 2) {
        struct rec_vec s = {.stop_after = 2, .stop_rc = STOP_RC};
        struct rf_arena a2;
        rf_arena_init(&a2);
        int rc2 = event_json_parse(buf, size, &a2, rec_vec_push, &s, NULL, NULL);
        FUZZ_CHECK(rc2 == STOP_RC && s.calls == 2, "stop after 2: rc=%d calls=%zu", rc2, s.calls);
        rec_vec_free(&s);
        rf_arena_free(&a2);
    }
    rec_vec_free(&rv);
    rf_arena_free(&arena);
    return 0;
}
