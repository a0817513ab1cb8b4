/*
 * Outbound email on GMime (see mime.h): Blend's replies to customers as RFC 5322 bytes ready for
 * SMTP. The threading headers are what mail clients use to keep a conversation together
 * (In-Reply-To the message answered, References the whole chain, RFC 5322 §3.6.4); the body is
 * UTF-8 text encoded quoted-printable so any language passes any relay; a reply with files is
 * multipart/mixed (the text first, then each file base64-encoded with its name, RFC 2231 for
 * names that are not ASCII).
 *
 * Invariants: addresses and ids come from stored data and are checked here (no CR/LF, no angle
 * brackets: no header injection); the output is built by GMime, never by pasting strings.
 */
#include "channels/email/mime.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <gmime/gmime.h>
#include <string.h>

static int clean(const char *s, int required)
{
    if (!s || !s[0]) {
        return !required;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>') {
            return 0;
        }
    }
    return 1;
}

/* A file name fit for a header parameter: UTF-8 without control characters. */
static int clean_name(const char *s)
{
    if (!s || !s[0] || !g_utf8_validate(s, -1, NULL)) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* One attachment as a base64 leaf part (Content-Disposition: attachment; filename). */
static GMimeObject *file_part(const struct blend_email_out_file *f)
{
    GMimeContentType *ct = f->content_type ? g_mime_content_type_parse(NULL, f->content_type)
                                           : NULL;
    const char *type = ct ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    int usable = type && sub && type[0] && sub[0] && strcmp(type, "multipart") != 0 &&
                 strcmp(type, "message") != 0;
    GMimePart *part = g_mime_part_new_with_type(usable ? type : "application",
                                                usable ? sub : "octet-stream");
    if (ct) {
        g_object_unref(ct);
    }
    GMimeStream *mem = g_mime_stream_mem_new_with_buffer((const char *)f->data, f->size);
    GMimeDataWrapper *content =
        g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
    g_object_unref(mem);
    g_mime_part_set_content(part, content);
    g_object_unref(content);
    g_mime_part_set_filename(part, f->filename); /* also sets Content-Disposition: attachment */
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
    return GMIME_OBJECT(part);
}

int blend_email_compose(const struct blend_email_out *o, char **raw_out, size_t *len_out)
{
    BLEND_ASSERT(o && raw_out && len_out);
    if (!clean(o->from, 1) || !clean(o->to, 1) || !clean(o->message_id, 1) ||
        !clean(o->in_reply_to, 0) || !o->text || !g_utf8_validate(o->text, -1, NULL) ||
        (o->subject && !g_utf8_validate(o->subject, -1, NULL)) ||
        (o->from_name && !g_utf8_validate(o->from_name, -1, NULL))) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < o->files_count; i++) {
        if (!clean_name(o->files[i].filename) || (!o->files[i].data && o->files[i].size)) {
            return BLEND_EINVAL;
        }
    }
    for (const char *const *r = o->references; r && *r; r++) {
        if (!clean(*r, 1)) {
            return BLEND_EINVAL;
        }
    }
    blend_email_init();
    GMimeMessage *msg = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM,
                               o->from_name && o->from_name[0] ? o->from_name : NULL, o->from);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, o->to);
    g_mime_message_set_subject(msg, o->subject ? o->subject : "", "utf-8");
    g_mime_message_set_message_id(msg, o->message_id);
    GDateTime *date = g_date_time_new_from_unix_utc(o->date_ms / 1000);
    g_mime_message_set_date(msg, date);
    g_date_time_unref(date);
    if (o->in_reply_to && o->in_reply_to[0]) {
        char *v = g_strdup_printf("<%s>", o->in_reply_to);
        g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", v, NULL);
        g_free(v);
    }
    if (o->references && o->references[0]) {
        GString *refs = g_string_new(NULL);
        for (const char *const *r = o->references; *r; r++) {
            g_string_append_printf(refs, "%s<%s>", refs->len ? " " : "", *r);
        }
        g_mime_object_set_header(GMIME_OBJECT(msg), "References", refs->str, NULL);
        g_string_free(refs, TRUE);
    }
    GMimeTextPart *body = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(body, o->text); /* UTF-8, charset parameter set by GMime */
    g_mime_part_set_content_encoding(GMIME_PART(body), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    if (o->files_count == 0) {
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(body));
    } else {
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
        g_mime_multipart_add(mixed, GMIME_OBJECT(body));
        for (size_t i = 0; i < o->files_count; i++) {
            GMimeObject *part = file_part(&o->files[i]);
            g_mime_multipart_add(mixed, part);
            g_object_unref(part);
        }
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
        g_object_unref(mixed);
    }
    g_object_unref(body);
    GMimeFormatOptions *fmt = g_mime_format_options_clone(NULL);
    g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_DOS);
    char *text = g_mime_object_to_string(GMIME_OBJECT(msg), fmt);
    g_mime_format_options_free(fmt);
    g_object_unref(msg);
    if (!text) {
        return BLEND_ENOMEM;
    }
    size_t n = strlen(text);
    char *out = blend_malloc(n + 1);
    if (!out) {
        g_free(text);
        return BLEND_ENOMEM;
    }
    memcpy(out, text, n + 1);
    g_free(text);
    *raw_out = out;
    *len_out = n;
    return 0;
}
