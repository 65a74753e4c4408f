/*
 * pbk_parse.c - rasphone.pbk to pbk_entry records. See pbk_parse.h.
 *
 * One pass over the lines. Settings of the open section are collected as
 * (pointer, length) slices of the input in a scratch vector, and copied into
 * the arena when the section ends, so the arena only receives what is kept.
 */
#include "pbk_parse.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "textenc.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- IPsec enum tables (domain notes, section 10) ---- */

static const char *const integrity_names[] = {"MD5", "SHA1", "SHA256", "SHA384"};
static const char *const encryption_names[] = {"DES",    "DES3",      "AES128",   "AES192",
                                               "AES256", "GCMAES128", "GCMAES256"};
static const char *const auth_transform_names[] = {"MD596",     "SHA196",    "SHA256128",
                                                   "GCMAES128", "GCMAES192", "GCMAES256"};
/* IPSEC_CIPHER_CONFIG starts at 1; 0 has no documented name. */
static const char *const cipher_transform_names[] = {
    NULL, "DES", "DES3", "AES128", "AES192", "AES256", "GCMAES128", "GCMAES192", "GCMAES256"};
static const char *const dh_group_names[] = {"None",   "Group1", "Group2", "Group14",
                                             "ECP256", "ECP384", "Group24"};
static const char *const pfs_group_names[] = {"None",   "PFS1",   "PFS2",  "PFS2048",
                                              "ECP256", "ECP384", "PFSMM", "PFS24"};

#define COUNT(t) (sizeof(t) / sizeof(t[0]))
static const struct {
    const char *const *names;
    size_t n;
} ipsec_tables[PBK_IPSEC_FIELD_COUNT] = {
    [PBK_IPSEC_INTEGRITY] = {integrity_names, COUNT(integrity_names)},
    [PBK_IPSEC_ENCRYPTION] = {encryption_names, COUNT(encryption_names)},
    [PBK_IPSEC_AUTH_TRANSFORM] = {auth_transform_names, COUNT(auth_transform_names)},
    [PBK_IPSEC_CIPHER_TRANSFORM] = {cipher_transform_names, COUNT(cipher_transform_names)},
    [PBK_IPSEC_DH_GROUP] = {dh_group_names, COUNT(dh_group_names)},
    [PBK_IPSEC_PFS_GROUP] = {pfs_group_names, COUNT(pfs_group_names)},
};

const char *pbk_ipsec_enum_name(enum pbk_ipsec_field field, uint32_t v)
{
    if ((unsigned)field >= PBK_IPSEC_FIELD_COUNT || v >= ipsec_tables[field].n)
        return NULL;
    return ipsec_tables[field].names[v];
}

int pbk_ipsec_name_dup(enum pbk_ipsec_field field, uint32_t v, struct rf_arena *arena,
                       const char **out)
{
    const char *name = pbk_ipsec_enum_name(field, v);
    char tmp[32];
    if (!name) {
        snprintf(tmp, sizeof(tmp), "unknown(%lu)", (unsigned long)v);
        name = tmp;
    }
    *out = rf_arena_strdup(arena, name);
    return *out ? RF_OK : RF_ENOMEM;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pbk_decode_ipsec_blob(const char *hex, struct rf_arena *arena, struct rf_ipsec_policy *out)
{
    size_t len = strlen(hex), s = 0;
    while (s < len && (hex[s] == ' ' || hex[s] == '\t'))
        s++;
    while (len > s && (hex[len - 1] == ' ' || hex[len - 1] == '\t'))
        len--;
    if (len - s != PBK_IPSEC_BLOB_HEX)
        return RF_EFORMAT;
    uint32_t v[PBK_IPSEC_FIELD_COUNT] = {0};
    for (size_t i = 0; i < PBK_IPSEC_BLOB_HEX; i += 2) {
        int hi = hex_value(hex[s + i]), lo = hex_value(hex[s + i + 1]);
        if (hi < 0 || lo < 0)
            return RF_EFORMAT;
        size_t byte = i / 2;
        v[byte / 4] |= (uint32_t)(hi << 4 | lo) << (8 * (byte % 4));
    }
    struct rf_ipsec_policy p;
    const char **dst[PBK_IPSEC_FIELD_COUNT] = {
        [PBK_IPSEC_INTEGRITY] = &p.integrity_check_method,
        [PBK_IPSEC_ENCRYPTION] = &p.encryption_method,
        [PBK_IPSEC_AUTH_TRANSFORM] = &p.auth_transform,
        [PBK_IPSEC_CIPHER_TRANSFORM] = &p.cipher_transform,
        [PBK_IPSEC_DH_GROUP] = &p.dh_group,
        [PBK_IPSEC_PFS_GROUP] = &p.pfs_group,
    };
    for (int f = 0; f < PBK_IPSEC_FIELD_COUNT; f++) {
        int rc = pbk_ipsec_name_dup((enum pbk_ipsec_field)f, v[f], arena, dst[f]);
        if (rc != RF_OK)
            return rc;
    }
    *out = p;
    return RF_OK;
}

/* ---- the phonebook reader ---- */

enum sub_block { SUB_NONE = 0, SUB_NETCOMPONENTS, SUB_MEDIA, SUB_DEVICE };

struct slice {
    const char *p;
    size_t n;
};

struct setting {
    struct slice key, value;
};

struct reader {
    const char *text;
    size_t len;
    enum rf_pbk_scope scope;
    int64_t time_ms;
    struct rf_arena *arena;
    struct parse_sink *sink;
    long line; /* current line */
    size_t line_off;
    /* the open section */
    bool saw_header; /* a section header was seen (even an ignored one) */
    bool in_section; /* a section is open */
    bool keep_section;
    struct slice name;
    long name_line;
    enum sub_block sub;
    bool have_phone;
    bool too_many_reported;
    struct setting *settings;
    size_t n_settings, cap_settings;
    long auth_index; /* settings index of CustomAuthData, -1 when absent */
    long auth_line;
    struct buf auth; /* joined CustomAuthData lines */
    struct slice ipsec_blob;
    long ipsec_line;
    /* finished sections */
    struct pbk_parsed_entry *entries;
    size_t n_entries, cap_entries;
};

static bool slice_eq(struct slice s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool slice_caseeq(struct slice a, struct slice b)
{
    return a.n == b.n && strncasecmp(a.p, b.p, a.n) == 0;
}

static bool slice_caseeq_lit(struct slice s, const char *lit)
{
    return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

static void report(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct reader *r, const char *fmt, ...)
{
    char reason[PARSE_REPORT_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    parse_report_emit(r->sink, false, r->line, (long)r->line_off, -1, "%s", reason);
}

static int fatal(struct reader *r, int rc, long line, size_t off, const char *reason)
{
    parse_report_emit(r->sink, true, line, (long)off, -1, "%s", reason);
    return rc;
}

static int push_setting(struct reader *r, struct slice key, struct slice value)
{
    if (r->n_settings == r->cap_settings) {
        size_t cap = r->cap_settings ? r->cap_settings * 2 : 64;
        struct setting *s = realloc(r->settings, cap * sizeof(*s));
        if (!s)
            return RF_ENOMEM;
        r->settings = s;
        r->cap_settings = cap;
    }
    r->settings[r->n_settings].key = key;
    r->settings[r->n_settings].value = value;
    r->n_settings++;
    return RF_OK;
}

static bool has_key(const struct reader *r, struct slice key)
{
    for (size_t i = 0; i < r->n_settings; i++)
        if (slice_caseeq(r->settings[i].key, key))
            return true;
    return false;
}

static bool section_seen(const struct reader *r, struct slice name)
{
    for (size_t i = 0; i < r->n_entries; i++) {
        const char *c = r->entries[i].record.u.pbk.connection;
        if (strlen(c) == name.n && memcmp(c, name.p, name.n) == 0)
            return true;
    }
    return false;
}

static bool is_hex_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hex_value(s[i]) < 0)
            return false;
    return true;
}

/* "<redacted:N bytes fnv1a64:H>" for the joined CustomAuthData lines. */
static const char *redact_auth(struct reader *r)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < r->auth.len; i++) {
        h ^= (unsigned char)r->auth.data[i];
        h *= 0x100000001b3ull;
    }
    bool hex = r->auth.len % 2 == 0 && is_hex_text(r->auth.data, r->auth.len);
    if (!hex)
        parse_report_emit(r->sink, false, r->auth_line, -1, -1,
                          "CustomAuthData is not an even-length hex string");
    char tmp[96];
    snprintf(tmp, sizeof(tmp), "<redacted:%zu %s fnv1a64:%016llx>",
             hex ? r->auth.len / 2 : r->auth.len, hex ? "bytes" : "chars", (unsigned long long)h);
    return rf_arena_strdup(r->arena, tmp);
}

/* Keys whose non-empty value is a credential (none should hold one, but a
 * hand-edited phonebook might). */
static bool is_secret_key(struct slice key)
{
    static const char *const words[] = {"Password", "PreSharedKey"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t n = strlen(words[w]);
        for (size_t i = 0; i + n <= key.n; i++)
            if (strncasecmp(key.p + i, words[w], n) == 0)
                return true;
    }
    return false;
}

static int grow_entries(struct reader *r)
{
    if (r->n_entries < r->cap_entries)
        return RF_OK;
    size_t cap = r->cap_entries ? r->cap_entries * 2 : 8;
    struct pbk_parsed_entry *e = realloc(r->entries, cap * sizeof(*e));
    if (!e)
        return RF_ENOMEM;
    r->entries = e;
    r->cap_entries = cap;
    return RF_OK;
}

/* Turns the open section into an entry (strings copied into the arena). */
static int close_section(struct reader *r)
{
    int rc = RF_OK;
    if (!r->in_section || !r->keep_section)
        goto out;
    if ((rc = grow_entries(r)) != RF_OK)
        goto out;
    struct pbk_parsed_entry *e = &r->entries[r->n_entries];
    memset(e, 0, sizeof(*e));
    e->line = r->name_line;
    e->record.kind = RF_KIND_PBK_ENTRY;
    e->record.time_ms = r->time_ms;
    struct rf_pbk_entry *p = &e->record.u.pbk;
    p->scope = r->scope;
    p->connection = rf_arena_strndup(r->arena, r->name.p, r->name.n);
    p->settings = rf_arena_alloc(r->arena, (r->n_settings ? r->n_settings : 1) *
                                               sizeof(struct rf_pbk_setting));
    rc = RF_ENOMEM;
    if (!p->connection || !p->settings)
        goto out;
    for (size_t i = 0; i < r->n_settings; i++) {
        const struct setting *s = &r->settings[i];
        p->settings[i].key = rf_arena_strndup(r->arena, s->key.p, s->key.n);
        if ((long)i == r->auth_index)
            p->settings[i].value = redact_auth(r);
        else if (s->value.n > 0 && is_secret_key(s->key))
            p->settings[i].value = rf_arena_strdup(r->arena, "<redacted>");
        else
            p->settings[i].value = rf_arena_strndup(r->arena, s->value.p, s->value.n);
        if (!p->settings[i].key || !p->settings[i].value)
            goto out;
    }
    p->n_settings = r->n_settings;
    if (r->ipsec_blob.p) {
        char hex[PBK_IPSEC_BLOB_HEX + 8];
        int drc = RF_EFORMAT;
        if (r->ipsec_blob.n < sizeof(hex)) {
            memcpy(hex, r->ipsec_blob.p, r->ipsec_blob.n);
            hex[r->ipsec_blob.n] = '\0';
            drc = pbk_decode_ipsec_blob(hex, r->arena, &e->ipsec);
        }
        if (drc == RF_ENOMEM)
            goto out;
        e->has_ipsec = drc == RF_OK;
        if (drc != RF_OK)
            parse_report_emit(r->sink, false, r->ipsec_line, -1, -1,
                              "CustomIPSecPolicies is malformed (%zu characters, expected %d hex "
                              "digits); policy not decoded",
                              r->ipsec_blob.n, PBK_IPSEC_BLOB_HEX);
    }
    r->n_entries++;
    rc = RF_OK;
out:
    r->in_section = false;
    return rc;
}

static int open_section(struct reader *r, struct slice name)
{
    int rc = close_section(r);
    if (rc != RF_OK)
        return rc;
    r->in_section = true;
    r->saw_header = true;
    r->keep_section = false;
    r->name = name;
    r->name_line = r->line;
    r->sub = SUB_NONE;
    r->have_phone = false;
    r->too_many_reported = false;
    r->n_settings = 0;
    r->auth_index = -1;
    buf_reset(&r->auth);
    r->ipsec_blob.p = NULL;
    r->ipsec_blob.n = 0;
    if (name.n == 0) {
        report(r, "empty section name; section ignored");
    } else if (name.n > RF_MAX_NAME_LEN) {
        report(r, "section name is %zu bytes, the limit is %d; section ignored", name.n,
               RF_MAX_NAME_LEN);
    } else if (section_seen(r, name)) {
        report(r, "duplicate section [%.*s]; the first one is kept",
               (int)(name.n > 64 ? 64 : name.n), name.p);
    } else if (r->n_entries >= PBK_MAX_ENTRIES) {
        parse_report_emit(r->sink, true, r->line, (long)r->line_off, -1,
                          "more than %d sections: not a phonebook", PBK_MAX_ENTRIES);
        return RF_ETOOBIG;
    } else {
        r->keep_section = true;
    }
    return RF_OK;
}

static int add_top_level(struct reader *r, struct slice key, struct slice value)
{
    if (slice_caseeq_lit(key, "CustomAuthData")) {
        if (buf_append(&r->auth, value.p, value.n) != RF_OK)
            return RF_ENOMEM;
        if (r->auth_index >= 0)
            return RF_OK;
        value.n = 0; /* replaced by the redacted form when the section closes */
    } else if (has_key(r, key)) {
        return RF_OK; /* first occurrence wins */
    }
    if (r->n_settings >= RF_MAX_PBK_SETTINGS) {
        if (!r->too_many_reported)
            report(r, "more than %d keys in the section; the rest are ignored",
                   RF_MAX_PBK_SETTINGS);
        r->too_many_reported = true;
        return RF_OK;
    }
    if (key.n > RF_MAX_NAME_LEN) {
        report(r, "key is %zu bytes, the limit is %d; ignored", key.n, RF_MAX_NAME_LEN);
        return RF_OK;
    }
    if (value.n > RF_MAX_PBK_VALUE_LEN) {
        report(r, "value of %.*s is %zu bytes, the limit is %d; ignored",
               (int)(key.n > 64 ? 64 : key.n), key.p, value.n, RF_MAX_PBK_VALUE_LEN);
        return RF_OK;
    }
    if (slice_caseeq_lit(key, "CustomAuthData")) {
        r->auth_index = (long)r->n_settings;
        r->auth_line = r->line;
    }
    if (slice_caseeq_lit(key, "CustomIPSecPolicies")) {
        r->ipsec_blob = value;
        r->ipsec_line = r->line;
    }
    return push_setting(r, key, value);
}

static int handle_key_value(struct reader *r, struct slice key, struct slice value)
{
    if (!r->in_section) {
        report(r, "key=value line outside any section; ignored");
        return RF_OK;
    }
    if (!r->keep_section)
        return RF_OK;
    /* Sub-block markers are upper case; `Device=` inside MEDIA is not one. */
    if (slice_eq(key, "NETCOMPONENTS") || slice_eq(key, "MEDIA") || slice_eq(key, "DEVICE")) {
        r->sub = key.p[0] == 'N' ? SUB_NETCOMPONENTS : key.p[0] == 'M' ? SUB_MEDIA : SUB_DEVICE;
        return RF_OK;
    }
    if (r->sub == SUB_NONE)
        return add_top_level(r, key, value);
    if (r->sub == SUB_DEVICE && !r->have_phone && slice_caseeq_lit(key, "PhoneNumber")) {
        r->have_phone = true;
        struct slice k = {"PhoneNumber", 11};
        if (!has_key(r, k))
            return add_top_level(r, k, value);
    }
    return RF_OK;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int handle_line(struct reader *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F) {
            char reason[80];
            snprintf(reason, sizeof(reason), "control byte 0x%02X: not a text phonebook", c);
            return fatal(r, RF_EFORMAT, r->line, r->line_off + i, reason);
        }
    }
    size_t s = 0, e = n;
    while (s < e && is_blank(p[s]))
        s++;
    if (s == e || p[s] == ';')
        return RF_OK;
    if (p[s] == '[') {
        while (e > s && is_blank(p[e - 1]))
            e--;
        if (p[e - 1] == ']' && e - s >= 2) {
            struct slice name = {p + s + 1, e - s - 2};
            return open_section(r, name);
        }
        report(r, "'[' line without a closing ']'; ignored");
        return RF_OK;
    }
    const char *eq = memchr(p + s, '=', e - s);
    if (!eq) {
        report(r, "neither a [section] header nor a key=value line; ignored");
        return RF_OK;
    }
    struct slice key = {p + s, (size_t)(eq - (p + s))};
    while (key.n > 0 && is_blank(key.p[key.n - 1]))
        key.n--;
    if (key.n == 0) {
        report(r, "key=value line with an empty key; ignored");
        return RF_OK;
    }
    struct slice value = {eq + 1, (size_t)(p + n - (eq + 1))};
    return handle_key_value(r, key, value);
}

/* Line of the first non-blank character, for the "no section" error. */
static long first_content_line(const char *t, size_t len, bool *any)
{
    for (size_t i = 0; i < len; i++) {
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\n') {
            *any = true;
            return parse_line_of(t, len, i);
        }
    }
    *any = false;
    return 0;
}

int pbk_parse_text(const char *buf, size_t len, enum rf_pbk_scope scope, int64_t time_ms,
                   struct rf_arena *arena, struct parse_sink *sink, struct pbk_parse_result *out)
{
    struct reader r;
    memset(&r, 0, sizeof(r));
    buf_init(&r.auth);
    r.scope = scope;
    r.time_ms = time_ms;
    r.arena = arena;
    r.sink = sink;
    r.auth_index = -1;
    out->n_entries = 0;
    out->entries = NULL;
    int rc;
    size_t bad;
    if (len > PBK_MAX_INPUT) {
        rc = fatal(&r, RF_ETOOBIG, 0, 0, "phonebook larger than PBK_MAX_INPUT");
        goto out;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    r.text = buf;
    r.len = len;
    if (!utf8_validate(buf, len, &bad)) {
        rc = fatal(&r, RF_EFORMAT, parse_line_of(buf, len, bad), bad,
                   "invalid UTF-8: not a text phonebook");
        goto out;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n' && buf[end] != '\r')
            end++;
        r.line++;
        r.line_off = pos;
        if ((rc = handle_line(&r, buf + pos, end - pos)) != RF_OK)
            goto out;
        pos = end;
        if (pos < len && buf[pos] == '\r') {
            pos++;
            if (pos < len && buf[pos] == '\n')
                pos++;
        } else if (pos < len) {
            pos++; /* '\n' */
        }
    }
    if ((rc = close_section(&r)) != RF_OK)
        goto out;
    bool any;
    long first = first_content_line(buf, len, &any);
    if (r.n_entries == 0 && any && !r.saw_header) {
        rc = fatal(&r, RF_EFORMAT, first, 0, "no [section] header: not a phonebook");
        goto out;
    }
    if (r.n_entries) {
        out->entries = rf_arena_alloc(arena, r.n_entries * sizeof(*out->entries));
        if (!out->entries) {
            rc = RF_ENOMEM;
            goto out;
        }
        memcpy(out->entries, r.entries, r.n_entries * sizeof(*out->entries));
        out->n_entries = r.n_entries;
    }
    rc = RF_OK;
out:
    free(r.settings);
    free(r.entries);
    buf_free(&r.auth);
    return rc;
}

/* Line of a raw offset of undecodable input, counted in the input's encoding. */
static long raw_line_of(const char *raw, size_t len, size_t off, enum textenc_kind kind)
{
    if (kind == TEXTENC_UTF8 || kind == TEXTENC_UTF8_BOM)
        return parse_line_of(raw, len, off);
    bool be = kind == TEXTENC_UTF16BE || kind == TEXTENC_UTF16BE_BOM;
    long line = 1;
    for (size_t i = 0; i + 1 < len && i < off; i += 2) {
        unsigned char a = (unsigned char)raw[i], b = (unsigned char)raw[i + 1];
        if ((be ? a == 0 && b == '\n' : a == '\n' && b == 0))
            line++;
    }
    return line;
}

int pbk_parse_bytes(const char *raw, size_t len, enum rf_pbk_scope scope, int64_t time_ms,
                    struct rf_arena *arena, struct parse_sink *sink, struct pbk_parse_result *out)
{
    struct buf text = BUF_INIT;
    struct textenc_error err = {0, NULL, false};
    enum textenc_kind kind;
    int rc;
    out->n_entries = 0;
    out->entries = NULL;
    if (len > PBK_MAX_INPUT) {
        parse_report_emit(sink, true, 0, 0, -1, "phonebook larger than PBK_MAX_INPUT");
        rc = RF_ETOOBIG;
        goto out;
    }
    rc = textenc_decode(raw, len, &text, &kind, &err);
    if (rc == RF_EFORMAT) {
        parse_report_emit(sink, true, raw_line_of(raw, len, err.offset, kind), (long)err.offset, -1,
                          "%s (as %s): not a text phonebook", err.reason, textenc_kind_name(kind));
        goto out;
    }
    if (rc != RF_OK)
        goto out;
    rc = pbk_parse_text(text.data ? text.data : "", text.len, scope, time_ms, arena, sink, out);
out:
    buf_free(&text);
    return rc;
}
