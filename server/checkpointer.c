/*
 * checkpointer.c - background WAL checkpoints. See checkpointer.h.
 */
#include "checkpointer.h"
#include "log.h"
#include "metrics.h"
#include "rasfleet/result.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct checkpointer {
    struct checkpointer_config cfg;
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;                   /* guarded by lock */
    struct checkpointer_stats stats; /* guarded by lock */
    int last_backfilled;             /* guarded by lock */
    bool behind;                     /* guarded by lock: catchup_frames wait to be copied */
    bool failing;                    /* thread only: the last checkpoint failed */
};

/* One PASSIVE checkpoint; updates the stats and the metrics. */
static void checkpoint_once(struct checkpointer *c)
{
    int log_frames = 0, backfilled = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &backfilled);
    bool busy = (rc & 0xff) == SQLITE_BUSY;
    uint64_t copied = 0;
    pthread_mutex_lock(&c->lock);
    if (rc == SQLITE_OK || busy) {
        /* backfilled counts from the WAL's start: a smaller value than last
         * time means the writer wrapped the WAL in between */
        if (backfilled >= c->last_backfilled)
            copied = (uint64_t)(backfilled - c->last_backfilled);
        else
            copied = (uint64_t)(backfilled > 0 ? backfilled : 0);
        c->last_backfilled = backfilled > 0 ? backfilled : 0;
        c->stats.wal_frames = log_frames > 0 ? log_frames : 0;
        c->stats.frames += copied;
        c->stats.runs += copied > 0;
        /* frames committed while this pass copied: catch up at once, so the
         * tail the writer copies to wrap the WAL (checkpointer.h) stays short */
        c->behind = copied > 0 && log_frames - backfilled > c->cfg.catchup_frames;
    } else {
        c->stats.failures++;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == SQLITE_OK || busy) {
        metrics_count_checkpoint(copied);
        if (c->failing)
            log_info("WAL checkpoints succeed again");
        c->failing = false;
    } else {
        /* once per failure streak: a full disk would repeat it every interval */
        if (!c->failing)
            log_warn("WAL checkpoint failed (the WAL grows until it succeeds): %s",
                     sqlite3_errmsg(c->db));
        c->failing = true;
    }
}

static void *checkpointer_main(void *arg)
{
    struct checkpointer *c = arg;
    pthread_setname_np(pthread_self(), "rf-checkpoint");
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(c->cfg.interval_ms % 1000) * 1000000L;
        ts.tv_sec += c->cfg.interval_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (!c->behind)
            pthread_cond_timedwait(&c->cond, &c->lock, &ts);
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->lock);
        checkpoint_once(c);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int checkpointer_start(const struct checkpointer_config *cfg, struct checkpointer **out,
                       char *errbuf, size_t errlen)
{
    *out = NULL;
    struct checkpointer *c = calloc(1, sizeof(*c));
    if (!c)
        return RF_ENOMEM;
    c->cfg = *cfg;
    if (c->cfg.interval_ms == 0)
        c->cfg.interval_ms = 1000;
    if (c->cfg.catchup_frames <= 0)
        c->cfg.catchup_frames = 1024;
    int rc =
        sqlite3_open_v2(cfg->db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(errbuf, errlen, "checkpointer cannot open %s: %s", cfg->db_path,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return RF_ESTORAGE;
    }
    /* a connection only knows the database is in WAL mode once it has read
     * it; until then a checkpoint is a no-op that reports -1 frames */
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(errbuf, errlen, "checkpointer cannot read %s: %s", cfg->db_path,
                 sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        free(c);
        return RF_ESTORAGE;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_main, c) != 0) {
        snprintf(errbuf, errlen, "cannot start the checkpointer thread");
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        sqlite3_close(c->db);
        free(c);
        return RF_EIO;
    }
    *out = c;
    return RF_OK;
}

void checkpointer_committed(struct checkpointer *c, int wal_frames)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    /* a wrapped WAL counts from its start again */
    int base = wal_frames >= c->last_backfilled ? c->last_backfilled : 0;
    if (!c->behind && wal_frames - base > c->cfg.catchup_frames) {
        c->behind = true;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

void checkpointer_get_stats(struct checkpointer *c, struct checkpointer_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

void checkpointer_stop(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
