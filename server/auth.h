/*
 * auth.h - bearer tokens: the in-memory table the request path checks, and
 * the token rows in the database that the CLI manages.
 *
 * Tokens are 256-bit random values shown once at creation; only their
 * SHA-256 is stored. A check hashes the presented token and compares it with
 * every known hash in constant time (no early exit, no secret-dependent
 * branch), so response timing tells nothing about which bytes matched.
 * The table is swapped under a rwlock when the database's token rows change
 * (auth_reload), so `token add|revoke` takes effect without a restart.
 */
#ifndef RASFLEET_AUTH_H
#define RASFLEET_AUTH_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum auth_role { AUTH_NONE = 0, AUTH_AGENT = 1, AUTH_READER = 2, AUTH_ADMIN = 3 };

#define AUTH_TOKEN_LEN 46 /* "rf_" + 43 base64url chars */
#define AUTH_HASH_LEN 32  /* SHA-256, as stored in the token rows */

struct auth;

/* Creates the table; admin_token may be NULL (then only DB tokens work). */
int auth_create(const char *admin_token, struct auth **out);
void auth_destroy(struct auth *a);
/* Replaces the admin token (rotation without restart); NULL disables it. */
int auth_set_admin(struct auth *a, const char *admin_token);
/* Reloads agent/reader tokens (not revoked) from the database. */
int auth_reload(struct auth *a, sqlite3 *db);
/* Replaces the agent/reader tokens with n rows given as hashes (n x
 * AUTH_HASH_LEN bytes) and role names ("agent", "reader"): auth_reload for
 * a backend that is not SQLite (pg_tokens.c). */
int auth_set_tokens(struct auth *a, const uint8_t *hashes, const char *const *roles, size_t n);
/* SHA-256 of a token string, as stored in the token rows. */
void auth_token_hash(const char *token, uint8_t out[AUTH_HASH_LEN]);
/* Role of an "Authorization" header value ("Bearer <token>"); AUTH_NONE
 * when absent, malformed or unknown. */
enum auth_role auth_check(struct auth *a, const char *authorization);
/* May this role do what `need` requires? Admin may do everything. */
bool auth_allows(enum auth_role have, enum auth_role need);
const char *auth_role_name(enum auth_role r);

/* ---- token rows (CLI) ---- */

/* Creates a token; writes it (NUL-terminated) to token_out, which must hold
 * AUTH_TOKEN_LEN + 1 bytes. */
int tokens_add(sqlite3 *db, enum auth_role role, const char *name, char *token_out,
               int64_t *id_out);
/* Prints one line per token (id, role, name, created, state); never the
 * secret. */
int tokens_list(sqlite3 *db, FILE *out);
/* One line of `token list` (r == NULL: the header line), shared by both
 * backends so the listing reads the same. */
struct token_row {
    int64_t id;
    const char *role, *name;
    int64_t created;
    bool revoked;
    int64_t revoked_at;
};
void tokens_print_row(FILE *out, const struct token_row *r);
/* Marks a token revoked; RF_ENOTFOUND when no such active token. */
int tokens_revoke(sqlite3 *db, int64_t id);
/* Generates a random token string (also used for the quick-start admin
 * token). */
int tokens_generate(char *token_out);

#endif
