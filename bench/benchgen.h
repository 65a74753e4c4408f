/*
 * benchgen.h - deterministic synthetic telemetry shared by the benchmark
 * programs, so the load generator (JSON over HTTP) and the raw SQLite
 * baseline insert exactly the same rows in exactly the same order.
 *
 * The stream is a sequence of batches. Batch b (0-based, global) belongs to
 * device b % devices and is that device's (b / devices)-th batch; record j
 * of it gets record_id = (run << 32) + seq * records_per_batch + j + 1, so
 * every (device, record_id) pair is distinct within a run and across runs
 * with different run ids: nothing is deduplicated by the collector.
 *
 * Events follow a plausible Always On VPN mix: 40% 20227 failures (809,
 * 13806, 13801, 812, 691, 720, -2146762495 ...), 30% 20225 successes, 20%
 * 20226 disconnects with a reason code, 10% device-tunnel failures as
 * SYSTEM; each with a CoId; the failures also carry their rendered message
 * (the part the analyzer reads). About 330 bytes of JSON per record.
 */
#ifndef RASFLEET_BENCHGEN_H
#define RASFLEET_BENCHGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct benchgen {
    uint32_t run;             /* distinguishes runs against one database */
    uint32_t devices;         /* simulated devices */
    uint32_t records;         /* records per batch */
    int64_t base_ms;          /* wall clock of the run; event times precede it */
    bool mix;                 /* replace the last records with a config snapshot */
};

struct benchgen_event {
    int64_t time_ms;
    int event_id;
    int64_t record_id;
    int level; /* enum rf_level: 2 error, 3 warning, 4 information */
    const char *level_name;
    char user[32];
    const char *connection;
    bool has_error_code;
    int64_t error_code;
    bool has_reason_code;
    int64_t reason_code;
    char coid[40];
    char message[320]; /* "" when the record has none */
};

/* Identity of device d. Buffers of at least 48 bytes. */
void benchgen_device_id(const struct benchgen *g, uint32_t d, char *out, size_t len);
void benchgen_hostname(const struct benchgen *g, uint32_t d, char *out, size_t len);
const char *benchgen_os_version(const struct benchgen *g, uint32_t d);

/* Fills record j of batch b as a ras_event. */
void benchgen_event(const struct benchgen *g, uint64_t b, uint32_t j, struct benchgen_event *ev);

/* Number of snapshot records (iface_metric, pbk_entry, vpn_policy) at the
 * end of each batch when mix is on; 0 otherwise. */
uint32_t benchgen_snapshot_records(const struct benchgen *g);

/* Appends batch b as one api-v1 JSON batch object (compact). RF_OK or
 * RF_ENOMEM. */
int benchgen_batch_json(const struct benchgen *g, uint64_t b, struct buf *out);

/* 64-bit mixer (splitmix64 finaliser), exposed for the programs' own use. */
uint64_t benchgen_hash(uint64_t x);

#endif
