/*
 * Tests for form bodies and the Twilio-style signature (src/api/form.c): decoding ('+', %XX,
 * UTF-8), refusals (repeated or empty names, a decoded NUL, bytes that are not UTF-8, limits),
 * the signature base (sorted fields after the URL) and Base64 HMAC-SHA1 against vectors
 * computed independently with Python's hmac/hashlib, and encoding that round-trips.
 */
#include "api/form.h"
#include "base/alloc.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The body Python's urllib.parse.urlencode writes for the fields of the vector below. */
static const char vector_body[] =
    "MessageSid=SM0001&From=%2B821055551234&To=%2B8215880000&"
    "Body=%EB%B0%B0%EC%86%A1+%EC%96%B8%EC%A0%9C%3F+a%2Bb%3Dc+%26+d&NumMedia=0";
static const char vector_url[] = "https://blend.example.com/api/v1/channels/sms/messages";
static const char vector_token[] = "tw-auth-token-0123456789";

static void decodes_fields_in_order(void **state)
{
    (void)state;
    struct blend__form f;
    assert_int_equal(blend__form_parse(vector_body, strlen(vector_body), &f), 0);
    assert_int_equal(f.pairs_count, 5);
    assert_string_equal(f.pairs[0].name, "MessageSid");
    assert_string_equal(f.pairs[1].value, "+821055551234");
    assert_string_equal(blend__form_get(&f, "Body"), "배송 언제? a+b=c & d");
    assert_string_equal(blend__form_get(&f, "NumMedia"), "0");
    assert_null(blend__form_get(&f, "body")); /* names are case-sensitive */
    blend__form_deinit(&f);

    /* Empty segments are skipped; a name alone or with '=' has an empty value. */
    const char *odd = "&a&&b=&c=1%202&";
    assert_int_equal(blend__form_parse(odd, strlen(odd), &f), 0);
    assert_int_equal(f.pairs_count, 3);
    assert_string_equal(blend__form_get(&f, "a"), "");
    assert_string_equal(blend__form_get(&f, "b"), "");
    assert_string_equal(blend__form_get(&f, "c"), "1 2");
    blend__form_deinit(&f);

    /* An empty body is an empty form; a body need not be NUL-terminated. */
    assert_int_equal(blend__form_parse("", 0, &f), 0);
    assert_int_equal(f.pairs_count, 0);
    blend__form_deinit(&f);
    assert_int_equal(blend__form_parse("x=1&y=2", 3, &f), 0);
    assert_int_equal(f.pairs_count, 1);
    assert_string_equal(blend__form_get(&f, "x"), "1");
    blend__form_deinit(&f);
}

static void refuses_bad_forms(void **state)
{
    (void)state;
    struct blend__form f;
    memset(&f, 0x5a, sizeof f);
    static const char *const bad[] = {
        "a=1&a=2",     /* a repeated name */
        "=1",          /* no name */
        "a=%00b",      /* a decoded NUL */
        "a=%ff%fe",    /* not UTF-8 */
        "a%00=1",      /* a NUL in a name */
        "a=%C3%28",    /* a broken two-byte sequence */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(blend__form_parse(bad[i], strlen(bad[i]), &f), BLEND_EINVAL);
    }
    assert_int_equal(f.pairs_count, 0x5a5a5a5a5a5a5a5aULL); /* untouched on failure */

    /* Too many pairs, too many bytes. */
    char many[BLEND__FORM_PAIRS_MAX * 8 + 16];
    size_t n = 0;
    for (int i = 0; i <= BLEND__FORM_PAIRS_MAX; i++) {
        n += (size_t)snprintf(many + n, sizeof many - n, "k%d=v&", i);
    }
    assert_int_equal(blend__form_parse(many, n, &f), BLEND_ELIMIT);
    size_t big_len = BLEND__FORM_BYTES_MAX + 1;
    char *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'a', big_len);
    assert_int_equal(blend__form_parse(big, big_len, &f), BLEND_ELIMIT);
    free(big);

    /* Percent signs that are not escapes stay as they are (libcurl's reading). */
    assert_int_equal(blend__form_parse("a=100%25&b=5%&c=%zz", 19, &f), 0);
    assert_string_equal(blend__form_get(&f, "a"), "100%");
    assert_string_equal(blend__form_get(&f, "b"), "5%");
    assert_string_equal(blend__form_get(&f, "c"), "%zz");
    blend__form_deinit(&f);
}

static void signature_matches_python(void **state)
{
    (void)state;
    struct blend__form f;
    assert_int_equal(blend__form_parse(vector_body, strlen(vector_body), &f), 0);
    struct blend_buf base;
    blend_buf_init(&base, 4096);
    assert_int_equal(blend__form_signature_base(vector_url, &f, &base), 0);
    assert_string_equal(base.data, "https://blend.example.com/api/v1/channels/sms/messages"
                                   "Body배송 언제? a+b=c & dFrom+821055551234MessageSidSM0001"
                                   "NumMedia0To+8215880000");
    /* Computed once with Python:
     *   base64.b64encode(hmac.new(b"tw-auth-token-0123456789", base.encode(),
     *                             hashlib.sha1).digest())
     * where base is the string above. */
    char sig[BLEND__FORM_SIG_BYTES];
    blend__form_sign(vector_token, base.data, base.len, sig);
    assert_string_equal(sig, "aat/tuGSXOi8ediVbUpUUgkQH/0=");
    assert_true(blend__form_signature_ok(vector_token, base.data, base.len, sig));
    assert_false(blend__form_signature_ok("another-token", base.data, base.len, sig));
    assert_false(blend__form_signature_ok(vector_token, base.data, base.len - 1, sig));
    assert_false(blend__form_signature_ok(vector_token, base.data, base.len, ""));
    assert_false(blend__form_signature_ok(vector_token, base.data, base.len,
                                          "aat/tuGSXOi8ediVbUpUUgkQH/0"));
    blend_buf_deinit(&base);
    blend__form_deinit(&f);

    /* The provider's own documented example (its security page), also checked with Python:
     * token 12345, URL with a query string, five fields. */
    const char *doc_body = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&"
                           "From=%2B12349013030&To=%2B18005551212";
    assert_int_equal(blend__form_parse(doc_body, strlen(doc_body), &f), 0);
    blend_buf_init(&base, 4096);
    assert_int_equal(
        blend__form_signature_base("https://mycompany.com/myapp.php?foo=1&bar=2", &f, &base), 0);
    blend__form_sign("12345", base.data, base.len, sig);
    assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    blend_buf_deinit(&base);
    blend__form_deinit(&f);

    /* A base that does not fit its buffer is refused, not cut. */
    assert_int_equal(blend__form_parse("a=1", 3, &f), 0);
    blend_buf_init(&base, 8);
    assert_int_equal(blend__form_signature_base("https://x.example/", &f, &base), BLEND_ELIMIT);
    blend_buf_deinit(&base);
    blend__form_deinit(&f);
}

static void encodes_and_round_trips(void **state)
{
    (void)state;
    struct blend_buf b;
    blend_buf_init(&b, 4096);
    assert_int_equal(blend__form_append(&b, "To", "+821055551234"), 0);
    assert_int_equal(blend__form_append(&b, "Body", "내일 a&b=c+d"), 0);
    assert_int_equal(blend__form_append(&b, "Empty", ""), 0);
    assert_string_equal(b.data, "To=%2B821055551234&Body=%EB%82%B4%EC%9D%BC%20a%26b%3Dc%2Bd&"
                                "Empty=");
    struct blend__form f;
    assert_int_equal(blend__form_parse(b.data, b.len, &f), 0);
    assert_string_equal(blend__form_get(&f, "To"), "+821055551234");
    assert_string_equal(blend__form_get(&f, "Body"), "내일 a&b=c+d");
    assert_string_equal(blend__form_get(&f, "Empty"), "");
    blend__form_deinit(&f);
    blend_buf_deinit(&b);
    blend_buf_init(&b, 10);
    assert_int_equal(blend__form_append(&b, "Body", "0123456789"), BLEND_ELIMIT);
    blend_buf_deinit(&b);
}

static void nothing_leaks(void **state)
{
    (void)state;
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_fields_in_order),
        cmocka_unit_test(refuses_bad_forms),
        cmocka_unit_test(signature_matches_python),
        cmocka_unit_test(encodes_and_round_trips),
        cmocka_unit_test(nothing_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
