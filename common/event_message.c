/*
 * event_message.c - renders and recognises the 20226/20227 message text.
 * See event_message.h.
 */
#include "event_message.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* "CoId={" coid "}: The user " user " dialed a connection named " conn
 * tail code "." */
static const char *tail_of(int event_id)
{
    switch (event_id) {
    case 20226:
        return " which has terminated. The reason code returned on termination is ";
    case 20227:
        return " which has failed. The error code returned on failure is ";
    default:
        return NULL;
    }
}

/* Consumes want from *s when it starts there. */
static bool eat(const char **s, const char *want)
{
    size_t n = strlen(want);
    if (strncmp(*s, want, n) != 0)
        return false;
    *s += n;
    return true;
}

bool event_message_matches(int event_id, const char *coid, const char *user, const char *connection,
                           int64_t code, const char *message)
{
    const char *tail = tail_of(event_id);
    if (!tail || !coid || !user || !connection || !message)
        return false;
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64 ".", code);
    const char *s = message;
    return eat(&s, "CoId={") && eat(&s, coid) && eat(&s, "}: The user ") && eat(&s, user) &&
           eat(&s, " dialed a connection named ") && eat(&s, connection) && eat(&s, tail) &&
           eat(&s, num) && *s == '\0';
}

bool event_message_is_template(const struct rf_ras_event *e)
{
    bool reason = e->event_id == 20226;
    if (!(reason ? e->has_reason_code : e->has_error_code))
        return false;
    return event_message_matches(e->event_id, e->coid, e->user, e->connection,
                                 reason ? e->reason_code : e->error_code, e->message);
}

int event_message_render(int event_id, const char *coid, const char *user, const char *connection,
                         int64_t code, struct buf *out)
{
    const char *tail = tail_of(event_id);
    if (!tail || !coid || !user || !connection)
        return RF_ENOTFOUND;
    return buf_printf(out, "CoId={%s}: The user %s dialed a connection named %s%s%" PRId64 ".",
                      coid, user, connection, tail, code);
}
