/*
 * vpnconn_json.c - Get-VpnConnection JSON to vpn_policy records. See
 * vpnconn_json.h.
 */
#include "vpnconn_json.h"
#include "buf.h"
#include "pbk_parse.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IPSEC_NAME_MAX 64 /* api-v1 limit of the ipsec fields */

struct ctx {
    struct rf_arena *arena;
    struct parse_sink *sink;
    long index;
};

static const cJSON *item(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(o, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* true/false, 1/0 or "True"/"False" (PowerShell's spelling) */
static int bool_value(const cJSON *v, bool *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
    } else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
        *out = v->valuedouble == 1;
    } else if (cJSON_IsString(v) && (strcasecmp(v->valuestring, "true") == 0 ||
                                     strcasecmp(v->valuestring, "false") == 0)) {
        *out = strcasecmp(v->valuestring, "true") == 0;
    } else {
        return RF_EFORMAT;
    }
    return RF_OK;
}

static int name_value(struct ctx *c, const cJSON *o, const char *key, const char **out,
                      const char **why)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > RF_MAX_NAME_LEN) {
        *why = key;
        return RF_EFORMAT;
    }
    *out = rf_arena_strdup(c->arena, v->valuestring);
    return *out ? RF_OK : RF_ENOMEM;
}

static int tunnel_type(const cJSON *o, const char **out)
{
    static const char *const known[] = {"Ikev2", "Sstp", "L2tp", "Pptp", "Automatic"};
    const cJSON *v = item(o, "TunnelType");
    if (!cJSON_IsString(v))
        return RF_EFORMAT;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcasecmp(v->valuestring, known[i]) == 0) {
            *out = known[i];
            return RF_OK;
        }
    }
    return RF_EFORMAT;
}

/* AuthenticationMethod: "Eap" or ["Eap", "MachineCertificate"] joined with ",". */
static int auth_methods(struct ctx *c, const cJSON *o, const char **out, bool *machine_cert)
{
    const cJSON *v = item(o, "AuthenticationMethod"), *el;
    struct buf b = BUF_INIT;
    int rc = RF_EFORMAT;
    *machine_cert = false;
    if (cJSON_IsString(v)) {
        if (buf_append_str(&b, v->valuestring) != RF_OK)
            goto nomem;
        *machine_cert = strcasecmp(v->valuestring, "MachineCertificate") == 0;
    } else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(el, v)
        {
            if (!cJSON_IsString(el) || !el->valuestring[0])
                goto out;
            if ((b.len && buf_append_char(&b, ',') != RF_OK) ||
                buf_append_str(&b, el->valuestring) != RF_OK)
                goto nomem;
            *machine_cert |= strcasecmp(el->valuestring, "MachineCertificate") == 0;
        }
    }
    if (b.len == 0 || b.len > RF_MAX_NAME_LEN)
        goto out;
    *out = rf_arena_strndup(c->arena, b.data, b.len);
    rc = *out ? RF_OK : RF_ENOMEM;
    goto out;
nomem:
    rc = RF_ENOMEM;
out:
    buf_free(&b);
    return rc;
}

struct ipsec_field {
    const char *key; /* property of IPsecCustomPolicy */
    enum pbk_ipsec_field table;
    const char *const *names; /* PowerShell names, NULL-terminated */
};

static const char *const auth_names[] = {"MD596",     "SHA196",    "SHA256128", "GCMAES128",
                                         "GCMAES192", "GCMAES256", "None",      NULL};
static const char *const cipher_names[] = {"DES",    "DES3",      "AES128",    "AES192",
                                           "AES256", "GCMAES128", "GCMAES192", "GCMAES256",
                                           "None",   NULL};
static const char *const dh_names[] = {"None",   "Group1", "Group2",  "Group14",
                                       "ECP256", "ECP384", "Group24", NULL};
static const char *const enc_names[] = {"DES",    "DES3",      "AES128",    "AES192",
                                        "AES256", "GCMAES128", "GCMAES256", NULL};
static const char *const integ_names[] = {"MD5", "SHA1", "SHA256", "SHA384", NULL};
static const char *const pfs_names[] = {"None",   "PFS1",  "PFS2",  "PFS2048", "ECP256",
                                        "ECP384", "PFSMM", "PFS24", NULL};

/* Value of one policy property as a name, allocated in the arena. */
static int ipsec_name(struct ctx *c, const cJSON *policy, const struct ipsec_field *f,
                      const char **out)
{
    const cJSON *v = policy ? item(policy, f->key) : NULL;
    const char *name = "unknown";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isfinite(d) && d == floor(d) && d >= 0 && d <= 4294967295.0)
            return pbk_ipsec_name_dup(f->table, (uint32_t)d, c->arena, out);
        parse_report_emit(c->sink, false, 0, -1, c->index,
                          "IPsecCustomPolicy.%s is not an enum number", f->key);
    } else if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= IPSEC_NAME_MAX) {
        name = v->valuestring;
        for (size_t i = 0; f->names[i]; i++)
            if (strcasecmp(name, f->names[i]) == 0)
                name = f->names[i];
        if (name == v->valuestring)
            parse_report_emit(c->sink, false, 0, -1, c->index,
                              "IPsecCustomPolicy.%s '%.64s' is not a name PowerShell documents; "
                              "kept as given",
                              f->key, name);
    } else if (policy) {
        parse_report_emit(c->sink, false, 0, -1, c->index,
                          "IPsecCustomPolicy.%s is missing or not a name; set to \"unknown\"",
                          f->key);
    }
    *out = rf_arena_strdup(c->arena, name);
    return *out ? RF_OK : RF_ENOMEM;
}

static int ipsec_policy(struct ctx *c, const cJSON *o, struct rf_vpn_policy *p)
{
    const struct ipsec_field fields[] = {
        {"AuthenticationTransformConstants", PBK_IPSEC_AUTH_TRANSFORM, auth_names},
        {"CipherTransformConstants", PBK_IPSEC_CIPHER_TRANSFORM, cipher_names},
        {"DHGroup", PBK_IPSEC_DH_GROUP, dh_names},
        {"EncryptionMethod", PBK_IPSEC_ENCRYPTION, enc_names},
        {"IntegrityCheckMethod", PBK_IPSEC_INTEGRITY, integ_names},
        {"PfsGroup", PBK_IPSEC_PFS_GROUP, pfs_names},
    };
    const char **dst[] = {
        &p->ipsec.auth_transform,    &p->ipsec.cipher_transform,       &p->ipsec.dh_group,
        &p->ipsec.encryption_method, &p->ipsec.integrity_check_method, &p->ipsec.pfs_group};
    const cJSON *v = item(o, "IPsecCustomPolicy");
    if (!v || (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0))
        return RF_OK;
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) > 1)
            parse_report_emit(c->sink, false, 0, -1, c->index,
                              "IPsecCustomPolicy holds %d policies; the first is used",
                              cJSON_GetArraySize(v));
        v = cJSON_GetArrayItem(v, 0);
    }
    if (!cJSON_IsObject(v)) {
        parse_report_emit(c->sink, false, 0, -1, c->index,
                          "IPsecCustomPolicy is not an object (ConvertTo-Json -Depth too "
                          "small?); its values are recorded as \"unknown\"");
        v = NULL;
    }
    p->has_ipsec = true;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        int rc = ipsec_name(c, v, &fields[i], dst[i]);
        if (rc != RF_OK)
            return rc;
    }
    return RF_OK;
}

static int decode_item(struct ctx *c, const cJSON *o, struct rf_vpn_policy *p, const char **why)
{
    bool all_users = false, machine_cert;
    int rc;
    if ((rc = name_value(c, o, "Name", &p->connection, why)) != RF_OK ||
        (rc = name_value(c, o, "ServerAddress", &p->server, why)) != RF_OK)
        return rc;
    if (tunnel_type(o, &p->tunnel_type) != RF_OK) {
        *why = "TunnelType (Ikev2, Sstp, L2tp, Pptp or Automatic)";
        return RF_EFORMAT;
    }
    if ((rc = auth_methods(c, o, &p->auth_method, &machine_cert)) != RF_OK) {
        *why = "AuthenticationMethod (a name or an array of names)";
        return rc;
    }
    if (bool_value(item(o, "SplitTunneling"), &p->split_tunneling) != RF_OK) {
        *why = "SplitTunneling (a boolean)";
        return RF_EFORMAT;
    }
    const cJSON *au = item(o, "AllUserConnection");
    if (au && bool_value(au, &all_users) != RF_OK) {
        *why = "AllUserConnection (a boolean)";
        return RF_EFORMAT;
    }
    p->device_tunnel = all_users && machine_cert;
    const cJSON *dns = item(o, "DnsSuffix");
    if (cJSON_IsString(dns) && dns->valuestring[0]) {
        if (strlen(dns->valuestring) > RF_MAX_NAME_LEN) {
            *why = "DnsSuffix (too long)";
            return RF_EFORMAT;
        }
        if (!(p->dns_suffix = rf_arena_strdup(c->arena, dns->valuestring)))
            return RF_ENOMEM;
    }
    return ipsec_policy(c, o, p);
}

static int handle_item(struct ctx *c, const cJSON *o, int64_t time_ms, parse_record_fn fn,
                       void *fn_ctx, struct vpnconn_stats *st)
{
    struct rf_record rec;
    const char *why = "the element (not an object)";
    int rc = RF_EFORMAT;
    memset(&rec, 0, sizeof(rec));
    rec.kind = RF_KIND_VPN_POLICY;
    rec.time_ms = time_ms;
    if (cJSON_IsObject(o))
        rc = decode_item(c, o, &rec.u.pol, &why);
    if (rc == RF_EFORMAT) {
        parse_report_emit(c->sink, false, 0, -1, c->index,
                          "missing or invalid %s; connection skipped", why);
        st->skipped++;
        return RF_OK;
    }
    if (rc != RF_OK)
        return rc;
    st->emitted++;
    return fn ? fn(fn_ctx, &rec) : RF_OK;
}

int vpnconn_json_parse(const char *buf, size_t len, int64_t time_ms, struct rf_arena *arena,
                       parse_record_fn fn, void *ctx, struct parse_sink *sink,
                       struct vpnconn_stats *stats)
{
    struct vpnconn_stats st = {0, 0};
    struct ctx c = {arena, sink, 0};
    cJSON *root = NULL;
    int rc = parse_json_document(buf, len, VPNCONN_JSON_MAX_INPUT, sink, &root);
    if (rc != RF_OK)
        goto out;
    if (cJSON_IsObject(root)) {
        rc = handle_item(&c, root, time_ms, fn, ctx, &st);
    } else if (cJSON_IsArray(root)) {
        const cJSON *el;
        cJSON_ArrayForEach(el, root)
        {
            if ((rc = handle_item(&c, el, time_ms, fn, ctx, &st)) != RF_OK)
                goto out;
            c.index++;
        }
    } else {
        parse_report_emit(sink, true, 1, 0, -1,
                          "JSON root must be a connection object or an array");
        rc = RF_EFORMAT;
    }
out:
    cJSON_Delete(root);
    if (stats)
        *stats = st;
    return rc;
}
