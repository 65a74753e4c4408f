/*
 * fuzz_netip_json - Get-NetIPInterface JSON (netip_json_parse) on raw file
 * bytes, plus netip_guess_if_type() on the aliases found.
 *
 * Invariants beyond "no crash":
 *  - rc RF_OK/RF_EFORMAT/RF_ETOOBIG; failure <=> fatal report; reasons
 *    valid UTF-8;
 *  - records are iface_metric obeying the record model (valid UTF-8, alias
 *    1..512 bytes, family 4/6, index/metric 32-bit, has_mtu => mtu !=
 *    4294967295), time_ms = the option's, if_type = netip_guess_if_type()
 *    of the alias (re-computed), an alias equal to a VPN name gives vpn;
 *  - on success emitted + skipped == number of elements; emitted ==
 *    callbacks; a non-zero callback value stops the parse and is returned;
 *  - the records survive the api-v1 round trip.
 */
#include "fuzz_report.h"
#include "netip_json.h"

#include <cjson/cJSON.h>
#include <strings.h>

#define STOP_RC 4242
#define T_MS 1795161662123LL

static const char *const vpn_names[] = {"Always On VPN", "Corp Tunnel", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct netip_options opt = {T_MS, vpn_names, 3};
    struct rf_arena arena;
    struct rec_vec rv = {0};
    struct parse_sink sink;
    struct report_ctx rctx;
    struct netip_stats st;
    rf_arena_init(&arena);
    report_sink_init(&sink, &rctx, true);
    int rc = netip_json_parse(buf, size, &opt, &arena, rec_vec_push, &rv, &sink, &st);
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT || rc == RF_ETOOBIG, "rc=%d", rc);
    report_check_outcome(&sink, rc, 0);
    FUZZ_CHECK(st.emitted == rv.calls, "emitted %zu callbacks %zu", st.emitted, rv.calls);
    for (size_t i = 0; i < rv.n; i++) {
        const struct rf_record *r = &rv.v[i];
        FUZZ_CHECK(r->kind == RF_KIND_IFACE_METRIC && r->time_ms == T_MS, "kind/time");
        check_record(r, CR_UTF8, i);
        const struct rf_iface_metric *m = &r->u.ifm;
        FUZZ_CHECK(!m->has_mtu || m->mtu != 4294967295LL, "mtu 4294967295 kept");
        FUZZ_CHECK(m->has_mtu || m->mtu == 0, "mtu %lld without has_mtu", (long long)m->mtu);
        if (strcasecmp(m->alias, vpn_names[0]) == 0 || strcasecmp(m->alias, vpn_names[1]) == 0)
            FUZZ_CHECK(m->if_type == RF_IF_VPN, "alias '%s' names a VPN, if_type %d", m->alias,
                       (int)m->if_type);
        enum rf_if_type t = netip_guess_if_type(m->alias, NULL, vpn_names, 3);
        FUZZ_CHECK(m->if_type == t || t == RF_IF_OTHER || m->if_type != RF_IF_OTHER,
                   "if_type %d, alias alone gives %d", (int)m->if_type, (int)t);
    }
    if (rc == RF_OK) {
        cJSON *root = NULL;
        FUZZ_CHECK(parse_json_document(buf, size, NETIP_JSON_MAX_INPUT, NULL, &root) == RF_OK,
                   "reparse");
        size_t elems = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 1;
        FUZZ_CHECK(st.emitted + st.skipped == elems, "%zu elements, %zu emitted + %zu skipped",
                   elems, st.emitted, st.skipped);
        FUZZ_CHECK(sink.n_reports >= st.skipped, "%zu skipped but %zu reports", st.skipped,
                   sink.n_reports);
        cJSON_Delete(root);
    }
    api_roundtrip(rv.v, rv.n, true, "netip records");
    if (rv.n >= 2) {
        struct rec_vec s = {.stop_after = 2, .stop_rc = STOP_RC};
        struct rf_arena a2;
        rf_arena_init(&a2);
        int rc2 = netip_json_parse(buf, size, &opt, &a2, rec_vec_push, &s, NULL, NULL);
        FUZZ_CHECK(rc2 == STOP_RC && s.calls == 2, "stop: rc=%d calls=%zu", rc2, s.calls);
        rec_vec_free(&s);
        rf_arena_free(&a2);
    }
    /* guesser on arbitrary strings: alias = input prefix, description = rest */
    if (size) {
        size_t cut = data[0] % (size + 1);
        char *alias = fuzz_cstr(data, cut), *desc = fuzz_cstr(data + cut, size - cut);
        enum rf_if_type t = netip_guess_if_type(alias, desc, vpn_names, 3);
        FUZZ_CHECK((unsigned)t < RF_IF_TYPE_COUNT, "if_type %d", (int)t);
        t = netip_guess_if_type(alias, NULL, NULL, 0);
        FUZZ_CHECK((unsigned)t < RF_IF_TYPE_COUNT, "if_type %d", (int)t);
        free(alias);
        free(desc);
    }
    rec_vec_free(&rv);
    rf_arena_free(&arena);
    return 0;
}
