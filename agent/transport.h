/*
 * transport.h - how the agent core POSTs a batch, independent of the HTTP
 * library: libcurl on POSIX (agent/posix/sender_curl.c), WinHTTP on
 * Windows (agent/win/sender_winhttp.c), a fake in the unit tests.
 */
#ifndef RF_AGENT_TRANSPORT_H
#define RF_AGENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct transport_request {
    const char *url;   /* full ingest URL */
    const char *token; /* bearer token (never logged) */
    const char *device_id;
    const char *batch_id;
    const void *body; /* gzip-compressed JSON batch */
    size_t len;
};

struct transport_response {
    long status;            /* HTTP status; 0 when no answer arrived */
    int64_t retry_after_ms; /* parsed Retry-After, -1 when absent */
    char error[512];        /* transport failure in words (status 0) */
    char body[512];         /* start of the answer body, NUL-terminated */
};

/*
 * Sends one request. Returns RF_OK when an HTTP answer arrived (any status)
 * and RF_EIO when none did (refused, reset, timeout, TLS failure), with
 * resp->error saying which. Must be callable repeatedly from one thread.
 */
typedef int (*transport_post_fn)(void *ctx, const struct transport_request *req,
                                 struct transport_response *resp);

struct transport {
    transport_post_fn post;
    void *ctx;
};

#endif
