/*
 * batcher.c - count- and byte-bounded batches of encoded records. See
 * batcher.h.
 */
#include "batcher.h"
#include "batch_json.h"
#include "rasfleet/result.h"
#include "rasfleet/wire.h"

#include <inttypes.h>
#include <string.h>

void batcher_init(struct batcher *b, const struct batcher_limits *lim, batcher_flush_fn fn,
                  void *ctx)
{
    memset(b, 0, sizeof(*b));
    b->lim = *lim;
    if (b->lim.max_records == 0)
        b->lim.max_records = 1;
    b->flush = fn;
    b->ctx = ctx;
}

void batcher_free(struct batcher *b)
{
    buf_free(&b->records);
    buf_free(&b->delta);
    buf_free(&b->scratch);
}

static void empty(struct batcher *b)
{
    buf_reset(&b->records);
    buf_reset(&b->delta);
    b->n_records = 0;
    b->n_keys = 0;
}

int batcher_flush(struct batcher *b)
{
    if (b->n_records == 0 && b->delta.len == 0)
        return RF_OK;
    int rc = b->flush ? b->flush(b->ctx, b) : RF_OK;
    if (rc != RF_OK)
        return rc;
    b->n_flushes++;
    empty(b);
    return RF_OK;
}

static bool fits(const struct batcher *b, size_t rec_len)
{
    if (b->n_records + 1 > b->lim.max_records)
        return false;
    size_t room =
        b->lim.max_bytes > BATCHER_WRAPPER_RESERVE ? b->lim.max_bytes - BATCHER_WRAPPER_RESERVE : 0;
    return b->records.len + 1 + rec_len <= room;
}

int batcher_add(struct batcher *b, const struct rf_record *r, const uint64_t *keys, size_t n_keys)
{
    int rc;
    buf_reset(&b->scratch);
    if ((rc = record_encode_json(r, &b->scratch)) != RF_OK)
        return rc;
    if (b->n_records > 0 && !fits(b, b->scratch.len) && (rc = batcher_flush(b)) != RF_OK)
        return rc;
    size_t old_len = b->records.len, old_delta = b->delta.len;
    if (b->n_records > 0)
        rc = buf_append_char(&b->records, ',');
    if (rc == RF_OK)
        rc = buf_append(&b->records, b->scratch.data, b->scratch.len);
    for (size_t i = 0; i < n_keys && rc == RF_OK; i++)
        rc = buf_printf(&b->delta, "k %016" PRIx64 "\n", keys[i]);
    if (rc != RF_OK) {
        b->records.len = old_len;
        b->delta.len = old_delta;
        return rc;
    }
    b->n_records++;
    b->n_keys += n_keys;
    return RF_OK;
}

int batcher_note(struct batcher *b, const char *line)
{
    int rc = buf_append_str(&b->delta, line);
    return rc == RF_OK ? buf_append_char(&b->delta, '\n') : rc;
}

int batcher_body_head(const char *batch_id, const struct rf_agent_info *agent, struct buf *out)
{
    int rc = buf_printf(out, "{\"schema\":%d,\"batch_id\":", RF_SCHEMA_VERSION);
    if (rc == RF_OK)
        rc = buf_append_json_str(out, batch_id);
    if (rc == RF_OK)
        rc = buf_append_str(out, ",\"agent\":{\"device_id\":");
    if (rc == RF_OK)
        rc = buf_append_json_str(out, agent->device_id);
    if (rc == RF_OK && agent->hostname && (rc = buf_append_str(out, ",\"hostname\":")) == RF_OK)
        rc = buf_append_json_str(out, agent->hostname);
    if (rc == RF_OK && agent->os_version && (rc = buf_append_str(out, ",\"os_version\":")) == RF_OK)
        rc = buf_append_json_str(out, agent->os_version);
    if (rc == RF_OK && agent->agent_version &&
        (rc = buf_append_str(out, ",\"agent_version\":")) == RF_OK)
        rc = buf_append_json_str(out, agent->agent_version);
    if (rc == RF_OK)
        rc = buf_append_str(out, "},\"records\":[");
    return rc;
}

int batcher_body(const struct batcher *b, const char *batch_id, const struct rf_agent_info *agent,
                 struct buf *out)
{
    int rc = batcher_body_head(batch_id, agent, out);
    if (rc == RF_OK && b->records.len)
        rc = buf_append(out, b->records.data, b->records.len);
    if (rc == RF_OK)
        rc = buf_append_str(out, BATCHER_BODY_TAIL);
    return rc;
}
