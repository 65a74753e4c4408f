/*
 * http.h - the collector's HTTP front on libmicrohttpd: routing, auth,
 * ingest request lifecycle, health, metrics and security headers.
 *
 * Threading: libmicrohttpd's internal thread pool (epoll) runs the request
 * handlers, which parse and validate bodies; the writer thread commits.
 * While a batch waits for its commit its connection is suspended
 * (MHD_suspend_connection), so no thread is blocked per request; the
 * writer's done callback resumes it and the answer is sent.
 */
#ifndef RASFLEET_HTTP_H
#define RASFLEET_HTTP_H

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "writer.h"

struct http_server;

/* Optional read-side handler for GET /api/v1/... (the read API). Fills
 * status, content type and body; returns RF_OK or RF_ENOTFOUND for an unknown
 * path. */
struct http_api_request {
    const char *method; /* "GET", "PUT", ... */
    const char *path;   /* e.g. "/api/v1/overview" (no query string) */
    enum auth_role role;
    /* Query-string argument by name (URL-decoded), NULL when absent. */
    const char *(*arg)(const struct http_api_request *req, const char *name);
    const char *body; /* request body for PUT/POST (NUL-terminated), "" when none */
    size_t body_len;
    void *conn;       /* private to http.c */
};
struct http_api_response {
    int status;
    const char *content_type;
    struct buf body;
};
typedef int (*http_api_fn)(void *arg, const struct http_api_request *req,
                           struct http_api_response *res);

struct fleet;

/* What the front serves besides ingest; every member may be NULL. */
struct http_services {
    http_api_fn api; /* the read API */
    void *api_arg;
    struct fleet *fleet; /* reported in /metrics (hot aggregate memory) */
    /* Optional: append more series to /metrics (Prometheus text) and more
     * members (",\"key\":value") to /healthz's object. */
    int (*status_metrics)(void *arg, struct buf *b);
    int (*status_health)(void *arg, struct buf *b);
    void *status_arg;
};

int http_start(const struct config *cfg, struct writer *w, struct auth *auth,
               const struct http_services *services, struct http_server **out, char *errbuf,
               size_t errlen);
/* Port actually bound (useful with port 0). */
unsigned http_port(struct http_server *s);
/* Stops accepting new connections; requests in progress go on. */
void http_quiesce(struct http_server *s);
/* Waits up to timeout_ms for requests in progress to be answered. */
void http_wait_idle(struct http_server *s, int timeout_ms);
void http_stop(struct http_server *s);

#endif
