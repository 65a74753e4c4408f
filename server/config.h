/*
 * config.h - the collector's settings: defaults, the config file
 * ("key = value" lines, '#' comments) and command-line flags, applied in
 * that order (flags win). The admin token may also come from the
 * RASFLEET_ADMIN_TOKEN environment variable (it wins over the file).
 */
#ifndef RASFLEET_CONFIG_H
#define RASFLEET_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
    char listen_host[128];
    unsigned listen_port;
    char db_path[1024];
    char web_dir[1024];
    char admin_token[256]; /* "" = none */
    int retention_days;
    int rollup_retention_days; /* days of daily rollups kept; 0 = forever */
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    size_t max_records;
    size_t queue_batches;
    size_t queue_bytes;
    size_t group_records;
    unsigned group_wait_ms;
    unsigned threads;
    unsigned connection_timeout_s;
    unsigned max_connections;
    int64_t max_db_bytes;
    int hot_days;            /* hot aggregate horizon in days */
    unsigned pg_refresh_ms;  /* PostgreSQL: how often the hot aggregate reads other collectors' rows */
    unsigned rate_device_per_minute; /* ingest batches per device; 0 = off */
    unsigned rate_device_burst;
    unsigned rate_token_per_minute;  /* requests per token; 0 = off */
    unsigned rate_token_burst;
    char tls_cert[1024];     /* PEM certificate chain; "" = plain HTTP */
    char tls_key[1024];      /* PEM private key */
    char admin_token_file[1024]; /* file holding the admin token; re-read on SIGHUP */
    char ipsec_baseline[256]; /* "" unset, "default", or six names cipher/auth/enc/integrity/dh/pfs */
    int log_level; /* enum log_level */
};

void config_defaults(struct config *c);
/* Reads a config file. RF_OK, RF_EIO (cannot read) or RF_EFORMAT; errbuf
 * names the line. */
int config_load_file(struct config *c, const char *path, char *errbuf, size_t errlen);
/* Applies one setting by its file key ("listen", "db", ...). */
int config_set(struct config *c, const char *key, const char *value, char *errbuf,
               size_t errlen);

#endif
