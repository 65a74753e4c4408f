/*
 * event_xml.h - RasClient events from the XML that `wevtutil qe ... /f:xml`,
 * `/f:RenderedXml` or EventLogRecord.ToXml() produce, read as a stream with
 * expat into ras_event records, so a 200 MB export is never held whole.
 *
 * Accepted: a sequence of <Event> elements without a root element (what
 * wevtutil qe prints; the reader wraps the stream in a synthetic root), or
 * an <Events> root; an XML declaration at the start (ending within the
 * first 4 KiB of the text; a longer or unterminated one is a syntax error);
 * elements in the
 * namespace http://schemas.microsoft.com/win/2004/08/events/event or in no
 * namespace; single- or double-quoted attributes; any fraction width in
 * TimeCreated/@SystemTime; RenderingInfo/Message when present. The input may
 * be UTF-8 (with or without BOM) or UTF-16 (textenc.h): it is converted
 * chunk by chunk. Line numbers and offsets in reports are those of the text
 * after that conversion (identical to the file's for UTF-8 without BOM).
 *
 * Only events whose System/Provider/@Name is RasClient (case-insensitively)
 * become records; the others are skipped and counted. Field extraction is
 * event_xml_fields_to_record() below. A RasClient event that cannot become a
 * record (no EventID, no time, a 20227 without a parsable error code, a too
 * long name...) is reported with the line of its <Event> tag and skipped.
 * A syntax error, a decoding error or truncated input stops the reader with
 * an error reported with line and offset; every record completed before it
 * has already been delivered through the callback. Records, result and
 * reports do not depend on how the file is cut into feeds.
 */
#ifndef RASFLEET_EVENT_XML_H
#define RASFLEET_EVENT_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse_report.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"

/* Counters of one parse, shared by the XML and JSON readers. */
struct event_parse_stats {
    size_t emitted;          /* records handed to the callback */
    size_t skipped_provider; /* events of another provider: skipped, not reported */
    size_t skipped_invalid;  /* RasClient events reported and skipped */
};

/* An event's raw fields as text, before validation (NULL = absent). */
#define EVENT_MAX_DATA 8 /* insertion strings kept per event (others counted) */
struct event_fields {
    const char *event_id;  /* decimal */
    const char *record_id; /* decimal */
    const char *level;     /* number (2 error, 3 warning, 4 information) or name */
    const char *time;      /* RFC 3339, or "/Date(ms)/" as Windows PowerShell 5.1 writes it */
    const char *data[EVENT_MAX_DATA];
    size_t n_data; /* insertion strings present (may exceed EVENT_MAX_DATA) */
    const char *message;
};

/*
 * Turns one RasClient event's fields into a ras_event record (strings in
 * arena). Rules (domain notes 1.2, 8.1):
 *  - event_id: 1..65535, required. record_id: 0..2^53-1, 0 when absent.
 *  - level: 1 or 2 -> error, 3 -> warning, anything else -> information;
 *    names (Error, Critical, Warning, Information...) too; when absent
 *    (PowerShell 5.1 projections) 20227 -> error, others -> information.
 *  - time: required.
 *  - coid = Data[0] without braces when it is a GUID, else NULL.
 *  - user = Data[1], connection = Data[2], except where the template of the
 *    event puts them elsewhere: 20268 user = Data[2], connection = Data[1]
 *    (the destination: 20268 names no profile); 20221 connection = Data[4]
 *    (the profile name; Data[2] is the word "VPN"); 20220 connection =
 *    Data[0] and no user; 20223, 20224, 20269-20271 and 20281 carry no
 *    profile name and 20277, 20278 and 20291 no user: the missing one is "".
 *    api-v1 requires both non-empty, so the agent fills a "" connection from
 *    the other events of the same coid or drops the record. Names are
 *    trimmed of surrounding white space; over RF_MAX_NAME_LEN is an error.
 *  - error_code = Data[3] of 20227, decimal (signed or unsigned 32-bit) or
 *    0x-hex, normalised with batch_normalize_code(); required for 20227.
 *  - reason_code = Data[3] of 20226; when unparsable the record is still
 *    made, without reason code, and *note says so.
 *  - message: kept, cut to RF_MAX_MESSAGE_LEN bytes at a character boundary.
 * Returns RF_OK (note[0] != '\0' when there is something to report about
 * the record anyway), RF_EFORMAT with the reason in note, or RF_ENOMEM.
 */
int event_xml_fields_to_record(const struct event_fields *f, struct rf_arena *arena,
                               struct rf_record *out, char *note, size_t note_len);

/* Parses "/Date(1795161662123)/" (optionally "+0100" before ")/", which is
 * ignored: the number is already UTC) or an RFC 3339 time. */
int event_xml_parse_time(const char *s, int64_t *out_ms);

struct event_xml; /* opaque reader state */

/*
 * Creates a reader. Records go to fn(ctx, rec) as soon as their </Event> is
 * read; their strings are allocated in arena (which the caller may switch
 * with event_xml_set_arena(), e.g. after handing a full batch over). sink
 * may be NULL. Returns RF_OK or RF_ENOMEM; *out is freed with
 * event_xml_destroy().
 */
int event_xml_create(struct rf_arena *arena, parse_record_fn fn, void *ctx, struct parse_sink *sink,
                     struct event_xml **out);
void event_xml_set_arena(struct event_xml *x, struct rf_arena *arena);

/*
 * Feeds the next len bytes of the file (any chunking). Returns RF_OK; the
 * callback's non-zero return value (the parse stops); RF_EFORMAT (bad
 * encoding or XML), RF_ETOOBIG (one token or text run over 16 MiB) or
 * RF_ENOMEM, reported to the sink. After an error every call returns it.
 */
int event_xml_feed(struct event_xml *x, const char *buf, size_t len);

/*
 * Ends the input. Returns RF_OK, or RF_ETRUNC when the input stops inside
 * an element, a tag or a character (reported with the line and offset of
 * the end), or an error as event_xml_feed(). Later calls return the same
 * value; feeding after it is RF_EINVAL.
 */
int event_xml_finish(struct event_xml *x);

void event_xml_stats(const struct event_xml *x, struct event_parse_stats *out);
void event_xml_destroy(struct event_xml *x);

/* Whole buffer in one call: create, feed, finish, destroy. stats may be NULL. */
int event_xml_parse(const char *buf, size_t len, struct rf_arena *arena, parse_record_fn fn,
                    void *ctx, struct parse_sink *sink, struct event_parse_stats *stats);

#endif
