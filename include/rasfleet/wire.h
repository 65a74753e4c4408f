/*
 * wire.h - constants of the api-v1 HTTP contract shared by agent and
 * collector: paths, header names, schema version and default limits.
 */
#ifndef RASFLEET_WIRE_H
#define RASFLEET_WIRE_H

#define RF_SCHEMA_VERSION 1
#define RF_PATH_INGEST "/api/v1/ingest"
#define RF_HDR_DEVICE "X-Rasfleet-Device"
#define RF_HDR_BATCH "X-Rasfleet-Batch"
#define RF_HDR_HOSTNAME "X-Rasfleet-Hostname"
#define RF_HDR_OS_VERSION "X-Rasfleet-Os-Version"
#define RF_HDR_AGENT_VERSION "X-Rasfleet-Agent-Version"

/* Default limits; the collector's config may lower or raise them. */
#define RF_DEFAULT_MAX_BODY (4u << 20)      /* bytes on the wire */
#define RF_DEFAULT_MAX_INFLATED (32u << 20) /* bytes after gunzip */
#define RF_DEFAULT_MAX_RECORDS 20000        /* records per batch */

/* Field limits (bytes of UTF-8). */
#define RF_MAX_ID_LEN 128       /* device_id, batch_id, coid */
#define RF_MAX_NAME_LEN 512     /* hostnames, connection names, users ... */
#define RF_MAX_MESSAGE_LEN 8192 /* rendered event messages */
#define RF_MAX_PBK_VALUE_LEN 16384
#define RF_MAX_PBK_SETTINGS 1024
#define RF_MAX_AGENT_ERROR_LEN 1024 /* agent_status last_error */
#define RF_MAX_COUNTER 9007199254740991.0 /* 2^53 - 1: exact in every JSON reader */

#endif
