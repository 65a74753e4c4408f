/*
 * sender_curl.c - the agent's HTTP transport on POSIX: one libcurl easy
 * handle reused for every POST (keep-alive), TLS verification always on
 * (--ca-file names the CA bundle to use), proxies from the environment
 * (libcurl's default: http_proxy, https_proxy, no_proxy), connect and total
 * timeouts. A failure is described for the user (describe_failure): a TLS
 * refusal says which check failed and what to change.
 *
 * Which libcurl (agent/CMakeLists.txt, RF_AGENT_CURL), loaded with dlopen()
 * on the first POST either way (most agent runs have nothing new to send):
 *   minimal (RF_CURL_MODULE): rasfleet-agent-curl.so (curl_module.c), a
 *     libcurl built from Debian's source package for HTTP and HTTPS only
 *     (deploy/build-curl-min.sh) and a static OpenSSL in one shared object
 *     of the project, found next to the executable or in RF_CURL_MODULE_DIR
 *     (docs/agent.md, "Performance").
 *   system: Debian's libcurl: it pulls in OpenSSL, libssh2, LDAP, Kerberos,
 *     nghttp2... whose loading alone costs ~8 MB of resident memory.
 * Either way the sender calls libcurl through struct curl_api (curl_api.h).
 */
#include "sender.h"
#include "backoff.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "timeutil.h"

#include "curl_api.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct sender {
    void *lib; /* the dlopen() handle of libcurl or of the module */
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

#ifdef RF_CURL_MODULE
/*
 * Writes the path of the agent's libcurl module: next to the executable
 * (the build tree, or an installation that keeps them together), else in
 * RF_CURL_MODULE_DIR (the installed library directory). RF_ENOTFOUND if neither.
 */
static int module_path(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(out, n, "%s/%s", exe, RF_CURL_MODULE_NAME);
            if (w > 0 && (size_t)w < n && access(out, R_OK) == 0)
                return RF_OK;
        }
    }
    int w = snprintf(out, n, "%s/%s", RF_CURL_MODULE_DIR, RF_CURL_MODULE_NAME);
    return w > 0 && (size_t)w < n && access(out, R_OK) == 0 ? RF_OK : RF_ENOTFOUND;
}

/* Loads rasfleet-agent-curl.so and takes its table; RF_EIO with load_error. */
static int resolve_curl(struct sender *s)
{
    char path[PATH_MAX + 64];
    if (module_path(path, sizeof(path)) != RF_OK) {
        snprintf(s->load_error, sizeof(s->load_error),
                 "cannot find %s next to the agent or in %s; reinstall the agent",
                 RF_CURL_MODULE_NAME, RF_CURL_MODULE_DIR);
        return RF_EIO;
    }
    s->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!s->lib) {
        snprintf(s->load_error, sizeof(s->load_error), "cannot load %s", dlerror());
        return RF_EIO;
    }
    rf_curl_module_api_fn entry;
    void *p = dlsym(s->lib, RF_CURL_MODULE_ENTRY);
    memcpy(&entry, &p, sizeof(p));
    if (!p || entry(RF_CURL_MODULE_VERSION, &s->api) != 0) {
        snprintf(s->load_error, sizeof(s->load_error),
                 "%.120s is not this agent's version (%s); reinstall the agent", path,
                 RF_CURL_MODULE_ENTRY);
        dlclose(s->lib);
        s->lib = NULL;
        memset(&s->api, 0, sizeof(s->api));
        return RF_EIO;
    }
    return RF_OK;
}
#else
#define CURL_SYM(s, field, name)                                                                   \
    do {                                                                                           \
        void *p_ = dlsym((s)->lib, #name);                                                         \
        if (!p_)                                                                                   \
            goto fail;                                                                             \
        memcpy(&(s)->api.field, &p_, sizeof(p_));                                                  \
    } while (0)

/* dlopen()s the system's libcurl, fills s->api; RF_EIO with load_error. */
static int resolve_curl(struct sender *s)
{
    static const char *const names[] = {"libcurl.so.4", "libcurl.so", "libcurl.4.dylib"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !s->lib; i++)
        s->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!s->lib) {
        snprintf(s->load_error, sizeof(s->load_error), "cannot load libcurl: %s", dlerror());
        return RF_EIO;
    }
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
fail:
    snprintf(s->load_error, sizeof(s->load_error), "libcurl lacks a function: %s", dlerror());
    dlclose(s->lib);
    s->lib = NULL;
    memset(&s->api, 0, sizeof(s->api));
    return RF_EIO;
}
#endif

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
    /* the library stays mapped: OpenSSL registers atexit handlers inside it */
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
