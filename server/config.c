/*
 * config.c - settings parsing and validation. See config.h and
 * deploy/rasfleet.conf.example for every key.
 */
#include "config.h"
#include "dburl.h"
#include "log.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
    c->listen_port = 8080;
    snprintf(c->db_path, sizeof(c->db_path), "data/rasfleet.db");
    c->retention_days = 90;
    c->rollup_retention_days = 400;
    c->max_body_bytes = RF_DEFAULT_MAX_BODY;
    c->max_inflated_bytes = RF_DEFAULT_MAX_INFLATED;
    c->max_records = RF_DEFAULT_MAX_RECORDS;
    c->queue_batches = 1024;
    c->queue_bytes = 256u << 20;
    c->group_records = 50000;
    c->group_wait_ms = 5;
    c->threads = 2;
    c->connection_timeout_s = 30;
    c->max_connections = 4096;
    c->log_level = LOG_INFO;
    c->hot_days = 31;
    c->pg_refresh_ms = 2000;
    c->rate_device_per_minute = 120;
    c->rate_device_burst = 240;
    c->rate_token_per_minute = 600000;
    c->rate_token_burst = 20000;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return RF_EFORMAT;
    *out = x;
    return RF_OK;
}

static int parse_listen(struct config *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    uint64_t port;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof(c->listen_host))
        return RF_EFORMAT;
    if (parse_u64(colon + 1, 0, 65535, &port) != RF_OK)
        return RF_EFORMAT;
    size_t hlen = (size_t)(colon - v);
    if (v[0] == '[' && hlen >= 2 && v[hlen - 1] == ']') { /* [::1]:8080 */
        v++;
        hlen -= 2;
    }
    memcpy(c->listen_host, v, hlen);
    c->listen_host[hlen] = '\0';
    c->listen_port = (unsigned)port;
    return RF_OK;
}

static int set_str(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap)
        return RF_EFORMAT;
    memcpy(dst, v, strlen(v) + 1);
    return RF_OK;
}

struct num_setting {
    const char *key;
    uint64_t min, max;
    size_t offset;
    size_t width; /* sizeof the field: 4 or 8 */
};

#define NUM(key, min, max, field)                                                                  \
    {key, min, max, offsetof(struct config, field), sizeof(((struct config *)0)->field)}

static const struct num_setting num_settings[] = {
    NUM("retention_days", 0, 36500, retention_days),
    NUM("rollup_retention_days", 0, 36500, rollup_retention_days),
    NUM("max_body_bytes", 1024, 1ull << 30, max_body_bytes),
    NUM("max_inflated_bytes", 1024, 1ull << 31, max_inflated_bytes),
    NUM("max_records", 1, 1000000, max_records),
    NUM("queue_batches", 1, 1000000, queue_batches),
    NUM("queue_bytes", 1024, 1ull << 40, queue_bytes),
    NUM("group_records", 1, 10000000, group_records),
    NUM("group_wait_ms", 0, 1000, group_wait_ms),
    NUM("threads", 1, 256, threads),
    NUM("connection_timeout", 1, 3600, connection_timeout_s),
    NUM("max_connections", 1, 1000000, max_connections),
    NUM("max_db_bytes", 0, 1ull << 50, max_db_bytes),
    NUM("hot_days", 1, 366, hot_days),
    NUM("pg_refresh_ms", 50, 600000, pg_refresh_ms),
    NUM("rate_device_per_minute", 0, 1000000, rate_device_per_minute),
    NUM("rate_device_burst", 1, 1000000, rate_device_burst),
    NUM("rate_token_per_minute", 0, 100000000, rate_token_per_minute),
    NUM("rate_token_burst", 1, 100000000, rate_token_burst),
};

int config_set(struct config *c, const char *key, const char *v, char *errbuf, size_t errlen)
{
    int rc = RF_EFORMAT;
    for (size_t i = 0; i < sizeof(num_settings) / sizeof(num_settings[0]); i++) {
        const struct num_setting *ns = &num_settings[i];
        uint64_t n;
        if (strcmp(key, ns->key) != 0)
            continue;
        rc = parse_u64(v, ns->min, ns->max, &n);
        if (rc == RF_OK && ns->width == 4) {
            uint32_t x = (uint32_t)n;
            memcpy((char *)c + ns->offset, &x, 4);
        } else if (rc == RF_OK) {
            memcpy((char *)c + ns->offset, &n, 8);
        }
        goto out;
    }
    if (strcmp(key, "listen") == 0) {
        rc = parse_listen(c, v);
    } else if (strcmp(key, "db") == 0) {
        char why[200];
        rc = dburl_normalise(v, c->db_path, sizeof(c->db_path), why, sizeof(why));
        if (rc != RF_OK) {
            snprintf(errbuf, errlen, "invalid value for 'db': %s", why);
            return RF_EFORMAT;
        }
    } else if (strcmp(key, "ipsec_baseline") == 0) {
        rc = set_str(c->ipsec_baseline, sizeof(c->ipsec_baseline), v);
    } else if (strcmp(key, "tls_cert") == 0) {
        rc = set_str(c->tls_cert, sizeof(c->tls_cert), v);
    } else if (strcmp(key, "tls_key") == 0) {
        rc = set_str(c->tls_key, sizeof(c->tls_key), v);
    } else if (strcmp(key, "admin_token_file") == 0) {
        rc = set_str(c->admin_token_file, sizeof(c->admin_token_file), v);
    } else if (strcmp(key, "web_dir") == 0) {
        rc = set_str(c->web_dir, sizeof(c->web_dir), v);
    } else if (strcmp(key, "admin_token") == 0) {
        rc = strlen(v) >= 16 ? set_str(c->admin_token, sizeof(c->admin_token), v) : RF_EFORMAT;
    } else if (strcmp(key, "log_level") == 0) {
        static const char *const names[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(v, names[i]) == 0) {
                c->log_level = i;
                rc = RF_OK;
            }
        }
    } else {
        snprintf(errbuf, errlen, "unknown setting '%s'", key);
        return RF_EFORMAT;
    }
out:
    if (rc != RF_OK)
        snprintf(errbuf, errlen, "invalid value for '%s': '%s'", key, v);
    return rc;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct config *c, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errbuf, errlen, "cannot read config file %s", path);
        return RF_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = RF_OK;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errbuf, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = RF_EFORMAT;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        char msg[512];
        if (config_set(c, key, value, msg, sizeof(msg)) != RF_OK) {
            snprintf(errbuf, errlen, "%s:%d: %s", path, lineno, msg);
            rc = RF_EFORMAT;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}
