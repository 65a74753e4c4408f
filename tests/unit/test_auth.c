/*
 * test_auth.c - unit tests for server/auth.c: token rows in a temp SQLite
 * database (opened through store_open, which applies the migrations), the
 * in-memory table, bearer checks, admin rotation, revocation, roles.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nettle/sha2.h>
#include <sqlite3.h>

#include "auth.h"
#include "log.h"
#include "rasfleet/result.h"
#include "store.h"

#define ADMIN_A "admin-token-AAAAAAAAAAAAAAAA"
#define ADMIN_B "admin-token-BBBBBBBBBBBBBBBB"

struct fx {
    char dir[64];
    char path[128];
    sqlite3 *db;
    struct auth *auth;
};

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/rfauth-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/auth.db", f->dir);
    char err[256];
    if (store_open(f->path, STORE_READ_WRITE, &f->db, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    if (auth_create(ADMIN_A, &f->auth) != RF_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    auth_destroy(f->auth);
    sqlite3_close(f->db);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static enum auth_role check_bearer(struct auth *a, const char *token)
{
    char h[600];
    snprintf(h, sizeof(h), "Bearer %s", token);
    return auth_check(a, h);
}

static void assert_token_shape(const char *t)
{
    assert_int_equal(strlen(t), AUTH_TOKEN_LEN);
    assert_int_equal(AUTH_TOKEN_LEN, 46);
    assert_memory_equal(t, "rf_", 3);
    for (size_t i = 3; i < AUTH_TOKEN_LEN; i++) {
        char c = t[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            fail_msg("token char %zu is 0x%02x", i, (unsigned char)c);
    }
}

static void test_tokens_add_shape(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1], reader[AUTH_TOKEN_LEN + 1];
    int64_t ida = 0, idr = 0;
    memset(agent, 'x', sizeof(agent));
    memset(reader, 'x', sizeof(reader));
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "fleet agents", agent, &ida), RF_OK);
    assert_int_equal(tokens_add(f->db, AUTH_READER, "dashboard", reader, &idr), RF_OK);
    assert_token_shape(agent);
    assert_token_shape(reader);
    assert_string_not_equal(agent, reader);
    assert_true(ida > 0);
    assert_true(idr > ida);
    /* the rows carry role and name */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT role, name, revoked FROM tokens WHERE id=?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, ida);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "agent");
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "fleet agents");
    assert_int_equal(sqlite3_column_type(st, 2), SQLITE_NULL);
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, idr);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "reader");
    sqlite3_finalize(st);
}

static void test_tokens_add_refuses_other_roles(void **state)
{
    struct fx *f = *state;
    char t[AUTH_TOKEN_LEN + 1];
    assert_int_equal(tokens_add(f->db, AUTH_ADMIN, "x", t, NULL), RF_EINVAL);
    assert_int_equal(tokens_add(f->db, AUTH_NONE, "x", t, NULL), RF_EINVAL);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT count(*) FROM tokens", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    /* NULL name is stored as "" and a NULL id pointer is fine */
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, NULL, t, NULL), RF_OK);
}

static void test_generate(void **state)
{
    (void)state;
    enum { N = 500 };
    static char toks[N][AUTH_TOKEN_LEN + 1];
    for (int i = 0; i < N; i++) {
        assert_int_equal(tokens_generate(toks[i]), RF_OK);
        assert_token_shape(toks[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(toks[i], toks[j]);
    }
}

static void test_reload_and_check_roles(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1], reader[AUTH_TOKEN_LEN + 1];
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "a", agent, NULL), RF_OK);
    assert_int_equal(tokens_add(f->db, AUTH_READER, "r", reader, NULL), RF_OK);
    /* not loaded yet */
    assert_int_equal(check_bearer(f->auth, agent), AUTH_NONE);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(check_bearer(f->auth, agent), AUTH_AGENT);
    assert_int_equal(check_bearer(f->auth, reader), AUTH_READER);
    assert_int_equal(check_bearer(f->auth, ADMIN_A), AUTH_ADMIN);
    /* reload is idempotent */
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(check_bearer(f->auth, agent), AUTH_AGENT);
    assert_int_equal(check_bearer(f->auth, reader), AUTH_READER);
}

static void test_check_header_forms(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1], h[200];
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "a", agent, NULL), RF_OK);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    /* scheme is case-insensitive; extra spaces around the token are ignored */
    snprintf(h, sizeof(h), "bearer %s", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_AGENT);
    snprintf(h, sizeof(h), "BEARER %s", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_AGENT);
    snprintf(h, sizeof(h), "Bearer    %s  \t", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_AGENT);
    /* missing "Bearer", other schemes, empty */
    assert_int_equal(auth_check(f->auth, agent), AUTH_NONE);
    snprintf(h, sizeof(h), "Basic %s", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_NONE);
    snprintf(h, sizeof(h), "Bearer%s", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_NONE);
    snprintf(h, sizeof(h), "Token %s", agent);
    assert_int_equal(auth_check(f->auth, h), AUTH_NONE);
    assert_int_equal(auth_check(f->auth, ""), AUTH_NONE);
    assert_int_equal(auth_check(f->auth, NULL), AUTH_NONE);
    assert_int_equal(auth_check(f->auth, "Bearer "), AUTH_NONE);
    assert_int_equal(auth_check(f->auth, "Bearer"), AUTH_NONE);
    assert_int_equal(auth_check(f->auth, "Bearer      "), AUTH_NONE);
}

static void test_wrong_tokens(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1], t[AUTH_TOKEN_LEN + 8];
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "a", agent, NULL), RF_OK);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    /* one character changed anywhere */
    for (size_t i = 0; i < AUTH_TOKEN_LEN; i++) {
        memcpy(t, agent, sizeof(agent));
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(check_bearer(f->auth, t), AUTH_NONE);
    }
    /* prefix, extension, case change */
    memcpy(t, agent, sizeof(agent));
    t[AUTH_TOKEN_LEN - 1] = '\0';
    assert_int_equal(check_bearer(f->auth, t), AUTH_NONE);
    snprintf(t, sizeof(t), "%sx", agent);
    assert_int_equal(check_bearer(f->auth, t), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, "rf_"), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, "admin-token-AAAAAAAAAAAAAAA"), AUTH_NONE);
    /* a very long header is refused without trouble */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'z', 4999);
    big[4999] = '\0';
    memcpy(big, "Bearer ", 7);
    assert_int_equal(auth_check(f->auth, big), AUTH_NONE);
    free(big);
}

static void test_admin_rotation(void **state)
{
    struct fx *f = *state;
    assert_int_equal(check_bearer(f->auth, ADMIN_A), AUTH_ADMIN);
    assert_int_equal(check_bearer(f->auth, ADMIN_B), AUTH_NONE);
    assert_int_equal(auth_set_admin(f->auth, ADMIN_B), RF_OK);
    assert_int_equal(check_bearer(f->auth, ADMIN_A), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, ADMIN_B), AUTH_ADMIN);
    /* a too-short admin token is refused and the current one stays */
    assert_int_equal(auth_set_admin(f->auth, "short"), RF_EINVAL);
    assert_int_equal(auth_set_admin(f->auth, "0123456789abcde"), RF_EINVAL);
    assert_int_equal(check_bearer(f->auth, ADMIN_B), AUTH_ADMIN);
    assert_int_equal(check_bearer(f->auth, "short"), AUTH_NONE);
    /* 16 characters is the minimum */
    assert_int_equal(auth_set_admin(f->auth, "0123456789abcdef"), RF_OK);
    assert_int_equal(check_bearer(f->auth, "0123456789abcdef"), AUTH_ADMIN);
    assert_int_equal(check_bearer(f->auth, ADMIN_B), AUTH_NONE);
    /* NULL disables the admin token */
    assert_int_equal(auth_set_admin(f->auth, NULL), RF_OK);
    assert_int_equal(check_bearer(f->auth, "0123456789abcdef"), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, ADMIN_A), AUTH_NONE);
}

static void test_admin_does_not_affect_db_tokens(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1];
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "a", agent, NULL), RF_OK);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(auth_set_admin(f->auth, ADMIN_B), RF_OK);
    assert_int_equal(check_bearer(f->auth, agent), AUTH_AGENT);
    assert_int_equal(auth_set_admin(f->auth, NULL), RF_OK);
    assert_int_equal(check_bearer(f->auth, agent), AUTH_AGENT);
}

static void test_create_without_admin(void **state)
{
    (void)state;
    struct auth *a = NULL;
    assert_int_equal(auth_create(NULL, &a), RF_OK);
    assert_non_null(a);
    assert_int_equal(check_bearer(a, ADMIN_A), AUTH_NONE);
    assert_int_equal(auth_check(a, "Bearer "), AUTH_NONE);
    auth_destroy(a);
    a = NULL;
    assert_int_equal(auth_create("too-short", &a), RF_EINVAL);
    assert_null(a);
    auth_destroy(NULL);
}

static void test_revoke_and_reload(void **state)
{
    struct fx *f = *state;
    char a1[AUTH_TOKEN_LEN + 1], a2[AUTH_TOKEN_LEN + 1];
    int64_t id1, id2;
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "one", a1, &id1), RF_OK);
    assert_int_equal(tokens_add(f->db, AUTH_READER, "two", a2, &id2), RF_OK);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(check_bearer(f->auth, a1), AUTH_AGENT);
    assert_int_equal(tokens_revoke(f->db, id1), RF_OK);
    /* the in-memory table changes only on reload */
    assert_int_equal(check_bearer(f->auth, a1), AUTH_AGENT);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(check_bearer(f->auth, a1), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, a2), AUTH_READER);
    /* revoked rows keep their revocation time */
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(f->db, "SELECT revoked FROM tokens WHERE id=?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, id1);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_INTEGER);
    assert_true(sqlite3_column_int64(st, 0) > 1704067200000LL);
    sqlite3_finalize(st);
    /* revoking again, or an unknown id, is RF_ENOTFOUND */
    assert_int_equal(tokens_revoke(f->db, id1), RF_ENOTFOUND);
    assert_int_equal(tokens_revoke(f->db, 999999), RF_ENOTFOUND);
    assert_int_equal(tokens_revoke(f->db, -1), RF_ENOTFOUND);
    /* the last token revoked: the table becomes empty */
    assert_int_equal(tokens_revoke(f->db, id2), RF_OK);
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    assert_int_equal(check_bearer(f->auth, a2), AUTH_NONE);
    assert_int_equal(check_bearer(f->auth, ADMIN_A), AUTH_ADMIN);
}

static void test_revoke_unknown_on_empty(void **state)
{
    struct fx *f = *state;
    assert_int_equal(tokens_revoke(f->db, 1), RF_ENOTFOUND);
}

static void test_stored_hash_is_not_token(void **state)
{
    struct fx *f = *state;
    char t[AUTH_TOKEN_LEN + 1];
    int64_t id;
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "hash-check", t, &id), RF_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(f->db, "SELECT hash, typeof(hash) FROM tokens WHERE id=?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "blob");
    const void *blob = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    assert_int_equal(n, 32);
    uint8_t hash[32];
    memcpy(hash, blob, 32);
    sqlite3_finalize(st);
    /* no part of the token text in the hash (not even its 3-byte prefix) */
    assert_null(memmem(hash, 32, t, AUTH_TOKEN_LEN));
    assert_null(memmem(hash, 32, t + 3, 8));
    /* it is SHA-256 of the token */
    uint8_t expect[SHA256_DIGEST_SIZE];
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, AUTH_TOKEN_LEN, (const uint8_t *)t);
    sha256_digest(&ctx, sizeof(expect), expect);
    assert_memory_equal(hash, expect, 32);
    /* and the token text is nowhere in the row */
    assert_int_equal(
        sqlite3_prepare_v2(f->db,
                           "SELECT count(*) FROM tokens WHERE instr(name, ?1) OR instr(role, ?1)"
                           " OR instr(CAST(hash AS TEXT), ?1)",
                           -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
}

static void test_list_never_prints_secret(void **state)
{
    struct fx *f = *state;
    char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1];
    int64_t id1;
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "laptops", t1, &id1), RF_OK);
    assert_int_equal(tokens_add(f->db, AUTH_READER, "grafana", t2, NULL), RF_OK);
    assert_int_equal(tokens_revoke(f->db, id1), RF_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(tokens_list(f->db, out), RF_OK);
    fclose(out);
    assert_non_null(strstr(text, "ROLE"));
    assert_non_null(strstr(text, "laptops"));
    assert_non_null(strstr(text, "grafana"));
    assert_non_null(strstr(text, "agent"));
    assert_non_null(strstr(text, "reader"));
    assert_null(strstr(text, t1));
    assert_null(strstr(text, t2));
    assert_null(strstr(text, t1 + 3));
    /* 3 lines: header + 2 tokens */
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 3);
    free(text);
}

static void test_allows_matrix(void **state)
{
    (void)state;
    /* rows: have; columns: need (NONE, AGENT, READER, ADMIN) */
    static const bool expect[4][4] = {
        /* NONE   */ {false, false, false, false},
        /* AGENT  */ {false, true, false, false},
        /* READER */ {false, false, true, false},
        /* ADMIN  */ {true, true, true, true},
    };
    for (int have = 0; have < 4; have++)
        for (int need = 0; need < 4; need++)
            if (auth_allows((enum auth_role)have, (enum auth_role)need) != expect[have][need])
                fail_msg("auth_allows(%d, %d) != %d", have, need, expect[have][need]);
}

static void test_role_names(void **state)
{
    (void)state;
    assert_string_equal(auth_role_name(AUTH_NONE), "none");
    assert_string_equal(auth_role_name(AUTH_AGENT), "agent");
    assert_string_equal(auth_role_name(AUTH_READER), "reader");
    assert_string_equal(auth_role_name(AUTH_ADMIN), "admin");
}

struct checker {
    struct auth *auth;
    const char *token;
    enum auth_role want;
    int bad;
};

static void *check_loop(void *arg)
{
    struct checker *c = arg;
    for (int i = 0; i < 2000; i++)
        if (check_bearer(c->auth, c->token) != c->want)
            c->bad++;
    return NULL;
}

static void test_concurrent_checks_during_reload(void **state)
{
    struct fx *f = *state;
    char agent[AUTH_TOKEN_LEN + 1], reader[AUTH_TOKEN_LEN + 1];
    assert_int_equal(tokens_add(f->db, AUTH_AGENT, "a", agent, NULL), RF_OK);
    assert_int_equal(tokens_add(f->db, AUTH_READER, "r", reader, NULL), RF_OK);
    for (int i = 0; i < 30; i++) {
        char t[AUTH_TOKEN_LEN + 1];
        assert_int_equal(tokens_add(f->db, AUTH_AGENT, "filler", t, NULL), RF_OK);
    }
    assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    struct checker c[3] = {{f->auth, agent, AUTH_AGENT, 0},
                           {f->auth, reader, AUTH_READER, 0},
                           {f->auth, ADMIN_A, AUTH_ADMIN, 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, check_loop, &c[i]), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(auth_reload(f->auth, f->db), RF_OK);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].bad, 0);
    }
}

static void test_reload_without_schema_fails(void **state)
{
    (void)state;
    sqlite3 *mem;
    assert_int_equal(sqlite3_open(":memory:", &mem), SQLITE_OK);
    struct auth *a;
    assert_int_equal(auth_create(ADMIN_A, &a), RF_OK);
    assert_int_equal(auth_reload(a, mem), RF_ESTORAGE);
    /* the admin token still works after a failed reload */
    assert_int_equal(check_bearer(a, ADMIN_A), AUTH_ADMIN);
    auth_destroy(a);
    sqlite3_close(mem);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        T(test_tokens_add_shape),
        T(test_tokens_add_refuses_other_roles),
        cmocka_unit_test(test_generate),
        T(test_reload_and_check_roles),
        T(test_check_header_forms),
        T(test_wrong_tokens),
        T(test_admin_rotation),
        T(test_admin_does_not_affect_db_tokens),
        cmocka_unit_test(test_create_without_admin),
        T(test_revoke_and_reload),
        T(test_revoke_unknown_on_empty),
        T(test_stored_hash_is_not_token),
        T(test_list_never_prints_secret),
        cmocka_unit_test(test_allows_matrix),
        cmocka_unit_test(test_role_names),
        T(test_concurrent_checks_during_reload),
        cmocka_unit_test(test_reload_without_schema_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
