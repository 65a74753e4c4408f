/*
 * parse_report.h - how the parsers of the Windows export formats (textenc,
 * pbk_parse, event_xml, event_json, netip_json, vpnconn_json) tell their
 * caller about problems in a file, and how they hand over records.
 *
 * A problem is either non-fatal (one line, event or item is skipped and the
 * parse goes on) or fatal (the parser stops and returns a negative rf_err).
 * Both are delivered as a struct parse_report through the caller's
 * parse_sink; the sink only counts them when it has no callback. A report is
 * a value: the callback copies what it keeps, nothing in it outlives the call.
 * The module also holds the plumbing the JSON readers share.
 */
#ifndef RASFLEET_PARSE_REPORT_H
#define RASFLEET_PARSE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "rasfleet/record.h"

#define PARSE_REPORT_PATH_MAX 256
#define PARSE_REPORT_REASON_MAX 256

struct parse_report {
    char path[PARSE_REPORT_PATH_MAX]; /* the sink's path (truncated), "" when none */
    long line;                        /* 1-based line in the decoded text, 0 when unknown */
    long offset;                      /* byte offset in the decoded (UTF-8) text; for bytes that
                                         could not be decoded, in the file; -1 when unknown */
    long item;  /* 0-based element of a JSON array (0 for a bare object), -1 when n/a */
    bool fatal; /* true: the parser stopped here and returned an error */
    char reason[PARSE_REPORT_REASON_MAX]; /* one sentence for a person */
};

typedef void (*parse_report_fn)(void *ctx, const struct parse_report *r);

/*
 * Where reports go. Every field may be zero: a zeroed sink only counts.
 * The parsers take a pointer that may also be NULL (reports are dropped).
 */
struct parse_sink {
    const char *path;   /* source name copied into each report (a file path) */
    parse_report_fn fn; /* called once per problem */
    void *ctx;
    size_t n_reports; /* incremented for every report, fatal or not */
    size_t n_fatal;   /* incremented for fatal reports */
};

/*
 * A parser hands each record to the caller through this callback. The
 * record's strings live in the arena the caller gave the parser; the record
 * struct itself is the parser's and is only valid during the call, so the
 * callback copies it (e.g. into rf_batch.records). A non-zero return stops
 * the parse, and the parser returns that value.
 */
typedef int (*parse_record_fn)(void *ctx, const struct rf_record *rec);

/* Builds a report and delivers it to sink (no-op when sink is NULL). */
void parse_report_emit(struct parse_sink *sink, bool fatal, long line, long offset, long item,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Line (1-based) of byte offset off in text[0..len): counts '\n' before it. */
long parse_line_of(const char *text, size_t len, size_t off);

struct cJSON;

/*
 * Shared first step of the JSON readers: decodes the raw file bytes
 * (textenc: UTF-8 with or without BOM, UTF-16) and parses them as one JSON
 * value followed only by white space. Inputs over max_len are refused with
 * RF_ETOOBIG. Undecodable bytes or invalid JSON give RF_EFORMAT; both are
 * reported as fatal with line and offset (of the decoded text). On RF_OK
 * the caller owns *root and frees it with cJSON_Delete().
 */
int parse_json_document(const char *raw, size_t len, size_t max_len, struct parse_sink *sink,
                        struct cJSON **root);

#endif
