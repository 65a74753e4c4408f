/*
 * readstore_impl.h - what the readstore backends (readstore_sqlite.c,
 * pg_reads.c) implement and share: the operations table and the SQL of
 * every query (readstore.c). Not for callers: they use readstore.h.
 */
#ifndef RASFLEET_READSTORE_IMPL_H
#define RASFLEET_READSTORE_IMPL_H

#include "readstore.h"

struct readstore_ops {
    int (*begin)(struct readstore *rs);
    void (*end)(struct readstore *rs);
    int (*query)(struct readstore *rs, enum rs_query q, const struct rs_arg *args, size_t n,
                 struct rs_rows **out);
    bool (*next)(struct rs_rows *r, int *rc);
    void (*rewind)(struct rs_rows *r);
    bool (*is_null)(struct rs_rows *r, int col);
    int64_t (*int64)(struct rs_rows *r, int col);
    const char *(*text)(struct rs_rows *r, int col);
    void (*close_rows)(struct rs_rows *r);
    int (*save_setting)(struct readstore *rs, const char *key, const char *value);
    void (*close)(struct readstore *rs);
};

/* Backends embed these first. */
struct readstore {
    const struct readstore_ops *ops;
};

struct rs_rows {
    const struct readstore_ops *ops;
};

/* The SQL of q, with ?1, ?2 parameters. */
const char *readstore_sql(enum rs_query q);

int readstore_sqlite_open(const char *path, struct readstore **out, char *errbuf, size_t errlen);
int pg_reads_open(const char *url, struct readstore **out, char *errbuf, size_t errlen);

#endif
