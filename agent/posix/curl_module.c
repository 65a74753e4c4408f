/*
 * curl_module.c - rasfleet-agent-curl.so, the agent's HTTP/HTTPS library
 * (RF_AGENT_CURL=minimal): the minimal static libcurl and Debian's static
 * OpenSSL (deploy/build-curl-min.sh) linked into one shared object that
 * exports only rf_curl_module_api(). sender_curl.c loads it with dlopen() on
 * the first POST: a run with nothing to send neither maps it nor processes
 * libcrypto's ~19,000 relocations (docs/agent.md, "Performance").
 */
#include "curl_api.h"

__attribute__((visibility("default"))) int rf_curl_module_api(int version, struct curl_api *out);

/* Fills *out with this module's libcurl; -1 if the agent expects another table version. */
int rf_curl_module_api(int version, struct curl_api *out)
{
    if (version != RF_CURL_MODULE_VERSION)
        return -1;
    out->global_init = curl_global_init;
    out->global_cleanup = curl_global_cleanup;
    out->easy_init = curl_easy_init;
    out->easy_cleanup = curl_easy_cleanup;
    out->easy_reset = curl_easy_reset;
    out->easy_setopt = curl_easy_setopt;
    out->easy_perform = curl_easy_perform;
    out->easy_getinfo = curl_easy_getinfo;
    out->easy_strerror = curl_easy_strerror;
    out->slist_append = curl_slist_append;
    out->slist_free_all = curl_slist_free_all;
    return 0;
}
