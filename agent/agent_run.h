/*
 * agent_run.h - one agent: its identity, spool and progress, and the cycle
 * that collects what is new into the spool and delivers the spool.
 *
 * A cycle: replay the deltas of spooled batches above the applied sequence
 * (crash recovery), expire old batches, deliver what the spool holds,
 * collect (each batch flushed by the batcher is gzip-compressed, given a
 * UUID v4 batch_id, written to the spool, its progress applied, and then
 * delivery is tried), deliver again, report the agent itself (one
 * agent_status record in a batch of its own, never spooled: report.h),
 * write status.json.
 *
 * Delivery of one batch (oldest first): 200 -> deleted; 401, 403, 404 or
 * a redirect -> configuration error: nothing more is sent this cycle, the
 * spool is kept (exit 3); 408, 429, 5xx, another 2xx or no answer -> retried with
 * backoff.h (Retry-After honoured) until the attempts or the cycle's
 * budget run out, then the cycle stops sending (exit 1); any other status
 * -> moved to spool/rejected with a .reason file (exit 1 for this cycle).
 * Batches above the applied sequence are never sent (their progress is not
 * yet durable), so an ack can never outrun the progress.
 */
#ifndef RF_AGENT_RUN_H
#define RF_AGENT_RUN_H

#include "agent_config.h"
#include "transport.h"

#define AGENT_VERSION "0.1.0"

enum agent_exit {
    AGENT_EXIT_OK = 0,
    AGENT_EXIT_UNDELIVERED = 1,
    AGENT_EXIT_USAGE = 2,
    AGENT_EXIT_AUTH = 3,
    AGENT_EXIT_STORAGE = 4,
};

struct agent;

/* A source of records besides the export directory (Windows native
 * sources); called once per cycle with the batcher to fill. */
struct batcher;
struct progress;
struct sources_config;
typedef int (*agent_native_fn)(void *ctx, const struct sources_config *sc, struct progress *p,
                               struct batcher *b);

/*
 * Opens the agent: locks the state dir, resolves the device identity,
 * opens spool and progress. cfg and tr must outlive the agent. Returns RF_OK
 * or an error with a sentence in err (RF_EBUSY: another agent holds the
 * state dir).
 */
int agent_open(const struct agent_config *cfg, const struct transport *tr, struct agent **out,
               struct buf *err);
void agent_set_native(struct agent *a, agent_native_fn fn, void *ctx);
/* Runs one cycle; returns an enum agent_exit value. */
int agent_cycle(struct agent *a);
void agent_close(struct agent *a);

/* Formats a random UUID v4 (36 characters + NUL) into out. */
int agent_uuid_v4(char out[37]);

#endif
