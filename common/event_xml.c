/*
 * event_xml.c - streaming reader of RasClient events in wevtutil XML, and
 * the field rules shared with the JSON reader. See event_xml.h.
 *
 * Pipeline of one feed: raw bytes -> textenc stream (UTF-8 out) -> head
 * check (an XML declaration is blanked: it may not follow the synthetic
 * root) -> expat. The synthetic root <rasfleet-stream> is fed first, so a
 * root-less sequence of <Event> elements is one well-formed document and an
 * <Events> root simply nests inside it. It adds no newline, so expat's line
 * numbers are those of the text; offsets subtract its length.
 *
 * Memory is bounded: every captured text has a cap, at most EVENT_MAX_DATA
 * insertion strings are kept, and expat's own buffer is bounded by refusing
 * more than XR_MAX_QUIET bytes without any callback (one giant token).
 */
#include "event_xml.h"
#include "batch_json.h"
#include "buf.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "textenc.h"
#include "timeutil.h"

#include <expat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- field rules (shared with event_json.c) ---- */

struct slots {
    int32_t id;
    int8_t user, conn; /* Data index, -1 when the template has none */
};

/* Insertion-string positions per template (domain notes 1.2); others 1, 2. */
static const struct slots template_slots[] = {
    {20220, -1, 0}, {20221, 1, 4},   {20223, 1, -1}, {20224, 1, -1}, {20255, 2, -1},
    {20268, 2, 1},  {20269, 1, -1},  {20270, 1, -1}, {20271, 1, -1}, {20277, -1, 1},
    {20278, -1, 1}, {20281, -1, -1}, {20291, -1, 0},
};

static struct slots slots_of(int32_t id)
{
    for (size_t i = 0; i < sizeof(template_slots) / sizeof(template_slots[0]); i++)
        if (template_slots[i].id == id)
            return template_slots[i];
    struct slots d = {id, 1, 2};
    return d;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims white space: *len receives the length, the start is returned. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = strlen(s);
    while (n && is_space(*s)) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* Unsigned decimal s[0..n) into *out, refusing more than max. */
static bool parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

static bool parse_int_field(const char *text, uint64_t max, uint64_t *out)
{
    size_t n;
    const char *s = trim(text, &n);
    if (n && *s == '+') {
        s++;
        n--;
    }
    return parse_decimal(s, n, max, out);
}

/* A Windows error code: signed or unsigned 32-bit decimal, or 0x-hex. */
static bool parse_code(const char *text, int64_t *out)
{
    size_t n;
    const char *s = trim(text, &n);
    bool neg = false;
    uint64_t v = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (n > 10)
            return false;
        for (size_t i = 2; i < n; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return false;
            v = v * 16 + (uint64_t)d;
        }
    } else {
        if (n && (*s == '-' || *s == '+')) {
            neg = *s == '-';
            s++;
            n--;
        }
        if (!parse_decimal(s, n, 4294967295ull, &v))
            return false;
    }
    double d = neg ? -(double)v : (double)v;
    return batch_normalize_code(d, out);
}

static enum rf_level level_of(const char *text, int32_t event_id)
{
    size_t n;
    uint64_t v;
    if (!text)
        return event_id == 20227 ? RF_LEVEL_ERROR : RF_LEVEL_INFORMATION;
    const char *s = trim(text, &n);
    if (parse_decimal(s, n, 255, &v))
        return v == 1 || v == 2 ? RF_LEVEL_ERROR : v == 3 ? RF_LEVEL_WARNING : RF_LEVEL_INFORMATION;
    if ((n == 5 && strncasecmp(s, "Error", 5) == 0) ||
        (n == 8 && strncasecmp(s, "Critical", 8) == 0))
        return RF_LEVEL_ERROR;
    if (n == 7 && strncasecmp(s, "Warning", 7) == 0)
        return RF_LEVEL_WARNING;
    return RF_LEVEL_INFORMATION;
}

static bool is_guid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

int event_xml_parse_time(const char *text, int64_t *out_ms)
{
    size_t n;
    const char *s = trim(text, &n);
    if (n >= 8 && memcmp(s, "/Date(", 6) == 0 && memcmp(s + n - 2, ")/", 2) == 0) {
        size_t i = 6, end = n - 2;
        bool neg = i < end && s[i] == '-';
        size_t digits_start = i + (neg ? 1 : 0), j = digits_start;
        while (j < end && s[j] >= '0' && s[j] <= '9')
            j++;
        uint64_t v;
        if (!parse_decimal(s + digits_start, j - digits_start, 253402300799999ull, &v))
            return RF_EFORMAT;
        /* optional time-zone suffix: "+hhmm" / "-hhmm", informational only */
        if (j != end) {
            if (end - j != 5 || (s[j] != '+' && s[j] != '-'))
                return RF_EFORMAT;
            for (size_t k = j + 1; k < end; k++)
                if (s[k] < '0' || s[k] > '9')
                    return RF_EFORMAT;
        }
        if (neg && v > 62167219200000ull)
            return RF_EFORMAT; /* before 0000-01-01: no RFC 3339 time can carry it */
        *out_ms = neg ? -(int64_t)v : (int64_t)v;
        return RF_OK;
    }
    return time_parse_rfc3339(s, n, out_ms);
}

static const char *data_at(const struct event_fields *f, int idx)
{
    if (idx < 0 || (size_t)idx >= f->n_data || idx >= EVENT_MAX_DATA || !f->data[idx])
        return NULL;
    return f->data[idx];
}

/* Trimmed copy of Data[idx] ("" when absent), or an error when too long. */
static int name_at(const struct event_fields *f, int idx, const char *what, struct rf_arena *a,
                   const char **out, char *note, size_t note_len)
{
    const char *d = data_at(f, idx);
    size_t n = 0;
    const char *s = d ? trim(d, &n) : "";
    if (n > RF_MAX_NAME_LEN) {
        snprintf(note, note_len, "%s (Data[%d]) is %zu bytes, the limit is %d", what, idx, n,
                 RF_MAX_NAME_LEN);
        return RF_EFORMAT;
    }
    *out = rf_arena_strndup(a, s, n);
    return *out ? RF_OK : RF_ENOMEM;
}

static int fill_codes(const struct event_fields *f, struct rf_ras_event *ev, char *note,
                      size_t note_len)
{
    const char *d3 = data_at(f, 3);
    if (ev->event_id == 20227) {
        if (!d3 || !parse_code(d3, &ev->error_code)) {
            snprintf(note, note_len, "20227 without a parsable error code (Data[3] %s%.40s%s)",
                     d3 ? "'" : "", d3 ? d3 : "absent", d3 ? "'" : "");
            return RF_EFORMAT;
        }
        ev->has_error_code = true;
    } else if (ev->event_id == 20226) {
        ev->has_reason_code = d3 && parse_code(d3, &ev->reason_code);
        if (!ev->has_reason_code)
            snprintf(note, note_len, "20226 without a parsable reason code; kept without it");
    }
    return RF_OK;
}

static int fill_coid_message(const struct event_fields *f, struct rf_arena *a,
                             struct rf_ras_event *ev)
{
    const char *d0 = data_at(f, 0);
    size_t n = 0;
    const char *s = d0 ? trim(d0, &n) : "";
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        s++;
        n -= 2;
    }
    if (is_guid(s, n) && !(ev->coid = rf_arena_strndup(a, s, n)))
        return RF_ENOMEM;
    if (f->message) {
        size_t m = strlen(f->message);
        if (m > RF_MAX_MESSAGE_LEN) {
            m = RF_MAX_MESSAGE_LEN;
            while (m > 0 && ((unsigned char)f->message[m] & 0xC0) == 0x80)
                m--;
        }
        if (!(ev->message = rf_arena_strndup(a, f->message, m)))
            return RF_ENOMEM;
    }
    return RF_OK;
}

int event_xml_fields_to_record(const struct event_fields *f, struct rf_arena *arena,
                               struct rf_record *out, char *note, size_t note_len)
{
    struct rf_record r;
    struct rf_ras_event *ev = &r.u.ev;
    uint64_t v;
    int rc;
    memset(&r, 0, sizeof(r));
    note[0] = '\0';
    r.kind = RF_KIND_RAS_EVENT;
    if (!f->event_id) {
        snprintf(note, note_len, "event without EventID");
        return RF_EFORMAT;
    }
    if (!parse_int_field(f->event_id, 65535, &v) || v == 0) {
        snprintf(note, note_len, "EventID '%.40s' is not a number in 1..65535", f->event_id);
        return RF_EFORMAT;
    }
    ev->event_id = (int32_t)v;
    if (f->record_id) {
        if (!parse_int_field(f->record_id, 9007199254740991ull, &v)) {
            snprintf(note, note_len, "EventRecordID '%.40s' is not a record number", f->record_id);
            return RF_EFORMAT;
        }
        ev->record_id = (int64_t)v;
    }
    if (!f->time || event_xml_parse_time(f->time, &r.time_ms) != RF_OK) {
        snprintf(note, note_len, "event %d has %s time '%.40s'", ev->event_id,
                 f->time ? "an unreadable" : "no", f->time ? f->time : "");
        return RF_EFORMAT;
    }
    ev->level = level_of(f->level, ev->event_id);
    struct slots sl = slots_of(ev->event_id);
    if ((rc = name_at(f, sl.user, "user", arena, &ev->user, note, note_len)) != RF_OK ||
        (rc = name_at(f, sl.conn, "connection", arena, &ev->connection, note, note_len)) != RF_OK ||
        (rc = fill_codes(f, ev, note, note_len)) != RF_OK ||
        (rc = fill_coid_message(f, arena, ev)) != RF_OK)
        return rc;
    *out = r;
    return RF_OK;
}

/* ---- the streaming reader ---- */

#define XR_NS "http://schemas.microsoft.com/win/2004/08/events/event"
#define XR_ROOT_OPEN "<rasfleet-stream>"
#define XR_ROOT_CLOSE "</rasfleet-stream>"
#define XR_SLICE (64u * 1024u)   /* raw bytes decoded per step */
#define XR_MAX_QUIET (16u << 20) /* bytes without any expat callback */
#define XR_HEAD_MAX 4096         /* bytes searched for the end of <?xml ...?> */
#define XR_SHORT_CAP 128         /* EventID, Level, provider, time... */
#define XR_DATA_CAP 4096         /* one insertion string (names are <= 512) */
#define XR_MESSAGE_CAP (RF_MAX_MESSAGE_LEN + 8)

enum section { SEC_NONE = 0, SEC_SYSTEM, SEC_EVENTDATA, SEC_RENDERING, SEC_OTHER };

enum field {
    F_EVENT_ID = 0,
    F_RECORD_ID,
    F_LEVEL,
    F_TIME,
    F_PROVIDER,
    F_MESSAGE,
    F_DATA0, /* F_DATA0 + i for Data[i] */
    F_COUNT = F_DATA0 + EVENT_MAX_DATA
};

struct event_xml {
    XML_Parser parser;
    struct textenc_stream enc;
    struct buf decoded; /* one slice of decoded text */
    struct buf head;    /* start of the text, held until the declaration is handled */
    bool head_done;
    struct rf_arena *arena;
    parse_record_fn fn;
    void *ctx;
    struct parse_sink *sink;
    struct event_parse_stats stats;
    int rc;        /* sticky result: error, or the callback's non-zero value */
    bool finished; /* event_xml_finish() ran */
    size_t fed;    /* decoded bytes given to expat (without the root) */
    size_t quiet;  /* bytes given to expat since its last callback */
    bool open_tag; /* the last '<' fed comes after the last '>' */
    int depth;     /* element depth; the synthetic root is 1 */
    /* the event being read */
    int event_depth; /* depth of <Event>, 0 outside */
    long event_line;
    long event_offset;
    enum section section;
    int capture; /* field whose text is being collected, -1 none */
    int capture_depth;
    size_t n_data;
    bool present[F_COUNT];
    struct buf field[F_COUNT];
};

static size_t field_cap(int f)
{
    if (f == F_MESSAGE)
        return XR_MESSAGE_CAP;
    return f >= F_DATA0 ? XR_DATA_CAP : XR_SHORT_CAP;
}

static long current_offset(struct event_xml *x)
{
    XML_Index i = XML_GetCurrentByteIndex(x->parser);
    long off = (long)i - (long)strlen(XR_ROOT_OPEN);
    return off < 0 ? 0 : off;
}

static void stop(struct event_xml *x, int rc, const char *reason)
{
    if (!x->rc) {
        x->rc = rc;
        parse_report_emit(x->sink, true, (long)XML_GetCurrentLineNumber(x->parser),
                          current_offset(x), -1, "%s", reason);
    }
    XML_StopParser(x->parser, XML_FALSE);
}

/* Local name of an element in the event namespace or in none; else NULL. */
static const char *local_name(const XML_Char *name)
{
    const char *bar = strchr(name, '|');
    if (!bar)
        return name;
    size_t ns_len = (size_t)(bar - name);
    if (ns_len == strlen(XR_NS) && memcmp(name, XR_NS, ns_len) == 0)
        return bar + 1;
    return NULL;
}

static const char *attr(const XML_Char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(atts[i], name) == 0)
            return atts[i + 1];
    return NULL;
}

static void set_field(struct event_xml *x, int f, const char *value)
{
    struct buf *b = &x->field[f];
    size_t n = strlen(value), cap = field_cap(f);
    buf_reset(b);
    if (buf_append(b, value, n < cap ? n : cap) != RF_OK) {
        stop(x, RF_ENOMEM, "out of memory");
        return;
    }
    x->present[f] = true;
}

static void start_capture(struct event_xml *x, int f)
{
    buf_reset(&x->field[f]);
    x->present[f] = true;
    x->capture = f;
    x->capture_depth = x->depth;
}

static void begin_event(struct event_xml *x)
{
    x->event_depth = x->depth;
    x->event_line = (long)XML_GetCurrentLineNumber(x->parser);
    x->event_offset = current_offset(x);
    x->section = SEC_NONE;
    x->capture = -1;
    x->n_data = 0;
    memset(x->present, 0, sizeof(x->present));
}

static void system_child(struct event_xml *x, const char *local, const XML_Char **atts)
{
    const char *v;
    if (strcmp(local, "Provider") == 0 && (v = attr(atts, "Name")))
        set_field(x, F_PROVIDER, v);
    else if (strcmp(local, "TimeCreated") == 0 && (v = attr(atts, "SystemTime")))
        set_field(x, F_TIME, v);
    else if (strcmp(local, "EventID") == 0)
        start_capture(x, F_EVENT_ID);
    else if (strcmp(local, "EventRecordID") == 0)
        start_capture(x, F_RECORD_ID);
    else if (strcmp(local, "Level") == 0)
        start_capture(x, F_LEVEL);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct event_xml *x = ud;
    x->quiet = 0;
    x->depth++;
    const char *local = local_name(name);
    if (x->event_depth == 0) {
        if (local && strcmp(local, "Event") == 0)
            begin_event(x);
        return;
    }
    int rel = x->depth - x->event_depth;
    if (rel == 1) {
        x->section = !local                                ? SEC_OTHER
                     : strcmp(local, "System") == 0        ? SEC_SYSTEM
                     : strcmp(local, "EventData") == 0     ? SEC_EVENTDATA
                     : strcmp(local, "RenderingInfo") == 0 ? SEC_RENDERING
                                                           : SEC_OTHER;
    } else if (rel == 2 && local) {
        if (x->section == SEC_SYSTEM) {
            system_child(x, local, atts);
        } else if (x->section == SEC_EVENTDATA && strcmp(local, "Data") == 0) {
            if (x->n_data < EVENT_MAX_DATA)
                start_capture(x, F_DATA0 + (int)x->n_data);
            x->n_data++;
        } else if (x->section == SEC_RENDERING && strcmp(local, "Message") == 0) {
            start_capture(x, F_MESSAGE);
        }
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct event_xml *x = ud;
    x->quiet = 0;
    if (x->capture >= 0) {
        struct buf *b = &x->field[x->capture];
        size_t cap = field_cap(x->capture), n = (size_t)len;
        if (b->len < cap && buf_append(b, s, n < cap - b->len ? n : cap - b->len) != RF_OK)
            stop(x, RF_ENOMEM, "out of memory");
        return;
    }
    if (x->depth == 1) {
        for (int i = 0; i < len; i++) {
            if (!is_space(s[i])) {
                stop(x, RF_EFORMAT, "text outside any element: not an event export");
                return;
            }
        }
    }
}

static const char *field_text(struct event_xml *x, int f)
{
    return x->present[f] ? (x->field[f].data ? x->field[f].data : "") : NULL;
}

static void end_event(struct event_xml *x)
{
    const char *provider = field_text(x, F_PROVIDER);
    if (!provider || strcasecmp(provider, "RasClient") != 0) {
        x->stats.skipped_provider++;
        return;
    }
    struct event_fields f;
    memset(&f, 0, sizeof(f));
    f.event_id = field_text(x, F_EVENT_ID);
    f.record_id = field_text(x, F_RECORD_ID);
    f.level = field_text(x, F_LEVEL);
    f.time = field_text(x, F_TIME);
    f.message = field_text(x, F_MESSAGE);
    f.n_data = x->n_data;
    for (int i = 0; i < EVENT_MAX_DATA; i++)
        f.data[i] = field_text(x, F_DATA0 + i);
    struct rf_record rec;
    char note[PARSE_REPORT_REASON_MAX];
    int rc = event_xml_fields_to_record(&f, x->arena, &rec, note, sizeof(note));
    if (rc == RF_ENOMEM) {
        stop(x, rc, "out of memory");
        return;
    }
    if (note[0])
        parse_report_emit(x->sink, false, x->event_line, x->event_offset, -1, "%s%s", note,
                          rc == RF_OK ? "" : "; event skipped");
    if (rc != RF_OK) {
        x->stats.skipped_invalid++;
        return;
    }
    x->stats.emitted++;
    int cb = x->fn ? x->fn(x->ctx, &rec) : 0;
    if (cb != 0) {
        if (!x->rc)
            x->rc = cb;
        XML_StopParser(x->parser, XML_FALSE);
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct event_xml *x = ud;
    (void)name;
    x->quiet = 0;
    if (x->event_depth) {
        if (x->capture >= 0 && x->depth == x->capture_depth)
            x->capture = -1;
        if (x->depth == x->event_depth) {
            x->event_depth = 0;
            end_event(x);
        } else if (x->depth == x->event_depth + 1) {
            x->section = SEC_NONE;
        }
    }
    x->depth--;
}

int event_xml_create(struct rf_arena *arena, parse_record_fn fn, void *ctx, struct parse_sink *sink,
                     struct event_xml **out)
{
    struct event_xml *x = calloc(1, sizeof(*x));
    int rc = RF_ENOMEM;
    *out = NULL;
    if (!x)
        goto out;
    x->parser = XML_ParserCreateNS("UTF-8", '|');
    if (!x->parser)
        goto out;
    x->arena = arena;
    x->fn = fn;
    x->ctx = ctx;
    x->sink = sink;
    x->capture = -1;
    textenc_stream_init(&x->enc);
    XML_SetUserData(x->parser, x);
    XML_SetElementHandler(x->parser, on_start, on_end);
    XML_SetCharacterDataHandler(x->parser, on_text);
    if (XML_Parse(x->parser, XR_ROOT_OPEN, (int)strlen(XR_ROOT_OPEN), XML_FALSE) != XML_STATUS_OK)
        goto out;
    *out = x;
    x = NULL;
    rc = RF_OK;
out:
    event_xml_destroy(x);
    return rc;
}

void event_xml_set_arena(struct event_xml *x, struct rf_arena *arena)
{
    x->arena = arena;
}

void event_xml_destroy(struct event_xml *x)
{
    if (!x)
        return;
    if (x->parser)
        XML_ParserFree(x->parser);
    buf_free(&x->decoded);
    buf_free(&x->head);
    for (int i = 0; i < F_COUNT; i++)
        buf_free(&x->field[i]);
    free(x);
}

void event_xml_stats(const struct event_xml *x, struct event_parse_stats *out)
{
    *out = x->stats;
}

/* Hands decoded text to expat; keeps the open-tag and quiet-byte trackers. */
static int parse_text(struct event_xml *x, const char *p, size_t n)
{
    while (n > 0 && !x->rc) {
        size_t step = n < XR_SLICE ? n : XR_SLICE;
        const char *lt = memrchr(p, '<', step), *gt = memrchr(p, '>', step);
        if (lt && (!gt || lt - p > gt - p))
            x->open_tag = true;
        else if (gt)
            x->open_tag = false;
        x->quiet += step;
        if (XML_Parse(x->parser, p, (int)step, XML_FALSE) != XML_STATUS_OK && !x->rc) {
            char reason[PARSE_REPORT_REASON_MAX];
            snprintf(reason, sizeof(reason), "XML error: %s",
                     XML_ErrorString(XML_GetErrorCode(x->parser)));
            stop(x, RF_EFORMAT, reason);
        }
        if (!x->rc && x->quiet > XR_MAX_QUIET)
            stop(x, RF_ETOOBIG, "a single XML token or text run is over 16 MiB");
        x->fed += step;
        p += step;
        n -= step;
    }
    return x->rc;
}

/*
 * Handles the head of the text: a leading XML declaration (white space, then
 * "<?xml" and white space) that ends with "?>" within the first XR_HEAD_MAX
 * bytes and holds no '<' is blanked (newlines kept, so line numbers hold).
 * Anything else is left to expat, which refuses a declaration after the
 * synthetic root, so a broken declaration is an error rather than a span
 * of swallowed events. The answer depends only on the first XR_HEAD_MAX
 * bytes of the text, never on how they arrived. Returns false while more
 * text is needed to decide.
 */
static bool blank_declaration(char *p, size_t n, bool final)
{
    static const char decl[] = "<?xml";
    size_t lim = n < XR_HEAD_MAX ? n : XR_HEAD_MAX, i = 0;
    bool more = !final && n < XR_HEAD_MAX; /* the text may still complete it */
    while (i < lim && is_space(p[i]))
        i++;
    for (size_t k = 0; k < 5; k++) {
        if (i + k == lim)
            return !more;
        if (p[i + k] != decl[k])
            return true;
    }
    if (i + 5 == lim)
        return !more;
    if (!is_space(p[i + 5]))
        return true; /* "<?xml-stylesheet" and the like: a PI */
    for (size_t j = i + 6; j < lim; j++) {
        if (p[j] == '<')
            return true;
        if (p[j] == '?' && j + 1 < lim && p[j + 1] == '>') {
            for (size_t k = i; k < j + 2; k++)
                if (p[k] != '\n')
                    p[k] = ' ';
            return true;
        }
    }
    return !more;
}

static int push_text(struct event_xml *x, const char *p, size_t n, bool final)
{
    if (x->head_done)
        return parse_text(x, p, n);
    if (buf_append(&x->head, p, n) != RF_OK)
        return x->rc = RF_ENOMEM;
    if (!x->head.data || !blank_declaration(x->head.data, x->head.len, final))
        return RF_OK;
    x->head_done = true;
    int rc = parse_text(x, x->head.data, x->head.len);
    buf_free(&x->head);
    return rc;
}

/* Reports a decoding error; a file that ends inside a character is RF_ETRUNC. */
static int encoding_error(struct event_xml *x, int rc)
{
    const struct textenc_error *e = textenc_stream_error(&x->enc);
    if (!x->rc) {
        x->rc = rc == RF_EFORMAT && e && e->truncated ? RF_ETRUNC : rc;
        parse_report_emit(x->sink, true, 0, e ? (long)e->offset : -1, -1,
                          "%s at byte %zu of the file (read as %s)",
                          e ? e->reason : "decoding failed", e ? e->offset : (size_t)0,
                          textenc_kind_name(textenc_stream_kind(&x->enc)));
    }
    return x->rc;
}

int event_xml_feed(struct event_xml *x, const char *buf, size_t len)
{
    if (x->finished)
        return x->rc ? x->rc : RF_EINVAL;
    while (len > 0 && !x->rc) {
        size_t step = len < XR_SLICE ? len : XR_SLICE;
        buf_reset(&x->decoded);
        int rc = textenc_stream_feed(&x->enc, buf, step, &x->decoded);
        /* on a decoding error, the text before the bad byte is parsed first:
         * its events are delivered (or its XML error wins) in any chunking */
        if (x->decoded.len && push_text(x, x->decoded.data, x->decoded.len, false) != RF_OK)
            break;
        if (rc != RF_OK)
            return encoding_error(x, rc);
        buf += step;
        len -= step;
    }
    return x->rc;
}

int event_xml_finish(struct event_xml *x)
{
    if (x->rc || x->finished)
        return x->rc;
    x->finished = true;
    buf_reset(&x->decoded);
    int rc = textenc_stream_finish(&x->enc, &x->decoded);
    if (push_text(x, x->decoded.data ? x->decoded.data : "", x->decoded.len, true) != RF_OK)
        return x->rc;
    if (rc != RF_OK)
        return encoding_error(x, rc);
    if (x->depth > 1 || x->open_tag) {
        x->rc = RF_ETRUNC;
        long line = (long)XML_GetCurrentLineNumber(x->parser);
        if (x->event_depth)
            parse_report_emit(x->sink, true, line, (long)x->fed, -1,
                              "input ends inside the <Event> that starts at line %ld "
                              "(truncated export)",
                              x->event_line);
        else
            parse_report_emit(x->sink, true, line, (long)x->fed, -1,
                              "input ends inside %s (truncated export)",
                              x->open_tag ? "a tag" : "an element");
        return x->rc;
    }
    if (XML_Parse(x->parser, XR_ROOT_CLOSE, (int)strlen(XR_ROOT_CLOSE), XML_TRUE) !=
            XML_STATUS_OK &&
        !x->rc) {
        char reason[PARSE_REPORT_REASON_MAX];
        snprintf(reason, sizeof(reason), "XML error at the end: %s",
                 XML_ErrorString(XML_GetErrorCode(x->parser)));
        stop(x, RF_EFORMAT, reason);
    }
    return x->rc;
}

int event_xml_parse(const char *buf, size_t len, struct rf_arena *arena, parse_record_fn fn,
                    void *ctx, struct parse_sink *sink, struct event_parse_stats *stats)
{
    struct event_xml *x = NULL;
    int rc = event_xml_create(arena, fn, ctx, sink, &x);
    if (rc != RF_OK)
        goto out;
    rc = event_xml_feed(x, buf, len);
    if (rc == RF_OK)
        rc = event_xml_finish(x);
    if (stats)
        event_xml_stats(x, stats);
out:
    event_xml_destroy(x);
    return rc;
}
