/*
 * spool.c - the on-disk batch queue. See spool.h for the layout and the
 * crash-safety argument.
 *
 * Invariants: entries[] is sorted by seq and mirrors exactly the .batch
 * files of the directory (the process is the spool's only writer: the
 * agent takes a lock on the state directory before opening it); total is
 * the sum of their sizes.
 */
#include "spool.h"
#include "log.h"
#include "osdep.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL_MAGIC "RFSPOOL 1\n"
#define SPOOL_HEADER_MAX 512

struct spool {
    char dir[OSDEP_PATH_MAX];
    char rejected[OSDEP_PATH_MAX];
    struct spool_limits lim;
    struct spool_entry *entries;
    size_t n, cap;
    uint64_t total;
    uint64_t dropped_batches, dropped_records;
    uint64_t rejected_batches;
    size_t cleaned_tmp, corrupt;
};

static void entry_path(const struct spool *s, uint64_t seq, char *out, size_t len)
{
    /* cannot overflow: spool_open() checked that dir leaves room for a name */
    osdep_path(out, len, "%s/%020" PRIu64 ".batch", s->dir, seq);
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n >= m && strcmp(name + n - m, suffix) == 0;
}

/* Parses the header of a .batch file; *hdr_len receives its size. */
static int parse_header(const char *p, size_t len, struct spool_entry *e, uint64_t *body_len,
                        uint64_t *delta_len, size_t *hdr_len)
{
    size_t m = strlen(SPOOL_MAGIC);
    const char *end = NULL;
    char id[SPOOL_BATCH_ID_MAX + 1];
    for (size_t i = 0; i + 1 < len && !end; i++)
        if (p[i] == '\n' && p[i + 1] == '\n')
            end = p + i;
    if (len < m || memcmp(p, SPOOL_MAGIC, m) != 0 || !end)
        return RF_EFORMAT;
    char text[SPOOL_HEADER_MAX + 1];
    size_t n = (size_t)(end - p) + 1;
    if (n > SPOOL_HEADER_MAX)
        return RF_EFORMAT;
    memcpy(text, p, n);
    text[n] = '\0';
    int64_t created;
    if (sscanf(text + m,
               "seq %" SCNu64 "\nbatch_id %64s\ncreated %" SCNd64 "\nrecords %" SCNu64
               "\nbody %" SCNu64 "\ndelta %" SCNu64 "\n",
               &e->seq, id, &created, &e->records, body_len, delta_len) != 6)
        return RF_EFORMAT;
    if (strlen(id) >= SPOOL_BATCH_ID_MAX)
        return RF_EFORMAT;
    memcpy(e->batch_id, id, strlen(id) + 1);
    e->created_ms = created;
    *hdr_len = n + 1;
    return RF_OK;
}

static int format_header(const struct spool_entry *e, size_t body_len, size_t delta_len, char *out,
                         size_t len)
{
    int n = snprintf(out, len,
                     SPOOL_MAGIC "seq %" PRIu64 "\nbatch_id %s\ncreated %" PRId64
                                 "\nrecords %" PRIu64 "\nbody %zu\ndelta %zu\n\n",
                     e->seq, e->batch_id, e->created_ms, e->records, body_len, delta_len);
    return n > 0 && (size_t)n < len ? n : -1;
}

/* Reads header and sizes of one file; RF_EFORMAT when it is not a whole batch. */
static int load_entry(const char *path, struct spool_entry *e)
{
    char head[SPOOL_HEADER_MAX];
    struct osdep_stat st;
    uint64_t body, delta;
    size_t hdr;
    int rc = osdep_stat(path, &st);
    if (rc != RF_OK)
        return rc;
    if (st.type != OSDEP_REGULAR)
        return RF_EFORMAT;
    FILE *f = osdep_open_read(path);
    if (!f)
        return RF_EIO;
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    memset(e, 0, sizeof(*e));
    if ((rc = parse_header(head, n, e, &body, &delta, &hdr)) != RF_OK)
        return rc;
    if (hdr + body + delta != st.size)
        return RF_EFORMAT;
    e->bytes = st.size;
    return RF_OK;
}

static int add_entry(struct spool *s, const struct spool_entry *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct spool_entry *p = realloc(s->entries, cap * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        s->entries = p;
        s->cap = cap;
    }
    size_t i = s->n;
    while (i > 0 && s->entries[i - 1].seq > e->seq) {
        s->entries[i] = s->entries[i - 1];
        i--;
    }
    s->entries[i] = *e;
    s->n++;
    s->total += e->bytes;
    return RF_OK;
}

static size_t find(const struct spool *s, uint64_t seq)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->entries[i].seq == seq)
            return i;
    return (size_t)-1;
}

static void remove_at(struct spool *s, size_t i)
{
    s->total -= s->entries[i].bytes;
    memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof(*s->entries));
    s->n--;
}

static int move_aside(struct spool *s, const char *name, const char *path, const char *reason)
{
    char dst[OSDEP_PATH_MAX], rpath[OSDEP_PATH_MAX];
    int stem = (int)(strlen(name) - (has_suffix(name, ".batch") ? 6 : 0));
    if (osdep_path(dst, sizeof(dst), "%s/%s", s->rejected, name) != RF_OK ||
        osdep_path(rpath, sizeof(rpath), "%s/%.*s.reason", s->rejected, stem, name) != RF_OK)
        return RF_EINVAL;
    struct osdep_chunk c = {reason, strlen(reason)};
    int rc = osdep_write_atomic(rpath, &c, 1);
    if (rc == RF_OK)
        rc = osdep_rename(path, dst);
    return rc;
}

struct scan_ctx {
    struct spool *s;
    int rc;
};

static int scan_one(void *ctx, const char *name)
{
    struct scan_ctx *sc = ctx;
    struct spool *s = sc->s;
    char path[OSDEP_PATH_MAX];
    struct spool_entry e;
    if (osdep_path(path, sizeof(path), "%s/%s", s->dir, name) != RF_OK)
        return 0;
    if (has_suffix(name, ".tmp")) {
        log_warn("spool: deleting %s, left by an interrupted write", path);
        if (osdep_remove(path) == RF_OK)
            s->cleaned_tmp++;
        return 0;
    }
    if (!has_suffix(name, ".batch"))
        return 0;
    int rc = load_entry(path, &e);
    if (rc == RF_EFORMAT) {
        log_error("spool: %s is not a complete batch; moved to %s", path, s->rejected);
        s->corrupt++;
        if (move_aside(s, name, path, "corrupt: header or length does not match\n") != RF_OK)
            log_error("spool: cannot move %s aside: %s", path, osdep_strerror());
        return 0;
    }
    if (rc != RF_OK) {
        sc->rc = rc;
        return 1;
    }
    if ((rc = add_entry(s, &e)) != RF_OK) {
        sc->rc = rc;
        return 1;
    }
    return 0;
}

/* Loads the counters file ("dropped"); a missing one is all zeros. */
static int load_counters(struct spool *s)
{
    char path[OSDEP_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc = osdep_path(path, sizeof(path), "%s/dropped", s->dir);
    if (rc != RF_OK)
        goto out;
    rc = osdep_read_file(path, 4096, &b);
    if (rc == RF_ENOTFOUND) {
        rc = RF_OK;
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    if (sscanf(b.data ? b.data : "", "batches %" SCNu64 "\nrecords %" SCNu64, &s->dropped_batches,
               &s->dropped_records) != 2)
        log_warn("spool: %s is unreadable; drop counters restart at 0", path);
    const char *rej = b.data ? strstr(b.data, "\nrejected ") : NULL;
    if (rej && sscanf(rej, "\nrejected %" SCNu64, &s->rejected_batches) != 1)
        s->rejected_batches = 0;
out:
    buf_free(&b);
    return rc;
}

static int save_counters(struct spool *s)
{
    char path[OSDEP_PATH_MAX], text[160];
    if (osdep_path(path, sizeof(path), "%s/dropped", s->dir) != RF_OK)
        return RF_EINVAL;
    int n = snprintf(text, sizeof(text),
                     "batches %" PRIu64 "\nrecords %" PRIu64 "\nrejected %" PRIu64 "\n",
                     s->dropped_batches, s->dropped_records, s->rejected_batches);
    struct osdep_chunk c = {text, (size_t)n};
    return osdep_write_atomic(path, &c, 1);
}

int spool_open(const char *dir, const struct spool_limits *lim, struct spool **out)
{
    struct spool *s = calloc(1, sizeof(*s));
    struct scan_ctx sc = {s, RF_OK};
    int rc = RF_ENOMEM;
    *out = NULL;
    if (!s)
        goto out;
    rc = RF_EINVAL;
    if (strlen(dir) + 64 >= sizeof(s->dir) || osdep_path(s->dir, sizeof(s->dir), "%s", dir) ||
        osdep_path(s->rejected, sizeof(s->rejected), "%s/rejected", dir))
        goto out;
    s->lim = *lim;
    if ((rc = osdep_mkdirs(s->rejected)) != RF_OK)
        goto out;
    if ((rc = load_counters(s)) != RF_OK)
        goto out;
    rc = osdep_list_dir(s->dir, scan_one, &sc);
    if (rc == 1 || sc.rc != RF_OK)
        rc = sc.rc;
    if (rc != RF_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    spool_close(s);
    return rc;
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    free(s->entries);
    free(s);
}

size_t spool_count(const struct spool *s)
{
    return s->n;
}

uint64_t spool_bytes(const struct spool *s)
{
    return s->total;
}

const struct spool_entry *spool_entry_at(const struct spool *s, size_t i)
{
    return i < s->n ? &s->entries[i] : NULL;
}

uint64_t spool_max_seq(const struct spool *s)
{
    return s->n ? s->entries[s->n - 1].seq : 0;
}

size_t spool_cleaned_tmp(const struct spool *s)
{
    return s->cleaned_tmp;
}

size_t spool_corrupt(const struct spool *s)
{
    return s->corrupt;
}

const char *spool_rejected_dir(const struct spool *s)
{
    return s->rejected;
}

void spool_drops(const struct spool *s, uint64_t *batches, uint64_t *records)
{
    *batches = s->dropped_batches;
    *records = s->dropped_records;
}

uint64_t spool_rejects(const struct spool *s)
{
    return s->rejected_batches;
}

/* Deletes the oldest batch and counts it as dropped. */
static int drop_oldest(struct spool *s, const char *why)
{
    char path[OSDEP_PATH_MAX];
    const struct spool_entry *e = &s->entries[0];
    entry_path(s, e->seq, path, sizeof(path));
    log_warn("spool: dropping batch %s (%" PRIu64 " records, %" PRIu64 " bytes): %s", e->batch_id,
             e->records, e->bytes, why);
    int rc = osdep_remove(path);
    if (rc != RF_OK)
        return rc;
    s->dropped_batches++;
    s->dropped_records += e->records;
    remove_at(s, 0);
    return save_counters(s);
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= SPOOL_BATCH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= 0x20 || id[i] >= 0x7f)
            return false;
    return true;
}

int spool_push(struct spool *s, const struct spool_entry *meta, const void *body, size_t body_len,
               const void *delta, size_t delta_len)
{
    char head[SPOOL_HEADER_MAX], path[OSDEP_PATH_MAX];
    struct spool_entry e = *meta;
    if (!valid_id(e.batch_id) || e.seq == 0 || (s->n && e.seq <= spool_max_seq(s)))
        return RF_EINVAL;
    int hn = format_header(&e, body_len, delta_len, head, sizeof(head));
    if (hn < 0)
        return RF_EINVAL;
    e.bytes = (uint64_t)hn + body_len + delta_len;
    if (s->lim.max_bytes && e.bytes > s->lim.max_bytes)
        return RF_ETOOBIG;
    while (s->lim.max_bytes && s->n && s->total + e.bytes > s->lim.max_bytes) {
        int rc = drop_oldest(s, "the spool is over its size bound");
        if (rc != RF_OK)
            return rc;
    }
    struct osdep_chunk c[3] = {{head, (size_t)hn}, {body, body_len}, {delta, delta_len}};
    entry_path(s, e.seq, path, sizeof(path));
    int rc = osdep_write_atomic(path, c, 3);
    if (rc != RF_OK)
        return rc;
    return add_entry(s, &e);
}

int spool_read(const struct spool *s, uint64_t seq, struct buf *body, struct buf *delta)
{
    char path[OSDEP_PATH_MAX];
    struct buf raw = BUF_INIT;
    struct spool_entry e;
    uint64_t blen, dlen;
    size_t hdr;
    int rc = RF_ENOTFOUND;
    if (find(s, seq) == (size_t)-1)
        goto out;
    entry_path(s, seq, path, sizeof(path));
    if ((rc = osdep_read_file(path, (size_t)1 << 30, &raw)) != RF_OK)
        goto out;
    if ((rc = parse_header(raw.data, raw.len, &e, &blen, &dlen, &hdr)) != RF_OK)
        goto out;
    rc = RF_EFORMAT;
    if (hdr + blen + dlen != raw.len)
        goto out;
    rc = RF_OK;
    if (body)
        rc = buf_append(body, raw.data + hdr, (size_t)blen);
    if (rc == RF_OK && delta)
        rc = buf_append(delta, raw.data + hdr + blen, (size_t)dlen);
out:
    buf_free(&raw);
    return rc;
}

int spool_ack(struct spool *s, uint64_t seq)
{
    char path[OSDEP_PATH_MAX];
    size_t i = find(s, seq);
    if (i == (size_t)-1)
        return RF_ENOTFOUND;
    entry_path(s, seq, path, sizeof(path));
    int rc = osdep_remove(path);
    if (rc == RF_OK)
        remove_at(s, i);
    return rc;
}

int spool_reject(struct spool *s, uint64_t seq, const char *reason)
{
    char path[OSDEP_PATH_MAX], name[64];
    size_t i = find(s, seq);
    if (i == (size_t)-1)
        return RF_ENOTFOUND;
    entry_path(s, seq, path, sizeof(path));
    snprintf(name, sizeof(name), "%020" PRIu64 ".batch", seq);
    int rc = move_aside(s, name, path, reason);
    if (rc != RF_OK)
        return rc;
    remove_at(s, i);
    s->rejected_batches++;
    return save_counters(s);
}

int spool_expire(struct spool *s, int64_t now_ms)
{
    if (s->lim.max_age_ms <= 0)
        return RF_OK;
    while (s->n && s->entries[0].created_ms < now_ms - s->lim.max_age_ms) {
        int rc = drop_oldest(s, "older than the spool's age bound");
        if (rc != RF_OK)
            return rc;
    }
    return RF_OK;
}
