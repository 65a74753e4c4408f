/*
 * fuzz_common.h - helpers shared by the libFuzzer targets of tests/fuzz/.
 *
 * Every target is one translation unit that includes this header. It gives:
 *  - FUZZ_CHECK(): an invariant check that prints what failed and abort()s,
 *    so libFuzzer records the input as a crash;
 *  - fuzz_skip(tag): true when RF_FUZZ_SKIP (comma-separated tags) names a
 *    known, already reported bug, so a long run can keep exploring past it
 *    (docs/fuzzing.md lists the tags). Regression replays never set it;
 *  - a small input splitter (struct fdp) in the spirit of LLVM's
 *    FuzzedDataProvider;
 *  - an independent strict UTF-8 checker (the project's own utf8_validate
 *    is code under test, so outputs are judged by this one);
 *  - per-kind record invariants (check_record) and the api-v1 round trip
 *    (records -> batch_encode_json -> batch_decode_json -> same records),
 *    which every parser's records must survive because the agent sends them
 *    to the collector, which refuses a whole batch for one bad record.
 */
#ifndef RASFLEET_FUZZ_COMMON_H
#define RASFLEET_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_json.h"
#include "buf.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#define FUZZ_UNUSED __attribute__((unused))

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\n==FUZZ INVARIANT FAILED== %s:%d: %s\n  ", __FILE__, __LINE__,       \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            fflush(stderr);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- known-bug switches ---- */

static FUZZ_UNUSED bool fuzz_skip(const char *tag)
{
    static const char *list = NULL;
    static bool init = false;
    if (!init) {
        list = getenv("RF_FUZZ_SKIP");
        init = true;
    }
    if (!list || !*list)
        return false;
    size_t n = strlen(tag);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, tag, n) == 0)
            return true;
        if (len == 3 && memcmp(p, "all", 3) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* ---- input splitting ---- */

struct fdp {
    const uint8_t *p;
    size_t n;
};

static FUZZ_UNUSED uint8_t fdp_u8(struct fdp *f)
{
    if (!f->n)
        return 0;
    uint8_t v = f->p[0];
    f->p++;
    f->n--;
    return v;
}

static FUZZ_UNUSED uint32_t fdp_u32(struct fdp *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fdp_u8(f);
    return v;
}

/* Takes bytes up to the next `sep` (consumed, not included) or the end;
 * returns a malloc'd NUL-terminated copy and its length in *len. */
static FUZZ_UNUSED char *fdp_take_until(struct fdp *f, uint8_t sep, size_t *len)
{
    const uint8_t *e = memchr(f->p, sep, f->n);
    size_t n = e ? (size_t)(e - f->p) : f->n;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, f->p, n);
    s[n] = '\0';
    f->p += n;
    f->n -= n;
    if (e) {
        f->p++;
        f->n--;
    }
    if (len)
        *len = n;
    return s;
}

/* A malloc'd NUL-terminated copy of data[0..n). */
static FUZZ_UNUSED char *fuzz_cstr(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Deterministic chunk plan for streaming targets: sizes from a xorshift
 * generator seeded by one input byte. The low 3 bits choose the largest
 * chunk (1, 2, 3, 7, 64, 511, 4096, 70000 bytes), so single-byte feeding,
 * splits inside UTF-8/UTF-16 units and chunks over the 64 KiB slice all
 * occur. */
struct chunker {
    uint32_t state;
    size_t max;
};

static FUZZ_UNUSED void chunker_init(struct chunker *c, uint8_t seed)
{
    static const size_t maxes[8] = {1, 2, 3, 7, 64, 511, 4096, 70000};
    c->state = 0x9e3779b9u ^ ((uint32_t)seed * 0x01000193u);
    c->max = maxes[seed & 7];
}

static FUZZ_UNUSED size_t chunker_next(struct chunker *c)
{
    uint32_t x = c->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->state = x;
    return 1 + x % c->max;
}

/* ---- independent checks ---- */

/* Strict UTF-8 (RFC 3629), written separately from common/utf8.c. */
static FUZZ_UNUSED bool fuzz_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t need;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static FUZZ_UNUSED bool fuzz_str_ok(const char *s, size_t max_len, bool utf8)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n <= max_len && (!utf8 || fuzz_utf8_ok(s, n));
}

/* Record invariants of the record model (record.h, wire.h limits).
 * utf8: the source text was valid UTF-8, so every string must be too.
 * api: the record came out of batch_decode_json (required names non-empty). */
#define CR_UTF8 1u
#define CR_API 2u

static FUZZ_UNUSED void check_record(const struct rf_record *r, unsigned flags, size_t index)
{
    bool u = flags & CR_UTF8, api = flags & CR_API;
    FUZZ_CHECK((unsigned)r->kind < RF_KIND_COUNT, "record %zu: kind %d", index, (int)r->kind);
    switch (r->kind) {
    case RF_KIND_RAS_EVENT: {
        const struct rf_ras_event *e = &r->u.ev;
        FUZZ_CHECK(e->event_id >= 1 && e->event_id <= 65535, "record %zu: event_id %d", index,
                   (int)e->event_id);
        FUZZ_CHECK(e->record_id >= 0 && e->record_id <= 9007199254740991LL,
                   "record %zu: record_id %lld", index, (long long)e->record_id);
        FUZZ_CHECK(e->level == RF_LEVEL_ERROR || e->level == RF_LEVEL_WARNING ||
                       e->level == RF_LEVEL_INFORMATION,
                   "record %zu: level %d", index, (int)e->level);
        FUZZ_CHECK(fuzz_str_ok(e->user, RF_MAX_NAME_LEN, u), "record %zu: user", index);
        FUZZ_CHECK(fuzz_str_ok(e->connection, RF_MAX_NAME_LEN, u), "record %zu: connection",
                   index);
        FUZZ_CHECK(!api || (e->user[0] && e->connection[0]), "record %zu: empty name", index);
        FUZZ_CHECK(!e->has_error_code ||
                       (e->error_code >= INT32_MIN && e->error_code <= INT32_MAX),
                   "record %zu: error_code %lld", index, (long long)e->error_code);
        FUZZ_CHECK(!e->has_reason_code ||
                       (e->reason_code >= INT32_MIN && e->reason_code <= INT32_MAX),
                   "record %zu: reason_code %lld", index, (long long)e->reason_code);
        FUZZ_CHECK(!e->coid || fuzz_str_ok(e->coid, RF_MAX_ID_LEN, u), "record %zu: coid", index);
        FUZZ_CHECK(!e->message || fuzz_str_ok(e->message, RF_MAX_MESSAGE_LEN, u),
                   "record %zu: message (%zu bytes)", index, strlen(e->message));
        break;
    }
    case RF_KIND_IFACE_METRIC: {
        const struct rf_iface_metric *m = &r->u.ifm;
        FUZZ_CHECK(fuzz_str_ok(m->alias, RF_MAX_NAME_LEN, u) && m->alias[0],
                   "record %zu: alias", index);
        FUZZ_CHECK(m->index >= 0 && m->index <= 4294967295LL, "record %zu: index", index);
        FUZZ_CHECK(m->metric >= 0 && m->metric <= 4294967295LL, "record %zu: metric", index);
        FUZZ_CHECK(m->family == RF_FAMILY_IPV4 || m->family == RF_FAMILY_IPV6,
                   "record %zu: family %d", index, (int)m->family);
        FUZZ_CHECK((unsigned)m->if_type < RF_IF_TYPE_COUNT, "record %zu: if_type", index);
        FUZZ_CHECK(!m->has_mtu || (m->mtu >= 0 && m->mtu <= 4294967295LL), "record %zu: mtu",
                   index);
        break;
    }
    case RF_KIND_PBK_ENTRY: {
        const struct rf_pbk_entry *p = &r->u.pbk;
        FUZZ_CHECK(p->scope == RF_SCOPE_ALL_USERS || p->scope == RF_SCOPE_USER,
                   "record %zu: scope", index);
        FUZZ_CHECK(fuzz_str_ok(p->connection, RF_MAX_NAME_LEN, u) && p->connection[0],
                   "record %zu: connection", index);
        FUZZ_CHECK(p->n_settings <= RF_MAX_PBK_SETTINGS, "record %zu: %zu settings", index,
                   p->n_settings);
        FUZZ_CHECK(p->n_settings == 0 || p->settings, "record %zu: settings NULL", index);
        for (size_t i = 0; i < p->n_settings; i++) {
            FUZZ_CHECK(fuzz_str_ok(p->settings[i].key, RF_MAX_NAME_LEN, u) &&
                           p->settings[i].key[0],
                       "record %zu: settings[%zu].key", index, i);
            FUZZ_CHECK(fuzz_str_ok(p->settings[i].value, RF_MAX_PBK_VALUE_LEN, u),
                       "record %zu: settings[%zu].value", index, i);
        }
        break;
    }
    case RF_KIND_VPN_POLICY: {
        const struct rf_vpn_policy *p = &r->u.pol;
        FUZZ_CHECK(fuzz_str_ok(p->connection, RF_MAX_NAME_LEN, u) && p->connection[0],
                   "record %zu: connection", index);
        FUZZ_CHECK(fuzz_str_ok(p->server, RF_MAX_NAME_LEN, u) && p->server[0],
                   "record %zu: server", index);
        FUZZ_CHECK(fuzz_str_ok(p->auth_method, RF_MAX_NAME_LEN, u) && p->auth_method[0],
                   "record %zu: auth_method", index);
        static const char *const tunnels[] = {"Ikev2", "Sstp", "L2tp", "Pptp", "Automatic"};
        bool known = false;
        for (size_t i = 0; p->tunnel_type && i < 5; i++)
            known |= strcmp(p->tunnel_type, tunnels[i]) == 0;
        FUZZ_CHECK(known, "record %zu: tunnel_type '%s'", index,
                   p->tunnel_type ? p->tunnel_type : "(null)");
        FUZZ_CHECK(!p->dns_suffix || fuzz_str_ok(p->dns_suffix, RF_MAX_NAME_LEN, u),
                   "record %zu: dns_suffix", index);
        if (p->has_ipsec) {
            const char *f[6] = {p->ipsec.cipher_transform,  p->ipsec.auth_transform,
                                p->ipsec.encryption_method, p->ipsec.integrity_check_method,
                                p->ipsec.dh_group,          p->ipsec.pfs_group};
            for (int i = 0; i < 6; i++)
                FUZZ_CHECK(fuzz_str_ok(f[i], 64, u) && f[i][0], "record %zu: ipsec field %d",
                           index, i);
        }
        break;
    }
    case RF_KIND_AGENT_STATUS: {
        const struct rf_agent_status *s = &r->u.st;
        const int64_t counts[] = {s->spool_bytes, s->spool_batches, s->spool_limit_bytes,
                                  s->dropped_batches_total, s->dropped_records_total,
                                  s->rejected_batches_total, s->source_errors};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            FUZZ_CHECK(counts[i] >= 0 && counts[i] <= 9007199254740991LL,
                       "record %zu: agent_status count %zu = %lld", index, i,
                       (long long)counts[i]);
        FUZZ_CHECK(!s->agent_version || fuzz_str_ok(s->agent_version, 64, u),
                   "record %zu: agent_version", index);
        FUZZ_CHECK(!s->last_error || fuzz_str_ok(s->last_error, RF_MAX_AGENT_ERROR_LEN, u),
                   "record %zu: last_error", index);
        break;
    }
    default:
        break;
    }
}

/* ---- record collection through parse_record_fn ---- */

struct rec_vec {
    struct rf_record *v;
    size_t n, cap;
    size_t calls;
    size_t stop_after; /* return stop_rc on call number stop_after (0 = never) */
    int stop_rc;
};

static FUZZ_UNUSED int rec_vec_push(void *ctx, const struct rf_record *rec)
{
    struct rec_vec *rv = ctx;
    rv->calls++;
    if (rv->n == rv->cap) {
        size_t cap = rv->cap ? rv->cap * 2 : 16;
        struct rf_record *p = realloc(rv->v, cap * sizeof(*p));
        if (!p)
            abort();
        rv->v = p;
        rv->cap = cap;
    }
    rv->v[rv->n++] = *rec;
    if (rv->stop_after && rv->calls == rv->stop_after)
        return rv->stop_rc;
    return 0;
}

static FUZZ_UNUSED void rec_vec_free(struct rec_vec *rv)
{
    free(rv->v);
    memset(rv, 0, sizeof(*rv));
}

/* JSON text of one record (for comparisons and messages); caller frees. */
static FUZZ_UNUSED char *record_json(const struct rf_record *r)
{
    struct buf b = BUF_INIT;
    FUZZ_CHECK(record_encode_json(r, &b) == RF_OK, "record_encode_json failed");
    return buf_detach(&b, NULL);
}

/*
 * The api-v1 round trip: wraps recs[0..n) in a batch, encodes it with
 * batch_encode_json, decodes that with batch_decode_json and requires
 * success, the same number and kinds of records, and (unless the
 * coid-idempotent bug is skipped) byte-identical re-encoding.
 * utf8: the records' strings are valid UTF-8 (then the JSON must be too).
 */
static FUZZ_UNUSED void api_roundtrip(const struct rf_record *recs, size_t n, bool utf8,
                                      const char *what)
{
    struct rf_batch b;
    rf_batch_init(&b);
    b.batch_id = "fuzz-batch";
    b.agent.device_id = "fuzz-device";
    b.records = (struct rf_record *)recs;
    b.n_records = n;
    struct buf e1 = BUF_INIT, e2 = BUF_INIT;
    FUZZ_CHECK(batch_encode_json(&b, &e1) == RF_OK, "%s: batch_encode_json failed", what);
    const char *t1 = e1.data ? e1.data : "";
    FUZZ_CHECK(!utf8 || fuzz_utf8_ok(t1, e1.len), "%s: encoded batch is not valid UTF-8", what);
    struct rf_batch b2;
    struct batch_error err;
    struct batch_limits lim = {.max_records = n};
    int rc = batch_decode_json(t1, e1.len, &lim, &b2, &err);
    if (rc != RF_OK) {
        char *rj = err.record_index >= 0 && (size_t)err.record_index < n
                       ? record_json(&recs[err.record_index])
                       : NULL;
        FUZZ_CHECK(rc == RF_OK,
                   "%s: the collector refuses the encoded records: rc=%d code=%s record=%ld "
                   "field=%s: %s\n  record: %.600s",
                   what, rc, err.code ? err.code : "?", err.record_index, err.field, err.message,
                   rj ? rj : "-");
        free(rj);
    }
    FUZZ_CHECK(b2.n_records == n, "%s: %zu records encoded, %zu decoded", what, n, b2.n_records);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(b2.records[i].kind == recs[i].kind, "%s: record %zu changed kind", what, i);
    FUZZ_CHECK(batch_encode_json(&b2, &e2) == RF_OK, "%s: re-encode failed", what);
    if (!fuzz_skip("coid-idempotent")) {
        FUZZ_CHECK(e1.len == e2.len && memcmp(t1, e2.data ? e2.data : "", e1.len) == 0,
                   "%s: encode(decode(encode(x))) != encode(x)\n  first:  %.800s\n  second: "
                   "%.800s",
                   what, t1, e2.data ? e2.data : "");
    }
    rf_batch_free(&b2);
    buf_free(&e1);
    buf_free(&e2);
}

/* True when the record's time survives time_format_rfc3339 ->
 * time_parse_rfc3339 (years 0000..9999); see the time-range finding. */
#include "timeutil.h"
static FUZZ_UNUSED bool time_renderable(int64_t ms)
{
    char t[TIME_RFC3339_MAX];
    int64_t back;
    time_format_rfc3339(ms, t, sizeof(t));
    return time_parse_rfc3339(t, strlen(t), &back) == RF_OK && back == ms;
}

#endif
