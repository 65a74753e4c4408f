/*
 * osdep.c (Windows) - the agent's operating-system services on Windows. See
 * osdep.h for the contract. Paths are UTF-8 in the agent and converted to
 * UTF-16 at each call; durability comes from FlushFileBuffers() and
 * MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH), which
 * only returns once the rename is on disk (NTFS journals it), so there is
 * no directory to flush as on POSIX.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <bcrypt.h>
#include <psapi.h>

#include "osdep.h"
#include "rasfleet/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char last_error[256];
static HANDLE stop_event;
static volatile LONG stop_flag;

typedef LONG(WINAPI *rtl_get_version_fn)(PRTL_OSVERSIONINFOW);

static bool narrow(const wchar_t *w, char *out, size_t len);

static int fail_win(const char *what, const char *path)
{
    DWORD e = GetLastError();
    wchar_t wmsg[160];
    char msg[480] = "";
    /* the message in UTF-8 (status.json is JSON), not in the ANSI code page */
    if (FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, wmsg,
                       sizeof(wmsg) / sizeof(wmsg[0]), NULL) == 0 ||
        !narrow(wmsg, msg, sizeof(msg)))
        msg[0] = '\0';
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\r' || msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    snprintf(last_error, sizeof(last_error), "%s %.120s: %s (%lu)", what, path ? path : "", msg,
             (unsigned long)e);
    if (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL || e == ERROR_WRITE_PROTECT)
        return RF_ESTORAGE;
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
        return RF_ENOTFOUND;
    return RF_EIO;
}

/* UTF-8 -> UTF-16 (caller frees); NULL on failure, with the reason in
 * last_error. */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) {
        snprintf(last_error, sizeof(last_error), "path is not valid UTF-8: %.200s", s);
        return NULL;
    }
    wchar_t *w = malloc((size_t)n * sizeof(wchar_t));
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

/* UTF-16 -> UTF-8 into out; false when it does not fit. */
static bool narrow(const wchar_t *w, char *out, size_t len)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)len, NULL, NULL);
    return n > 0;
}

const char *osdep_strerror(void)
{
    return last_error;
}

int osdep_path(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            out[0] = '\0';
        snprintf(last_error, sizeof(last_error), "path too long");
        return RF_EINVAL;
    }
    return RF_OK;
}

int osdep_random(void *buf, size_t len)
{
    if (len > ULONG_MAX ||
        !BCRYPT_SUCCESS(BCryptGenRandom(NULL, buf, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        snprintf(last_error, sizeof(last_error), "BCryptGenRandom failed");
        return RF_EIO;
    }
    return RF_OK;
}

int osdep_hostname(char *out, size_t len)
{
    wchar_t name[256];
    DWORD n = 256;
    if (!GetComputerNameExW(ComputerNamePhysicalNetBIOS, name, &n))
        return fail_win("GetComputerNameEx", NULL);
    return narrow(name, out, len) ? RF_OK : RF_EINVAL;
}

int osdep_os_version(char *out, size_t len)
{
    RTL_OSVERSIONINFOW v;
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    FARPROC p = ntdll ? GetProcAddress(ntdll, "RtlGetVersion") : NULL;
    rtl_get_version_fn fn;
    memset(&v, 0, sizeof(v));
    v.dwOSVersionInfoSize = sizeof(v);
    if (!p) {
        snprintf(last_error, sizeof(last_error), "RtlGetVersion not found");
        return RF_EIO;
    }
    memcpy(&fn, &p, sizeof(fn));
    if (fn(&v) != 0) {
        snprintf(last_error, sizeof(last_error), "RtlGetVersion failed");
        return RF_EIO;
    }
    snprintf(out, len, "%lu.%lu.%lu", (unsigned long)v.dwMajorVersion,
             (unsigned long)v.dwMinorVersion, (unsigned long)v.dwBuildNumber);
    return RF_OK;
}

int osdep_machine_id(char *out, size_t len)
{
    wchar_t guid[128];
    DWORD size = sizeof(guid);
    LSTATUS st =
        RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Cryptography", L"MachineGuid",
                     RRF_RT_REG_SZ | RRF_SUBKEY_WOW6464KEY, NULL, guid, &size);
    if (st != ERROR_SUCCESS) {
        SetLastError((DWORD)st);
        return fail_win("RegGetValue", "MachineGuid");
    }
    return narrow(guid, out, len) ? RF_OK : RF_EINVAL;
}

static bool is_sep(char c)
{
    return c == '/' || c == '\\';
}

static int mkdir_one(const char *path)
{
    wchar_t *w = wide(path);
    int rc = RF_OK;
    if (!w)
        return RF_EINVAL;
    if (!CreateDirectoryW(w, NULL) && GetLastError() != ERROR_ALREADY_EXISTS)
        rc = fail_win("CreateDirectory", path);
    free(w);
    return rc;
}

int osdep_mkdirs(const char *dir)
{
    char tmp[OSDEP_PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return RF_EINVAL;
    memcpy(tmp, dir, n + 1);
    /* skip "C:\" and "\\server\share\" prefixes */
    size_t start = (n > 2 && tmp[1] == ':') ? 3 : (is_sep(tmp[0]) && is_sep(tmp[1])) ? 2 : 1;
    for (size_t i = start; i < n; i++) {
        if (!is_sep(tmp[i]))
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        int rc = mkdir_one(tmp);
        tmp[i] = c;
        if (rc != RF_OK) { /* e.g. a share root cannot be created: fine if dir exists */
            wchar_t *w = wide(tmp);
            bool exists = w && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
            free(w);
            if (!exists)
                return rc;
        }
    }
    return mkdir_one(tmp);
}

static HANDLE open_w(const char *path, DWORD access, DWORD share, DWORD disposition)
{
    wchar_t *w = wide(path);
    if (!w) {
        SetLastError(ERROR_NO_UNICODE_TRANSLATION);
        return INVALID_HANDLE_VALUE;
    }
    HANDLE h = CreateFileW(w, access, share, NULL, disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    return h;
}

static int write_all(HANDLE h, const void *data, size_t len, const char *path)
{
    const char *p = data;
    while (len > 0) {
        DWORD step = len > (1u << 30) ? (1u << 30) : (DWORD)len, done = 0;
        if (!WriteFile(h, p, step, &done, NULL))
            return fail_win("WriteFile", path);
        p += done;
        len -= done;
    }
    return RF_OK;
}

static int move_durable(const char *from, const char *to)
{
    wchar_t *wf = wide(from), *wt = wide(to);
    int rc = RF_OK;
    if (!wf || !wt)
        rc = RF_EINVAL;
    else if (!MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        rc = fail_win("MoveFileEx", from);
    free(wf);
    free(wt);
    return rc;
}

int osdep_write_atomic(const char *path, const struct osdep_chunk *chunks, size_t n_chunks)
{
    char tmp[OSDEP_PATH_MAX];
    int rc = osdep_path(tmp, sizeof(tmp), "%s.tmp", path);
    if (rc != RF_OK)
        return rc;
    HANDLE h = open_w(tmp, GENERIC_WRITE, 0, CREATE_ALWAYS);
    if (h == INVALID_HANDLE_VALUE)
        return fail_win("CreateFile", tmp);
    for (size_t i = 0; i < n_chunks && rc == RF_OK; i++)
        rc = write_all(h, chunks[i].data, chunks[i].len, tmp);
    if (rc == RF_OK && !FlushFileBuffers(h))
        rc = fail_win("FlushFileBuffers", tmp);
    CloseHandle(h);
    if (rc == RF_OK)
        rc = move_durable(tmp, path);
    if (rc != RF_OK) {
        wchar_t *w = wide(tmp);
        if (w)
            DeleteFileW(w);
        free(w);
    }
    return rc;
}

int osdep_append_durable(const char *path, const void *data, size_t len)
{
    HANDLE h = open_w(path, GENERIC_WRITE, FILE_SHARE_READ, OPEN_ALWAYS);
    LARGE_INTEGER size, zero = {0};
    if (h == INVALID_HANDLE_VALUE)
        return fail_win("CreateFile", path);
    int rc = RF_OK;
    if (!SetFilePointerEx(h, zero, &size, FILE_END))
        rc = fail_win("SetFilePointerEx", path);
    if (rc == RF_OK)
        rc = write_all(h, data, len, path);
    if (rc == RF_OK && !FlushFileBuffers(h))
        rc = fail_win("FlushFileBuffers", path);
    if (rc != RF_OK && SetFilePointerEx(h, size, NULL, FILE_BEGIN)) {
        SetEndOfFile(h); /* no torn record stays behind */
        FlushFileBuffers(h);
    }
    CloseHandle(h);
    return rc;
}

int osdep_read_file(const char *path, size_t max, struct buf *out)
{
    HANDLE h = open_w(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                      OPEN_EXISTING);
    LARGE_INTEGER size;
    int rc = RF_OK;
    if (h == INVALID_HANDLE_VALUE)
        return fail_win("CreateFile", path);
    if (!GetFileSizeEx(h, &size)) {
        rc = fail_win("GetFileSizeEx", path);
        goto out;
    }
    if ((uint64_t)size.QuadPart > max) {
        snprintf(last_error, sizeof(last_error), "%.200s: over the limit of %zu bytes", path, max);
        rc = RF_ETOOBIG;
        goto out;
    }
    if ((rc = buf_reserve(out, (size_t)size.QuadPart + 1)) != RF_OK)
        goto out;
    for (;;) {
        DWORD got = 0;
        if ((rc = buf_reserve(out, 65536)) != RF_OK)
            goto out;
        if (!ReadFile(h, out->data + out->len, 65536, &got, NULL)) {
            rc = fail_win("ReadFile", path);
            goto out;
        }
        if (got == 0)
            break;
        out->len += got;
        out->data[out->len] = '\0';
        if (out->len > max) {
            rc = RF_ETOOBIG;
            goto out;
        }
    }
out:
    CloseHandle(h);
    return rc;
}

int osdep_remove(const char *path)
{
    wchar_t *w = wide(path);
    int rc = RF_OK;
    if (!w)
        return RF_EINVAL;
    if (!DeleteFileW(w) && GetLastError() != ERROR_FILE_NOT_FOUND)
        rc = fail_win("DeleteFile", path);
    free(w);
    return rc;
}

int osdep_rename(const char *from, const char *to)
{
    return move_durable(from, to);
}

static int64_t filetime_ns(FILETIME ft)
{
    ULARGE_INTEGER u;
    u.LowPart = ft.dwLowDateTime;
    u.HighPart = ft.dwHighDateTime;
    /* 100 ns ticks since 1601 -> ns since 1970 */
    return ((int64_t)u.QuadPart - 116444736000000000LL) * 100;
}

int osdep_stat(const char *path, struct osdep_stat *out)
{
    BY_HANDLE_FILE_INFORMATION info;
    wchar_t *w = wide(path);
    memset(out, 0, sizeof(*out));
    if (!w)
        return RF_EINVAL;
    /* opening the path follows symbolic links, as stat() does */
    HANDLE h = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        int rc = fail_win("open", path);
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) {
            out->type = OSDEP_MISSING;
            return RF_OK;
        }
        return rc;
    }
    int rc = RF_OK;
    if (!GetFileInformationByHandle(h, &info)) {
        rc = fail_win("GetFileInformationByHandle", path);
    } else {
        out->type = (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? OSDEP_DIR
                    : GetFileType(h) == FILE_TYPE_DISK                 ? OSDEP_REGULAR
                                                                       : OSDEP_OTHER;
        out->size = ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow;
        out->mtime_ns = filetime_ns(info.ftLastWriteTime);
    }
    CloseHandle(h);
    return rc;
}

int osdep_list_dir(const char *dir, osdep_dir_fn fn, void *ctx)
{
    char pattern[OSDEP_PATH_MAX], name[MAX_PATH * 3];
    WIN32_FIND_DATAW fd;
    int rc = osdep_path(pattern, sizeof(pattern), "%s\\*", dir);
    if (rc != RF_OK)
        return rc;
    wchar_t *w = wide(pattern);
    if (!w)
        return RF_EINVAL;
    HANDLE h = FindFirstFileW(w, &fd);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_FILE_NOT_FOUND ? RF_OK : fail_win("FindFirstFile", dir);
    do {
        if (!narrow(fd.cFileName, name, sizeof(name)))
            continue;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if ((rc = fn(ctx, name)) != 0)
            break;
    } while (FindNextFileW(h, &fd));
    FindClose(h);
    return rc;
}

FILE *osdep_open_read(const char *path)
{
    wchar_t *w = wide(path);
    FILE *f = w ? _wfopen(w, L"rb") : NULL;
    if (!f)
        snprintf(last_error, sizeof(last_error), "cannot open %.200s", path);
    free(w);
    return f;
}

static HANDLE stop_handle(void)
{
    if (!stop_event) {
        HANDLE e = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (InterlockedCompareExchangePointer((PVOID *)&stop_event, e, NULL) != NULL)
            CloseHandle(e);
    }
    return stop_event;
}

bool osdep_sleep_ms(int64_t ms)
{
    HANDLE e = stop_handle();
    if (ms > 0 && e)
        WaitForSingleObject(e, ms > 0x7ffffffe ? 0x7ffffffe : (DWORD)ms);
    else if (ms > 0)
        Sleep(ms > 0x7ffffffe ? 0x7ffffffe : (DWORD)ms);
    return stop_flag != 0;
}

void osdep_request_stop(void)
{
    InterlockedExchange(&stop_flag, 1);
    HANDLE e = stop_handle();
    if (e)
        SetEvent(e);
}

bool osdep_stop_requested(void)
{
    return stop_flag != 0;
}

static BOOL WINAPI on_console(DWORD type)
{
    (void)type;
    osdep_request_stop();
    return TRUE;
}

void osdep_install_stop_handlers(void)
{
    stop_handle();
    SetConsoleCtrlHandler(on_console, TRUE);
}

int osdep_lock(const char *path, intptr_t *handle)
{
    /* no sharing: a second agent's open fails until this process ends */
    HANDLE h = open_w(path, GENERIC_READ | GENERIC_WRITE, 0, OPEN_ALWAYS);
    if (h == INVALID_HANDLE_VALUE) {
        if (GetLastError() == ERROR_SHARING_VIOLATION) {
            snprintf(last_error, sizeof(last_error), "%.200s is locked by another agent", path);
            return RF_EBUSY;
        }
        return fail_win("CreateFile", path);
    }
    *handle = (intptr_t)h;
    return RF_OK;
}

void osdep_unlock(intptr_t handle)
{
    if (handle != -1 && handle != 0)
        CloseHandle((HANDLE)handle);
}

long osdep_peak_rss_kib(void)
{
    PROCESS_MEMORY_COUNTERS pmc;
    if (!GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof(pmc)))
        return 0;
    return (long)(pmc.PeakWorkingSetSize / 1024);
}
