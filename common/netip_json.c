/*
 * netip_json.c - Get-NetIPInterface JSON to iface_metric records. See
 * netip_json.h.
 */
#include "netip_json.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool contains(const char *s, const char *needle)
{
    return s && strcasestr(s, needle) != NULL;
}

static bool either_contains(const char *a, const char *b, const char *needle)
{
    return contains(a, needle) || contains(b, needle);
}

enum rf_if_type netip_guess_if_type(const char *alias, const char *description,
                                    const char *const *vpn_names, size_t n_vpn_names)
{
    static const char *const wifi[] = {"Wi-Fi", "WiFi", "Wireless", "WLAN", "802.11"};
    static const char *const cellular[] = {"Cellular", "Mobile", "WWAN"};
    for (size_t i = 0; alias && vpn_names && i < n_vpn_names; i++)
        if (vpn_names[i] && strcasecmp(alias, vpn_names[i]) == 0)
            return RF_IF_VPN;
    if (either_contains(alias, description, "Loopback"))
        return RF_IF_LOOPBACK;
    if (either_contains(alias, description, "VPN") || contains(description, "WAN Miniport"))
        return RF_IF_VPN;
    for (size_t i = 0; i < sizeof(wifi) / sizeof(wifi[0]); i++)
        if (either_contains(alias, description, wifi[i]))
            return RF_IF_WIFI;
    for (size_t i = 0; i < sizeof(cellular) / sizeof(cellular[0]); i++)
        if (either_contains(alias, description, cellular[i]))
            return RF_IF_CELLULAR;
    if (either_contains(alias, description, "Ethernet"))
        return RF_IF_ETHERNET;
    return RF_IF_OTHER;
}

/* First of two spellings of a key (InterfaceIndex / ifIndex). */
static const cJSON *item2(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(o, a);
    if ((!v || cJSON_IsNull(v)) && b)
        v = cJSON_GetObjectItem(o, b);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* An unsigned integer given as a JSON number or a decimal string. */
static bool uint_value(const cJSON *v, double max, int64_t *out)
{
    double d;
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        if (n == 0 || n > 12 || strspn(s, "0123456789") != n)
            return false;
        d = 0;
        for (size_t i = 0; i < n; i++)
            d = d * 10 + (s[i] - '0');
    } else {
        return false;
    }
    if (!isfinite(d) || d != floor(d) || d < 0 || d > max)
        return false;
    *out = (int64_t)d;
    return true;
}

struct enum_name {
    const char *name;
    int value;
};

/* An enum given as a number, a numeric string or a name (case-insensitive);
 * JSON booleans count as 1/0. -1 when unrecognised. */
static int enum_value(const cJSON *v, const struct enum_name *names, size_t n_names,
                      const int *numbers, size_t n_numbers)
{
    int64_t x;
    if (cJSON_IsBool(v))
        x = cJSON_IsTrue(v) ? 1 : 0;
    else if (!uint_value(v, 4294967295.0, &x))
        x = -1;
    if (x >= 0) {
        for (size_t i = 0; i < n_numbers; i++)
            if (numbers[i] == x)
                return (int)x;
        return -1;
    }
    if (!cJSON_IsString(v))
        return -1;
    for (size_t i = 0; i < n_names; i++)
        if (strcasecmp(v->valuestring, names[i].name) == 0)
            return names[i].value;
    return -1;
}

static const struct enum_name family_names[] = {{"IPv4", 2}, {"IPv6", 23}};
static const int family_numbers[] = {2, 23};
static const struct enum_name enabled_names[] = {{"Enabled", 1}, {"Disabled", 0}};
static const struct enum_name connected_names[] = {{"Connected", 1}, {"Disconnected", 0}};
static const int bool_numbers[] = {0, 1};

#define N(a) (sizeof(a) / sizeof(a[0]))

static int decode_item(const cJSON *o, const struct netip_options *opt, struct rf_arena *arena,
                       struct rf_record *rec, const char **why)
{
    struct rf_iface_metric *m = &rec->u.ifm;
    memset(rec, 0, sizeof(*rec));
    rec->kind = RF_KIND_IFACE_METRIC;
    rec->time_ms = opt->time_ms;
    const cJSON *alias = item2(o, "InterfaceAlias", "ifAlias");
    if (!cJSON_IsString(alias) || !alias->valuestring[0] ||
        strlen(alias->valuestring) > RF_MAX_NAME_LEN) {
        *why = "InterfaceAlias missing, empty, not a string or too long";
        return RF_EFORMAT;
    }
    if (!uint_value(item2(o, "InterfaceIndex", "ifIndex"), 4294967295.0, &m->index)) {
        *why = "InterfaceIndex missing or not an integer in 0..4294967295";
        return RF_EFORMAT;
    }
    int fam = enum_value(item2(o, "AddressFamily", NULL), family_names, N(family_names),
                         family_numbers, N(family_numbers));
    if (fam < 0) {
        *why = "AddressFamily missing or not 2/23/IPv4/IPv6";
        return RF_EFORMAT;
    }
    m->family = fam == 2 ? RF_FAMILY_IPV4 : RF_FAMILY_IPV6;
    if (!uint_value(item2(o, "InterfaceMetric", NULL), 4294967295.0, &m->metric)) {
        *why = "InterfaceMetric missing or not an integer in 0..4294967295";
        return RF_EFORMAT;
    }
    int am = enum_value(item2(o, "AutomaticMetric", NULL), enabled_names, N(enabled_names),
                        bool_numbers, N(bool_numbers));
    int cs = enum_value(item2(o, "ConnectionState", NULL), connected_names, N(connected_names),
                        bool_numbers, N(bool_numbers));
    if (am < 0 || cs < 0) {
        *why = am < 0 ? "AutomaticMetric missing or not 1/0/Enabled/Disabled"
                      : "ConnectionState missing or not 1/0/Connected/Disconnected";
        return RF_EFORMAT;
    }
    m->automatic = am == 1;
    m->connected = cs == 1;
    const cJSON *mtu = item2(o, "NlMtu", NULL);
    if (mtu && !uint_value(mtu, 4294967295.0, &m->mtu)) {
        *why = "NlMtu is not an integer in 0..4294967295";
        return RF_EFORMAT;
    }
    m->has_mtu = mtu && m->mtu != 4294967295;
    if (!m->has_mtu)
        m->mtu = 0;
    const cJSON *desc = item2(o, "InterfaceDescription", NULL);
    m->if_type =
        netip_guess_if_type(alias->valuestring, cJSON_IsString(desc) ? desc->valuestring : NULL,
                            opt->vpn_names, opt->n_vpn_names);
    m->alias = rf_arena_strdup(arena, alias->valuestring);
    return m->alias ? RF_OK : RF_ENOMEM;
}

static int handle_item(const cJSON *o, long index, const struct netip_options *opt,
                       struct rf_arena *arena, parse_record_fn fn, void *ctx,
                       struct parse_sink *sink, struct netip_stats *st)
{
    struct rf_record rec;
    const char *why = "element is not an object";
    int rc = cJSON_IsObject(o) ? decode_item(o, opt, arena, &rec, &why) : RF_EFORMAT;
    if (rc == RF_EFORMAT) {
        parse_report_emit(sink, false, 0, -1, index, "%s; interface skipped", why);
        st->skipped++;
        return RF_OK;
    }
    if (rc != RF_OK)
        return rc;
    st->emitted++;
    return fn ? fn(ctx, &rec) : RF_OK;
}

int netip_json_parse(const char *buf, size_t len, const struct netip_options *opt,
                     struct rf_arena *arena, parse_record_fn fn, void *ctx, struct parse_sink *sink,
                     struct netip_stats *stats)
{
    struct netip_stats st = {0, 0};
    cJSON *root = NULL;
    int rc = parse_json_document(buf, len, NETIP_JSON_MAX_INPUT, sink, &root);
    if (rc != RF_OK)
        goto out;
    if (cJSON_IsObject(root)) {
        rc = handle_item(root, 0, opt, arena, fn, ctx, sink, &st);
    } else if (cJSON_IsArray(root)) {
        const cJSON *el;
        long i = 0;
        cJSON_ArrayForEach(el, root)
        {
            if ((rc = handle_item(el, i++, opt, arena, fn, ctx, sink, &st)) != RF_OK)
                goto out;
        }
    } else {
        parse_report_emit(sink, true, 1, 0, -1,
                          "JSON root must be an interface object or an array");
        rc = RF_EFORMAT;
    }
out:
    cJSON_Delete(root);
    if (stats)
        *stats = st;
    return rc;
}
