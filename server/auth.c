/*
 * auth.c - token table and token rows. See auth.h.
 */
#include "auth.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

struct auth_entry {
    uint8_t hash[SHA256_DIGEST_SIZE];
    enum auth_role role;
};

struct auth {
    pthread_rwlock_t lock;
    bool has_admin;
    uint8_t admin_hash[SHA256_DIGEST_SIZE];
    struct auth_entry *entries;
    size_t n_entries;
};

static void hash_token(const char *token, size_t len, uint8_t out[SHA256_DIGEST_SIZE])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)token);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

int auth_create(const char *admin_token, struct auth **out)
{
    struct auth *a = calloc(1, sizeof(*a));
    if (!a)
        return RF_ENOMEM;
    pthread_rwlock_init(&a->lock, NULL);
    int rc = auth_set_admin(a, admin_token);
    if (rc != RF_OK) {
        auth_destroy(a);
        return rc;
    }
    *out = a;
    return RF_OK;
}

void auth_destroy(struct auth *a)
{
    if (!a)
        return;
    pthread_rwlock_destroy(&a->lock);
    free(a->entries);
    free(a);
}

int auth_set_admin(struct auth *a, const char *admin_token)
{
    if (admin_token && strlen(admin_token) < 16)
        return RF_EINVAL; /* too short to be a secret */
    pthread_rwlock_wrlock(&a->lock);
    a->has_admin = admin_token != NULL;
    if (admin_token)
        hash_token(admin_token, strlen(admin_token), a->admin_hash);
    pthread_rwlock_unlock(&a->lock);
    return RF_OK;
}

static enum auth_role role_from_name(const char *s)
{
    if (s && strcmp(s, "agent") == 0)
        return AUTH_AGENT;
    if (s && strcmp(s, "reader") == 0)
        return AUTH_READER;
    return AUTH_NONE;
}

const char *auth_role_name(enum auth_role r)
{
    switch (r) {
    case AUTH_AGENT:
        return "agent";
    case AUTH_READER:
        return "reader";
    case AUTH_ADMIN:
        return "admin";
    case AUTH_NONE:
        break;
    }
    return "none";
}

/* Installs entries (taking ownership) and frees the previous table. */
static void swap_entries(struct auth *a, struct auth_entry *entries, size_t n)
{
    pthread_rwlock_wrlock(&a->lock);
    struct auth_entry *old = a->entries;
    a->entries = entries;
    a->n_entries = n;
    pthread_rwlock_unlock(&a->lock);
    free(old);
}

void auth_token_hash(const char *token, uint8_t out[AUTH_HASH_LEN])
{
    hash_token(token, strlen(token), out);
}

int auth_set_tokens(struct auth *a, const uint8_t *hashes, const char *const *roles, size_t n)
{
    struct auth_entry *entries = calloc(n ? n : 1, sizeof(*entries));
    if (!entries)
        return RF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        memcpy(entries[i].hash, hashes + i * AUTH_HASH_LEN, AUTH_HASH_LEN);
        entries[i].role = role_from_name(roles[i]);
    }
    swap_entries(a, entries, n);
    return RF_OK;
}

int auth_reload(struct auth *a, sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    struct auth_entry *entries = NULL;
    size_t n = 0, cap = 0;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db, "SELECT hash, role FROM tokens WHERE revoked IS NULL", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != SHA256_DIGEST_SIZE)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct auth_entry *p = realloc(entries, ncap * sizeof(*p));
            if (!p) {
                rc = RF_ENOMEM;
                goto out;
            }
            entries = p;
            cap = ncap;
        }
        memcpy(entries[n].hash, sqlite3_column_blob(st, 0), SHA256_DIGEST_SIZE);
        entries[n].role = role_from_name((const char *)sqlite3_column_text(st, 1));
        n++;
    }
    if (step != SQLITE_DONE)
        goto out;
    swap_entries(a, entries, n);
    entries = NULL;
    rc = RF_OK;
out:
    free(entries);
    sqlite3_finalize(st);
    return rc;
}

enum auth_role auth_check(struct auth *a, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return AUTH_NONE;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t len = strlen(tok);
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 512)
        return AUTH_NONE;
    uint8_t h[SHA256_DIGEST_SIZE];
    hash_token(tok, len, h);
    unsigned role = AUTH_NONE;
    pthread_rwlock_rdlock(&a->lock);
    /* Constant time over the whole table: every hash is compared and the
     * role is selected with masks, not branches. */
    unsigned is_admin = (unsigned)a->has_admin & (unsigned)memeql_sec(h, a->admin_hash, sizeof(h));
    for (size_t i = 0; i < a->n_entries; i++) {
        unsigned eq = (unsigned)memeql_sec(h, a->entries[i].hash, sizeof(h));
        role |= (0u - eq) & (unsigned)a->entries[i].role;
    }
    pthread_rwlock_unlock(&a->lock);
    if (is_admin)
        return AUTH_ADMIN;
    return role == AUTH_AGENT || role == AUTH_READER ? (enum auth_role)role : AUTH_NONE;
}

bool auth_allows(enum auth_role have, enum auth_role need)
{
    return have == AUTH_ADMIN || (have != AUTH_NONE && have == need);
}

int tokens_generate(char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[43];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return RF_EIO;
    memcpy(out, "rf_", 3);
    for (size_t i = 0; i < sizeof(rnd); i++)
        out[3 + i] = alphabet[rnd[i] & 63]; /* 43 x 6 bits = 258 bits of entropy */
    out[AUTH_TOKEN_LEN] = '\0';
    return RF_OK;
}

int tokens_add(sqlite3 *db, enum auth_role role, const char *name, char *token_out,
               int64_t *id_out)
{
    if (role != AUTH_AGENT && role != AUTH_READER)
        return RF_EINVAL;
    int rc = tokens_generate(token_out);
    if (rc != RF_OK)
        return rc;
    uint8_t h[SHA256_DIGEST_SIZE];
    hash_token(token_out, AUTH_TOKEN_LEN, h);
    sqlite3_stmt *st = NULL;
    rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO tokens(name, role, hash, created) VALUES(?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, h, sizeof(h), SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time_now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(db);
    rc = RF_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

void tokens_print_row(FILE *out, const struct token_row *r)
{
    if (!r) {
        fprintf(out, "%-6s %-7s %-25s %-25s %s\n", "ID", "ROLE", "CREATED", "REVOKED", "NAME");
        return;
    }
    char created[TIME_RFC3339_MAX], revoked[TIME_RFC3339_MAX] = "-";
    time_format_rfc3339(r->created, created, sizeof(created));
    if (r->revoked)
        time_format_rfc3339(r->revoked_at, revoked, sizeof(revoked));
    fprintf(out, "%-6lld %-7s %-25s %-25s %s\n", (long long)r->id, r->role, created, revoked,
            r->name);
}

int tokens_list(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db, "SELECT id, role, name, created, revoked FROM tokens ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    tokens_print_row(out, NULL);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct token_row r = {.id = sqlite3_column_int64(st, 0),
                              .role = (const char *)sqlite3_column_text(st, 1),
                              .name = (const char *)sqlite3_column_text(st, 2),
                              .created = sqlite3_column_int64(st, 3),
                              .revoked = sqlite3_column_type(st, 4) != SQLITE_NULL,
                              .revoked_at = sqlite3_column_int64(st, 4)};
        tokens_print_row(out, &r);
    }
    if (step == SQLITE_DONE)
        rc = RF_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

int tokens_revoke(sqlite3 *db, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int rc = RF_ESTORAGE;
    if (sqlite3_prepare_v2(db, "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, time_now_ms());
    sqlite3_bind_int64(st, 2, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    rc = sqlite3_changes(db) == 1 ? RF_OK : RF_ENOTFOUND;
out:
    sqlite3_finalize(st);
    return rc;
}
