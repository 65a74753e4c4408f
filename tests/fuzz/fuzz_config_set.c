/*
 * fuzz_config_set - the collector's settings: config_set() with arbitrary
 * keys and values, and config_load_file() on arbitrary file contents.
 *
 * Input: one mode byte. Mode & 1: the rest is a config file (written to a
 * memfd and read through /proc/self/fd/N). Otherwise the rest is up to 16
 * "key\0value\0" pairs applied in order. (mode >> 1) chooses the error
 * buffer size (1..128 bytes, exactly sized on the heap, or 512).
 *
 * Invariants beyond "no crash": after every call each string field of
 * struct config is NUL-terminated inside its array, every numeric field is
 * inside the range config_set() enforces (defaults included), log_level is
 * 0..3, admin_token is "" or 16+ characters; a refused setting leaves the
 * config unchanged and writes a terminated message; an accepted numeric
 * setting reads back as the decimal value given.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

#define TERM(f) FUZZ_CHECK(memchr(c->f, 0, sizeof(c->f)), #f " not terminated")

static void check_config(const struct config *c)
{
    TERM(listen_host);
    TERM(db_path);
    TERM(web_dir);
    TERM(admin_token);
    TERM(ipsec_baseline);
    FUZZ_CHECK(c->listen_port <= 65535, "port %u", c->listen_port);
    FUZZ_CHECK(c->retention_days >= 0 && c->retention_days <= 36500, "retention_days");
    FUZZ_CHECK(c->max_body_bytes >= 1024 && c->max_body_bytes <= (1ull << 30), "max_body");
    FUZZ_CHECK(c->max_inflated_bytes >= 1024 && c->max_inflated_bytes <= (1ull << 31),
               "max_inflated");
    FUZZ_CHECK(c->max_records >= 1 && c->max_records <= 1000000, "max_records");
    FUZZ_CHECK(c->queue_batches >= 1 && c->queue_batches <= 1000000, "queue_batches");
    FUZZ_CHECK(c->queue_bytes >= 1024 && c->queue_bytes <= (1ull << 40), "queue_bytes");
    FUZZ_CHECK(c->group_records >= 1 && c->group_records <= 10000000, "group_records");
    FUZZ_CHECK(c->threads >= 1 && c->threads <= 256, "threads");
    FUZZ_CHECK(c->connection_timeout_s >= 1 && c->connection_timeout_s <= 3600, "timeout");
    FUZZ_CHECK(c->max_connections >= 1 && c->max_connections <= 1000000, "max_connections");
    FUZZ_CHECK(c->max_db_bytes >= 0 && c->max_db_bytes <= (1ll << 50), "max_db_bytes");
    FUZZ_CHECK(c->hot_days >= 1 && c->hot_days <= 366, "hot_days");
    FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 3, "log_level %d", c->log_level);
    size_t tl = strlen(c->admin_token);
    FUZZ_CHECK(tl == 0 || tl >= 16, "admin_token of %zu characters", tl);
}

static const struct {
    const char *key;
    size_t off, width;
} numeric[] = {
    {"retention_days", offsetof(struct config, retention_days), 4},
    {"max_body_bytes", offsetof(struct config, max_body_bytes), 8},
    {"threads", offsetof(struct config, threads), 4},
    {"max_db_bytes", offsetof(struct config, max_db_bytes), 8},
    {"hot_days", offsetof(struct config, hot_days), 4},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t errlen = (mode >> 1) == 127 ? 512 : 1 + (mode >> 1);
    char *err = malloc(errlen);
    struct config *c = malloc(sizeof(*c)), *before = malloc(sizeof(*c));
    config_defaults(c);
    check_config(c);
    struct fdp f = {data + 1, size - 1};
    if (mode & 1) {
        int fd = memfd_create("rf-fuzz-config", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0, "memfd_create");
        FUZZ_CHECK(write(fd, f.p, f.n) == (ssize_t)f.n, "write");
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int rc = config_load_file(c, path, err, errlen);
        FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT, "config_load_file rc=%d", rc);
        if (rc != RF_OK)
            FUZZ_CHECK(memchr(err, 0, errlen), "errbuf not terminated");
        check_config(c);
        close(fd);
    } else {
        for (int i = 0; i < 16 && f.n; i++) {
            char *key = fdp_take_until(&f, 0, NULL), *val = fdp_take_until(&f, 0, NULL);
            memcpy(before, c, sizeof(*c));
            int rc = config_set(c, key, val, err, errlen);
            FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT, "config_set rc=%d", rc);
            if (rc != RF_OK) {
                FUZZ_CHECK(memchr(err, 0, errlen), "errbuf not terminated");
                FUZZ_CHECK(memcmp(before, c, sizeof(*c)) == 0,
                           "refused '%s' = '%s' but the config changed", key, val);
            }
            check_config(c);
            for (size_t k = 0; rc == RF_OK && k < sizeof(numeric) / sizeof(numeric[0]); k++) {
                if (strcmp(key, numeric[k].key) != 0)
                    continue;
                uint64_t v = 0;
                if (numeric[k].width == 4) {
                    uint32_t x;
                    memcpy(&x, (char *)c + numeric[k].off, 4);
                    v = x;
                } else {
                    memcpy(&v, (char *)c + numeric[k].off, 8);
                }
                FUZZ_CHECK(strtoull(val, NULL, 10) == v, "%s = '%s' reads back %llu", key, val,
                           (unsigned long long)v);
            }
            free(key);
            free(val);
        }
    }
    free(err);
    free(c);
    free(before);
    return 0;
}
