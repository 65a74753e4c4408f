/*
 * event_json.h - RasClient events from PowerShell JSON (Get-WinEvent piped to
 * ConvertTo-Json) into ras_event records, with the same field rules and the
 * same problem reporting as the XML reader (event_xml_fields_to_record()).
 *
 * Accepted shapes: a single object or an array of objects, in UTF-8 (BOM
 * allowed) or UTF-16 (textenc.h), with LF or CRLF:
 *  - the PowerShell 7 projection: Id (or EventID), RecordId, Level, TimeCreated (ISO 8601,
 *    any fraction width), Data (array of strings or numbers), Message;
 *  - the Windows PowerShell 5.1 shape: Properties (array of {"Value": ...}),
 *    TimeCreated as "\/Date(ms)\/" (or the {"value": "\/Date(ms)\/", ...}
 *    object 5.1 writes for some dates), no RecordId (record_id 0) and no
 *    Level (20227 is taken as an error, the rest as information).
 * Keys are matched case-insensitively (PowerShell property names are).
 * When ProviderName is present it must be RasClient, else the event is
 * skipped and counted. Problems with one element are reported with its
 * index (parse_report.item) and the element is skipped; JSON that does not
 * parse, or a root that is neither an object nor an array, is fatal
 * (RF_EFORMAT, reported with line and offset).
 *
 * The whole document is parsed in memory (cJSON), so the input is capped
 * at EVENT_JSON_MAX_INPUT; big exports should use the XML reader.
 */
#ifndef RASFLEET_EVENT_JSON_H
#define RASFLEET_EVENT_JSON_H

#include <stddef.h>

#include "event_xml.h"
#include "parse_report.h"
#include "rasfleet/arena.h"

#define EVENT_JSON_MAX_INPUT (16u << 20) /* a cJSON tree takes several times this */

/*
 * Parses buf[0..len) (raw file bytes) and hands every record to fn(ctx, rec)
 * in document order; record strings are allocated in arena. sink and stats
 * may be NULL. Returns RF_OK, the callback's non-zero value (parse stopped),
 * RF_EFORMAT, RF_ETOOBIG (input over EVENT_JSON_MAX_INPUT) or RF_ENOMEM.
 */
int event_json_parse(const char *buf, size_t len, struct rf_arena *arena, parse_record_fn fn,
                     void *ctx, struct parse_sink *sink, struct event_parse_stats *stats);

#endif
