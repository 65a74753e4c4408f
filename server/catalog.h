/*
 * catalog.h - the RasClient error and reason code catalogue.
 *
 * A static, read-only table of the codes Always On VPN clients report in
 * RasClient events 20227 (error code of a failed dial) and 20226 (reason
 * code of a terminated connection): RAS errors (600..870), IKE/IPsec Win32
 * errors (138xx), generic Win32 errors and certificate/CryptoAPI HRESULTs,
 * which the event log prints as negative decimals (-2146762495 =
 * 0x800B0101 = CERT_E_EXPIRED). Each entry says what the code means, where
 * the fix is made (component), which tunnel protocol it concerns, what an
 * administrator should change, and the sources. The data comes from the
 * team's research notes (shared/domain/aovpn-reference.md, sections 2 and 7)
 * plus the Microsoft error code lists; docs/catalogue.md is the same
 * content as a readable table.
 *
 * Everything returned points into static storage: never free it, it lives
 * as long as the program. The module keeps no state and is thread-safe.
 * A code missing from the table is not an error: lookups return NULL and
 * callers still count it and show it as unknown, with its number forms.
 */
#ifndef RASFLEET_CATALOG_H
#define RASFLEET_CATALOG_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the fix is made. */
enum catalog_component {
    CATALOG_COMPONENT_UNKNOWN = 0,
    CATALOG_COMPONENT_CLIENT_CERTIFICATE, /* user/device certs, client trust stores */
    CATALOG_COMPONENT_NPS,                /* NPS policy, EAP/PEAP, NPS cert, NTAuth */
    CATALOG_COMPONENT_RRAS,               /* VPN server config and its certificates */
    CATALOG_COMPONENT_CA_CRL,             /* CA and revocation (CDP/CRL) publication */
    CATALOG_COMPONENT_FIREWALL_NAT,       /* edge firewall, NAT, load balancer */
    CATALOG_COMPONENT_IKE_POLICY,         /* IKEv2/IPsec crypto policy, both sides */
    CATALOG_COMPONENT_DNS,                /* resolution of the VPN server name */
    CATALOG_COMPONENT_CLIENT_CONFIG,      /* the VPN profile: ProfileXML, pbk, EAP config */
    CATALOG_COMPONENT_CLIENT_OS,          /* Windows services, sessions, power, ports */
    CATALOG_COMPONENT_NETWORK,            /* the client's underlying network */
};

/* Tunnel protocol the code concerns. */
enum catalog_protocol {
    CATALOG_PROTOCOL_UNKNOWN = 0,
    CATALOG_PROTOCOL_IKEV2,
    CATALOG_PROTOCOL_SSTP,
    CATALOG_PROTOCOL_BOTH, /* IKEv2 and SSTP */
    CATALOG_PROTOCOL_L2TP,
    CATALOG_PROTOCOL_PPTP,
};

/* How well the cause and fix are backed by the sources. */
enum catalog_basis {
    CATALOG_BASIS_DOCUMENTED = 0, /* an AOVPN source documents cause and fix */
    CATALOG_BASIS_INFERRED,       /* the fix is reasoned from the code's meaning */
    CATALOG_BASIS_GENERIC,        /* no AOVPN-specific source; generic meaning only.
                                   * The remediation text then contains
                                   * "No AOVPN-specific source". */
};

/* For codes that appear as 20226 reason codes: does a disconnect with this
 * reason count as a failure to trend? */
enum catalog_disconnect {
    CATALOG_DISCONNECT_NONE = 0,    /* not a 20226 reason code */
    CATALOG_DISCONNECT_BENIGN,      /* user- or power-driven; nothing to fix */
    CATALOG_DISCONNECT_TUNNEL_LOSS, /* the tunnel was lost; worth trending */
};

/* HRESULT facility of a negative code. */
enum catalog_facility {
    CATALOG_FACILITY_NONE = 0, /* not an HRESULT (code >= 0) */
    CATALOG_FACILITY_CERT,     /* 0x800Bxxxx FACILITY_CERT: trust and chain */
    CATALOG_FACILITY_SECURITY, /* 0x8009xxxx FACILITY_SECURITY: CryptoAPI, CRL */
    CATALOG_FACILITY_WIN32,    /* 0x8007xxxx a wrapped Win32 error (low 16 bits) */
    CATALOG_FACILITY_EAPHOST,  /* 0x8042xxxx EAPHost (EAP_E_*) */
    CATALOG_FACILITY_OTHER,    /* any other HRESULT facility */
};

#define CATALOG_MAX_REFS 6

struct catalog_entry {
    int32_t code;        /* signed 32-bit, as the event log prints it */
    const char *symbol;  /* e.g. "ERROR_VPN_TIMEOUT" */
    const char *meaning; /* one sentence */
    enum catalog_component component;
    enum catalog_protocol protocol;
    enum catalog_basis basis;
    enum catalog_disconnect disconnect;
    const char *remediation;                  /* what to change, for an administrator */
    const char *powershell;                   /* a command to check or fix; NULL when none */
    const char *references[CATALOG_MAX_REFS]; /* URLs; unused slots NULL */
};

/* The number forms of a code, for display and for unknown codes. */
struct catalog_forms {
    int32_t code;
    uint32_t unsigned_value; /* the same 32 bits read unsigned */
    char decimal[12];        /* "-2146762495" */
    char hex[11];            /* "0x800B0101" for negatives, "0x329" for 809 */
    bool is_hresult;         /* code < 0: the severity bit is set */
    uint16_t facility;       /* bits 16..26 when is_hresult, else 0 */
    enum catalog_facility facility_kind;
    int32_t win32_code; /* low 16 bits for FACILITY_WIN32, else -1 */
};

/*
 * Parses a code as people and logs write it: decimal ("809"), negative
 * decimal HRESULT ("-2146762495"), unsigned decimal ("2148204801"), or hex
 * with 0x/0X and 1..8 digits ("0x800B0101"). A bare string of exactly 8 hex
 * digits is read as hex, the way err.exe and certutil print HRESULTs
 * ("800b0101", and "80092013" is 0x80092013, not eighty million: no real
 * code has 8 decimal digits). Values from -2^31 to 2^32-1 are accepted and
 * folded to int32 (2148204801 -> -2146762495). No sign with hex, no
 * whitespace, no trailing characters. Returns false (and leaves *out
 * alone) on anything else, including NULL and "".
 */
bool catalog_parse_code(const char *s, int32_t *out);

/* Fills *out with the decimal, hex and HRESULT facility forms of code. */
void catalog_code_forms(int32_t code, struct catalog_forms *out);

/* The entry for code, or NULL when the catalogue does not know it. */
const struct catalog_entry *catalog_lookup(int32_t code);

/* The entry for a 20226 reason code (disconnect != NONE), or NULL. */
const struct catalog_entry *catalog_lookup_reason(int32_t reason);

/* Iteration in ascending (signed) code order; catalog_at(i) is NULL for
 * i >= catalog_count(). */
size_t catalog_count(void);
const struct catalog_entry *catalog_at(size_t i);

/* Number of non-NULL references of e. */
size_t catalog_ref_count(const struct catalog_entry *e);

/* Stable lower-case names used in JSON and docs ("firewall_nat", "ikev2",
 * "generic", "tunnel_loss", "cert"). Out-of-range values give "unknown". */
const char *catalog_component_name(enum catalog_component c);
const char *catalog_protocol_name(enum catalog_protocol p);
const char *catalog_basis_name(enum catalog_basis b);
const char *catalog_disconnect_name(enum catalog_disconnect d);
const char *catalog_facility_name(enum catalog_facility f);

/*
 * Appends one JSON object describing a code to out.
 *
 * Known code (e != NULL; code must equal e->code, else RF_EINVAL):
 *   {"code":809,"hex":"0x329","known":true,"symbol":..,"meaning":..,
 *    "component":..,"protocol":..,"basis":..,
 *    "remediation":{"text":..,"powershell":..,"references":[..]}}
 * "powershell" is omitted when the entry has none; "disconnect"
 * ("benign"/"tunnel_loss") is added for 20226 reason codes.
 * Unknown code (e == NULL): {"code":4242,"hex":"0x1092","known":false}.
 * Both add "facility" for HRESULTs and "win32_code" for wrapped Win32
 * errors. Returns RF_OK, RF_EINVAL or RF_ENOMEM; on failure out is left as
 * it was.
 */
int catalog_entry_to_json(const struct catalog_entry *e, int32_t code, struct buf *out);

#endif
