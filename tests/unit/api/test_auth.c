/* Tests for credentials (Argon2id hashes, tokens) and the per-source login rate limiter. */
#include "api/auth.h"
#include "api/ratelimit.h"
#include "base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void password_hash_and_verify(void **state)
{
    assert_int_equal(blend_auth_init(), 0);
    char h[BLEND_PASSWORD_HASH_BYTES];
    assert_int_equal(blend_password_hash("correct horse", BLEND_PASSWORD_COST_MIN, h), 0);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_int_equal(blend_password_verify(h, "correct horse"), 0);
    assert_int_equal(blend_password_verify(h, "correct horsE"), BLEND_EAUTH);
    assert_int_equal(blend_password_verify("", "correct horse"), BLEND_EAUTH);
    assert_int_equal(blend_password_verify("garbage", "correct horse"), BLEND_EAUTH);
    /* Policy: too short, too long. */
    assert_int_equal(blend_password_hash("short", BLEND_PASSWORD_COST_MIN, h), BLEND_EINVAL);
    char longpw[300];
    memset(longpw, 'a', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    assert_int_equal(blend_password_check(longpw), BLEND_EINVAL);
    /* The same password hashes differently each time (random salt). */
    char h2[BLEND_PASSWORD_HASH_BYTES];
    assert_int_equal(blend_password_hash("correct horse", BLEND_PASSWORD_COST_MIN, h2), 0);
    assert_string_not_equal(h, h2);
}

static void tokens_are_random_and_hash_stably(void **state)
{
    assert_int_equal(blend_auth_init(), 0);
    char t1[BLEND_TOKEN_BYTES], t2[BLEND_TOKEN_BYTES];
    char d1[BLEND_TOKEN_HASH_BYTES], d2[BLEND_TOKEN_HASH_BYTES], again[BLEND_TOKEN_HASH_BYTES];
    blend_token_new(t1, d1);
    blend_token_new(t2, d2);
    assert_string_not_equal(t1, t2);
    assert_int_equal(strlen(t1), 49);
    assert_int_equal(strlen(d1), 64);
    assert_int_equal(blend_token_hash(t1, again), 0);
    assert_string_equal(again, d1);
    assert_int_equal(blend_token_hash("blend_short", again), BLEND_EINVAL);
    char bad[BLEND_TOKEN_BYTES];
    memcpy(bad, t1, sizeof bad);
    bad[10] = '/';
    assert_int_equal(blend_token_hash(bad, again), BLEND_EINVAL);
}

static void roles_parse(void **state)
{
    assert_int_equal(blend_role_parse("qa"), BLEND_ROLE_QA);
    assert_int_equal(blend_role_parse("root"), 0);
    assert_string_equal(blend_role_name(BLEND_ROLE_SUPERVISOR), "supervisor");
    enum blend_password_cost c;
    assert_int_equal(blend_password_cost_parse("moderate", &c), 0);
    assert_int_equal(c, BLEND_PASSWORD_COST_MODERATE);
    assert_int_equal(blend_password_cost_parse("cheap", &c), BLEND_EINVAL);
}

static void ratelimit_buckets(void **state)
{
    struct blend_ratelimit *rl = malloc(sizeof *rl);
    blend_ratelimit_init(rl, 3);
    assert_true(blend_ratelimit_take(rl, "10.0.0.1", 0));
    assert_true(blend_ratelimit_take(rl, "10.0.0.1", 0));
    assert_true(blend_ratelimit_take(rl, "10.0.0.1", 0));
    assert_false(blend_ratelimit_take(rl, "10.0.0.1", 1000));
    /* Another source has its own bucket. */
    assert_true(blend_ratelimit_take(rl, "10.0.0.2", 1000));
    /* 3 per minute: one token back after 20 s. */
    assert_true(blend_ratelimit_take(rl, "10.0.0.1", 21000));
    assert_false(blend_ratelimit_take(rl, "10.0.0.1", 21001));
    /* A full table reuses the least recently seen entry. */
    char src[32];
    for (int i = 0; i < BLEND_LOGIN_SOURCES_MAX + 10; i++) {
        snprintf(src, sizeof src, "s%d", i);
        assert_true(blend_ratelimit_take(rl, src, 30000 + i));
    }
    free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_hash_and_verify),
        cmocka_unit_test(tokens_are_random_and_hash_stably),
        cmocka_unit_test(roles_parse),
        cmocka_unit_test(ratelimit_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
