/*
 * api.h - the read API of the contract (overview, errors, trend, devices,
 * device detail, findings, remediation feed) plus the catalogue lookup and
 * the operator's IPsec baseline (admin). Answers come from the hot
 * aggregate; windows past its horizon from the daily rollup tables and
 * device detail from SQL, on either backend through a readstore per HTTP
 * thread (readstore.h). See docs/api.md.
 */
#ifndef RASFLEET_API_H
#define RASFLEET_API_H

#include "analyzer.h"
#include "fleet.h"
#include "http.h"

struct api {
    struct fleet *fleet;
    struct analyzer *analyzer;
    char db_path[1024];
    int rollup_retention_days; /* the longest daily window; 0 = rollups kept forever */
    struct writer *writer; /* for persisting the baseline; may be NULL */
};

/* http_api_fn: dispatches GET/PUT /api/v1/... */
int api_handle(void *arg, const struct http_api_request *req, struct http_api_response *res);

/* Parses an IPsec baseline document ({"server_custom":bool,"policy":{...}});
 * strings are allocated in a. RF_OK, RF_EFORMAT (err says why) or RF_ENOMEM. */
int api_parse_baseline(const char *json, size_t len, struct rf_arena *a, struct ipsec_baseline *out,
                       char *err, size_t errlen);

#endif
