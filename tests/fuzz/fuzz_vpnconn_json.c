/*
 * fuzz_vpnconn_json - Get-VpnConnection JSON (vpnconn_json_parse) on raw
 * file bytes.
 *
 * Invariants beyond "no crash":
 *  - rc RF_OK/RF_EFORMAT/RF_ETOOBIG; failure <=> fatal report; reasons
 *    valid UTF-8;
 *  - records are vpn_policy obeying the record model: names 1..512 bytes,
 *    tunnel_type in the canonical spelling, auth_method non-empty,
 *    dns_suffix absent or non-empty, has_ipsec => six names of 1..64 bytes;
 *    device_tunnel => auth_method names MachineCertificate;
 *  - on success emitted + skipped == number of elements; emitted ==
 *    callbacks; a non-zero callback value stops the parse and is returned;
 *  - the records survive the api-v1 round trip (ipsec names <= 64 bytes,
 *    which api-v1 requires).
 */
#include "fuzz_report.h"
#include "vpnconn_json.h"

#include <cjson/cJSON.h>
#include <strings.h>

#define STOP_RC 4242
#define T_MS 1795161662123LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct rf_arena arena;
    struct rec_vec rv = {0};
    struct parse_sink sink;
    struct report_ctx rctx;
    struct vpnconn_stats st;
    rf_arena_init(&arena);
    report_sink_init(&sink, &rctx, true);
    int rc = vpnconn_json_parse(buf, size, T_MS, &arena, rec_vec_push, &rv, &sink, &st);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    report_check_outcome(&sink, rc, 0);
    FUZZ_CHECK(st.emitted == rv.calls, "emitted %zu callbacks %zu", st.emitted, rv.calls);
    for (size_t i = 0; i < rv.n; i++) {
        const struct rf_record *r = &rv.v[i];
        FUZZ_CHECK(r->kind == RF_KIND_VPN_POLICY && r->time_ms == T_MS, "kind/time");
        check_record(r, CR_UTF8, i);
        const struct rf_vpn_policy *p = &r->u.pol;
        FUZZ_CHECK(!p->dns_suffix || p->dns_suffix[0], "empty dns_suffix kept");
        if (p->device_tunnel) {
            bool mc = false;
            const char *s = p->auth_method;
            while (*s) {
                size_t n = strcspn(s, ",");
                mc |= n == 18 && strncasecmp(s, "MachineCertificate", 18) == 0;
                s += n + (s[n] == ',');
            }
            FUZZ_CHECK(mc, "device_tunnel without MachineCertificate in '%s'", p->auth_method);
        }
    }
    if (rc == RF_OK) {
        cJSON *root = NULL;
        FUZZ_CHECK(parse_json_document(buf, size, VPNCONN_JSON_MAX_INPUT, NULL, &root) == RF_OK,
                   "reparse");
        size_t elems = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 1;
        FUZZ_CHECK(st.emitted + st.skipped == elems, "%zu elements, %zu emitted + %zu skipped",
                   elems, st.emitted, st.skipped);
        cJSON_Delete(root);
    }
    api_roundtrip(rv.v, rv.n, true, "vpnconn records");
    if (rv.n >= 2) {
        struct rec_vec s = {.stop_after = 2, .stop_rc = STOP_RC};
        struct rf_arena a2;
        rf_arena_init(&a2);
        int rc2 = vpnconn_json_parse(buf, size, T_MS, &a2, rec_vec_push, &s, NULL, NULL);
        FUZZ_CHECK(rc2 == STOP_RC && s.calls == 2, "stop: rc=%d calls=%zu", rc2, s.calls);
        rec_vec_free(&s);
        rf_arena_free(&a2);
    }
    rec_vec_free(&rv);
    rf_arena_free(&arena);
    return 0;
}
