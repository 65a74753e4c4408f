/*
 * vpnconn_json.h - Get-VpnConnection output converted with ConvertTo-Json
 * into vpn_policy records: how each VPN profile connects (server, tunnel
 * type, authentication, split tunnelling, device tunnel) and its custom
 * IKEv2/IPsec policy, which the analyzer compares with the server baseline.
 *
 * Accepted: a single object or an array; UTF-8 (BOM allowed) or UTF-16;
 * keys case-insensitive. Fields:
 *  - Name, ServerAddress: required non-empty strings (<= RF_MAX_NAME_LEN).
 *  - TunnelType: required, Ikev2/Sstp/L2tp/Pptp/Automatic (any case; stored
 *    in that spelling). A number has no documented mapping: reported.
 *  - AuthenticationMethod: required, a string or an array of strings,
 *    joined with ",".
 *  - SplitTunneling: required boolean (true/false, 1/0, "True"/"False").
 *  - AllUserConnection: boolean, false when absent. device_tunnel =
 *    AllUserConnection and MachineCertificate among the auth methods.
 *  - DnsSuffix: optional; "" counts as absent.
 *  - IPsecCustomPolicy: null, absent or [] -> no ipsec (profile on the
 *    defaults); an object or an array whose first element is the policy
 *    (more than one is reported). Each of the six properties may be a name
 *    (kept in PowerShell's spelling when known, as given otherwise) or a
 *    number. Numbers are translated with the Windows SDK tables of
 *    pbk_ipsec_enum_name() (domain notes, section 10); a number outside
 *    them becomes "unknown(N)". Whether ConvertTo-Json's numbers follow
 *    those tables is not documented: agents should send names
 *    (-EnumsAsStrings). A missing property, or a policy that ConvertTo-Json
 *    flattened to a string (its -Depth was too small), gives "unknown" for
 *    the affected fields and a report: the profile does have a custom
 *    policy, its values are just not known.
 * An element missing a required field is reported (with its index) and
 * skipped; invalid JSON or a root that is neither object nor array is fatal.
 */
#ifndef RASFLEET_VPNCONN_JSON_H
#define RASFLEET_VPNCONN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "parse_report.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"

#define VPNCONN_JSON_MAX_INPUT (8u << 20)

struct vpnconn_stats {
    size_t emitted; /* records handed to the callback */
    size_t skipped; /* elements reported and skipped */
};

/*
 * Parses buf[0..len) (raw file bytes); every record goes to fn(ctx, rec) in
 * document order, with time_ms (collection time) and strings allocated in
 * arena. sink and stats may be NULL. Returns RF_OK, the callback's non-zero
 * value, RF_EFORMAT (reported), RF_ETOOBIG or RF_ENOMEM.
 */
int vpnconn_json_parse(const char *buf, size_t len, int64_t time_ms, struct rf_arena *arena,
                       parse_record_fn fn, void *ctx, struct parse_sink *sink,
                       struct vpnconn_stats *stats);

#endif
