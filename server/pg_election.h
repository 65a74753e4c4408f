/*
 * pg_election.h - which collector computes the findings when several share
 * one PostgreSQL database. The one holding a session-level advisory lock
 * (pg_try_advisory_lock on a connection of its own, so the lock goes away
 * when the collector dies or that connection drops) is the leader: it
 * computes the findings and publishes them into the findings row (id = 1:
 * generated, node, body); every other collector serves that row. The
 * analyzer drives it through its analyzer_share hook (analyzer.h); only the
 * analyzer thread calls into an election, except pg_election_is_leader.
 */
#ifndef RASFLEET_PG_ELECTION_H
#define RASFLEET_PG_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer.h"
#include "buf.h"

struct pg_election;

/* Connects to url (errors: RF_ESTORAGE + errbuf; a collector that cannot
 * reach the database does not start) and names this collector node in the
 * documents it publishes. */
int pg_election_create(const char *url, const char *node, struct pg_election **out,
                       char *errbuf, size_t errlen);
void pg_election_destroy(struct pg_election *e);

/* The analyzer hook backed by this election. */
void pg_election_share(struct pg_election *e, struct analyzer_share *out);

/* Whether this collector holds the lock right now (any thread). */
bool pg_election_is_leader(const struct pg_election *e);

/* This machine's name and the process id, "host/pid", into out. */
void pg_election_node_name(char *out, size_t cap);

#endif
