/*
 * fuzz_checks - (extra target, beyond the brief's list) what an agent's
 * batch can make the device checks do: an api-v1 JSON batch is decoded
 * with batch_decode_json() exactly as ingest does, its records become one
 * device (interfaces, pbk entries, VPN policies), and checks_run() judges
 * it against a baseline picked by the last input byte (none, defaults, or
 * the first custom policy of the batch).
 *
 * Invariants: every finding names a device rule of the table, its evidence
 * is a JSON object with a one-line "reason", valid UTF-8 since the body
 * was (clients' strings are truncated or escaped inside), and the checks
 * are deterministic.
 */
#include "fuzz_checks_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_utf8_ok((const char *)data, size)) /* ingest refuses anything else */
        return 0;
    struct rf_batch b;
    struct batch_error err;
    struct batch_limits lim = {.max_records = 20000};
    if (batch_decode_json((const char *)data, size, &lim, &b, &err) != RF_OK) {
        rf_batch_free(&b);
        return 0;
    }
    size_t n = b.n_records ? b.n_records : 1;
    struct rf_iface_metric *ifs = malloc(n * sizeof(*ifs));
    struct rf_pbk_entry *pbk = malloc(n * sizeof(*pbk));
    struct rf_vpn_policy *pol = malloc(n * sizeof(*pol));
    struct check_device d = {ifs, 0, pbk, 0, pol, 0, NULL};
    for (size_t i = 0; i < b.n_records; i++) {
        const struct rf_record *r = &b.records[i];
        if (r->kind == RF_KIND_IFACE_METRIC)
            ifs[d.n_ifaces++] = r->u.ifm;
        else if (r->kind == RF_KIND_PBK_ENTRY)
            pbk[d.n_pbk++] = r->u.pbk;
        else if (r->kind == RF_KIND_VPN_POLICY)
            pol[d.n_policies++] = r->u.pol;
    }
    struct ipsec_baseline bl = {0};
    uint8_t sel = size ? data[size - 1] % 3 : 0;
    if (sel >= 1)
        bl.configured = true;
    if (sel == 2) {
        for (size_t i = 0; i < d.n_policies; i++) {
            if (pol[i].has_ipsec) {
                bl.server_custom = true;
                bl.policy = pol[i].ipsec;
                break;
            }
        }
    }
    run_checks(&d, sel ? &bl : NULL, true);
    free(ifs);
    free(pbk);
    free(pol);
    rf_batch_free(&b);
    return 0;
}
