/*
 * catalog.c - the RasClient error and reason code catalogue. See catalog.h.
 *
 * What it is for: the analyzer and the read API turn the bare numbers of
 * RasClient 20227/20226 events into a meaning, the component where the
 * fix is made, and a remediation an administrator can act on.
 *
 * Where the data comes from: shared/domain/aovpn-reference.md (section 2.1
 * number forms, 2.2 error catalogue, 2.3 reason codes, 2.4 protocol facts,
 * section 7 rules and remediations, section 9 doubts), which cites
 * raserror.h, Microsoft's troubleshooting guide and Richard Hicks' posts
 * and scripts. Meanings follow Microsoft's error texts (Routing and Remote
 * Access error codes, System Error Codes, COM Error Codes (Security and
 * Setup)). Where the notes have no AOVPN-specific cause the entry says so
 * (basis GENERIC) instead of guessing; entries whose fix is reasoned
 * rather than documented are marked INFERRED. docs/catalogue.md shows the
 * same content and tests/unit/test_catalog.c checks that the two agree.
 *
 * Invariant: catalog_table is sorted by code (signed) without duplicates,
 * because lookups use bsearch(); test_catalog checks it. Strings are plain
 * ASCII and meanings are one sentence.
 */
#include "catalog.h"
#include "rasfleet/result.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sources (URLs cited by the research notes, plus the Microsoft error
 * code lists the meanings are taken from) ---- */
#define REF_RASERR                                                                                 \
    "https://github.com/mingw-w64/mingw-w64/blob/master/mingw-w64-headers/include/raserror.h"
#define REF_RRAS_ERRORS                                                                            \
    "https://learn.microsoft.com/en-us/windows/win32/rras/routing-and-remote-access-error-codes"
#define REF_WIN32_0                                                                                \
    "https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--0-499-"
#define REF_WIN32_1300                                                                             \
    "https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--1300-1699-"
#define REF_WIN32_12000                                                                            \
    "https://learn.microsoft.com/en-us/windows/win32/debug/system-error-codes--12000-15999-"
#define REF_COM_SECURITY "https://learn.microsoft.com/en-us/windows/win32/com/com-error-codes-4"
#define REF_MS_TS                                                                                  \
    "https://learn.microsoft.com/en-us/troubleshoot/windows-server/networking/"                    \
    "troubleshoot-always-on-vpn"
#define REF_MS_DEVTUN                                                                              \
    "https://learn.microsoft.com/en-us/windows-server/remote/remote-access/vpn/"                   \
    "vpn-device-tunnel-config"
#define REF_TN_ISS "http://technet.microsoft.com/library/3060ebb9-d91a-4f85-903f-dc865bd0692c"
#define REF_MS_CC733707                                                                            \
    "https://learn.microsoft.com/previous-versions/windows/it-pro/"                                \
    "windows-server-2008-r2-and-2008/cc733707(v=ws.10)"
#define REF_KB2980672 "https://support.microsoft.com/en-us/help/2980672"
#define REF_WINSYS_13887                                                                           \
    "https://docs.rs/windows-sys/0.34.0/windows_sys/Win32/Foundation/"                             \
    "constant.ERROR_IPSEC_IKE_CERT_CHAIN_POLICY_MISMATCH.html"
#define RH "https://directaccess.richardhicks.com"
#define REF_RH_20227 RH "/tag/event-id-20227/"
#define REF_RH_2018_02 RH "/2018/02/"
#define REF_RH_REASON16 RH "/2023/02/13/always-on-vpn-authentication-failed-reason-code-16/"
#define REF_RH_NPS_P5 RH "/tag/nps/page/5/"
#define REF_RH_IPV4 RH "/tag/ipv4/"
#define REF_RH_809 RH "/2019/02/14/troubleshooting-always-on-vpn-error-code-809/"
#define REF_RH_FRAG RH "/2019/02/11/always-on-vpn-and-ikev2-fragmentation/"
#define REF_RH_TROUBLESHOOTING_P3 RH "/tag/troubleshooting/page/3/"
#define REF_RH_INTUNE RH "/tag/intune/"
#define REF_RH_EAP RH "/tag/extensible-authentication-protocol/"
#define REF_RH_CERTIFICATE RH "/tag/certificate/"
#define REF_RH_864 RH "/tag/ikev2/page/9"
#define REF_RH_13801 RH "/2021/12/13/always-on-vpn-error-13801/"
#define REF_RH_13801_TAG RH "/tag/ike-authentication-credentials-are-unacceptable/"
#define REF_RH_13806 RH "/2021/12/20/always-on-vpn-error-13806"
#define REF_RH_13868 RH "/2019/09/02/always-on-vpn-ikev2-policy-mismatch-error/"
#define REF_RH_PKI RH "/category/public-key-infrastructure/"
#define REF_RH_RRAS RH "/category/routing-and-remote-access-service/"
#define REF_RH_IPSEC RH "/tag/ipsec/"
#define REF_GH_AOVPN "https://github.com/richardhicks/aovpn"
#define REF_GH_AOVPNTOOLS "https://github.com/richardhicks/aovpntools"
#define REF_GH_EPM "https://github.com/richardhicks/endpointmanager"

/* The phrase every GENERIC entry's remediation starts with. */
#define NO_SOURCE "No AOVPN-specific source in the research notes documents a cause for this code. "

#define C_UNKNOWN CATALOG_COMPONENT_UNKNOWN
#define C_CLIENT_CERT CATALOG_COMPONENT_CLIENT_CERTIFICATE
#define C_NPS CATALOG_COMPONENT_NPS
#define C_RRAS CATALOG_COMPONENT_RRAS
#define C_CA_CRL CATALOG_COMPONENT_CA_CRL
#define C_FIREWALL CATALOG_COMPONENT_FIREWALL_NAT
#define C_IKE_POLICY CATALOG_COMPONENT_IKE_POLICY
#define C_DNS CATALOG_COMPONENT_DNS
#define C_CLIENT_CONFIG CATALOG_COMPONENT_CLIENT_CONFIG
#define C_CLIENT_OS CATALOG_COMPONENT_CLIENT_OS
#define C_NETWORK CATALOG_COMPONENT_NETWORK

#define P_UNKNOWN CATALOG_PROTOCOL_UNKNOWN
#define P_IKEV2 CATALOG_PROTOCOL_IKEV2
#define P_SSTP CATALOG_PROTOCOL_SSTP
#define P_BOTH CATALOG_PROTOCOL_BOTH
#define P_L2TP CATALOG_PROTOCOL_L2TP
#define P_PPTP CATALOG_PROTOCOL_PPTP

#define DOCUMENTED CATALOG_BASIS_DOCUMENTED
#define INFERRED CATALOG_BASIS_INFERRED
#define GENERIC CATALOG_BASIS_GENERIC

#define BENIGN CATALOG_DISCONNECT_BENIGN
#define TUNNEL_LOSS CATALOG_DISCONNECT_TUNNEL_LOSS

/* Shared texts. */
#define REMEDY_BENIGN                                                                              \
    "Benign 20226 reason (user- or power-driven, per the research notes): nothing to fix. Keep "   \
    "it out of failure trends; a sudden rise on one device is only worth a look together with "    \
    "other codes."
#define PS_CLIENT_MACHINE_CERTS                                                                    \
    "Get-ChildItem Cert:\\LocalMachine\\My | Where-Object { $_.EnhancedKeyUsageList.ObjectId "     \
    "-contains '1.3.6.1.5.5.7.3.2' } | Format-List Subject, NotAfter, Issuer, "                    \
    "EnhancedKeyUsageList"
#define PS_USER_CERTS "Get-ChildItem Cert:\\CurrentUser\\My | Format-List Subject, NotAfter, Issuer"
#define PS_CRL_CHECK                                                                               \
    "certutil -urlfetch -verify .\\vpn-server-tls.cer  # run on an affected client outside the "   \
    "corporate network"

/* clang-format off */
static const struct catalog_entry catalog_table[] = {
    /* ---- HRESULTs (negative decimals in the event log) ---- */
    {
        .code = -2147024832, /* 0x80070040 */
        .symbol = "HRESULT_FROM_WIN32(ERROR_NETNAME_DELETED)",
        .meaning = "Win32 error 64 (the specified network name is no longer available) wrapped in "
                   "an HRESULT, which Microsoft's Always On VPN guide reports when the server "
                   "certificate lacks the Server Authentication EKU.",
        .component = C_RRAS, .protocol = P_IKEV2, .basis = DOCUMENTED,
        .remediation = "Reissue the RRAS IKEv2 certificate with the Server Authentication EKU "
                       "(1.3.6.1.5.5.7.3.1); Richard Hicks also adds the IP security IKE "
                       "intermediate EKU. The subject must be the public FQDN clients dial. "
                       "Install it on every RRAS server behind the name and restart RemoteAccess.",
        .powershell = "Get-ChildItem Cert:\\LocalMachine\\My | Format-List Subject, NotAfter, "
                      "EnhancedKeyUsageList  # on the RRAS server",
        .references = {REF_MS_TS, REF_WIN32_0},
    },
    {
        .code = -2146885628, /* 0x80092004 */
        .symbol = "CRYPT_E_NOT_FOUND",
        .meaning = "Cannot find object or property: a CryptoAPI lookup (for example of a "
                   "certificate or one of its properties) found nothing.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "This is CRYPT_E_NOT_FOUND, not a revocation error: do not "
                       "treat it as a CRL problem (some lookup tables wrongly call it "
                       "CRYPT_E_NO_REVOCATION_CHECK, which is -2146885614). As a starting "
                       "point (inference), check that the certificate the profile needs (user "
                       "or device) is present on the device and look at the stage the attempt "
                       "reached before it failed.",
        .powershell = NULL,
        .references = {REF_COM_SECURITY},
    },
    {
        .code = -2146885614, /* 0x80092012 */
        .symbol = "CRYPT_E_NO_REVOCATION_CHECK",
        .meaning = "The revocation function was unable to check revocation for the certificate.",
        .component = C_CA_CRL, .protocol = P_SSTP, .basis = INFERRED,
        .remediation = "Same family as CRYPT_E_REVOCATION_OFFLINE (-2146885613): the client "
                       "could not complete the revocation check of the VPN server's TLS "
                       "certificate. Make sure that certificate names a CRL distribution point "
                       "reachable from the Internet and that the CRL is published and current, "
                       "or use a TLS certificate from a public CA.",
        .powershell = PS_CRL_CHECK,
        .references = {REF_COM_SECURITY, REF_RH_PKI, REF_KB2980672},
    },
    {
        .code = -2146885613, /* 0x80092013 */
        .symbol = "CRYPT_E_REVOCATION_OFFLINE",
        .meaning = "The revocation function was unable to check revocation because the "
                   "revocation server was offline.",
        .component = C_CA_CRL, .protocol = P_SSTP, .basis = DOCUMENTED,
        .remediation = "SSTP clients check the CRL of the RRAS TLS certificate. With a "
                       "certificate from an internal CA whose CRL is not published on the "
                       "Internet the check fails: publish the CRL distribution point (CDP) at "
                       "an Internet-reachable URL, or replace the SSTP certificate with one "
                       "from a public CA. Also rule out an expired CRL, an unreachable CDP and "
                       "a stale client cache (Microsoft lists the same causes for DirectAccess "
                       "IP-HTTPS).",
        .powershell = PS_CRL_CHECK,
        .references = {REF_RH_PKI, REF_KB2980672, REF_COM_SECURITY},
    },
    {
        .code = -2146762495, /* 0x800B0101 */
        .symbol = "CERT_E_EXPIRED",
        .meaning = "A required certificate is not within its validity period.",
        .component = C_RRAS, .protocol = P_SSTP, .basis = DOCUMENTED,
        .remediation = "When every SSTP client of one server starts failing at once with this "
                       "code, the RRAS TLS (SSTP) certificate has expired; IKEv2 connections "
                       "keep working. Install a new certificate, bind it for SSTP in RRAS "
                       "(server properties, Security tab, SSL certificate binding) and restart "
                       "RemoteAccess. Richard Hicks' Get-SstpCertificateExpiration.ps1 (aovpn "
                       "repository) warns before it happens again.",
        .powershell = "Get-ChildItem Cert:\\LocalMachine\\My | Where-Object { $_.NotAfter -lt "
                      "(Get-Date).AddDays(30) } | Format-List Subject, NotAfter, Thumbprint  # "
                      "on the RRAS server",
        .references = {REF_RH_20227, REF_RH_PKI, REF_GH_AOVPN, REF_COM_SECURITY},
    },
    {
        .code = -2146762487, /* 0x800B0109 */
        .symbol = "CERT_E_UNTRUSTEDROOT",
        .meaning = "A certificate chain processed, but terminated in a root certificate that is "
                   "not trusted.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "The client does not trust the root of the VPN server's certificate. "
                       "Deploy the root CA certificate (and any intermediates) to the devices' "
                       "Trusted Root Certification Authorities store; typical for devices that "
                       "are not domain-joined or when the server certificate chains to an "
                       "alternate root.",
        .powershell = "Import-Certificate -FilePath .\\root-ca.cer -CertStoreLocation "
                      "Cert:\\LocalMachine\\Root",
        .references = {REF_MS_TS, REF_COM_SECURITY},
    },

    /* ---- generic Win32 errors ---- */
    {
        .code = 13,
        .symbol = "ERROR_INVALID_DATA",
        .meaning = "The data is invalid.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "It is the generic Win32 'invalid data' error. Look at the "
                       "last stage the attempt reached (20221..20224 events with the same "
                       "CoId) and at other codes on the same device to localise it.",
        .powershell = NULL,
        .references = {REF_WIN32_0},
    },
    {
        .code = 31,
        .symbol = "ERROR_GEN_FAILURE",
        .meaning = "A device attached to the system is not functioning.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "Only a server-side case is known: Richard Hicks reports RRAS "
                       "failing to start with this text when IPv6 was disabled through the "
                       "DisabledComponents registry value. If the failures began after an RRAS "
                       "change, check that IPv6 is not disabled there.",
        .powershell = NULL,
        .references = {REF_RH_RRAS, REF_WIN32_0},
    },
    {
        .code = 50,
        .symbol = "ERROR_NOT_SUPPORTED",
        .meaning = "The request is not supported.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "It is the generic Win32 'not supported' error. Compare the "
                       "affected devices' OS builds and profile settings with working ones.",
        .powershell = NULL,
        .references = {REF_WIN32_0},
    },
    {
        .code = 87,
        .symbol = "ERROR_INVALID_PARAMETER",
        .meaning = "The parameter is incorrect.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "It is the generic Win32 'parameter is incorrect' error. "
                       "Compare the affected devices' profile (rasphone.pbk entry, ProfileXML) "
                       "with a working device.",
        .powershell = NULL,
        .references = {REF_WIN32_0},
    },

    /* ---- RAS errors (raserror.h, RASBASE 600) ---- */
    {
        .code = 628,
        .symbol = "ERROR_DISCONNECTION",
        .meaning = "The port was disconnected.",
        .component = C_NETWORK, .protocol = P_BOTH, .basis = GENERIC,
        .disconnect = TUNNEL_LOSS,
        .remediation = NO_SOURCE "As a 20226 reason it is a tunnel loss worth trending (research "
                       "notes). Group by server, client network and time, and look for 807 or "
                       "829 on the same devices.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 629,
        .symbol = "ERROR_REMOTE_DISCONNECTION",
        .meaning = "The port was disconnected by the remote computer.",
        .component = C_RRAS, .protocol = P_BOTH, .basis = GENERIC,
        .disconnect = TUNNEL_LOSS,
        .remediation = NO_SOURCE "As a 20226 reason it is a tunnel loss worth trending (research "
                       "notes): the server side closed the tunnel. Check the RRAS (and NPS) "
                       "logs at the same time; the CoId of the client events is also logged "
                       "there.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 630,
        .symbol = "ERROR_HARDWARE_FAILURE",
        .meaning = "The port was disconnected due to hardware failure.",
        .component = C_NETWORK, .protocol = P_BOTH, .basis = GENERIC,
        .disconnect = TUNNEL_LOSS,
        .remediation = NO_SOURCE "As a 20226 reason it is a tunnel loss worth trending (research "
                       "notes). Check the client's network adapter and its driver on the "
                       "affected devices.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 631,
        .symbol = "ERROR_USER_DISCONNECTION",
        .meaning = "The port was disconnected by the user.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = REMEDY_BENIGN,
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 633,
        .symbol = "ERROR_PORT_NOT_AVAILABLE",
        .meaning = "The port is already in use or is not configured for remote access dial-out.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Microsoft lists it at the connecting-device stage (after event "
                       "20222). Check (inference) that the WAN Miniport (IKEv2) and (SSTP) "
                       "devices exist on the client and that no other connection holds the "
                       "port.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS, REF_TN_ISS},
    },
    {
        .code = 691,
        .symbol = "ERROR_AUTHENTICATION_FAILURE",
        .meaning = "Access was denied because the user name, password or authentication method "
                   "was not accepted.",
        .component = C_NPS, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "Two documented AOVPN causes. (1) SSTP clients using EAP client "
                       "certificates fail after TLS 1.0 was disabled on a Windows Server 2012 "
                       "R2 RRAS server: re-enable TLS 1.0 there or move RRAS to Windows Server "
                       "2016 or later. (2) NPS rejects valid certificate users with NPS reason "
                       "code 16 when older TPMs meet RSAE-PSS TLS signatures: remove the "
                       "RSAE-PSS entries from the clients' TLS signature list (Richard Hicks' "
                       "Detect-/Remediate-RsaePssCiphers.ps1); which client code that case "
                       "produces is not stated. Check the reason code in NPS event 6273.",
        .powershell = "Get-ItemPropertyValue -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\"
                      "Cryptography\\Configuration\\Local\\SSL\\00010003' -Name Functions  # "
                      "RSAE-PSS entries present?",
        .references = {REF_RASERR, REF_RH_2018_02, REF_RH_REASON16, REF_GH_EPM},
    },
    {
        .code = 703,
        .symbol = "ERROR_INTERACTIVE_MODE",
        .meaning = "The connection needs information from the user, but it was started where "
                   "no prompt can be shown.",
        .component = C_CLIENT_CONFIG, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Likely (inference): the EAP configuration prompts (server "
                       "validation prompt, certificate picker) during an automatic Always On "
                       "dial. A related documented symptom is the prompt 'Continue connecting? "
                       "We don't have enough info to validate the server' when the NPS names "
                       "in the EAP 'Connect to these servers' list do not match the NPS "
                       "certificate subject/SAN: correct that list (semicolon-separated, no "
                       "spaces) and deploy the NPS root to the clients.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RH_NPS_P5},
    },
    {
        .code = 720,
        .symbol = "ERROR_PPP_NO_PROTOCOLS_CONFIGURED",
        .meaning = "No PPP control protocol could be negotiated, so the client got no IP "
                   "configuration.",
        .component = C_RRAS, .protocol = P_SSTP, .basis = GENERIC,
        .remediation = NO_SOURCE "Likely (inference): RRAS could not give the client an "
                       "address because the static pool is exhausted or the DHCP server is "
                       "unreachable. Enlarge the static pool or, with DHCP, raise "
                       "InitialAddressPoolSize (RRAS leases DHCP addresses in blocks of 10). "
                       "On the server, look for 'No IP address is available to allocate to the "
                       "dial-in client' or 'Unable to contact a DHCP server'.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RH_IPV4, REF_MS_CC733707},
    },
    {
        .code = 800,
        .symbol = "ERROR_AUTOMATIC_VPN_FAILED",
        .meaning = "Unable to establish the VPN connection: with tunnel type Automatic every "
                   "protocol was tried and failed.",
        .component = C_FIREWALL, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "Automatic hides the real error. On a test device pin the tunnel type "
                       "(VpnStrategy 7 = IKEv2 only, 5 = SSTP only, 14 = IKEv2 then SSTP) to get "
                       "a protocol-specific code, make sure UDP 500 and 4500 (IKEv2) and TCP "
                       "443 (SSTP) reach the server, and check the IKE certificates on both "
                       "sides.",
        .powershell = "Set-VpnConnection -Name '<profile>' -TunnelType Ikev2",
        .references = {REF_RASERR, REF_MS_TS},
    },
    {
        .code = 801,
        .symbol = "ERROR_VALIDATING_SERVER_CERT",
        .meaning = "Windows cannot verify the digital certificate sent by the VPN server.",
        .component = C_RRAS, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Check the VPN server certificate: validity dates, a subject "
                       "equal to the name clients dial, and a chain the clients trust (compare "
                       "-2146762487 and 13801).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 806,
        .symbol = "ERROR_VPN_GRE_BLOCKED",
        .meaning = "A device between the client and the VPN server does not pass GRE packets, "
                   "which PPTP needs.",
        .component = C_FIREWALL, .protocol = P_PPTP, .basis = GENERIC,
        .remediation = NO_SOURCE "It concerns PPTP, which Always On VPN does not use: a device "
                       "dialing PPTP has a profile that is not pinned to IKEv2/SSTP. Set "
                       "VpnStrategy to 7, 5 or 14.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 807,
        .symbol = "ERROR_VPN_DISCONNECT",
        .meaning = "The network connection between the computer and the VPN server was "
                   "interrupted.",
        .component = C_NETWORK, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Microsoft's text names Internet latency or a VPN server at "
                       "capacity: check the clients' underlying networks and the server's "
                       "connection limits (an Azure VPN gateway takes at most 128 SSTP "
                       "connections).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 808,
        .symbol = "ERROR_VPN_REFUSED",
        .meaning = "The VPN server refused the connection, typically because its configuration "
                   "does not match the connection settings.",
        .component = C_RRAS, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Compare the profile (tunnel type, authentication method) "
                       "with what the RRAS server accepts, and check the RRAS logs for the same "
                       "CoId.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 809,
        .symbol = "ERROR_VPN_TIMEOUT",
        .meaning = "The VPN server did not respond, usually because a firewall, NAT device or "
                   "router between client and server does not pass the VPN traffic.",
        .component = C_FIREWALL, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "Check that the server's public name resolves, that the edge firewall "
                       "passes UDP 500 and 4500 (IKEv2) and TCP 443 (SSTP), the NAT rules, and "
                       "the load balancer (virtual IP, ports, health checks; UDP 500 and 4500 "
                       "of one client must reach the same server). If only IKEv2 fails, or only "
                       "on some networks: IKEv2 with client certificates sends packets over "
                       "1500 bytes (long chains, RSA keys over 2048 bits) and devices that drop "
                       "IP fragments break the exchange. Enable IKEv2 fragmentation on RRAS "
                       "(Windows Server 1803 or later, EnableServerFragmentation=1; aovpntools "
                       "Enable-VpnServerIKEv2Fragmentation.ps1), allow fragments, keep "
                       "Disable_IKEv2_Fragmentation=0 on clients, or fall back to SSTP.",
        .powershell = "New-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\"
                      "RemoteAccess\\Parameters\\Ikev2\\' -Name EnableServerFragmentation "
                      "-PropertyType DWORD -Value 1 -Force; Restart-Service RemoteAccess "
                      "-PassThru  # on each RRAS server",
        .references = {REF_RASERR, REF_RH_809, REF_RH_FRAG, REF_GH_AOVPNTOOLS, REF_MS_TS},
    },
    {
        .code = 810,
        .symbol = "ERROR_VPN_BAD_CERT",
        .meaning = "The VPN connection was not completed, typically because an incorrect or "
                   "expired certificate was used between client and server.",
        .component = C_CLIENT_CERT, .protocol = P_L2TP, .basis = GENERIC,
        .remediation = NO_SOURCE "It concerns L2TP/IPsec, which Always On VPN does not use: "
                       "pin the profile to IKEv2/SSTP (VpnStrategy 7, 5 or 14), then check the "
                       "certificates involved.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 811,
        .symbol = "ERROR_VPN_BAD_PSK",
        .meaning = "The VPN connection could not be established because of a pre-shared key "
                   "problem between client and server.",
        .component = C_CLIENT_CONFIG, .protocol = P_L2TP, .basis = GENERIC,
        .remediation = NO_SOURCE "It concerns L2TP/IPsec with a pre-shared key, which Always On "
                       "VPN does not use: pin the profile to IKEv2/SSTP (VpnStrategy 7, 5 or "
                       "14).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 812,
        .symbol = "ERROR_SERVER_POLICY",
        .meaning = "The connection was blocked by a policy on the RAS/VPN server, typically "
                   "because the authentication method does not match.",
        .component = C_NPS, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "User tunnel only (the device tunnel is authenticated by RRAS without "
                       "NPS). NPS requires an authentication condition the client cannot meet, "
                       "e.g. NPS wants PEAP with certificates while the client sends "
                       "EAP-MSCHAPv2 (RRAS logs event 20276): make the client EAP configuration "
                       "match the NPS network policy. Read the reason code of NPS event 6273 "
                       "(enable NPS auditing first). On a Windows Server 2012 R2 RRAS, also "
                       "check that TLS 1.0 was not disabled (see 691).",
        .powershell = "auditpol /set /subcategory:\"Network Policy Server\" /success:enable "
                      "/failure:enable  # on each NPS server",
        .references = {REF_RASERR, REF_MS_TS, REF_RH_2018_02, REF_RH_TROUBLESHOOTING_P3,
                       REF_RH_INTUNE},
    },
    {
        .code = 813,
        .symbol = "ERROR_BROADBAND_ACTIVE",
        .meaning = "A second broadband connection was attempted while one is already "
                   "established on the same device or port.",
        .component = C_CLIENT_OS, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "Check for other RAS connections (for example PPPoE or "
                       "mobile broadband) active on the affected devices.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 825,
        .symbol = "ERROR_INVALID_VPNSTRATEGY",
        .meaning = "The connection's VPN strategy (tunnel protocol choice) cannot be used, and "
                   "Microsoft's message for it says PPTP is incompatible with IPv6.",
        .component = C_CLIENT_CONFIG, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Check VpnStrategy in the profile's rasphone.pbk entry: AOVPN profiles "
                       "use 7 (IKEv2 only), 5 (SSTP only), 6 (SSTP first) or 14 (IKEv2 then "
                       "SSTP). A corrupt value or a PPTP/L2TP strategy is the likely cause. "
                       "Redeploy the profile or set it with Update-Rasphone.ps1 "
                       "-SetPreferredProtocol.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS, REF_GH_AOVPN},
    },
    {
        .code = 827,
        .symbol = "ERROR_IPSEC_SERVICE_STOPPED",
        .meaning = "The IKE and AuthIP IPsec Keying Modules service or the Base Filtering Engine "
                   "service is not running.",
        .component = C_CLIENT_OS, .protocol = P_IKEV2, .basis = INFERRED,
        .remediation = "Start the IKEEXT (IKE and AuthIP IPsec Keying Modules), BFE (Base "
                       "Filtering Engine) and PolicyAgent (IPsec Policy Agent) services on the "
                       "client and find out what stopped or disabled them (security software, "
                       "a hardening baseline or GPO).",
        .powershell = "Get-Service IKEEXT, BFE, PolicyAgent | Format-Table Name, Status, "
                      "StartType; Start-Service IKEEXT",
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 828,
        .symbol = "ERROR_IDLE_TIMEOUT",
        .meaning = "The connection was terminated because of idle timeout.",
        .component = C_CLIENT_CONFIG, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = "An idle disconnect that a setting asked for. The research notes do not "
                       "classify it; rasfleet counts it as benign (policy-driven). If Always On "
                       "tunnels should stay up, set IdleDisconnectSeconds=0 in the profile and "
                       "review the server's idle timeout.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 829,
        .symbol = "ERROR_LINK_FAILURE",
        .meaning = "The connection was dropped because of a link failure.",
        .component = C_NETWORK, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = TUNNEL_LOSS,
        .remediation = "Tunnel loss worth trending (research notes). Group by client network "
                       "type, server and time. For IKEv2, DisableMobility and NetworkOutageTime "
                       "in the profile decide how a lost underlying network ends the tunnel.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 830,
        .symbol = "ERROR_USER_LOGOFF",
        .meaning = "The connection was terminated because the user logged off.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = REMEDY_BENIGN,
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 831,
        .symbol = "ERROR_FAST_USER_SWITCH",
        .meaning = "The connection was terminated because of a user switch.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = REMEDY_BENIGN,
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 832,
        .symbol = "ERROR_HIBERNATION",
        .meaning = "The connection was terminated because of hibernation.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = REMEDY_BENIGN,
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 833,
        .symbol = "ERROR_SYSTEM_SUSPENDED",
        .meaning = "The connection was terminated because the system was suspended.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = BENIGN,
        .remediation = REMEDY_BENIGN,
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 834,
        .symbol = "ERROR_RASMAN_SERVICE_STOPPED",
        .meaning = "The connection was terminated because the Remote Access Connection Manager "
                   "service stopped.",
        .component = C_CLIENT_OS, .protocol = P_BOTH, .basis = INFERRED,
        .disconnect = TUNNEL_LOSS,
        .remediation = "The research notes do not classify it; rasfleet counts it as tunnel "
                       "loss because the tunnel dropped without a user or power event (a "
                       "shutdown or service restart can also cause it, so check the timing). "
                       "Look in the System log for RasMan stops or crashes on the device.",
        .powershell = "Get-WinEvent -FilterHashtable @{LogName='System'; ProviderName='Service "
                      "Control Manager'} -MaxEvents 200 | Where-Object Message -match 'Remote "
                      "Access Connection Manager'",
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 835,
        .symbol = "ERROR_INVALID_SERVER_CERT",
        .meaning = "The security layer could not authenticate the remote computer because "
                   "fields of its certificate could not be validated as belonging to the "
                   "destination.",
        .component = C_RRAS, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Microsoft's text points at the names in the server "
                       "certificate: make sure its subject/SAN equals the server name in the "
                       "profile (compare 13801).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 843,
        .symbol = "ERROR_MOBIKE_DISABLED",
        .meaning = "Mobility is disabled for this connection.",
        .component = C_CLIENT_CONFIG, .protocol = P_IKEV2, .basis = INFERRED,
        .disconnect = TUNNEL_LOSS,
        .remediation = "The IKEv2 tunnel could not move to a new underlying network because "
                       "mobility is off (DisableMobility=1, which Richard Hicks' remediation "
                       "scripts set on purpose). The research notes do not classify it; "
                       "rasfleet counts it as tunnel loss. If these drops matter more than fast "
                       "failover, use DisableMobility=0 with a NetworkOutageTime instead; pick "
                       "one fleet policy, never both.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS, REF_GH_EPM},
    },
    {
        .code = 844,
        .symbol = "ERROR_CANNOT_INITIATE_MOBIKE_UPDATE",
        .meaning = "A mobility (MOBIKE) update was attempted while the connection was still "
                   "connecting or re-authenticating.",
        .component = C_NETWORK, .protocol = P_IKEV2, .basis = INFERRED,
        .disconnect = TUNNEL_LOSS,
        .remediation = "The underlying network changed while the tunnel was not yet connected. "
                       "The research notes do not classify it; rasfleet counts it as tunnel "
                       "loss. Trend it together with event 20278 (MOBIKE update failed) per "
                       "client network.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 848,
        .symbol = "ERROR_SSTP_COOKIE_SET_FAILURE",
        .meaning = "An internal error occurred while adding cookies to the SSTP connection.",
        .component = C_RRAS, .protocol = P_SSTP, .basis = GENERIC,
        .remediation = NO_SOURCE "Microsoft's text asks for the client's System event log. SSTP "
                       "runs over HTTPS, so also check (inference) whatever terminates or "
                       "inspects TLS in front of RRAS (load balancer, proxy).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 853,
        .symbol = "ERROR_EAP_USER_CERT_INVALID",
        .meaning = "Authentication failed because the certificate that authenticates the client "
                   "to the server is not valid.",
        .component = C_NPS, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "Two documented causes. (1) The issuing CA certificate of the user "
                       "certificates is missing from the NTAuth store that NPS uses: check it "
                       "and publish the CA to NTAuth with certutil. (2) Windows 11 compares the "
                       "NPS server names in the PEAP 'Connect to these servers' list "
                       "case-sensitively with the NPS certificate subject/SAN (NPS.lab... vs "
                       "nps.lab... fails): make the case match exactly. Failures concentrated "
                       "on Windows 11 right after upgrades point to (2), fleet-wide failures "
                       "to (1).",
        .powershell = "certutil -enterprise -viewstore NTAuth  # add a missing CA with: "
                      "certutil -dspublish -f .\\issuing-ca.cer NTAuthCA",
        .references = {REF_RASERR, REF_RH_EAP, REF_RH_CERTIFICATE},
    },
    {
        .code = 854,
        .symbol = "ERROR_EAP_USER_CERT_EXPIRED",
        .meaning = "Authentication failed because the certificate that authenticates the client "
                   "to the server has expired.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Re-enroll the user certificate (Intune SCEP/PKCS profile or "
                       "autoenrollment) and find out why it was not renewed before it expired.",
        .powershell = PS_USER_CERTS,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 855,
        .symbol = "ERROR_EAP_USER_CERT_REVOKED",
        .meaning = "Authentication failed because the certificate that authenticates the client "
                   "to the server has been revoked.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Issue the user a new certificate and remove the revoked one from the "
                       "device; if revocation was not intended, check the CA's revocation list.",
        .powershell = PS_USER_CERTS,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 856,
        .symbol = "ERROR_EAP_USER_CERT_OTHER_ERROR",
        .meaning = "Authentication failed because of an error in the certificate that "
                   "authenticates the client to the server.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Check the user certificate on the device (validity, chain, private key, "
                       "Client Authentication EKU) and re-enroll it if in doubt.",
        .powershell = PS_USER_CERTS,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 857,
        .symbol = "ERROR_EAP_SERVER_CERT_INVALID",
        .meaning = "Authentication failed because the certificate the client uses to "
                   "authenticate the server is not valid.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Fix the NPS server certificate: Server Authentication EKU, subject/SAN "
                       "equal to a name in the clients' EAP 'Connect to these servers' list, "
                       "issued by the organisation's CA, and selected in the NPS network "
                       "policy's PEAP properties.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RH_864},
    },
    {
        .code = 858,
        .symbol = "ERROR_EAP_SERVER_CERT_EXPIRED",
        .meaning = "Authentication failed because the certificate the client uses to "
                   "authenticate the server has expired.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Renew the NPS server certificate and select the new one in the NPS "
                       "network policy's PEAP properties.",
        .powershell = "Get-ChildItem Cert:\\LocalMachine\\My | Format-List Subject, NotAfter, "
                      "Thumbprint  # on each NPS server",
        .references = {REF_RASERR, REF_RH_20227},
    },
    {
        .code = 859,
        .symbol = "ERROR_EAP_SERVER_CERT_REVOKED",
        .meaning = "Authentication failed because the certificate the client uses to "
                   "authenticate the server has been revoked.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Issue the NPS server a new certificate and select it in the NPS network "
                       "policy's PEAP properties.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 860,
        .symbol = "ERROR_EAP_SERVER_CERT_OTHER_ERROR",
        .meaning = "Authentication failed because of an error in the certificate the client "
                   "uses to authenticate the server.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Check the NPS server certificate (validity, chain, Server Authentication "
                       "EKU, subject/SAN matching the clients' EAP configuration) and the "
                       "certificate selected in the NPS network policy.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 861,
        .symbol = "ERROR_EAP_USER_ROOT_CERT_NOT_FOUND",
        .meaning = "Authentication failed because no trusted root certificate that validates "
                   "the user certificate was found.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "On the NPS servers, install the root (and intermediate) certificates of "
                       "the CA that issues the user certificates, and keep the issuing CA in "
                       "NTAuth (see 853).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 862,
        .symbol = "ERROR_EAP_USER_ROOT_CERT_INVALID",
        .meaning = "Authentication failed because the trusted root certificate used to validate "
                   "the user certificate is not valid.",
        .component = C_NPS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Check the root certificate of the user certificates' CA in the NPS "
                       "servers' Trusted Root store and replace it with a valid copy.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 863,
        .symbol = "ERROR_EAP_USER_ROOT_CERT_EXPIRED",
        .meaning = "Authentication failed because the trusted root certificate that validates "
                   "the user certificate has expired.",
        .component = C_CA_CRL, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "The root CA certificate has expired: renew the root, distribute the new "
                       "root to the NPS servers, and re-issue the user certificates under it.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 864,
        .symbol = "ERROR_EAP_SERVER_ROOT_CERT_NOT_FOUND",
        .meaning = "Authentication failed because the client found no trusted root certificate "
                   "for the authentication server's certificate.",
        .component = C_NPS, .protocol = P_BOTH, .basis = DOCUMENTED,
        .remediation = "The NPS certificate is missing or wrong: its subject must match the NPS "
                       "name in the client's EAP configuration (or the load-balanced alias), it "
                       "needs the Server Authentication EKU, and it must be the certificate "
                       "selected in the NPS network policy's PEAP properties. The clients also "
                       "need the issuing root in Trusted Root Certification Authorities.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RH_864},
    },
    {
        .code = 865,
        .symbol = "ERROR_EAP_SERVER_ROOT_CERT_INVALID",
        .meaning = "Authentication failed because the trusted root certificate that validates "
                   "the server certificate is not valid.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Check the copy of the NPS certificate's root in the clients' "
                       "Trusted Root store (expired or replaced root) and redeploy it.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 866,
        .symbol = "ERROR_EAP_SERVER_ROOT_CERT_NAME_REQUIRED",
        .meaning = "Authentication failed because the certificate on the server computer does "
                   "not have a server name specified.",
        .component = C_NPS, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Check that the NPS certificate carries the server name (subject "
                       "or SAN) and that the clients' EAP configuration names that server in "
                       "'Connect to these servers'.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 867,
        .symbol = "ERROR_PEAP_IDENTITY_MISMATCH",
        .meaning = "The PEAP outer identity is not the same as the inner identity while "
                   "identity privacy is off.",
        .component = C_CLIENT_CONFIG, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Review the identity privacy setting of the PEAP configuration "
                       "in the profile's EAP XML.",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 868,
        .symbol = "ERROR_DNSNAME_NOT_RESOLVABLE",
        .meaning = "The connection was not made because the name of the remote access server "
                   "did not resolve.",
        .component = C_DNS, .protocol = P_BOTH, .basis = INFERRED,
        .remediation = "Check the profile's server address for typos and that it resolves in "
                       "public DNS from where the clients are; one device alone points to its "
                       "local resolver, the whole fleet to the public record.",
        .powershell = "(Get-VpnConnection -Name '<profile>').ServerAddress | ForEach-Object { "
                      "Resolve-DnsName -Name $_ }",
        .references = {REF_RASERR, REF_MS_TS},
    },
    {
        .code = 869,
        .symbol = "ERROR_EAPTLS_PASSWD_INVALID",
        .meaning = "The password provided for the certificate is not valid.",
        .component = C_CLIENT_CERT, .protocol = P_BOTH, .basis = GENERIC,
        .remediation = NO_SOURCE "Check how the user certificate's private key is protected on "
                       "the affected devices (smart card PIN, password-protected key).",
        .powershell = NULL,
        .references = {REF_RASERR, REF_RRAS_ERRORS},
    },
    {
        .code = 1460,
        .symbol = "ERROR_TIMEOUT",
        .meaning = "This operation returned because the timeout period expired.",
        .component = C_UNKNOWN, .protocol = P_UNKNOWN, .basis = GENERIC,
        .remediation = NO_SOURCE "It is the generic Win32 timeout. Look at the last stage the "
                       "attempt reached (20221..20224 with the same CoId) and at 809 on the "
                       "same devices.",
        .powershell = NULL,
        .references = {REF_WIN32_1300},
    },

    /* ---- IKE/IPsec errors (winerror.h, 138xx) ---- */
    {
        .code = 13801,
        .symbol = "ERROR_IPSEC_IKE_AUTH_FAIL",
        .meaning = "IKE authentication credentials are unacceptable.",
        .component = C_RRAS, .protocol = P_IKEV2, .basis = DOCUMENTED,
        .remediation = "Fleet-wide: the RRAS IKEv2 certificate lacks the Server Authentication "
                       "EKU (Richard Hicks adds the IP security IKE intermediate EKU too), has "
                       "expired, its subject is not the public FQDN the clients dial, or the "
                       "clients lack its root; fix the certificate or deploy the root. "
                       "Intermittent on one device (13801 alternating with successes): several "
                       "Client Authentication certificates in the machine store and Windows "
                       "sometimes picks the wrong one; add the IP security IKE intermediate EKU "
                       "to the VPN device certificate template (Windows prefers it) or set "
                       "MachineCertificateEKUFilter on the profile.",
        .powershell = PS_CLIENT_MACHINE_CERTS "  # more than one? see the intermittent case",
        .references = {REF_RH_13801, REF_RH_13801_TAG, REF_MS_TS, REF_GH_EPM, REF_WIN32_12000},
    },
    {
        .code = 13806,
        .symbol = "ERROR_IPSEC_IKE_NO_CERT",
        .meaning = "IKE failed to find a valid machine certificate.",
        .component = C_CLIENT_CERT, .protocol = P_IKEV2, .basis = DOCUMENTED,
        .remediation = "Most often the device tunnel's machine certificate is missing or "
                       "unusable: it needs the Client Authentication EKU (1.3.6.1.5.5.7.3.2), "
                       "the device FQDN as subject, and must be valid, trusted and not revoked; "
                       "check enrollment on the device. Missing root or intermediate "
                       "certificates on either side, or a missing machine certificate on the "
                       "VPN server, cause it too.",
        .powershell = PS_CLIENT_MACHINE_CERTS,
        .references = {REF_RH_13806, REF_MS_TS, REF_WIN32_12000},
    },
    {
        .code = 13817,
        .symbol = "ERROR_IPSEC_IKE_CRL_FAILED",
        .meaning = "The certificate revocation check failed.",
        .component = C_CA_CRL, .protocol = P_IKEV2, .basis = INFERRED,
        .remediation = "The CRL of the certificate being checked is unreachable or expired: "
                       "publish it where the checking side can reach it and keep it current. "
                       "RRAS only checks revocation of IKEv2 client certificates when "
                       "CertAuthFlags=4 is set (KB4505658 on Server 2019, KB4503294 on 2016; "
                       "aovpntools Enable-Ikev2CrlCheck.ps1), so turning that on can start "
                       "these failures.",
        .powershell = "Get-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\"
                      "RemoteAccess\\Parameters\\Ikev2\\' -Name CertAuthFlags  # on RRAS; 4 = "
                      "CRL check enforced",
        .references = {REF_WIN32_12000, REF_GH_AOVPNTOOLS},
    },
    {
        .code = 13825,
        .symbol = "ERROR_IPSEC_IKE_NO_POLICY",
        .meaning = "No IKE policy is configured.",
        .component = C_IKE_POLICY, .protocol = P_IKEV2, .basis = GENERIC,
        .remediation = NO_SOURCE "Compare the IPsec policy of the profile with the server's "
                       "(see 13868).",
        .powershell = NULL,
        .references = {REF_WIN32_12000},
    },
    {
        .code = 13827,
        .symbol = "ERROR_IPSEC_IKE_KERBEROS_ERROR",
        .meaning = "IKE failed to authenticate using Kerberos.",
        .component = C_UNKNOWN, .protocol = P_IKEV2, .basis = GENERIC,
        .remediation = NO_SOURCE "It is not a code Always On VPN troubleshooting sources "
                       "mention (AOVPN uses certificates, not Kerberos, for IKEv2); check "
                       "whether another IPsec policy on the device is involved.",
        .powershell = NULL,
        .references = {REF_WIN32_12000},
    },
    {
        .code = 13843,
        .symbol = "ERROR_IPSEC_IKE_INVALID_PAYLOAD",
        .meaning = "An invalid IKE payload was received.",
        .component = C_UNKNOWN, .protocol = P_IKEV2, .basis = GENERIC,
        .remediation = NO_SOURCE "One unverified report: the EAP blob (repeated CustomAuthData "
                       "lines) in rasphone.pbk was corrupted by a script that rewrote the file "
                       "as an INI. If the failures follow a pbk edit, redeploy the profile.",
        .powershell = NULL,
        .references = {REF_WIN32_12000},
    },
    {
        .code = 13848,
        .symbol = "ERROR_IPSEC_IKE_PEER_CRL_FAILED",
        .meaning = "The revocation check of the peer's certificate failed.",
        .component = C_CA_CRL, .protocol = P_IKEV2, .basis = INFERRED,
        .remediation = "The CRL of the peer's certificate is unreachable or expired: publish it "
                       "where the checking side can reach it and keep it current (see 13817 for "
                       "RRAS CertAuthFlags).",
        .powershell = NULL,
        .references = {REF_WIN32_12000, REF_GH_AOVPNTOOLS},
    },
    {
        .code = 13868,
        .symbol = "ERROR_IPSEC_IKE_POLICY_MATCH",
        .meaning = "Policy match error: the client's and the server's IKE/IPsec proposals have "
                   "nothing in common.",
        .component = C_IKE_POLICY, .protocol = P_IKEV2, .basis = DOCUMENTED,
        .remediation = "Compare the server policy (Get-VpnServerIPsecConfiguration on RRAS) with "
                       "the client's IPsecCustomPolicy and make all six values identical: change "
                       "the server with Set-VpnServerConfiguration -CustomPolicy or the clients "
                       "with Set-VpnConnectionIPsecConfiguration / ProfileXML "
                       "CryptographySuite. A client with a custom policy against a server on "
                       "defaults (or the reverse) also fails.",
        .powershell = "Get-VpnServerIPsecConfiguration  # on RRAS\n"
                      "Get-VpnConnection -Name '<profile>' | Select-Object -ExpandProperty "
                      "IPsecCustomPolicy  # on the client; add -AllUserConnection for the device "
                      "tunnel",
        .references = {REF_RH_13868, REF_WIN32_12000},
    },
    {
        .code = 13881,
        .symbol = "ERROR_IPSEC_IKE_INVALID_CERT_KEYLEN",
        .meaning = "The key length in the certificate is too small for the configured security "
                   "requirements.",
        .component = C_CLIENT_CERT, .protocol = P_IKEV2, .basis = GENERIC,
        .remediation = NO_SOURCE "Reissue the certificate with a larger key (RSA 2048 bits or "
                       "more); check both the device certificate and the RRAS IKEv2 "
                       "certificate. Larger keys make IKE packets bigger, so keep IKEv2 "
                       "fragmentation enabled (see 809).",
        .powershell = NULL,
        .references = {REF_WIN32_12000},
    },
    {
        .code = 13887,
        .symbol = "ERROR_IPSEC_IKE_CERT_CHAIN_POLICY_MISMATCH",
        .meaning = "The certificate does not chain to a trusted root in the IPsec policy.",
        .component = C_RRAS, .protocol = P_IKEV2, .basis = GENERIC,
        .remediation = NO_SOURCE "Likely (inference) for the device tunnel: RRAS accepts machine "
                       "certificates only from the root set with Set-VpnAuthProtocol "
                       "-RootCertificateNameToAccept; make sure it names the root that issues "
                       "the device certificates (Set-VpnAuthProtocol can pick the wrong copy "
                       "when the root store holds several).",
        .powershell = "Get-VpnAuthProtocol  # on RRAS: check RootCertificateNameToAccept",
        .references = {REF_WINSYS_13887, REF_WIN32_12000, REF_RH_IPSEC, REF_MS_DEVTUN},
    },
};
/* clang-format on */

#define CATALOG_TABLE_LEN (sizeof(catalog_table) / sizeof(catalog_table[0]))

/* ---- number forms ---- */

/* Two's complement fold without implementation-defined conversion. */
static int32_t fold_u32(uint32_t u)
{
    if (u <= (uint32_t)INT32_MAX)
        return (int32_t)u;
    return (int32_t)(u - 0x80000000u) + INT32_MIN;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1..8 hex digits, nothing else. */
static bool parse_hex(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 8)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = hex_digit(s[i]);
        if (d < 0)
            return false;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return true;
}

/* Optional '-', then 1+ decimal digits; range -2^31 .. 2^32-1. */
static bool parse_decimal(const char *s, size_t len, int32_t *out)
{
    bool neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (neg) {
        if (v > 0x80000000u)
            return false;
        *out = v == 0x80000000u ? INT32_MIN : -(int32_t)v;
        return true;
    }
    *out = fold_u32((uint32_t)v);
    return true;
}

bool catalog_parse_code(const char *s, int32_t *out)
{
    if (!s)
        return false;
    size_t len = strnlen(s, 24);
    if (len == 0 || len >= 24)
        return false;
    uint32_t u;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (!parse_hex(s + 2, len - 2, &u))
            return false;
        *out = fold_u32(u);
        return true;
    }
    if (len == 8 && parse_hex(s, len, &u)) {
        *out = fold_u32(u);
        return true;
    }
    return parse_decimal(s, len, out);
}

void catalog_code_forms(int32_t code, struct catalog_forms *out)
{
    memset(out, 0, sizeof(*out));
    uint32_t u = (uint32_t)code;
    out->code = code;
    out->unsigned_value = u;
    snprintf(out->decimal, sizeof(out->decimal), "%" PRId32, code);
    out->win32_code = -1;
    if (code >= 0) {
        snprintf(out->hex, sizeof(out->hex), "0x%" PRIX32, u);
        out->facility_kind = CATALOG_FACILITY_NONE;
        return;
    }
    snprintf(out->hex, sizeof(out->hex), "0x%08" PRIX32, u);
    out->is_hresult = true;
    out->facility = (uint16_t)((u >> 16) & 0x7FF);
    switch (out->facility) {
    case 0x0B:
        out->facility_kind = CATALOG_FACILITY_CERT;
        break;
    case 0x09:
        out->facility_kind = CATALOG_FACILITY_SECURITY;
        break;
    case 0x07:
        out->facility_kind = CATALOG_FACILITY_WIN32;
        out->win32_code = (int32_t)(u & 0xFFFF);
        break;
    case 0x42:
        out->facility_kind = CATALOG_FACILITY_EAPHOST;
        break;
    default:
        out->facility_kind = CATALOG_FACILITY_OTHER;
        break;
    }
}

/* ---- lookup and iteration ---- */

static int compare_code(const void *key, const void *elem)
{
    int32_t a = *(const int32_t *)key;
    int32_t b = ((const struct catalog_entry *)elem)->code;
    return (a > b) - (a < b);
}

const struct catalog_entry *catalog_lookup(int32_t code)
{
    return bsearch(&code, catalog_table, CATALOG_TABLE_LEN, sizeof(catalog_table[0]), compare_code);
}

const struct catalog_entry *catalog_lookup_reason(int32_t reason)
{
    const struct catalog_entry *e = catalog_lookup(reason);
    return e && e->disconnect != CATALOG_DISCONNECT_NONE ? e : NULL;
}

size_t catalog_count(void)
{
    return CATALOG_TABLE_LEN;
}

const struct catalog_entry *catalog_at(size_t i)
{
    return i < CATALOG_TABLE_LEN ? &catalog_table[i] : NULL;
}

size_t catalog_ref_count(const struct catalog_entry *e)
{
    size_t n = 0;
    while (n < CATALOG_MAX_REFS && e->references[n])
        n++;
    return n;
}

/* ---- names ---- */

const char *catalog_component_name(enum catalog_component c)
{
    switch (c) {
    case CATALOG_COMPONENT_CLIENT_CERTIFICATE:
        return "client_certificate";
    case CATALOG_COMPONENT_NPS:
        return "nps";
    case CATALOG_COMPONENT_RRAS:
        return "rras";
    case CATALOG_COMPONENT_CA_CRL:
        return "ca_crl";
    case CATALOG_COMPONENT_FIREWALL_NAT:
        return "firewall_nat";
    case CATALOG_COMPONENT_IKE_POLICY:
        return "ike_policy";
    case CATALOG_COMPONENT_DNS:
        return "dns";
    case CATALOG_COMPONENT_CLIENT_CONFIG:
        return "client_config";
    case CATALOG_COMPONENT_CLIENT_OS:
        return "client_os";
    case CATALOG_COMPONENT_NETWORK:
        return "network";
    case CATALOG_COMPONENT_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *catalog_protocol_name(enum catalog_protocol p)
{
    switch (p) {
    case CATALOG_PROTOCOL_IKEV2:
        return "ikev2";
    case CATALOG_PROTOCOL_SSTP:
        return "sstp";
    case CATALOG_PROTOCOL_BOTH:
        return "both";
    case CATALOG_PROTOCOL_L2TP:
        return "l2tp";
    case CATALOG_PROTOCOL_PPTP:
        return "pptp";
    case CATALOG_PROTOCOL_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *catalog_basis_name(enum catalog_basis b)
{
    switch (b) {
    case CATALOG_BASIS_DOCUMENTED:
        return "documented";
    case CATALOG_BASIS_INFERRED:
        return "inferred";
    case CATALOG_BASIS_GENERIC:
        return "generic";
    }
    return "unknown";
}

const char *catalog_disconnect_name(enum catalog_disconnect d)
{
    switch (d) {
    case CATALOG_DISCONNECT_NONE:
        return "none";
    case CATALOG_DISCONNECT_BENIGN:
        return "benign";
    case CATALOG_DISCONNECT_TUNNEL_LOSS:
        return "tunnel_loss";
    }
    return "unknown";
}

const char *catalog_facility_name(enum catalog_facility f)
{
    switch (f) {
    case CATALOG_FACILITY_NONE:
        return "none";
    case CATALOG_FACILITY_CERT:
        return "cert";
    case CATALOG_FACILITY_SECURITY:
        return "security";
    case CATALOG_FACILITY_WIN32:
        return "win32";
    case CATALOG_FACILITY_EAPHOST:
        return "eaphost";
    case CATALOG_FACILITY_OTHER:
        return "other";
    }
    return "unknown";
}

/* ---- JSON ---- */

/* "key": "value" with a leading comma; every string goes through
 * buf_append_json_str. */
static int put_str(struct buf *out, const char *key, const char *value)
{
    int rc = buf_printf(out, ",\"%s\":", key);
    if (rc == RF_OK)
        rc = buf_append_json_str(out, value);
    return rc;
}

static int put_forms(struct buf *out, const struct catalog_forms *f, bool known)
{
    int rc = buf_printf(out, "{\"code\":%" PRId32 ",\"hex\":", f->code);
    if (rc == RF_OK)
        rc = buf_append_json_str(out, f->hex);
    if (rc == RF_OK)
        rc = buf_printf(out, ",\"known\":%s", known ? "true" : "false");
    if (rc == RF_OK && f->is_hresult)
        rc = put_str(out, "facility", catalog_facility_name(f->facility_kind));
    if (rc == RF_OK && f->win32_code >= 0)
        rc = buf_printf(out, ",\"win32_code\":%" PRId32, f->win32_code);
    return rc;
}

static int put_remediation(struct buf *out, const struct catalog_entry *e)
{
    int rc = buf_append_str(out, ",\"remediation\":{\"text\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(out, e->remediation);
    if (rc == RF_OK && e->powershell)
        rc = put_str(out, "powershell", e->powershell);
    if (rc == RF_OK)
        rc = buf_append_str(out, ",\"references\":[");
    size_t n = catalog_ref_count(e);
    for (size_t i = 0; i < n && rc == RF_OK; i++) {
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == RF_OK)
            rc = buf_append_json_str(out, e->references[i]);
    }
    if (rc == RF_OK)
        rc = buf_append_str(out, "]}");
    return rc;
}

int catalog_entry_to_json(const struct catalog_entry *e, int32_t code, struct buf *out)
{
    if (e && e->code != code)
        return RF_EINVAL;
    size_t saved = out->len;
    struct catalog_forms forms;
    catalog_code_forms(code, &forms);

    int rc = put_forms(out, &forms, e != NULL);
    if (rc != RF_OK || !e)
        goto out;
    if ((rc = put_str(out, "symbol", e->symbol)) != RF_OK)
        goto out;
    if ((rc = put_str(out, "meaning", e->meaning)) != RF_OK)
        goto out;
    if ((rc = put_str(out, "component", catalog_component_name(e->component))) != RF_OK)
        goto out;
    if ((rc = put_str(out, "protocol", catalog_protocol_name(e->protocol))) != RF_OK)
        goto out;
    if ((rc = put_str(out, "basis", catalog_basis_name(e->basis))) != RF_OK)
        goto out;
    if (e->disconnect != CATALOG_DISCONNECT_NONE &&
        (rc = put_str(out, "disconnect", catalog_disconnect_name(e->disconnect))) != RF_OK)
        goto out;
    rc = put_remediation(out, e);
out:
    if (rc == RF_OK)
        rc = buf_append_char(out, '}');
    if (rc != RF_OK) {
        out->len = saved;
        if (out->data)
            out->data[saved] = '\0';
    }
    return rc;
}
