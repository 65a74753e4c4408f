/*
 * fuzz_report.h - a parse_sink for the targets of the Windows-format
 * parsers: counts reports and checks each one (terminated strings, sane
 * numbers, and reasons that are valid UTF-8 when the input text was).
 */
#ifndef RASFLEET_FUZZ_REPORT_H
#define RASFLEET_FUZZ_REPORT_H

#include "fuzz_common.h"
#include "parse_report.h"

struct report_ctx {
    bool utf8_input; /* the decoded input text is valid UTF-8 */
    size_t n, n_fatal;
};

static FUZZ_UNUSED void report_check(void *ctx, const struct parse_report *r)
{
    struct report_ctx *c = ctx;
    c->n++;
    c->n_fatal += r->fatal;
    FUZZ_CHECK(memchr(r->reason, 0, sizeof(r->reason)) && r->reason[0], "empty reason");
    FUZZ_CHECK(memchr(r->path, 0, sizeof(r->path)), "path not terminated");
    FUZZ_CHECK(r->line >= 0 && r->offset >= -1 && r->item >= -1, "line %ld offset %ld item %ld",
               r->line, r->offset, r->item);
    if (c->utf8_input && !fuzz_skip("report-utf8"))
        FUZZ_CHECK(fuzz_utf8_ok(r->reason, strlen(r->reason)),
                   "report reason is not valid UTF-8 although the input was: %s", r->reason);
}

static FUZZ_UNUSED void report_sink_init(struct parse_sink *s, struct report_ctx *c, bool utf8)
{
    memset(s, 0, sizeof(*s));
    memset(c, 0, sizeof(*c));
    c->utf8_input = utf8;
    s->path = "fuzz-input";
    s->fn = report_check;
    s->ctx = c;
}

/* A parse that failed reported a fatal problem; one that succeeded did not. */
static FUZZ_UNUSED void report_check_outcome(const struct parse_sink *s, int rc, int cb_rc)
{
    if (rc == RF_OK || (cb_rc && rc == cb_rc))
        FUZZ_CHECK(s->n_fatal == 0, "rc=%d with %zu fatal reports", rc, s->n_fatal);
    else if (rc != RF_ENOMEM)
        FUZZ_CHECK(s->n_fatal >= 1, "rc=%d without a fatal report", rc);
}

#endif
