/*
 * benchgen.c - deterministic synthetic telemetry. See benchgen.h.
 */
#include "benchgen.h"
#include "rasfleet/result.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SNAPSHOT_RECORDS 8u

uint64_t benchgen_hash(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void guid(uint64_t h1, uint64_t h2, char *out, size_t len)
{
    snprintf(out, len, "%08" PRIX32 "-%04" PRIX32 "-%04" PRIX32 "-%04" PRIX32 "-%012" PRIX64,
             (uint32_t)(h1 >> 32), (uint32_t)(h1 >> 16) & 0xffff, ((uint32_t)h1 & 0x0fff) | 0x4000,
             ((uint32_t)(h2 >> 48) & 0x3fff) | 0x8000, (uint64_t)(h2 & 0xffffffffffffull));
}

void benchgen_device_id(const struct benchgen *g, uint32_t d, char *out, size_t len)
{
    uint64_t h = benchgen_hash(((uint64_t)g->run << 32) | d);
    char tmp[48];
    guid(h, benchgen_hash(h), tmp, sizeof(tmp));
    /* Lower-case like the SMBIOS UUIDs agents report. */
    for (char *p = tmp; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    snprintf(out, len, "%s", tmp);
}

void benchgen_hostname(const struct benchgen *g, uint32_t d, char *out, size_t len)
{
    (void)g;
    snprintf(out, len, "LT-%05" PRIu32, d);
}

const char *benchgen_os_version(const struct benchgen *g, uint32_t d)
{
    static const char *const builds[] = {"10.0.22631", "10.0.26100", "10.0.19045", "10.0.22621"};
    (void)g;
    return builds[d % 4];
}

uint32_t benchgen_snapshot_records(const struct benchgen *g)
{
    return g->mix && g->records > SNAPSHOT_RECORDS ? SNAPSHOT_RECORDS : 0;
}

void benchgen_event(const struct benchgen *g, uint64_t b, uint32_t j, struct benchgen_event *ev)
{
    static const int64_t fail_codes[] = {809, 809, 13806, 13801, 812, 691, 720, -2146762495,
                                         13868, 862};
    static const int64_t reason_codes[] = {0, 833, 829, 13868, 868};
    uint32_t d = (uint32_t)(b % g->devices);
    uint64_t seq = b / g->devices;
    uint64_t h = benchgen_hash((b << 20) ^ j ^ ((uint64_t)g->run << 52));
    unsigned kind = (unsigned)(h % 10);
    memset(ev, 0, sizeof(*ev));
    ev->record_id = ((int64_t)g->run << 32) + (int64_t)(seq * g->records + j + 1);
    /* Spread over the 15 minutes before the run, in record order. */
    ev->time_ms = g->base_ms - 900000 + (int64_t)j * (900000 / (g->records ? g->records : 1)) +
                  (int64_t)(h >> 40) % 1000;
    guid(h, benchgen_hash(h), ev->coid, sizeof(ev->coid));
    if (kind == 9) {
        snprintf(ev->user, sizeof(ev->user), "SYSTEM");
        ev->connection = "Always On VPN Device Tunnel";
    } else {
        snprintf(ev->user, sizeof(ev->user), "CORP\\user%05" PRIu32, d);
        ev->connection = "Always On VPN";
    }
    if (kind < 4 || kind == 9) {
        ev->event_id = 20227;
        ev->level = 2;
        ev->level_name = "error";
        ev->has_error_code = true;
        ev->error_code = kind == 9 ? 13806 : fail_codes[(h >> 8) % 10];
        snprintf(ev->message, sizeof(ev->message),
                 "CoId={%s}: The user %s dialed a connection named %s which has failed. The "
                 "error code returned on failure is %" PRId64 ".",
                 ev->coid, ev->user, ev->connection, ev->error_code);
    } else if (kind < 7) {
        ev->event_id = 20225;
        ev->level = 4;
        ev->level_name = "information";
    } else {
        ev->event_id = 20226;
        ev->level = 4;
        ev->level_name = "information";
        ev->has_reason_code = true;
        ev->reason_code = reason_codes[(h >> 8) % 5];
    }
}

static int append_event(struct buf *out, const struct benchgen_event *ev)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(ev->time_ms, t, sizeof(t));
    int rc = buf_printf(out,
                        "{\"kind\":\"ras_event\",\"time\":\"%s\",\"event_id\":%d,"
                        "\"record_id\":%" PRId64 ",\"level\":\"%s\",\"user\":",
                        t, ev->event_id, ev->record_id, ev->level_name);
    if (rc == RF_OK)
        rc = buf_append_json_str(out, ev->user);
    if (rc == RF_OK)
        rc = buf_printf(out, ",\"connection\":\"%s\"", ev->connection);
    if (rc == RF_OK && ev->has_error_code)
        rc = buf_printf(out, ",\"error_code\":%" PRId64, ev->error_code);
    if (rc == RF_OK && ev->has_reason_code)
        rc = buf_printf(out, ",\"reason_code\":%" PRId64, ev->reason_code);
    if (rc == RF_OK)
        rc = buf_printf(out, ",\"coid\":\"%s\"", ev->coid);
    if (rc == RF_OK && ev->message[0]) {
        rc = buf_append_str(out, ",\"message\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(out, ev->message);
    }
    if (rc == RF_OK)
        rc = buf_append_char(out, '}');
    return rc;
}

/* A device's configuration snapshot: 3 interfaces, 2 pbk entries, 3 policies. */
static int append_snapshot(const struct benchgen *g, uint32_t d, struct buf *out)
{
    char t[TIME_RFC3339_MAX];
    time_format_rfc3339(g->base_ms - 60000, t, sizeof(t));
    unsigned vpn_metric = d % 7 == 0 ? 50 : 3; /* some devices have a metric problem */
    int rc = buf_printf(
        out,
        "{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"Always On VPN\",\"index\":41,"
        "\"family\":\"ipv4\",\"metric\":%u,\"automatic\":false,\"connected\":true,"
        "\"if_type\":\"vpn\",\"mtu\":1400},"
        "{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"Ethernet\",\"index\":12,"
        "\"family\":\"ipv4\",\"metric\":25,\"automatic\":true,\"connected\":%s,"
        "\"if_type\":\"ethernet\",\"mtu\":1500},"
        "{\"kind\":\"iface_metric\",\"time\":\"%s\",\"alias\":\"Wi-Fi\",\"index\":18,"
        "\"family\":\"ipv4\",\"metric\":50,\"automatic\":true,\"connected\":%s,"
        "\"if_type\":\"wifi\",\"mtu\":1500},",
        t, vpn_metric, t, d % 2 ? "true" : "false", t, d % 2 ? "false" : "true");
    if (rc == RF_OK)
        rc = buf_printf(
            out,
            "{\"kind\":\"pbk_entry\",\"time\":\"%s\",\"scope\":\"user\","
            "\"connection\":\"Always On VPN\",\"settings\":{\"Encoding\":\"1\","
            "\"PBVersion\":\"8\",\"Type\":\"2\",\"VpnStrategy\":\"14\","
            "\"UseRasCredentials\":\"0\",\"IpPrioritizeRemote\":\"0\","
            "\"IpInterfaceMetric\":\"%u\",\"Ipv6InterfaceMetric\":\"3\",\"IpDnsFlags\":\"0\","
            "\"DisableClassBasedDefaultRoute\":\"1\",\"DisableMobility\":\"0\","
            "\"NetworkOutageTime\":\"0\",\"CacheCredentials\":\"1\","
            "\"AlwaysOnCapable\":\"1\",\"DeviceTunnel\":\"0\",\"PrivateNetwork\":\"1\","
            "\"PreferredDevice\":\"WAN Miniport (IKEv2)\",\"PhoneNumber\":\"vpn.example.net\"}},"
            "{\"kind\":\"pbk_entry\",\"time\":\"%s\",\"scope\":\"all_users\","
            "\"connection\":\"Always On VPN Device Tunnel\",\"settings\":{\"VpnStrategy\":\"7\","
            "\"DeviceTunnel\":\"1\",\"IpInterfaceMetric\":\"4\",\"IpDnsFlags\":\"1\","
            "\"AlwaysOnCapable\":\"1\",\"PhoneNumber\":\"vpn.example.net\"}},",
            t, vpn_metric, t);
    if (rc == RF_OK)
        rc = buf_printf(
            out,
            "{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"Always On VPN\","
            "\"server\":\"vpn%u.example.net\",\"tunnel_type\":\"Ikev2\",\"auth_method\":\"Eap\","
            "\"split_tunneling\":true,\"device_tunnel\":false,"
            "\"dns_suffix\":\"corp.example.net\",\"ipsec\":{\"cipher_transform\":\"GCMAES128\","
            "\"auth_transform\":\"GCMAES128\",\"encryption_method\":\"GCMAES128\","
            "\"integrity_check_method\":\"SHA256\",\"dh_group\":\"Group14\","
            "\"pfs_group\":\"ECP256\"}},"
            "{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"Always On VPN Device "
            "Tunnel\",\"server\":\"vpn%u.example.net\",\"tunnel_type\":\"Ikev2\","
            "\"auth_method\":\"MachineCertificate\",\"split_tunneling\":true,"
            "\"device_tunnel\":true},"
            "{\"kind\":\"vpn_policy\",\"time\":\"%s\",\"connection\":\"Legacy VPN\","
            "\"server\":\"vpn-legacy.example.net\",\"tunnel_type\":\"Automatic\","
            "\"auth_method\":\"Eap\",\"split_tunneling\":false,\"device_tunnel\":false}",
            t, d % 3 + 1, t, d % 3 + 1, t);
    return rc;
}

int benchgen_batch_json(const struct benchgen *g, uint64_t b, struct buf *out)
{
    uint32_t d = (uint32_t)(b % g->devices);
    char dev[48], host[48];
    benchgen_device_id(g, d, dev, sizeof(dev));
    benchgen_hostname(g, d, host, sizeof(host));
    uint64_t h = benchgen_hash(b ^ ((uint64_t)g->run << 40) ^ 0x5bd1e995ull);
    int rc = buf_printf(out,
                        "{\"schema\":1,\"batch_id\":\"%08" PRIx32 "-%04" PRIx32
                        "-4%03" PRIx32 "-8%03" PRIx32 "-%012" PRIx64 "\","
                        "\"agent\":{\"device_id\":\"%s\",\"hostname\":\"%s\","
                        "\"os_version\":\"%s\",\"agent_version\":\"0.1.0\"},\"records\":[",
                        g->run, (uint32_t)(b >> 32) & 0xffff, (uint32_t)(h >> 20) & 0xfff,
                        (uint32_t)(h >> 8) & 0xfff, (uint64_t)(b & 0xffffffffffffull), dev, host,
                        benchgen_os_version(g, d));
    uint32_t snap = benchgen_snapshot_records(g);
    uint32_t n_events = g->records - snap;
    struct benchgen_event ev;
    for (uint32_t j = 0; j < n_events && rc == RF_OK; j++) {
        benchgen_event(g, b, j, &ev);
        if (j)
            rc = buf_append_char(out, ',');
        if (rc == RF_OK)
            rc = append_event(out, &ev);
    }
    if (rc == RF_OK && snap) {
        if (n_events)
            rc = buf_append_char(out, ',');
        if (rc == RF_OK)
            rc = append_snapshot(g, d, out);
    }
    if (rc == RF_OK)
        rc = buf_append_str(out, "]}");
    return rc;
}
