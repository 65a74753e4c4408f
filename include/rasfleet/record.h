/*
 * record.h - the telemetry record model shared by agent and collector.
 *
 * A batch holds the records one agent sends in one POST (api-v1 "Ingest").
 * Every string in a batch points into the batch's arena and lives exactly as
 * long as the batch: rf_batch_free() releases them all at once. Times are
 * milliseconds since the Unix epoch, UTC.
 */
#ifndef RASFLEET_RECORD_H
#define RASFLEET_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rasfleet/arena.h"

enum rf_kind {
    RF_KIND_RAS_EVENT = 0,
    RF_KIND_IFACE_METRIC,
    RF_KIND_PBK_ENTRY,
    RF_KIND_VPN_POLICY,
    RF_KIND_AGENT_STATUS, /* extension of api-v1: the agent's report on itself */
    RF_KIND_COUNT
};

enum rf_level { RF_LEVEL_ERROR = 2, RF_LEVEL_WARNING = 3, RF_LEVEL_INFORMATION = 4 };

enum rf_family { RF_FAMILY_IPV4 = 4, RF_FAMILY_IPV6 = 6 };

enum rf_if_type {
    RF_IF_ETHERNET = 0,
    RF_IF_WIFI,
    RF_IF_VPN,
    RF_IF_LOOPBACK,
    RF_IF_CELLULAR,
    RF_IF_OTHER,
    RF_IF_TYPE_COUNT
};

enum rf_pbk_scope { RF_SCOPE_ALL_USERS = 0, RF_SCOPE_USER = 1 };

struct rf_ras_event {
    int32_t event_id;
    int64_t record_id;
    enum rf_level level;
    const char *user;
    const char *connection;
    bool has_error_code;
    int64_t error_code; /* signed: HRESULTs arrive as negative decimals */
    bool has_reason_code;
    int64_t reason_code;
    const char *coid;    /* NULL when absent */
    const char *message; /* NULL when absent */
};

struct rf_iface_metric {
    const char *alias;
    int64_t index;
    enum rf_family family;
    int64_t metric;
    bool automatic;
    bool connected;
    enum rf_if_type if_type;
    bool has_mtu;
    int64_t mtu;
};

struct rf_pbk_setting {
    const char *key;
    const char *value;
};

struct rf_pbk_entry {
    enum rf_pbk_scope scope;
    const char *connection;
    size_t n_settings;
    struct rf_pbk_setting *settings; /* in file order */
};

struct rf_ipsec_policy {
    const char *cipher_transform;
    const char *auth_transform;
    const char *encryption_method;
    const char *integrity_check_method;
    const char *dh_group;
    const char *pfs_group;
};

struct rf_vpn_policy {
    const char *connection;
    const char *server;
    const char *tunnel_type;
    const char *auth_method;
    bool split_tunneling;
    bool device_tunnel;
    const char *dns_suffix; /* NULL when absent */
    bool has_ipsec;
    struct rf_ipsec_policy ipsec;
};

/*
 * What an agent reports about itself once per run. The counters are totals
 * since the agent's state directory was created (they survive restarts), so
 * the collector takes deltas between two reports; a total lower than the
 * previous one means the agent's state was reset.
 */
struct rf_agent_status {
    const char *agent_version; /* NULL when absent */
    int64_t spool_bytes;       /* bytes waiting in the spool when the status was made */
    int64_t spool_batches;
    bool has_spool_limit;
    int64_t spool_limit_bytes; /* the agent's spool bound, 0 = none */
    int64_t dropped_batches_total; /* deleted unsent because the spool was full or too old */
    bool has_dropped_records;
    int64_t dropped_records_total;
    bool has_rejected_batches;
    int64_t rejected_batches_total; /* refused by the collector (4xx) and moved aside */
    bool has_last_success;
    int64_t last_success_ms; /* the collector last acknowledged a batch */
    const char *last_error;  /* NULL when absent */
    bool has_last_error_time;
    int64_t last_error_ms;
    bool has_source_errors;
    int64_t source_errors; /* source files that failed to parse in this run */
};

struct rf_record {
    enum rf_kind kind;
    int64_t time_ms;
    union {
        struct rf_ras_event ev;
        struct rf_iface_metric ifm;
        struct rf_pbk_entry pbk;
        struct rf_vpn_policy pol;
        struct rf_agent_status st;
    } u;
};

struct rf_agent_info {
    const char *device_id;
    const char *hostname;      /* NULL when unknown */
    const char *os_version;    /* NULL when unknown */
    const char *agent_version; /* NULL when unknown */
};

struct rf_batch {
    const char *batch_id;
    struct rf_agent_info agent;
    size_t n_records;
    struct rf_record *records;
    struct rf_arena arena; /* owns every string and array above */
};

/* Kind names as on the wire ("ras_event", ...); NULL for an invalid kind. */
const char *rf_kind_name(enum rf_kind kind);
/* Returns the kind for a wire name, or -1. */
int rf_kind_from_name(const char *name);

const char *rf_level_name(enum rf_level level);
const char *rf_if_type_name(enum rf_if_type t);
int rf_if_type_from_name(const char *name);
const char *rf_scope_name(enum rf_pbk_scope s);

void rf_batch_init(struct rf_batch *b);
void rf_batch_free(struct rf_batch *b);

#endif
