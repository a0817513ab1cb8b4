/* Tests for the capped buffer, the error table and the JSON escaper of the logger. */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void buf_grows_until_cap(void **state)
{
    struct blend_buf b;
    blend_buf_init(&b, 10);
    assert_int_equal(blend_buf_appends(&b, "hello"), 0);
    assert_int_equal(blend_buf_printf(&b, "%d", 1234), 0);
    assert_string_equal(b.data, "hello1234");
    assert_int_equal(blend_buf_appends(&b, "ab"), BLEND_ELIMIT);
    assert_string_equal(b.data, "hello1234");
    assert_int_equal(blend_buf_appends(&b, "a"), 0);
    assert_int_equal(b.len, 10);
    char *s = blend_buf_take(&b);
    assert_string_equal(s, "hello1234a");
    blend_free(s);
    assert_null(b.data);
    blend_buf_deinit(&b);
    assert_int_equal(blend_alloc_live(), 0);
}

static void buf_reports_oom(void **state)
{
    struct blend_buf b;
    blend_buf_init(&b, 100);
    blend_alloc_fail_nth(1);
    assert_int_equal(blend_buf_appends(&b, "x"), BLEND_ENOMEM);
    assert_int_equal(b.len, 0);
    assert_int_equal(blend_buf_appends(&b, "x"), 0);
    blend_buf_deinit(&b);
    assert_int_equal(blend_alloc_live(), 0);
}

static void errors_have_names_and_messages(void **state)
{
    assert_string_equal(blend_errname(BLEND_ENOENT), "ENOENT");
    assert_string_equal(blend_strerror(BLEND_ENOENT), "not found");
    assert_string_equal(blend_strerror(0), "success");
    assert_string_equal(blend_errname(12345), "EUNKNOWN");
    assert_true(BLEND_EINVAL < 0 && BLEND_EINTERNAL < 0);
}

static void escape_keeps_utf8_whole(void **state)
{
    char out[16];
    assert_int_equal(blend_json_escape(out, sizeof out, "a\"b\\\n\x01"), 14);
    assert_string_equal(out, "a\\\"b\\\\\\n\\u0001");
    /* "가" is three bytes; a 6-byte buffer holds "ab" and one whole "가" but not two. */
    char small[6];
    blend_json_escape(small, sizeof small, "ab\xea\xb0\x80\xea\xb0\x80");
    assert_string_equal(small, "ab\xea\xb0\x80");
    char tiny[5];
    blend_json_escape(tiny, sizeof tiny, "ab\xea\xb0\x80");
    assert_string_equal(tiny, "ab");
}

static void log_level_parses(void **state)
{
    enum blend_log_level l;
    assert_int_equal(blend_log_level_parse("warn", &l), 0);
    assert_int_equal(l, BLEND_LOG_WARN);
    assert_int_equal(blend_log_level_parse("loud", &l), BLEND_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_grows_until_cap),
        cmocka_unit_test(buf_reports_oom),
        cmocka_unit_test(errors_have_names_and_messages),
        cmocka_unit_test(escape_keeps_utf8_whole),
        cmocka_unit_test(log_level_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
