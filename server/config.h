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
    size_t max_body_bytes;
    size_t max_inflated_bytes;
    size_t max_records;
    size_t queue_batches;
    size_t queue_bytes;
    size_t group_records;
    unsigned threads;
    unsigned connection_timeout_s;
    unsigned max_connections;
    int64_t max_db_bytes;
    int hot_days;            /* hot aggregate horizon in days */
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
