/*
 * agentloss.c - deltas between two agent_status reports. See agentloss.h.
 */
#include "agentloss.h"

#include <stddef.h>

void agentloss_totals_of(const struct rf_agent_status *s, struct agentloss_totals *out)
{
    out->dropped_batches = s->dropped_batches_total;
    out->dropped_records = s->has_dropped_records ? s->dropped_records_total : 0;
    out->rejected_batches = s->has_rejected_batches ? s->rejected_batches_total : 0;
}

/* A total below the previous one: the agent started counting again from 0. */
static int64_t delta(int64_t prev, int64_t cur)
{
    return cur >= prev ? cur - prev : cur;
}

void agentloss_between(const struct agentloss_totals *prev, const struct agentloss_totals *cur,
                       struct agentloss *out)
{
    static const struct agentloss_totals zero = {0, 0, 0};
    if (!prev)
        prev = &zero;
    out->dropped_batches = delta(prev->dropped_batches, cur->dropped_batches);
    out->dropped_records = delta(prev->dropped_records, cur->dropped_records);
    out->rejected_batches = delta(prev->rejected_batches, cur->rejected_batches);
}

bool agentloss_any(const struct agentloss *l)
{
    return l->dropped_batches > 0 || l->rejected_batches > 0;
}
