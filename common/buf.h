/*
 * buf.h - a growable byte buffer (in the spirit of git's strbuf), used for
 * request bodies, JSON answers and anything built piecewise.
 *
 * The data is always NUL-terminated after len bytes when non-empty. Append
 * functions return RF_OK or RF_ENOMEM; after a failure the buffer keeps its
 * previous contents. buf_free() releases the memory; the struct can be reused
 * after buf_init().
 */
#ifndef RASFLEET_BUF_H
#define RASFLEET_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal with quotes; NULL appends null. */
int buf_append_json_str(struct buf *b, const char *s);
int buf_append_json_strn(struct buf *b, const char *s, size_t len);
/* Detaches the data; the caller frees it. The buffer is left empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
