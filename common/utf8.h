/*
 * utf8.h - strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). Used on every body before it is parsed.
 */
#ifndef RASFLEET_UTF8_H
#define RASFLEET_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when buf[0..len) is valid UTF-8; otherwise *bad_offset (if given) is
 * the offset of the first invalid byte. */
bool utf8_validate(const char *buf, size_t len, size_t *bad_offset);

/* Makes a NUL-terminated message safe to put in JSON and logs: every byte
 * of an invalid or cut UTF-8 sequence (as "%.64s" can leave) becomes '?',
 * and control characters become spaces so a message stays one line. */
void utf8_sanitize_message(char *s);

#endif
