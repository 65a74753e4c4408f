/*
 * txset.h - the ids of this collector's own PostgreSQL write transactions
 * (pg_current_xact_id() of each group commit), so that the tail (pg_tail.h)
 * skips the rows the commit hook already applied to the hot aggregate.
 *
 * The writer adds a transaction's id right after BEGIN, before any of its
 * rows exist, and removes it when the transaction did not commit; the tail
 * reads the members below its snapshot's xmin (every such transaction has
 * ended) and prunes them once it has moved past them. A handful of ids per
 * refresh interval, in ascending order (ids grow, so adding appends) under
 * a mutex; lookups are binary searches, so a backlog stays cheap.
 */
#ifndef RASFLEET_TXSET_H
#define RASFLEET_TXSET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct txset {
    pthread_mutex_t lock;
    int64_t *v;
    size_t n, cap;
};

void txset_init(struct txset *s);
void txset_free(struct txset *s);
/* RF_OK, RF_EINVAL (tx <= 0) or RF_ENOMEM. Adding a member again is a no-op. */
int txset_add(struct txset *s, int64_t tx);
void txset_remove(struct txset *s, int64_t tx);
bool txset_contains(struct txset *s, int64_t tx);
size_t txset_size(struct txset *s);
/* Drops the members below horizon (the tail will not look there again). */
void txset_prune_below(struct txset *s, int64_t horizon);
/* Appends the members in [lo, hi) as a PostgreSQL array literal ("{}",
 * "{7,9}") to b, ascending. RF_OK or RF_ENOMEM. */
int txset_array(struct txset *s, int64_t lo, int64_t hi, struct buf *b);

#endif
