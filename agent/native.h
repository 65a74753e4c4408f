/*
 * native.h - the platform's own sources, used with --native: on Windows the
 * RasClient events of the Application log (Evt* API, resumed from a bookmark
 * kept in the state dir), the interfaces (GetIpInterfaceTable) and the
 * rasphone.pbk files of ProgramData and of every user profile
 * (agent/win/native.c). POSIX builds have none (agent/posix/native.c:
 * native_create() fails).
 */
#ifndef RF_AGENT_NATIVE_H
#define RF_AGENT_NATIVE_H

#include "agent_config.h"
#include "batcher.h"
#include "progress.h"
#include "sources.h"

struct native;

int native_create(const struct agent_config *cfg, struct native **out);
void native_destroy(struct native *n);
/* agent_native_fn: adds what is new since the last cycle to b. */
int native_collect(void *ctx, const struct sources_config *sc, struct progress *p,
                   struct batcher *b);

#endif
