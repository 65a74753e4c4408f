/*
 * decodebench.c - CPU cost of decoding api-v1 batches on the collector's
 * HTTP threads (batch_decode_json), with cJSON's trees in plain malloc
 * memory or in the per-thread scratch region (common/json_scratch.h).
 *
 *   rasfleet-decodebench [--threads T] [--batches N] [--records R] [--mix]
 *
 * Builds 64 distinct batches of R records (benchgen, as the load generator
 * sends them), then for each mode in turn, five rounds of: T threads each
 * decode N batches; prints CPU microseconds per batch (process CPU time /
 * batches) per round and the median of each mode, and the ratio. The two
 * modes alternate in one process (cJSON_InitHooks switches between them),
 * so a shared machine's noise hits both alike.
 */
#include "batch_json.h"
#include "benchgen.h"
#include "json_scratch.h"
#include "rasfleet/record.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define POOL 64
#define ROUNDS 5

struct job {
    struct buf *bodies;
    size_t batches;
    uint32_t records;
    int failed;
};

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *decode_loop(void *arg)
{
    struct job *j = arg;
    struct batch_limits lim = {.max_records = j->records + 1};
    for (size_t i = 0; i < j->batches; i++) {
        struct rf_batch b;
        struct batch_error err;
        const struct buf *body = &j->bodies[i % POOL];
        if (batch_decode_json(body->data, body->len, &lim, &b, &err) != RF_OK ||
            b.n_records != j->records)
            j->failed = 1;
        rf_batch_free(&b);
    }
    return NULL;
}

/* One round: returns CPU microseconds per batch, or -1. */
static double round_us(struct job *proto, int threads)
{
    pthread_t t[16];
    struct job jobs[16];
    double c0 = cpu_seconds();
    for (int i = 0; i < threads; i++) {
        jobs[i] = *proto;
        if (pthread_create(&t[i], NULL, decode_loop, &jobs[i]) != 0)
            return -1;
    }
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed |= jobs[i].failed;
    }
    double c1 = cpu_seconds();
    return failed ? -1 : (c1 - c0) * 1e6 / (double)(proto->batches * (size_t)threads);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = 2;
    size_t batches = 2000;
    uint32_t records = 500;
    bool mix = false;
    static const struct option lo[] = {{"threads", required_argument, NULL, 't'},
                                       {"batches", required_argument, NULL, 'n'},
                                       {"records", required_argument, NULL, 'r'},
                                       {"mix", no_argument, NULL, 'm'},
                                       {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (o == 't')
            threads = atoi(optarg);
        else if (o == 'n')
            batches = (size_t)strtoull(optarg, NULL, 10);
        else if (o == 'r')
            records = (uint32_t)atoi(optarg);
        else if (o == 'm')
            mix = true;
        else
            return 2;
    }
    if (threads < 1 || threads > 16 || batches < 1 || records < 1) {
        fprintf(stderr, "usage: rasfleet-decodebench [--threads 1..16] [--batches N]"
                        " [--records R] [--mix]\n");
        return 2;
    }
    struct benchgen g = {.run = 7, .devices = 2000, .records = records,
                         .base_ms = 1795161662123LL, .mix = mix};
    struct buf bodies[POOL];
    size_t bytes = 0;
    for (int i = 0; i < POOL; i++) {
        buf_init(&bodies[i]);
        if (benchgen_batch_json(&g, (uint64_t)i, &bodies[i]) != RF_OK)
            return 1;
        bytes += bodies[i].len;
    }
    printf("decodebench: %d threads x %zu batches of %u records (%zu bytes of JSON each)\n",
           threads, batches, records, bytes / POOL);
    struct job proto = {.bodies = bodies, .batches = batches, .records = records};
    double us[2][ROUNDS];
    static const char *const names[2] = {"malloc", "scratch"};
    cJSON_Hooks plain = {.malloc_fn = malloc, .free_fn = free};
    for (int r = 0; r < ROUNDS; r++) {
        for (int m = 0; m < 2; m++) {
            if (m == 0)
                cJSON_InitHooks(&plain); /* begin() then opens no region */
            else
                json_scratch_install();
            us[m][r] = round_us(&proto, threads);
            if (us[m][r] < 0) {
                fprintf(stderr, "decodebench: a decode failed\n");
                return 1;
            }
            printf("  round %d %-8s %8.1f us CPU per batch\n", r + 1, names[m], us[m][r]);
            fflush(stdout);
        }
    }
    double med[2];
    for (int m = 0; m < 2; m++) {
        qsort(us[m], ROUNDS, sizeof(double), cmp_double);
        med[m] = us[m][ROUNDS / 2];
    }
    printf("median: malloc %.1f us, scratch %.1f us per batch (%.0f%% of malloc);"
           " %.0f vs %.0f records/s per core\n",
           med[0], med[1], 100.0 * med[1] / med[0], records * 1e6 / med[0],
           records * 1e6 / med[1]);
    for (int i = 0; i < POOL; i++)
        buf_free(&bodies[i]);
    return 0;
}
