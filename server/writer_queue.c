/*
 * writer_queue.c - the writer threads' bounded queue and loop. See
 * writer_queue.h.
 */
#include "writer_queue.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void writer_queue_init(struct writer_queue *q, const struct writer_config *cfg,
                       size_t group_batches)
{
    *q = (struct writer_queue){.max_batches = cfg->queue_batches,
                               .max_bytes = cfg->queue_bytes,
                               .group_records = cfg->group_records,
                               .group_batches = group_batches,
                               .group_wait_ms =
                                   cfg->group_wait_ms > 0 ? (unsigned)cfg->group_wait_ms : 0};
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    pthread_cond_init(&q->ack_cond, NULL);
    q->commit_ok = q->flush_ok = true;
}

void writer_queue_destroy(struct writer_queue *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    pthread_cond_destroy(&q->ack_cond);
}

int writer_queue_submit(struct writer_queue *q, struct rf_batch *batch, size_t bytes,
                        writer_done_fn done, void *arg)
{
    struct writer_job *job = calloc(1, sizeof(*job));
    if (!job)
        return RF_ENOMEM;
    pthread_mutex_lock(&q->lock);
    int rc = RF_OK;
    if (q->stopping)
        rc = RF_ESTOPPED;
    else if (q->depth >= q->max_batches || (q->depth > 0 && q->bytes + bytes > q->max_bytes))
        rc = RF_EBUSY;
    if (rc != RF_OK) {
        pthread_mutex_unlock(&q->lock);
        free(job);
        return rc;
    }
    job->batch = *batch;
    job->queued_ns = time_mono_ns();
    rf_batch_init(batch);
    job->bytes = bytes;
    job->done = done;
    job->arg = arg;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->depth++;
    q->bytes += bytes;
    q->queued_records += job->batch.n_records;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return RF_OK;
}

bool writer_queue_has_work(struct writer_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool busy = q->head != NULL;
    pthread_mutex_unlock(&q->lock);
    return busy;
}

void writer_queue_stats_locked(const struct writer_queue *q, struct writer_stats *out)
{
    out->queue_depth = q->depth;
    out->queue_capacity = q->max_batches;
    out->queue_bytes = q->bytes;
    out->healthy = q->commit_ok && q->flush_ok;
}

void writer_queue_commit_ok_locked(struct writer_queue *q, bool ok)
{
    q->commit_ok = ok;
}

bool writer_queue_healthy(struct writer_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool ok = q->commit_ok && q->flush_ok;
    pthread_mutex_unlock(&q->lock);
    return ok;
}

void writer_queue_set_commit_ok(struct writer_queue *q, bool ok)
{
    pthread_mutex_lock(&q->lock);
    q->commit_ok = ok;
    pthread_mutex_unlock(&q->lock);
}

void writer_queue_probe_ok(struct writer_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->commit_ok = q->flush_ok = true;
    pthread_mutex_unlock(&q->lock);
}

void writer_queue_stop(struct writer_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

/* With the lock held and a batch queued: lets a small group fill under
 * load, then detaches whole batches up to the group bounds. */
static struct writer_job *take_group_locked(struct writer_queue *q)
{
    while (!q->stopping && q->queued_records < q->group_records / 4 && q->group_wait_ms > 0) {
        int64_t left = (int64_t)q->group_wait_ms * 1000000 - (time_mono_ns() - q->head->queued_ns);
        if (left <= 0 || q->depth < 2)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += left > 1000000 ? 1000000 : left;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
    struct writer_job *group = q->head, *last = q->head;
    size_t records = last->batch.n_records, n = 1;
    while (last->next && n < q->group_batches &&
           records + last->next->batch.n_records <= q->group_records) {
        last = last->next;
        records += last->batch.n_records;
        n++;
    }
    q->head = last->next;
    if (!q->head)
        q->tail = NULL;
    last->next = NULL;
    for (struct writer_job *j = group; j; j = j->next) {
        q->depth--;
        q->bytes -= j->bytes;
        q->queued_records -= j->batch.n_records;
    }
    return group;
}

static void finish_group(struct writer_job *group)
{
    while (group) {
        struct writer_job *next = group->next;
        group->done(group->arg, &group->res);
        rf_batch_free(&group->batch);
        free(group->inserted);
        free(group);
        group = next;
    }
}

/* A flush failed: the group's stored batches are answered with its error. */
static void fail_unflushed(struct writer_job *group, const char *err)
{
    for (struct writer_job *j = group; j; j = j->next) {
        if (j->res.status != RF_OK)
            continue;
        j->res.status = RF_ESTORAGE;
        j->res.duplicate = false;
        snprintf(j->res.message, sizeof(j->res.message), "%s", err);
    }
}

struct ack_thread {
    struct writer_queue *q;
    const struct writer_queue_ops *ops;
    void *owner;
};

/* The answering thread: one flush for every group handed over before it
 * began, then their answers, in order. */
static void *ack_main(void *arg)
{
    struct ack_thread *a = arg;
    struct writer_queue *q = a->q;
    pthread_setname_np(pthread_self(), "rf-sync");
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->ack_head && !q->ack_stopping)
            pthread_cond_wait(&q->ack_cond, &q->lock);
        if (!q->ack_head)
            break;
        struct writer_job *groups = q->ack_head;
        q->ack_head = q->ack_tail = NULL;
        q->ack_groups = 0;
        pthread_cond_broadcast(&q->ack_cond); /* a writer waiting for room */
        pthread_mutex_unlock(&q->lock);
        char err[200] = "";
        int rc = a->ops->flush(a->owner, err, sizeof(err));
        pthread_mutex_lock(&q->lock);
        q->flush_ok = rc == RF_OK;
        pthread_mutex_unlock(&q->lock);
        while (groups) {
            struct writer_job *next = groups->next_group;
            if (a->ops->committed)
                a->ops->committed(a->owner, groups);
            if (rc != RF_OK)
                fail_unflushed(groups, err);
            finish_group(groups);
            groups = next;
        }
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Hands a processed group to the answering thread; waits while
 * ACK_MAX_GROUPS groups already wait for their flush. */
static void hand_over(struct writer_queue *q, struct writer_job *group)
{
    pthread_mutex_lock(&q->lock);
    while (q->ack_groups >= ACK_MAX_GROUPS)
        pthread_cond_wait(&q->ack_cond, &q->lock);
    group->next_group = NULL;
    if (q->ack_tail)
        q->ack_tail->next_group = group;
    else
        q->ack_head = group;
    q->ack_tail = group;
    q->ack_groups++;
    pthread_cond_broadcast(&q->ack_cond);
    pthread_mutex_unlock(&q->lock);
}

/* Without a thread for it (it could not start), a flush before answering. */
static void flush_and_finish(struct writer_queue *q, const struct writer_queue_ops *ops,
                             void *owner, struct writer_job *group)
{
    char err[200] = "";
    int rc = ops->flush(owner, err, sizeof(err));
    pthread_mutex_lock(&q->lock);
    q->flush_ok = rc == RF_OK;
    pthread_mutex_unlock(&q->lock);
    if (ops->committed)
        ops->committed(owner, group);
    if (rc != RF_OK)
        fail_unflushed(group, err);
    finish_group(group);
}

void writer_queue_run(struct writer_queue *q, const struct writer_queue_ops *ops, void *owner)
{
    int64_t next_housekeeping = time_now_ms() + 1000;
    struct ack_thread ack = {q, ops, owner};
    pthread_t ack_tid;
    bool acking = ops->flush && pthread_create(&ack_tid, NULL, ack_main, &ack) == 0;
    if (ops->flush && !acking)
        log_warn("cannot start the answering thread: each group waits for its own flush");
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->head && !q->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) != 0 && !q->head) {
                pthread_mutex_unlock(&q->lock);
                ops->housekeeping(owner);
                next_housekeeping = time_now_ms() + 1000;
                pthread_mutex_lock(&q->lock);
            }
        }
        if (!q->head && q->stopping) {
            q->ack_stopping = true;
            pthread_cond_broadcast(&q->ack_cond);
            pthread_mutex_unlock(&q->lock);
            break;
        }
        struct writer_job *group = take_group_locked(q);
        pthread_mutex_unlock(&q->lock);
        ops->process(owner, group);
        if (acking)
            hand_over(q, group);
        else if (ops->flush)
            flush_and_finish(q, ops, owner, group);
        else
            finish_group(group);
        if (time_now_ms() >= next_housekeeping) { /* a busy collector still ages data out */
            ops->housekeeping(owner);
            next_housekeeping = time_now_ms() + 1000;
        }
    }
    if (acking)
        pthread_join(ack_tid, NULL); /* it answers what waits, then ends */
}
