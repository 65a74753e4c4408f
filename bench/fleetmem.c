/*
 * fleetmem.c - memory of the hot aggregate (server/fleet.c) at fleet scale,
 * without HTTP or SQLite in the way.
 *
 *   rasfleet-fleetmem [devices] [batches-per-device]
 *
 * Feeds `devices` devices (default 100 000) the benchmark's mixed batches
 * (bench/benchgen.c: events plus a config snapshot of 3 iface_metric,
 * 2 pbk_entry, 3 vpn_policy) through fleet_apply(), exactly as the writer's
 * commit hook does, then prints what the aggregate reports
 * (fleet_memory_bytes, the /metrics gauge) and what malloc actually holds
 * (mallinfo2: in-use heap bytes, before and after), per device. A
 * bench/run-ingest.sh run measures the same through the real collector.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_json.h"
#include "benchgen.h"
#include "buf.h"
#include "fleet.h"
#include "log.h"
#include "rasfleet/result.h"
#include "timeutil.h"

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static long vm_kib(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    while (fp && fgets(line, sizeof(line), fp))
        if (strncmp(line, key, klen) == 0)
            v = strtol(line + klen + 1, NULL, 10);
    if (fp)
        fclose(fp);
    return v;
}

int main(int argc, char **argv)
{
    uint32_t devices = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
    uint32_t per_device = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 2;
    if (devices == 0 || per_device == 0) {
        fprintf(stderr, "usage: %s [devices] [batches-per-device]\n", argv[0]);
        return 2;
    }
    log_set_level(LOG_WARN);
    struct fleet f;
    struct fleet_config cfg = {.horizon_days = 31, .max_failures = 8u << 20};
    size_t heap0 = heap_in_use();
    long rss0 = vm_kib("VmRSS:");
    if (fleet_init(&f, &cfg) != RF_OK) {
        fprintf(stderr, "fleet_init failed\n");
        return 1;
    }
    size_t heap_empty = heap_in_use();
    struct benchgen g = {
        .run = 1, .devices = devices, .records = 20, .base_ms = time_now_ms(), .mix = true};
    struct batch_limits lim = {.max_records = 10000};
    struct buf json = BUF_INIT;
    uint8_t inserted[64];
    memset(inserted, 1, sizeof(inserted));
    uint64_t n_batches = (uint64_t)devices * per_device;
    double apply_s = 0;
    for (uint64_t b = 0; b < n_batches; b++) {
        struct rf_batch batch;
        struct batch_error err;
        buf_reset(&json);
        if (benchgen_batch_json(&g, b, &json) != RF_OK ||
            batch_decode_json(json.data, json.len, &lim, &batch, &err) != RF_OK) {
            fprintf(stderr, "batch %llu: %s\n", (unsigned long long)b, err.message);
            return 1;
        }
        const struct rf_batch *bp = &batch;
        const uint8_t *ins = inserted;
        int64_t t0 = time_mono_ns();
        fleet_apply(&f, &bp, &ins, 1, g.base_ms);
        apply_s += (double)(time_mono_ns() - t0) / 1e9;
        rf_batch_free(&batch);
    }
    buf_free(&json);
    malloc_trim(0);
    size_t heap1 = heap_in_use();
    long rss1 = vm_kib("VmRSS:");
    fleet_lock_read(&f);
    size_t reported = fleet_memory_bytes(&f);
    size_t n_devs = f.n_devs, n_fails = f.n_fails;
    size_t n_findings = 0, kv_bytes = 0, snap_bytes = 0;
    for (size_t i = 0; i < f.n_devs; i++) {
        const struct fleet_device *d = &f.devs[i];
        n_findings += d->n_findings;
        snap_bytes += d->n_if * sizeof(struct fleet_iface) +
                      d->n_pol * sizeof(struct fleet_policy) + d->n_pbk * sizeof(struct fleet_pbk);
        for (size_t k = 0; k < d->n_pbk; k++)
            kv_bytes += d->pbk[k].n_kv * sizeof(struct fleet_kv);
    }
    printf("breakdown: devices array %zu (cap %zu), snapshots %zu + pbk kv %zu,"
           " findings %zu x %zu, failure log %zu (cap %zu), strings %zu + index %zu,"
           " device index %zu\n",
           f.cap_devs * sizeof(struct fleet_device), f.cap_devs, snap_bytes, kv_bytes, n_findings,
           sizeof(struct fleet_finding), f.cap_fails * sizeof(struct fleet_fail), f.cap_fails,
           f.str.bytes, strtab_memory_bytes(&f.str) - f.str.bytes,
           f.dev_of_len * sizeof(uint32_t));
    fleet_unlock(&f);
    printf("devices=%zu batches=%llu failures_logged=%zu\n", n_devs, (unsigned long long)n_batches,
           n_fails);
    printf("sizeof_fleet_device=%zu\n", sizeof(struct fleet_device));
    printf("fleet_memory_bytes=%zu per_device=%.0f\n", reported, (double)reported / n_devs);
    printf("heap_in_use_bytes=%zu per_device=%.0f (empty aggregate %zu)\n", heap1 - heap0,
           (double)(heap1 - heap_empty) / n_devs, heap_empty - heap0);
    printf("rss_growth_kib=%ld\n", rss1 - rss0);
    printf("apply_us_per_batch=%.2f\n", apply_s * 1e6 / (double)n_batches);
    printf("projection_100k_mib=%.1f\n",
           (double)(heap1 - heap_empty) / n_devs * 100000 / 1048576.0 +
               (double)(heap_empty - heap0) / 1048576.0);
    fleet_free(&f);
    return 0;
}
