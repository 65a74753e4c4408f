/*
 * agent_config.h - the agent's settings: command-line flags and the config
 * file, one table for both. Every flag --some-name VALUE has the config key
 * some_name = VALUE; flags override the file. File syntax: "key = value"
 * lines, '#' or ';' starts a comment line, blank lines ignored.
 *
 * Values: strings as written (no quotes); durations "30s", "15m", "24h",
 * "7d" or plain seconds; sizes in bytes with an optional K, M or G suffix
 * (powers of 1024); booleans true/false/yes/no/1/0.
 *
 * Owns every string it holds (agent_config_free()).
 */
#ifndef RF_AGENT_CONFIG_H
#define RF_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct agent_config {
    char *config;     /* the file read, if any */
    char *collector;  /* base URL (…/api/v1/ingest is appended unless present) */
    char *token;      /* bearer token */
    char *token_file; /* or: a file holding it (first line) */
    char *source_dir; /* export directory (file sources) */
    char *state_dir;  /* progress, spool, status.json, device-id */
    char *device_id;  /* overrides the machine id */
    char *ca_file;    /* PEM bundle to verify the collector's certificate */
    char *log_level;  /* debug, info, warn, error */
    bool once;        /* one collection and delivery, then exit */
    bool native;      /* Windows builds: read the event log, interfaces, pbk files */
    int64_t interval_ms;
    size_t batch_records;
    size_t batch_bytes;
    uint64_t spool_max_bytes;
    int64_t spool_max_age_ms;
    unsigned retry_attempts;
    int64_t retry_budget_ms;
    int64_t retry_base_ms;
    int64_t retry_max_delay_ms;
    int64_t timeout_ms;
    int64_t connect_timeout_ms;
    size_t dedupe_keys;
    bool help, version;
};

/* Sets every default. */
void agent_config_init(struct agent_config *c);
void agent_config_free(struct agent_config *c);

/*
 * Applies argv (after --config FILE, if given, was loaded first): returns
 * RF_OK or RF_EINVAL with a sentence in err.
 */
int agent_config_from_args(struct agent_config *c, int argc, char **argv, struct buf *err);

/* Applies one config file. RF_OK, RF_ENOTFOUND, RF_EINVAL (err says which
 * line and why). */
int agent_config_load_file(struct agent_config *c, const char *path, struct buf *err);

/* Checks the settings a run needs (collector, token, dirs, bounds). */
int agent_config_validate(struct agent_config *c, struct buf *err);

/* The usage text. */
const char *agent_config_usage(void);

#endif
