/*
 * test_analyzer_share.c - the analyzer's share hook (analyzer.h, used by
 * pg_election.c on PostgreSQL) with fake elect/publish/fetch functions and
 * the real analyzer thread ticking every 20 ms: a leader builds and
 * publishes (the document it serves is the published one), a follower never
 * builds and serves what it fetched, nothing published yet is RF_EBUSY, a
 * failed publish is retried, and a follower that wins takes over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer.h"
#include "buf.h"
#include "fleet.h"
#include "rasfleet/result.h"

struct fake {
    pthread_mutex_t lock;
    bool leader;
    int elections, publishes, fetches;
    int publish_failures_left;    /* publishes that fail before one works */
    char published[4096];         /* what the leader stored */
    const char *row;              /* the row a follower reads; NULL: none */
    int64_t row_generated;
};

static int fake_elect(void *arg, bool *leader)
{
    struct fake *f = arg;
    pthread_mutex_lock(&f->lock);
    f->elections++;
    *leader = f->leader;
    pthread_mutex_unlock(&f->lock);
    return RF_OK;
}

static int fake_publish(void *arg, int64_t generated_ms, struct buf *doc)
{
    struct fake *f = arg;
    (void)generated_ms;
    /* rewrites the document, as pg_election adds "node" */
    struct buf out = BUF_INIT;
    buf_append_str(&out, "{\"node\":\"fake\",");
    buf_append(&out, doc->data + 1, doc->len - 1);
    buf_free(doc);
    *doc = out;
    pthread_mutex_lock(&f->lock);
    f->publishes++;
    int rc = RF_OK;
    if (f->publish_failures_left > 0) {
        f->publish_failures_left--;
        rc = RF_ESTORAGE;
    } else {
        snprintf(f->published, sizeof(f->published), "%.*s", (int)doc->len, doc->data);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_fetch(void *arg, int64_t *generated_ms, struct buf *doc)
{
    struct fake *f = arg;
    pthread_mutex_lock(&f->lock);
    f->fetches++;
    int rc = f->row ? buf_append_str(doc, f->row) : RF_ENOTFOUND;
    *generated_ms = f->row_generated;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

struct fx {
    struct fleet fl;
    struct analyzer an;
    struct fake fake;
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct fleet_config cfg = {.horizon_days = 2};
    if (!x || fleet_init(&x->fl, &cfg) != RF_OK)
        return -1;
    struct analyzer_config ac;
    analyzer_config_defaults(&ac);
    ac.recompute_ms = 20;
    analyzer_init(&x->an, &x->fl, &ac);
    pthread_mutex_init(&x->fake.lock, NULL);
    struct analyzer_share share = {.arg = &x->fake, .elect = fake_elect,
                                   .publish = fake_publish, .fetch = fake_fetch};
    analyzer_set_share(&x->an, &share);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    analyzer_free(&x->an);
    fleet_free(&x->fl);
    pthread_mutex_destroy(&x->fake.lock);
    free(x);
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (up to 5 s) until the served document satisfies want; returns it. */
static char *served(struct analyzer *an, int expect_rc, const char *must_contain)
{
    for (int i = 0; i < 250; i++) {
        struct buf b = BUF_INIT;
        int rc = analyzer_findings_json(an, NULL, &b);
        if (rc == expect_rc && (rc != RF_OK || !must_contain || strstr(b.data, must_contain))) {
            char *s = rc == RF_OK ? strndup(b.data, b.len) : strdup("");
            buf_free(&b);
            return s;
        }
        buf_free(&b);
        sleep_ms(20);
    }
    fail_msg("no document with %s (rc %d)", must_contain ? must_contain : "-", expect_rc);
    return NULL;
}

static void test_leader_builds_publishes_and_serves_the_published(void **state)
{
    struct fx *x = *state;
    x->fake.leader = true;
    assert_int_equal(analyzer_start(&x->an), RF_OK);
    char *doc = served(&x->an, RF_OK, "\"node\":\"fake\"");
    assert_non_null(strstr(doc, "\"generated_at\""));
    pthread_mutex_lock(&x->fake.lock);
    assert_string_equal(doc, x->fake.published);
    assert_int_equal(x->fake.fetches, 0);
    assert_true(x->fake.publishes >= 1);
    pthread_mutex_unlock(&x->fake.lock);
    free(doc);
}

static void test_follower_never_builds(void **state)
{
    struct fx *x = *state;
    x->fake.leader = false;
    assert_int_equal(analyzer_start(&x->an), RF_OK);
    /* nothing published yet: RF_EBUSY (the API answers 503) */
    free(served(&x->an, RF_EBUSY, NULL));
    pthread_mutex_lock(&x->fake.lock);
    x->fake.row = "{\"node\":\"other/1\",\"generated_at\":\"x\",\"findings\":[],\"count\":0}";
    x->fake.row_generated = 42;
    pthread_mutex_unlock(&x->fake.lock);
    char *doc = served(&x->an, RF_OK, "other/1");
    assert_string_equal(doc, x->fake.row);
    free(doc);
    /* the rule filter works on the fetched copy */
    struct buf b = BUF_INIT;
    assert_int_equal(analyzer_findings_json(&x->an, "fleet-spike", &b), RF_OK);
    assert_non_null(strstr(b.data, "other/1"));
    buf_free(&b);
    sleep_ms(100);
    pthread_mutex_lock(&x->fake.lock);
    assert_int_equal(x->fake.publishes, 0);
    assert_true(x->fake.fetches >= 2);
    pthread_mutex_unlock(&x->fake.lock);
}

static void test_failed_publish_is_retried(void **state)
{
    struct fx *x = *state;
    x->fake.leader = true;
    x->fake.publish_failures_left = 3;
    assert_int_equal(analyzer_start(&x->an), RF_OK);
    for (int i = 0; i < 250; i++) {
        pthread_mutex_lock(&x->fake.lock);
        bool done = x->fake.published[0] != '\0';
        pthread_mutex_unlock(&x->fake.lock);
        if (done)
            break;
        sleep_ms(20);
    }
    pthread_mutex_lock(&x->fake.lock);
    assert_int_equal(x->fake.publish_failures_left, 0);
    assert_true(x->fake.publishes >= 4);
    assert_non_null(strstr(x->fake.published, "\"node\":\"fake\""));
    pthread_mutex_unlock(&x->fake.lock);
}

static void test_follower_takes_over(void **state)
{
    struct fx *x = *state;
    x->fake.leader = false;
    x->fake.row = "{\"node\":\"dead/9\",\"findings\":[],\"count\":0}";
    x->fake.row_generated = 7;
    assert_int_equal(analyzer_start(&x->an), RF_OK);
    free(served(&x->an, RF_OK, "dead/9"));
    pthread_mutex_lock(&x->fake.lock);
    x->fake.leader = true; /* the old leader's lock went away */
    pthread_mutex_unlock(&x->fake.lock);
    /* it publishes at once, not after the usual minute */
    char *doc = served(&x->an, RF_OK, "\"node\":\"fake\"");
    assert_null(strstr(doc, "dead/9"));
    free(doc);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_leader_builds_publishes_and_serves_the_published),
        T(test_follower_never_builds),
        T(test_failed_publish_is_retried),
        T(test_follower_takes_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
