/*
 * wmain.c - the Windows entry point (the .exe is linked with -municode):
 * Windows hands a char **argv in the ANSI code page (cp1252...), but the
 * agent takes every path and setting as UTF-8 (osdep.c converts UTF-8 to
 * UTF-16 at each call), so `--source-dir C:\Users\José\exports` would name
 * a directory that does not exist. wmain() receives the command line in
 * UTF-16, converts it to UTF-8 and calls the portable main() of main.c.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include "agent_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

int main(int argc, char **argv); /* agent/main.c */

int wmain(int argc, wchar_t **wargv);

int wmain(int argc, wchar_t **wargv)
{
    char **argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!argv) {
        fputs("rasfleet-agent: out of memory\n", stderr);
        return AGENT_EXIT_UNDELIVERED;
    }
    for (int i = 0; i < argc; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        argv[i] = n > 0 ? malloc((size_t)n) : NULL;
        if (!argv[i] ||
            WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL) != n) {
            fprintf(stderr, "rasfleet-agent: argument %d cannot be converted to UTF-8\n", i);
            return AGENT_EXIT_USAGE;
        }
    }
    int code = main(argc, argv);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return code;
}
