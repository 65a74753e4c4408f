/*
 * utf8.c - strict UTF-8 validator with an ASCII fast path. See utf8.h.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

bool utf8_validate(const char *buf, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (len - i - 1 < n)
            goto bad;
        for (size_t k = 1; k <= n; k++) {
            unsigned char cc = s[i + k];
            if ((cc & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += n + 1;
    }
    return true;
bad:
    if (bad_offset)
        *bad_offset = i;
    return false;
}

void utf8_sanitize_message(char *s)
{
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t bad;
        if (utf8_validate(s + i, len - i, &bad)) {
            bad = len - i;
        }
        for (size_t k = i; k < i + bad; k++)
            if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
                s[k] = ' ';
        i += bad;
        if (i < len)
            s[i++] = '?'; /* one bad byte at a time; the rest is checked again */
    }
}
