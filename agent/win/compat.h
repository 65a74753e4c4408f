/*
 * compat.h - the GNU C library extensions that common/ uses (memmem,
 * memrchr, strcasestr) declared for MinGW-w64, whose CRT lacks them.
 * The Windows build force-includes this header in every file
 * (agent/CMakeLists.txt, deploy/windows/cross-build.sh) and links
 * agent/win/compat.c, so the shared code stays free of #ifdefs.
 */
#ifndef RF_AGENT_WIN_COMPAT_H
#define RF_AGENT_WIN_COMPAT_H

#ifdef _WIN32
#include <stddef.h>

void *memmem(const void *haystack, size_t hlen, const void *needle, size_t nlen);
void *memrchr(const void *s, int c, size_t n);
char *strcasestr(const char *haystack, const char *needle);
#endif

#endif
