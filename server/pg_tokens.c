/*
 * pg_tokens.c - token rows in PostgreSQL. See pg_tokens.h.
 */
#include "pg_tokens.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int pg_tokens_add(PGconn *c, enum auth_role role, const char *name, char *token_out,
                  int64_t *id_out)
{
    if (role != AUTH_AGENT && role != AUTH_READER)
        return RF_EINVAL;
    int rc = tokens_generate(token_out);
    if (rc != RF_OK)
        return rc;
    uint8_t h[AUTH_HASH_LEN];
    char created[24];
    auth_token_hash(token_out, h);
    snprintf(created, sizeof(created), "%" PRId64, time_now_ms());
    const char *values[4] = {name ? name : "", auth_role_name(role), (const char *)h, created};
    const int lengths[4] = {0, 0, AUTH_HASH_LEN, 0};
    const int formats[4] = {0, 0, 1, 0}; /* the hash travels as binary bytea */
    PGresult *r = PQexecParams(c,
                               "INSERT INTO tokens(name, role, hash, created)"
                               " VALUES($1, $2, $3::bytea, $4::bigint) RETURNING id",
                               4, NULL, values, lengths, formats, 0);
    rc = RF_ESTORAGE;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        if (id_out)
            *id_out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        rc = RF_OK;
    }
    PQclear(r);
    return rc;
}

int pg_tokens_list(PGconn *c, FILE *out)
{
    PGresult *r = PQexec(c, "SELECT id, role, name, created, revoked FROM tokens ORDER BY id");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return RF_ESTORAGE;
    }
    tokens_print_row(out, NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        struct token_row row = {.id = strtoll(PQgetvalue(r, i, 0), NULL, 10),
                                .role = PQgetvalue(r, i, 1),
                                .name = PQgetvalue(r, i, 2),
                                .created = strtoll(PQgetvalue(r, i, 3), NULL, 10),
                                .revoked = !PQgetisnull(r, i, 4),
                                .revoked_at = strtoll(PQgetvalue(r, i, 4), NULL, 10)};
        tokens_print_row(out, &row);
    }
    PQclear(r);
    return RF_OK;
}

int pg_tokens_revoke(PGconn *c, int64_t id)
{
    char now[24], ids[24];
    snprintf(now, sizeof(now), "%" PRId64, time_now_ms());
    snprintf(ids, sizeof(ids), "%" PRId64, id);
    const char *values[2] = {now, ids};
    PGresult *r = PQexecParams(c,
                               "UPDATE tokens SET revoked = $1::bigint WHERE id = $2::bigint"
                               " AND revoked IS NULL",
                               2, NULL, values, NULL, NULL, 0);
    int rc = RF_ESTORAGE;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        rc = strcmp(PQcmdTuples(r), "1") == 0 ? RF_OK : RF_ENOTFOUND;
    PQclear(r);
    return rc;
}

int pg_tokens_load(PGconn *c, struct auth *a)
{
    /* binary results: the hash arrives as its 32 raw bytes */
    PGresult *r = PQexecParams(c, "SELECT hash, role FROM tokens WHERE revoked IS NULL", 0, NULL,
                               NULL, NULL, NULL, 1);
    int rc = RF_ESTORAGE;
    uint8_t *hashes = NULL;
    const char **roles = NULL;
    size_t n = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        goto out;
    int rows = PQntuples(r);
    hashes = malloc((size_t)(rows ? rows : 1) * AUTH_HASH_LEN);
    roles = malloc((size_t)(rows ? rows : 1) * sizeof(*roles));
    rc = RF_ENOMEM;
    if (!hashes || !roles)
        goto out;
    for (int i = 0; i < rows; i++) {
        if (PQgetlength(r, i, 0) != AUTH_HASH_LEN)
            continue;
        memcpy(hashes + n * AUTH_HASH_LEN, PQgetvalue(r, i, 0), AUTH_HASH_LEN);
        roles[n++] = PQgetvalue(r, i, 1); /* libpq terminates every value with a NUL */
    }
    rc = auth_set_tokens(a, hashes, roles, n);
out:
    free(hashes);
    free(roles);
    PQclear(r);
    return rc;
}
