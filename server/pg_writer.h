/*
 * pg_writer.h - the writer of writer.h on PostgreSQL: the same contract
 * (bounded queue, group commit, dedupe on (device, batch uid), a done
 * callback with RF_OK only after COMMIT returned, the commit hook with
 * per-record inserted flags, clean stop), with a libpq connection instead
 * of a SQLite file. writer.c forwards every writer_* call here when the
 * configured database is a postgresql:// URL; nothing else calls it.
 *
 * Differences a caller can see: writer_stats.database_bytes is filled (from
 * pg_database_size) and devices_known counts every collector's devices;
 * max_db_bytes does not apply (PostgreSQL's own limits do); auth is
 * reloaded from the tokens table every second (no change counter as
 * SQLite's data_version; the table is small), see pg_tokens.h.
 */
#ifndef RASFLEET_PG_WRITER_H
#define RASFLEET_PG_WRITER_H

#include "writer.h"

struct pg_writer;

int pg_writer_start(const struct writer_config *cfg, struct auth *auth, struct pg_writer **out,
                    char *errbuf, size_t errlen);
void pg_writer_set_commit_hook(struct pg_writer *w, writer_commit_hook_fn fn, void *arg);
void pg_writer_set_tx_hook(struct pg_writer *w, writer_tx_hook_fn fn, void *arg);
int pg_writer_submit(struct pg_writer *w, struct rf_batch *batch, size_t bytes,
                     writer_done_fn done, void *arg);
void pg_writer_get_stats(struct pg_writer *w, struct writer_stats *out);
void pg_writer_stop(struct pg_writer *w);

#endif
