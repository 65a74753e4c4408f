/*
 * netip_json.h - Get-NetIPInterface output converted with ConvertTo-Json
 * into iface_metric records (one per interface and address family), the
 * input of the metric-order check (the VPN interface must have a strictly
 * lower metric than every connected physical interface).
 *
 * Accepted: a single object or an array; UTF-8 (BOM allowed) or UTF-16;
 * keys case-insensitive; InterfaceAlias or ifAlias, InterfaceIndex or
 * ifIndex; enums as numbers (Windows PowerShell 5.1) or names (PowerShell 7
 * -EnumsAsStrings): AddressFamily 2/23 or IPv4/IPv6, ConnectionState 1/0 or
 * Connected/Disconnected, AutomaticMetric 1/0 or Enabled/Disabled (JSON
 * booleans too). All of alias, index, family, InterfaceMetric,
 * AutomaticMetric and ConnectionState are required: an element missing one,
 * or with a value out of range, is reported (with its index) and skipped.
 * NlMtu is optional; 4294967295 (what loopback shows) means no MTU.
 *
 * Get-NetIPInterface has no interface type, so if_type is guessed by
 * netip_guess_if_type() from the alias and, when the agent joined it from
 * Get-NetAdapter, InterfaceDescription.
 */
#ifndef RASFLEET_NETIP_JSON_H
#define RASFLEET_NETIP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "parse_report.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"

#define NETIP_JSON_MAX_INPUT (8u << 20)

struct netip_options {
    int64_t time_ms;              /* collection time, put in every record */
    const char *const *vpn_names; /* the device's VPN connection names (may be NULL) */
    size_t n_vpn_names;
};

struct netip_stats {
    size_t emitted; /* records handed to the callback */
    size_t skipped; /* elements reported and skipped */
};

/*
 * Guesses the interface type, first match wins:
 *   alias equal (case-insensitively) to one of vpn_names   -> vpn
 *   alias or description contains "Loopback"               -> loopback
 *   alias or description contains "VPN", or the description
 *   contains "WAN Miniport" (the RAS adapters)             -> vpn
 *   "Wi-Fi", "WiFi", "Wireless", "WLAN" or "802.11"        -> wifi
 *   "Cellular", "Mobile" or "WWAN"                         -> cellular
 *   "Ethernet"                                             -> ethernet
 *   anything else                                          -> other
 * (substrings compare case-insensitively; description may be NULL).
 */
enum rf_if_type netip_guess_if_type(const char *alias, const char *description,
                                    const char *const *vpn_names, size_t n_vpn_names);

/*
 * Parses buf[0..len) (raw file bytes) and hands every record to fn(ctx, rec)
 * in document order; strings are allocated in arena. sink and stats may be
 * NULL. Returns RF_OK, the callback's non-zero value, RF_EFORMAT (invalid
 * JSON or a root that is neither object nor array; reported), RF_ETOOBIG or
 * RF_ENOMEM.
 */
int netip_json_parse(const char *buf, size_t len, const struct netip_options *opt,
                     struct rf_arena *arena, parse_record_fn fn, void *ctx, struct parse_sink *sink,
                     struct netip_stats *stats);

#endif
