/*
 * parse_report.c - building and delivering parser problem reports, and the
 * decode-and-parse step of the JSON readers. See parse_report.h.
 */
#include "parse_report.h"
#include "utf8.h"
#include "buf.h"
#include "rasfleet/result.h"
#include "textenc.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void parse_report_emit(struct parse_sink *sink, bool fatal, long line, long offset, long item,
                       const char *fmt, ...)
{
    if (!sink)
        return;
    sink->n_reports++;
    if (fatal)
        sink->n_fatal++;
    if (!sink->fn)
        return;
    struct parse_report r;
    memset(&r, 0, sizeof(r));
    snprintf(r.path, sizeof(r.path), "%s", sink->path ? sink->path : "");
    r.line = line;
    r.offset = offset;
    r.item = item;
    r.fatal = fatal;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
    utf8_sanitize_message(r.reason);
    va_end(ap);
    sink->fn(sink->ctx, &r);
}

long parse_line_of(const char *text, size_t len, size_t off)
{
    long line = 1;
    if (off > len)
        off = len;
    for (const char *p = text, *end = text + off; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        line++;
        p = nl + 1;
    }
    return line;
}

int parse_json_document(const char *raw, size_t len, size_t max_len, struct parse_sink *sink,
                        struct cJSON **root)
{
    struct buf text = BUF_INIT;
    struct textenc_error err = {0, NULL, false};
    enum textenc_kind kind;
    const char *end = NULL;
    int rc;
    *root = NULL;
    if (len > max_len) {
        parse_report_emit(sink, true, 0, 0, -1, "input is %zu bytes, the limit is %zu", len,
                          max_len);
        rc = RF_ETOOBIG;
        goto out;
    }
    rc = textenc_decode(raw, len, &text, &kind, &err);
    if (rc == RF_EFORMAT) {
        parse_report_emit(sink, true, 0, (long)err.offset, -1,
                          "%s at byte %zu of the file (read as %s)", err.reason, err.offset,
                          textenc_kind_name(kind));
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    const char *t = text.data ? text.data : "";
    cJSON *doc = cJSON_ParseWithLengthOpts(t, text.len, &end, false);
    if (doc) {
        while (end < t + text.len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end != t + text.len) {
            cJSON_Delete(doc);
            doc = NULL;
        }
    }
    if (!doc) {
        size_t off = end && end >= t && end <= t + text.len ? (size_t)(end - t) : 0;
        if (!end) {
            const char *e = cJSON_GetErrorPtr();
            off = e && e >= t && e <= t + text.len ? (size_t)(e - t) : 0;
        }
        parse_report_emit(sink, true, parse_line_of(t, text.len, off), (long)off, -1, "%s",
                          text.len ? "invalid JSON" : "empty input: no JSON value");
        rc = RF_EFORMAT;
        goto out;
    }
    *root = doc;
    rc = RF_OK;
out:
    buf_free(&text);
    return rc;
}
