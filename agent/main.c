/*
 * main.c - rasfleet-agent: flags and config, then one cycle (--once) or a
 * cycle every --interval (with +-10% jitter so a fleet started together
 * does not report together) until SIGTERM/SIGINT.
 */
#include "agent_config.h"
#include "agent_run.h"
#include "log.h"
#include "native.h"
#include "osdep.h"
#include "rasfleet/result.h"
#include "sender.h"

#include <stdio.h>
#include <string.h>

static int set_log_level(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (!name)
        return RF_OK;
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            log_set_level((enum log_level)i);
            return RF_OK;
        }
    }
    return RF_EINVAL;
}

int main(int argc, char **argv)
{
    struct agent_config cfg;
    struct buf err = BUF_INIT;
    struct sender *snd = NULL;
    struct agent *a = NULL;
    struct native *nat = NULL;
    int code = AGENT_EXIT_USAGE;
    agent_config_init(&cfg);
    if (agent_config_from_args(&cfg, argc, argv, &err) != RF_OK) {
        fprintf(stderr, "rasfleet-agent: %s\n%s", err.data, agent_config_usage());
        goto out;
    }
    if (cfg.help || cfg.version) {
        fputs(cfg.help ? agent_config_usage() : "rasfleet-agent " AGENT_VERSION "\n", stdout);
        code = AGENT_EXIT_OK;
        goto out;
    }
    if (agent_config_validate(&cfg, &err) != RF_OK || set_log_level(cfg.log_level) != RF_OK) {
        fprintf(stderr, "rasfleet-agent: %s\n",
                err.len ? err.data : "--log-level must be debug, info, warn or error");
        goto out;
    }
    osdep_install_stop_handlers();
    if (sender_create(&cfg, &snd) != RF_OK) {
        log_error("cannot initialise the HTTP client");
        code = AGENT_EXIT_UNDELIVERED;
        goto out;
    }
    struct transport tr = {sender_post, snd};
    int rc = agent_open(&cfg, &tr, &a, &err);
    if (rc != RF_OK) {
        log_error("%s", err.len ? err.data : rf_strerror(rc));
        code = rc == RF_EBUSY ? AGENT_EXIT_UNDELIVERED : AGENT_EXIT_STORAGE;
        goto out;
    }
    if (cfg.native) {
        if (native_create(&cfg, &nat) != RF_OK) {
            log_error("native sources are not available in this build");
            goto out;
        }
        agent_set_native(a, native_collect, nat);
    }
    for (;;) {
        code = agent_cycle(a);
        if (cfg.once || osdep_stop_requested())
            break;
        uint32_t r = 0;
        osdep_random(&r, sizeof(r));
        int64_t span = cfg.interval_ms / 5, wait = cfg.interval_ms - span / 2;
        if (span > 0)
            wait += (int64_t)(r % (uint32_t)(span + 1));
        log_info("next cycle in %lld s", (long long)(wait / 1000));
        if (osdep_sleep_ms(wait))
            break;
    }
    if (!cfg.once)
        code = AGENT_EXIT_OK; /* a daemon stopped by a signal stops cleanly */
out:
    agent_close(a);
    native_destroy(nat);
    sender_destroy(snd);
    agent_config_free(&cfg);
    buf_free(&err);
    return code;
}
