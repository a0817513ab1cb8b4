/*
 * Fuzz target for the attachments of a reply (files.h, blend__uploads_parse): arbitrary bytes
 * read as JSON (when jansson takes them) and handed to the parser as the `attachments` value.
 *
 * Oracles beyond "no crash, no leak": a refusal names a status (413 or 422) and a path under
 * "attachments"; an accepted list holds at most 10 files within the size limits, each with a
 * sanitised name (re-sanitising changes nothing, no '/' or control character) and a
 * type/subtype content type.
 */
#include "api/files.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct blend__uploads *u)
{
    BLEND_ASSERT(u->count <= BLEND__UPLOADS_MAX);
    size_t total = 0;
    for (size_t i = 0; i < u->count; i++) {
        const struct blend__upload *f = &u->items[i];
        BLEND_ASSERT(f->size <= BLEND__UPLOAD_BYTES_MAX);
        BLEND_ASSERT(f->data != NULL);
        total += f->size;
        char again[BLEND__FILES_NAME_BYTES];
        blend__files_sanitize_name(f->filename, again, sizeof again);
        BLEND_ASSERT(strcmp(again, f->filename) == 0);
        BLEND_ASSERT(f->filename[0] != '\0' && strchr(f->filename, '/') == NULL);
        for (const unsigned char *p = (const unsigned char *)f->filename; *p; p++) {
            BLEND_ASSERT(*p >= 0x20 && *p != 0x7f);
        }
        const char *slash = strchr(f->content_type, '/');
        BLEND_ASSERT(slash && slash != f->content_type && slash[1]);
    }
    BLEND_ASSERT(total <= BLEND__UPLOADS_TOTAL_BYTES_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        init = 1;
    }
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j) {
        return 0;
    }
    struct blend__uploads u;
    struct blend__uploads_error err;
    int rc = blend__uploads_parse(j, &u, &err);
    if (rc == 0) {
        check_accepted(&u);
        blend__uploads_free(&u);
    } else if (rc != BLEND_ENOMEM) {
        BLEND_ASSERT(err.status == 413 || err.status == 422);
        BLEND_ASSERT(strncmp(err.path, "attachments", 11) == 0);
        BLEND_ASSERT(err.message[0] != '\0');
    }
    json_decref(j);
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
