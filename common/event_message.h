/*
 * event_message.h - the English text Windows renders for the RasClient
 * events whose every insert is a field of the record: 20226 (disconnect)
 * and 20227 (failure), docs/catalogue.md.
 *
 *   CoId={%1}: The user %2 dialed a connection named %3 which has failed.
 *   The error code returned on failure is %4.
 *
 * Such a message repeats the CoId, user, connection and code that the
 * record carries anyway and is half of an events row. Both writers store
 * a message that equals its rendering as a mark
 * (events.message_template = 1) instead of the text, and the API renders
 * it back: the same bytes, a third less disk and writer time per event
 * (docs/benchmarks.md). A message that differs in any byte (another
 * display language, a changed wording, a cut message) is stored as sent.
 */
#ifndef RASFLEET_EVENT_MESSAGE_H
#define RASFLEET_EVENT_MESSAGE_H

#include "buf.h"
#include "rasfleet/record.h"

#include <stdbool.h>
#include <stdint.h>

/* The value of events.message_template for the text below. */
#define EVENT_MESSAGE_TEMPLATE_EN 1

/* True when the event has a template and message is exactly its rendering
 * from coid, user, connection and code (the error code for 20227, the
 * reason code for 20226). NULL fields never match. */
bool event_message_matches(int event_id, const char *coid, const char *user, const char *connection,
                           int64_t code, const char *message);

/* event_message_matches() on a record's own fields and the code its
 * template names (20226: reason code, 20227: error code; absent: false).
 * What both writers store as a mark. */
bool event_message_is_template(const struct rf_ras_event *e);

/* Appends the rendering to out: RF_OK, RF_ENOTFOUND (no template for the
 * event or a field missing), or RF_ENOMEM. */
int event_message_render(int event_id, const char *coid, const char *user, const char *connection,
                         int64_t code, struct buf *out);

#endif
