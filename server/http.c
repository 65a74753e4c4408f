/*
 * http.c - libmicrohttpd front. See http.h.
 *
 * A request's context (struct request) lives from the first handler call to
 * MHD's "completed" notification. For ingest it walks NEW -> UPLOADING ->
 * WAITING (suspended, batch owned by the writer) -> DONE (resumed, answer
 * queued). Early refusals (auth, type, size) are answered before the body is
 * read, so a 413 never buffers the oversized body.
 */
#include "http.h"
#include "dburl.h"
#include "fleet.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "static_files.h"
#include "store.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct config cfg;
    struct writer *writer;
    struct auth *auth;
    http_api_fn api;
    void *api_arg;
    struct fleet *fleet;
    int (*status_metrics)(void *arg, struct buf *b);
    int (*status_health)(void *arg, struct buf *b);
    void *status_arg;
    struct ratelimit *rl_device, *rl_token;
    char *tls_cert, *tls_key; /* PEM, loaded once */
    _Atomic int inflight;
    double start_time;
};

enum req_state { REQ_NEW, REQ_UPLOADING, REQ_WAITING, REQ_DONE };

struct request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    enum metrics_route route;
    enum req_state state;
    struct ingest_request ingest;
    struct buf body;
    struct writer_result result; /* written by the writer before resume */
    bool answered;               /* a response is queued */
};

static void add_common_headers(struct MHD_Response *r, const char *content_type)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (strncmp(content_type, "text/html", 9) == 0)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self';"
                                " img-src 'self' data:; object-src 'none'; base-uri 'none';"
                                " frame-ancestors 'none'; form-action 'self'");
    else
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; frame-ancestors 'none'");
}

/* Queues an answer; takes the bytes by copy. */
static enum MHD_Result respond(struct request *req, int status, const char *content_type,
                               const char *body, size_t len, const char *retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    add_common_headers(r, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (retry_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"rasfleet\"");
    if (status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                req->route == ROUTE_INGEST ? "POST" : "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    req->answered = true;
    metrics_count_request(req->route, status);
    return ret;
}

static enum MHD_Result respond_error(struct request *req, int status, enum metrics_reject reason,
                                     const char *message, const char *retry_after)
{
    struct ingest_refusal ref = {.http_status = status, .reason = reason, .record_index = -1};
    snprintf(ref.message, sizeof(ref.message), "%s", message);
    struct buf b = BUF_INIT;
    metrics_count_reject(reason);
    enum MHD_Result ret = MHD_NO;
    if (ingest_refusal_json(&ref, &b) == RF_OK)
        ret = respond(req, status, "application/json", b.data, b.len, retry_after);
    buf_free(&b);
    return ret;
}

static enum MHD_Result respond_refusal(struct request *req, const struct ingest_refusal *ref)
{
    struct buf b = BUF_INIT;
    metrics_count_reject(ref->reason);
    enum MHD_Result ret = MHD_NO;
    if (ingest_refusal_json(ref, &b) == RF_OK)
        ret = respond(req, ref->http_status, "application/json", b.data, b.len, NULL);
    buf_free(&b);
    return ret;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ---- ingest ---- */

static void ingest_done(void *arg, const struct writer_result *res)
{
    struct request *req = arg;
    req->result = *res;
    req->state = REQ_DONE;
    MHD_resume_connection(req->conn);
}

/* First call: everything decidable from the headers. Returns MHD_YES with
 * req->state == REQ_UPLOADING to read the body, or after queueing a refusal. */
static enum MHD_Result ingest_begin(struct request *req, const char *method)
{
    struct http_server *s = req->srv;
    struct MHD_Connection *c = req->conn;
    if (strcmp(method, "POST") != 0)
        return respond_error(req, 405, REJECT_METHOD_NOT_ALLOWED, "use POST to send a batch",
                             NULL);
    enum auth_role role = auth_check(s->auth, header(c, MHD_HTTP_HEADER_AUTHORIZATION));
    if (role == AUTH_NONE)
        return respond_error(req, 401, REJECT_UNAUTHORIZED,
                             "a valid agent or admin token is required (Authorization: Bearer)",
                             NULL);
    if (!auth_allows(role, AUTH_AGENT))
        return respond_error(req, 403, REJECT_FORBIDDEN,
                             "this token may not ingest (reader tokens only read)", NULL);
    int retry = 0;
    if (!ratelimit_take(s->rl_token, header(c, MHD_HTTP_HEADER_AUTHORIZATION), time_now_ms(),
                        &retry)) {
        char after[16];
        snprintf(after, sizeof(after), "%d", retry);
        return respond_error(req, 429, REJECT_RATE_LIMITED,
                             "this token is over its request rate; retry after the delay", after);
    }
    if (!ingest_content_type(header(c, MHD_HTTP_HEADER_CONTENT_TYPE), &req->ingest.ndjson))
        return respond_error(req, 415, REJECT_UNSUPPORTED_MEDIA_TYPE,
                             "Content-Type must be application/json or application/x-ndjson",
                             NULL);
    if (!ingest_content_encoding(header(c, MHD_HTTP_HEADER_CONTENT_ENCODING), &req->ingest.gzip))
        return respond_error(req, 415, REJECT_UNSUPPORTED_ENCODING,
                             "Content-Encoding must be gzip or identity", NULL);
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > s->cfg.max_body_bytes) {
            char msg[128];
            snprintf(msg, sizeof(msg), "body is %llu bytes, the limit is %zu", n,
                     s->cfg.max_body_bytes);
            return respond_error(req, 413, REJECT_BODY_TOO_LARGE, msg, NULL);
        }
        if (buf_reserve(&req->body, (size_t)n) != RF_OK)
            return MHD_NO;
    }
    if (req->ingest.ndjson) {
        struct rf_agent_info *a = &req->ingest.header_agent;
        a->device_id = header(c, RF_HDR_DEVICE);
        a->hostname = header(c, RF_HDR_HOSTNAME);
        a->os_version = header(c, RF_HDR_OS_VERSION);
        a->agent_version = header(c, RF_HDR_AGENT_VERSION);
        req->ingest.header_batch_id = header(c, RF_HDR_BATCH);
        if (!a->device_id || !req->ingest.header_batch_id)
            return respond_error(req, 400, REJECT_MISSING_HEADER,
                                 "NDJSON needs the " RF_HDR_DEVICE " and " RF_HDR_BATCH
                                 " headers",
                                 NULL);
    }
    req->state = REQ_UPLOADING;
    return MHD_YES;
}

static enum MHD_Result ingest_finish(struct request *req)
{
    struct http_server *s = req->srv;
    struct ingest_limits lim = {.max_body_bytes = s->cfg.max_body_bytes,
                                .max_inflated_bytes = s->cfg.max_inflated_bytes,
                                .max_records = s->cfg.max_records};
    struct ingest_refusal ref;
    struct rf_batch batch;
    size_t bytes = 0;
    enum MHD_Result ret;
    int rc = ingest_decode(&lim, &req->ingest, req->body.data ? req->body.data : "",
                           req->body.len, &batch, &bytes, &ref);
    buf_free(&req->body);
    if (rc == RF_ENOMEM) {
        ret = respond_error(req, 503, REJECT_QUEUE_FULL, "collector is out of memory", "5");
        goto out;
    }
    if (rc != RF_OK) {
        ret = respond_refusal(req, &ref);
        goto out;
    }
    int retry = 0;
    if (!ratelimit_take(s->rl_device, batch.agent.device_id, time_now_ms(), &retry)) {
        char after[16], msg[160];
        snprintf(after, sizeof(after), "%d", retry);
        snprintf(msg, sizeof(msg), "device is over its rate of %u batches per minute",
                 s->cfg.rate_device_per_minute);
        ret = respond_error(req, 429, REJECT_RATE_LIMITED, msg, after);
        goto out;
    }
    /* Suspend before submitting: the writer may finish before we return. */
    req->state = REQ_WAITING;
    MHD_suspend_connection(req->conn);
    rc = writer_submit(s->writer, &batch, bytes, ingest_done, req);
    if (rc == RF_OK) {
        ret = MHD_YES;
        goto out;
    }
    req->state = REQ_DONE;
    req->result.status = rc;
    snprintf(req->result.message, sizeof(req->result.message), "%s",
             rc == RF_EBUSY      ? "the collector's write queue is full; retry after the delay"
             : rc == RF_ESTOPPED ? "the collector is shutting down; retry later"
                                 : "the collector could not queue the batch");
    MHD_resume_connection(req->conn);
    ret = MHD_YES;
out:
    rf_batch_free(&batch);
    return ret;
}

static enum MHD_Result ingest_answer(struct request *req)
{
    const struct writer_result *res = &req->result;
    switch (res->status) {
    case RF_OK: {
        char body[96];
        int n = snprintf(body, sizeof(body), "{\"accepted\":%zu,\"duplicate\":%s}", res->accepted,
                         res->duplicate ? "true" : "false");
        return respond(req, 200, "application/json", body, (size_t)n, NULL);
    }
    case RF_EBUSY:
        return respond_error(req, 503, REJECT_QUEUE_FULL, res->message, "1");
    case RF_ESTOPPED:
        return respond_error(req, 503, REJECT_SHUTTING_DOWN, res->message, "5");
    case RF_ESTORAGE:
        return respond_error(req, 503, REJECT_STORAGE_UNAVAILABLE, res->message, "10");
    default:
        return respond_error(req, 500, REJECT_INTERNAL, res->message, NULL);
    }
}

static enum MHD_Result handle_ingest(struct request *req, const char *method,
                                     const char *upload_data, size_t *upload_data_size)
{
    struct http_server *s = req->srv;
    if (req->answered) { /* refused early: discard whatever still arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (req->state) {
    case REQ_NEW:
        return ingest_begin(req, method);
    case REQ_UPLOADING:
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (req->body.len + n > s->cfg.max_body_bytes) {
                req->state = REQ_DONE; /* refuse now; the rest is never buffered */
                buf_free(&req->body);
                char msg[128];
                snprintf(msg, sizeof(msg), "body is over the limit of %zu bytes",
                         s->cfg.max_body_bytes);
                return respond_error(req, 413, REJECT_BODY_TOO_LARGE, msg, NULL);
            }
            return buf_append(&req->body, upload_data, n) == RF_OK ? MHD_YES : MHD_NO;
        }
        return ingest_finish(req);
    case REQ_WAITING:
        *upload_data_size = 0;
        return MHD_YES;
    case REQ_DONE:
        *upload_data_size = 0;
        return req->answered ? MHD_YES : ingest_answer(req);
    }
    return MHD_NO;
}

/* ---- operations ---- */

static enum MHD_Result handle_healthz(struct request *req)
{
    struct writer_stats st;
    writer_get_stats(req->srv->writer, &st);
    if (!st.healthy) {
        return respond_error(req, 503, REJECT_STORAGE_UNAVAILABLE,
                             "the database refuses writes (disk full, read-only or I/O error)",
                             "10");
    }
    struct http_server *s = req->srv;
    struct buf b = BUF_INIT;
    int rc = buf_printf(&b,
                        "{\"status\":\"ok\",\"queue_depth\":%zu,\"queue_capacity\":%zu,"
                        "\"devices_known\":%lld,\"version\":\"%s\",\"analyzer\":\"%s\"",
                        st.queue_depth, st.queue_capacity, (long long)st.devices_known,
                        RF_VERSION, metrics_analyzer_leader() ? "leader" : "follower");
    if (rc == RF_OK && s->status_health)
        rc = s->status_health(s->status_arg, &b);
    if (rc == RF_OK)
        rc = buf_append_char(&b, '}');
    enum MHD_Result ret = rc == RF_OK ? respond(req, 200, "application/json", b.data, b.len, NULL)
                                      : MHD_NO;
    buf_free(&b);
    return ret;
}

static enum MHD_Result handle_metrics(struct request *req)
{
    struct http_server *s = req->srv;
    struct writer_stats st = {0};
    writer_get_stats(s->writer, &st);
    struct metrics_gauges g = {
        .queue_depth = (int64_t)st.queue_depth,
        .queue_capacity = (int64_t)st.queue_capacity,
        .queue_bytes = (int64_t)st.queue_bytes,
        .database_bytes = dburl_is_postgres(s->cfg.db_path) ? st.database_bytes
                                                            : store_disk_bytes(s->cfg.db_path),
        .healthy = st.healthy,
        .devices_known = st.devices_known,
        .start_time = s->start_time,
    };
    if (s->fleet) {
        struct fleet_agent_totals at;
        fleet_lock_read(s->fleet);
        g.hot_bytes = (int64_t)fleet_memory_bytes(s->fleet);
        fleet_agent_totals(s->fleet, &at);
        fleet_unlock(s->fleet);
        g.agents_reporting = (int64_t)at.reporting;
        g.agents_dropping = (int64_t)at.dropping;
        g.agent_spool_bytes = at.spool_bytes;
        g.agent_spool_batches = at.spool_batches;
        g.agent_dropped_batches = at.dropped_batches;
    }
    struct buf b = BUF_INIT;
    enum MHD_Result ret = MHD_NO;
    int rc = metrics_render(&g, &b);
    if (rc == RF_OK && s->status_metrics)
        rc = s->status_metrics(s->status_arg, &b);
    if (rc == RF_OK)
        ret = respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    buf_free(&b);
    return ret;
}

static const char *api_arg(const struct http_api_request *ar, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ar->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

static enum MHD_Result handle_api(struct request *req, const char *url, const char *method)
{
    struct http_server *s = req->srv;
    enum auth_role role = auth_check(s->auth, header(req->conn, MHD_HTTP_HEADER_AUTHORIZATION));
    if (role == AUTH_NONE)
        return respond_error(req, 401, REJECT_UNAUTHORIZED,
                             "a valid reader or admin token is required (Authorization: Bearer)",
                             NULL);
    if (!auth_allows(role, AUTH_READER))
        return respond_error(req, 403, REJECT_FORBIDDEN,
                             "this token may not read (agent tokens only ingest)", NULL);
    if (!s->api)
        return respond_error(req, 404, REJECT_NOT_FOUND, "no such endpoint", NULL);
    struct http_api_request ar = {.method = method,
                                  .path = url,
                                  .role = role,
                                  .arg = api_arg,
                                  .body = req->body.data ? req->body.data : "",
                                  .body_len = req->body.len,
                                  .conn = req->conn};
    struct http_api_response res = {.status = 200, .content_type = "application/json"};
    buf_init(&res.body);
    enum MHD_Result ret;
    int rc = s->api(s->api_arg, &ar, &res);
    if (rc == RF_ENOTFOUND)
        ret = respond_error(req, 404, REJECT_NOT_FOUND, "no such endpoint", NULL);
    else if (rc == RF_ESTORAGE) /* a read the database could not answer now */
        ret = respond_error(req, 503, REJECT_STORAGE_UNAVAILABLE,
                            "the database cannot answer this read now; retry later", "10");
    else if (rc != RF_OK)
        ret = respond_error(req, 500, REJECT_INTERNAL, "the query failed", NULL);
    else
        ret = respond(req, res.status, res.content_type, res.body.data ? res.body.data : "",
                      res.body.len, NULL);
    buf_free(&res.body);
    return ret;
}

static enum MHD_Result handle_static(struct request *req, const char *url)
{
    struct buf b = BUF_INIT;
    const char *type = NULL;
    const char *dir = req->srv->cfg.web_dir[0] ? req->srv->cfg.web_dir : static_default_dir();
    enum MHD_Result ret;
    int rc = static_file_load(dir, url, &b, &type);
    if (rc == RF_OK)
        ret = respond(req, 200, type, b.data, b.len, NULL);
    else if (rc == RF_ENOTFOUND)
        ret = respond_error(req, 404, REJECT_NOT_FOUND, "no such page", NULL);
    else
        ret = respond_error(req, 500, REJECT_INTERNAL, "cannot read the dashboard file", NULL);
    buf_free(&b);
    return ret;
}

static enum metrics_route route_of(const char *url)
{
    if (strcmp(url, RF_PATH_INGEST) == 0)
        return ROUTE_INGEST;
    if (strcmp(url, "/healthz") == 0)
        return ROUTE_HEALTHZ;
    if (strcmp(url, "/metrics") == 0)
        return ROUTE_METRICS;
    if (strncmp(url, "/api/", 5) == 0)
        return ROUTE_API;
    return ROUTE_STATIC;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        req->srv = s;
        req->conn = conn;
        req->route = route_of(url);
        buf_init(&req->body);
        *con_cls = req;
        atomic_fetch_add(&s->inflight, 1);
    }
    if (req->route == ROUTE_INGEST)
        return handle_ingest(req, method, upload_data, upload_data_size);
    if (*upload_data_size) { /* small bodies only (admin settings), capped */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->route != ROUTE_API || req->body.len + n > 65536)
            return req->answered ? MHD_YES
                                 : respond_error(req, 413, REJECT_BODY_TOO_LARGE,
                                                 "request body too large", NULL);
        return buf_append(&req->body, upload_data, n) == RF_OK ? MHD_YES : MHD_NO;
    }
    if (req->answered)
        return MHD_YES;
    if (req->route == ROUTE_API && (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0)) {
        /* The first call comes before any body byte: wait for the body's
         * end (the call with no data after the uploads) before handling. */
        if (req->state == REQ_NEW) {
            req->state = REQ_UPLOADING;
            return MHD_YES;
        }
        return handle_api(req, url, method);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_error(req, 405, REJECT_METHOD_NOT_ALLOWED, "method not allowed", NULL);
    switch (req->route) {
    case ROUTE_HEALTHZ:
        return handle_healthz(req);
    case ROUTE_METRICS:
        return handle_metrics(req);
    case ROUTE_API:
        return handle_api(req, url, method);
    default:
        return handle_static(req, url);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct http_server *s = cls;
    struct request *req = *con_cls;
    if (!req)
        return;
    buf_free(&req->body);
    free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void http_free(struct http_server *s)
{
    ratelimit_destroy(s->rl_device);
    ratelimit_destroy(s->rl_token);
    free(s->tls_cert);
    free(s->tls_key);
    free(s);
}

/* Reads a PEM file whole (certificates and keys are small). */
static int read_pem(const char *path, char **out, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    if (!f) {
        snprintf(why, whylen, "cannot read %s", path);
        return RF_EIO;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
        buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data || !strstr(b.data, "-----BEGIN")) {
        snprintf(why, whylen, "%s is not a PEM file", path);
        buf_free(&b);
        return RF_EFORMAT;
    }
    *out = buf_detach(&b, NULL);
    return RF_OK;
}

int http_start(const struct config *cfg, struct writer *w, struct auth *auth,
               const struct http_services *services, struct http_server **out, char *errbuf,
               size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return RF_ENOMEM;
    if (services) {
        s->api = services->api;
        s->api_arg = services->api_arg;
        s->fleet = services->fleet;
        s->status_metrics = services->status_metrics;
        s->status_health = services->status_health;
        s->status_arg = services->status_arg;
    }
    s->cfg = *cfg;
    s->writer = w;
    s->auth = auth;
    s->start_time = (double)time_now_ms() / 1000.0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)cfg->listen_port);
    } else if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(errbuf, errlen, "listen address '%s' is not an IPv4 or IPv6 address",
                 cfg->listen_host);
        http_free(s);
        return RF_EINVAL;
    }
    if (ratelimit_create(cfg->rate_device_per_minute, cfg->rate_device_burst, &s->rl_device) !=
            RF_OK ||
        ratelimit_create(cfg->rate_token_per_minute, cfg->rate_token_burst, &s->rl_token) !=
            RF_OK) {
        http_free(s);
        return RF_ENOMEM;
    }
    struct MHD_OptionItem opts[16];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL};
    if (cfg->tls_cert[0] || cfg->tls_key[0]) {
        char why[256];
        if (read_pem(cfg->tls_cert, &s->tls_cert, why, sizeof(why)) != RF_OK ||
            read_pem(cfg->tls_key, &s->tls_key, why, sizeof(why)) != RF_OK) {
            snprintf(errbuf, errlen, "TLS: %s", why);
            http_free(s);
            return RF_EIO;
        }
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        /* TLS 1.2 and 1.3 only */
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                            (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY,
                                 opts, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errbuf, errlen,
                 "cannot listen on %s:%u (address in use, not permitted, or a bad TLS "
                 "certificate/key)",
                 cfg->listen_host, cfg->listen_port);
        http_free(s);
        return RF_EIO;
    }
    *out = s;
    return RF_OK;
}

unsigned http_port(struct http_server *s)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_quiesce(struct http_server *s)
{
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_wait_idle(struct http_server *s, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms && atomic_load(&s->inflight) > 0; waited += 10)
        usleep(10000);
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    http_free(s);
}
