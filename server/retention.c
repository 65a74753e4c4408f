/*
 * retention.c - the retention steps of both backends. See retention.h.
 */
#include "retention.h"
#include "rollup.h"

const struct retention_step retention_steps[] = {
    /* the minute matches the events_minute expression index */
    {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time / 60000 < $1 LIMIT $2)",
     60000, false},
    {"DELETE FROM iface_metrics WHERE id IN"
     " (SELECT id FROM iface_metrics WHERE time < $1 LIMIT $2)",
     1, false},
    {"DELETE FROM pbk_entries WHERE id IN (SELECT id FROM pbk_entries WHERE time < $1 LIMIT $2)", 1,
     false},
    {"DELETE FROM vpn_policies WHERE id IN"
     " (SELECT id FROM vpn_policies WHERE time < $1 LIMIT $2)",
     1, false},
    {"DELETE FROM agent_losses WHERE id IN"
     " (SELECT id FROM agent_losses WHERE time < $1 LIMIT $2)",
     1, false},
    {"DELETE FROM batches WHERE (device, uid) IN"
     " (SELECT device, uid FROM batches WHERE received < $1 LIMIT $2)",
     1, false},
    /* rollups: the oldest days, along the primary key */
    {"DELETE FROM rollup_failures WHERE (day, device, connection, code) IN"
     " (SELECT day, device, connection, code FROM rollup_failures WHERE day < $1 LIMIT $2)",
     ROLLUP_DAY_MS, true},
    {"DELETE FROM rollup_attempts WHERE day IN"
     " (SELECT day FROM rollup_attempts WHERE day < $1 LIMIT $2)",
     ROLLUP_DAY_MS, true},
};

const size_t retention_n_steps = sizeof(retention_steps) / sizeof(retention_steps[0]);

int retention_days_of(const struct retention_step *s, int retention_days, int rollup_retention_days)
{
    return s->rollup ? rollup_retention_days : retention_days;
}

int64_t retention_cutoff(const struct retention_step *s, int64_t now_ms, int days)
{
    return (now_ms - (int64_t)days * 86400000) / s->unit_ms;
}
