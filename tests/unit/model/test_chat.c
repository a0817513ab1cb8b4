/*
 * The web chat visitor's frames (src/model/chat.c): every frame type read with its fields,
 * each refusal with its code (not JSON, not an object, unknown type, duplicate keys, a NUL in a
 * string, text over 4000 bytes, blank text, control characters, a malformed resume token, a
 * rating outside 1..5, a frame over 32 KiB), and the token bucket's burst and refill with time
 * as an input. No leaks.
 */
#include "base/alloc.h"
#include "model/chat.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct blend_chat_frame f;
static struct blend_chat_error err;

static int parse(const char *s)
{
    return blend_chat_frame_parse(s, strlen(s), &f, &err);
}

static void frames_read(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"type\":\"hello\",\"entry_point\":\"web-support\",\"name\":\"민지\","
                           "\"email\":\"minji@example.com\",\"topic\":\"billing\"}"),
                     0);
    assert_int_equal(f.type, BLEND_CHAT_HELLO);
    assert_string_equal(f.entry_point, "web-support");
    assert_string_equal(f.name, "민지");
    assert_string_equal(f.email, "minji@example.com");
    assert_string_equal(f.resume_token, "");
    assert_int_equal(parse("{\"type\":\"hello\",\"entry_point\":\"w\",\"resume_token\":"
                           "\"0123456789abcdef0123456789ABCDEF-_\",\"name\":null}"),
                     0);
    assert_string_equal(f.resume_token, "0123456789abcdef0123456789ABCDEF-_");
    assert_int_equal(
        parse("{\"type\":\"message\",\"client_id\":\"c-1\",\"text\":\"你好\\n第二行\"}"), 0);
    assert_int_equal(f.type, BLEND_CHAT_MESSAGE);
    assert_string_equal(f.client_id, "c-1");
    assert_string_equal(f.text, "你好\n第二行");
    assert_int_equal(parse("{\"type\":\"typing\"}"), 0);
    assert_int_equal(f.is_typing, 1);
    assert_int_equal(parse("{\"type\":\"typing\",\"on\":false}"), 0);
    assert_int_equal(f.is_typing, 0);
    assert_int_equal(parse("{\"type\":\"read\",\"up_to\":77}"), 0);
    assert_int_equal(f.up_to, 77);
    assert_int_equal(parse("{\"type\":\"end\"}"), 0);
    assert_int_equal(f.type, BLEND_CHAT_END);
    assert_int_equal(parse("{\"type\":\"rating\",\"rating\":4,\"comment\":\"fast\"}"), 0);
    assert_int_equal(f.rating, 4);
    assert_string_equal(f.comment, "fast");
    assert_int_equal(parse("{\"type\":\"ping\"}"), 0);
    assert_int_equal(f.type, BLEND_CHAT_PING);
}

static void refuse(const char *frame, int rc, const char *code)
{
    assert_int_equal(parse(frame), rc);
    assert_non_null(err.code);
    assert_string_equal(err.code, code);
    assert_true(err.message[0] != '\0');
}

static void refusals(void **state)
{
    (void)state;
    refuse("not json", BLEND_EINVAL, "bad_json");
    refuse("", BLEND_EINVAL, "bad_json");
    refuse("[1,2]", BLEND_EINVAL, "bad_frame");
    refuse("{\"text\":\"x\"}", BLEND_EINVAL, "bad_frame");
    refuse("{\"type\":7}", BLEND_EINVAL, "bad_frame");
    refuse("{\"type\":\"dance\"}", BLEND_EINVAL, "unknown_type");
    refuse("{\"type\":\"end\",\"type\":\"end\"}", BLEND_EINVAL, "bad_json");
    refuse("{\"type\":\"hello\"}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"hello\",\"entry_point\":\"w\",\"resume_token\":\"short\"}", BLEND_EINVAL,
           "bad_field");
    refuse("{\"type\":\"hello\",\"entry_point\":\"w\",\"resume_token\":"
           "\"0123456789abcdef0123456789abcdef!\"}",
           BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"hello\",\"entry_point\":\"w\",\"name\":\"a\\u0001b\"}", BLEND_EINVAL,
           "bad_field");
    refuse("{\"type\":\"message\",\"text\":\"x\"}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"message\",\"client_id\":\"a b\",\"text\":\"x\"}", BLEND_EINVAL,
           "bad_field");
    refuse("{\"type\":\"message\",\"client_id\":\"c\"}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"message\",\"client_id\":\"c\",\"text\":\" \\n\\t \"}", BLEND_EINVAL,
           "bad_field");
    refuse("{\"type\":\"message\",\"client_id\":\"c\",\"text\":\"a\\u0007\"}", BLEND_EINVAL,
           "bad_field");
    refuse("{\"type\":\"message\",\"client_id\":\"c\",\"text\":\"a\\u0000b\"}", BLEND_EINVAL,
           "bad_json");
    refuse("{\"type\":\"read\",\"up_to\":0}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"read\",\"up_to\":\"5\"}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"typing\",\"on\":1}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"rating\",\"rating\":6}", BLEND_EINVAL, "bad_field");
    refuse("{\"type\":\"rating\",\"rating\":0}", BLEND_EINVAL, "bad_field");
}

static void bounds(void **state)
{
    (void)state;
    /* 4000 bytes of text pass, 4001 are too long (counted in bytes: 3-byte characters). */
    char *frame = malloc(BLEND_CHAT_FRAME_BYTES_MAX + 64);
    assert_non_null(frame);
    int n = snprintf(frame, 64, "{\"type\":\"message\",\"client_id\":\"c\",\"text\":\"");
    memset(frame + n, 'a', BLEND_CHAT_TEXT_BYTES_MAX);
    strcpy(frame + n + BLEND_CHAT_TEXT_BYTES_MAX, "\"}");
    assert_int_equal(parse(frame), 0);
    assert_int_equal(strlen(f.text), BLEND_CHAT_TEXT_BYTES_MAX);
    memset(frame + n, 'a', BLEND_CHAT_TEXT_BYTES_MAX + 1);
    strcpy(frame + n + BLEND_CHAT_TEXT_BYTES_MAX + 1, "\"}");
    refuse(frame, BLEND_ELIMIT, "too_long");
    n = snprintf(frame, 64, "{\"type\":\"message\",\"client_id\":\"c\",\"text\":\"");
    for (int i = 0; i < 1334; i++) { /* 1334 x 3 bytes = 4002 */
        memcpy(frame + n + i * 3, "\xed\x95\x9c", 3);
    }
    strcpy(frame + n + 1334 * 3, "\"}");
    refuse(frame, BLEND_ELIMIT, "too_long");
    /* A frame over 32 KiB is refused before parsing. */
    memset(frame, ' ', BLEND_CHAT_FRAME_BYTES_MAX + 1);
    assert_int_equal(blend_chat_frame_parse(frame, BLEND_CHAT_FRAME_BYTES_MAX + 1, &f, &err),
                     BLEND_ELIMIT);
    assert_string_equal(err.code, "frame_too_large");
    free(frame);
    /* Token bounds. */
    char tok[BLEND_CHAT_TOKEN_BYTES_MAX + 2];
    memset(tok, 'a', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    assert_false(blend_chat_token_is_valid(tok));
    tok[BLEND_CHAT_TOKEN_BYTES_MAX] = '\0';
    assert_true(blend_chat_token_is_valid(tok));
    tok[BLEND_CHAT_TOKEN_BYTES_MIN] = '\0';
    assert_true(blend_chat_token_is_valid(tok));
    tok[BLEND_CHAT_TOKEN_BYTES_MIN - 1] = '\0';
    assert_false(blend_chat_token_is_valid(tok));
}

static void bucket(void **state)
{
    (void)state;
    struct blend_chat_bucket b;
    blend_chat_bucket_init(&b, 1000, 10);
    /* The burst: 10 at once, the 11th refused. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(blend_chat_bucket_take(&b, 1000, 5, 10), 1);
    }
    assert_int_equal(blend_chat_bucket_take(&b, 1000, 5, 10), 0);
    /* 5 per second: one more every 200 ms, not before. */
    assert_int_equal(blend_chat_bucket_take(&b, 1199, 5, 10), 0);
    assert_int_equal(blend_chat_bucket_take(&b, 1200, 5, 10), 1);
    assert_int_equal(blend_chat_bucket_take(&b, 1200, 5, 10), 0);
    /* A clock that goes back refills nothing. */
    assert_int_equal(blend_chat_bucket_take(&b, 900, 5, 10), 0);
    /* A long idle time refills to the burst, no more (and does not overflow). */
    assert_int_equal(blend_chat_bucket_take(&b, INT64_MAX / 2, 5, 10), 1);
    int taken = 1;
    while (blend_chat_bucket_take(&b, INT64_MAX / 2, 5, 10)) {
        taken++;
    }
    assert_int_equal(taken, 10);
}

static int leak_check(void **state)
{
    (void)state;
    return blend_alloc_live() == 0 ? 0 : -1;
}

/* "Talk to an agent": whole messages matching a phrase, and the to_agent frame. */
static void agent_requests(void **state)
{
    (void)state;
    assert_true(blend_chat_is_agent_request("agent", NULL));
    assert_true(blend_chat_is_agent_request("  AGENT!! ", NULL));
    assert_true(blend_chat_is_agent_request("Human?", ""));
    assert_true(blend_chat_is_agent_request("상담원", NULL));
    assert_true(blend_chat_is_agent_request("人工。", NULL));
    assert_true(blend_chat_is_agent_request("人工！", NULL));
    assert_false(blend_chat_is_agent_request("my agent said", NULL));
    assert_false(blend_chat_is_agent_request("agents", NULL));
    assert_false(blend_chat_is_agent_request("", NULL));
    assert_false(blend_chat_is_agent_request("?", NULL));
    assert_true(blend_chat_is_agent_request("Operator please", "operator please, person"));
    assert_true(blend_chat_is_agent_request("person", "operator please, person"));
    assert_false(blend_chat_is_agent_request("agent", "operator please, person"));
    struct blend_chat_frame fr;
    struct blend_chat_error e;
    const char *t = "{\"type\":\"to_agent\"}";
    assert_int_equal(blend_chat_frame_parse(t, strlen(t), &fr, &e), 0);
    assert_int_equal(fr.type, BLEND_CHAT_TO_AGENT);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(frames_read, leak_check),
        cmocka_unit_test_teardown(refusals, leak_check),
        cmocka_unit_test_teardown(bounds, leak_check),
        cmocka_unit_test_teardown(bucket, leak_check),
        cmocka_unit_test_teardown(agent_requests, leak_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
