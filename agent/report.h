/*
 * report.h - the agent's report on itself: what it remembers about its own
 * health across runs (the collector's last acknowledgement, its last error)
 * and the agent_status record (docs/api.md) built from that and from the
 * spool's counters, once per run.
 *
 * A run reports only when the report would say something new: its digest
 * (every field but the times of the report and of the last success, and
 * the spool's byte count) differs from the last one the collector
 * acknowledged, or that one is REPORT_HEARTBEAT_MS old. An idle run stays
 * idle (no HTTP library loaded, no batch row at the collector), and a
 * change (a drop, a refusal, a new error) is reported by the run that
 * sees it.
 *
 * File in the state directory:
 *   health  text: "rasfleet-agent-health 1", "last_success MS",
 *           "last_error_time MS", "last_error TEXT" (one line of UTF-8:
 *           report_set_error() makes it so), "reported MS DIGEST" (the
 *           last acknowledged report); replaced atomically
 *           (osdep_write_atomic) by report_save()
 * A missing or unreadable file starts empty: losing it loses only what the
 * next report would have said about the past.
 */
#ifndef RF_AGENT_REPORT_H
#define RF_AGENT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rasfleet/record.h"

#define REPORT_ERROR_MAX 512
#define REPORT_HEARTBEAT_MS (24LL * 3600 * 1000)

struct report_health {
    int64_t last_success_ms; /* 0: never */
    int64_t last_error_ms;   /* 0: none */
    char last_error[REPORT_ERROR_MAX];
    int64_t reported_ms;      /* when the collector acknowledged the last report; 0: never */
    uint64_t reported_digest; /* report_digest() of that report */
};

/* Loads <state_dir>/health into *out (zeros when missing or unreadable).
 * RF_OK, or RF_EIO when the file exists but cannot be read. */
int report_load(const char *state_dir, struct report_health *out);

/* Replaces <state_dir>/health. RF_OK, RF_EIO/RF_ESTORAGE. */
int report_save(const char *state_dir, const struct report_health *h);

/* Records an error that happened at now_ms; text is cut to
 * REPORT_ERROR_MAX - 1 bytes and made one line of valid UTF-8. */
void report_set_error(struct report_health *h, int64_t now_ms, const char *text);

/* What the spool says when the report is made. */
struct report_spool {
    uint64_t bytes, batches;
    uint64_t limit_bytes; /* 0: no bound */
    uint64_t dropped_batches, dropped_records, rejected_batches;
};

/* Fills r with the agent_status of now_ms. The strings point into h and
 * version: r is valid while they are. */
void report_record(const struct report_health *h, const struct report_spool *sp,
                   size_t source_errors, const char *version, int64_t now_ms,
                   struct rf_record *r);

/* Digest of what a report says (see the top of the file). */
uint64_t report_digest(const struct rf_record *r);

/* True when a report with this digest should be sent at now_ms. */
bool report_due(const struct report_health *h, uint64_t digest, int64_t now_ms);

/* Remembers that the collector acknowledged a report. */
void report_acknowledged(struct report_health *h, uint64_t digest, int64_t now_ms);

#endif
