/*
 * loadgen.c - rasfleet-loadgen: HTTP load generator for POST /api/v1/ingest.
 *
 * Posts gzip JSON batches of N records from D simulated devices over C
 * keep-alive connections (libcurl multi interface, one thread), either as
 * fast as the collector answers (closed loop) or at a fixed rate (open loop:
 * batch i is due at start + i/rate whatever happened before, and its latency
 * is measured from that due time, so a stalled collector shows up in the
 * percentiles instead of silently slowing the generator down).
 *
 * Every body is generated and compressed before the timed phase (on all
 * cores), so neither JSON building nor deflate is measured. The run stops
 * at --seconds or when --max-batches were sent, whichever comes first, then
 * waits for the answers still in flight.
 *
 * Prints batches/s and records/s acknowledged with 200, ack latency
 * percentiles, and non-200 answers by status; a last line `RESULT k=v ...`
 * is meant for scripts. Exit status 0 only when every answer was 200 with
 * "duplicate":false; 1 otherwise; 2 on usage or setup errors.
 */
#include "benchgen.h"
#include "buf.h"
#include "gzip.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 300
#define MAX_STATUS 600

struct body {
    char *data;
    size_t len;
    size_t raw_len;
};

struct opts {
    const char *url;
    const char *token;
    uint32_t records;
    uint32_t devices;
    unsigned concurrency;
    double rate; /* batches/s; 0 = as fast as possible */
    double seconds;
    uint64_t max_batches; /* 0 = derived */
    int gzip_level;
    uint32_t run;
    bool mix;
    unsigned gen_threads;
    double wait_quiet; /* seconds to wait for an idle machine before timing */
    const char *pool_cache; /* file holding pre-built bodies between runs */
};

struct slot {
    CURL *h;
    bool busy;
    uint64_t idx;    /* body index being sent */
    double due;      /* intended send time (open loop) or actual (closed loop) */
    double sent;     /* when it was handed to curl */
    char resp[512];
    size_t resp_len;
};

static double now_s(void)
{
    return (double)time_mono_ns() / 1e9;
}

/* Busy and total jiffies of the whole machine (first line of /proc/stat),
 * to tell how much CPU other processes took during the timed phase. */
static bool machine_ticks(double *busy, double *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return false;
    double t = 0;
    for (int i = 0; i < 8; i++)
        t += (double)v[i];
    *total = t;
    *busy = t - (double)v[3] - (double)v[4]; /* minus idle and iowait */
    return true;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rasfleet-loadgen --url http://127.0.0.1:PORT [options]\n"
            "  --token TOKEN       bearer token (default: $RASFLEET_ADMIN_TOKEN)\n"
            "  --records N         records per batch (default 500)\n"
            "  --devices D         simulated devices (default 2000)\n"
            "  --concurrency C     concurrent connections (default 16)\n"
            "  --rate R            batches per second, open loop (default: as fast as possible)\n"
            "  --seconds S         timed phase length (default 20, at most %d)\n"
            "  --max-batches M     at most M batches (default: rate*seconds with --rate,\n"
            "                      6000 without)\n"
            "  --mix               end each batch with a config snapshot (3 iface_metric,\n"
            "                      2 pbk_entry, 3 vpn_policy) instead of 8 events\n"
            "  --gzip-level L      deflate level of the bodies (default 6, as zlib's default)\n"
            "  --run ID            run id (1..2000000) salting device, batch and record ids;\n"
            "                      default: derived from time and pid\n"
            "  --gen-threads T     threads that pre-build the bodies (default: online CPUs)\n"
            "  --wait-quiet S      before the timed phase, wait up to S seconds until the\n"
            "                      machine is idle (other processes < 25%% of a core)\n"
            "  --pool-cache FILE   reuse the bodies saved in FILE by a run with the same\n"
            "                      --run/--records/--devices/--mix/--gzip-level, or save them\n"
            "                      there (only for runs against fresh databases: the same\n"
            "                      batches posted twice to one database are duplicates)\n",
            MAX_SECONDS);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"url", required_argument, NULL, 'u'},         {"token", required_argument, NULL, 't'},
        {"records", required_argument, NULL, 'n'},     {"devices", required_argument, NULL, 'd'},
        {"concurrency", required_argument, NULL, 'c'}, {"rate", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 's'},     {"max-batches", required_argument, NULL, 'm'},
        {"mix", no_argument, NULL, 'x'},               {"gzip-level", required_argument, NULL, 'z'},
        {"run", required_argument, NULL, 'R'},         {"gen-threads", required_argument, NULL, 'T'},
        {"wait-quiet", required_argument, NULL, 'q'},  {"pool-cache", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    int c, li = 0;
    uint64_t v;
    char *end;
    o->records = 500;
    o->devices = 2000;
    o->concurrency = 16;
    o->seconds = 20;
    o->gzip_level = 6;
    o->token = getenv("RASFLEET_ADMIN_TOKEN");
    o->run = (uint32_t)(((uint64_t)time(NULL) * 7919u + (uint64_t)getpid()) % 2000000u) + 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->gen_threads = ncpu > 0 ? (unsigned)ncpu : 1;
    while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'n':
            if (parse_u64(optarg, 1, 20000, &v))
                goto bad;
            o->records = (uint32_t)v;
            break;
        case 'd':
            if (parse_u64(optarg, 1, 10000000, &v))
                goto bad;
            o->devices = (uint32_t)v;
            break;
        case 'c':
            if (parse_u64(optarg, 1, 1024, &v))
                goto bad;
            o->concurrency = (unsigned)v;
            break;
        case 'r':
            errno = 0;
            o->rate = strtod(optarg, &end);
            if (errno || *end || !(o->rate > 0) || o->rate > 1e6)
                goto bad;
            break;
        case 's':
            errno = 0;
            o->seconds = strtod(optarg, &end);
            if (errno || *end || !(o->seconds > 0) || o->seconds > MAX_SECONDS)
                goto bad;
            break;
        case 'm':
            if (parse_u64(optarg, 1, 10000000, &v))
                goto bad;
            o->max_batches = v;
            break;
        case 'x':
            o->mix = true;
            break;
        case 'z':
            if (parse_u64(optarg, 1, 9, &v))
                goto bad;
            o->gzip_level = (int)v;
            break;
        case 'R':
            if (parse_u64(optarg, 1, 2000000, &v))
                goto bad;
            o->run = (uint32_t)v;
            break;
        case 'T':
            if (parse_u64(optarg, 1, 256, &v))
                goto bad;
            o->gen_threads = (unsigned)v;
            break;
        case 'P':
            o->pool_cache = optarg;
            break;
        case 'q':
            errno = 0;
            o->wait_quiet = strtod(optarg, &end);
            if (errno || *end || o->wait_quiet < 0 || o->wait_quiet > 600)
                goto bad;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "rasfleet-loadgen: bad value for --%s: %s\n", lo[li].name, optarg);
        usage(stderr);
        return -1;
    }
    if (optind != argc || !o->url) {
        usage(stderr);
        return -1;
    }
    if (!o->token || !*o->token) {
        fprintf(stderr, "rasfleet-loadgen: no token (--token or RASFLEET_ADMIN_TOKEN)\n");
        return -1;
    }
    if (!o->max_batches) {
        if (o->rate > 0)
            o->max_batches = (uint64_t)ceil(o->rate * o->seconds);
        else
            o->max_batches = 6000;
    }
    return 0;
}

/* ---- body pool ---- */

struct gen_job {
    const struct benchgen *g;
    struct body *bodies;
    uint64_t n;
    unsigned stride, first;
    int level;
    int rc;
};

static void *gen_thread(void *arg)
{
    struct gen_job *j = arg;
    struct buf json = BUF_INIT, gz = BUF_INIT;
    j->rc = RF_OK;
    for (uint64_t i = j->first; i < j->n; i += j->stride) {
        buf_reset(&json);
        buf_reset(&gz);
        if (benchgen_batch_json(j->g, i, &json) != RF_OK ||
            gzip_deflate(json.data, json.len, j->level, &gz) != RF_OK) {
            j->rc = RF_ENOMEM;
            break;
        }
        j->bodies[i].data = malloc(gz.len);
        if (!j->bodies[i].data) {
            j->rc = RF_ENOMEM;
            break;
        }
        memcpy(j->bodies[i].data, gz.data, gz.len);
        j->bodies[i].len = gz.len;
        j->bodies[i].raw_len = json.len;
    }
    buf_free(&json);
    buf_free(&gz);
    return NULL;
}

static int build_pool(const struct opts *o, const struct benchgen *g, struct body **out)
{
    struct body *bodies = calloc(o->max_batches, sizeof(*bodies));
    unsigned nt = o->gen_threads;
    pthread_t *th = calloc(nt, sizeof(*th));
    struct gen_job *jobs = calloc(nt, sizeof(*jobs));
    int rc = RF_OK;
    if (!bodies || !th || !jobs) {
        free(bodies);
        free(th);
        free(jobs);
        return RF_ENOMEM;
    }
    for (unsigned t = 0; t < nt; t++) {
        jobs[t] = (struct gen_job){.g = g, .bodies = bodies, .n = o->max_batches, .stride = nt,
                                   .first = t, .level = o->gzip_level};
        if (pthread_create(&th[t], NULL, gen_thread, &jobs[t]) != 0) {
            gen_thread(&jobs[t]);
            th[t] = 0;
        }
    }
    for (unsigned t = 0; t < nt; t++) {
        if (th[t])
            pthread_join(th[t], NULL);
        if (jobs[t].rc != RF_OK)
            rc = jobs[t].rc;
    }
    free(th);
    free(jobs);
    *out = bodies;
    return rc;
}

/* ---- pool cache: header, then per body u64 raw_len, u64 len, bytes ---- */

struct pool_header {
    char magic[8];
    uint32_t run, records, devices, mix, level, pad;
    uint64_t n;
};

static void pool_header_of(const struct opts *o, uint64_t n, struct pool_header *h)
{
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, "RFLGPL01", 8);
    h->run = o->run;
    h->records = o->records;
    h->devices = o->devices;
    h->mix = o->mix;
    h->level = (uint32_t)o->gzip_level;
    h->n = n;
}

/* Loads the first o->max_batches bodies when the file matches; false otherwise. */
static bool pool_load(const struct opts *o, struct body **out)
{
    FILE *f = fopen(o->pool_cache, "rb");
    struct pool_header want, got;
    if (!f)
        return false;
    pool_header_of(o, 0, &want);
    if (fread(&got, sizeof(got), 1, f) != 1 || got.n < o->max_batches) {
        fclose(f);
        return false;
    }
    want.n = got.n;
    if (memcmp(&want, &got, sizeof(want)) != 0) {
        fclose(f);
        return false;
    }
    struct body *bodies = calloc(o->max_batches, sizeof(*bodies));
    bool ok = bodies != NULL;
    for (uint64_t i = 0; ok && i < o->max_batches; i++) {
        uint64_t lens[2];
        ok = fread(lens, sizeof(lens), 1, f) == 1 && lens[1] <= (64u << 20) &&
             (bodies[i].data = malloc(lens[1] ? lens[1] : 1)) != NULL &&
             fread(bodies[i].data, 1, lens[1], f) == lens[1];
        if (ok) {
            bodies[i].raw_len = lens[0];
            bodies[i].len = lens[1];
        }
    }
    fclose(f);
    if (!ok) {
        for (uint64_t i = 0; bodies && i < o->max_batches; i++)
            free(bodies[i].data);
        free(bodies);
        return false;
    }
    *out = bodies;
    return true;
}

/* Saves the bodies and flushes them to disk now, so that their write-back
 * does not compete with the collector's fsyncs during the timed phase. */
static void pool_save(const struct opts *o, const struct body *bodies)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", o->pool_cache);
    FILE *f = fopen(tmp, "wb");
    struct pool_header h;
    pool_header_of(o, o->max_batches, &h);
    bool ok = f && fwrite(&h, sizeof(h), 1, f) == 1;
    for (uint64_t i = 0; ok && i < o->max_batches; i++) {
        uint64_t lens[2] = {bodies[i].raw_len, bodies[i].len};
        ok = fwrite(lens, sizeof(lens), 1, f) == 1 &&
             fwrite(bodies[i].data, 1, bodies[i].len, f) == bodies[i].len;
    }
    if (f) {
        ok = fflush(f) == 0 && fdatasync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok || rename(tmp, o->pool_cache) != 0) {
        fprintf(stderr, "rasfleet-loadgen: could not save %s (continuing)\n", o->pool_cache);
        unlink(tmp);
    }
}

/* ---- HTTP ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct slot *s = arg;
    size_t n = size * nmemb;
    size_t room = sizeof(s->resp) - 1 - s->resp_len;
    size_t take = n < room ? n : room;
    memcpy(s->resp + s->resp_len, ptr, take);
    s->resp_len += take;
    s->resp[s->resp_len] = '\0';
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "rasfleet-loadgen: curl_global_init failed\n");
        return 2;
    }

    struct benchgen g = {.run = o.run, .devices = o.devices, .records = o.records,
                         .base_ms = time_now_ms(), .mix = o.mix};
    double t_gen = now_s();
    struct body *bodies = NULL;
    bool cached = o.pool_cache && pool_load(&o, &bodies);
    if (!cached) {
        if (build_pool(&o, &g, &bodies) != RF_OK) {
            fprintf(stderr, "rasfleet-loadgen: out of memory building %" PRIu64 " bodies\n",
                    o.max_batches);
            return 2;
        }
        if (o.pool_cache)
            pool_save(&o, bodies);
    }
    t_gen = now_s() - t_gen;
    uint64_t raw_total = 0, gz_total = 0;
    for (uint64_t i = 0; i < o.max_batches; i++) {
        raw_total += bodies[i].raw_len;
        gz_total += bodies[i].len;
    }
    printf("rasfleet-loadgen: run %" PRIu32 ", %" PRIu64 " bodies of %" PRIu32
           " records (%s) from %" PRIu32 " devices %s in %.1f s\n"
           "  JSON %.0f bytes/record, %.1f KiB/batch; gzip -%d %.1f KiB/batch (%.1fx)\n",
           o.run, o.max_batches, o.records, o.mix ? "events + config snapshot" : "ras_event",
           o.devices, cached ? "loaded from the pool cache" : "built", t_gen, (double)raw_total / (double)o.max_batches / o.records,
           (double)raw_total / (double)o.max_batches / 1024, o.gzip_level,
           (double)gz_total / (double)o.max_batches / 1024,
           gz_total ? (double)raw_total / (double)gz_total : 0.0);
    fflush(stdout);

    double quiet_t0 = now_s();
    if (o.wait_quiet > 0) {
        /* Shared machines: let other people's builds finish first. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        double deadline = now_s() + o.wait_quiet, busy = 0;
        for (;;) {
            double b0, t0, b1, t1;
            if (!machine_ticks(&b0, &t0))
                break;
            struct timespec ts = {0, 500000000};
            nanosleep(&ts, NULL);
            if (!machine_ticks(&b1, &t1) || t1 <= t0)
                break;
            busy = (b1 - b0) / (t1 - t0) * (double)(ncpu > 0 ? ncpu : 1) * 100.0;
            if (busy < 25.0)
                break;
            if (now_s() >= deadline) {
                printf("  note: the machine stayed busy with other work (%.0f%% of a core);"
                       " the figures below are disturbed\n",
                       busy);
                break;
            }
        }
        fflush(stdout);
    }
    double quiet_waited = now_s() - quiet_t0;

    struct curl_slist *hdrs = NULL;
    char auth[1200];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o.token);
    char url[1200];
    snprintf(url, sizeof(url), "%s%s", o.url, strstr(o.url, "/api/") ? "" : "/api/v1/ingest");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */

    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o.concurrency);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)o.concurrency);
    struct slot *slots = calloc(o.concurrency, sizeof(*slots));
    double *lat = calloc(o.max_batches, sizeof(*lat));
    double *lag = calloc(o.max_batches, sizeof(*lag));
    if (!multi || !slots || !lat || !lag) {
        fprintf(stderr, "rasfleet-loadgen: setup failed\n");
        return 2;
    }
    for (unsigned i = 0; i < o.concurrency; i++) {
        CURL *h = curl_easy_init();
        slots[i].h = h;
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    }

    uint64_t status_count[MAX_STATUS] = {0};
    uint64_t transport_errors = 0, duplicates = 0, bad_bodies = 0, ok = 0, records_ok = 0;
    uint64_t next = 0, done = 0, n_lat = 0;
    char first_error[300] = "";
    unsigned busy = 0;
    double cpu0 = cpu_s(), mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    bool have_machine = machine_ticks(&mb0, &mt0);
    double start = now_s(), t_stop = start + o.seconds, last_done = start;
    bool issuing = true;

    for (;;) {
        double t = now_s();
        if (issuing && (t >= t_stop || next >= o.max_batches))
            issuing = false;
        /* Hand due batches to free connections. */
        for (unsigned i = 0; issuing && i < o.concurrency && next < o.max_batches; i++) {
            if (slots[i].busy)
                continue;
            double due = o.rate > 0 ? start + (double)next / o.rate : t;
            if (due > t)
                break;
            if (due >= t_stop) {
                issuing = false;
                break;
            }
            struct slot *s = &slots[i];
            s->busy = true;
            s->idx = next;
            s->due = due;
            s->sent = t;
            s->resp_len = 0;
            s->resp[0] = '\0';
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodies[next].len);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, bodies[next].data);
            curl_multi_add_handle(multi, s->h);
            busy++;
            next++;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            double tend = now_s();
            long code = 0;
            if (m->data.result == CURLE_OK) {
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
                if (code >= 0 && code < MAX_STATUS)
                    status_count[code]++;
                if (code == 200) {
                    const char *a = strstr(s->resp, "\"accepted\":");
                    if (strstr(s->resp, "\"duplicate\":true")) {
                        duplicates++;
                    } else if (a) {
                        ok++;
                        records_ok += strtoull(a + 11, NULL, 10);
                    } else {
                        bad_bodies++;
                    }
                } else if (!first_error[0]) {
                    snprintf(first_error, sizeof(first_error), "HTTP %ld: %.250s", code,
                             s->resp);
                }
            } else {
                transport_errors++;
                if (!first_error[0])
                    snprintf(first_error, sizeof(first_error), "transport: %s",
                             curl_easy_strerror(m->data.result));
            }
            lat[n_lat] = (tend - s->due) * 1000.0;
            lag[n_lat] = (s->sent - s->due) * 1000.0;
            n_lat++;
            done++;
            last_done = tend;
            curl_multi_remove_handle(multi, m->easy_handle);
            s->busy = false;
            busy--;
        }
        if (!issuing && busy == 0)
            break;
        int timeout_ms = 100;
        if (issuing && busy < o.concurrency) {
            if (o.rate > 0) {
                double due = start + (double)next / o.rate;
                double wait = (due - now_s()) * 1000.0;
                timeout_ms = wait <= 0 ? 0 : (int)ceil(wait);
                if (timeout_ms > 100)
                    timeout_ms = 100;
            } else {
                timeout_ms = 0;
            }
        }
        if (timeout_ms > 0 || busy > 0)
            curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
    }
    double elapsed = last_done - start;
    if (elapsed <= 0)
        elapsed = 1e-9;
    double cpu_pct = (cpu_s() - cpu0) / (now_s() - start) * 100.0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double machine_pct = NAN; /* in cores x 100, like cpu_pct */
    if (have_machine && machine_ticks(&mb1, &mt1) && mt1 > mt0)
        machine_pct = (mb1 - mb0) / (mt1 - mt0) * (double)(ncpu > 0 ? ncpu : 1) * 100.0;
    uint64_t due_unsent = 0;
    if (o.rate > 0) {
        uint64_t due = (uint64_t)ceil(o.rate * o.seconds);
        if (due > o.max_batches)
            due = o.max_batches;
        due_unsent = due > next ? due - next : 0;
    }

    qsort(lat, n_lat, sizeof(*lat), cmp_double);
    qsort(lag, n_lat, sizeof(*lag), cmp_double);
    uint64_t non200 = 0;
    for (int c = 0; c < MAX_STATUS; c++)
        if (c != 200)
            non200 += status_count[c];

    if (o.rate > 0)
        printf("  open loop at %.0f batches/s (%.0f records/s offered), %u connections\n",
               o.rate, o.rate * o.records, o.concurrency);
    else
        printf("  closed loop, as fast as possible, %u connections\n", o.concurrency);
    printf("  sent %" PRIu64 " batches in %.2f s; answered %" PRIu64 ", 200 OK %" PRIu64 "\n",
           next, elapsed, done, ok);
    printf("  batches/s   %10.1f\n", (double)ok / elapsed);
    printf("  records/s   %10.0f   (acknowledged with 200)\n", (double)records_ok / elapsed);
    printf("  ack latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f%s\n", pct(lat, n_lat, 50),
           pct(lat, n_lat, 90), pct(lat, n_lat, 99), n_lat ? lat[n_lat - 1] : NAN,
           o.rate > 0 ? "  (from the intended send time)" : "");
    if (o.rate > 0)
        printf("  send lag ms (waiting for a free connection): p99 %.1f  max %.1f\n",
               pct(lag, n_lat, 99), n_lat ? lag[n_lat - 1] : NAN);
    if (due_unsent)
        printf("  OVERLOAD: %" PRIu64 " batches came due but were never sent (every connection"
               " was waiting for the collector); the percentiles above exclude them\n",
               due_unsent);
    printf("  loadgen CPU %.0f%% of one core; whole machine busy %.0f%% (of %ld00%%)\n", cpu_pct,
           machine_pct, ncpu);
    if (non200 || transport_errors || duplicates || bad_bodies) {
        printf("  non-200:");
        for (int c = 0; c < MAX_STATUS; c++)
            if (c != 200 && status_count[c])
                printf(" %d=%" PRIu64, c, status_count[c]);
        if (transport_errors)
            printf(" transport=%" PRIu64, transport_errors);
        if (duplicates)
            printf(" duplicate=%" PRIu64, duplicates);
        if (bad_bodies)
            printf(" unreadable_200=%" PRIu64, bad_bodies);
        printf("\n  first error: %s\n", first_error);
    } else {
        printf("  non-200: none\n");
    }
    printf("RESULT mode=%s rate=%.0f conns=%u records_per_batch=%" PRIu32 " devices=%" PRIu32
           " sent=%" PRIu64 " ok=%" PRIu64 " records=%" PRIu64
           " seconds=%.3f batches_per_s=%.1f records_per_s=%.0f p50_ms=%.2f p90_ms=%.2f"
           " p99_ms=%.2f max_ms=%.2f lag_p99_ms=%.2f unsent=%" PRIu64 " cpu_pct=%.0f"
           " machine_pct=%.0f quiet_wait_s=%.1f errors=%" PRIu64 "\n",
           o.rate > 0 ? "rate" : "max", o.rate, o.concurrency, o.records, o.devices, next, ok,
           records_ok, elapsed, (double)ok / elapsed, (double)records_ok / elapsed,
           pct(lat, n_lat, 50), pct(lat, n_lat, 90), pct(lat, n_lat, 99),
           n_lat ? lat[n_lat - 1] : NAN, pct(lag, n_lat, 99), due_unsent, cpu_pct,
           machine_pct, quiet_waited,
           non200 + transport_errors + duplicates + bad_bodies);

    for (unsigned i = 0; i < o.concurrency; i++)
        curl_easy_cleanup(slots[i].h);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    for (uint64_t i = 0; i < o.max_batches; i++)
        free(bodies[i].data);
    free(bodies);
    free(slots);
    free(lat);
    free(lag);
    return non200 || transport_errors || duplicates || bad_bodies ? 1 : 0;
}
