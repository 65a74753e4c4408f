/*
 * event_json.c - RasClient events from PowerShell JSON. See event_json.h.
 *
 * Each element's properties are turned into the text fields of struct
 * event_fields (numbers formatted, {"Value": x} unwrapped) and go through
 * the same event_xml_fields_to_record() as the XML reader, so both readers
 * give identical records for the same event.
 */
#include "event_json.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NUM_TEXT 32

/* Text slots for the values that are not JSON strings. */
struct scratch {
    char event_id[NUM_TEXT], record_id[NUM_TEXT], level[NUM_TEXT];
    char data[EVENT_MAX_DATA][NUM_TEXT];
};

/* A scalar JSON value as text: strings as they are, integral numbers in
 * decimal, other numbers with %.17g, booleans as true/false; NULL for null,
 * arrays and objects. {"Value": x} is unwrapped first (5.1 Properties). */
static const char *value_text(const cJSON *v, char *tmp)
{
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItem(v, "Value");
    if (!v)
        return NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isfinite(d) && d == floor(d) && fabs(d) < 1e18)
            snprintf(tmp, NUM_TEXT, "%lld", (long long)d);
        else
            snprintf(tmp, NUM_TEXT, "%.17g", d);
        return tmp;
    }
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    return NULL;
}

/* TimeCreated: a string, or 5.1's {"value": "\/Date(ms)\/", "DateTime": ...}. */
static const char *time_text(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItem(o, "TimeCreated");
    if (cJSON_IsObject(t))
        t = cJSON_GetObjectItem(t, "value");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static void collect_data(const cJSON *o, struct event_fields *f, struct scratch *s)
{
    const cJSON *d = cJSON_GetObjectItem(o, "Data");
    if (!d || cJSON_IsNull(d))
        d = cJSON_GetObjectItem(o, "Properties");
    if (!d || cJSON_IsNull(d))
        return;
    if (!cJSON_IsArray(d)) { /* one value serialised without its array */
        f->n_data = 1;
        f->data[0] = value_text(d, s->data[0]);
        return;
    }
    const cJSON *el;
    size_t i = 0;
    cJSON_ArrayForEach(el, d)
    {
        if (i < EVENT_MAX_DATA) {
            f->data[i] = value_text(el, s->data[i]);
            if (!f->data[i] && (cJSON_IsNull(el) || cJSON_IsObject(el)))
                f->data[i] = ""; /* an empty insertion string */
        }
        i++;
    }
    f->n_data = i;
}

/* Returns true when the element names a provider other than RasClient. */
static bool other_provider(const cJSON *o)
{
    const cJSON *p = cJSON_GetObjectItem(o, "ProviderName");
    if (!p || cJSON_IsNull(p))
        return false;
    return !cJSON_IsString(p) || strcasecmp(p->valuestring, "RasClient") != 0;
}

static int handle_item(const cJSON *o, long index, struct rf_arena *arena, parse_record_fn fn,
                       void *ctx, struct parse_sink *sink, struct event_parse_stats *st)
{
    struct event_fields f;
    struct scratch s;
    struct rf_record rec;
    char note[PARSE_REPORT_REASON_MAX];
    if (!cJSON_IsObject(o)) {
        parse_report_emit(sink, false, 0, -1, index, "element is not an object; skipped");
        st->skipped_invalid++;
        return RF_OK;
    }
    if (other_provider(o)) {
        st->skipped_provider++;
        return RF_OK;
    }
    memset(&f, 0, sizeof(f));
    const cJSON *id = cJSON_GetObjectItem(o, "Id");
    if (!id)
        id = cJSON_GetObjectItem(o, "EventID");
    f.event_id = value_text(id, s.event_id);
    f.record_id = value_text(cJSON_GetObjectItem(o, "RecordId"), s.record_id);
    f.level = value_text(cJSON_GetObjectItem(o, "Level"), s.level);
    f.time = time_text(o);
    const cJSON *msg = cJSON_GetObjectItem(o, "Message");
    f.message = cJSON_IsString(msg) ? msg->valuestring : NULL;
    collect_data(o, &f, &s);
    int rc = event_xml_fields_to_record(&f, arena, &rec, note, sizeof(note));
    if (rc == RF_ENOMEM)
        return rc;
    if (note[0])
        parse_report_emit(sink, false, 0, -1, index, "%s%s", note,
                          rc == RF_OK ? "" : "; event skipped");
    if (rc != RF_OK) {
        st->skipped_invalid++;
        return RF_OK;
    }
    st->emitted++;
    return fn ? fn(ctx, &rec) : RF_OK;
}

int event_json_parse(const char *buf, size_t len, struct rf_arena *arena, parse_record_fn fn,
                     void *ctx, struct parse_sink *sink, struct event_parse_stats *stats)
{
    struct event_parse_stats st = {0, 0, 0};
    cJSON *root = NULL;
    int rc = parse_json_document(buf, len, EVENT_JSON_MAX_INPUT, sink, &root);
    if (rc != RF_OK)
        goto out;
    if (cJSON_IsObject(root)) {
        rc = handle_item(root, 0, arena, fn, ctx, sink, &st);
    } else if (cJSON_IsArray(root)) {
        const cJSON *el;
        long i = 0;
        cJSON_ArrayForEach(el, root)
        {
            if ((rc = handle_item(el, i++, arena, fn, ctx, sink, &st)) != RF_OK)
                goto out;
        }
    } else {
        parse_report_emit(sink, true, 1, 0, -1, "JSON root must be an event object or an array");
        rc = RF_EFORMAT;
    }
out:
    cJSON_Delete(root);
    if (stats)
        *stats = st;
    return rc;
}
