/*
 * test_dburl.c - unit tests for server/dburl.c: which backend a --db value
 * selects, what reaches the SQLite code paths, refusals, and that a
 * password never survives redaction. Also the config key `db` using it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "dburl.h"
#include "rasfleet/result.h"

static int norm(const char *in, char *out, size_t cap)
{
    char err[200] = "";
    int rc = dburl_normalise(in, out, cap, err, sizeof(err));
    if (rc != RF_OK)
        assert_true(err[0] != '\0'); /* a refusal always says why */
    return rc;
}

static void test_plain_path_is_sqlite(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(norm("data/rasfleet.db", out, sizeof(out)), RF_OK);
    assert_string_equal(out, "data/rasfleet.db");
    assert_int_equal(dburl_kind(out), DBURL_SQLITE);
    /* a colon in a file name is still a file name */
    assert_int_equal(norm("/srv/a:b.db", out, sizeof(out)), RF_OK);
    assert_int_equal(dburl_kind(out), DBURL_SQLITE);
}

static void test_sqlite_prefix_stripped(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(norm("sqlite:/var/lib/rasfleet/x.db", out, sizeof(out)), RF_OK);
    assert_string_equal(out, "/var/lib/rasfleet/x.db");
    assert_int_equal(norm("sqlite:rel.db", out, sizeof(out)), RF_OK);
    assert_string_equal(out, "rel.db");
    assert_int_equal(norm("sqlite:///abs/x.db", out, sizeof(out)), RF_OK);
    assert_string_equal(out, "/abs/x.db");
    assert_int_equal(norm("SQLite:rel.db", out, sizeof(out)), RF_OK);
    assert_string_equal(out, "rel.db");
    assert_false(dburl_is_postgres(out));
}

static void test_postgres_urls(void **state)
{
    (void)state;
    char out[256];
    const char *urls[] = {"postgresql://rasfleet:pw@127.0.0.1:5432/rasfleet",
                          "postgres://db.example/rasfleet?sslmode=require",
                          "postgresql:///rasfleet?host=/run/postgresql", "POSTGRESQL://h/d"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        assert_int_equal(norm(urls[i], out, sizeof(out)), RF_OK);
        assert_string_equal(out, urls[i]); /* handed to libpq unchanged */
        assert_int_equal(dburl_kind(out), DBURL_POSTGRES);
    }
}

static void test_refused(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(norm("", out, sizeof(out)), RF_EFORMAT);
    assert_int_equal(norm("sqlite:", out, sizeof(out)), RF_EFORMAT);
    assert_int_equal(norm("sqlite://", out, sizeof(out)), RF_EFORMAT);
    assert_int_equal(norm("mysql://root@localhost/x", out, sizeof(out)), RF_EFORMAT);
    assert_int_equal(norm("postgresq://typo/x", out, sizeof(out)), RF_EFORMAT);
    assert_int_equal(norm("file:///x.db", out, sizeof(out)), RF_EFORMAT);
    /* too long for the buffer: refused, not truncated into another name */
    assert_int_equal(norm("postgresql://host.example.org:5432/a_long_database_name", out,
                          sizeof(out)),
                     RF_ETOOBIG);
}

static void test_redact(void **state)
{
    (void)state;
    char out[256];
    dburl_redact("postgresql://rasfleet:s3cret@127.0.0.1:5432/db", out, sizeof(out));
    assert_string_equal(out, "postgresql://rasfleet:***@127.0.0.1:5432/db");
    dburl_redact("postgres://u:p@ss:w@h/db?sslmode=require", out, sizeof(out));
    assert_null(strstr(out, "ss:w"));
    assert_string_equal(out, "postgres://u:***@h/db?sslmode=require");
    dburl_redact("postgresql://h/db?user=u&password=s3cret&sslmode=require", out, sizeof(out));
    assert_string_equal(out, "postgresql://h/db?user=u&password=***&sslmode=require");
    dburl_redact("postgresql://u@h/db", out, sizeof(out));
    assert_string_equal(out, "postgresql://u@h/db");
    dburl_redact("data/rasfleet.db", out, sizeof(out));
    assert_string_equal(out, "data/rasfleet.db");
    /* truncation keeps the terminator and never reveals the secret */
    char small[20];
    dburl_redact("postgresql://u:s3cret@h/db", small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_null(strstr(small, "s3"));
}

static void test_config_key(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    config_defaults(&c);
    assert_int_equal(config_set(&c, "db", "sqlite:/tmp/x.db", err, sizeof(err)), RF_OK);
    assert_string_equal(c.db_path, "/tmp/x.db");
    assert_int_equal(config_set(&c, "db", "postgresql://u:pw@h/db", err, sizeof(err)), RF_OK);
    assert_true(dburl_is_postgres(c.db_path));
    assert_int_equal(config_set(&c, "db", "mongodb://u:pw@h/db", err, sizeof(err)), RF_EFORMAT);
    assert_non_null(strstr(err, "mongodb"));
    assert_null(strstr(err, "pw")); /* the message never echoes the secret */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_path_is_sqlite), cmocka_unit_test(test_sqlite_prefix_stripped),
        cmocka_unit_test(test_postgres_urls),        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_redact),               cmocka_unit_test(test_config_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
