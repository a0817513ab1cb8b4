/*
 * The file store of message files (docs/email.md §Attachments): bytes kept once by their
 * SHA-256 under <data_dir>/files/<hex>, shared by the channels (inbound mail's raw message and
 * attachments, the attachments of agents' replies) and read back for downloads and sending.
 * Also the rules for files that come through the API: the file-name sanitiser, the list of
 * content types that must never be served as themselves, and the parser of a reply's
 * `attachments` array. Internal to src/api.
 *
 * Invariants: a file is written beside its final name, flushed to disk and renamed into place,
 * so a name that exists always holds the whole content (a crash leaves at most a hidden
 * temporary file); a name is the checksum of its bytes, so writing the same bytes twice keeps
 * one file; names read are 64 lower-case hex digits only (no path ever comes from a request).
 * Files kept before the store existed (<data_dir>/mail/att/<hex>, <data_dir>/mail/<hex>.eml)
 * are still found by blend__files_read.
 */
#ifndef BLEND_API_FILES_H
#define BLEND_API_FILES_H

#include "base/error.h"

#include <jansson.h>
#include <stddef.h>

#define BLEND__FILES_HEX_BYTES 65 /* 64 hex digits and the NUL */
/* A sanitised file name: 200 bytes of UTF-8 at most (file systems allow 255), NUL included. */
#define BLEND__FILES_NAME_BYTES 201
#define BLEND__FILES_TYPE_BYTES 128
/* Attachments of one reply through the API (docs/email.md §Attachments in replies): in base64
 * (four characters for three bytes) they must fit the HTTP body limit of 4 MiB with the rest of
 * the request. */
#define BLEND__UPLOADS_MAX 10
#define BLEND__UPLOAD_BYTES_MAX (3u * 1024 * 1024)
#define BLEND__UPLOADS_TOTAL_BYTES_MAX (3u * 1024 * 1024)

/* Keeps data (len bytes) under <data_dir>/files and writes its checksum to sha256_hex. An
 * existing file of that name and size is kept as it is. 0, BLEND_EIO. */
BLEND_MUST_USE int blend__files_put(const char *data_dir, const void *data, size_t len,
                                    char sha256_hex[BLEND__FILES_HEX_BYTES]);
/* Reads the file named sha256_hex (the store, then the older mail paths) into *data_out (owned,
 * blend_free; *len_out bytes). BLEND_EINVAL: not 64 lower-case hex digits; BLEND_ENOENT: no
 * such file; BLEND_ELIMIT: larger than bytes_max; BLEND_EIO; BLEND_ENOMEM. */
BLEND_MUST_USE int blend__files_read(const char *data_dir, const char *sha256_hex, size_t bytes_max,
                                     unsigned char **data_out, size_t *len_out);
/* A file name fit to store and to offer in Content-Disposition: the last path component;
 * control characters, invalid UTF-8 and \ / : * ? " < > | replaced by '_'; leading dots and
 * blanks and trailing dots and blanks removed; cut to BLEND__FILES_NAME_BYTES - 1 bytes on a
 * character boundary; "attachment" when nothing is left. out has cap >= 16 bytes. */
void blend__files_sanitize_name(const char *in, char *out, size_t cap);
/* Whether a content type may run in a browser (HTML, SVG, XML, JavaScript, ...): such files are
 * downloaded as application/octet-stream. NULL and unreadable types count as active. */
int blend__files_is_active_type(const char *content_type);

struct blend__upload {
    char filename[BLEND__FILES_NAME_BYTES];     /* sanitised */
    char content_type[BLEND__FILES_TYPE_BYTES]; /* lower case; application/octet-stream if none */
    unsigned char *data;                        /* decoded, owned */
    size_t size;
};

struct blend__uploads {
    struct blend__upload items[BLEND__UPLOADS_MAX];
    size_t count;
};

/* What a refused attachments array gets: the HTTP status (413 for a size limit, 422 for the
 * rest), the path of the offending value ("attachments[2].data") and why. */
struct blend__uploads_error {
    int status;
    char path[48];
    char message[160];
};

/* Reads a reply's `attachments` (borrowed; NULL or absent is no attachment): an array of at most
 * BLEND__UPLOADS_MAX objects {"filename": text, "content_type": text (optional), "data":
 * base64} and nothing else, each decoded file at most BLEND__UPLOAD_BYTES_MAX, all together at
 * most BLEND__UPLOADS_TOTAL_BYTES_MAX. On success *out holds the files (release with
 * blend__uploads_free); BLEND_EINVAL or BLEND_ELIMIT with *err filled; BLEND_ENOMEM. */
BLEND_MUST_USE int blend__uploads_parse(const json_t *attachments, struct blend__uploads *out,
                                        struct blend__uploads_error *err);
void blend__uploads_free(struct blend__uploads *u);

struct blend_http_req;
/* GET /api/v1/interactions/{id}/messages/{mid}/attachments/{n} (h_messages.c; declared here
 * beside the store it serves from). */
int blend__h_messages_attachment(struct blend_http_req *req, void *arg);

#endif
