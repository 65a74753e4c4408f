/*
 * checks.h - device checks: one device's latest interfaces, rasphone.pbk
 * entries and VPN policies against the rules of docs/rules.md (interface
 * metric order per address family, pbk settings against recommended values,
 * the IPsec policy against the operator's server baseline, weak groups,
 * device-tunnel invariants). Pure functions: no locks, no I/O, so the
 * analyzer runs them on snapshots and the tests run them on fixtures.
 *
 * Each violation is reported through a callback with the rule, the
 * connection it concerns (NULL when device-wide) and a JSON object of
 * evidence (the values that made it fire), which the remediation feed and
 * the device page show as they are.
 */
#ifndef RASFLEET_CHECKS_H
#define RASFLEET_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "rasfleet/record.h"

enum check_severity { SEV_INFO = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* Static description of a rule (device or fleet). */
struct check_rule {
    const char *id;       /* stable, used in URLs: "metric-order", "pbk-metric", ... */
    enum check_severity severity;
    const char *title;    /* short, for lists */
    const char *summary;  /* one or two sentences: what is wrong and its effect */
    const char *remediation; /* what to change, for an administrator */
    const char *powershell;  /* NULL when none applies */
    const char *references[4]; /* URLs, NULL-terminated */
};

/* The operator's IPsec baseline for the VPN server (config file or admin API). */
struct ipsec_baseline {
    bool configured;         /* false: policy checks other than weak groups are skipped */
    bool server_custom;      /* the server enforces a custom policy */
    struct rf_ipsec_policy policy; /* valid when server_custom */
};

/* The device's agent as its latest agent_status report describes it. */
struct check_agent {
    const struct rf_agent_status *status;
    int64_t time_ms;      /* the report's own time */
    bool has_last_drop;
    int64_t last_drop_ms; /* time of the latest report that added dropped batches */
};

/* One device's latest state. Arrays may be empty. */
struct check_device {
    const struct rf_iface_metric *ifaces;
    size_t n_ifaces;
    const struct rf_pbk_entry *pbk;
    size_t n_pbk;
    const struct rf_vpn_policy *policies;
    size_t n_policies;
    const struct check_agent *agent; /* NULL: its agent never reported a status */
};

/* Called once per violation. evidence_json is a complete JSON object. */
typedef void (*check_emit_fn)(void *arg, const struct check_rule *rule, const char *connection,
                              const char *evidence_json);

/* Runs every device rule. Returns RF_OK or RF_ENOMEM. */
int checks_run(const struct check_device *dev, const struct ipsec_baseline *baseline,
               check_emit_fn emit, void *arg);

/* Rule table (device rules and the fleet rules the analyzer emits). */
size_t checks_rule_count(void);
const struct check_rule *checks_rule_at(size_t i);
const struct check_rule *checks_rule_find(const char *id);
const char *checks_severity_name(enum check_severity s);

/* Appends {"text","powershell"?,"references":[...]} for a rule. */
int checks_remediation_json(const struct check_rule *rule, struct buf *out);

/* ---- additions (everything above is the original contract) ---- */

/*
 * Notes on checks_run() and the evidence (docs/rules.md has every field):
 *  - every evidence object has "reason", a short one-line text such as
 *    "ipv4 vpn 25 >= Ethernet 25" that detection scripts print as is;
 *  - a device with no data (all counts 0) yields no findings;
 *  - baseline may be NULL (same as not configured);
 *  - RF_EINVAL when dev or emit is NULL or an array is NULL with a
 *    non-zero count; nothing is emitted after a failure;
 *  - findings come in rule-table order, then input order; the pointers
 *    passed to emit are valid only during the call.
 */

/* Interface metrics the metric rules recommend (docs/rules.md): the user
 * tunnel 3, the device tunnel 4, both below the usual physical >= 5. */
#define CHECKS_METRIC_USER_TUNNEL 3
#define CHECKS_METRIC_DEVICE_TUNNEL 4

/* agent-spool-drops: the agent's drops count while its latest report is at
 * most this long after the latest report that added some (docs/rules.md). */
#define CHECKS_AGENT_DROPS_RECENT_MS (7LL * 24 * 3600 * 1000)

/* Who evaluates a rule: checks_run() (device) or the analyzer (fleet). */
enum check_scope { CHECK_SCOPE_DEVICE = 0, CHECK_SCOPE_FLEET };

/* Scope of a rule of the table; CHECK_SCOPE_FLEET for a pointer that is
 * not from the table (never evaluated by checks_run()). */
enum check_scope checks_rule_scope(const struct check_rule *rule);

/* Number of non-NULL references of rule (0..3). */
size_t checks_rule_ref_count(const struct check_rule *rule);

#endif
