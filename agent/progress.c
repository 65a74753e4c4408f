/*
 * progress.c - persistent dedupe state of the agent. See progress.h for the
 * files and the replay argument.
 *
 * The file table is small (one entry per export file), so it is an array
 * searched linearly; the keys live in a keyset.
 */
#include "progress.h"
#include "keyset.h"
#include "log.h"
#include "osdep.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_MAGIC "rasfleet-agent-progress 1"
#define PROGRESS_MAX_FILE (64u << 20)

struct progress {
    char path[OSDEP_PATH_MAX]; /* <state>/progress */
    char seen_path[OSDEP_PATH_MAX];
    uint64_t applied_seq, next_seq;
    struct progress_file *files;
    size_t n_files, cap_files;
    struct keyset keys;
    size_t max_keys;
};

static int escape_path(const char *s, struct buf *out)
{
    int rc = RF_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == RF_OK; p++) {
        if (*p <= 0x20 || *p == '%' || *p == 0x7f)
            rc = buf_printf(out, "%%%02X", *p);
        else
            rc = buf_append_char(out, (char)*p);
    }
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Unescapes s[0..len) into a new string (the caller frees it). */
static char *unescape_path(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    size_t j = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

int progress_file_line(const char *path, uint64_t size, int64_t mtime_ns, uint64_t hash,
                       struct buf *out)
{
    int rc = buf_printf(out, "f %" PRIu64 " %" PRId64 " %016" PRIx64 " ", size, mtime_ns, hash);
    return rc == RF_OK ? escape_path(path, out) : rc;
}

static struct progress_file *find_file(struct progress *p, const char *path)
{
    for (size_t i = 0; i < p->n_files; i++)
        if (strcmp(p->files[i].path, path) == 0)
            return &p->files[i];
    return NULL;
}

/* Merges one "f ..." line (without the newline). */
static int merge_file_line(struct progress *p, const char *line, size_t len)
{
    uint64_t size, hash;
    int64_t mtime;
    int n = 0;
    char tmp[128];
    size_t head = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
    memcpy(tmp, line, head);
    tmp[head] = '\0';
    if (sscanf(tmp, "f %" SCNu64 " %" SCNd64 " %" SCNx64 " %n", &size, &mtime, &hash, &n) != 3 ||
        n <= 0 || (size_t)n >= len)
        return RF_EFORMAT;
    char *path = unescape_path(line + n, len - (size_t)n);
    if (!path)
        return RF_ENOMEM;
    struct progress_file *f = find_file(p, path);
    if (!f) {
        if (p->n_files == p->cap_files) {
            size_t cap = p->cap_files ? p->cap_files * 2 : 16;
            struct progress_file *nf = realloc(p->files, cap * sizeof(*nf));
            if (!nf) {
                free(path);
                return RF_ENOMEM;
            }
            p->files = nf;
            p->cap_files = cap;
        }
        f = &p->files[p->n_files++];
        memset(f, 0, sizeof(*f));
        f->path = path;
        f->visited = true; /* written during this run: the scan saw it */
    } else {
        free(path);
    }
    f->size = size;
    f->mtime_ns = mtime;
    f->hash = hash;
    return RF_OK;
}

static int load_progress(struct progress *p)
{
    struct buf b = BUF_INIT;
    int rc = osdep_read_file(p->path, PROGRESS_MAX_FILE, &b);
    if (rc == RF_ENOTFOUND) {
        rc = RF_OK;
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    const char *s = b.data ? b.data : "", *end = s + b.len;
    size_t ml = strlen(PROGRESS_MAGIC);
    if (b.len < ml || memcmp(s, PROGRESS_MAGIC, ml) != 0) {
        log_error("progress: %s is not a progress file; starting afresh", p->path);
        goto out;
    }
    while (s < end && rc == RF_OK) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (len > 2 && s[0] == 'f' && s[1] == ' ') {
            rc = merge_file_line(p, s, len);
            if (rc == RF_EFORMAT) {
                log_warn("progress: ignoring a malformed line of %s", p->path);
                rc = RF_OK;
            }
        } else if (len > 12 && memcmp(s, "applied_seq ", 12) == 0) {
            p->applied_seq = strtoull(s + 12, NULL, 10);
        } else if (len > 9 && memcmp(s, "next_seq ", 9) == 0) {
            p->next_seq = strtoull(s + 9, NULL, 10);
        }
        s += len + 1;
    }
    for (size_t i = 0; i < p->n_files; i++)
        p->files[i].visited = false;
out:
    buf_free(&b);
    return rc;
}

static uint64_t get_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static void put_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Loads the newest max_keys keys; rewrites the file when it held more. */
static int load_seen(struct progress *p)
{
    struct buf b = BUF_INIT;
    int rc = osdep_read_file(p->seen_path, (size_t)1 << 30, &b);
    if (rc == RF_ENOTFOUND) {
        rc = RF_OK;
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    size_t n = b.len / 8, first = n > p->max_keys ? n - p->max_keys : 0;
    for (size_t i = first; i < n && rc == RF_OK; i++)
        rc = keyset_add(&p->keys, get_le64((const unsigned char *)b.data + 8 * i), NULL);
    if (rc == RF_OK && (first > 0 || b.len % 8 != 0)) {
        /* pruning, or a torn final append: keep the whole keys we trust */
        struct osdep_chunk c = {b.data + 8 * first, 8 * (n - first)};
        log_info("progress: keeping the newest %zu of %zu dedupe keys", n - first, n);
        rc = osdep_write_atomic(p->seen_path, &c, 1);
    }
out:
    buf_free(&b);
    return rc;
}

int progress_open(const char *state_dir, size_t max_keys, struct progress **out)
{
    struct progress *p = calloc(1, sizeof(*p));
    int rc = RF_ENOMEM;
    *out = NULL;
    if (!p)
        goto out;
    snprintf(p->path, sizeof(p->path), "%s/progress", state_dir);
    snprintf(p->seen_path, sizeof(p->seen_path), "%s/seen", state_dir);
    keyset_init(&p->keys);
    p->max_keys = max_keys ? max_keys : 1;
    p->next_seq = 1;
    if ((rc = load_progress(p)) != RF_OK || (rc = load_seen(p)) != RF_OK)
        goto out;
    if (p->next_seq <= p->applied_seq)
        p->next_seq = p->applied_seq + 1;
    *out = p;
    p = NULL;
out:
    progress_close(p);
    return rc;
}

void progress_close(struct progress *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_files; i++)
        free(p->files[i].path);
    free(p->files);
    keyset_free(&p->keys);
    free(p);
}

uint64_t progress_applied_seq(const struct progress *p)
{
    return p->applied_seq;
}

uint64_t progress_next_seq(struct progress *p, uint64_t floor)
{
    if (p->next_seq <= floor)
        p->next_seq = floor + 1;
    return p->next_seq++;
}

bool progress_has_key(const struct progress *p, uint64_t key)
{
    return keyset_has(&p->keys, key);
}

int progress_note_key(struct progress *p, uint64_t key)
{
    return keyset_add(&p->keys, key, NULL);
}

size_t progress_key_count(const struct progress *p)
{
    return p->keys.n;
}

struct progress_file *progress_file_find(struct progress *p, const char *path)
{
    struct progress_file *f = find_file(p, path);
    if (f)
        f->visited = true;
    return f;
}

static int save(struct progress *p)
{
    struct buf b = BUF_INIT;
    int rc = buf_printf(&b, PROGRESS_MAGIC "\napplied_seq %" PRIu64 "\nnext_seq %" PRIu64 "\n",
                        p->applied_seq, p->next_seq);
    for (size_t i = 0; i < p->n_files && rc == RF_OK; i++) {
        const struct progress_file *f = &p->files[i];
        rc = progress_file_line(f->path, f->size, f->mtime_ns, f->hash, &b);
        if (rc == RF_OK)
            rc = buf_append_char(&b, '\n');
    }
    if (rc == RF_OK) {
        struct osdep_chunk c = {b.data, b.len};
        rc = osdep_write_atomic(p->path, &c, 1);
    }
    buf_free(&b);
    return rc;
}

int progress_apply_delta(struct progress *p, uint64_t seq, const char *delta, size_t len)
{
    struct buf keys = BUF_INIT;
    const char *s = delta, *end = delta + len;
    int rc = RF_OK;
    while (s < end && rc == RF_OK) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n == 18 && s[0] == 'k' && s[1] == ' ') {
            char hex[17];
            unsigned char le[8];
            memcpy(hex, s + 2, 16);
            hex[16] = '\0';
            uint64_t k = strtoull(hex, NULL, 16);
            put_le64(le, k);
            rc = buf_append(&keys, le, 8);
            if (rc == RF_OK)
                rc = keyset_add(&p->keys, k, NULL);
        } else if (n > 2 && s[0] == 'f' && s[1] == ' ') {
            rc = merge_file_line(p, s, n);
        }
        s += n + 1;
    }
    if (rc == RF_OK && keys.len)
        rc = osdep_append_durable(p->seen_path, keys.data, keys.len);
    if (rc == RF_OK) {
        if (seq > p->applied_seq)
            p->applied_seq = seq;
        if (p->next_seq <= p->applied_seq)
            p->next_seq = p->applied_seq + 1;
        rc = save(p);
    }
    buf_free(&keys);
    return rc;
}

int progress_forget_unvisited(struct progress *p)
{
    size_t j = 0;
    for (size_t i = 0; i < p->n_files; i++) {
        if (p->files[i].visited)
            p->files[j++] = p->files[i];
        else
            free(p->files[i].path);
    }
    if (j == p->n_files)
        return RF_OK;
    p->n_files = j;
    return save(p);
}
