/*
 * log.c - stderr logger. See log.h.
 */
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < min_level)
        return;
    char ts[TIME_RFC3339_MAX];
    time_format_rfc3339(time_now_ms(), ts, sizeof(ts));
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %-5s %s\n", ts, names[level], msg);
}
