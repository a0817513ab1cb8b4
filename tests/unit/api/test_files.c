/*
 * Tests for the file store of message files and its API rules (files.h): put and read back by
 * checksum (same bytes kept once, the older mail paths still found, names that are not checksums
 * refused before any path is built), the file-name sanitiser (paths, control characters, invalid
 * UTF-8, hidden names, the length cut on a character boundary), the active content types, and
 * the reply-attachments parser with each of its limits. Files go to a fresh temporary directory;
 * every test checks that nothing allocated is left.
 */
#include "api/files.h"
#include "base/alloc.h"

#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/blend-files-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 && blend_alloc_live() == 0 ? 0 : -1;
}

static void put_and_read(void **state)
{
    (void)state;
    char hex[BLEND__FILES_HEX_BYTES], again[BLEND__FILES_HEX_BYTES];
    assert_int_equal(blend__files_put(dir, "abc", 3, hex), 0);
    /* SHA-256("abc") */
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(blend__files_put(dir, "abc", 3, again), 0);
    assert_string_equal(hex, again);
    unsigned char *data = NULL;
    size_t len = 0;
    assert_int_equal(blend__files_read(dir, hex, 100, &data, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    blend_free(data);
    assert_int_equal(blend__files_read(dir, hex, 2, &data, &len), BLEND_ELIMIT);
    /* Empty files are files too. */
    assert_int_equal(blend__files_put(dir, "", 0, hex), 0);
    assert_int_equal(blend__files_read(dir, hex, 100, &data, &len), 0);
    assert_int_equal(len, 0);
    blend_free(data);
}

static void names_that_are_not_checksums(void **state)
{
    (void)state;
    unsigned char *data = NULL;
    size_t len = 0;
    const char *bad[] = {"../../etc/passwd", "",
                         "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(blend__files_read(dir, bad[i], 100, &data, &len), BLEND_EINVAL);
    }
    assert_int_equal(blend__files_read(dir, NULL, 100, &data, &len), BLEND_EINVAL);
    assert_int_equal(
        blend__files_read(dir, "0000000000000000000000000000000000000000000000000000000000000000",
                          100, &data, &len),
        BLEND_ENOENT);
}

/* Files the email channel kept before the store: mail/att/<hex> and mail/<hex>.eml. */
static void older_paths_found(void **state)
{
    (void)state;
    char path[256];
    const char *a = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *b = "2222222222222222222222222222222222222222222222222222222222222222";
    snprintf(path, sizeof path, "%s/mail", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/mail/att", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/mail/att/%s", dir, a);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old attachment", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/mail/%s.eml", dir, b);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("old raw", f);
    fclose(f);
    unsigned char *data = NULL;
    size_t len = 0;
    assert_int_equal(blend__files_read(dir, a, 100, &data, &len), 0);
    assert_memory_equal(data, "old attachment", len);
    blend_free(data);
    assert_int_equal(blend__files_read(dir, b, 100, &data, &len), 0);
    assert_memory_equal(data, "old raw", len);
    blend_free(data);
}

static void sanitise(const char *in, const char *want)
{
    char out[BLEND__FILES_NAME_BYTES];
    blend__files_sanitize_name(in, out, sizeof out);
    assert_string_equal(out, want);
}

static void sanitiser(void **state)
{
    (void)state;
    sanitise("report.pdf", "report.pdf");
    sanitise("../../etc/passwd", "passwd");
    sanitise("C:\\Users\\me\\견적서.xlsx", "견적서.xlsx");
    sanitise("a\r\nb\"c*d?e<f>g|h:i", "a__b_c_d_e_f_g_h_i");
    sanitise(".htaccess", "htaccess");
    sanitise("...", "attachment");
    sanitise("", "attachment");
    sanitise(NULL, "attachment");
    sanitise("dir/", "attachment");
    sanitise("name. ", "name");
    sanitise("bad\xff\xfe utf8", "bad__ utf8");
    sanitise("\xe4\xb8", "__");        /* a cut sequence */
    sanitise("\xed\xa0\x80x", "___x"); /* a surrogate */
    /* Cut to 200 bytes on a character boundary: 67 three-byte characters fit (201 do not). */
    char longname[400] = "";
    for (int i = 0; i < 100; i++) {
        strcat(longname, "가");
    }
    char out[BLEND__FILES_NAME_BYTES];
    blend__files_sanitize_name(longname, out, sizeof out);
    assert_int_equal(strlen(out), 198);
    /* A small buffer cuts earlier. */
    char small[16];
    blend__files_sanitize_name("abcdefghijklmnopqrstuvwxyz", small, sizeof small);
    assert_string_equal(small, "abcdefghijklmno");
}

static void active_types(void **state)
{
    (void)state;
    const char *active[] = {"text/html",
                            "TEXT/HTML; charset=utf-8",
                            "image/svg+xml",
                            "application/xml",
                            "text/xml",
                            "application/javascript",
                            "text/javascript",
                            "application/rss+xml",
                            "application/xhtml+xml",
                            "text/css",
                            "",
                            NULL,
                            "nonsense",
                            "/x",
                            "a/"};
    for (size_t i = 0; i < sizeof active / sizeof active[0]; i++) {
        assert_true(blend__files_is_active_type(active[i]));
    }
    const char *passive[] = {"application/pdf", "image/png",       "text/plain",
                             "image/jpeg",      "application/zip", "text/plain; charset=euc-kr"};
    for (size_t i = 0; i < sizeof passive / sizeof passive[0]; i++) {
        assert_false(blend__files_is_active_type(passive[i]));
    }
}

static int parse_text(const char *text, struct blend__uploads *u, struct blend__uploads_error *err)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    int rc = blend__uploads_parse(j, u, err);
    json_decref(j);
    return rc;
}

static void uploads(void **state)
{
    (void)state;
    struct blend__uploads u;
    struct blend__uploads_error err;
    assert_int_equal(
        parse_text("[{\"filename\": \"../x/a.txt\", \"content_type\": \"Text/Plain\", "
                   "\"data\": \"aGVs\\nbG8=\"}, {\"filename\": \"b\", \"data\": \"\"}]",
                   &u, &err),
        0);
    assert_int_equal(u.count, 2);
    assert_string_equal(u.items[0].filename, "a.txt");
    assert_string_equal(u.items[0].content_type, "text/plain");
    assert_int_equal(u.items[0].size, 5);
    assert_memory_equal(u.items[0].data, "hello", 5);
    assert_string_equal(u.items[1].content_type, "application/octet-stream");
    assert_int_equal(u.items[1].size, 0);
    blend__uploads_free(&u);
    assert_int_equal(blend__uploads_parse(NULL, &u, &err), 0);
    assert_int_equal(u.count, 0);

    struct {
        const char *body;
        int status;
        const char *path;
    } bad[] = {
        {"{}", 422, "attachments"},
        {"[1]", 422, "attachments[0].data"},
        {"[{\"filename\": \"a\"}]", 422, "attachments[0].data"},
        {"[{\"filename\": \"a\", \"data\": \"\", \"extra\": 1}]", 422, "attachments[0].data"},
        {"[{\"filename\": \"\", \"data\": \"\"}]", 422, "attachments[0].filename"},
        {"[{\"filename\": \"a\", \"data\": \"!!!!\"}]", 422, "attachments[0].data"},
        {"[{\"filename\": \"a\", \"data\": \"aGVsbG8\"}]", 422, "attachments[0].data"},
        {"[{\"filename\": \"a\", \"content_type\": \"text\", \"data\": \"\"}]", 422,
         "attachments[0].content_type"},
        {"[{\"filename\": \"a\", \"content_type\": \"text/plain\\r\\nX: y\", \"data\": \"\"}]", 422,
         "attachments[0].content_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_text(bad[i].body, &u, &err), BLEND_EINVAL);
        assert_int_equal(err.status, bad[i].status);
        assert_string_equal(err.path, bad[i].path);
    }
    /* Eleven files. */
    json_t *many = json_array();
    for (int i = 0; i < 11; i++) {
        json_array_append_new(many, json_pack("{s:s, s:s}", "filename", "f", "data", ""));
    }
    assert_int_equal(blend__uploads_parse(many, &u, &err), BLEND_EINVAL);
    assert_int_equal(err.status, 422);
    assert_non_null(strstr(err.message, "10 attachments"));
    json_decref(many);
}

/* base64 of n zero bytes. */
static json_t *file_of(size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    unsigned char *bin = calloc(1, n ? n : 1);
    char *b64 = malloc(cap);
    sodium_bin2base64(b64, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *f = json_pack("{s:s, s:s}", "filename", "big.bin", "data", b64);
    free(bin);
    free(b64);
    return f;
}

static void upload_limits(void **state)
{
    (void)state;
    struct blend__uploads u;
    struct blend__uploads_error err;
    /* Exactly 3 MiB passes; one byte more is 413 naming the limit. */
    json_t *a = json_array();
    json_array_append_new(a, file_of(BLEND__UPLOAD_BYTES_MAX));
    assert_int_equal(blend__uploads_parse(a, &u, &err), 0);
    assert_int_equal(u.items[0].size, BLEND__UPLOAD_BYTES_MAX);
    blend__uploads_free(&u);
    json_decref(a);
    a = json_array();
    json_array_append_new(a, file_of(BLEND__UPLOAD_BYTES_MAX + 1));
    assert_int_equal(blend__uploads_parse(a, &u, &err), BLEND_ELIMIT);
    assert_int_equal(err.status, 413);
    assert_non_null(strstr(err.message, "3 MiB"));
    json_decref(a);
    /* Three files of 1.5 MiB: the third passes the total. */
    a = json_array();
    for (int i = 0; i < 3; i++) {
        json_array_append_new(a, file_of(1536u * 1024));
    }
    assert_int_equal(blend__uploads_parse(a, &u, &err), BLEND_ELIMIT);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.path, "attachments[2].data");
    assert_non_null(strstr(err.message, "3 MiB (3145728 bytes) together"));
    json_decref(a);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(names_that_are_not_checksums, setup, teardown),
        cmocka_unit_test_setup_teardown(older_paths_found, setup, teardown),
        cmocka_unit_test_setup_teardown(sanitiser, setup, teardown),
        cmocka_unit_test_setup_teardown(active_types, setup, teardown),
        cmocka_unit_test_setup_teardown(uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(upload_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
