/*
 * pgarray.c - PostgreSQL array literals. See pgarray.h.
 *
 * Quoting rules (PostgreSQL manual, "Array Value Input"): inside double
 * quotes only '"' and '\' need a backslash; elements are separated by ','
 * (the default delimiter of every type used here).
 */
#include "pgarray.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int pgarray_open(struct buf *b)
{
    buf_reset(b);
    return buf_append_char(b, '{');
}

/* A separator before every element but the first ("{" alone so far). */
static int sep(struct buf *b)
{
    return b->len > 1 ? buf_append_char(b, ',') : RF_OK;
}

int pgarray_int(struct buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    int rc = sep(b);
    return rc == RF_OK ? buf_append(b, tmp, (size_t)n) : rc;
}

int pgarray_null(struct buf *b)
{
    int rc = sep(b);
    return rc == RF_OK ? buf_append(b, "NULL", 4) : rc;
}

int pgarray_text(struct buf *b, const char *s)
{
    if (!s)
        return pgarray_null(b);
    int rc = sep(b);
    if (rc == RF_OK)
        rc = buf_append_char(b, '"');
    while (rc == RF_OK && *s) {
        size_t plain = strcspn(s, "\"\\");
        rc = buf_append(b, s, plain);
        s += plain;
        if (rc == RF_OK && *s) {
            char esc[2] = {'\\', *s++};
            rc = buf_append(b, esc, 2);
        }
    }
    return rc == RF_OK ? buf_append_char(b, '"') : rc;
}

int pgarray_close(struct buf *b)
{
    return buf_append_char(b, '}');
}
