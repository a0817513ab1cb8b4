/*
 * The webhook channel's inbound bodies (src/model/channel.c): SMS and social shapes read, the
 * sender normalised (Korean national numbers with the default country code, social handles),
 * every refusal naming its field (missing, wrong type, too long, embedded NUL, a kind that is
 * neither post nor dm, a sender that is no number), duplicate keys refused, no leaks; an
 * already parsed object (the SMS preset's form fields) read with the same checks, taken also
 * when refused.
 */
#include "base/alloc.h"
#include "model/channel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static char field[32], err[160];

static int parse(int social, const char *body, struct blend_channel_inbound *in)
{
    field[0] = err[0] = '\0';
    return blend_channel_inbound_parse(social, body, strlen(body), 82, in, field, sizeof field,
                                       err, sizeof err);
}

static void sms_read(void **state)
{
    (void)state;
    struct blend_channel_inbound in;
    assert_int_equal(parse(0, "{\"id\":\"sm-1\",\"from\":\"010-5555-1234\",\"to\":\"+8215880000\","
                              "\"text\":\"배송이 언제 되나요?\"}",
                           &in),
                     0);
    assert_string_equal(in.id, "sm-1");
    assert_string_equal(in.identity, "+821055551234");
    assert_string_equal(in.raw_sender, "010-5555-1234");
    assert_string_equal(in.text, "배송이 언제 되나요?");
    assert_string_equal(in.to, "+8215880000");
    assert_null(in.network);
    blend_channel_inbound_free(&in);
    /* International form, empty text allowed (a picture-only message's caption). */
    assert_int_equal(parse(0, "{\"id\":\"x\",\"from\":\"+86 138 0013 8000\",\"text\":\"\"}", &in),
                     0);
    assert_string_equal(in.identity, "+8613800138000");
    blend_channel_inbound_free(&in);
}

static void social_read(void **state)
{
    (void)state;
    struct blend_channel_inbound in;
    assert_int_equal(parse(1, "{\"id\":\"dm-1\",\"network\":\"x\",\"author\":\"@Kim_Seoul\","
                              "\"kind\":\"dm\",\"text\":\"hi\",\"url\":\"https://x.example/1\","
                              "\"name\":\"Kim\"}",
                           &in),
                     0);
    assert_string_equal(in.identity, "x:kim_seoul");
    assert_string_equal(in.kind, "dm");
    assert_string_equal(in.url, "https://x.example/1");
    assert_string_equal(in.name, "Kim");
    blend_channel_inbound_free(&in);
}

static void refusals(void **state)
{
    (void)state;
    struct blend_channel_inbound in;
    static const struct {
        int social;
        const char *body, *field;
    } cases[] = {
        {0, "[]", ""},
        {0, "not json", ""},
        {0, "{\"from\":\"01055551234\",\"text\":\"x\"}", "id"},
        {0, "{\"id\":7,\"from\":\"01055551234\",\"text\":\"x\"}", "id"},
        {0, "{\"id\":\"\",\"from\":\"01055551234\",\"text\":\"x\"}", "id"},
        {0, "{\"id\":\"a\",\"text\":\"x\"}", "from"},
        {0, "{\"id\":\"a\",\"from\":\"call me\",\"text\":\"x\"}", "from"},
        {0, "{\"id\":\"a\",\"from\":\"01055551234\"}", "text"},
        /* jansson refuses an escaped NUL: the body as a whole. */
        {0, "{\"id\":\"a\",\"from\":\"01055551234\",\"text\":\"x\\u0000y\"}", ""},
        {0, "{\"id\":\"a\",\"id\":\"b\",\"from\":\"01055551234\",\"text\":\"x\"}", ""},
        {0, "{\"id\":\"a\",\"from\":\"01055551234\",\"text\":\"x\",\"to\":5}", "to"},
        {1, "{\"id\":\"a\",\"author\":\"kim\",\"kind\":\"dm\",\"text\":\"x\"}", "network"},
        {1, "{\"id\":\"a\",\"network\":\"x\",\"author\":\"kim\",\"kind\":\"story\",\"text\":\"x\"}",
         "kind"},
        {1, "{\"id\":\"a\",\"network\":\"x\",\"author\":\"k m\",\"kind\":\"dm\",\"text\":\"x\"}",
         "author"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&in, 0x5a, sizeof in);
        assert_int_equal(parse(cases[i].social, cases[i].body, &in), BLEND_EINVAL);
        assert_string_equal(field, cases[i].field);
        assert_true(err[0] != '\0');
    }
    /* The id's bound. */
    char body[400];
    char id[BLEND_CHANNEL_ID_BYTES_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"from\":\"01055551234\",\"text\":\"x\"}", id);
    assert_int_equal(parse(0, body, &in), BLEND_EINVAL);
    assert_string_equal(field, "id");
    id[BLEND_CHANNEL_ID_BYTES_MAX] = '\0';
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"from\":\"01055551234\",\"text\":\"x\"}", id);
    assert_int_equal(parse(0, body, &in), 0);
    blend_channel_inbound_free(&in);
}

static void from_doc(void **state)
{
    (void)state;
    struct blend_channel_inbound in;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "id", "SM0001", "from", "010 5555 1234",
                            "text", "a+b=c & d", "to", "+8215880000");
    assert_int_equal(blend_channel_inbound_from_doc(0, doc, 82, &in, field, sizeof field, err,
                                                    sizeof err),
                     0);
    assert_ptr_equal(in.doc, doc);
    assert_string_equal(in.identity, "+821055551234");
    assert_string_equal(in.text, "a+b=c & d");
    blend_channel_inbound_free(&in);
    /* Refused (no sender; not an object): the document is released all the same. */
    doc = json_pack("{s:s, s:s}", "id", "SM0002", "text", "x");
    assert_int_equal(blend_channel_inbound_from_doc(0, doc, 82, &in, field, sizeof field, err,
                                                    sizeof err),
                     BLEND_EINVAL);
    assert_string_equal(field, "from");
    assert_int_equal(blend_channel_inbound_from_doc(0, json_array(), 82, &in, field, sizeof field,
                                                    err, sizeof err),
                     BLEND_EINVAL);
    assert_string_equal(field, "");
}

static int leak_check(void **state)
{
    (void)state;
    return blend_alloc_live() == 0 ? 0 : -1;
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(sms_read, leak_check),
        cmocka_unit_test_teardown(social_read, leak_check),
        cmocka_unit_test_teardown(refusals, leak_check),
        cmocka_unit_test_teardown(from_doc, leak_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
