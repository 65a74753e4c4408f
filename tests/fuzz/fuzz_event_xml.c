/*
 * fuzz_event_xml - the streaming RasClient XML reader (event_xml_*).
 *
 * Input: byte 0 seeds the chunk plan (chunker: 1-byte feeding up to 70000-
 * byte chunks), byte 1 sets a callback stop (0x80: stop after 1 + (b & 7)
 * records), the rest is the file (any encoding textenc accepts).
 *
 * Invariants beyond "no crash":
 *  - chunking independence: event_xml_parse() on the whole buffer and
 *    create/feed(chunks)/finish give the same rc, the same records (as JSON)
 *    and the same stats ("Feeds the next len bytes of the file (any
 *    chunking)");
 *  - sticky state: after an error every feed returns it; after finish a
 *    feed returns the error or RF_EINVAL and finish returns the same value;
 *  - every record is a ras_event obeying the record model with valid UTF-8,
 *    coid absent or a 36-character GUID, emitted == callbacks;
 *  - reports: a failed parse reported a fatal problem, a successful one
 *    none, every reason valid UTF-8;
 *  - the callback's non-zero value stops the parse after exactly that
 *    record and is returned;
 *  - records with both names and a renderable time survive the api-v1
 *    round trip (what the agent will send).
 */
#include "event_xml.h"
#include "fuzz_report.h"

#define STOP_RC 4242

struct run {
    int rc;
    struct rec_vec recs;
    struct event_parse_stats st;
    struct parse_sink sink;
    struct report_ctx rctx;
    struct rf_arena arena;
};

static void run_chunked(const char *doc, size_t len, uint8_t seed, size_t stop_after,
                        struct run *r)
{
    memset(r, 0, sizeof(*r));
    rf_arena_init(&r->arena);
    report_sink_init(&r->sink, &r->rctx, true);
    r->recs.stop_after = stop_after;
    r->recs.stop_rc = STOP_RC;
    struct event_xml *x;
    FUZZ_CHECK(event_xml_create(&r->arena, rec_vec_push, &r->recs, &r->sink, &x) == RF_OK,
               "create");
    struct chunker ch;
    chunker_init(&ch, seed);
    size_t pos = 0;
    int rc = RF_OK;
    while (pos < len && rc == RF_OK) {
        size_t n = chunker_next(&ch);
        if (n > len - pos)
            n = len - pos;
        rc = event_xml_feed(x, doc + pos, n);
        pos += n;
    }
    if (rc != RF_OK) {
        /* sticky: later feeds and finish return the same value */
        FUZZ_CHECK(event_xml_feed(x, "<Event/>", 8) == rc, "feed after error %d", rc);
        FUZZ_CHECK(event_xml_finish(x) == rc, "finish after error %d", rc);
    } else {
        rc = event_xml_finish(x);
        FUZZ_CHECK(event_xml_finish(x) == rc, "second finish differs from %d", rc);
        int again = event_xml_feed(x, "<Event/>", 8);
        FUZZ_CHECK(again == (rc ? rc : RF_EINVAL), "feed after finish gives %d (finish %d)", again,
                   rc);
    }
    event_xml_stats(x, &r->st);
    event_xml_destroy(x);
    r->rc = rc;
}

static bool guid_ok(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
            return false;
    }
    return true;
}

static void same_records(const struct rec_vec *a, const struct rec_vec *b, size_t n,
                         const char *what)
{
    for (size_t i = 0; i < n; i++) {
        char *ja = record_json(&a->v[i]), *jb = record_json(&b->v[i]);
        FUZZ_CHECK(strcmp(ja, jb) == 0, "%s: record %zu differs:\n  %s\n  %s", what, i, ja, jb);
        free(ja);
        free(jb);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t seed = data[0], stopb = data[1];
    const char *doc = (const char *)data + 2;
    size_t len = size - 2;

    /* whole buffer */
    struct run w;
    memset(&w, 0, sizeof(w));
    rf_arena_init(&w.arena);
    report_sink_init(&w.sink, &w.rctx, true);
    w.rc = event_xml_parse(doc, len, &w.arena, rec_vec_push, &w.recs, &w.sink, &w.st);
    FUZZ_CHECK(w.rc == RF_OK || w.rc == RF_EFORMAT || w.rc == RF_ETRUNC || w.rc == RF_ETOOBIG,
               "rc=%d", w.rc);
    report_check_outcome(&w.sink, w.rc, 0);
    FUZZ_CHECK(w.st.emitted == w.recs.calls, "emitted %zu, callbacks %zu", w.st.emitted,
               w.recs.calls);
    for (size_t i = 0; i < w.recs.n; i++) {
        const struct rf_record *r = &w.recs.v[i];
        FUZZ_CHECK(r->kind == RF_KIND_RAS_EVENT, "kind");
        check_record(r, CR_UTF8, i);
        FUZZ_CHECK(!r->u.ev.coid || guid_ok(r->u.ev.coid), "coid '%s'", r->u.ev.coid);
    }
    /* what an agent would send: both names present */
    struct rf_record *send = malloc((w.recs.n ? w.recs.n : 1) * sizeof(*send));
    size_t n_send = 0;
    for (size_t i = 0; i < w.recs.n; i++) {
        const struct rf_ras_event *e = &w.recs.v[i].u.ev;
        if (!e->user[0] || !e->connection[0])
            continue;
        if (!time_renderable(w.recs.v[i].time_ms)) {
            char *j = record_json(&w.recs.v[i]);
            FUZZ_CHECK(fuzz_skip("time-range"),
                       "event time cannot be written as RFC 3339 (the collector will refuse "
                       "the batch): %.300s",
                       j);
            free(j);
            continue;
        }
        send[n_send++] = w.recs.v[i];
    }
    api_roundtrip(send, n_send, true, "event_xml records");
    free(send);

    /* chunked */
    struct run c;
    run_chunked(doc, len, seed, 0, &c);
    report_check_outcome(&c.sink, c.rc, 0);
    /* finding F9 (fixed): whole-buffer mode looked for the "?>" of an XML
     * declaration in the whole first 64 KiB slice, the stream gave up after
     * 4096 bytes; the switch stays for bisecting older trees */
    size_t head = len < 70000 ? len : 70000;
    bool has_decl = memmem(doc, head, "<?xml", 5) || memmem(doc, head, "<\0?\0x\0m\0l\0", 10) ||
                    memmem(doc, head, "\0<\0?\0x\0m\0l", 10);
    if (has_decl && fuzz_skip("xml-decl")) {
        rec_vec_free(&c.recs);
        rf_arena_free(&c.arena);
        rec_vec_free(&w.recs);
        rf_arena_free(&w.arena);
        return 0;
    }
    /* finding F5 (fixed): textenc classified a bad byte after a split UTF-8
     * lead as "cut by the end of the input" when the lead ended a chunk, which
     * the reader reported as RF_ETRUNC instead of RF_EFORMAT */
    bool etrunc_vs_eformat = (c.rc == RF_ETRUNC && w.rc == RF_EFORMAT) ||
                             (c.rc == RF_EFORMAT && w.rc == RF_ETRUNC);
    FUZZ_CHECK(c.rc == w.rc || (etrunc_vs_eformat && fuzz_skip("textenc-offset")),
               "whole rc=%d, chunked (seed %u) rc=%d", w.rc, seed, c.rc);
    if (w.rc != RF_OK && fuzz_skip("xml-encoding-prefix")) {
        /* finding F4 (fixed): after an error, how many earlier records were
         * delivered depended on the chunking; only require one list to extend
         * the other */
        size_t n = w.recs.n < c.recs.n ? w.recs.n : c.recs.n;
        same_records(&w.recs, &c.recs, n, "chunked");
    } else {
        FUZZ_CHECK(c.recs.n == w.recs.n, "whole %zu records, chunked (seed %u) %zu", w.recs.n,
                   seed, c.recs.n);
        FUZZ_CHECK(c.st.skipped_provider == w.st.skipped_provider &&
                       c.st.skipped_invalid == w.st.skipped_invalid,
                   "stats differ");
        same_records(&w.recs, &c.recs, w.recs.n, "chunked");
    }

    /* callback stop */
    if (stopb & 0x80) {
        size_t k = 1 + (stopb & 7);
        struct run s;
        run_chunked(doc, len, seed, k, &s);
        if (c.recs.n >= k) {
            FUZZ_CHECK(s.rc == STOP_RC && s.recs.calls == k,
                       "stop after %zu: rc=%d after %zu callbacks", k, s.rc, s.recs.calls);
            same_records(&c.recs, &s.recs, k, "stopped");
        } else {
            FUZZ_CHECK(s.rc == c.rc && s.recs.n == c.recs.n, "stop run differs");
        }
        report_check_outcome(&s.sink, s.rc, STOP_RC);
        rec_vec_free(&s.recs);
        rf_arena_free(&s.arena);
    }
    rec_vec_free(&c.recs);
    rf_arena_free(&c.arena);
    rec_vec_free(&w.recs);
    rf_arena_free(&w.arena);
    return 0;
}
