/*
 * osdep.h - the operating-system services the portable agent needs, and
 * nothing more: random bytes, identity facts (host name, OS version,
 * machine id), durable file writes, directory listing, sleeping.
 *
 * One implementation per platform, chosen at build time (agent/posix/
 * osdep.c, agent/win/osdep.c), the way libuv keeps src/unix and src/win:
 * the rest of the agent never includes a platform header.
 *
 * Durability contract (the spool and the progress state rely on it):
 * osdep_write_atomic() makes a file appear complete or not at all. It
 * writes "<path>.tmp", flushes it to the disk (fsync / FlushFileBuffers),
 * renames it over <path> and flushes the directory (POSIX), so after a
 * crash at any point the reader finds either the old file or the new one,
 * plus at worst a stray ".tmp" that the owner deletes on its next start.
 *
 * Errors: RF_EIO for a failed system call, RF_ESTORAGE when the disk or the
 * quota is full (ENOSPC, EDQUOT) or the file system is read-only,
 * RF_ENOTFOUND for a missing file; osdep_strerror() describes the last
 * failure of the calling thread in words, for the log.
 */
#ifndef RF_AGENT_OSDEP_H
#define RF_AGENT_OSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

#define OSDEP_PATH_MAX 4096

/* One piece of a file written by osdep_write_atomic(). */
struct osdep_chunk {
    const void *data;
    size_t len;
};

enum osdep_type { OSDEP_REGULAR = 0, OSDEP_DIR, OSDEP_OTHER, OSDEP_MISSING };

struct osdep_stat {
    enum osdep_type type; /* of the target when path is a symlink; MISSING if dangling */
    uint64_t size;
    int64_t mtime_ns;
};

/* Fills buf with len cryptographically random bytes. RF_OK or RF_EIO. */
int osdep_random(void *buf, size_t len);

/* Host name (POSIX uname nodename, Windows the NetBIOS computer name). */
int osdep_hostname(char *out, size_t len);
/* "Linux 6.1.0-18-amd64" on POSIX, "10.0.22631" on Windows. */
int osdep_os_version(char *out, size_t len);
/* The installation's stable id: /etc/machine-id (or /var/lib/dbus/machine-id)
 * on POSIX, HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid on Windows.
 * RF_ENOTFOUND when the system has none. */
int osdep_machine_id(char *out, size_t len);

/* Creates dir and its missing parents (mode 0700). RF_OK if it exists. */
int osdep_mkdirs(const char *dir);

/* Writes the chunks as <path>, atomically and durably (see above). */
int osdep_write_atomic(const char *path, const struct osdep_chunk *chunks, size_t n_chunks);

/* Appends data to path (created when missing) and flushes it to disk. */
int osdep_append_durable(const char *path, const void *data, size_t len);

/* Reads a whole file into out (appended). RF_ENOTFOUND, RF_ETOOBIG when the
 * file is over max bytes, RF_EIO. */
int osdep_read_file(const char *path, size_t max, struct buf *out);

/* Unlinks path and flushes its directory; RF_OK when it did not exist. */
int osdep_remove(const char *path);

/* Renames from to to (replacing it) and flushes the directory. */
int osdep_rename(const char *from, const char *to);

/* stat() that follows symlinks; a dangling link or a missing path gives
 * type OSDEP_MISSING and RF_OK. RF_EIO for other failures. */
int osdep_stat(const char *path, struct osdep_stat *out);

/* Calls fn(ctx, name) for every entry of dir except "." and "..", in no
 * particular order. A non-zero return of fn stops the walk and is
 * returned. RF_ENOTFOUND when dir does not exist. */
typedef int (*osdep_dir_fn)(void *ctx, const char *name);
int osdep_list_dir(const char *dir, osdep_dir_fn fn, void *ctx);

/* fopen(path, "rb") with a UTF-8 path on every platform; NULL on failure
 * (osdep_strerror() says why). */
FILE *osdep_open_read(const char *path);

/* Sleeps ms milliseconds or until osdep_request_stop() is called (from a
 * signal handler or another thread). Returns true when stopped. */
bool osdep_sleep_ms(int64_t ms);
void osdep_request_stop(void);
bool osdep_stop_requested(void);
/* Routes SIGINT/SIGTERM (console close on Windows) to osdep_request_stop(). */
void osdep_install_stop_handlers(void);

/* Takes an exclusive, non-blocking lock on path (created when missing),
 * held until osdep_unlock() or the process ends (even by SIGKILL).
 * RF_EBUSY when another process holds it. */
int osdep_lock(const char *path, intptr_t *handle);
void osdep_unlock(intptr_t handle);

/* Peak resident set size of this process in KiB, 0 when unknown. */
long osdep_peak_rss_kib(void);

/* snprintf for paths: RF_EINVAL (and an empty out) when the result does
 * not fit in len bytes, so a truncated path is never used. */
int osdep_path(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Text of the last osdep failure in this thread ("No space left on device"). */
const char *osdep_strerror(void);

#endif
