/*
 * fuzz_pbk - rasphone.pbk reader: pbk_parse_bytes() on raw bytes in any
 * encoding (UTF-8 with/without BOM, UTF-16LE/BE with/without BOM).
 *
 * Invariants beyond "no crash":
 *  - rc is RF_OK, RF_EFORMAT or RF_ETOOBIG; failure <=> a fatal report;
 *  - at most PBK_MAX_ENTRIES entries, section names unique, keys unique
 *    case-insensitively within an entry, no control bytes but TAB in any
 *    name, key or value, everything valid UTF-8 (check_record too);
 *  - redaction: a CustomAuthData value is always "<redacted:N bytes|chars
 *    fnv1a64:16 hex>", a non-empty value of a key containing "Password" or
 *    "PreSharedKey" is "<redacted>";
 *  - has_ipsec <=> the entry's CustomIPSecPolicies value decodes with
 *    pbk_decode_ipsec_blob(), to the same six names;
 *  - encoding independence: the decoded text re-encoded as UTF-16LE+BOM and
 *    UTF-16BE+BOM, and given as text to pbk_parse_text(), parses to the
 *    same rc and the same entries (names, settings, lines, ipsec);
 *  - pbk records survive the api-v1 round trip (the collector accepts what
 *    the agent extracts).
 */
#include "fuzz_report.h"
#include "pbk_parse.h"
#include "textenc.h"

#include <strings.h>

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return true;
    return false;
}

static bool contains_ci(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; *s; s++)
        if (strncasecmp(s, w, n) == 0)
            return true;
    return false;
}

static bool redacted_auth_ok(const char *v)
{
    /* <redacted:N bytes fnv1a64:HHHHHHHHHHHHHHHH> or "chars" */
    const char *p = v;
    if (strncmp(p, "<redacted:", 10) != 0)
        return false;
    p += 10;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (strncmp(p, " bytes fnv1a64:", 15) == 0)
        p += 15;
    else if (strncmp(p, " chars fnv1a64:", 15) == 0)
        p += 15;
    else
        return false;
    for (int i = 0; i < 16; i++, p++)
        if (!strchr("0123456789abcdef", *p) || !*p)
            return false;
    return strcmp(p, ">") == 0;
}

struct parsed {
    int rc;
    struct rf_arena arena;
    struct pbk_parse_result res;
    struct parse_sink sink;
    struct report_ctx rctx;
};

static void parse_bytes(const char *raw, size_t len, struct parsed *p)
{
    rf_arena_init(&p->arena);
    report_sink_init(&p->sink, &p->rctx, true);
    p->rc = pbk_parse_bytes(raw, len, RF_SCOPE_USER, 1795161662123LL, &p->arena, &p->sink,
                            &p->res);
}

static void same_result(const struct parsed *a, const struct parsed *b, const char *what)
{
    FUZZ_CHECK(a->rc == b->rc, "%s: rc %d vs %d", what, a->rc, b->rc);
    FUZZ_CHECK(a->res.n_entries == b->res.n_entries, "%s: %zu vs %zu entries", what,
               a->res.n_entries, b->res.n_entries);
    for (size_t i = 0; i < a->res.n_entries; i++) {
        const struct pbk_parsed_entry *x = &a->res.entries[i], *y = &b->res.entries[i];
        char *jx = record_json(&x->record), *jy = record_json(&y->record);
        FUZZ_CHECK(strcmp(jx, jy) == 0, "%s: entry %zu differs:\n  %.400s\n  %.400s", what, i, jx,
                   jy);
        free(jx);
        free(jy);
        FUZZ_CHECK(x->line == y->line && x->has_ipsec == y->has_ipsec, "%s: entry %zu line/ipsec",
                   what, i);
    }
}

static void check_entries(const struct parsed *p)
{
    const struct pbk_parse_result *r = &p->res;
    FUZZ_CHECK(r->n_entries <= PBK_MAX_ENTRIES, "%zu entries", r->n_entries);
    for (size_t i = 0; i < r->n_entries; i++) {
        const struct pbk_parsed_entry *e = &r->entries[i];
        const struct rf_pbk_entry *pb = &e->record.u.pbk;
        FUZZ_CHECK(e->record.kind == RF_KIND_PBK_ENTRY, "kind");
        check_record(&e->record, CR_UTF8, i);
        FUZZ_CHECK(e->line >= 1, "line %ld", e->line);
        FUZZ_CHECK(!has_ctl(pb->connection), "control byte in section name");
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(r->entries[j].record.u.pbk.connection, pb->connection) != 0,
                       "duplicate section [%s]", pb->connection);
        const char *ipsec_value = NULL;
        for (size_t k = 0; k < pb->n_settings; k++) {
            const struct rf_pbk_setting *s = &pb->settings[k];
            FUZZ_CHECK(!has_ctl(s->key) && !has_ctl(s->value), "control byte in %s", s->key);
            for (size_t m = 0; m < k; m++)
                FUZZ_CHECK(strcasecmp(pb->settings[m].key, s->key) != 0, "duplicate key %s",
                           s->key);
            if (strcasecmp(s->key, "CustomAuthData") == 0)
                FUZZ_CHECK(redacted_auth_ok(s->value), "CustomAuthData not redacted: '%.200s'",
                           s->value);
            else if (s->value[0] &&
                     (contains_ci(s->key, "Password") || contains_ci(s->key, "PreSharedKey")))
                FUZZ_CHECK(strcmp(s->value, "<redacted>") == 0, "secret key %s kept '%.100s'",
                           s->key, s->value);
            if (strcasecmp(s->key, "CustomIPSecPolicies") == 0)
                ipsec_value = s->value;
        }
        struct rf_arena a;
        rf_arena_init(&a);
        struct rf_ipsec_policy pol;
        bool decodes = ipsec_value && pbk_decode_ipsec_blob(ipsec_value, &a, &pol) == RF_OK;
        FUZZ_CHECK(e->has_ipsec == decodes, "has_ipsec=%d but the blob '%s' %s", e->has_ipsec,
                   ipsec_value ? ipsec_value : "(absent)", decodes ? "decodes" : "does not");
        if (decodes)
            FUZZ_CHECK(strcmp(pol.dh_group, e->ipsec.dh_group) == 0 &&
                           strcmp(pol.cipher_transform, e->ipsec.cipher_transform) == 0 &&
                           strcmp(pol.pfs_group, e->ipsec.pfs_group) == 0,
                       "ipsec names differ");
        rf_arena_free(&a);
    }
}

/* UTF-8 text (valid) to UTF-16 with a BOM. */
static void to_utf16(const char *s, size_t n, bool be, struct buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char bom[2] = {0xFF, 0xFE};
    if (be) {
        bom[0] = 0xFE;
        bom[1] = 0xFF;
    }
    buf_append(out, bom, 2);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k; j++)
            cp = cp << 6 | (p[i + j] & 0x3F);
        i += k;
        uint16_t units[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = (uint16_t)(0xD800 | cp >> 10);
            units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            nu = 2;
        } else {
            units[0] = (uint16_t)cp;
        }
        for (int u = 0; u < nu; u++) {
            unsigned char b2[2];
            b2[be ? 0 : 1] = (unsigned char)(units[u] >> 8);
            b2[be ? 1 : 0] = (unsigned char)(units[u] & 0xFF);
            buf_append(out, b2, 2);
        }
    }
}

static void free_parsed(struct parsed *p)
{
    rf_arena_free(&p->arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    struct parsed a;
    parse_bytes(raw, size, &a);
    FUZZ_CHECK(a.rc == RF_OK || a.rc == RF_EFORMAT || a.rc == RF_ETOOBIG, "rc=%d", a.rc);
    report_check_outcome(&a.sink, a.rc, 0);
    if (a.rc != RF_OK)
        FUZZ_CHECK(a.res.n_entries == 0, "error with %zu entries", a.res.n_entries);
    check_entries(&a);
    if (a.res.n_entries) {
        struct rf_record *recs = malloc(a.res.n_entries * sizeof(*recs));
        for (size_t i = 0; i < a.res.n_entries; i++)
            recs[i] = a.res.entries[i].record;
        api_roundtrip(recs, a.res.n_entries, true, "pbk records");
        free(recs);
    }

    struct buf text = BUF_INIT;
    if (textenc_decode(raw, size, &text, NULL, NULL) == RF_OK) {
        const char *t = text.data ? text.data : "";
        struct buf u16 = BUF_INIT;
        for (int be = 0; be < 2; be++) {
            buf_reset(&u16);
            to_utf16(t, text.len, be, &u16);
            struct parsed b;
            parse_bytes(u16.data, u16.len, &b);
            same_result(&a, &b, be ? "as UTF-16BE" : "as UTF-16LE");
            free_parsed(&b);
        }
        buf_free(&u16);
        struct parsed c;
        rf_arena_init(&c.arena);
        report_sink_init(&c.sink, &c.rctx, true);
        c.rc = pbk_parse_text(t, text.len, RF_SCOPE_USER, 1795161662123LL, &c.arena, &c.sink,
                              &c.res);
        same_result(&a, &c, "pbk_parse_text");
        free_parsed(&c);
    }
    buf_free(&text);
    free_parsed(&a);
    return 0;
}
