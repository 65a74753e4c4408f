/*
 * curl_api.h - the libcurl functions the POSIX sender (sender_curl.c) calls,
 * as a table of pointers: filled from the agent's own libcurl module
 * (curl_module.c, RF_AGENT_CURL=minimal) or from Debian's libcurl with
 * dlsym() (RF_AGENT_CURL=system). Either is loaded with dlopen() on the
 * first POST, so a run that sends nothing never maps libcurl or OpenSSL.
 */
#ifndef RF_AGENT_CURL_API_H
#define RF_AGENT_CURL_API_H

#include <curl/curl.h>

struct curl_api {
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

/* The module's one exported function (curl_module.c): fills *out; 0 = done. */
#define RF_CURL_MODULE_ENTRY "rf_curl_module_api"
#define RF_CURL_MODULE_VERSION 1
typedef int (*rf_curl_module_api_fn)(int version, struct curl_api *out);

#endif
