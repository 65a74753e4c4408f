/*
 * record.c - names of the record model's enums as they appear on the wire
 * (api-v1), and batch lifetime.
 */
#include "rasfleet/record.h"
#include "rasfleet/result.h"

#include <string.h>

static const char *const kind_names[RF_KIND_COUNT] = {
    [RF_KIND_RAS_EVENT] = "ras_event",
    [RF_KIND_IFACE_METRIC] = "iface_metric",
    [RF_KIND_PBK_ENTRY] = "pbk_entry",
    [RF_KIND_VPN_POLICY] = "vpn_policy",
    [RF_KIND_AGENT_STATUS] = "agent_status",
};

static const char *const if_type_names[RF_IF_TYPE_COUNT] = {
    [RF_IF_ETHERNET] = "ethernet", [RF_IF_WIFI] = "wifi",         [RF_IF_VPN] = "vpn",
    [RF_IF_LOOPBACK] = "loopback", [RF_IF_CELLULAR] = "cellular", [RF_IF_OTHER] = "other",
};

const char *rf_kind_name(enum rf_kind kind)
{
    if ((unsigned)kind >= RF_KIND_COUNT)
        return NULL;
    return kind_names[kind];
}

int rf_kind_from_name(const char *name)
{
    for (int i = 0; i < RF_KIND_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}

const char *rf_level_name(enum rf_level level)
{
    switch (level) {
    case RF_LEVEL_ERROR:
        return "error";
    case RF_LEVEL_WARNING:
        return "warning";
    case RF_LEVEL_INFORMATION:
        return "information";
    }
    return "information";
}

const char *rf_if_type_name(enum rf_if_type t)
{
    if ((unsigned)t >= RF_IF_TYPE_COUNT)
        return "other";
    return if_type_names[t];
}

int rf_if_type_from_name(const char *name)
{
    for (int i = 0; i < RF_IF_TYPE_COUNT; i++)
        if (strcmp(if_type_names[i], name) == 0)
            return i;
    return -1;
}

const char *rf_scope_name(enum rf_pbk_scope s)
{
    return s == RF_SCOPE_USER ? "user" : "all_users";
}

void rf_batch_init(struct rf_batch *b)
{
    memset(b, 0, sizeof(*b));
    rf_arena_init(&b->arena);
}

void rf_batch_free(struct rf_batch *b)
{
    rf_arena_free(&b->arena);
    memset(b, 0, sizeof(*b));
}

const char *rf_strerror(int err)
{
    switch (err) {
    case RF_OK:
        return "ok";
    case RF_ENOMEM:
        return "out of memory";
    case RF_EINVAL:
        return "invalid argument";
    case RF_EIO:
        return "input/output error";
    case RF_ETOOBIG:
        return "over the size limit";
    case RF_EFORMAT:
        return "malformed input";
    case RF_ENOTFOUND:
        return "not found";
    case RF_EBUSY:
        return "busy";
    case RF_ESTORAGE:
        return "storage refused the write";
    case RF_ESTOPPED:
        return "shutting down";
    case RF_ETRUNC:
        return "truncated input";
    }
    return "unknown error";
}
