/*
 * test_event_xml.c - streaming RasClient event reader (event_xml.c): the
 * wevtutil fixtures, <Events> roots with RenderingInfo, UTF-16 input,
 * per-template field rules, malformed and truncated streams, and a large
 * generated export fed in 4 KiB chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "event_xml.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#define NS "http://schemas.microsoft.com/win/2004/08/events/event"

static char *read_fixture(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = '\0';
    *len = (size_t)n;
    return p;
}

struct reports {
    size_t n;
    struct parse_report r[16];
};

static void collect(void *ctx, const struct parse_report *r)
{
    struct reports *rs = ctx;
    if (rs->n < 16)
        rs->r[rs->n] = *r;
    rs->n++;
}

struct recs {
    size_t n;
    struct rf_record r[16];
    int stop_after; /* callback returns 42 after this many records (0: never) */
};

static int keep(void *ctx, const struct rf_record *rec)
{
    struct recs *rs = ctx;
    if (rs->n < 16)
        rs->r[rs->n] = *rec;
    rs->n++;
    return rs->stop_after && (int)rs->n >= rs->stop_after ? 42 : 0;
}

static void assert_time(int64_t ms, const char *expect)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(ms, t, sizeof(t));
    assert_string_equal(t, expect);
}

/* The four records of the wevtutil fixtures (samples/README.md). */
static void check_fixture_records(const struct recs *rs)
{
    assert_int_equal(rs->n, 4);
    const struct rf_ras_event *e = &rs->r[0].u.ev;
    assert_int_equal(rs->r[0].kind, RF_KIND_RAS_EVENT);
    assert_time(rs->r[0].time_ms, "2026-11-20T08:01:02.123Z");
    assert_int_equal(e->event_id, 20227);
    assert_int_equal(e->record_id, 418233);
    assert_int_equal(e->level, RF_LEVEL_ERROR);
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "Always On VPN");
    assert_true(e->has_error_code);
    assert_int_equal(e->error_code, 809);
    assert_false(e->has_reason_code);
    assert_string_equal(e->coid, "3F2A0C1B-7A44-0000-8E61-0C2B447AD901");
    assert_null(e->message);

    e = &rs->r[1].u.ev;
    assert_time(rs->r[1].time_ms, "2026-11-20T07:58:40.555Z");
    assert_int_equal(e->event_id, 20227);
    assert_int_equal(e->record_id, 418190);
    assert_string_equal(e->user, "SYSTEM");
    assert_string_equal(e->connection, "Always On VPN Device Tunnel");
    assert_int_equal(e->error_code, 13806);
    assert_string_equal(e->coid, "B1C2D3E4-0F11-0000-9A7B-55AA10C0FFEE");

    e = &rs->r[2].u.ev;
    assert_time(rs->r[2].time_ms, "2026-11-20T12:44:19.021Z");
    assert_int_equal(e->event_id, 20226);
    assert_int_equal(e->record_id, 418611);
    assert_int_equal(e->level, RF_LEVEL_INFORMATION);
    assert_false(e->has_error_code);
    assert_true(e->has_reason_code);
    assert_int_equal(e->reason_code, 833);
    assert_string_equal(e->coid, "0D9E6A21-3C55-0000-41B2-7F3C90A1D2E4");

    e = &rs->r[3].u.ev;
    assert_time(rs->r[3].time_ms, "2026-11-20T08:02:11.908Z");
    assert_int_equal(e->event_id, 20225);
    assert_int_equal(e->record_id, 418240);
    assert_int_equal(e->level, RF_LEVEL_INFORMATION);
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "Always On VPN");
    assert_false(e->has_error_code);
    assert_false(e->has_reason_code);
}

/* Feeds buf in chunks of `step` bytes through the incremental API. */
static int feed_chunks(const char *buf, size_t len, size_t step, struct rf_arena *a,
                       struct recs *rs, struct reports *rp, struct event_parse_stats *st)
{
    struct parse_sink sink = {"events.xml", collect, rp, 0, 0};
    struct event_xml *x;
    assert_int_equal(event_xml_create(a, keep, rs, &sink, &x), RF_OK);
    int rc = RF_OK;
    for (size_t i = 0; i < len && rc == RF_OK; i += step)
        rc = event_xml_feed(x, buf + i, len - i < step ? len - i : step);
    if (rc == RF_OK)
        rc = event_xml_finish(x);
    if (st)
        event_xml_stats(x, st);
    event_xml_destroy(x);
    return rc;
}

static void test_wevtutil_fixture(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("events/rasclient-wevtutil.xml", &len);
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    struct event_parse_stats st;
    struct parse_sink sink = {NULL, collect, &rp, 0, 0};
    rf_arena_init(&a);
    assert_int_equal(event_xml_parse(xml, len, &a, keep, &rs, &sink, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 4);
    assert_int_equal(st.skipped_provider, 0);
    assert_int_equal(st.skipped_invalid, 0);
    check_fixture_records(&rs);
    /* the same through 1-byte and 7-byte chunks */
    for (size_t step = 1; step <= 7; step += 6) {
        memset(&rs, 0, sizeof(rs));
        assert_int_equal(feed_chunks(xml, len, step, &a, &rs, &rp, NULL), RF_OK);
        check_fixture_records(&rs);
    }
    rf_arena_free(&a);
    free(xml);
}

static void test_wevtutil_pretty_fixture(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("events/rasclient-wevtutil-pretty.xml", &len);
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(xml, len, 4096, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    check_fixture_records(&rs);
    rf_arena_free(&a);
    free(xml);
}

static void test_utf16_input(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("events/rasclient-wevtutil.xml", &len);
    char *u16 = malloc(2 * len + 2);
    assert_non_null(u16);
    u16[0] = '\xFF';
    u16[1] = '\xFE';
    for (size_t i = 0; i < len; i++) {
        u16[2 + 2 * i] = xml[i];
        u16[3 + 2 * i] = 0;
    }
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(u16, 2 * len + 2, 5, &a, &rs, &rp, NULL), RF_OK);
    assert_int_equal(rp.n, 0);
    check_fixture_records(&rs);
    rf_arena_free(&a);
    free(u16);
    free(xml);
}

static void test_events_root_rendering_and_other_providers(void **state)
{
    (void)state;
    const char *xml =
        "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n"
        "<Events>\r\n"
        "<Event xmlns=\"" NS "\"><System><Provider Name=\"Microsoft-Windows-Security-SPP\" "
        "Guid=\"{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}\"/><EventID>16384</EventID><Level>4"
        "</Level><TimeCreated SystemTime=\"2026-11-20T09:00:00.1Z\"/><EventRecordID>1"
        "</EventRecordID></System><EventData><Data>x</Data></EventData></Event>\r\n"
        "<Event xmlns=\"" NS "\"><System><Provider Name=\"rasclient\"/><EventID "
        "Qualifiers=\"0\">20227</EventID><Level>2</Level><TimeCreated "
        "SystemTime=\"2026-11-20T09:15:00.000000000Z\"/><EventRecordID>418301</EventRecordID>"
        "</System><EventData><Data>{77E1A2B3-1111-0000-ABCD-0123456789AB}</Data><Data>CORP\\bob"
        "</Data><Data>Always On VPN</Data><Data>2148204801</Data></EventData><RenderingInfo "
        "Culture=\"en-US\"><Message>CoId={77E1A2B3-1111-0000-ABCD-0123456789AB}: The user "
        "CORP\\bob dialed a connection named Always On VPN which has failed. The error code "
        "returned on failure is -2146762495.</Message><Level>Error</Level></RenderingInfo>"
        "</Event>\r\n"
        "<Event xmlns='" NS "'><System><Provider Name='RasClient'/><EventID>20268</EventID>"
        "<Level>4</Level><TimeCreated SystemTime='2026-11-20T10:00:00Z'/><EventRecordID>418400"
        "</EventRecordID></System><EventData><Data>{0D9E6A21-3C55-0000-41B2-7F3C90A1D2E4}"
        "</Data><Data>vpn.example.net</Data><Data>CORP\\alice</Data><Data>WAN Miniport (IKEv2)"
        "</Data></EventData></Event>\r\n"
        "<Event xmlns='" NS "'><System><Provider Name='RasClient'/><EventID>20221</EventID>"
        "<Level>1</Level><TimeCreated SystemTime='2026-11-20T10:00:01.5+01:00'/></System>"
        "<EventData><Data>not-a-guid</Data><Data>CORP\\alice</Data><Data>VPN</Data><Data>"
        "per-user</Data><Data>Always On VPN</Data><Data>settings</Data></EventData></Event>\r\n"
        "</Events>\r\n";
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    struct event_parse_stats st;
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(xml, strlen(xml), 3, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(rp.n, 0);
    assert_int_equal(st.emitted, 3);
    assert_int_equal(st.skipped_provider, 1);
    assert_int_equal(rs.n, 3);
    const struct rf_ras_event *e = &rs.r[0].u.ev;
    assert_time(rs.r[0].time_ms, "2026-11-20T09:15:00.000Z");
    assert_int_equal(e->error_code, -2146762495LL); /* unsigned form normalised */
    assert_string_equal(e->user, "CORP\\bob");
    assert_string_equal(e->message,
                        "CoId={77E1A2B3-1111-0000-ABCD-0123456789AB}: The user CORP\\bob "
                        "dialed a connection named Always On VPN which has failed. The error "
                        "code returned on failure is -2146762495.");
    /* 20268: destination in Data[1], user in Data[2] */
    e = &rs.r[1].u.ev;
    assert_int_equal(e->event_id, 20268);
    assert_string_equal(e->user, "CORP\\alice");
    assert_string_equal(e->connection, "vpn.example.net");
    assert_string_equal(e->coid, "0D9E6A21-3C55-0000-41B2-7F3C90A1D2E4");
    assert_time(rs.r[1].time_ms, "2026-11-20T10:00:00.000Z");
    /* 20221: profile name in Data[4]; no record id; level 1 is an error; no GUID */
    e = &rs.r[2].u.ev;
    assert_int_equal(e->event_id, 20221);
    assert_string_equal(e->connection, "Always On VPN");
    assert_int_equal(e->record_id, 0);
    assert_int_equal(e->level, RF_LEVEL_ERROR);
    assert_null(e->coid);
    assert_time(rs.r[2].time_ms, "2026-11-20T09:00:01.500Z");
    rf_arena_free(&a);
}

static void test_truncated_xml(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("events/rasclient-wevtutil.xml", &len);
    /* cut inside the third event (line 3) */
    const char *third = strstr(strstr(strstr(xml, "20226"), "<EventData>"), "<Data>");
    size_t cut = (size_t)(third - xml) + 10;
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(xml, cut, 4096, &a, &rs, &rp, NULL), RF_ETRUNC);
    assert_int_equal(rs.n, 2);
    assert_int_equal(rs.r[0].u.ev.record_id, 418233);
    assert_int_equal(rs.r[1].u.ev.record_id, 418190);
    assert_int_equal(rp.n, 1);
    assert_true(rp.r[0].fatal);
    assert_int_equal(rp.r[0].line, 3);
    assert_int_equal(rp.r[0].offset, (long)cut);
    assert_string_equal(rp.r[0].path, "events.xml");
    assert_non_null(strstr(rp.r[0].reason, "starts at line 3"));
    /* cut inside a tag between events: "<Eve" */
    const char *fourth = strstr(strstr(xml, "20226"), "\n") + 1;
    cut = (size_t)(fourth - xml) + 4;
    memset(&rs, 0, sizeof(rs));
    rp.n = 0;
    assert_int_equal(feed_chunks(xml, cut, 100, &a, &rs, &rp, NULL), RF_ETRUNC);
    assert_int_equal(rs.n, 3);
    assert_int_equal(rp.n, 1);
    assert_int_equal(rp.r[0].line, 4);
    assert_non_null(strstr(rp.r[0].reason, "inside a tag"));
    rf_arena_free(&a);
    free(xml);
}

static const char *event_line(struct buf *b, const char *id_elem, const char *data)
{
    buf_printf(b,
               "<Event xmlns='" NS "'><System><Provider Name='RasClient'/>%s<Level>2</Level>"
               "<TimeCreated SystemTime='2026-11-20T08:01:02.1234567Z'/><EventRecordID>7"
               "</EventRecordID></System><EventData>%s</EventData></Event>\r\n",
               id_elem, data);
    return b->data;
}

static void test_invalid_events_are_reported_and_skipped(void **state)
{
    (void)state;
    const char *good = "<Data>{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}</Data><Data>CORP\\alice"
                       "</Data><Data>Always On VPN</Data><Data>809</Data>";
    struct buf b = BUF_INIT;
    event_line(&b, "<EventID>20227</EventID>", good); /* line 1 */
    event_line(&b, "", good);                         /* line 2: no EventID */
    event_line(&b, "<EventID>20227</EventID>",
               "<Data>{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}</Data><Data>CORP\\alice</Data>"
               "<Data>Always On VPN</Data>"); /* line 3: 20227 without code */
    event_line(&b, "<EventID>20227</EventID>",
               "<Data>x</Data><Data>u</Data><Data>c</Data><Data>abc</Data>"); /* line 4 */
    event_line(&b, "<EventID>20227</EventID>",
               "<Data>x</Data><Data>u</Data><Data>c</Data><Data>0x800B0101</Data>"); /* 5 */
    event_line(&b, "<EventID>twenty</EventID>", good);                               /* 6 */
    event_line(&b, "<EventID>20226</EventID>",
               "<Data>x</Data><Data>u</Data><Data>c</Data><Data>n/a</Data>"); /* 7: kept */
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    struct event_parse_stats st;
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(b.data, b.len, 4096, &a, &rs, &rp, &st), RF_OK);
    assert_int_equal(st.emitted, 3);
    assert_int_equal(st.skipped_invalid, 4);
    assert_int_equal(rs.n, 3);
    assert_int_equal(rs.r[0].u.ev.error_code, 809);
    assert_int_equal(rs.r[1].u.ev.error_code, -2146762495LL);
    assert_null(rs.r[1].u.ev.coid);
    assert_int_equal(rs.r[2].u.ev.event_id, 20226);
    assert_false(rs.r[2].u.ev.has_reason_code);
    assert_int_equal(rp.n, 5);
    long lines[] = {2, 3, 4, 6, 7};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(rp.r[i].line, lines[i]);
        assert_false(rp.r[i].fatal);
    }
    assert_non_null(strstr(rp.r[0].reason, "event without EventID"));
    assert_non_null(strstr(rp.r[1].reason, "20227 without a parsable error code"));
    assert_non_null(strstr(rp.r[2].reason, "'abc'"));
    assert_non_null(strstr(rp.r[4].reason, "kept without it"));
    buf_free(&b);
    rf_arena_free(&a);
}

static void test_syntax_error_and_garbage(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    event_line(&b, "<EventID>20227</EventID>",
               "<Data>x</Data><Data>u</Data><Data>c</Data><Data>809</Data>");
    buf_append_str(&b, "<Event xmlns='" NS "'><System></Sys></Event>\r\n");
    event_line(&b, "<EventID>20227</EventID>",
               "<Data>x</Data><Data>u</Data><Data>c</Data><Data>809</Data>");
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(b.data, b.len, 64, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rp.n, 1);
    assert_true(rp.r[0].fatal);
    assert_int_equal(rp.r[0].line, 2);
    assert_non_null(strstr(rp.r[0].reason, "mismatched tag"));
    /* text that is not XML at all */
    memset(&rs, 0, sizeof(rs));
    rp.n = 0;
    const char *text = "hello\r\nworld\r\n";
    assert_int_equal(feed_chunks(text, strlen(text), 4096, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rs.n, 0);
    assert_int_equal(rp.n, 1);
    assert_int_equal(rp.r[0].line, 1);
    /* binary garbage */
    rp.n = 0;
    char junk[1024];
    uint32_t s = 7;
    for (size_t i = 0; i < sizeof(junk); i++) {
        s = s * 1103515245u + 12345u;
        junk[i] = (char)(s >> 16);
    }
    assert_int_equal(feed_chunks(junk, sizeof(junk), 4096, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.n, 1);
    assert_true(rp.r[0].fatal);
    /* a DOCTYPE (entity expansion) is refused */
    rp.n = 0;
    const char *dtd = "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>";
    assert_int_equal(feed_chunks(dtd, strlen(dtd), 4096, &a, &rs, &rp, NULL), RF_EFORMAT);
    assert_int_equal(rp.n, 1);
    buf_free(&b);
    rf_arena_free(&a);
}

static void test_callback_stops_the_parse(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_fixture("events/rasclient-wevtutil.xml", &len);
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rs.stop_after = 2;
    rf_arena_init(&a);
    assert_int_equal(feed_chunks(xml, len, 4096, &a, &rs, &rp, NULL), 42);
    assert_int_equal(rs.n, 2);
    assert_int_equal(rp.n, 0);
    rf_arena_free(&a);
    free(xml);
}

struct counter {
    size_t n;
    int64_t sum_record_id;
    int64_t last_error_code;
    struct rf_arena *arenas; /* two arenas used in turn, as a batching agent would */
    struct event_xml *x;
};

static int count(void *ctx, const struct rf_record *rec)
{
    struct counter *c = ctx;
    c->n++;
    c->sum_record_id += rec->u.ev.record_id;
    c->last_error_code = rec->u.ev.error_code;
    if (c->n % 5000 == 0) { /* "send the batch": free it, switch arenas */
        struct rf_arena *next = &c->arenas[(c->n / 5000) % 2];
        rf_arena_free(next);
        event_xml_set_arena(c->x, next);
    }
    return 0;
}

static void test_large_stream_in_4k_chunks(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct buf b = BUF_INIT;
    for (int i = 1; i <= N; i++)
        assert_int_equal(
            buf_printf(&b,
                       "<Event xmlns='" NS "'><System><Provider Name='RasClient'/><EventID "
                       "Qualifiers='0'>20227</EventID><Version>0</Version><Level>2</Level>"
                       "<TimeCreated SystemTime='2026-11-20T08:%02d:%02d.%07dZ'/>"
                       "<EventRecordID>%d</EventRecordID><Channel>Application</Channel>"
                       "</System><EventData><Data>{3F2A0C1B-7A44-0000-8E61-%012d}</Data>"
                       "<Data>CORP\\user%d</Data><Data>Always On VPN</Data><Data>%d</Data>"
                       "</EventData></Event>\r\n",
                       (i / 60) % 60, i % 60, i, i, i, i % 97, 800 + i % 70),
            RF_OK);
    struct rf_arena arenas[2];
    rf_arena_init(&arenas[0]);
    rf_arena_init(&arenas[1]);
    struct counter c = {0, 0, 0, arenas, NULL};
    struct reports rp = {0};
    struct parse_sink sink = {NULL, collect, &rp, 0, 0};
    assert_int_equal(event_xml_create(&arenas[0], count, &c, &sink, &c.x), RF_OK);
    for (size_t i = 0; i < b.len; i += 4096)
        assert_int_equal(event_xml_feed(c.x, b.data + i, b.len - i < 4096 ? b.len - i : 4096),
                         RF_OK);
    assert_int_equal(event_xml_finish(c.x), RF_OK);
    struct event_parse_stats st;
    event_xml_stats(c.x, &st);
    event_xml_destroy(c.x);
    assert_int_equal(rp.n, 0);
    assert_int_equal(c.n, N);
    assert_int_equal(st.emitted, N);
    assert_int_equal(c.sum_record_id, (int64_t)N * (N + 1) / 2);
    assert_int_equal(c.last_error_code, 800 + N % 70);
    rf_arena_free(&arenas[0]);
    rf_arena_free(&arenas[1]);
    buf_free(&b);
}

/* Parses buf whole with event_xml_parse() and in chunks of each step; every
 * run must give rc, n records and one fatal report whose reason holds
 * `reason` (NULL: no report at all). */
static void assert_same_in_any_chunking(const char *buf, size_t len, int rc, size_t n,
                                        const char *reason)
{
    static const size_t steps[] = {0, 1, 2, 7, 64, 255, 256, 257, 4096, 70000};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct rf_arena a;
        struct recs rs = {0};
        struct reports rp = {0};
        struct parse_sink sink = {"events.xml", collect, &rp, 0, 0};
        rf_arena_init(&a);
        int got = steps[k] ? feed_chunks(buf, len, steps[k], &a, &rs, &rp, NULL)
                           : event_xml_parse(buf, len, &a, keep, &rs, &sink, NULL);
        if (got != rc || rs.n != n)
            print_error("chunk size %zu (0 = whole): rc %d, %zu records\n", steps[k], got, rs.n);
        assert_int_equal(got, rc);
        assert_int_equal(rs.n, n);
        if (reason) {
            assert_int_equal(rp.n, 1);
            assert_true(rp.r[0].fatal);
            assert_non_null(strstr(rp.r[0].reason, reason));
        } else {
            assert_int_equal(rp.n, 0);
        }
        rf_arena_free(&a);
    }
}

static const char *const good_data =
    "<Data>{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}</Data><Data>CORP\\alice</Data>"
    "<Data>Always On VPN</Data><Data>809</Data>";

/* Finding F4: an encoding error after complete events still delivers them,
 * also when they are in the same 64 KiB slice (or sniff buffer) as the bad
 * byte; small files too, where the error is found by finish. */
static void test_encoding_error_keeps_earlier_records(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    buf_append_str(&b, "                                        ");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    event_line(&b, "<EventID>20227</EventID>", good_data);
    buf_append_str(&b, "\xFF");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    assert_same_in_any_chunking(b.data, b.len, RF_EFORMAT, 2, "invalid UTF-8");
    /* a file shorter than the encoding sniffer's 256 bytes */
    const char *small = "<Event><System><Provider Name='RasClient'/><EventID>20225</EventID>"
                        "<TimeCreated SystemTime='2026-01-01T00:00:00Z'/></System></Event>\xFF";
    assert_true(strlen(small) < 256);
    assert_same_in_any_chunking(small, strlen(small), RF_EFORMAT, 1, "invalid UTF-8");
    buf_free(&b);
}

/* Finding F5 in the reader: a split UTF-8 lead followed by a bad byte is a
 * format error wherever the chunk boundary falls, not a truncated input;
 * an input really cut mid-character is truncated. */
static void test_bad_byte_after_split_utf8_lead_is_eformat(void **state)
{
    (void)state;
    char in[310];
    memset(in, ' ', 300);
    memcpy(in + 300, "<Event/>\xE6'", 10);
    assert_same_in_any_chunking(in, sizeof(in), RF_EFORMAT, 0, "invalid UTF-8");
    struct rf_arena a;
    struct recs rs = {0};
    struct reports rp = {0};
    rf_arena_init(&a);
    /* the lead byte is the last of the first chunk */
    assert_int_equal(feed_chunks(in, sizeof(in), 309, &a, &rs, &rp, NULL), RF_EFORMAT);
    rf_arena_free(&a);
    assert_same_in_any_chunking(in, sizeof(in) - 1, RF_ETRUNC, 0, "cut by the end");
}

/* Finding F9: a declaration is only blanked when it ends within 4 KiB and
 * holds no '<'; anything else goes to expat, which refuses it, so events
 * are never swallowed silently and chunking does not change the answer. */
static void test_unterminated_xml_declaration(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    /* no "?>": the declaration used to run to the "?>" of a later PI */
    buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"\r\n");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    event_line(&b, "<EventID>20227</EventID>", good_data);
    buf_append_str(&b, "<?rasfleet marker?>\r\n");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    assert_same_in_any_chunking(b.data, b.len, RF_EFORMAT, 0, "XML error");
    /* terminated, but after 4 KiB of white space */
    buf_reset(&b);
    buf_append_str(&b, "<?xml version=\"1.0\"");
    for (int i = 0; i < 4200; i++)
        buf_append_char(&b, ' ');
    buf_append_str(&b, "?>\r\n");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    assert_same_in_any_chunking(b.data, b.len, RF_EFORMAT, 0, "XML error");
    /* a normal declaration after white space, in any chunking */
    buf_reset(&b);
    buf_append_str(&b, "\r\n  <?xml version='1.0' encoding='UTF-8' standalone='yes'?>\r\n");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    event_line(&b, "<EventID>20227</EventID>", good_data);
    assert_same_in_any_chunking(b.data, b.len, RF_OK, 2, NULL);
    /* "<?xml-stylesheet" is not a declaration (and not allowed before the root) */
    buf_reset(&b);
    buf_append_str(&b, "<?xml-stylesheet href='a'?>\r\n");
    event_line(&b, "<EventID>20227</EventID>", good_data);
    assert_same_in_any_chunking(b.data, b.len, RF_OK, 1, NULL);
    buf_free(&b);
}

static void test_parse_time_forms(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(event_xml_parse_time("/Date(1795161662123)/", &ms), RF_OK);
    assert_int_equal(ms, 1795161662123LL);
    assert_int_equal(event_xml_parse_time("/Date(1795161662123+0100)/", &ms), RF_OK);
    assert_int_equal(ms, 1795161662123LL);
    assert_int_equal(event_xml_parse_time(" 2026-11-20T08:01:02.123456789Z ", &ms), RF_OK);
    assert_time(ms, "2026-11-20T08:01:02.123Z");
    assert_int_equal(event_xml_parse_time("/Date(abc)/", &ms), RF_EFORMAT);
    assert_int_equal(event_xml_parse_time("/Date(1+01)/", &ms), RF_EFORMAT);
    assert_int_equal(event_xml_parse_time("2026-11-20", &ms), RF_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wevtutil_fixture),
        cmocka_unit_test(test_wevtutil_pretty_fixture),
        cmocka_unit_test(test_utf16_input),
        cmocka_unit_test(test_events_root_rendering_and_other_providers),
        cmocka_unit_test(test_truncated_xml),
        cmocka_unit_test(test_invalid_events_are_reported_and_skipped),
        cmocka_unit_test(test_syntax_error_and_garbage),
        cmocka_unit_test(test_callback_stops_the_parse),
        cmocka_unit_test(test_large_stream_in_4k_chunks),
        cmocka_unit_test(test_parse_time_forms),
        cmocka_unit_test(test_encoding_error_keeps_earlier_records),
        cmocka_unit_test(test_bad_byte_after_split_utf8_lead_is_eformat),
        cmocka_unit_test(test_unterminated_xml_declaration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
