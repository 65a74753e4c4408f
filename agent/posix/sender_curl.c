/*
 * sender_curl.c - the agent's HTTP transport on POSIX: one libcurl easy
 * handle reused for every POST (keep-alive), TLS verification always on
 * (--ca-file names the CA bundle to use), proxies from the environment
 * (libcurl's default: http_proxy, https_proxy, no_proxy), connect and total
 * timeouts. A failure is described for the user (describe_failure): a TLS
 * refusal says which check failed and what to change.
 *
 * Which libcurl (agent/CMakeLists.txt, RF_AGENT_CURL):
 *   minimal (RF_CURL_STATIC): a libcurl built from Debian's source package
 *     for HTTP and HTTPS only (deploy/build-curl-min.sh), linked statically
 *     with OpenSSL: a run touches only the pages of the code it runs; a
 *     sending run peaks at 7.0 MB, 12.8 MB with Debian's libcurl
 *     (docs/agent.md, "Performance").
 *   system: Debian's libcurl, loaded with dlopen() on the first POST, not
 *     linked: it pulls in OpenSSL, libssh2, LDAP, Kerberos, nghttp2... whose
 *     loading alone costs ~8 MB of resident memory, and most agent runs
 *     (nothing new since the last one) send nothing at all.
 * Either way the sender calls libcurl through struct curl_api.
 */
#include "sender.h"
#include "backoff.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "timeutil.h"

#include <curl/curl.h>
#ifndef RF_CURL_STATIC
#include <dlfcn.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The libcurl functions the sender uses, resolved by load_curl(). */
struct curl_api {
    void *lib; /* the dlopen() handle; NULL when linked (RF_CURL_STATIC) */
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
};

struct sender {
    struct curl_api api;
    CURL *curl;
    const struct agent_config *cfg;
    char load_error[200];
};

struct answer {
    struct transport_response *resp;
    size_t body_len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t len = size * n, room = sizeof(a->resp->body) - 1 - a->body_len;
    size_t take = len < room ? len : room;
    memcpy(a->resp->body + a->body_len, p, take);
    a->body_len += take;
    a->resp->body[a->body_len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct answer *a = ud;
    size_t len = size * n;
    const char *name = "Retry-After:";
    size_t nl = strlen(name);
    if (len > nl && strncasecmp(p, name, nl) == 0) {
        char v[128];
        size_t vl = len - nl < sizeof(v) - 1 ? len - nl : sizeof(v) - 1;
        memcpy(v, p + nl, vl);
        v[vl] = '\0';
        char *end = v + strlen(v);
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            *--end = '\0';
        int64_t ms;
        if (backoff_parse_retry_after(v, time_now_ms(), &ms) == RF_OK)
            a->resp->retry_after_ms = ms;
    }
    return len;
}

/*
 * Writes what went wrong with a request that got no answer in words a user
 * can act on: for a refused TLS handshake, which check failed and what to
 * change (--ca-file, the host name in --collector, the certificate), with
 * libcurl's own detail (detail, may be "") in parentheses.
 */
static void describe_failure(const struct sender *s, CURLcode cc, const char *detail, char *out,
                             size_t n)
{
    const char *ca = s->cfg->ca_file;
    if (!detail[0])
        detail = s->api.easy_strerror(cc);
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        if (strcasestr(detail, "host name") || strcasestr(detail, "hostname"))
            snprintf(out, n,
                     "TLS: the collector's certificate is not issued for the host name in the URL "
                     "(%s); use a name the certificate holds in --collector, or give the collector "
                     "a certificate for this name",
                     detail);
        else if (strcasestr(detail, "expired") || strcasestr(detail, "not yet valid"))
            snprintf(out, n,
                     "TLS: the collector's certificate is outside its validity period (%s); "
                     "renew it, or check this machine's clock",
                     detail);
        else
            snprintf(out, n,
                     "TLS: the collector's certificate is not trusted (%s); give the CA that "
                     "issued it with --ca-file (this run used %s%s)",
                     detail, ca ? "--ca-file " : "the system's CA bundle", ca ? ca : "");
        break;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(out, n,
                 "TLS: cannot use the CA bundle %s (%s); --ca-file must name a readable PEM file "
                 "of CA certificates",
                 ca ? ca : "of the system", detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        snprintf(out, n,
                 "TLS handshake with the collector failed (%s); check that it serves HTTPS "
                 "(TLS 1.2 or later) on this port",
                 detail);
        break;
    default:
        snprintf(out, n, "%s", detail);
        break;
    }
}

#ifdef RF_CURL_STATIC
#define CURL_SYM(s, field, name) ((s)->api.field = name)
#else
#define CURL_SYM(s, field, name)                                                                   \
    do {                                                                                           \
        void *p_ = dlsym((s)->api.lib, #name);                                                     \
        if (!p_)                                                                                   \
            goto fail;                                                                             \
        memcpy(&(s)->api.field, &p_, sizeof(p_));                                                  \
    } while (0)
#endif

/* Finds libcurl (RF_CURL_STATIC: linked in; else dlopen()), fills s->api; RF_EIO with load_error. */
static int resolve_curl(struct sender *s)
{
#ifndef RF_CURL_STATIC
    static const char *const names[] = {"libcurl.so.4", "libcurl.so", "libcurl.4.dylib"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !s->api.lib; i++)
        s->api.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!s->api.lib) {
        snprintf(s->load_error, sizeof(s->load_error), "cannot load libcurl: %s", dlerror());
        return RF_EIO;
    }
#endif
    CURL_SYM(s, global_init, curl_global_init);
    CURL_SYM(s, global_cleanup, curl_global_cleanup);
    CURL_SYM(s, easy_init, curl_easy_init);
    CURL_SYM(s, easy_cleanup, curl_easy_cleanup);
    CURL_SYM(s, easy_reset, curl_easy_reset);
    CURL_SYM(s, easy_setopt, curl_easy_setopt);
    CURL_SYM(s, easy_perform, curl_easy_perform);
    CURL_SYM(s, easy_getinfo, curl_easy_getinfo);
    CURL_SYM(s, easy_strerror, curl_easy_strerror);
    CURL_SYM(s, slist_append, curl_slist_append);
    CURL_SYM(s, slist_free_all, curl_slist_free_all);
    return RF_OK;
#ifndef RF_CURL_STATIC
fail:
    snprintf(s->load_error, sizeof(s->load_error), "libcurl lacks a function: %s", dlerror());
    dlclose(s->api.lib);
    memset(&s->api, 0, sizeof(s->api));
    return RF_EIO;
#endif
}

/* Resolves libcurl and creates the easy handle; RF_EIO with load_error set. */
static int load_curl(struct sender *s)
{
    if (resolve_curl(s) != RF_OK)
        return RF_EIO;
    if (s->api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(s->curl = s->api.easy_init())) {
        snprintf(s->load_error, sizeof(s->load_error), "libcurl failed to initialise");
        return RF_EIO;
    }
    return RF_OK;
}

int sender_create(const struct agent_config *cfg, struct sender **out)
{
    struct sender *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return RF_ENOMEM;
    s->cfg = cfg;
    *out = s;
    return RF_OK;
}

void sender_destroy(struct sender *s)
{
    if (!s)
        return;
    if (s->curl) {
        s->api.easy_cleanup(s->curl);
        s->api.global_cleanup();
    }
    /* libcurl stays mapped: OpenSSL registers atexit handlers inside it */
    free(s);
}

int sender_post(void *ctx, const struct transport_request *req, struct transport_response *resp)
{
    struct sender *s = ctx;
    struct curl_slist *h = NULL;
    struct answer ans = {resp, 0};
    char auth[1024], dev[256], bid[128], detail[CURL_ERROR_SIZE] = "";
    int rc = RF_EIO;
    resp->status = 0;
    resp->retry_after_ms = -1;
    resp->error[0] = resp->body[0] = '\0';
    if (!s->curl && (s->load_error[0] || load_curl(s) != RF_OK)) {
        snprintf(resp->error, sizeof(resp->error), "%s", s->load_error);
        return RF_EIO;
    }
    const struct curl_api *api = &s->api;
    CURL *c = s->curl;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", req->token);
    snprintf(dev, sizeof(dev), RF_HDR_DEVICE ": %s", req->device_id);
    snprintf(bid, sizeof(bid), RF_HDR_BATCH ": %s", req->batch_id);
    const char *hdrs[] = {
        "Content-Type: application/json", "Content-Encoding: gzip", auth, dev, bid, "Expect:"};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        struct curl_slist *n = api->slist_append(h, hdrs[i]);
        if (!n) {
            rc = RF_ENOMEM;
            goto out;
        }
        h = n;
    }
    api->easy_reset(c);
    api->easy_setopt(c, CURLOPT_URL, req->url);
    api->easy_setopt(c, CURLOPT_POST, 1L);
    api->easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    api->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    api->easy_setopt(c, CURLOPT_HTTPHEADER, h);
    api->easy_setopt(c, CURLOPT_USERAGENT, "rasfleet-agent/" RF_VERSION);
    api->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    api->easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->cfg->timeout_ms);
    api->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg->connect_timeout_ms);
    api->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    api->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    api->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (s->cfg->ca_file)
        api->easy_setopt(c, CURLOPT_CAINFO, s->cfg->ca_file);
    api->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    api->easy_setopt(c, CURLOPT_WRITEDATA, &ans);
    api->easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    api->easy_setopt(c, CURLOPT_HEADERDATA, &ans);
    api->easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    CURLcode cc = api->easy_perform(c);
    api->easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* detail goes out of scope */
    if (cc != CURLE_OK) {
        describe_failure(s, cc, detail, resp->error, sizeof(resp->error));
        goto out;
    }
    api->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = RF_OK;
out:
    api->slist_free_all(h);
    return rc;
}
