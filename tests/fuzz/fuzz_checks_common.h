/*
 * fuzz_checks_common.h - runs checks_run() and validates every finding:
 * rule from the table with an id, connection NULL or a string, evidence a
 * JSON object (cJSON parses it) with a string "reason", valid UTF-8 when
 * the inputs were. Used by fuzz_baseline and fuzz_checks.
 */
#ifndef RASFLEET_FUZZ_CHECKS_COMMON_H
#define RASFLEET_FUZZ_CHECKS_COMMON_H

#include "checks.h"
#include "fuzz_common.h"

#include <cjson/cJSON.h>

struct findings {
    bool utf8;
    size_t n;
    uint64_t hash; /* of rule ids, connections and evidence, for determinism */
};

static void finding_check(void *arg, const struct check_rule *rule, const char *connection,
                          const char *evidence)
{
    struct findings *f = arg;
    f->n++;
    FUZZ_CHECK(rule && rule->id && rule->id[0], "finding without a rule id");
    FUZZ_CHECK(checks_rule_find(rule->id) == rule, "rule '%s' not from the table", rule->id);
    FUZZ_CHECK(checks_rule_scope(rule) == CHECK_SCOPE_DEVICE, "fleet rule from checks_run");
    FUZZ_CHECK(evidence, "no evidence");
    size_t n = strlen(evidence);
    if (f->utf8 && !fuzz_skip("evidence-utf8"))
        FUZZ_CHECK(fuzz_utf8_ok(evidence, n), "rule %s: evidence is not valid UTF-8: %s",
                   rule->id, evidence);
    if (f->utf8 && connection)
        FUZZ_CHECK(fuzz_utf8_ok(connection, strlen(connection)), "connection not UTF-8");
    cJSON *doc = cJSON_ParseWithLength(evidence, n);
    FUZZ_CHECK(doc && cJSON_IsObject(doc), "rule %s: evidence is not a JSON object: %.600s",
               rule->id, evidence);
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(doc, "reason");
    FUZZ_CHECK(cJSON_IsString(reason), "rule %s: evidence without a reason: %.300s", rule->id,
               evidence);
    if (!fuzz_skip("reason-oneline"))
        FUZZ_CHECK(!strpbrk(reason->valuestring, "\r\n"),
                   "rule %s: the reason detection scripts print is not one line: %s", rule->id,
                   reason->valuestring);
    cJSON_Delete(doc);
    uint64_t h = f->hash ^ 0xcbf29ce484222325ull;
    for (const char *s = rule->id; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    for (const char *s = connection ? connection : "\x01"; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    for (const char *s = evidence; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    f->hash = h;
}

/* Runs the checks twice: valid findings, same result both times. */
static FUZZ_UNUSED void run_checks(const struct check_device *dev, const struct ipsec_baseline *b,
                                   bool utf8)
{
    struct findings f1 = {utf8, 0, 0}, f2 = {utf8, 0, 0};
    int rc = checks_run(dev, b, finding_check, &f1);
    FUZZ_CHECK(rc == RF_OK, "checks_run rc=%d", rc);
    rc = checks_run(dev, b, finding_check, &f2);
    FUZZ_CHECK(rc == RF_OK && f1.n == f2.n && f1.hash == f2.hash, "checks_run not deterministic");
}

#endif
