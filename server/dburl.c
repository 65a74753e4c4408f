/*
 * dburl.c - backend selection from the --db value and redaction of its
 * password. See dburl.h.
 */
#include "dburl.h"
#include "rasfleet/result.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

enum dburl_kind dburl_kind(const char *v)
{
    return has_prefix(v, "postgresql://") || has_prefix(v, "postgres://") ? DBURL_POSTGRES
                                                                           : DBURL_SQLITE;
}

/* Length of a leading URL scheme followed by "://" (0 when there is none). */
static size_t scheme_len(const char *v)
{
    size_t i = 0;
    if (!isalpha((unsigned char)v[0]))
        return 0;
    while (isalnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.')
        i++;
    return strncmp(v + i, "://", 3) == 0 ? i : 0;
}

int dburl_normalise(const char *spec, char *out, size_t cap, char *errbuf, size_t errlen)
{
    const char *v = spec;
    if (has_prefix(v, "sqlite:")) {
        v += 7;
        if (strncmp(v, "//", 2) == 0) /* sqlite:///abs/path */
            v += 2;
        if (!*v) {
            snprintf(errbuf, errlen, "sqlite: needs a file path (sqlite:PATH)");
            return RF_EFORMAT;
        }
    } else if (!*v) {
        snprintf(errbuf, errlen, "the database setting is empty");
        return RF_EFORMAT;
    } else if (dburl_kind(v) != DBURL_POSTGRES && scheme_len(v) > 0) {
        snprintf(errbuf, errlen,
                 "unsupported database URL scheme '%.*s' (use a file path, sqlite:PATH or"
                 " postgresql://...)",
                 (int)scheme_len(v), v);
        return RF_EFORMAT;
    }
    size_t n = strlen(v);
    if (n >= cap) {
        snprintf(errbuf, errlen, "the database setting is longer than %zu bytes", cap - 1);
        return RF_ETOOBIG;
    }
    memcpy(out, v, n + 1);
    return RF_OK;
}

/* Appends s[0..n) to out at *pos, never past cap - 1. */
static void put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos + 1 >= cap)
        return;
    if (n > cap - 1 - *pos)
        n = cap - 1 - *pos;
    memcpy(out + *pos, s, n);
    *pos += n;
}

void dburl_redact(const char *v, char *out, size_t cap)
{
    size_t pos = 0;
    if (!cap)
        return;
    size_t sl = scheme_len(v);
    const char *p = v;
    if (sl) {
        /* userinfo: between "://" and the last '@' before the path */
        const char *auth = v + sl + 3;
        size_t auth_len = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < auth_len; i++)
            if (auth[i] == '@')
                at = auth + i;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            put(out, cap, &pos, v, (size_t)(colon + 1 - v));
            put(out, cap, &pos, "***", 3);
            p = at;
        }
    }
    /* password=... anywhere in the query string */
    while (*p) {
        const char *q = strstr(p, "password=");
        bool at_param = q && (q == v || q[-1] == '?' || q[-1] == '&' || q[-1] == ' ');
        if (!q) {
            put(out, cap, &pos, p, strlen(p));
            break;
        }
        put(out, cap, &pos, p, (size_t)(q + 9 - p));
        p = q + 9;
        if (at_param) {
            put(out, cap, &pos, "***", 3);
            p += strcspn(p, "& ");
        }
    }
    out[pos] = '\0';
}
