/*
 * agent_config.c - flags and config file of the agent, from one option
 * table. See agent_config.h.
 */
#include "agent_config.h"
#include "osdep.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_type { OPT_STR, OPT_BOOL, OPT_DURATION, OPT_SIZE, OPT_UINT };

struct opt {
    const char *name; /* flag without "--"; key with '-' -> '_' */
    enum opt_type type;
    size_t offset;
    size_t width; /* sizeof the field, for OPT_SIZE / OPT_UINT */
};

#define O(name, type, field)                                                                       \
    {                                                                                              \
        name, type, offsetof(struct agent_config, field),                                          \
            sizeof(((struct agent_config *)0)->field)                                              \
    }

static const struct opt opts[] = {
    O("collector", OPT_STR, collector),
    O("token", OPT_STR, token),
    O("token-file", OPT_STR, token_file),
    O("source-dir", OPT_STR, source_dir),
    O("state-dir", OPT_STR, state_dir),
    O("device-id", OPT_STR, device_id),
    O("ca-file", OPT_STR, ca_file),
    O("log-level", OPT_STR, log_level),
    O("once", OPT_BOOL, once),
    O("native", OPT_BOOL, native),
    O("interval", OPT_DURATION, interval_ms),
    O("batch-records", OPT_UINT, batch_records),
    O("batch-bytes", OPT_SIZE, batch_bytes),
    O("spool-max-bytes", OPT_SIZE, spool_max_bytes),
    O("spool-max-age", OPT_DURATION, spool_max_age_ms),
    O("retry-attempts", OPT_UINT, retry_attempts),
    O("retry-budget", OPT_DURATION, retry_budget_ms),
    O("retry-base", OPT_DURATION, retry_base_ms),
    O("retry-max-delay", OPT_DURATION, retry_max_delay_ms),
    O("timeout", OPT_DURATION, timeout_ms),
    O("connect-timeout", OPT_DURATION, connect_timeout_ms),
    O("dedupe-keys", OPT_UINT, dedupe_keys),
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void agent_config_init(struct agent_config *c)
{
    memset(c, 0, sizeof(*c));
    c->interval_ms = 15 * 60 * 1000;
    c->batch_records = 500;
    c->batch_bytes = 1u << 20;
    c->spool_max_bytes = 64u << 20;
    c->spool_max_age_ms = 14LL * 24 * 3600 * 1000;
    c->retry_attempts = 5;
    c->retry_budget_ms = 60 * 1000;
    c->retry_base_ms = 1000;
    c->retry_max_delay_ms = 30 * 1000;
    c->timeout_ms = 60 * 1000;
    c->connect_timeout_ms = 10 * 1000;
    c->dedupe_keys = 200000;
}

void agent_config_free(struct agent_config *c)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == OPT_STR) {
            char **p = (char **)((char *)c + opts[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    free(c->config);
    c->config = NULL;
}

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *o = opts[i].name;
        if (strlen(o) != len)
            continue;
        size_t j = 0;
        while (j < len && (o[j] == name[j] || (o[j] == '-' && name[j] == '_')))
            j++;
        if (j == len)
            return &opts[i];
    }
    return NULL;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return RF_EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return RF_EINVAL;
    *out = (uint64_t)v << shift;
    return RF_OK;
}

static int parse_duration(const char *s, int64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return RF_EINVAL;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0') {
        *out = (int64_t)v * 1000;
        return RF_OK;
    }
    if (strcmp(end, "ms") == 0) {
        *out = v;
        return RF_OK;
    }
    return time_parse_duration(s, out) == RF_OK ? RF_OK : RF_EINVAL;
}

static int set_opt(struct agent_config *c, const struct opt *o, const char *value, struct buf *err,
                   const char *where)
{
    void *field = (char *)c + o->offset;
    uint64_t u;
    switch (o->type) {
    case OPT_STR: {
        char **p = field;
        free(*p);
        *p = strdup(value);
        return *p ? RF_OK : RF_ENOMEM;
    }
    case OPT_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            *(bool *)field = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            *(bool *)field = false;
        else
            goto bad;
        return RF_OK;
    case OPT_DURATION:
        if (parse_duration(value, (int64_t *)field) != RF_OK)
            goto bad;
        return RF_OK;
    case OPT_SIZE:
    case OPT_UINT:
        if (parse_size(value, &u) != RF_OK ||
            (o->type == OPT_UINT && !isdigit((unsigned char)value[strlen(value) - 1])))
            goto bad;
        if (o->width == sizeof(unsigned) && u <= UINT32_MAX)
            *(unsigned *)field = (unsigned)u;
        else if (o->width == sizeof(uint64_t))
            *(uint64_t *)field = u;
        else
            goto bad;
        return RF_OK;
    }
bad:
    buf_printf(err, "%s: '%s' is not a valid value for %s", where, value, o->name);
    return RF_EINVAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int agent_config_load_file(struct agent_config *c, const char *path, struct buf *err)
{
    struct buf text = BUF_INIT;
    int rc = osdep_read_file(path, 1u << 20, &text);
    long line_no = 0;
    if (rc != RF_OK) {
        buf_printf(err, "cannot read config file %s: %s", path, osdep_strerror());
        goto out;
    }
    char *s = text.data ? text.data : (char *)"";
    if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
        s += 3; /* Notepad / Set-Content -Encoding UTF8 write a BOM */
    while (s && *s && rc == RF_OK) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        line_no++;
        char *line = trim(s);
        s = nl ? nl + 1 : NULL;
        if (!*line || *line == '#' || *line == ';')
            continue;
        char *eq = strchr(line, '=');
        char where[OSDEP_PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%ld", path, line_no);
        if (!eq) {
            buf_printf(err, "%s: expected key = value", where);
            rc = RF_EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(line), *value = trim(eq + 1);
        const struct opt *o = find_opt(key, strlen(key));
        if (!o) {
            buf_printf(err, "%s: unknown key '%s'", where, key);
            rc = RF_EINVAL;
            break;
        }
        rc = set_opt(c, o, value, err, where);
    }
out:
    buf_free(&text);
    return rc;
}

int agent_config_from_args(struct agent_config *c, int argc, char **argv, struct buf *err)
{
    int rc = RF_OK;
    /* --config first, so that every other flag overrides the file */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            free(c->config);
            if (!(c->config = strdup(argv[i + 1])))
                return RF_ENOMEM;
            if ((rc = agent_config_load_file(c, c->config, err)) != RF_OK)
                return rc;
        }
    }
    for (int i = 1; i < argc && rc == RF_OK; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            c->version = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            buf_printf(err, "unexpected argument '%s'", a);
            return RF_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        const struct opt *o = find_opt(name, eq ? (size_t)(eq - name) : strlen(name));
        if (!o) {
            buf_printf(err, "unknown option '%s'", a);
            return RF_EINVAL;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (o->type == OPT_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            buf_printf(err, "option '%s' needs a value", a);
            return RF_EINVAL;
        }
        rc = set_opt(c, o, value, err, "command line");
    }
    return rc;
}

static int read_token_file(struct agent_config *c, struct buf *err)
{
    struct buf b = BUF_INIT;
    int rc = osdep_read_file(c->token_file, 64 * 1024, &b);
    if (rc != RF_OK) {
        buf_printf(err, "cannot read token file %s: %s", c->token_file, osdep_strerror());
        goto out;
    }
    char *s = trim(b.data ? b.data : (char *)"");
    char *nl = strpbrk(s, "\r\n");
    if (nl)
        *nl = '\0';
    free(c->token);
    if (!(c->token = strdup(s)))
        rc = RF_ENOMEM;
out:
    buf_free(&b);
    return rc;
}

int agent_config_validate(struct agent_config *c, struct buf *err)
{
    if (!c->collector || !*c->collector) {
        buf_printf(err, "--collector URL is required");
        return RF_EINVAL;
    }
    if (strncmp(c->collector, "http://", 7) != 0 && strncmp(c->collector, "https://", 8) != 0) {
        buf_printf(err, "--collector must be an http:// or https:// URL");
        return RF_EINVAL;
    }
    if ((!c->token || !*c->token) && c->token_file && read_token_file(c, err) != RF_OK)
        return RF_EINVAL;
    if (!c->token || !*c->token) {
        buf_printf(err, "--token or --token-file is required");
        return RF_EINVAL;
    }
    if (!c->state_dir || !*c->state_dir) {
        buf_printf(err, "--state-dir DIR is required");
        return RF_EINVAL;
    }
    if ((!c->source_dir || !*c->source_dir) && !c->native) {
        buf_printf(err, "--source-dir DIR is required (or --native on Windows)");
        return RF_EINVAL;
    }
    if (c->batch_records < 1 || c->batch_records > 20000) {
        buf_printf(err, "--batch-records must be 1..20000");
        return RF_EINVAL;
    }
    if (c->batch_bytes < 16384 || c->batch_bytes > (16u << 20)) {
        buf_printf(err, "--batch-bytes must be 16K..16M");
        return RF_EINVAL;
    }
    if (c->spool_max_bytes && c->spool_max_bytes < 2 * (uint64_t)c->batch_bytes) {
        buf_printf(err, "--spool-max-bytes must be at least twice --batch-bytes");
        return RF_EINVAL;
    }
    if (c->retry_attempts < 1 || c->retry_base_ms < 1 || c->retry_max_delay_ms < c->retry_base_ms) {
        buf_printf(err, "--retry-attempts >= 1 and --retry-max-delay >= --retry-base > 0");
        return RF_EINVAL;
    }
    if (c->interval_ms < 1000 || c->timeout_ms < 1000 || c->connect_timeout_ms < 100) {
        buf_printf(err, "--interval and --timeout must be at least 1s");
        return RF_EINVAL;
    }
    if (c->device_id &&
        (!*c->device_id || strlen(c->device_id) > 128 || strpbrk(c->device_id, " \t\r\n"))) {
        buf_printf(err, "--device-id must be 1..128 printable characters without spaces");
        return RF_EINVAL;
    }
    return RF_OK;
}

const char *agent_config_usage(void)
{
    return "usage: rasfleet-agent [--once | --interval DUR] --collector URL\n"
           "                      (--token TOKEN | --token-file FILE) --state-dir DIR\n"
           "                      (--source-dir DIR | --native) [options]\n"
           "\n"
           "  --config FILE           key = value file; every flag below is a key\n"
           "                          (dashes become underscores); flags override it\n"
           "  --once                  collect and deliver once, then exit: 0 when\n"
           "                          everything collected so far is delivered\n"
           "  --interval DUR          daemon mode: one cycle every DUR (default 15m)\n"
           "  --collector URL         http(s)://host:port of the collector\n"
           "  --token TOKEN           agent token (--token-file FILE: read it from FILE)\n"
           "  --source-dir DIR        directory of exports (events XML/JSON, rasphone.pbk,\n"
           "                          Get-NetIPInterface / Get-VpnConnection JSON)\n"
           "  --native                Windows: read the event log, interfaces, pbk files\n"
           "  --state-dir DIR         progress, spool, status.json, device-id\n"
           "  --device-id ID          device identity (default: machine id, kept in DIR)\n"
           "  --ca-file FILE          CA bundle for https (verification is always on)\n"
           "  --batch-records N       records per batch (500)\n"
           "  --batch-bytes SIZE      JSON bytes per batch before gzip (1M)\n"
           "  --spool-max-bytes SIZE  spool bound, oldest dropped first (64M)\n"
           "  --spool-max-age DUR     batches older than this are dropped (14d)\n"
           "  --retry-attempts N      attempts per batch and run (5)\n"
           "  --retry-budget DUR      time one run may wait for retries (60s)\n"
           "  --retry-base DUR        first backoff delay (1s)\n"
           "  --retry-max-delay DUR   backoff cap (30s)\n"
           "  --timeout DUR           one HTTP request (60s)\n"
           "  --connect-timeout DUR   TCP/TLS connect (10s)\n"
           "  --dedupe-keys N         dedupe keys remembered (200000)\n"
           "  --log-level LEVEL       debug, info, warn, error (info)\n"
           "\n"
           "exit codes: 0 delivered, 1 not everything delivered (kept in the spool, or\n"
           "refused by the collector and moved to spool/rejected), 2 usage, 3 the\n"
           "collector refused the credentials or the URL (401/403/404), 4 local storage\n"
           "error (spool or state could not be written, e.g. disk full)\n";
}
