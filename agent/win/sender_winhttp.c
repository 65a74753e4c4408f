/*
 * sender_winhttp.c - the agent's HTTP transport on Windows: WinHTTP, one
 * session for the process, proxy from the system configuration
 * (WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY, Windows 8.1+), TLS verification by
 * the Windows certificate store (always on; --ca-file has no meaning here:
 * the collector's CA must be in the machine's Trusted Root store, which
 * deploy/windows/Install-RasfleetAgent.ps1 -CaFile imports).
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <winhttp.h>

#include "backoff.h"
#include "log.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "sender.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sender {
    HINTERNET session;
    const struct agent_config *cfg;
};

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static void win_error(struct transport_response *r, const char *what)
{
    snprintf(r->error, sizeof(r->error), "%s failed (WinHTTP error %lu)", what,
             (unsigned long)GetLastError());
}

int sender_create(const struct agent_config *cfg, struct sender **out)
{
    struct sender *s = calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return RF_ENOMEM;
    s->session = WinHttpOpen(L"rasfleet-agent/0.1.0", WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY,
                             WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
    if (!s->session)
        s->session = WinHttpOpen(L"rasfleet-agent", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                                 WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
    if (!s->session) {
        free(s);
        return RF_EIO;
    }
    int connect = (int)cfg->connect_timeout_ms, total = (int)cfg->timeout_ms;
    WinHttpSetTimeouts(s->session, connect, connect, total, total);
    if (cfg->ca_file)
        log_warn("--ca-file is ignored on Windows: import the CA into the machine's Trusted Root "
                 "store (Install-RasfleetAgent.ps1 -CaFile)");
    s->cfg = cfg;
    *out = s;
    return RF_OK;
}

void sender_destroy(struct sender *s)
{
    if (!s)
        return;
    WinHttpCloseHandle(s->session);
    free(s);
}

static void read_answer(HINTERNET req, struct transport_response *resp)
{
    DWORD status = 0, size = sizeof(status), got = 0;
    wchar_t ra[64];
    DWORD ra_size = sizeof(ra);
    size_t len = 0;
    WinHttpQueryHeaders(req, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                        WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX);
    resp->status = (long)status;
    if (WinHttpQueryHeaders(req, WINHTTP_QUERY_RETRY_AFTER, WINHTTP_HEADER_NAME_BY_INDEX, ra,
                            &ra_size, WINHTTP_NO_HEADER_INDEX)) {
        char v[64];
        int64_t ms;
        if (WideCharToMultiByte(CP_UTF8, 0, ra, -1, v, sizeof(v), NULL, NULL) > 0 &&
            backoff_parse_retry_after(v, time_now_ms(), &ms) == RF_OK)
            resp->retry_after_ms = ms;
    }
    while (len < sizeof(resp->body) - 1 &&
           WinHttpReadData(req, resp->body + len, (DWORD)(sizeof(resp->body) - 1 - len), &got) &&
           got > 0)
        len += got;
    resp->body[len] = '\0';
}

int sender_post(void *ctx, const struct transport_request *r, struct transport_response *resp)
{
    struct sender *s = ctx;
    URL_COMPONENTS uc;
    wchar_t host[256], path[2048];
    wchar_t *url = wide(r->url), *headers = NULL;
    HINTERNET conn = NULL, req = NULL;
    char hdr[2048];
    int rc = RF_EIO;
    resp->status = 0;
    resp->retry_after_ms = -1;
    resp->error[0] = resp->body[0] = '\0';
    memset(&uc, 0, sizeof(uc));
    uc.dwStructSize = sizeof(uc);
    uc.lpszHostName = host;
    uc.dwHostNameLength = 256;
    uc.lpszUrlPath = path;
    uc.dwUrlPathLength = 2048;
    if (!url || !WinHttpCrackUrl(url, 0, 0, &uc)) {
        win_error(resp, "WinHttpCrackUrl");
        goto out;
    }
    if (!(conn = WinHttpConnect(s->session, host, uc.nPort, 0))) {
        win_error(resp, "WinHttpConnect");
        goto out;
    }
    DWORD flags = uc.nScheme == INTERNET_SCHEME_HTTPS ? WINHTTP_FLAG_SECURE : 0;
    if (!(req = WinHttpOpenRequest(conn, L"POST", path, NULL, WINHTTP_NO_REFERER,
                                   WINHTTP_DEFAULT_ACCEPT_TYPES, flags))) {
        win_error(resp, "WinHttpOpenRequest");
        goto out;
    }
    snprintf(hdr, sizeof(hdr),
             "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
             "Authorization: Bearer %s\r\n" RF_HDR_DEVICE ": %s\r\n" RF_HDR_BATCH ": %s\r\n",
             r->token, r->device_id, r->batch_id);
    if (!(headers = wide(hdr))) {
        rc = RF_ENOMEM;
        goto out;
    }
    if (!WinHttpSendRequest(req, headers, (DWORD)-1L, (LPVOID)r->body, (DWORD)r->len, (DWORD)r->len,
                            0) ||
        !WinHttpReceiveResponse(req, NULL)) {
        win_error(resp, "sending the request");
        goto out;
    }
    read_answer(req, resp);
    rc = RF_OK;
out:
    if (req)
        WinHttpCloseHandle(req);
    if (conn)
        WinHttpCloseHandle(conn);
    free(url);
    free(headers);
    return rc;
}
