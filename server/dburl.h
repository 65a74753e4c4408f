/*
 * dburl.h - which storage backend a `--db` value (or the config file's `db`
 * key) names, and how to print it without its secret.
 *
 *   PATH                      SQLite database file (unchanged behaviour)
 *   sqlite:PATH               the same, explicitly (sqlite:///abs/path too)
 *   postgresql://... or postgres://...   PostgreSQL (a libpq connection URI)
 *
 * Any other "scheme://" is refused, so a typo never silently creates a
 * SQLite file named like a URL. Pure string functions: no I/O, no libpq.
 */
#ifndef RASFLEET_DBURL_H
#define RASFLEET_DBURL_H

#include <stdbool.h>
#include <stddef.h>

enum dburl_kind { DBURL_SQLITE, DBURL_POSTGRES };

/*
 * Normalises a --db value into out (cap bytes): "sqlite:" is stripped so
 * that every SQLite code path receives a plain file path; PostgreSQL URLs
 * are kept as they are. RF_OK; RF_EFORMAT (empty path, unknown scheme) or
 * RF_ETOOBIG (does not fit) with errbuf saying why.
 */
int dburl_normalise(const char *spec, char *out, size_t cap, char *errbuf, size_t errlen);

/* The backend of a normalised value. */
enum dburl_kind dburl_kind(const char *normalised);

static inline bool dburl_is_postgres(const char *normalised)
{
    return dburl_kind(normalised) == DBURL_POSTGRES;
}

/* Copies value into out with any password replaced by "***" (the userinfo
 * password of a URL and a password= query parameter), for logs and error
 * messages. Always NUL-terminates (truncating when cap is too small). */
void dburl_redact(const char *value, char *out, size_t cap);

#endif
