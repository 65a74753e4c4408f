/*
 * pbk_parse.h - reader of rasphone.pbk, the phonebook in which Windows keeps
 * every VPN profile (ProgramData for all users, AppData per user), into
 * pbk_entry records, plus the decoder of the CustomIPSecPolicies blob.
 *
 * The file is INI-like: a section per connection, `[Name]` (non-ASCII names
 * allowed), then key=value lines. Inside a section the lines `NETCOMPONENTS=`,
 * `MEDIA=<x>` and `DEVICE=<x>` (upper case, as Windows writes them) open
 * sub-blocks; keys after them belong to the sub-block until the next
 * sub-block or section. The record of a section holds:
 *  - every top-level key, in file order, first occurrence kept (keys compare
 *    case-insensitively, values are kept byte for byte);
 *  - `PhoneNumber` of the first DEVICE sub-block (the VPN server), at the
 *    position of that line; other sub-block keys are not kept;
 *  - `CustomAuthData` (the EAP configuration blob, often split over several
 *    lines) is NEVER exported: its lines are joined and replaced by
 *    "<redacted:N bytes fnv1a64:HHHHHHHHHHHHHHHH>", N being the size of the
 *    binary blob (hex digits / 2) and H a 64-bit FNV-1a of the joined hex
 *    text, enough to tell that two devices carry the same EAP configuration
 *    without shipping it. A blob that is not even-length hex is reported and
 *    redacted as "<redacted:N chars fnv1a64:...>".
 *  - a non-empty value of a key whose name contains "Password" or
 *    "PreSharedKey" (ApnInfoPassword, PreSharedKey: empty in files Windows
 *    writes, but a hand-edited phonebook might hold a credential) becomes
 *    "<redacted>".
 * A section without keys still gives an entry with zero settings.
 *
 * Problems: a line that is neither `[header]` nor key=value, a key outside
 * any section, an empty, too long or duplicate section name, a too long key
 * or value, too many keys, a malformed CustomIPSecPolicies: reported through
 * the sink (line number, reason) and skipped. Fatal (RF_EFORMAT, reported
 * with the line): invalid UTF-8, control bytes (binary data), a non-empty
 * file without any section header. An empty or blank file is not an error
 * (Windows leaves one behind when the last profile is deleted): 0 entries.
 * Lines end with LF, CRLF or CR; lines starting with ';' are comments.
 */
#ifndef RASFLEET_PBK_PARSE_H
#define RASFLEET_PBK_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse_report.h"
#include "rasfleet/arena.h"
#include "rasfleet/record.h"

#define PBK_MAX_INPUT (16u << 20) /* bytes of text; larger files: RF_ETOOBIG */
#define PBK_MAX_ENTRIES 1024      /* sections per file; more: RF_ETOOBIG */
#define PBK_IPSEC_BLOB_HEX 48     /* CustomIPSecPolicies: 6 little-endian uint32 */

/* One section of the file, as parsed. */
struct pbk_parsed_entry {
    struct rf_record record;      /* kind RF_KIND_PBK_ENTRY, u.pbk filled */
    long line;                    /* line of the [section] header */
    bool has_ipsec;               /* CustomIPSecPolicies present and well-formed */
    struct rf_ipsec_policy ipsec; /* decoded policy, for a vpn_policy record */
};

struct pbk_parse_result {
    size_t n_entries;
    struct pbk_parsed_entry *entries; /* in file order, allocated in the arena */
};

/*
 * Parses UTF-8 text buf[0..len) (a leading UTF-8 BOM is skipped). scope and
 * time_ms (collection time) go into every record. All strings and arrays of
 * the result are allocated in arena (normally &batch->arena), so they live
 * as long as it does. sink may be NULL. Returns RF_OK (out filled, possibly
 * with 0 entries), RF_EFORMAT, RF_ETOOBIG or RF_ENOMEM (fatal problems are
 * also reported to the sink); on error out has 0 entries and whatever was
 * already allocated stays in the arena until it is freed.
 */
int pbk_parse_text(const char *buf, size_t len, enum rf_pbk_scope scope, int64_t time_ms,
                   struct rf_arena *arena, struct parse_sink *sink, struct pbk_parse_result *out);

/*
 * Same as pbk_parse_text() for the raw bytes of a file in any encoding
 * textenc accepts (UTF-8 with or without BOM, UTF-16LE/BE). Undecodable
 * bytes are a fatal RF_EFORMAT reported with the line where they occur.
 */
int pbk_parse_bytes(const char *raw, size_t len, enum rf_pbk_scope scope, int64_t time_ms,
                    struct rf_arena *arena, struct parse_sink *sink, struct pbk_parse_result *out);

/* The six numbers of a CustomIPSecPolicies blob, in blob order. */
enum pbk_ipsec_field {
    PBK_IPSEC_INTEGRITY = 0,    /* IKEEXT_INTEGRITY_TYPE: IntegrityCheckMethod */
    PBK_IPSEC_ENCRYPTION,       /* IKEEXT_CIPHER_TYPE: EncryptionMethod */
    PBK_IPSEC_AUTH_TRANSFORM,   /* IPSEC_AUTH_CONFIG: AuthenticationTransformConstants */
    PBK_IPSEC_CIPHER_TRANSFORM, /* IPSEC_CIPHER_CONFIG: CipherTransformConstants */
    PBK_IPSEC_DH_GROUP,         /* IKEEXT_DH_GROUP: DHGroup */
    PBK_IPSEC_PFS_GROUP,        /* IPSEC_PFS_GROUP: PfsGroup */
    PBK_IPSEC_FIELD_COUNT
};

/*
 * PowerShell name of value v of a field, per the Windows SDK enums in the
 * domain notes (section 10): e.g. (PBK_IPSEC_DH_GROUP, 5) -> "ECP384".
 * NULL when v is not in the table. The table is the best public evidence,
 * not a Microsoft specification.
 */
const char *pbk_ipsec_enum_name(enum pbk_ipsec_field field, uint32_t v);

/* Like pbk_ipsec_enum_name() but never NULL: an unknown value becomes
 * "unknown(N)". The string is allocated in arena. RF_OK or RF_ENOMEM. */
int pbk_ipsec_name_dup(enum pbk_ipsec_field field, uint32_t v, struct rf_arena *arena,
                       const char **out);

/*
 * Decodes a CustomIPSecPolicies value: exactly 48 hex digits (surrounding
 * spaces/tabs ignored) = six little-endian uint32 in the order of enum
 * pbk_ipsec_field. Names are allocated in arena; unknown numbers become
 * "unknown(N)". Returns RF_OK, RF_EFORMAT (wrong length or a non-hex digit;
 * *out untouched) or RF_ENOMEM.
 */
int pbk_decode_ipsec_blob(const char *hex, struct rf_arena *arena, struct rf_ipsec_policy *out);

#endif
