/*
 * The file store of message files (see files.h). Writing: checksum (libsodium's SHA-256), a
 * temporary file beside the final name (mkstemp), every byte written, fsync, rename, fsync of
 * the directory. Reading: the name is checked to be a checksum before any path is built from
 * it. The upload parser is a pure function of its JSON input (fuzzed by
 * tests/fuzz/fuzz_api_uploads.c); base64 is decoded by libsodium.
 */
#include "api/files.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_PATH_BYTES 4200

/* ---- Writing and reading ------------------------------------------------------------------- */

static int mkdir_one(const char *path)
{
    return mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : BLEND_EIO;
}

static int write_all(int fd, const unsigned char *p, size_t left)
{
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return BLEND_EIO;
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

int blend__files_put(const char *data_dir, const void *data, size_t len,
                     char sha256_hex[BLEND__FILES_HEX_BYTES])
{
    BLEND_ASSERT(data_dir && (data || len == 0) && sha256_hex);
    unsigned char sum[crypto_hash_sha256_BYTES];
    char hex[BLEND__FILES_HEX_BYTES];
    crypto_hash_sha256(sum, data, len);
    sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
    char dir[FILES_PATH_BYTES], path[FILES_PATH_BYTES], tmp[FILES_PATH_BYTES];
    snprintf(dir, sizeof dir, "%s/files", data_dir);
    snprintf(path, sizeof path, "%s/%s", dir, hex);
    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, hex);
    if (mkdir_one(data_dir) != 0 || mkdir_one(dir) != 0) {
        return BLEND_EIO;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len) {
        memcpy(sha256_hex, hex, sizeof hex);
        return 0;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        return BLEND_EIO;
    }
    int rc = write_all(fd, data, len);
    rc = fsync(fd) != 0 ? BLEND_EIO : rc;
    rc = close(fd) != 0 ? BLEND_EIO : rc;
    if (rc || rename(tmp, path) != 0) {
        unlink(tmp);
        return BLEND_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    memcpy(sha256_hex, hex, sizeof hex);
    return 0;
}

static int is_checksum(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) {
            return 0;
        }
    }
    return n == 64;
}

static int read_path(const char *path, size_t bytes_max, unsigned char **data_out, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? BLEND_ENOENT : BLEND_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return BLEND_EIO;
    }
    if ((uint64_t)st.st_size > bytes_max) {
        close(fd);
        return BLEND_ELIMIT;
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = blend_malloc(len + 1);
    size_t got = 0;
    while (buf && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!buf) {
        return BLEND_ENOMEM;
    }
    if (got != len) {
        blend_free(buf);
        return BLEND_EIO;
    }
    buf[len] = '\0';
    *data_out = buf;
    *len_out = len;
    return 0;
}

int blend__files_read(const char *data_dir, const char *sha256_hex, size_t bytes_max,
                      unsigned char **data_out, size_t *len_out)
{
    BLEND_ASSERT(data_dir && data_out && len_out);
    if (!sha256_hex || !is_checksum(sha256_hex)) {
        return BLEND_EINVAL;
    }
    /* The store first, then where the email channel kept files before it. */
    static const char *const layouts[] = {"%s/files/%s", "%s/mail/att/%s", "%s/mail/%s.eml"};
    int rc = BLEND_ENOENT;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0] && rc == BLEND_ENOENT; i++) {
        char path[FILES_PATH_BYTES];
        snprintf(path, sizeof path, layouts[i], data_dir, sha256_hex);
        rc = read_path(path, bytes_max, data_out, len_out);
    }
    return rc;
}

/* ---- Names and types ----------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0x80             ? 1
                  : (s[0] & 0xe0) == 0xc0 ? 2
                  : (s[0] & 0xf0) == 0xe0 ? 3
                  : (s[0] & 0xf8) == 0xf0 ? 4
                                          : 0;
    if (want == 0 || want > n || (want == 2 && s[0] < 0xc2) || (want == 4 && s[0] > 0xf4)) {
        return 0;
    }
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    /* Overlong three- and four-byte forms, surrogates, beyond U+10FFFF. */
    if ((want == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (want == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (want == 4 && s[0] == 0xf0 && s[1] < 0x90) || (want == 4 && s[0] == 0xf4 && s[1] >= 0x90)) {
        return 0;
    }
    return want;
}

void blend__files_sanitize_name(const char *in, char *out, size_t cap)
{
    BLEND_ASSERT(out && cap >= 16);
    size_t max = cap - 1 < BLEND__FILES_NAME_BYTES - 1 ? cap - 1 : BLEND__FILES_NAME_BYTES - 1;
    const char *base = in ? in : "";
    for (const char *p = base; *p; p++) {
        if (*p == '/' || *p == '\\') {
            base = p + 1; /* the last path component only */
        }
    }
    const unsigned char *s = (const unsigned char *)base;
    size_t left = strlen(base), n = 0;
    while (left > 0) {
        size_t k = utf8_len(s, left);
        int bad = k == 0 || s[0] < 0x20 || s[0] == 0x7f || (k == 1 && strchr(":*?\"<>|", s[0]));
        size_t step = k ? k : 1;
        size_t put = bad ? 1 : k;
        if (n + put > max) {
            break;
        }
        if (bad) {
            out[n++] = '_';
        } else {
            memcpy(out + n, s, k);
            n += k;
        }
        s += step;
        left -= step;
    }
    out[n] = '\0';
    /* No hidden files, no names ending in a dot or a blank (Windows drops them). */
    size_t lead = 0;
    while (out[lead] == '.' || out[lead] == ' ') {
        lead++;
    }
    memmove(out, out + lead, n - lead + 1);
    n -= lead;
    while (n > 0 && (out[n - 1] == '.' || out[n - 1] == ' ')) {
        out[--n] = '\0';
    }
    if (n == 0) {
        snprintf(out, cap, "attachment");
    }
}

int blend__files_is_active_type(const char *content_type)
{
    if (!content_type || !content_type[0]) {
        return 1;
    }
    char t[BLEND__FILES_TYPE_BYTES];
    size_t n = 0;
    for (; content_type[n] && content_type[n] != ';' && n + 1 < sizeof t; n++) {
        t[n] = (char)tolower((unsigned char)content_type[n]);
    }
    t[n] = '\0';
    while (n > 0 && t[n - 1] == ' ') {
        t[--n] = '\0';
    }
    /* Anything a browser renders or runs: markup, scripts, style, and types it sniffs. */
    static const char *const exact[] = {"text/html",
                                        "application/xhtml+xml",
                                        "image/svg+xml",
                                        "text/xml",
                                        "application/xml",
                                        "text/javascript",
                                        "application/javascript",
                                        "application/ecmascript",
                                        "text/ecmascript",
                                        "text/css",
                                        "application/x-javascript",
                                        "text/vtt",
                                        "text/xsl",
                                        "application/xslt+xml",
                                        "multipart/x-mixed-replace",
                                        "application/x-shockwave-flash"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        if (strcmp(t, exact[i]) == 0) {
            return 1;
        }
    }
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || !slash[1] || strpbrk(t, " \t\"\\")) {
        return 1; /* not a type: never served as itself */
    }
    size_t len = strlen(t);
    return (len > 4 && strcmp(t + len - 4, "+xml") == 0) || strstr(t, "script") != NULL;
}

/* ---- Uploads ------------------------------------------------------------------------------- */

static int refuse(struct blend__uploads_error *err, int status, size_t i, const char *field,
                  const char *message)
{
    err->status = status;
    if (field) {
        snprintf(err->path, sizeof err->path, "attachments[%zu].%s", i, field);
    } else {
        snprintf(err->path, sizeof err->path, "attachments");
    }
    snprintf(err->message, sizeof err->message, "%s", message);
    return status == 413 ? BLEND_ELIMIT : BLEND_EINVAL;
}

/* "type/subtype" of token characters, lower-cased into out; 0 or -1. */
static int content_type_read(const char *s, char *out, size_t cap)
{
    size_t n = 0, slashes = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (n + 1 >= cap || !(isalnum(ch) || strchr("!#$&^_.+-/", ch))) {
            return -1;
        }
        slashes += ch == '/';
        out[n] = (char)tolower(ch);
    }
    out[n] = '\0';
    const char *slash = strchr(out, '/');
    return slashes == 1 && slash != out && slash[1] ? 0 : -1;
}

static int upload_one(const json_t *item, size_t i, struct blend__upload *u, size_t *total,
                      struct blend__uploads_error *err)
{
    const char *filename = NULL, *type = NULL, *data = NULL;
    size_t data_len = 0;
    if (!json_is_object(item) ||
        json_unpack((json_t *)item, "{s:s, s?s, s:s% !}", "filename", &filename, "content_type",
                    &type, "data", &data, &data_len) != 0) {
        return refuse(err, 422, i, "data",
                      "expected {\"filename\": text, \"content_type\": text, \"data\": base64}");
    }
    if (!filename[0]) {
        return refuse(err, 422, i, "filename", "required: the file's name");
    }
    if (type && type[0] && content_type_read(type, u->content_type, sizeof u->content_type)) {
        return refuse(err, 422, i, "content_type", "not a media type (type/subtype)");
    }
    if (!type || !type[0]) {
        snprintf(u->content_type, sizeof u->content_type, "application/octet-stream");
    }
    /* Four characters carry three bytes: refuse before decoding what cannot fit. */
    size_t bound = data_len / 4 * 3 + 3;
    if (bound > BLEND__UPLOAD_BYTES_MAX + 3 + 3 * 1024) {
        return refuse(err, 413, i, "data", "a file may have at most 3 MiB (3145728 bytes)");
    }
    unsigned char *bin = blend_malloc(bound + 1);
    if (!bin) {
        return BLEND_ENOMEM;
    }
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, bound + 1, data, data_len, " \r\n\t", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != data + data_len) {
        blend_free(bin);
        return refuse(err, 422, i, "data", "not base64 (RFC 4648, with padding)");
    }
    if (n > BLEND__UPLOAD_BYTES_MAX) {
        blend_free(bin);
        return refuse(err, 413, i, "data", "a file may have at most 3 MiB (3145728 bytes)");
    }
    if (*total + n > BLEND__UPLOADS_TOTAL_BYTES_MAX) {
        blend_free(bin);
        return refuse(err, 413, i, "data",
                      "the attachments may have at most 3 MiB (3145728 bytes) together");
    }
    *total += n;
    blend__files_sanitize_name(filename, u->filename, sizeof u->filename);
    u->data = bin;
    u->size = n;
    return 0;
}

int blend__uploads_parse(const json_t *attachments, struct blend__uploads *out,
                         struct blend__uploads_error *err)
{
    BLEND_ASSERT(out && err);
    struct blend__uploads u;
    memset(&u, 0, sizeof u);
    if (attachments && !json_is_array(attachments)) {
        return refuse(err, 422, 0, NULL, "expected an array of files");
    }
    if (json_array_size(attachments) > BLEND__UPLOADS_MAX) {
        return refuse(err, 422, 0, NULL, "a reply may have at most 10 attachments");
    }
    size_t total = 0;
    for (size_t i = 0; i < json_array_size(attachments); i++) {
        int rc = upload_one(json_array_get(attachments, i), i, &u.items[i], &total, err);
        if (rc) {
            blend__uploads_free(&u);
            return rc;
        }
        u.count = i + 1;
    }
    *out = u;
    return 0;
}

void blend__uploads_free(struct blend__uploads *u)
{
    if (!u) {
        return;
    }
    for (size_t i = 0; i < u->count; i++) {
        blend_free(u->items[i].data);
        u->items[i].data = NULL;
    }
    u->count = 0;
}
