/*
 * buf.c - growable byte buffer. See buf.h.
 */
#include "buf.h"
#include "rasfleet/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return RF_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return RF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return RF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return RF_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != RF_OK)
        return RF_ENOMEM;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return RF_OK;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return RF_EINVAL;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) != RF_OK)
        return RF_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RF_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_append_json_strn(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(b, len + 2) != RF_OK)
        return RF_ENOMEM;
    int rc = buf_append_char(b, '"');
    size_t run = 0; /* start of the current run of bytes copied verbatim */
    for (size_t i = 0; i < len && rc == RF_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
            /* < > & escaped too so JSON embedded in HTML can never close a tag */
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        }
        if (esc) {
            rc = buf_append(b, s + run, i - run);
            if (rc == RF_OK)
                rc = buf_append_str(b, esc);
            run = i + 1;
        }
    }
    if (rc == RF_OK)
        rc = buf_append(b, s + run, len - run);
    if (rc == RF_OK)
        rc = buf_append_char(b, '"');
    return rc;
}

int buf_append_json_str(struct buf *b, const char *s)
{
    if (!s)
        return buf_append_str(b, "null");
    return buf_append_json_strn(b, s, strlen(s));
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    buf_init(b);
    return p;
}
