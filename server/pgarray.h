/*
 * pgarray.h - PostgreSQL array literals ('{1,NULL,"a\"b"}') built in a buf:
 * the text form in which pg_writer.c sends a whole column of a batch as one
 * statement parameter (cast to bigint[], text[], ... and unnested by the
 * server). Every string element is quoted, so "NULL", "" and strings with
 * braces, commas, quotes or backslashes arrive as they were; NULL is the
 * bare word. Functions return RF_OK or RF_ENOMEM.
 */
#ifndef RASFLEET_PGARRAY_H
#define RASFLEET_PGARRAY_H

#include "buf.h"

#include <stdint.h>

/* Empties b and starts an array. */
int pgarray_open(struct buf *b);
int pgarray_int(struct buf *b, int64_t v);
int pgarray_null(struct buf *b);
/* s == NULL appends NULL. */
int pgarray_text(struct buf *b, const char *s);
/* Ends the array; b->data is then a NUL-terminated literal. */
int pgarray_close(struct buf *b);

#endif
