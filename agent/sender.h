/*
 * sender.h - the platform HTTP transport behind transport.h: libcurl on
 * POSIX (posix/sender_curl.c), WinHTTP on Windows (win/sender_winhttp.c).
 * Exactly one implementation is linked into rasfleet-agent.
 */
#ifndef RF_AGENT_SENDER_H
#define RF_AGENT_SENDER_H

#include "agent_config.h"
#include "transport.h"

struct sender;

/* Creates the transport for cfg (timeouts, CA file); cfg must outlive it. */
int sender_create(const struct agent_config *cfg, struct sender **out);
void sender_destroy(struct sender *s);
/* transport_post_fn with ctx = the struct sender. */
int sender_post(void *ctx, const struct transport_request *req, struct transport_response *resp);

#endif
