/*
 * fuzz_baseline - api_parse_baseline(), the body of the admin's
 * PUT /api/v1/settings/ipsec-baseline (also what the collector re-reads
 * from the database at start), then the device checks that consume it.
 *
 * Invariants beyond "no crash":
 *  - rc RF_OK or RF_EFORMAT; on RF_EFORMAT a terminated, non-empty reason;
 *  - RF_OK: configured; server_custom => six names of 1..32 bytes of valid
 *    UTF-8 (they are echoed in JSON answers) [tag baseline-utf8], else no
 *    names;
 *  - checks_run() of a fixed device (IKEv2 profiles with and without a
 *    custom policy, pbk entries, interfaces) against the parsed baseline
 *    gives findings whose evidence is a JSON object with a "reason", valid
 *    UTF-8 when the body was, and is deterministic.
 */
#include "api.h"
#include "fuzz_checks_common.h"

static const struct rf_pbk_setting user_settings[] = {
    {"IpInterfaceMetric", "0"}, {"Ipv6InterfaceMetric", "3"}, {"VpnStrategy", "7"},
    {"IpPrioritizeRemote", "0"}, {"DisableClassBasedDefaultRoute", "0"}};

static void fixed_device(struct check_device *d, struct rf_vpn_policy pol[3],
                         struct rf_pbk_entry pbk[1], struct rf_iface_metric ifs[2])
{
    memset(pol, 0, 3 * sizeof(*pol));
    pol[0] = (struct rf_vpn_policy){"Always On VPN", "vpn.example.com", "Ikev2", "Eap", true,
                                    false, NULL, true,
                                    {"AES128", "SHA256128", "AES128", "SHA256", "Group14",
                                     "PFS2048"}};
    pol[1] = (struct rf_vpn_policy){"Device Tunnel", "vpn.example.com", "Ikev2",
                                    "MachineCertificate", true, true, "corp.example", false,
                                    {0}};
    pol[2] = (struct rf_vpn_policy){"Legacy", "sstp.example.com", "Sstp", "Eap", false, false,
                                    NULL, true,
                                    {"DES", "MD596", "DES", "MD5", "Group1", "PFS1"}};
    pbk[0] = (struct rf_pbk_entry){RF_SCOPE_USER, "Always On VPN",
                                   sizeof(user_settings) / sizeof(user_settings[0]),
                                   (struct rf_pbk_setting *)user_settings};
    ifs[0] = (struct rf_iface_metric){"Always On VPN", 12, RF_FAMILY_IPV4, 25, true, true,
                                      RF_IF_VPN, true, 1400};
    ifs[1] = (struct rf_iface_metric){"Ethernet", 3, RF_FAMILY_IPV4, 25, true, true,
                                      RF_IF_ETHERNET, false, 0};
    memset(d, 0, sizeof(*d));
    d->policies = pol;
    d->n_policies = 3;
    d->pbk = pbk;
    d->n_pbk = 1;
    d->ifaces = ifs;
    d->n_ifaces = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rf_arena a;
    struct ipsec_baseline bl;
    char err[160];
    rf_arena_init(&a);
    memset(err, 'x', sizeof(err));
    int rc = api_parse_baseline((const char *)data, size, &a, &bl, err, sizeof(err));
    FUZZ_CHECK(rc == RF_OK || rc == RF_EFORMAT, "rc=%d", rc);
    if (rc == RF_OK) {
        FUZZ_CHECK(bl.configured, "not configured");
        const char *f[6] = {bl.policy.cipher_transform,  bl.policy.auth_transform,
                            bl.policy.encryption_method, bl.policy.integrity_check_method,
                            bl.policy.dh_group,          bl.policy.pfs_group};
        for (int i = 0; i < 6; i++) {
            if (bl.server_custom) {
                FUZZ_CHECK(f[i] && f[i][0] && strlen(f[i]) <= 32, "policy field %d", i);
                if (!fuzz_skip("baseline-utf8"))
                    FUZZ_CHECK(fuzz_utf8_ok(f[i], strlen(f[i])),
                               "accepted baseline name %d is not valid UTF-8; the API will echo "
                               "it in JSON answers",
                               i);
            }
            else
                FUZZ_CHECK(!f[i], "policy field %d without server_custom", i);
        }
        struct check_device d;
        struct rf_vpn_policy pol[3];
        struct rf_pbk_entry pbk[1];
        struct rf_iface_metric ifs[2];
        fixed_device(&d, pol, pbk, ifs);
        run_checks(&d, &bl, fuzz_utf8_ok((const char *)data, size));
        /* the parsed baseline as the client's own policy too */
        if (bl.server_custom) {
            pol[0].ipsec = bl.policy;
            run_checks(&d, &bl, fuzz_utf8_ok((const char *)data, size));
        }
    } else {
        FUZZ_CHECK(memchr(err, 0, sizeof(err)) && err[0], "reason");
    }
    rf_arena_free(&a);
    return 0;
}
