/*
 * native.c (POSIX) - there is no native source of Windows telemetry on a
 * POSIX system: --native is refused; the file sources are the way in.
 */
#include "native.h"
#include "rasfleet/result.h"

#include <stddef.h>

int native_create(const struct agent_config *cfg, struct native **out)
{
    (void)cfg;
    *out = NULL;
    return RF_EINVAL;
}

void native_destroy(struct native *n)
{
    (void)n;
}

int native_collect(void *ctx, const struct sources_config *sc, struct progress *p,
                   struct batcher *b)
{
    (void)ctx;
    (void)sc;
    (void)p;
    (void)b;
    return RF_EINVAL;
}
