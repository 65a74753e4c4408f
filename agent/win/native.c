/*
 * native.c (Windows) - the agent's own sources on a Windows client, used
 * with --native (see native.h):
 *  - RasClient events of the Application log, read with EvtQuery in
 *    forward order from a bookmark kept in <state>/native-bookmark.xml,
 *    rendered as XML and fed to the same reader, dedupe and name filling as
 *    exported files (sources_stream_*). The bookmark is written only after
 *    every event up to it is in the spool; a crash before that re-reads a
 *    few events, which the dedupe keys drop.
 *  - the interface table (GetIpInterfaceTable + GetIfEntry2): sent when it
 *    differs from the last table sent (hash and generation kept in
 *    <state>/native-ifaces), with dedupe keys derived from both, so a
 *    crash between spooling and writing that file sends nothing twice.
 *  - rasphone.pbk of ProgramData and of every profile in the ProfileList
 *    registry key, through the file sources (sources_collect_files).
 * As for files (sources.h), a source Windows cannot give (the event log
 * service stopped, an API missing) is reported - "eventlog:Application" or
 * "interfaces" in the log and status.json problems - and skipped: the
 * other sources are still collected and the exit code does not change.
 * Only the spool's and the state's errors (and memory) stop a cycle.
 */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>
#include <ws2ipdef.h>

#include <iphlpapi.h>
#include <netioapi.h>
#include <winevt.h>

#include "keyset.h"
#include "log.h"
#include "native.h"
#include "netip_json.h"
#include "osdep.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"
#include "sources.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE_MAX_PROFILES 256
#define NATIVE_EVENTS_PER_CYCLE 200000
#define NATIVE_QUERY L"*[System[Provider[@Name='RasClient']]]"
#define EVENTLOG "eventlog:Application"

struct native {
    char bookmark_path[OSDEP_PATH_MAX];
    char ifaces_path[OSDEP_PATH_MAX];
};

int native_create(const struct agent_config *cfg, struct native **out)
{
    struct native *n = calloc(1, sizeof(*n));
    *out = NULL;
    if (!n)
        return RF_ENOMEM;
    if (osdep_path(n->bookmark_path, sizeof(n->bookmark_path), "%s/native-bookmark.xml",
                   cfg->state_dir) != RF_OK ||
        osdep_path(n->ifaces_path, sizeof(n->ifaces_path), "%s/native-ifaces", cfg->state_dir) !=
            RF_OK) {
        free(n);
        return RF_EINVAL;
    }
    *out = n;
    return RF_OK;
}

void native_destroy(struct native *n)
{
    free(n);
}

static bool to_utf8(const wchar_t *w, char *out, size_t len)
{
    return WideCharToMultiByte(CP_UTF8, 0, w, -1, out, (int)len, NULL, NULL) > 0;
}

/* A source Windows cannot give this cycle: reported, then skipped. */
static void unavailable(const struct sources_config *sc, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void unavailable(const struct sources_config *sc, const char *source, const char *fmt, ...)
{
    struct parse_report r;
    va_list ap;
    memset(&r, 0, sizeof(r));
    snprintf(r.path, sizeof(r.path), "%s", source);
    r.offset = -1;
    r.item = -1;
    r.fatal = true;
    va_start(ap, fmt);
    vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
    va_end(ap);
    if (sc->report)
        sc->report(sc->report_ctx, &r);
}

/* ---- rasphone.pbk files ---- */

static int collect_pbk(const struct sources_config *sc, struct progress *p, struct batcher *b)
{
    static char paths[NATIVE_MAX_PROFILES + 1][MAX_PATH * 3];
    static char names[NATIVE_MAX_PROFILES + 1][MAX_PATH * 3];
    const char *pp[NATIVE_MAX_PROFILES + 1], *pn[NATIVE_MAX_PROFILES + 1];
    struct sources_stats st;
    size_t n = 0;
    wchar_t wbuf[MAX_PATH];
    char dir[MAX_PATH * 3];
    if (GetEnvironmentVariableW(L"ProgramData", wbuf, MAX_PATH) &&
        to_utf8(wbuf, dir, sizeof(dir))) {
        snprintf(paths[n], sizeof(paths[n]),
                 "%s\\Microsoft\\Network\\Connections\\Pbk\\rasphone.pbk", dir);
        snprintf(names[n], sizeof(names[n]), "ProgramData/rasphone.pbk");
        n++;
    }
    HKEY list;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE,
                      L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList", 0, KEY_READ,
                      &list) == ERROR_SUCCESS) {
        wchar_t sid[256];
        for (DWORD i = 0; n <= NATIVE_MAX_PROFILES - 1; i++) {
            DWORD len = 256;
            if (RegEnumKeyExW(list, i, sid, &len, NULL, NULL, NULL, NULL) != ERROR_SUCCESS)
                break;
            DWORD size = sizeof(wbuf);
            if (RegGetValueW(list, sid, L"ProfileImagePath", RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ,
                             NULL, wbuf, &size) != ERROR_SUCCESS ||
                !to_utf8(wbuf, dir, sizeof(dir)))
                continue;
            const char *base = strrchr(dir, '\\');
            snprintf(paths[n], sizeof(paths[n]),
                     "%s\\AppData\\Roaming\\Microsoft\\Network\\Connections\\Pbk\\rasphone.pbk",
                     dir);
            snprintf(names[n], sizeof(names[n]), "Users/%s/AppData/rasphone.pbk",
                     base ? base + 1 : dir);
            n++;
        }
        RegCloseKey(list);
    }
    for (size_t i = 0; i < n; i++) {
        pp[i] = paths[i];
        pn[i] = names[i];
    }
    return sources_collect_files(sc, pp, pn, n, p, b, &st);
}

/* ---- interfaces ---- */

static enum rf_if_type if_type_of(const MIB_IF_ROW2 *r, const char *alias, const char *descr)
{
    enum rf_if_type t = netip_guess_if_type(alias, descr, NULL, 0);
    if (t != RF_IF_OTHER)
        return t;
    switch (r->Type) {
    case IF_TYPE_ETHERNET_CSMACD:
        return RF_IF_ETHERNET;
    case IF_TYPE_IEEE80211:
        return RF_IF_WIFI;
    case IF_TYPE_PPP:
        return RF_IF_VPN; /* RAS connections show up as PPP interfaces */
    case IF_TYPE_SOFTWARE_LOOPBACK:
        return RF_IF_LOOPBACK;
    case 243: /* IF_TYPE_WWANPP (not in every SDK's ipifcons.h) */
    case 244: /* IF_TYPE_WWANPP2 */
        return RF_IF_CELLULAR;
    default:
        return RF_IF_OTHER;
    }
}

struct iface_rows {
    struct rf_record *rec;
    char (*alias)[RF_MAX_NAME_LEN + 1];
    size_t n;
};

/* RF_ENOTFOUND (*err set): Windows gave no table */
static int read_ifaces(struct iface_rows *rows, uint64_t *hash, DWORD *err)
{
    PMIB_IPINTERFACE_TABLE t = NULL;
    if ((*err = GetIpInterfaceTable(AF_UNSPEC, &t)) != NO_ERROR)
        return RF_ENOTFOUND;
    rows->rec = calloc(t->NumEntries ? t->NumEntries : 1, sizeof(*rows->rec));
    rows->alias = calloc(t->NumEntries ? t->NumEntries : 1, sizeof(*rows->alias));
    if (!rows->rec || !rows->alias) {
        FreeMibTable(t);
        return RF_ENOMEM;
    }
    int64_t now = time_now_ms();
    *hash = keyset_fnv(KEYSET_FNV_OFFSET, "iftable", 7);
    for (ULONG i = 0; i < t->NumEntries; i++) {
        const MIB_IPINTERFACE_ROW *ip = &t->Table[i];
        MIB_IF_ROW2 r2;
        char descr[RF_MAX_NAME_LEN + 1];
        memset(&r2, 0, sizeof(r2));
        r2.InterfaceLuid = ip->InterfaceLuid;
        if (GetIfEntry2(&r2) != NO_ERROR ||
            !to_utf8(r2.Alias, rows->alias[rows->n], sizeof(rows->alias[0])))
            continue;
        if (!to_utf8(r2.Description, descr, sizeof(descr)))
            descr[0] = '\0';
        struct rf_record *r = &rows->rec[rows->n];
        struct rf_iface_metric *m = &r->u.ifm;
        r->kind = RF_KIND_IFACE_METRIC;
        r->time_ms = now;
        m->alias = rows->alias[rows->n];
        m->index = ip->InterfaceIndex;
        m->family = ip->Family == AF_INET6 ? RF_FAMILY_IPV6 : RF_FAMILY_IPV4;
        m->metric = ip->Metric;
        m->automatic = ip->UseAutomaticMetric != 0;
        m->connected = ip->Connected != 0;
        m->if_type = if_type_of(&r2, m->alias, descr);
        m->has_mtu = ip->NlMtu != 0xffffffffu;
        m->mtu = ip->NlMtu;
        *hash = keyset_fnv_str(*hash, m->alias);
        uint64_t fields[] = {(uint64_t)m->index,     (uint64_t)m->family,    (uint64_t)m->metric,
                             (uint64_t)m->automatic, (uint64_t)m->connected, (uint64_t)m->if_type,
                             (uint64_t)m->mtu};
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            *hash = keyset_fnv_u64(*hash, fields[k]);
        rows->n++;
    }
    FreeMibTable(t);
    return RF_OK;
}

static int collect_ifaces(struct native *n, const struct sources_config *sc, struct progress *p,
                          struct batcher *b)
{
    struct iface_rows rows = {NULL, NULL, 0};
    struct buf state = BUF_INIT;
    uint64_t hash, last_hash = 0, gen = 0;
    DWORD err = 0;
    int rc = read_ifaces(&rows, &hash, &err);
    if (rc == RF_ENOTFOUND) {
        unavailable(sc, "interfaces", "GetIpInterfaceTable failed (error %lu)", (unsigned long)err);
        rc = RF_OK;
    }
    if (rc != RF_OK || !rows.rec)
        goto out;
    if (osdep_read_file(n->ifaces_path, 4096, &state) == RF_OK && state.data)
        sscanf(state.data, "%" SCNx64 " %" SCNu64, &last_hash, &gen);
    if (hash == last_hash)
        goto out; /* unchanged since the last table sent */
    gen++;
    for (size_t i = 0; i < rows.n && rc == RF_OK; i++) {
        uint64_t k =
            keyset_fnv_u64(keyset_fnv_u64(keyset_fnv_u64(KEYSET_FNV_OFFSET, hash), gen), i);
        if (progress_has_key(p, k))
            continue;
        if ((rc = progress_note_key(p, k)) == RF_OK)
            rc = batcher_add(b, &rows.rec[i], &k, 1);
    }
    if (rc == RF_OK)
        rc = batcher_flush(b);
    if (rc == RF_OK) {
        char line[64];
        int len = snprintf(line, sizeof(line), "%016" PRIx64 " %" PRIu64 "\n", hash, gen);
        struct osdep_chunk c = {line, (size_t)len};
        rc = osdep_write_atomic(n->ifaces_path, &c, 1);
    }
out:
    free(rows.rec);
    free(rows.alias);
    buf_free(&state);
    return rc;
}

/* ---- events ---- */

/* Renders an event or a bookmark; *buf grows as needed. */
static bool render(EVT_HANDLE h, DWORD flags, wchar_t **buf, DWORD *cap, DWORD *used)
{
    DWORD props = 0;
    if (EvtRender(NULL, h, flags, *cap, *buf, used, &props))
        return true;
    if (GetLastError() != ERROR_INSUFFICIENT_BUFFER)
        return false;
    wchar_t *nb = realloc(*buf, *used);
    if (!nb)
        return false;
    *buf = nb;
    *cap = *used;
    return EvtRender(NULL, h, flags, *cap, *buf, used, &props) != 0;
}

static EVT_HANDLE open_bookmark(struct native *n, bool *have)
{
    struct buf xml = BUF_INIT;
    EVT_HANDLE bm = NULL;
    *have = false;
    if (osdep_read_file(n->bookmark_path, 65536, &xml) == RF_OK && xml.len) {
        int wn = MultiByteToWideChar(CP_UTF8, 0, xml.data, (int)xml.len, NULL, 0);
        wchar_t *w = wn > 0 ? calloc((size_t)wn + 1, sizeof(wchar_t)) : NULL;
        if (w && MultiByteToWideChar(CP_UTF8, 0, xml.data, (int)xml.len, w, wn) == wn)
            bm = EvtCreateBookmark(w);
        free(w);
        *have = bm != NULL;
        if (!bm)
            log_warn("native: %s is unusable; reading the whole log", n->bookmark_path);
    }
    buf_free(&xml);
    return bm ? bm : EvtCreateBookmark(NULL);
}

/* RF_ENOTFOUND: Windows did not render the bookmark; else the write's result */
static int save_bookmark(struct native *n, EVT_HANDLE bm)
{
    wchar_t *w = NULL;
    DWORD cap = 0, used = 0;
    int rc = RF_ENOTFOUND;
    if (render(bm, EvtRenderBookmark, &w, &cap, &used)) {
        rc = RF_ENOMEM;
        int len = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
        char *s = len > 0 ? malloc((size_t)len) : NULL;
        if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, len, NULL, NULL) == len) {
            struct osdep_chunk c = {s, (size_t)len - 1};
            rc = osdep_write_atomic(n->bookmark_path, &c, 1);
        }
        free(s);
    }
    free(w);
    return rc;
}

static int collect_events(struct native *n, const struct sources_config *sc, struct progress *p,
                          struct batcher *b)
{
    struct sources_stream *stream = NULL;
    struct sources_stats st;
    EVT_HANDLE events[32], q = NULL, bm = NULL;
    wchar_t *xml = NULL;
    DWORD cap = 0, used = 0, got = 0;
    size_t total = 0;
    bool have_bookmark;
    int rc = RF_OK;
    q = EvtQuery(NULL, L"Application", NATIVE_QUERY,
                 EvtQueryChannelPath | EvtQueryForwardDirection);
    if (!q) {
        unavailable(sc, EVENTLOG, "EvtQuery failed (error %lu)", (unsigned long)GetLastError());
        return RF_OK;
    }
    bm = open_bookmark(n, &have_bookmark);
    if (!bm) {
        unavailable(sc, EVENTLOG, "EvtCreateBookmark failed (error %lu)",
                    (unsigned long)GetLastError());
        goto out;
    }
    if (have_bookmark && !EvtSeek(q, 1, bm, 0, EvtSeekRelativeToBookmark))
        log_warn("native: the bookmarked event is gone (log cleared or wrapped); reading from "
                 "the oldest event");
    if ((rc = sources_stream_open(sc, EVENTLOG, p, b, &st, &stream)) != RF_OK)
        goto out;
    bool broken = false; /* the bookmark could not follow: read no further this cycle */
    while (rc == RF_OK && !broken && total < NATIVE_EVENTS_PER_CYCLE && !osdep_stop_requested() &&
           EvtNext(q, 32, events, 1000, 0, &got)) {
        for (DWORD i = 0; i < got; i++) {
            if (rc == RF_OK && !broken && render(events[i], EvtRenderEventXml, &xml, &cap, &used)) {
                /* UTF-16LE without BOM and without the final NUL: textenc recognises it */
                rc = sources_stream_feed(stream, (const char *)xml, used >= 2 ? used - 2 : 0);
                if (rc == RF_OK && !EvtUpdateBookmark(bm, events[i])) {
                    unavailable(sc, EVENTLOG, "EvtUpdateBookmark failed (error %lu)",
                                (unsigned long)GetLastError());
                    broken = true;
                }
            }
            EvtClose(events[i]);
        }
        total += got;
    }
    int close_rc = sources_stream_close(stream);
    stream = NULL;
    if (rc == RF_OK)
        rc = close_rc;
    if (rc == RF_OK)
        rc = batcher_flush(b); /* every event up to the bookmark is in the spool now */
    if (rc == RF_OK && total > 0 && (rc = save_bookmark(n, bm)) == RF_ENOTFOUND) {
        /* not saved: the next cycle reads these events again; the keys drop them */
        unavailable(sc, EVENTLOG, "EvtRender of the bookmark failed (error %lu)",
                    (unsigned long)GetLastError());
        rc = RF_OK;
    }
out:
    sources_stream_close(stream);
    free(xml);
    if (bm)
        EvtClose(bm);
    EvtClose(q);
    return rc;
}

int native_collect(void *ctx, const struct sources_config *sc, struct progress *p,
                   struct batcher *b)
{
    struct native *n = ctx;
    int rc = collect_pbk(sc, p, b);
    if (rc == RF_OK)
        rc = collect_ifaces(n, sc, p, b);
    if (rc == RF_OK)
        rc = collect_events(n, sc, p, b);
    return rc;
}
