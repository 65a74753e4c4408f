/*
 * checks.c - device checks and the rule table. See checks.h; docs/rules.md
 * is the same content for people (ids, exact conditions, evidence fields,
 * remediation, sources).
 *
 * What it is for: one device's latest interface metrics, rasphone.pbk
 * entries and VPN policies are judged against the rules of the research
 * notes (shared/domain/aovpn-reference.md section 7: R-METRIC-ORDER,
 * R-PBK-METRIC, R-CLASSROUTE, R-MOBILITY, R-REGISTERDNS-BOTH,
 * R-DEVTUN-INVARIANTS, R-IPSEC-DEFAULT, R-IPSEC-WEAK, R-13868-POLICY, plus
 * the pbk keys of section 3.3), and every violation is handed to the
 * caller with the values that made it fire. One rule judges the agent
 * itself: agent-spool-drops, from its latest agent_status report. The fleet rules (concentration,
 * spike) are only described here; the analyzer evaluates them.
 *
 * Invariants: rule ids are unique, lower-case, URL-safe and never change
 * (they are in URLs, stored findings and Intune scripts); every rule has a
 * title, summary, remediation and at least one reference (test_checks
 * checks it). Evidence is always a complete JSON object built with the buf
 * JSON helpers, every client string (aliases, connection names, pbk values)
 * escaped by buf_append_json_str, and always has "reason", a short one-line
 * text the detection scripts print. Findings come out in table order, and
 * within a rule in input order, so the output is deterministic.
 *
 * Pure functions: no state, no locks, no I/O; thread-safe.
 */
#include "checks.h"
#include "timeutil.h"
#include "utf8.h"
#include "rasfleet/result.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- sources (URLs cited by the research notes) ---- */
#define RH "https://directaccess.richardhicks.com"
#define REF_RH_METRICS RH "/2023/09/25/always-on-vpn-and-interface-metrics/"
#define REF_RH_IKEV2_SEC RH "/2018/12/10/always-on-vpn-ikev2-security-configuration/"
#define REF_RH_13868 RH "/2019/09/02/always-on-vpn-ikev2-policy-mismatch-error/"
#define REF_RH_FRAG RH "/2019/02/11/always-on-vpn-and-ikev2-fragmentation/"
#define REF_RH_20227 RH "/tag/event-id-20227/"
#define REF_RH_SHARING RH "/tag/xml/page/2/"
#define REF_GH_AOVPN "https://github.com/richardhicks/aovpn"
#define REF_GH_AOVPNTOOLS "https://github.com/richardhicks/aovpntools"
#define REF_GH_EPM "https://github.com/richardhicks/endpointmanager"
#define REF_MS_DEVTUN                                                                              \
    "https://learn.microsoft.com/en-us/windows-server/remote/remote-access/vpn/"                   \
    "vpn-device-tunnel-config"
#define REF_MS_TS                                                                                  \
    "https://learn.microsoft.com/en-us/troubleshoot/windows-server/networking/"                    \
    "troubleshoot-always-on-vpn"
#define REF_MS_SETIPSEC                                                                            \
    "https://learn.microsoft.com/en-us/powershell/module/vpnclient/"                               \
    "set-vpnconnectionipsecconfiguration"
#define REF_RRASM_VS                                                                               \
    "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rrasm/"                      \
    "7574fc0f-3e82-4b69-a4c3-43b588fad4d7"
#define REF_RRASM_DNS                                                                              \
    "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rrasm/"                      \
    "477acf8a-786c-4ed0-ac81-a91a86a481ca"
#define REF_AZURE_CRYPTO                                                                           \
    "https://learn.microsoft.com/en-us/azure/vpn-gateway/vpn-gateway-about-compliance-crypto"
#define REF_MS_TESTNETCONNECTION                                                                   \
    "https://learn.microsoft.com/en-us/powershell/module/nettcpip/test-netconnection"
#define REF_MS_WINHTTP_PROXY                                                                       \
    "https://learn.microsoft.com/en-us/windows/win32/winhttp/netsh-exe-commands"
#define REF_WIN7_MOBILITY                                                                          \
    "http://sourcedaddy.com/windows-7/configuring-mobility-for-ikev2-connections.html"

/* ---- shared texts ---- */

/* Edits the metric keys of one named section of a phonebook; the Intune
 * script deploy/intune/Remediate-InterfaceMetric.ps1 does the same and keeps
 * the file's encoding. */
#define PS_PBK_METRIC                                                                              \
    "$Name = 'Always On VPN'; $Metric = 3  # device tunnel: 4, phonebook under $env:ProgramData\n" \
    "$Pbk = Join-Path $env:APPDATA 'Microsoft\\Network\\Connections\\Pbk\\rasphone.pbk'\n"         \
    "Copy-Item -Path $Pbk -Destination \"$Pbk.$(Get-Date -Format FileDateTime).bak\"\n"            \
    "$in = $false\n"                                                                               \
    "$lines = foreach ($l in Get-Content -Path $Pbk) {\n"                                          \
    "    if ($l -match '^\\[(.+)\\]\\s*$') { $in = ($Matches[1] -ceq $Name) }\n"                   \
    "    elseif ($in -and $l -match '^(IpInterfaceMetric|Ipv6InterfaceMetric)=') {\n"              \
    "        $l = $Matches[1] + '=' + $Metric\n"                                                   \
    "    }\n"                                                                                      \
    "    $l\n"                                                                                     \
    "}\n"                                                                                          \
    "Set-Content -Path $Pbk -Value $lines -Encoding ASCII  # reconnect to apply"

#define PS_IPSEC_BASELINE                                                                          \
    "# client (add -AllUserConnection for the device tunnel):\n"                                   \
    "Set-VpnConnectionIPsecConfiguration -ConnectionName 'Always On VPN' "                         \
    "-AuthenticationTransformConstants SHA256128 -CipherTransformConstants AES128 "                \
    "-DHGroup Group14 -EncryptionMethod AES128 -IntegrityCheckMethod SHA256 -PfsGroup PFS2048 "    \
    "-Force\n"                                                                                     \
    "# every RRAS server, the same six values:\n"                                                  \
    "Set-VpnServerConfiguration -CustomPolicy -AuthenticationTransformConstants SHA256128 "        \
    "-CipherTransformConstants AES128 -DHGroup Group14 -EncryptionMethod AES128 "                  \
    "-IntegrityCheckMethod SHA256 -PFSgroup PFS2048 -SALifeTimeSeconds 28800 "                     \
    "-MMSALifeTimeSeconds 86400 -SADataSizeForRenegotiationKilobytes 1024000"

/* ---- the rule table ---- */

enum rule_index {
    R_METRIC_ORDER = 0,
    R_PBK_METRIC,
    R_PBK_CLASSROUTE,
    R_PBK_MOBILITY,
    R_PBK_FRAGMENTATION,
    R_PBK_ALWAYSON,
    R_PBK_VPNSTRATEGY,
    R_REGISTERDNS_BOTH,
    R_DEVTUNNEL_INVARIANTS,
    R_IPSEC_DEFAULT,
    R_IPSEC_WEAK,
    R_IPSEC_MISMATCH,
    R_AGENT_SPOOL_DROPS,
    R_FLEET_CONCENTRATION,
    R_FLEET_SPIKE,
    R_COUNT
};

struct rule_def {
    struct check_rule rule;
    enum check_scope scope;
};

#define DEVICE CHECK_SCOPE_DEVICE
#define FLEET CHECK_SCOPE_FLEET

/* clang-format off */
static const struct rule_def rule_defs[R_COUNT] = {
    /* ---- device rules: interfaces ---- */
    [R_METRIC_ORDER] = {.scope = DEVICE, .rule = {
        .id = "metric-order",
        .severity = SEV_HIGH,
        .title = "VPN interface metric not below the physical interfaces",
        .summary = "A connected VPN interface has an interface metric equal to or higher than a "
                   "connected Ethernet, Wi-Fi or cellular interface of the same address family. "
                   "Windows sends DNS queries over the interface with the lowest metric, so with "
                   "split DNS internal names resolve through the public resolver or fail.",
        .remediation = "Pin the VPN interface metric in the profile, strictly below every "
                       "physical interface: IpInterfaceMetric and Ipv6InterfaceMetric in the "
                       "connection's section of rasphone.pbk, 3 for the user tunnel and 4 for "
                       "the device tunnel (physical interfaces are usually 5 or higher). Use "
                       "deploy/intune/Remediate-InterfaceMetric.ps1, Update-Rasphone.ps1 "
                       "-InterfaceMetric, or ProfileXML IPv4InterfaceMetric/IPv6InterfaceMetric "
                       "on Windows 11 24H2 and later. Do not use Set-NetIPInterface on the VPN "
                       "adapter: the RAS interface is plumbed again from the phonebook at every "
                       "connect and the change is lost. The new metric applies at the next "
                       "connect.",
        .powershell = PS_PBK_METRIC,
        .references = {REF_RH_METRICS, REF_GH_EPM, REF_GH_AOVPN},
    }},
    /* ---- device rules: rasphone.pbk ---- */
    [R_PBK_METRIC] = {.scope = DEVICE, .rule = {
        .id = "pbk-metric",
        .severity = SEV_MEDIUM,
        .title = "VPN interface metric not pinned in rasphone.pbk",
        .summary = "A phonebook entry's IpInterfaceMetric or Ipv6InterfaceMetric is missing, 0 "
                   "(automatic) or not the recommended value (3 for a user tunnel, 4 for a device "
                   "tunnel entry, DeviceTunnel=1). With an automatic metric a wired Ethernet "
                   "interface often ties or beats the VPN interface and internal names are "
                   "resolved outside the tunnel.",
        .remediation = "Set IpInterfaceMetric and Ipv6InterfaceMetric in the entry's own section "
                       "(3 for the user tunnel, 4 for the device tunnel, which keeps both below "
                       "physical interfaces and the user tunnel preferred): "
                       "deploy/intune/Remediate-InterfaceMetric.ps1, Update-Rasphone.ps1 "
                       "-InterfaceMetric, or ProfileXML IPv4InterfaceMetric/IPv6InterfaceMetric "
                       "on Windows 11 24H2 and later. Edit only the named section: a global "
                       "replace also changes other profiles of the same file. Not "
                       "Set-NetIPInterface, which is lost at the next connect.",
        .powershell = PS_PBK_METRIC,
        .references = {REF_GH_EPM, REF_RH_METRICS, REF_GH_AOVPN},
    }},
    [R_PBK_CLASSROUTE] = {.scope = DEVICE, .rule = {
        .id = "pbk-classroute",
        .severity = SEV_LOW,
        .title = "Class-based route setting contradicts the routing mode",
        .summary = "The entry is split tunnel (IpPrioritizeRemote=0) but keeps the class-based "
                   "route for the VPN address (DisableClassBasedDefaultRoute=0), which can "
                   "capture traffic meant for other networks; or it is force tunnel "
                   "(IpPrioritizeRemote=1) with DisableClassBasedDefaultRoute=1, which the "
                   "profile guidance says must be 0 with force tunnel.",
        .remediation = "Split tunnel: set DisableClassBasedDefaultRoute=1 and define explicit "
                       "routes for the internal networks (ProfileXML "
                       "<DisableClassBasedDefaultRoute>true</DisableClassBasedDefaultRoute> with "
                       "<Route> elements, or Update-Rasphone.ps1 -DisableClassBasedDefaultRoute "
                       "True). Force tunnel: set it to 0 (false).",
        .powershell = "Update-Rasphone.ps1 -ProfileName 'Always On VPN' "
                      "-DisableClassBasedDefaultRoute True  # split tunnel; False for force "
                      "tunnel",
        .references = {REF_GH_AOVPN, REF_MS_DEVTUN, REF_GH_EPM},
    }},
    [R_PBK_MOBILITY] = {.scope = DEVICE, .rule = {
        .id = "pbk-mobility",
        .severity = SEV_INFO,
        .title = "IKEv2 mobility keeps a lost tunnel up",
        .summary = "DisableMobility=0 with a non-zero NetworkOutageTime: IKEv2 mobility (VPN "
                   "Reconnect) keeps the tunnel looking connected for that many seconds after "
                   "the underlying network is gone (1800 s by default in older documentation), "
                   "which delays the always-on reconnect.",
        .remediation = "Choose one fleet policy and apply it to every profile: "
                       "NetworkOutageTime=0 (Richard Hicks' ProfileXML) or DisableMobility=1 "
                       "(his Intune remediation scripts, which also set NetworkOutageTime=0). "
                       "Update-Rasphone.ps1 -DisableIkeMobility True writes both keys; do not "
                       "combine it with -NetworkOutageTime.",
        .powershell = "Update-Rasphone.ps1 -ProfileName 'Always On VPN' -DisableIkeMobility True",
        .references = {REF_GH_AOVPN, REF_GH_EPM, REF_WIN7_MOBILITY},
    }},
    [R_PBK_FRAGMENTATION] = {.scope = DEVICE, .rule = {
        .id = "pbk-fragmentation",
        .severity = SEV_MEDIUM,
        .title = "IKEv2 fragmentation disabled on the client",
        .summary = "Disable_IKEv2_Fragmentation=1 on an entry that can use IKEv2: large IKE "
                   "messages (certificate payloads) then travel as IP fragments, which many "
                   "networks drop, and the connection fails with error 809.",
        .remediation = "Set Disable_IKEv2_Fragmentation=0 in the entry (ProfileXML "
                       "DisableIKEv2Fragmentation false on Windows 11 24H2 and later, which is "
                       "the recommended setting), and enable IKEv2 fragmentation on every RRAS "
                       "server (Windows Server 1803 or later).",
        .powershell = "Enable-VpnServerIKEv2Fragmentation  # aovpntools module, on each RRAS "
                      "server",
        .references = {REF_RH_FRAG, REF_GH_AOVPN, REF_GH_AOVPNTOOLS},
    }},
    [R_PBK_ALWAYSON] = {.scope = DEVICE, .rule = {
        .id = "pbk-alwayson",
        .severity = SEV_LOW,
        .title = "Always On entry not marked always-on and auto-trigger capable",
        .summary = "An Always On VPN entry (DeviceTunnel=1, or AlwaysOnCapable or "
                   "AutoTiggerCapable set to 1) has the other flag, or both, at a value other "
                   "than 1 (AutoTiggerCapable is Windows' own spelling), so Windows may not "
                   "bring the tunnel up by itself.",
        .remediation = "Redeploy the profile with <AlwaysOn>true</AlwaysOn> in ProfileXML so "
                       "Windows writes AlwaysOnCapable=1 and AutoTiggerCapable=1. If the user "
                       "unticked 'Connect automatically', also remove the profile from "
                       "AutoTriggerDisabledProfilesList (aovpntools "
                       "Clear-AutoTriggerDisabledProfile).",
        .powershell = "Get-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\RasMan"
                      "\\Config' -Name AutoTriggerDisabledProfilesList",
        .references = {REF_GH_AOVPNTOOLS, REF_RH_SHARING},
    }},
    [R_PBK_VPNSTRATEGY] = {.scope = DEVICE, .rule = {
        .id = "pbk-vpnstrategy",
        .severity = SEV_LOW,
        .title = "Unknown VpnStrategy value",
        .summary = "VpnStrategy is not one of the values Windows defines (0 to 9, 12 to 15), so "
                   "which protocols the client tries, and in which order, is undefined; the "
                   "entry was probably edited by hand or by a faulty script.",
        .remediation = "Set the protocol order explicitly: 14 (IKEv2, then SSTP) for a user "
                       "tunnel, or 7 (IKEv2 only) / 5 (SSTP only) to pin one protocol; 7 for the "
                       "device tunnel. Update-Rasphone.ps1 -SetPreferredProtocol "
                       "IKEv2/IKEv2Only/SSTP/SSTPOnly writes 14/7/6/5.",
        .powershell = "Update-Rasphone.ps1 -ProfileName 'Always On VPN' -SetPreferredProtocol "
                      "IKEv2  # VpnStrategy=14",
        .references = {REF_RRASM_VS, REF_GH_AOVPN},
    }},
    [R_REGISTERDNS_BOTH] = {.scope = DEVICE, .rule = {
        .id = "registerdns-both",
        .severity = SEV_LOW,
        .title = "Both tunnels register in DNS",
        .summary = "The device tunnel entry and another (user tunnel) entry both have DNS "
                   "registration on (IpDnsFlags bit 0). The client then registers its name "
                   "from two interfaces and manage-out connections reach whichever address DNS "
                   "returns.",
        .remediation = "Register in DNS from one connection only, the device tunnel (ProfileXML "
                       "RegisterDNS only in the device tunnel profile): set IpDnsFlags=0 on the "
                       "user tunnel entry.",
        .powershell = "Update-Rasphone.ps1 -ProfileName 'Always On VPN' -RegisterDNS False  # "
                      "the user tunnel",
        .references = {REF_MS_DEVTUN, REF_GH_AOVPN, REF_RRASM_DNS},
    }},
    [R_DEVTUNNEL_INVARIANTS] = {.scope = DEVICE, .rule = {
        .id = "devtunnel-invariants",
        .severity = SEV_HIGH,
        .title = "Unsupported device tunnel configuration",
        .summary = "A device tunnel (pbk entry with DeviceTunnel=1 or a policy marked "
                   "device_tunnel) is not IKEv2 only, not split tunnel, or not authenticated "
                   "with the machine certificate. Microsoft supports the device tunnel only as "
                   "IKEv2 with machine certificate authentication and split tunnel routing.",
        .remediation = "Redeploy the device tunnel profile as Microsoft's device tunnel "
                       "ProfileXML does: NativeProtocolType IKEv2, machine certificate "
                       "authentication, RoutingPolicyType SplitTunnel. In rasphone.pbk that "
                       "gives VpnStrategy=7 and IpPrioritizeRemote=0.",
        .powershell = "Get-VpnConnection -AllUserConnection | Format-List Name, TunnelType, "
                      "AuthenticationMethod, SplitTunneling",
        .references = {REF_MS_DEVTUN, REF_GH_AOVPN},
    }},
    /* ---- device rules: IPsec policy ---- */
    [R_IPSEC_DEFAULT] = {.scope = DEVICE, .rule = {
        .id = "ipsec-default",
        .severity = SEV_MEDIUM,
        .title = "IKEv2 profile on the default IPsec policy",
        .summary = "The profile can use IKEv2 (TunnelType Ikev2 or Automatic) and has no custom "
                   "IPsec policy, so it negotiates the Windows defaults: 3DES, SHA-1 and DH "
                   "group 2 (1024-bit).",
        .remediation = "Deploy a custom IKEv2 policy on the clients and on RRAS together (they "
                       "must match or connections fail with 13868): the minimum baseline "
                       "AES128 / SHA256128 / SHA256 / Group14 / PFS2048, or the GCM set "
                       "GCMAES128 / Group14 / ECP256 (ProfileXML CryptographySuite or "
                       "Set-VpnConnectionIPsecConfiguration on clients, "
                       "Set-VpnServerConfiguration -CustomPolicy on RRAS; aovpntools "
                       "Set-IKEv2VpnSecurityBaseline).",
        .powershell = PS_IPSEC_BASELINE,
        .references = {REF_RH_IKEV2_SEC, REF_GH_AOVPNTOOLS, REF_MS_SETIPSEC},
    }},
    [R_IPSEC_WEAK] = {.scope = DEVICE, .rule = {
        .id = "ipsec-weak",
        .severity = SEV_HIGH,
        .title = "Weak IKE/IPsec parameters",
        .summary = "The profile's custom IPsec policy uses a weak value: DH group 1, 2 or none, "
                   "PFS group 1 or 2, DES or 3DES, MD5 or SHA-1 integrity, an MD5/SHA-1 "
                   "authentication transform, or no ESP cipher.",
        .remediation = "Move client and server together to Group14 or ECP256 and stronger, "
                       "PFS2048 or ECP256, AES or GCM ciphers and SHA256 (the standard or the "
                       "GCM baseline). An Azure VPN gateway uses DH group 2 by default and needs "
                       "a custom IPsec/IKE policy for stronger groups.",
        .powershell = PS_IPSEC_BASELINE,
        .references = {REF_RH_IKEV2_SEC, REF_MS_SETIPSEC, REF_AZURE_CRYPTO},
    }},
    [R_IPSEC_MISMATCH] = {.scope = DEVICE, .rule = {
        .id = "ipsec-mismatch",
        .severity = SEV_HIGH,
        .title = "IPsec policy differs from the server baseline",
        .summary = "The profile's IKEv2 policy does not match the VPN server's, as the operator "
                   "configured it: values differ, or one side uses a custom policy and the "
                   "other the defaults. The connection will fail with error 13868 "
                   "(ERROR_IPSEC_IKE_POLICY_MATCH).",
        .remediation = "Make all six values identical on both sides: change the clients "
                       "(ProfileXML CryptographySuite or Set-VpnConnectionIPsecConfiguration) "
                       "or the server (Set-VpnServerConfiguration -CustomPolicy, or "
                       "-RevertToDefault when the server should use the defaults), then update "
                       "the baseline in the collector's configuration if the server changed.",
        .powershell = "Get-VpnServerIPsecConfiguration  # on RRAS\n"
                      "Get-VpnConnection -Name 'Always On VPN' | Select-Object -ExpandProperty "
                      "IPsecCustomPolicy  # on the client; -AllUserConnection for the device "
                      "tunnel",
        .references = {REF_RH_13868, REF_MS_SETIPSEC, REF_GH_AOVPN},
    }},
    /* ---- device rules: the agent ---- */
    [R_AGENT_SPOOL_DROPS] = {.scope = DEVICE, .rule = {
        .id = "agent-spool-drops",
        .severity = SEV_MEDIUM,
        .title = "Agent dropped telemetry from its full spool",
        .summary = "The device's agent could not deliver its batches for so long that its "
                   "spool reached its size or age bound, and it deleted the oldest batches "
                   "unsent (counted in its agent_status reports). The collector never "
                   "received those events and snapshots: this device's failure counts are "
                   "too low for that period and its device findings may be older than they "
                   "look.",
        .remediation = "Find out why the agent could not deliver: the device page's Agent "
                       "section shows its last error and last success (collector unreachable, "
                       "proxy, TLS, a refused token). Check the path from the device to the "
                       "collector URL (Test-NetConnection -Port, netsh winhttp show proxy) and "
                       "the collector's /healthz (503 while storage refuses writes). Where "
                       "long offline periods are normal (laptops away for days), raise the "
                       "spool bounds in agent.conf: spool_max_bytes (default 64M) and "
                       "spool_max_age (default 14d); the lost batches themselves cannot be "
                       "recovered.",
        .powershell = "Get-Content \"$env:ProgramData\\rasfleet\\agent\\status.json\"  # last "
                      "error, spool, drops\n"
                      "Test-NetConnection -ComputerName collector.example.net -Port 443\n"
                      "# where offline weeks are normal: raise the bounds, e.g.\n"
                      "Add-Content \"$env:ProgramData\\rasfleet\\agent.conf\" "
                      "\"spool_max_bytes = 256M`nspool_max_age = 30d\"",
        .references = {REF_MS_TESTNETCONNECTION, REF_MS_WINHTTP_PROXY},
    }},
    /* ---- fleet rules (evaluated by the analyzer) ---- */
    [R_FLEET_CONCENTRATION] = {.scope = FLEET, .rule = {
        .id = "fleet-concentration",
        .severity = SEV_MEDIUM,
        .title = "Failure code concentrated on one attribute value",
        .summary = "The devices failing with one error code are over-represented on one value "
                   "of an attribute (VPN server, connection, policy fingerprint, OS build, "
                   "agent version, interface type) compared with the whole reporting fleet. "
                   "A failure shared by every device of one server points at the server; one "
                   "OS build at a client update.",
        .remediation = "Apply the fix of the code's catalogue entry where the attribute points: "
                       "one server (its certificates, firewall, NAT or IPsec policy), one OS "
                       "build (a client update; compare with devices on other builds), one "
                       "policy fingerprint (the profile version deployed to those devices). "
                       "The evidence lists support and lift per value.",
        .powershell = NULL,
        .references = {REF_MS_TS, REF_RH_20227},
    }},
    [R_FLEET_SPIKE] = {.scope = FLEET, .rule = {
        .id = "fleet-spike",
        .severity = SEV_HIGH,
        .title = "Failure rate of a code above its baseline",
        .summary = "Failures with one error code rose above the code's own trailing baseline "
                   "on several devices since the time given in the evidence. A sudden onset "
                   "across many devices usually follows a server-side change (expired "
                   "certificate, firewall or policy change).",
        .remediation = "Look for changes made around the onset time on the components the "
                       "code's catalogue entry names (VPN server certificates, NPS, firewall, "
                       "CA/CRL publication), starting with the attribute values over-represented "
                       "among the affected devices, and apply the catalogue entry's fix.",
        .powershell = NULL,
        .references = {REF_MS_TS, REF_RH_20227},
    }},
};
/* clang-format on */

#undef DEVICE
#undef FLEET

size_t checks_rule_count(void)
{
    return R_COUNT;
}

const struct check_rule *checks_rule_at(size_t i)
{
    return i < R_COUNT ? &rule_defs[i].rule : NULL;
}

const struct check_rule *checks_rule_find(const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < R_COUNT; i++)
        if (strcmp(rule_defs[i].rule.id, id) == 0)
            return &rule_defs[i].rule;
    return NULL;
}

enum check_scope checks_rule_scope(const struct check_rule *rule)
{
    for (size_t i = 0; i < R_COUNT; i++)
        if (&rule_defs[i].rule == rule)
            return rule_defs[i].scope;
    return CHECK_SCOPE_FLEET;
}

size_t checks_rule_ref_count(const struct check_rule *rule)
{
    size_t n = 0;
    size_t max = sizeof rule->references / sizeof rule->references[0] - 1;
    while (rule && n < max && rule->references[n])
        n++;
    return n;
}

const char *checks_severity_name(enum check_severity s)
{
    switch (s) {
    case SEV_INFO:
        return "info";
    case SEV_LOW:
        return "low";
    case SEV_MEDIUM:
        return "medium";
    case SEV_HIGH:
        return "high";
    case SEV_CRITICAL:
        return "critical";
    }
    return "unknown";
}

int checks_remediation_json(const struct check_rule *rule, struct buf *out)
{
    if (!rule || !out)
        return RF_EINVAL;
    size_t saved = out->len;
    int rc = buf_append_str(out, "{\"text\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(out, rule->remediation);
    if (rc == RF_OK && rule->powershell) {
        rc = buf_append_str(out, ",\"powershell\":");
        if (rc == RF_OK)
            rc = buf_append_json_str(out, rule->powershell);
    }
    if (rc == RF_OK)
        rc = buf_append_str(out, ",\"references\":[");
    size_t n = checks_rule_ref_count(rule);
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == RF_OK)
            rc = buf_append_json_str(out, rule->references[i]);
    }
    if (rc == RF_OK)
        rc = buf_append_str(out, "]}");
    if (rc != RF_OK) {
        out->len = saved;
        if (out->data)
            out->data[saved] = '\0';
    }
    return rc;
}

/* ---- a small JSON writer over struct buf (sticky error, comma bookkeeping) ---- */

#define JW_MAX_DEPTH 8

struct jw {
    struct buf *b;
    int rc;
    int depth;
    bool comma[JW_MAX_DEPTH];
};

static void jw_init(struct jw *w, struct buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

/* Writes the separator and, inside an object, the key of the next value. */
static void jw_prefix(struct jw *w, const char *key)
{
    if (w->rc != RF_OK)
        return;
    if (w->comma[w->depth])
        w->rc = buf_append_char(w->b, ',');
    w->comma[w->depth] = true;
    if (w->rc == RF_OK && key) {
        w->rc = buf_append_json_str(w->b, key);
        if (w->rc == RF_OK)
            w->rc = buf_append_char(w->b, ':');
    }
}

static void jw_open(struct jw *w, const char *key, char bracket)
{
    jw_prefix(w, key);
    if (w->rc == RF_OK && w->depth + 1 >= JW_MAX_DEPTH)
        w->rc = RF_EINVAL;
    if (w->rc == RF_OK)
        w->rc = buf_append_char(w->b, bracket);
    if (w->rc == RF_OK)
        w->comma[++w->depth] = false;
}

static void jw_close(struct jw *w, char bracket)
{
    if (w->rc == RF_OK)
        w->rc = buf_append_char(w->b, bracket);
    if (w->rc == RF_OK)
        w->depth--;
}

static void jw_obj(struct jw *w, const char *key)
{
    jw_open(w, key, '{');
}

static void jw_end_obj(struct jw *w)
{
    jw_close(w, '}');
}

static void jw_arr(struct jw *w, const char *key)
{
    jw_open(w, key, '[');
}

static void jw_end_arr(struct jw *w)
{
    jw_close(w, ']');
}

/* A string value, or null when s is NULL. */
static void jw_str(struct jw *w, const char *key, const char *s)
{
    jw_prefix(w, key);
    if (w->rc == RF_OK)
        w->rc = buf_append_json_str(w->b, s);
}

static void jw_int(struct jw *w, const char *key, int64_t v)
{
    jw_prefix(w, key);
    if (w->rc == RF_OK)
        w->rc = buf_printf(w->b, "%" PRId64, v);
}

static void jw_bool(struct jw *w, const char *key, bool v)
{
    jw_prefix(w, key);
    if (w->rc == RF_OK)
        w->rc = buf_append_str(w->b, v ? "true" : "false");
}

static void jw_null(struct jw *w, const char *key)
{
    jw_prefix(w, key);
    if (w->rc == RF_OK)
        w->rc = buf_append_str(w->b, "null");
}

/* ---- evaluation context: one evidence object and its reason at a time ---- */

struct ctx {
    const struct check_device *dev;
    const struct ipsec_baseline *base; /* NULL: not configured */
    check_emit_fn emit;
    void *arg;
    struct buf reason; /* one-line text of the finding being built */
    struct buf ev;     /* its evidence object */
    struct jw w;       /* writer over ev */
    int rc;            /* first failure; nothing is emitted after it */
};

static void reason_reset(struct ctx *c)
{
    buf_reset(&c->reason);
}

static void reason_add(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reason_add(struct ctx *c, const char *fmt, ...)
{
    if (c->rc != RF_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->rc = buf_vprintf(&c->reason, fmt, ap);
    va_end(ap);
}

/* Starts the evidence object with the reason built so far; returns the
 * writer for the rule's own fields. */
static struct jw *finding_begin(struct ctx *c)
{
    buf_reset(&c->ev);
    jw_init(&c->w, &c->ev);
    if (c->rc != RF_OK)
        c->w.rc = c->rc;
    jw_obj(&c->w, NULL);
    if (c->reason.len) /* one line, even when an alias carries a newline */
        utf8_sanitize_message(c->reason.data);
    jw_str(&c->w, "reason", c->reason.len ? c->reason.data : "");
    return &c->w;
}

/* Closes the evidence object and hands the finding to the caller. */
static void finding_end(struct ctx *c, enum rule_index r, const char *connection)
{
    jw_end_obj(&c->w);
    if (c->w.rc == RF_OK && c->w.depth != 0)
        c->w.rc = RF_EINVAL; /* unbalanced writer: a bug in this file */
    if (c->rc == RF_OK)
        c->rc = c->w.rc;
    if (c->rc == RF_OK)
        c->emit(c->arg, &rule_defs[r].rule, connection, c->ev.data);
    reason_reset(c);
}

/* ---- value helpers ---- */

static bool str_eq_ci(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* A decimal integer, optionally signed, blanks around it tolerated. */
static bool parse_int(const char *s, long long *out)
{
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

/* One pbk setting: raw text (NULL when absent) and its integer reading. */
struct pbk_val {
    const char *raw;
    bool valid; /* raw is a decimal integer */
    long long v;
};

static const char *pbk_get(const struct rf_pbk_entry *e, const char *key)
{
    for (size_t i = 0; i < e->n_settings; i++)
        if (e->settings[i].key && strcasecmp(e->settings[i].key, key) == 0)
            return e->settings[i].value;
    return NULL;
}

static struct pbk_val pbk_int(const struct rf_pbk_entry *e, const char *key)
{
    struct pbk_val r = {pbk_get(e, key), false, 0};
    r.valid = parse_int(r.raw, &r.v);
    return r;
}

static bool pbk_is(const struct rf_pbk_entry *e, const char *key, long long want)
{
    struct pbk_val v = pbk_int(e, key);
    return v.valid && v.v == want;
}

static bool pbk_is_device_tunnel(const struct rf_pbk_entry *e)
{
    return pbk_is(e, "DeviceTunnel", 1);
}

static const char *tunnel_name(bool device)
{
    return device ? "device" : "user";
}

/* Writes "scope" and a "settings" object with the raw values of keys (null
 * when absent), the common part of every pbk rule's evidence. */
static void jw_pbk_common(struct jw *w, const struct rf_pbk_entry *e, const char *const *keys,
                          size_t n_keys)
{
    jw_str(w, "scope", rf_scope_name(e->scope));
    jw_obj(w, "settings");
    for (size_t i = 0; i < n_keys; i++)
        jw_str(w, keys[i], pbk_get(e, keys[i]));
    jw_end_obj(w);
}

#define N_KEYS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- metric-order ---- */

static bool is_physical(enum rf_if_type t)
{
    return t == RF_IF_ETHERNET || t == RF_IF_WIFI || t == RF_IF_CELLULAR;
}

static const char *family_name(enum rf_family f)
{
    return f == RF_FAMILY_IPV6 ? "ipv6" : "ipv4";
}

/* A VPN interface is the device tunnel when a pbk entry of the same name
 * has DeviceTunnel=1 or a policy of that name is a device tunnel. */
static bool alias_is_device_tunnel(const struct check_device *d, const char *alias)
{
    for (size_t i = 0; i < d->n_pbk; i++)
        if (d->pbk[i].connection && alias && strcmp(d->pbk[i].connection, alias) == 0 &&
            pbk_is_device_tunnel(&d->pbk[i]))
            return true;
    for (size_t i = 0; i < d->n_policies; i++)
        if (d->policies[i].connection && alias && strcmp(d->policies[i].connection, alias) == 0 &&
            d->policies[i].device_tunnel)
            return true;
    return false;
}

static bool iface_counts(const struct rf_iface_metric *p, enum rf_family f, int64_t vpn_metric)
{
    return is_physical(p->if_type) && p->connected && p->family == f && p->metric <= vpn_metric;
}

static void metric_order_one(struct ctx *c, const struct rf_iface_metric *v)
{
    const struct check_device *d = c->dev;
    const struct rf_iface_metric *lowest = NULL;
    for (size_t j = 0; j < d->n_ifaces; j++) {
        const struct rf_iface_metric *p = &d->ifaces[j];
        if (iface_counts(p, v->family, v->metric) && (!lowest || p->metric < lowest->metric))
            lowest = p;
    }
    if (!lowest)
        return;
    bool device = alias_is_device_tunnel(d, v->alias);
    reason_add(c, "%s vpn %" PRId64 " >= %s %" PRId64, family_name(v->family), v->metric,
               lowest->alias ? lowest->alias : "?", lowest->metric);
    struct jw *w = finding_begin(c);
    jw_str(w, "family", family_name(v->family));
    jw_str(w, "tunnel", tunnel_name(device));
    jw_int(w, "recommended_metric",
           device ? CHECKS_METRIC_DEVICE_TUNNEL : CHECKS_METRIC_USER_TUNNEL);
    jw_obj(w, "vpn");
    jw_str(w, "alias", v->alias);
    jw_int(w, "index", v->index);
    jw_int(w, "metric", v->metric);
    jw_bool(w, "automatic", v->automatic);
    jw_end_obj(w);
    jw_arr(w, "physical");
    for (size_t j = 0; j < d->n_ifaces; j++) {
        const struct rf_iface_metric *p = &d->ifaces[j];
        if (!iface_counts(p, v->family, v->metric))
            continue;
        jw_obj(w, NULL);
        jw_str(w, "alias", p->alias);
        jw_int(w, "index", p->index);
        jw_str(w, "if_type", rf_if_type_name(p->if_type));
        jw_int(w, "metric", p->metric);
        jw_bool(w, "automatic", p->automatic);
        jw_end_obj(w);
    }
    jw_end_arr(w);
    finding_end(c, R_METRIC_ORDER, v->alias);
}

static void check_metric_order(struct ctx *c)
{
    static const enum rf_family families[] = {RF_FAMILY_IPV4, RF_FAMILY_IPV6};
    const struct check_device *d = c->dev;
    for (size_t f = 0; f < N_KEYS(families); f++)
        for (size_t i = 0; i < d->n_ifaces && c->rc == RF_OK; i++) {
            const struct rf_iface_metric *v = &d->ifaces[i];
            if (v->if_type == RF_IF_VPN && v->connected && v->family == families[f])
                metric_order_one(c, v);
        }
}

/* ---- pbk-metric ---- */

/* What is wrong with one metric key, or NULL when it has the wanted value. */
static const char *metric_problem(struct pbk_val v, long long want)
{
    if (!v.raw)
        return "missing";
    if (!v.valid || v.v < 0 || v.v > 9999)
        return "invalid";
    if (v.v == 0)
        return "automatic";
    return v.v == want ? NULL : "different";
}

static void check_pbk_metric_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"IpInterfaceMetric", "Ipv6InterfaceMetric"};
    bool device = pbk_is_device_tunnel(e);
    long long want = device ? CHECKS_METRIC_DEVICE_TUNNEL : CHECKS_METRIC_USER_TUNNEL;
    const char *problem[N_KEYS(keys)];
    size_t n_bad = 0;
    for (size_t k = 0; k < N_KEYS(keys); k++)
        if ((problem[k] = metric_problem(pbk_int(e, keys[k]), want)) != NULL)
            n_bad++;
    if (n_bad == 0)
        return;
    reason_add(c, "%s:", e->connection ? e->connection : "?");
    for (size_t k = 0; k < N_KEYS(keys); k++) {
        const char *raw = pbk_get(e, keys[k]);
        if (problem[k])
            reason_add(c, " %s=%s", keys[k], raw ? raw : "(missing)");
    }
    reason_add(c, ", want %lld", want);
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_str(w, "tunnel", tunnel_name(device));
    jw_int(w, "recommended_metric", want);
    jw_arr(w, "problems");
    for (size_t k = 0; k < N_KEYS(keys); k++) {
        if (!problem[k])
            continue;
        jw_obj(w, NULL);
        jw_str(w, "key", keys[k]);
        jw_str(w, "value", pbk_get(e, keys[k]));
        jw_str(w, "state", problem[k]);
        jw_end_obj(w);
    }
    jw_end_arr(w);
    finding_end(c, R_PBK_METRIC, e->connection);
}

/* ---- pbk-classroute ---- */

static void check_pbk_classroute_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"IpPrioritizeRemote", "DisableClassBasedDefaultRoute"};
    struct pbk_val pr = pbk_int(e, keys[0]);
    struct pbk_val dc = pbk_int(e, keys[1]);
    const char *routing;
    const char *want;
    if (!pr.valid || !dc.valid)
        return;
    if (pr.v == 0 && dc.v == 0) {
        routing = "split";
        want = "1";
    } else if (pr.v == 1 && dc.v == 1) {
        routing = "force";
        want = "0";
    } else {
        return;
    }
    reason_add(c, "%s tunnel with DisableClassBasedDefaultRoute=%s", routing, dc.raw);
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_str(w, "routing", routing);
    jw_str(w, "recommended", want);
    finding_end(c, R_PBK_CLASSROUTE, e->connection);
}

/* ---- pbk-mobility ---- */

static void check_pbk_mobility_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"DisableMobility", "NetworkOutageTime"};
    struct pbk_val nt = pbk_int(e, keys[1]);
    if (!pbk_is(e, keys[0], 0) || !nt.valid || nt.v == 0)
        return;
    reason_add(c, "DisableMobility=0 NetworkOutageTime=%s", nt.raw);
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_int(w, "outage_seconds", nt.v);
    finding_end(c, R_PBK_MOBILITY, e->connection);
}

/* ---- pbk-fragmentation ---- */

/* VpnStrategy values that never use IKEv2: PptpOnly, L2tpOnly, SstpOnly, GREOnly. */
static bool strategy_without_ikev2(struct pbk_val vs)
{
    return vs.valid && (vs.v == 1 || vs.v == 3 || vs.v == 5 || vs.v == 9);
}

static void check_pbk_fragmentation_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"Disable_IKEv2_Fragmentation", "VpnStrategy"};
    if (!pbk_is(e, keys[0], 1) || strategy_without_ikev2(pbk_int(e, keys[1])))
        return;
    reason_add(c, "Disable_IKEv2_Fragmentation=1");
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_str(w, "recommended", "0");
    finding_end(c, R_PBK_FRAGMENTATION, e->connection);
}

/* ---- pbk-alwayson ---- */

static bool flag_present_not_one(struct pbk_val v)
{
    return v.raw && !(v.valid && v.v == 1);
}

static void check_pbk_alwayson_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"AlwaysOnCapable", "AutoTiggerCapable", "DeviceTunnel"};
    struct pbk_val ao = pbk_int(e, keys[0]);
    struct pbk_val at = pbk_int(e, keys[1]);
    bool device = pbk_is_device_tunnel(e);
    bool always_on = device || (ao.valid && ao.v == 1) || (at.valid && at.v == 1);
    if (!always_on || (!flag_present_not_one(ao) && !flag_present_not_one(at)))
        return;
    reason_add(c, "AlwaysOnCapable=%s AutoTiggerCapable=%s", ao.raw ? ao.raw : "(missing)",
               at.raw ? at.raw : "(missing)");
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_str(w, "tunnel", tunnel_name(device));
    jw_str(w, "recommended", "1");
    finding_end(c, R_PBK_ALWAYSON, e->connection);
}

/* ---- pbk-vpnstrategy ---- */

static bool strategy_known(struct pbk_val vs)
{
    return vs.valid && ((vs.v >= 0 && vs.v <= 9) || (vs.v >= 12 && vs.v <= 15));
}

static void check_pbk_vpnstrategy_entry(struct ctx *c, const struct rf_pbk_entry *e)
{
    static const char *const keys[] = {"VpnStrategy"};
    struct pbk_val vs = pbk_int(e, keys[0]);
    if (!vs.raw || strategy_known(vs))
        return;
    reason_add(c, "VpnStrategy=%s is not a known value", vs.raw);
    struct jw *w = finding_begin(c);
    jw_pbk_common(w, e, keys, N_KEYS(keys));
    jw_str(w, "known", "0-9, 12-15");
    finding_end(c, R_PBK_VPNSTRATEGY, e->connection);
}

/* Runs one per-entry pbk rule over every entry. */
static void for_each_pbk(struct ctx *c, void (*check)(struct ctx *, const struct rf_pbk_entry *))
{
    for (size_t i = 0; i < c->dev->n_pbk && c->rc == RF_OK; i++)
        check(c, &c->dev->pbk[i]);
}

/* ---- registerdns-both ---- */

static bool pbk_registers_dns(const struct rf_pbk_entry *e)
{
    struct pbk_val f = pbk_int(e, "IpDnsFlags");
    return f.valid && f.v >= 0 && (f.v & 1) != 0;
}

static void check_registerdns_both(struct ctx *c)
{
    const struct check_device *d = c->dev;
    const struct rf_pbk_entry *first_dev = NULL;
    for (size_t i = 0; i < d->n_pbk && !first_dev; i++)
        if (pbk_is_device_tunnel(&d->pbk[i]) && pbk_registers_dns(&d->pbk[i]))
            first_dev = &d->pbk[i];
    if (!first_dev)
        return;
    for (size_t i = 0; i < d->n_pbk && c->rc == RF_OK; i++) {
        const struct rf_pbk_entry *e = &d->pbk[i];
        if (pbk_is_device_tunnel(e) || !pbk_registers_dns(e))
            continue;
        static const char *const keys[] = {"IpDnsFlags"};
        reason_add(c, "IpDnsFlags=%s here and on device tunnel %s", pbk_get(e, "IpDnsFlags"),
                   first_dev->connection ? first_dev->connection : "?");
        struct jw *w = finding_begin(c);
        jw_pbk_common(w, e, keys, N_KEYS(keys));
        jw_arr(w, "device_tunnels");
        for (size_t j = 0; j < d->n_pbk; j++) {
            const struct rf_pbk_entry *t = &d->pbk[j];
            if (!pbk_is_device_tunnel(t) || !pbk_registers_dns(t))
                continue;
            jw_obj(w, NULL);
            jw_str(w, "connection", t->connection);
            jw_str(w, "scope", rf_scope_name(t->scope));
            jw_str(w, "IpDnsFlags", pbk_get(t, "IpDnsFlags"));
            jw_end_obj(w);
        }
        jw_end_arr(w);
        finding_end(c, R_REGISTERDNS_BOTH, e->connection);
    }
}

/* ---- devtunnel-invariants ---- */

/* The device tunnels of a device, pbk entries first then policies, each
 * connection name once: item i < n_pbk is pbk[i], else policies[i - n_pbk]. */
static const char *devtun_name(const struct check_device *d, size_t i, bool *is_devtun)
{
    if (i < d->n_pbk) {
        *is_devtun = pbk_is_device_tunnel(&d->pbk[i]);
        return d->pbk[i].connection;
    }
    *is_devtun = d->policies[i - d->n_pbk].device_tunnel;
    return d->policies[i - d->n_pbk].connection;
}

static bool devtun_seen_before(const struct check_device *d, size_t upto, const char *name)
{
    for (size_t i = 0; i < upto; i++) {
        bool dt;
        const char *n = devtun_name(d, i, &dt);
        if (dt && str_eq(n, name))
            return true;
    }
    return false;
}

/* Appends one violation to the reason and the evidence array. value_str is
 * NULL for the boolean field (split_tunneling). */
static void devtun_violation(struct ctx *c, struct jw *w, const char *source,
                             const struct rf_pbk_entry *e, const char *field, const char *value_str,
                             const char *expected)
{
    if (!w) {
        reason_add(c, "%s%s=%s (want %s)", c->reason.len ? ", " : "", field,
                   value_str ? value_str : "false", expected);
        return;
    }
    jw_obj(w, NULL);
    jw_str(w, "source", source);
    if (e)
        jw_str(w, "scope", rf_scope_name(e->scope));
    jw_str(w, "field", field);
    if (value_str)
        jw_str(w, "value", value_str);
    else
        jw_bool(w, "value", false);
    jw_str(w, "expected", expected);
    jw_end_obj(w);
}

/* Visits every violation of the device tunnel called name: with w NULL it
 * only builds the reason; returns how many there are. */
static size_t devtun_violations(struct ctx *c, struct jw *w, const char *name)
{
    const struct check_device *d = c->dev;
    size_t n = 0;
    for (size_t i = 0; i < d->n_pbk; i++) {
        const struct rf_pbk_entry *e = &d->pbk[i];
        if (!pbk_is_device_tunnel(e) || !str_eq(e->connection, name))
            continue;
        struct pbk_val vs = pbk_int(e, "VpnStrategy");
        if (vs.raw && !(vs.valid && vs.v == 7)) {
            devtun_violation(c, w, "pbk", e, "VpnStrategy", vs.raw, "7");
            n++;
        }
        if (pbk_is(e, "IpPrioritizeRemote", 1)) {
            devtun_violation(c, w, "pbk", e, "IpPrioritizeRemote", pbk_get(e, "IpPrioritizeRemote"),
                             "0");
            n++;
        }
    }
    for (size_t i = 0; i < d->n_policies; i++) {
        const struct rf_vpn_policy *p = &d->policies[i];
        if (!p->device_tunnel || !str_eq(p->connection, name))
            continue;
        if (p->tunnel_type && !str_eq_ci(p->tunnel_type, "Ikev2")) {
            devtun_violation(c, w, "policy", NULL, "tunnel_type", p->tunnel_type, "Ikev2");
            n++;
        }
        if (p->auth_method && !str_eq_ci(p->auth_method, "MachineCertificate")) {
            devtun_violation(c, w, "policy", NULL, "auth_method", p->auth_method,
                             "MachineCertificate");
            n++;
        }
        if (!p->split_tunneling) {
            devtun_violation(c, w, "policy", NULL, "split_tunneling", NULL, "true");
            n++;
        }
    }
    return n;
}

static void check_devtunnel_invariants(struct ctx *c)
{
    const struct check_device *d = c->dev;
    for (size_t i = 0; i < d->n_pbk + d->n_policies && c->rc == RF_OK; i++) {
        bool dt;
        const char *name = devtun_name(d, i, &dt);
        if (!dt || devtun_seen_before(d, i, name))
            continue;
        if (devtun_violations(c, NULL, name) == 0) {
            reason_reset(c);
            continue;
        }
        struct jw *w = finding_begin(c);
        jw_arr(w, "violations");
        devtun_violations(c, w, name);
        jw_end_arr(w);
        finding_end(c, R_DEVTUNNEL_INVARIANTS, name);
    }
}

/* ---- IPsec policy rules ---- */

enum ipsec_field { F_CIPHER = 0, F_AUTH, F_ENCRYPTION, F_INTEGRITY, F_DH, F_PFS, F_COUNT };

static const char *const ipsec_field_names[F_COUNT] = {
    "cipher_transform",       "auth_transform", "encryption_method",
    "integrity_check_method", "dh_group",       "pfs_group",
};

static const char *ipsec_get(const struct rf_ipsec_policy *p, enum ipsec_field f)
{
    switch (f) {
    case F_CIPHER:
        return p->cipher_transform;
    case F_AUTH:
        return p->auth_transform;
    case F_ENCRYPTION:
        return p->encryption_method;
    case F_INTEGRITY:
        return p->integrity_check_method;
    case F_DH:
        return p->dh_group;
    case F_PFS:
        return p->pfs_group;
    case F_COUNT:
        break;
    }
    return NULL;
}

/* Weak values per field (PowerShell enum names, compared case-insensitively)
 * and what to use instead. */
static const struct {
    const char *weak[4]; /* NULL-terminated */
    const char *recommended;
} ipsec_weak[F_COUNT] = {
    [F_CIPHER] = {{"DES", "DES3", "None", NULL}, "AES128, GCMAES128 or stronger"},
    [F_AUTH] = {{"MD596", "SHA196", NULL}, "SHA256128, GCMAES128 or stronger"},
    [F_ENCRYPTION] = {{"DES", "DES3", NULL}, "AES128, GCMAES128 or stronger"},
    [F_INTEGRITY] = {{"MD5", "SHA1", NULL}, "SHA256 or SHA384"},
    [F_DH] = {{"Group1", "Group2", "None", NULL}, "Group14, ECP256 or stronger"},
    [F_PFS] = {{"PFS1", "PFS2", NULL}, "PFS2048, ECP256 or stronger"},
};

static bool ipsec_is_weak(const struct rf_ipsec_policy *p, enum ipsec_field f)
{
    const char *v = ipsec_get(p, f);
    for (size_t i = 0; v && ipsec_weak[f].weak[i]; i++)
        if (str_eq_ci(v, ipsec_weak[f].weak[i]))
            return true;
    return false;
}

/* The six values as an object, or null. */
static void jw_ipsec(struct jw *w, const char *key, const struct rf_ipsec_policy *p)
{
    if (!p) {
        jw_null(w, key);
        return;
    }
    jw_obj(w, key);
    for (int f = 0; f < F_COUNT; f++)
        jw_str(w, ipsec_field_names[f], ipsec_get(p, (enum ipsec_field)f));
    jw_end_obj(w);
}

static void jw_policy_common(struct jw *w, const struct rf_vpn_policy *p)
{
    jw_str(w, "tunnel_type", p->tunnel_type);
    jw_str(w, "server", p->server);
    jw_bool(w, "device_tunnel", p->device_tunnel);
}

/* Tunnel types whose connection can negotiate IKEv2. */
static bool uses_ikev2(const struct rf_vpn_policy *p)
{
    return str_eq_ci(p->tunnel_type, "Ikev2") || str_eq_ci(p->tunnel_type, "Automatic");
}

static void check_ipsec_default(struct ctx *c)
{
    for (size_t i = 0; i < c->dev->n_policies && c->rc == RF_OK; i++) {
        const struct rf_vpn_policy *p = &c->dev->policies[i];
        if (!uses_ikev2(p) || p->has_ipsec)
            continue;
        reason_add(c, "%s profile without a custom IPsec policy (defaults DES3/SHA1/Group2)",
                   p->tunnel_type);
        struct jw *w = finding_begin(c);
        jw_policy_common(w, p);
        jw_null(w, "ipsec");
        jw_obj(w, "negotiated_defaults");
        jw_str(w, "encryption_method", "DES3");
        jw_str(w, "integrity_check_method", "SHA1");
        jw_str(w, "dh_group", "Group2");
        jw_end_obj(w);
        finding_end(c, R_IPSEC_DEFAULT, p->connection);
    }
}

static void check_ipsec_weak(struct ctx *c)
{
    for (size_t i = 0; i < c->dev->n_policies && c->rc == RF_OK; i++) {
        const struct rf_vpn_policy *p = &c->dev->policies[i];
        if (!p->has_ipsec)
            continue;
        size_t n = 0;
        for (int f = 0; f < F_COUNT; f++)
            if (ipsec_is_weak(&p->ipsec, (enum ipsec_field)f))
                reason_add(c, "%s%s=%s", n++ ? ", " : "", ipsec_field_names[f],
                           ipsec_get(&p->ipsec, (enum ipsec_field)f));
        if (n == 0)
            continue;
        struct jw *w = finding_begin(c);
        jw_policy_common(w, p);
        jw_arr(w, "weak");
        for (int f = 0; f < F_COUNT; f++) {
            if (!ipsec_is_weak(&p->ipsec, (enum ipsec_field)f))
                continue;
            jw_obj(w, NULL);
            jw_str(w, "field", ipsec_field_names[f]);
            jw_str(w, "value", ipsec_get(&p->ipsec, (enum ipsec_field)f));
            jw_str(w, "recommended", ipsec_weak[f].recommended);
            jw_end_obj(w);
        }
        jw_end_arr(w);
        jw_ipsec(w, "ipsec", &p->ipsec);
        finding_end(c, R_IPSEC_WEAK, p->connection);
    }
}

static const char *or_none(const char *s)
{
    return s ? s : "(none)";
}

static bool ipsec_field_differs(const struct rf_ipsec_policy *a, const struct rf_ipsec_policy *b,
                                enum ipsec_field f)
{
    const char *x = ipsec_get(a, f);
    const char *y = ipsec_get(b, f);
    if (!x || !y)
        return x != y;
    return strcasecmp(x, y) != 0;
}

static void ipsec_mismatch_one(struct ctx *c, const struct rf_vpn_policy *p,
                               const struct ipsec_baseline *b)
{
    const struct rf_ipsec_policy *server = b->server_custom ? &b->policy : NULL;
    const struct rf_ipsec_policy *client = p->has_ipsec ? &p->ipsec : NULL;
    const char *kind;
    size_t n = 0;
    if (!client && !server)
        return;
    if (!client) {
        kind = "client_default";
        reason_add(c, "client on defaults, server custom policy");
    } else if (!server) {
        kind = "server_default";
        reason_add(c, "client custom policy, server on defaults");
    } else {
        kind = "different";
        for (int f = 0; f < F_COUNT; f++)
            if (ipsec_field_differs(client, server, (enum ipsec_field)f))
                reason_add(c, "%s%s %s != %s", n++ ? ", " : "", ipsec_field_names[f],
                           or_none(ipsec_get(client, (enum ipsec_field)f)),
                           or_none(ipsec_get(server, (enum ipsec_field)f)));
        if (n == 0)
            return;
    }
    struct jw *w = finding_begin(c);
    jw_policy_common(w, p);
    jw_str(w, "case", kind);
    jw_int(w, "error_code", 13868);
    jw_arr(w, "differing");
    for (int f = 0; client && server && f < F_COUNT; f++) {
        if (!ipsec_field_differs(client, server, (enum ipsec_field)f))
            continue;
        jw_obj(w, NULL);
        jw_str(w, "field", ipsec_field_names[f]);
        jw_str(w, "client", ipsec_get(client, (enum ipsec_field)f));
        jw_str(w, "server", ipsec_get(server, (enum ipsec_field)f));
        jw_end_obj(w);
    }
    jw_end_arr(w);
    jw_ipsec(w, "client_ipsec", client);
    jw_ipsec(w, "server_ipsec", server);
    finding_end(c, R_IPSEC_MISMATCH, p->connection);
}

static void check_ipsec_mismatch(struct ctx *c)
{
    if (!c->base || !c->base->configured)
        return;
    for (size_t i = 0; i < c->dev->n_policies && c->rc == RF_OK; i++)
        if (uses_ikev2(&c->dev->policies[i]))
            ipsec_mismatch_one(c, &c->dev->policies[i], c->base);
}

/* ---- the agent ---- */

static void jw_time(struct jw *w, const char *key, int64_t ms)
{
    char ts[TIME_RFC3339_MAX];
    time_format_rfc3339(ms, ts, sizeof(ts));
    jw_str(w, key, ts);
}

static void check_agent_spool_drops(struct ctx *c)
{
    const struct check_agent *a = c->dev->agent;
    if (!a || !a->status || !a->has_last_drop ||
        a->time_ms - a->last_drop_ms > CHECKS_AGENT_DROPS_RECENT_MS)
        return;
    const struct rf_agent_status *s = a->status;
    char last[TIME_RFC3339_MAX];
    time_format_rfc3339(a->last_drop_ms, last, sizeof(last));
    reason_add(c, "agent dropped %" PRId64 " batch%s", s->dropped_batches_total,
               s->dropped_batches_total == 1 ? "" : "es");
    if (s->has_dropped_records)
        reason_add(c, " (%" PRId64 " records)", s->dropped_records_total);
    reason_add(c, " from a full spool, the last reported %s", last);
    if (s->has_spool_limit && s->spool_limit_bytes > 0)
        reason_add(c, "; spool now %" PRId64 " of %" PRId64 " bytes", s->spool_bytes,
                   s->spool_limit_bytes);
    struct jw *w = finding_begin(c);
    jw_int(w, "dropped_batches_total", s->dropped_batches_total);
    if (s->has_dropped_records)
        jw_int(w, "dropped_records_total", s->dropped_records_total);
    if (s->has_rejected_batches)
        jw_int(w, "rejected_batches_total", s->rejected_batches_total);
    jw_time(w, "last_drop", a->last_drop_ms);
    jw_time(w, "status_time", a->time_ms);
    jw_int(w, "spool_bytes", s->spool_bytes);
    jw_int(w, "spool_batches", s->spool_batches);
    if (s->has_spool_limit)
        jw_int(w, "spool_limit_bytes", s->spool_limit_bytes);
    if (s->has_last_success)
        jw_time(w, "last_success", s->last_success_ms);
    else
        jw_null(w, "last_success");
    finding_end(c, R_AGENT_SPOOL_DROPS, NULL);
}

/* ---- entry point ---- */

int checks_run(const struct check_device *dev, const struct ipsec_baseline *baseline,
               check_emit_fn emit, void *arg)
{
    if (!dev || !emit || (dev->n_ifaces && !dev->ifaces) || (dev->n_pbk && !dev->pbk) ||
        (dev->n_policies && !dev->policies))
        return RF_EINVAL;
    struct ctx c = {.dev = dev, .base = baseline, .emit = emit, .arg = arg, .rc = RF_OK};
    buf_init(&c.reason);
    buf_init(&c.ev);

    check_metric_order(&c);
    for_each_pbk(&c, check_pbk_metric_entry);
    for_each_pbk(&c, check_pbk_classroute_entry);
    for_each_pbk(&c, check_pbk_mobility_entry);
    for_each_pbk(&c, check_pbk_fragmentation_entry);
    for_each_pbk(&c, check_pbk_alwayson_entry);
    for_each_pbk(&c, check_pbk_vpnstrategy_entry);
    if (c.rc == RF_OK)
        check_registerdns_both(&c);
    if (c.rc == RF_OK)
        check_devtunnel_invariants(&c);
    if (c.rc == RF_OK)
        check_ipsec_default(&c);
    if (c.rc == RF_OK)
        check_ipsec_weak(&c);
    if (c.rc == RF_OK)
        check_ipsec_mismatch(&c);
    if (c.rc == RF_OK)
        check_agent_spool_drops(&c);

    buf_free(&c.reason);
    buf_free(&c.ev);
    return c.rc;
}
