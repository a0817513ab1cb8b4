/*
 * Static files for the web UI. A request path maps to a file under the static root only when
 * every segment is an ordinary name (no "..", ".", empty or hidden segments) and the file's
 * real path, symlinks resolved, still lies under the root's real path. libwebsockets already
 * normalises "/../" in URIs; these checks do not rely on it. Files are read whole (they are
 * small and bounded) and sent through the same writer as every other response.
 */
#include "api/http_private.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int segments_safe(const char *path)
{
    const char *p = path;
    while (*p == '/') {
        const char *seg = p + 1;
        size_t len = strcspn(seg, "/");
        if (len == 0) {
            /* Only a trailing slash may be empty (it means index.html). */
            return seg[0] == '\0';
        }
        if (seg[0] == '.' || memchr(seg, '\\', len)) {
            return 0; /* ".", "..", hidden files such as .git, Windows separators */
        }
        p = seg + len;
    }
    return *p == '\0';
}

int blend__http_static_resolve(const char *root, const char *path, char *out, size_t cap)
{
    BLEND_ASSERT(root && path && out);
    if (path[0] != '/' || !segments_safe(path)) {
        return BLEND_EPERM;
    }
    size_t path_len = strlen(path);
    const char *index = path[path_len - 1] == '/' ? "index.html" : "";
    char candidate[PATH_MAX];
    size_t n = (size_t)snprintf(candidate, sizeof candidate, "%s%s%s", root, path, index);
    if (n >= sizeof candidate) {
        return BLEND_ELIMIT;
    }
    char real[PATH_MAX];
    if (!realpath(candidate, real)) {
        return BLEND_ENOENT;
    }
    size_t root_len = strlen(root);
    if (strncmp(real, root, root_len) != 0 || real[root_len] != '/') {
        return BLEND_EPERM; /* a symlink points outside the root */
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        return BLEND_ENOENT;
    }
    size_t real_len = strlen(real);
    if (real_len >= cap) {
        return BLEND_ELIMIT;
    }
    memcpy(out, real, real_len + 1);
    return 0;
}

int blend__http_static_load(const char *file, char **body_out, size_t *len_out)
{
    BLEND_ASSERT(file && body_out && len_out);
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return errno == ENOENT ? BLEND_ENOENT : BLEND_EIO;
    }
    int rc = 0;
    char *body = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = BLEND_ENOENT;
        goto out;
    }
    if (st.st_size > BLEND_HTTP_STATIC_FILE_BYTES_MAX) {
        rc = BLEND_ELIMIT;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    body = blend_malloc(size + 1);
    if (!body) {
        rc = BLEND_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, body + got, size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break; /* the file shrank or failed: send what it holds now, or refuse below */
        }
        got += (size_t)r;
    }
    if (got != size) {
        rc = BLEND_EIO;
        goto out;
    }
    body[size] = '\0';
    *body_out = body;
    *len_out = size;
    body = NULL;
out:
    blend_free(body);
    close(fd);
    return rc;
}

/* Types lws does not know; its own table covers html, css, js, images, fonts, json, txt. */
static const struct lws_protocol_vhost_options mime_map = {NULL, NULL, ".map", "application/json"};
static const struct lws_protocol_vhost_options mime_wasm = {&mime_map, NULL, ".wasm",
                                                            "application/wasm"};
static const struct lws_protocol_vhost_options mime_manifest = {&mime_wasm, NULL, ".webmanifest",
                                                                "application/manifest+json"};
static const struct lws_protocol_vhost_options mime_mjs = {&mime_manifest, NULL, ".mjs",
                                                           "text/javascript"};
static const struct lws_http_mount mime_mount = {.extra_mimetypes = &mime_mjs};

const char *blend__http_mime(const char *file)
{
    static const struct {
        const char *type;
        const char *with_charset;
    } text[] = {
        {"text/html", "text/html; charset=utf-8"},
        {"text/css", "text/css; charset=utf-8"},
        {"text/javascript", "text/javascript; charset=utf-8"},
        {"text/plain", "text/plain; charset=utf-8"},
    };
    const char *type = lws_get_mimetype(file, &mime_mount);
    if (!type) {
        return "application/octet-stream";
    }
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        if (strcmp(type, text[i].type) == 0) {
            return text[i].with_charset;
        }
    }
    return type;
}
