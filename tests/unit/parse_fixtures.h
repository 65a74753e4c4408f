/*
 * parse_fixtures.h - helpers shared by the parser suites: read a file of
 * tests/fixtures whole, and collect the records and reports a parser emits
 * (the first 16 of each kept, all counted).
 */
#ifndef RASFLEET_TEST_PARSE_FIXTURES_H
#define RASFLEET_TEST_PARSE_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>

#include "parse_report.h"
#include "rasfleet/record.h"

/* Caller frees; the data is NUL-terminated after *len bytes. */
static inline char *read_fixture(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 4);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    p[n] = '\0';
    *len = (size_t)n;
    return p;
}

struct reports {
    size_t n;
    struct parse_report r[16];
};

static inline void collect(void *ctx, const struct parse_report *r)
{
    struct reports *rs = ctx;
    if (rs->n < 16)
        rs->r[rs->n] = *r;
    rs->n++;
}

struct recs {
    size_t n;
    struct rf_record r[16];
};

static inline int keep(void *ctx, const struct rf_record *rec)
{
    struct recs *rs = ctx;
    if (rs->n < 16)
        rs->r[rs->n] = *rec;
    rs->n++;
    return 0;
}

#endif
