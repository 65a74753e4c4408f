/*
 * sources.h - the file sources: every export found under a directory
 * (RasClient events as XML or JSON, Get-NetIPInterface JSON, rasphone.pbk,
 * Get-VpnConnection JSON) turned into records for the batcher, each record
 * at most once across runs.
 *
 * Recognition: by extension first (.xml events; .pbk phonebook; .json by
 * its first object's keys: InterfaceMetric -> interfaces, ServerAddress or
 * TunnelType -> VPN connections, Id/EventID/RecordId/Properties/
 * TimeCreated -> events); files named *.txt, *.log, *.out or without an
 * extension by their first bytes ('<' XML, '{' or '[{' JSON, '[Name]'
 * phonebook). Names starting with '.', *.tmp and *.bak are never read.
 * Sub-directories are walked (depth <= 8); the state directory is skipped.
 *
 * Order inside one collection: VPN connections, phonebooks, interfaces,
 * event XML, event JSON with RecordId, event JSON without, so that (0) an
 * event met both with and without its record number is sent with it, (1) a pbk entry with a decoded
 * CustomIPSecPolicies gives a vpn_policy only when no Get-VpnConnection export in the directory
 * names that connection (the export is the richer source), and (2) interface aliases equal to a
 * known VPN connection name are typed "vpn".
 *
 * Once per run and file: unchanged size and mtime -> skipped unread;
 * unchanged content hash -> not parsed again. Otherwise every record gets
 * dedupe keys (progress.h): events by record number and by a fingerprint
 * of (event id, time, CoId, user, connection, codes) - so the same event
 * in a wevtutil export and a Get-WinEvent export is sent once -, snapshot
 * records by (path, content hash, position). An event without record
 * number (Windows PowerShell 5.1 exports) gets a synthesized one:
 * 2^52 + the low 52 bits of its fingerprint (SOURCES_SYNTH_RECORD_BASE).
 * An event without user or connection name (templates that carry none)
 * takes them from another event of the same CoId in the same file, or is
 * reported and skipped (api-v1 requires both).
 *
 * A file that cannot be read or parsed is reported (path, line, offset,
 * reason) through the report callback and skipped; what it yielded before
 * the error (a truncated XML export's complete events) is kept. Only an
 * error of the batcher's flush (the spool) or of memory stops a collection.
 */
#ifndef RF_AGENT_SOURCES_H
#define RF_AGENT_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batcher.h"
#include "parse_report.h"
#include "progress.h"

#define SOURCES_SYNTH_RECORD_BASE (1ULL << 52)
#define SOURCES_MAX_FILES 10000
#define SOURCES_MAX_DEPTH 8

struct sources_config {
    const char *dir;         /* the export directory */
    const char *exclude_dir; /* skipped when met in the walk (the state dir); may be NULL */
    parse_report_fn report;  /* every problem, fatal for its file or not */
    void *report_ctx;
};

struct sources_stats {
    bool listed;            /* the directory could be listed (else nothing is forgotten) */
    size_t files;           /* export files found */
    size_t files_unchanged; /* skipped: same size and mtime, or same content */
    size_t files_failed;    /* unreadable, unrecognised or stopped by a parse error */
    size_t records;         /* handed to the batcher */
    size_t duplicates;      /* records already spooled before (dedupe keys) */
    size_t unnamed_dropped; /* events without user/connection that nothing could fill */
};

/* Collects every new record under cfg->dir into b. Returns RF_OK or the
 * first error that stops the collection (the flush callback's, RF_ENOMEM);
 * what was flushed before it is in the spool and in the progress. */
int sources_collect(const struct sources_config *cfg, struct progress *p, struct batcher *b,
                    struct sources_stats *st);

/* The same for an explicit list of files (absolute paths, and the names
 * used in reports and progress; the scope of a pbk file comes from its
 * name as above). Missing files are skipped silently. */
int sources_collect_files(const struct sources_config *cfg, const char *const *paths,
                          const char *const *names, size_t n, struct progress *p, struct batcher *b,
                          struct sources_stats *st);

/*
 * An event XML stream fed piece by piece by a native source (rendered
 * events of the Windows event log), with the dedupe and name filling of
 * the file sources; name is used in reports. close() finishes the stream
 * and returns the batcher's error, if any (parse problems are reported,
 * not returned).
 */
struct sources_stream;
int sources_stream_open(const struct sources_config *cfg, const char *name, struct progress *p,
                        struct batcher *b, struct sources_stats *st, struct sources_stream **out);
int sources_stream_feed(struct sources_stream *s, const char *buf, size_t len);
int sources_stream_close(struct sources_stream *s);

#endif
