/*
 * pg_tokens.h - agent and reader tokens kept in PostgreSQL: the `token`
 * command's add/list/revoke, and loading the rows into the request path's
 * table (auth.h) so that every collector sharing the database accepts a
 * token within a second or two of `token add` and refuses it as soon after
 * `token revoke`. The same rules as SQLite's token rows (auth.c): only the
 * SHA-256 of a token is stored, the secret is shown once.
 */
#ifndef RASFLEET_PG_TOKENS_H
#define RASFLEET_PG_TOKENS_H

#include "auth.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

/* Creates a token (token_out: AUTH_TOKEN_LEN + 1 bytes). RF_OK, RF_EINVAL
 * (role not agent/reader), RF_ESTORAGE. */
int pg_tokens_add(PGconn *c, enum auth_role role, const char *name, char *token_out,
                  int64_t *id_out);
int pg_tokens_list(PGconn *c, FILE *out);
/* RF_ENOTFOUND when no such active token. */
int pg_tokens_revoke(PGconn *c, int64_t id);
/* Replaces a's agent/reader tokens with the rows not revoked. */
int pg_tokens_load(PGconn *c, struct auth *a);

#endif
