/*
 * fuzz_ipsec_blob - pbk_decode_ipsec_blob(), the CustomIPSecPolicies
 * decoder, against an independent reading of its specification:
 * "exactly 48 hex digits (surrounding spaces/tabs ignored) = six
 * little-endian uint32 in the order of enum pbk_ipsec_field; unknown
 * numbers become unknown(N); RF_EFORMAT leaves *out untouched".
 *
 * Invariants: the result is RF_OK exactly when the reference accepts, and
 * then each of the six names is pbk_ipsec_enum_name(field, v) or
 * "unknown(v)" for the reference's v; on RF_EFORMAT *out is untouched.
 * pbk_ipsec_enum_name() itself is probed with the decoded numbers and a
 * few derived ones (never a crash, a NULL only outside its tables).
 */
#include "fuzz_common.h"
#include "pbk_parse.h"

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool reference(const char *s, uint32_t v[6])
{
    size_t b = 0, e = strlen(s);
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    if (e - b != 48)
        return false;
    for (int f = 0; f < 6; f++) {
        uint32_t x = 0;
        for (int byte = 3; byte >= 0; byte--) {
            int hi = hexv(s[b + f * 8 + byte * 2]), lo = hexv(s[b + f * 8 + byte * 2 + 1]);
            if (hi < 0 || lo < 0)
                return false;
            x = x << 8 | (uint32_t)(hi << 4 | lo);
        }
        v[f] = x;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct rf_arena a;
    rf_arena_init(&a);
    const char *sentinel = "untouched";
    struct rf_ipsec_policy p = {sentinel, sentinel, sentinel, sentinel, sentinel, sentinel};
    uint32_t v[6];
    bool ok = reference(s, v);
    int rc = pbk_decode_ipsec_blob(s, &a, &p);
    FUZZ_CHECK(rc == (ok ? RF_OK : RF_EFORMAT), "rc=%d, reference %s '%s'", rc,
               ok ? "accepts" : "refuses", s);
    if (ok) {
        const char *got[6];
        got[PBK_IPSEC_INTEGRITY] = p.integrity_check_method;
        got[PBK_IPSEC_ENCRYPTION] = p.encryption_method;
        got[PBK_IPSEC_AUTH_TRANSFORM] = p.auth_transform;
        got[PBK_IPSEC_CIPHER_TRANSFORM] = p.cipher_transform;
        got[PBK_IPSEC_DH_GROUP] = p.dh_group;
        got[PBK_IPSEC_PFS_GROUP] = p.pfs_group;
        for (int f = 0; f < 6; f++) {
            const char *name = pbk_ipsec_enum_name((enum pbk_ipsec_field)f, v[f]);
            char unk[32];
            snprintf(unk, sizeof(unk), "unknown(%lu)", (unsigned long)v[f]);
            FUZZ_CHECK(got[f] && strcmp(got[f], name ? name : unk) == 0,
                       "field %d value %lu: got '%s', want '%s'", f, (unsigned long)v[f],
                       got[f] ? got[f] : "(null)", name ? name : unk);
        }
    } else {
        FUZZ_CHECK(p.cipher_transform == sentinel && p.auth_transform == sentinel &&
                       p.encryption_method == sentinel && p.integrity_check_method == sentinel &&
                       p.dh_group == sentinel && p.pfs_group == sentinel,
                   "RF_EFORMAT but *out was modified");
    }
    /* table lookups with arbitrary values and out-of-range fields */
    for (int f = -1; f <= PBK_IPSEC_FIELD_COUNT; f++) {
        uint32_t x = size >= 4 ? (uint32_t)data[0] | (uint32_t)data[1] << 8 |
                                     (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24
                               : (uint32_t)size;
        const char *n1 = pbk_ipsec_enum_name((enum pbk_ipsec_field)f, x);
        const char *n2 = pbk_ipsec_enum_name((enum pbk_ipsec_field)f, x & 15);
        if (f < 0 || f >= PBK_IPSEC_FIELD_COUNT)
            FUZZ_CHECK(!n1 && !n2, "name for invalid field %d", f);
        (void)n1;
        (void)n2;
    }
    rf_arena_free(&a);
    free(s);
    return 0;
}
