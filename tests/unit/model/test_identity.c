/*
 * Identity normalisation (model/identity.h), as tables of input -> canonical form or error:
 * Korean and Chinese national and international phone numbers, the "00" prefix, the trunk '0',
 * E.164 length bounds, letters and garbage refused with a sentence; e-mail lower-casing and
 * shape (UTF-8 local parts kept); chat tokens; social handles. Every accepted output is checked
 * to be a fixed point (normalising it again gives it back), and every refusal to leave the
 * output buffer untouched.
 */
#include "base/alloc.h"
#include "model/identity.h"
#include "model/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

struct row {
    enum blend_identity_kind kind;
    const char *in;
    int cc;
    const char *want;    /* canonical form, or NULL when refused */
    const char *err_has; /* refused: a word the message must hold */
};

static void run_rows(const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char out[BLEND_IDENTITY_BYTES_MAX + 1];
        char err[BLEND_IDENTITY_ERR_BYTES] = "";
        memset(out, 0x5a, sizeof out);
        int rc = blend_identity_normalize(r->kind, r->in, strlen(r->in), r->cc, out, sizeof out,
                                          err, sizeof err);
        if (r->want) {
            if (rc != 0 || strcmp(out, r->want) != 0) {
                fail_msg("row %zu '%s': rc %d out '%s' err '%s', want '%s'", i, r->in, rc,
                         rc == 0 ? out : "", err, r->want);
            }
            char again[BLEND_IDENTITY_BYTES_MAX + 1];
            assert_int_equal(blend_identity_normalize(r->kind, out, strlen(out), 0, again,
                                                      sizeof again, err, sizeof err),
                             0);
            assert_string_equal(again, out);
        } else {
            if (rc != BLEND_EINVAL) {
                fail_msg("row %zu '%s': accepted as '%s'", i, r->in, out);
            }
            assert_int_equal((unsigned char)out[0], 0x5a);
            if (r->err_has && !strstr(err, r->err_has)) {
                fail_msg("row %zu '%s': message '%s' lacks '%s'", i, r->in, err, r->err_has);
            }
        }
    }
}

#define ROWS(t) run_rows(t, sizeof t / sizeof t[0])
#define P BLEND_IDENTITY_PHONE

static void phones_korean(void **state)
{
    (void)state;
    static const struct row t[] = {
        {P, "010-1234-5678", 82, "+821012345678", NULL},
        {P, "+82 10 1234 5678", 0, "+821012345678", NULL},
        {P, "+82 10-1234-5678", 82, "+821012345678", NULL},
        {P, "0082 10 1234 5678", 0, "+821012345678", NULL},
        {P, "(02) 312-3456", 82, "+8223123456", NULL},
        {P, "  01012345678  ", 82, "+821012345678", NULL},
        {P, "010.1234.5678", 82, "+821012345678", NULL},
        {P, "010-1234-5678", 0, NULL, "country calling code"},
    };
    ROWS(t);
}

static void phones_chinese(void **state)
{
    (void)state;
    static const struct row t[] = {
        {P, "138 0013 8000", 86, "+8613800138000", NULL},
        {P, "+86 138 0013 8000", 82, "+8613800138000", NULL},
        {P, "010-6552-9988", 86, "+861065529988", NULL},
        {P, "00 86 10 6552 9988", 0, "+861065529988", NULL},
        {P, "+86 (10) 6552-9988", 0, "+861065529988", NULL},
    };
    ROWS(t);
}

static void phones_other_and_odd(void **state)
{
    (void)state;
    static const struct row t[] = {
        {P, "+1 (415) 555-2671", 0, "+14155552671", NULL},
        {P, "+44 20 7946 0958", 0, "+442079460958", NULL},
        {BLEND_IDENTITY_SMS, "010 1234 5678", 82, "+821012345678", NULL},
        {P, "1-800-FLOWERS", 1, NULL, "letters"},
        {P, "+82 10 1234 5678 ext 9", 0, NULL, "letters"},
        {P, "+82+10", 0, NULL, "'+'"},
        {P, "+0 123 456 789", 0, NULL, "never starts with 0"},
        {P, "00", 0, NULL, "never starts with 0"},
        {P, "+8210", 0, NULL, "E.164"},
        {P, "+1234567890123456", 0, NULL, "digits"},
        {P, "+82 10 1234 5678 9012 3456 7890", 0, NULL, "digits"},
        {P, "---", 82, NULL, "digits"},
        {P, "+", 0, NULL, "digits"},
        {P, "010#1234", 82, NULL, "'#'"},
        {P,
         "010\xe2\x80\x94"
         "1234",
         82, NULL, "byte"},
        {P, "", 82, NULL, "empty"},
        {P, "   ", 82, NULL, "empty"},
        {P, "12345", 82, NULL, "E.164"},
    };
    ROWS(t);
}

static void emails(void **state)
{
    (void)state;
    enum blend_identity_kind E = BLEND_IDENTITY_EMAIL;
    static const char long_local[] =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com";
    const struct row t[] = {
        {E, "  Minji.Kim@Example.COM ", 0, "minji.kim@example.com", NULL},
        {E, "\xea\xb9\x80\xeb\xaf\xbc\xec\xa7\x80@example.kr", 0,
         "\xea\xb9\x80\xeb\xaf\xbc\xec\xa7\x80@example.kr", NULL},
        {E, "Li.Wei+Orders@Mail.Example.CN", 0, "li.wei+orders@mail.example.cn", NULL},
        {E, "no-at-sign.example.com", 0, NULL, "'@'"},
        {E, "a@b@example.com", 0, NULL, "'@'"},
        {E, "@example.com", 0, NULL, "before '@'"},
        {E, "a..b@example.com", 0, NULL, "forbids"},
        {E, ".a@example.com", 0, NULL, "'.'"},
        {E, "a b@example.com", 0, NULL, "forbids"},
        {E, "a@localhost", 0, NULL, "dot"},
        {E, "a@-x.com", 0, NULL, "'-'"},
        {E, "a@x..com", 0, NULL, "labels"},
        {E, "a@x.com.", 0, NULL, "labels"},
        {E, "a@ex_ample.com", 0, NULL, "forbids"},
        {E, "a\x01@example.com", 0, NULL, "control"},
        {E, "\xc3\x28@example.com", 0, NULL, "UTF-8"},
        {E, "\xed\xa0\x80@example.com", 0, NULL, "UTF-8"},
        {E, "\xc0\xaf@example.com", 0, NULL, "UTF-8"},
        {E, long_local, 0, NULL, "1 to 64"},
    };
    ROWS(t);
}

static void chats_and_socials(void **state)
{
    (void)state;
    static const struct row t[] = {
        {BLEND_IDENTITY_CHAT, " v-7F3a.9b_x ", 0, "v-7F3a.9b_x", NULL},
        {BLEND_IDENTITY_CHAT, "has space", 0, NULL, "without spaces"},
        {BLEND_IDENTITY_CHAT, "\xea\xb9\x80", 0, NULL, "ASCII"},
        {BLEND_IDENTITY_SOCIAL, "Twitter:@MinjiKim", 0, "twitter:minjikim", NULL},
        {BLEND_IDENTITY_SOCIAL, "line:Kim_Minji", 0, "line:kim_minji", NULL},
        {BLEND_IDENTITY_SOCIAL, "wechat:\xe6\x9d\x8e\xe4\xbc\x9f", 0,
         "wechat:\xe6\x9d\x8e\xe4\xbc\x9f", NULL},
        {BLEND_IDENTITY_SOCIAL, "minjikim", 0, NULL, "network:handle"},
        {BLEND_IDENTITY_SOCIAL, ":minji", 0, NULL, "network:handle"},
        {BLEND_IDENTITY_SOCIAL, "twitter:", 0, NULL, "handle"},
        {BLEND_IDENTITY_SOCIAL, "twitter:@@x", 0, NULL, "handle"},
        {BLEND_IDENTITY_SOCIAL, "x.com:alice", 0, NULL, "network name"},
        {BLEND_IDENTITY_SOCIAL, "twitter:a b", 0, NULL, "spaces"},
    };
    ROWS(t);
}

static void lengths_and_nul(void **state)
{
    (void)state;
    char big[BLEND_IDENTITY_BYTES_MAX + 2];
    memset(big, 'a', sizeof big);
    char out[BLEND_IDENTITY_BYTES_MAX + 1];
    char err[BLEND_IDENTITY_ERR_BYTES];
    assert_int_equal(blend_identity_normalize(BLEND_IDENTITY_CHAT, big, sizeof big, 0, out,
                                              sizeof out, err, sizeof err),
                     BLEND_EINVAL);
    assert_non_null(strstr(err, "at most"));
    /* A NUL inside the given length is a control character, not an end. */
    static const char with_nul[] = "ab\0cd";
    assert_int_equal(blend_identity_normalize(BLEND_IDENTITY_CHAT, with_nul, 5, 0, out, sizeof out,
                                              err, sizeof err),
                     BLEND_EINVAL);
    /* Only len bytes are read: the rest of the buffer is not part of the value. */
    assert_int_equal(
        blend_identity_normalize(BLEND_IDENTITY_CHAT, "abcdef", 3, 0, out, sizeof out, NULL, 0), 0);
    assert_string_equal(out, "abc");
}

static void kinds_and_country_codes(void **state)
{
    (void)state;
    enum blend_identity_kind k;
    assert_int_equal(blend_identity_kind_parse("phone", &k), 0);
    assert_int_equal(k, BLEND_IDENTITY_PHONE);
    assert_int_equal(blend_identity_kind_parse("social", &k), 0);
    assert_int_equal(k, BLEND_IDENTITY_SOCIAL);
    assert_int_equal(blend_identity_kind_parse("fax", &k), BLEND_EINVAL);
    assert_int_equal(blend_identity_kind_parse(NULL, &k), BLEND_EINVAL);
    int cc = -1;
    assert_int_equal(blend_identity_country_code_parse("82", &cc), 0);
    assert_int_equal(cc, 82);
    assert_int_equal(blend_identity_country_code_parse("+86", &cc), 0);
    assert_int_equal(cc, 86);
    assert_int_equal(blend_identity_country_code_parse("1", &cc), 0);
    assert_int_equal(cc, 1);
    cc = -1;
    assert_int_equal(blend_identity_country_code_parse("082", &cc), BLEND_EINVAL);
    assert_int_equal(blend_identity_country_code_parse("1234", &cc), BLEND_EINVAL);
    assert_int_equal(blend_identity_country_code_parse("", &cc), BLEND_EINVAL);
    assert_int_equal(blend_identity_country_code_parse("+", &cc), BLEND_EINVAL);
    assert_int_equal(blend_identity_country_code_parse("8a", &cc), BLEND_EINVAL);
    assert_int_equal(cc, -1);
}

/* The contacts descriptor stores identities only in canonical form: the API normalises before
 * validation, and any other writer (provisioning) gets the canonical spelling in the error. */
static void contacts_refuse_non_canonical(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        const char *path;    /* NULL: accepted */
        const char *message; /* a part of the message */
    } t[] = {
        {"{\"identities\":[{\"kind\":\"phone\",\"value\":\"+821012345678\"},"
         "{\"kind\":\"email\",\"value\":\"k@x.kr\"}]}",
         NULL, NULL},
        {"{\"identities\":[{\"kind\":\"email\",\"value\":\"k@x.kr\"},"
         "{\"kind\":\"phone\",\"value\":\"+82 10 1234 5678\"}]}",
         "identities[1].value", "+821012345678"},
        {"{\"identities\":[{\"kind\":\"email\",\"value\":\"Kim@X.kr\"}]}", "identities[0].value",
         "kim@x.kr"},
        {"{\"identities\":[{\"kind\":\"phone\",\"value\":\"010-1234-5678\"}]}",
         "identities[0].value", "country calling code"},
        {"{\"identities\":[{\"kind\":\"social\",\"value\":\"alice\"}]}", "identities[0].value",
         "network:handle"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_error_t jerr;
        json_t *in = json_loads(t[i].doc, 0, &jerr);
        assert_non_null(in);
        json_t *doc = NULL;
        struct blend_field_errors errs;
        int rc =
            blend_model_validate(&blend_res_contacts, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs);
        json_decref(in);
        if (!t[i].path) {
            assert_int_equal(rc, 0);
            json_decref(doc);
            continue;
        }
        assert_int_equal(rc, BLEND_EINVAL);
        assert_int_equal(errs.count, 1);
        assert_string_equal(errs.items[0].path, t[i].path);
        if (!strstr(errs.items[0].message, t[i].message)) {
            fail_msg("row %zu: message '%s' lacks '%s'", i, errs.items[0].message, t[i].message);
        }
    }
    /* merged_into is the server's: refused on input. */
    json_t *in = json_pack("{s:i}", "merged_into", 3);
    json_t *doc = NULL;
    struct blend_field_errors errs;
    assert_int_equal(
        blend_model_validate(&blend_res_contacts, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
        BLEND_EINVAL);
    assert_string_equal(errs.items[0].path, "merged_into");
    json_decref(in);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phones_korean),           cmocka_unit_test(phones_chinese),
        cmocka_unit_test(phones_other_and_odd),    cmocka_unit_test(emails),
        cmocka_unit_test(chats_and_socials),       cmocka_unit_test(lengths_and_nul),
        cmocka_unit_test(kinds_and_country_codes), cmocka_unit_test(contacts_refuse_non_canonical),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return failed;
}
