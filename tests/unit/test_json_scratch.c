/*
 * test_json_scratch.c - unit tests for common/json_scratch.c: cJSON trees
 * parsed inside a scope live in the thread's region and are taken back at
 * its end, memory cJSON allocated outside a scope is still freed for real,
 * the region settles on one chunk, stays under its cap, is per thread and
 * is freed when a thread exits (LeakSanitizer in the sanitizer build), and
 * a batch decodes to the same records with and without the region.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "batch_json.h"
#include "buf.h"
#include "json_scratch.h"
#include "rasfleet/record.h"
#include "rasfleet/result.h"

/* A JSON array of n objects of a few fields each. */
static char *make_doc(size_t n)
{
    struct buf b;
    buf_init(&b);
    assert_int_equal(buf_append_char(&b, '['), RF_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_printf(&b, "%s{\"kind\":\"ras_event\",\"n\":%zu,\"s\":\"value %zu\"}",
                                    i ? "," : "", i, i),
                         RF_OK);
    assert_int_equal(buf_append_char(&b, ']'), RF_OK);
    char *s = strdup(b.data);
    buf_free(&b);
    assert_non_null(s);
    return s;
}

static void test_scope_owns_tree_and_settles_on_one_chunk(void **state)
{
    (void)state;
    char *doc = make_doc(2000); /* ~8000 values: more than the first chunk */
    assert_int_equal(json_scratch_begin(), RF_OK);
    cJSON *a = cJSON_Parse(doc);
    assert_non_null(a);
    assert_int_equal(cJSON_GetArraySize(a), 2000);
    size_t held = json_scratch_held_bytes();
    assert_true(held > 64 * 1024); /* the tree went into the region */
    cJSON_Delete(a);                /* a no-op inside the scope */
    json_scratch_end();
    /* several chunks were used: they are given back, and the next scope
     * starts with one chunk large enough for the whole tree */
    assert_int_equal(json_scratch_held_bytes(), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(json_scratch_begin(), RF_OK);
        a = cJSON_Parse(doc);
        assert_non_null(a);
        size_t one = json_scratch_held_bytes();
        assert_true(one >= held / 2);
        cJSON_Delete(a);
        json_scratch_end();
        assert_int_equal(json_scratch_held_bytes(), one); /* kept, rewound */
    }
    free(doc);
}

static void test_nested_scope_refused(void **state)
{
    (void)state;
    assert_int_equal(json_scratch_begin(), RF_OK);
    assert_int_equal(json_scratch_begin(), RF_EINVAL);
    json_scratch_end();
    json_scratch_end(); /* no scope open: nothing happens */
    assert_int_equal(json_scratch_begin(), RF_OK);
    json_scratch_end();
}

static void test_outside_memory_freed_inside_scope(void **state)
{
    (void)state;
    /* parsed outside any scope: malloc'ed; deleting it inside a scope must
     * really free it (LeakSanitizer would report it otherwise) */
    cJSON *outside = cJSON_Parse("{\"a\":[1,2,3],\"b\":\"text\"}");
    assert_non_null(outside);
    assert_int_equal(json_scratch_begin(), RF_OK);
    cJSON *inside = cJSON_Parse("{\"c\":true}");
    assert_non_null(inside);
    cJSON_Delete(outside);
    char *printed = cJSON_PrintUnformatted(inside);
    assert_string_equal(printed, "{\"c\":true}");
    cJSON_free(printed);
    json_scratch_end();
}

static void test_big_decode_not_kept(void **state)
{
    (void)state;
    char *doc = make_doc(60000); /* well over JSON_SCRATCH_KEEP of nodes */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(json_scratch_begin(), RF_OK);
        cJSON *a = cJSON_Parse(doc);
        assert_non_null(a);
        assert_true(json_scratch_held_bytes() > JSON_SCRATCH_KEEP);
        json_scratch_end();
        assert_true(json_scratch_held_bytes() <= JSON_SCRATCH_KEEP);
    }
    free(doc);
}

static void *thread_decodes(void *arg)
{
    char *doc = arg;
    for (int i = 0; i < 50; i++) {
        if (json_scratch_begin() != RF_OK)
            return (void *)1;
        cJSON *a = cJSON_Parse(doc);
        int ok = a && cJSON_GetArraySize(a) == 300;
        json_scratch_end();
        if (!ok)
            return (void *)1;
    }
    return json_scratch_held_bytes() > 0 ? NULL : (void *)1;
}

static void test_threads_have_their_own_region(void **state)
{
    (void)state;
    char *doc = make_doc(300);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_decodes, doc), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    free(doc);
    /* each thread's region was freed at its exit: LeakSanitizer checks */
}

static char *read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", RF_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

/* Decodes the all-kinds fixture and returns its re-encoding. */
static char *decode_encode(const char *body, size_t len)
{
    struct batch_limits lim = {.max_records = 100};
    struct rf_batch b;
    struct batch_error err;
    assert_int_equal(batch_decode_json(body, len, &lim, &b, &err), RF_OK);
    assert_true(b.n_records >= 4);
    struct buf enc;
    buf_init(&enc);
    /* batch_decode_json's own scope has ended: the region is rewound (and,
     * under ASan, poisoned), so reading the batch faults if any of it
     * still pointed into the tree */
    assert_int_equal(batch_encode_json(&b, &enc), RF_OK);
    char *s = strdup(enc.data);
    assert_non_null(s);
    rf_batch_free(&b);
    buf_free(&enc);
    return s;
}

static void test_batch_decodes_the_same(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("records/batch-all-kinds.json", &len);
    char *first = decode_encode(body, len);
    /* inside a scope the caller holds open (after a tree of its own), the
     * decode leaves the scope to the caller and gives the same batch */
    assert_int_equal(json_scratch_begin(), RF_OK);
    cJSON *junk = cJSON_Parse("[\"the caller's tree\",1,2,3]");
    assert_non_null(junk);
    char *second = decode_encode(body, len);
    assert_int_equal(json_scratch_begin(), RF_EINVAL); /* still open */
    json_scratch_end();
    assert_string_equal(first, second);
    for (int i = 0; i < 3; i++) { /* and with a warm region */
        char *again = decode_encode(body, len);
        assert_string_equal(first, again);
        free(again);
    }
    free(first);
    free(second);
    free(body);
}

int main(void)
{
    json_scratch_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_owns_tree_and_settles_on_one_chunk),
        cmocka_unit_test(test_nested_scope_refused),
        cmocka_unit_test(test_outside_memory_freed_inside_scope),
        cmocka_unit_test(test_big_decode_not_kept),
        cmocka_unit_test(test_threads_have_their_own_region),
        cmocka_unit_test(test_batch_decodes_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
