/*
 * test_event_message.c - the 20226/20227 message template
 * (common/event_message.c): the rendering is byte for byte the text of the
 * sample events, and a message that differs anywhere is not taken for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "event_message.h"
#include "rasfleet/result.h"

/* tests/fixtures/records/batch-all-kinds.json, record 0 */
static const char *const SAMPLE_20227 =
    "CoId={3F2A0C1B-7A44-0000-8E61-0C2B447AD901}: The user CORP\\alice dialed a connection"
    " named Always On VPN which has failed. The error code returned on failure is 809.";
static const char *const COID = "3F2A0C1B-7A44-0000-8E61-0C2B447AD901";

static void test_sample_matches_and_renders(void **state)
{
    (void)state;
    assert_true(
        event_message_matches(20227, COID, "CORP\\alice", "Always On VPN", 809, SAMPLE_20227));
    struct buf b = BUF_INIT;
    assert_int_equal(event_message_render(20227, COID, "CORP\\alice", "Always On VPN", 809, &b),
                     RF_OK);
    assert_string_equal(b.data, SAMPLE_20227);
    buf_free(&b);
}

static void test_disconnect_and_negative_codes(void **state)
{
    (void)state;
    const char *m = "CoId={B1C2D3E4-0F11-0000-9A7B-55AA10C0FFEE}: The user SYSTEM dialed a"
                    " connection named Always On VPN Device Tunnel which has terminated. The"
                    " reason code returned on termination is 631.";
    assert_true(event_message_matches(20226, "B1C2D3E4-0F11-0000-9A7B-55AA10C0FFEE", "SYSTEM",
                                      "Always On VPN Device Tunnel", 631, m));
    /* the failure wording is not the disconnect's */
    assert_false(event_message_matches(20227, "B1C2D3E4-0F11-0000-9A7B-55AA10C0FFEE", "SYSTEM",
                                       "Always On VPN Device Tunnel", 631, m));
    struct buf b = BUF_INIT;
    assert_int_equal(event_message_render(20227, COID, "u", "c", -2146893048, &b), RF_OK);
    assert_non_null(strstr(b.data, " is -2146893048."));
    assert_true(event_message_matches(20227, COID, "u", "c", -2146893048, b.data));
    buf_free(&b);
}

static void test_any_difference_is_not_the_template(void **state)
{
    (void)state;
    const char *u = "CORP\\alice", *c = "Always On VPN";
    /* another code, user, connection or CoId */
    assert_false(event_message_matches(20227, COID, u, c, 80, SAMPLE_20227));
    assert_false(event_message_matches(20227, COID, u, c, 8090, SAMPLE_20227));
    assert_false(event_message_matches(20227, COID, "CORP\\bob", c, 809, SAMPLE_20227));
    assert_false(event_message_matches(20227, COID, u, "Always On", 809, SAMPLE_20227));
    assert_false(event_message_matches(20227, "3f2a0c1b-7a44-0000-8e61-0c2b447ad901", u, c, 809,
                                       SAMPLE_20227));
    /* one byte more, one byte less, another language */
    char buf[512];
    snprintf(buf, sizeof(buf), "%s ", SAMPLE_20227);
    assert_false(event_message_matches(20227, COID, u, c, 809, buf));
    snprintf(buf, sizeof(buf), "%.*s", (int)strlen(SAMPLE_20227) - 1, SAMPLE_20227);
    assert_false(event_message_matches(20227, COID, u, c, 809, buf));
    assert_false(event_message_matches(
        20227, COID, u, c, 809,
        "CoId={3F2A0C1B-7A44-0000-8E61-0C2B447AD901}: Der Benutzer CORP\\alice hat eine"
        " Verbindung mit dem Namen Always On VPN gewählt, die nicht hergestellt werden konnte."
        " Der bei dem Fehler zurückgegebene Fehlercode lautet 809."));
    /* events without a template, missing fields */
    assert_false(event_message_matches(20225, COID, u, c, 0, SAMPLE_20227));
    assert_false(event_message_matches(20227, NULL, u, c, 809, SAMPLE_20227));
    assert_false(event_message_matches(20227, COID, u, c, 809, NULL));
    struct buf b = BUF_INIT;
    assert_int_equal(event_message_render(20225, COID, u, c, 0, &b), RF_ENOTFOUND);
    assert_int_equal(event_message_render(20227, NULL, u, c, 809, &b), RF_ENOTFOUND);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_record_uses_its_templates_code(void **state)
{
    (void)state;
    struct rf_ras_event e = {.event_id = 20227, .user = "CORP\\alice",
                             .connection = "Always On VPN", .has_error_code = true,
                             .error_code = 809, .coid = COID, .message = SAMPLE_20227};
    assert_true(event_message_is_template(&e));
    /* a 20227 names its error code, not a reason code */
    e.has_error_code = false;
    e.has_reason_code = true;
    e.reason_code = 809;
    assert_false(event_message_is_template(&e));
    /* and a 20226 its reason code */
    e.event_id = 20226;
    e.message = "CoId={3F2A0C1B-7A44-0000-8E61-0C2B447AD901}: The user CORP\\alice dialed a"
                " connection named Always On VPN which has terminated. The reason code"
                " returned on termination is 809.";
    assert_true(event_message_is_template(&e));
    e.has_reason_code = false;
    e.has_error_code = true;
    e.error_code = 809;
    assert_false(event_message_is_template(&e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_matches_and_renders),
        cmocka_unit_test(test_disconnect_and_negative_codes),
        cmocka_unit_test(test_any_difference_is_not_the_template),
        cmocka_unit_test(test_record_uses_its_templates_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
