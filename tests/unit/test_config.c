/*
 * test_config.c - unit tests for server/config.c: defaults, every setting,
 * refusals and their messages, config files.
 *
 * Tests named regression_* reproduce defects found while writing this suite;
 * the defects are fixed and the tests guard against their return.
 */
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

#include "config.h"
#include "log.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

struct tmp {
    char dir[64];
    char path[128];
};

static int setup_tmp(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/rfcfg-XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof(t->path), "%s/rasfleet.conf", t->dir);
    *state = t;
    return 0;
}

static int teardown_tmp(void **state)
{
    struct tmp *t = *state;
    unlink(t->path);
    rmdir(t->dir);
    free(t);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int set(struct config *c, const char *k, const char *v, char *err)
{
    err[0] = '\0';
    return config_set(c, k, v, err, 256);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.db_path, "data/rasfleet.db");
    assert_string_equal(c.web_dir, "");
    assert_string_equal(c.admin_token, "");
    assert_int_equal(c.retention_days, 90);
    assert_int_equal(c.rollup_retention_days, 400);
    assert_int_equal(c.max_body_bytes, RF_DEFAULT_MAX_BODY);
    assert_int_equal(c.max_inflated_bytes, RF_DEFAULT_MAX_INFLATED);
    assert_int_equal(c.max_records, RF_DEFAULT_MAX_RECORDS);
    assert_int_equal(c.queue_batches, 1024);
    assert_int_equal(c.queue_bytes, 256u << 20);
    assert_int_equal(c.group_records, 50000);
    assert_int_equal(c.threads, 2);
    assert_int_equal(c.connection_timeout_s, 30);
    assert_int_equal(c.max_connections, 4096);
    assert_int_equal(c.max_db_bytes, 0);
    assert_int_equal(c.pg_refresh_ms, 2000);
    assert_int_equal(c.log_level, LOG_INFO);
}

static void test_listen(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(set(&c, "listen", "127.0.0.1:0", err), RF_OK);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(set(&c, "listen", "[::1]:9000", err), RF_OK);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(set(&c, "listen", "0.0.0.0:65535", err), RF_OK);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 65535);
    assert_int_equal(set(&c, "listen", "collector.example.net:443", err), RF_OK);
    assert_string_equal(c.listen_host, "collector.example.net");
    assert_int_equal(c.listen_port, 443);
    assert_int_equal(set(&c, "listen", "[::]:8080", err), RF_OK);
    assert_string_equal(c.listen_host, "::");
    assert_int_equal(c.listen_port, 8080);
}

static void test_listen_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536",
                         "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1:abc", "", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config c;
        char err[256];
        config_defaults(&c);
        c.listen_port = 1234;
        if (set(&c, "listen", bad[i], err) != RF_EFORMAT)
            fail_msg("listen '%s' accepted", bad[i]);
        /* the setting is untouched and the message names key and value */
        assert_string_equal(c.listen_host, "127.0.0.1");
        assert_int_equal(c.listen_port, 1234);
        assert_non_null(strstr(err, "'listen'"));
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
        assert_non_null(strstr(err, quoted));
    }
    /* a host that does not fit listen_host */
    char longhost[200];
    memset(longhost, 'h', 150);
    strcpy(longhost + 150, ":80");
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(set(&c, "listen", longhost, err), RF_EFORMAT);
    assert_string_equal(c.listen_host, "127.0.0.1");
}

struct num_case {
    const char *key;
    const char *value;
    uint64_t expect;
};

static uint64_t field_value(const struct config *c, const char *key)
{
    if (!strcmp(key, "retention_days"))
        return (uint64_t)c->retention_days;
    if (!strcmp(key, "rollup_retention_days"))
        return (uint64_t)c->rollup_retention_days;
    if (!strcmp(key, "max_body_bytes"))
        return c->max_body_bytes;
    if (!strcmp(key, "max_inflated_bytes"))
        return c->max_inflated_bytes;
    if (!strcmp(key, "max_records"))
        return c->max_records;
    if (!strcmp(key, "queue_batches"))
        return c->queue_batches;
    if (!strcmp(key, "queue_bytes"))
        return c->queue_bytes;
    if (!strcmp(key, "group_records"))
        return c->group_records;
    if (!strcmp(key, "threads"))
        return c->threads;
    if (!strcmp(key, "pg_refresh_ms"))
        return c->pg_refresh_ms;
    if (!strcmp(key, "connection_timeout"))
        return c->connection_timeout_s;
    if (!strcmp(key, "max_connections"))
        return c->max_connections;
    if (!strcmp(key, "max_db_bytes"))
        return (uint64_t)c->max_db_bytes;
    fail_msg("no such key %s", key);
    return 0;
}

static void test_numeric_settings(void **state)
{
    (void)state;
    static const struct num_case cases[] = {
        {"retention_days", "0", 0},
        {"retention_days", "365", 365},
        {"retention_days", "36500", 36500},
        {"rollup_retention_days", "0", 0},
        {"rollup_retention_days", "730", 730},
        {"max_body_bytes", "1024", 1024},
        {"max_body_bytes", "1073741824", 1ull << 30},
        {"max_inflated_bytes", "2147483648", 1ull << 31},
        {"max_records", "1", 1},
        {"max_records", "1000000", 1000000},
        {"queue_batches", "1", 1},
        {"queue_batches", "4096", 4096},
        {"queue_bytes", "1099511627776", 1ull << 40},
        {"group_records", "10000000", 10000000},
        {"threads", "1", 1},
        {"threads", "256", 256},
        {"connection_timeout", "3600", 3600},
        {"max_connections", "1000000", 1000000},
        {"max_db_bytes", "0", 0},
        {"max_db_bytes", "1125899906842624", 1ull << 50},
        {"max_db_bytes", "65536", 65536},
        {"pg_refresh_ms", "50", 50},
        {"pg_refresh_ms", "600000", 600000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config c, before;
        char err[256];
        config_defaults(&c);
        if (set(&c, cases[i].key, cases[i].value, err) != RF_OK)
            fail_msg("%s = %s refused: %s", cases[i].key, cases[i].value, err);
        assert_int_equal(field_value(&c, cases[i].key), cases[i].expect);
        /* nothing else changed (4-byte fields do not spill into neighbours) */
        config_defaults(&before);
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
            if (strcmp(cases[k].key, cases[i].key) != 0)
                assert_int_equal(field_value(&c, cases[k].key),
                                 field_value(&before, cases[k].key));
        assert_string_equal(c.listen_host, before.listen_host);
        assert_int_equal(c.listen_port, before.listen_port);
        assert_int_equal(c.log_level, before.log_level);
    }
}

static void test_numeric_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"retention_days", "-1"},     {"retention_days", "36501"}, {"retention_days", "ten"},
        {"retention_days", "10d"},    {"retention_days", ""},      {"max_body_bytes", "1023"},
        {"rollup_retention_days", "-1"}, {"rollup_retention_days", "36501"},
        {"max_body_bytes", "1073741825"}, {"max_inflated_bytes", "2147483649"},
        {"max_records", "0"},         {"max_records", "1000001"},  {"queue_batches", "0"},
        {"queue_bytes", "1023"},      {"group_records", "0"},      {"threads", "0"},
        {"threads", "257"},           {"connection_timeout", "0"}, {"connection_timeout", "3601"},
        {"max_connections", "0"},     {"max_db_bytes", "1125899906842625"},
        {"threads", "99999999999999999999999"}, {"threads", "1.5"}, {"threads", "0x10"},
        {"threads", "-0"},
        {"pg_refresh_ms", "49"},      {"pg_refresh_ms", "600001"}, {"pg_refresh_ms", "0"},
        {"pg_refresh_ms", "2s"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config c, before;
        char err[256];
        config_defaults(&c);
        config_defaults(&before);
        if (set(&c, bad[i].key, bad[i].value, err) != RF_EFORMAT)
            fail_msg("%s = '%s' accepted", bad[i].key, bad[i].value);
        assert_int_equal(field_value(&c, bad[i].key), field_value(&before, bad[i].key));
        char expect[256];
        snprintf(expect, sizeof(expect), "invalid value for '%s': '%s'", bad[i].key,
                 bad[i].value);
        assert_string_equal(err, expect);
    }
}

static void test_string_settings(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(set(&c, "db", "/var/lib/rasfleet/fleet.db", err), RF_OK);
    assert_string_equal(c.db_path, "/var/lib/rasfleet/fleet.db");
    assert_int_equal(set(&c, "web_dir", "/usr/share/rasfleet/web", err), RF_OK);
    assert_string_equal(c.web_dir, "/usr/share/rasfleet/web");
    assert_int_equal(set(&c, "admin_token", "0123456789abcdef", err), RF_OK);
    assert_string_equal(c.admin_token, "0123456789abcdef");
    /* a path that does not fit is refused */
    char longpath[1100];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(set(&c, "db", longpath, err), RF_EFORMAT);
    assert_string_equal(c.db_path, "/var/lib/rasfleet/fleet.db");
    assert_non_null(strstr(err, "'db'"));
    longpath[1023] = '\0'; /* 1023 bytes + NUL fit exactly */
    assert_int_equal(set(&c, "db", longpath, err), RF_OK);
    assert_int_equal(strlen(c.db_path), 1023);
    longpath[1023] = 'p';
    longpath[1024] = '\0';
    assert_int_equal(set(&c, "web_dir", longpath, err), RF_EFORMAT);
}

static void test_admin_token_too_short(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(set(&c, "admin_token", "0123456789abcde", err), RF_EFORMAT);
    assert_string_equal(c.admin_token, "");
    assert_string_equal(err, "invalid value for 'admin_token': '0123456789abcde'");
}

static void test_log_level(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    static const char *const names[] = {"debug", "info", "warn", "error"};
    static const int levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(set(&c, "log_level", names[i], err), RF_OK);
        assert_int_equal(c.log_level, levels[i]);
    }
    assert_int_equal(set(&c, "log_level", "verbose", err), RF_EFORMAT);
    assert_int_equal(c.log_level, LOG_ERROR);
    assert_string_equal(err, "invalid value for 'log_level': 'verbose'");
    assert_int_equal(set(&c, "log_level", "INFO", err), RF_EFORMAT);
    assert_int_equal(set(&c, "log_level", "", err), RF_EFORMAT);
}

static void test_unknown_key(void **state)
{
    (void)state;
    struct config c, before;
    char err[256];
    config_defaults(&c);
    config_defaults(&before);
    assert_int_equal(set(&c, "listen_port", "80", err), RF_EFORMAT);
    assert_string_equal(err, "unknown setting 'listen_port'");
    assert_int_equal(set(&c, "Threads", "4", err), RF_EFORMAT);
    assert_string_equal(err, "unknown setting 'Threads'");
    assert_int_equal(set(&c, "", "x", err), RF_EFORMAT);
    assert_string_equal(err, "unknown setting ''");
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_file_with_comments(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "# rasfleet collector\n"
                        "\n"
                        "   # indented comment\n"
                        "listen = [::1]:9000\n"
                        "db=/tmp/rasfleet-test.db\n"
                        "\t retention_days\t=\t30  \n"
                        "threads = 8\r\n"
                        "\n"
                        "max_db_bytes = 1048576\n"
                        "log_level = debug\n"
                        "admin_token = abcdefghijklmnopqrstuvwxyz\n"
                        "   \n"
                        "queue_batches = 7"); /* last line without newline */
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    int rc = config_load_file(&c, t->path, err, sizeof(err));
    if (rc != RF_OK)
        fail_msg("load failed: %s", err);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.db_path, "/tmp/rasfleet-test.db");
    assert_int_equal(c.retention_days, 30);
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.max_db_bytes, 1048576);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_string_equal(c.admin_token, "abcdefghijklmnopqrstuvwxyz");
    assert_int_equal(c.queue_batches, 7);
    /* untouched settings keep their defaults */
    assert_int_equal(c.max_records, RF_DEFAULT_MAX_RECORDS);
    assert_int_equal(c.connection_timeout_s, 30);
}

static void test_file_value_with_equals(void **state)
{
    struct tmp *t = *state;
    /* only the first '=' splits: the rest belongs to the value */
    write_file(t->path, "admin_token = abc=def=ghi=jkl=mno\n");
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, t->path, err, sizeof(err)), RF_OK);
    assert_string_equal(c.admin_token, "abc=def=ghi=jkl=mno");
}

static void test_file_bad_value_line_number(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "# comment\n"
                        "\n"
                        "threads = 4\n"
                        "retention_days = forever\n"
                        "max_records = 5\n");
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, t->path, err, sizeof(err)), RF_EFORMAT);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s:4: invalid value for 'retention_days': 'forever'",
             t->path);
    assert_string_equal(err, expect);
    /* lines before the bad one were applied, lines after were not */
    assert_int_equal(c.threads, 4);
    assert_int_equal(c.retention_days, 90);
    assert_int_equal(c.max_records, RF_DEFAULT_MAX_RECORDS);
}

static void test_file_missing_equals_line_number(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "threads = 4\n\n\n# c\nlisten 127.0.0.1:8080\n");
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, t->path, err, sizeof(err)), RF_EFORMAT);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s:5: expected 'key = value'", t->path);
    assert_string_equal(err, expect);
}

static void test_file_unknown_key_line_number(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "threads = 4\nbogus_key = 1\n");
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, t->path, err, sizeof(err)), RF_EFORMAT);
    char expect[600];
    snprintf(expect, sizeof(expect), "%s:2: unknown setting 'bogus_key'", t->path);
    assert_string_equal(err, expect);
}

static void test_file_missing(void **state)
{
    struct tmp *t = *state;
    char path[200];
    snprintf(path, sizeof(path), "%s/does-not-exist.conf", t->dir);
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), RF_EIO);
    assert_non_null(strstr(err, path));
}

static void test_file_empty(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "");
    struct config c, before;
    char err[512] = "";
    config_defaults(&c);
    config_defaults(&before);
    assert_int_equal(config_load_file(&c, t->path, err, sizeof(err)), RF_OK);
    assert_memory_equal(&c, &before, sizeof(c));
}

/*
 * Bug: config_load_file() reads with fgets() into a 2048-byte buffer, so a
 * line longer than 2047 bytes is processed as several lines. A long comment
 * line makes a valid file fail ("<path>:2: expected 'key = value'", a line
 * number that does not exist), and a comment whose tail holds "key = value"
 * silently applies that setting.
 */
static void regression_long_comment_line(void **state)
{
    struct tmp *t = *state;
    char *text = NULL;
    size_t text_len = 0;
    FILE *m = open_memstream(&text, &text_len);
    assert_non_null(m);
    fputs("# ", m);
    for (int i = 0; i < 2045; i++)
        fputc('x', m);
    fputs(" threads = 9\nretention_days = 7\n", m);
    fclose(m);
    assert_int_equal(text_len, 2 + 2045 + strlen(" threads = 9\nretention_days = 7\n"));
    write_file(t->path, text);
    free(text);
    struct config c;
    char err[512] = "";
    config_defaults(&c);
    int rc = config_load_file(&c, t->path, err, sizeof(err));
    if (rc != RF_OK)
        fail_msg("a file with a long comment was refused: %s", err);
    assert_int_equal(c.retention_days, 7);
    assert_int_equal(c.threads, 2); /* the comment's text is not a setting */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_listen_invalid),
        cmocka_unit_test(test_numeric_settings),
        cmocka_unit_test(test_numeric_invalid),
        cmocka_unit_test(test_string_settings),
        cmocka_unit_test(test_admin_token_too_short),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test_setup_teardown(test_file_with_comments, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_value_with_equals, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_bad_value_line_number, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_missing_equals_line_number, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_unknown_key_line_number, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_missing, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_file_empty, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(regression_long_comment_line, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
