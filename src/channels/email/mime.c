/*
 * Inbound email parsing on GMime 3 (see mime.h). The message is parsed from memory with a
 * warning callback that flags what GMime reports as malformed; the walk over its parts takes the
 * first text/plain and the first text/html body that are not attachments, and every other leaf
 * (and attached messages, as .eml) as an attachment. Machine-written mail is recognised from its
 * headers alone (RFC 3834 Auto-Submitted, the out-of-office headers of common servers,
 * Precedence, List-*; RFC 3464 reports and the null sender for bounces).
 *
 * Invariants: GObjects are released before return; every string handed out is a blend_malloc
 * copy, valid UTF-8 (GMime converts bodies and RFC 2047 words; other bytes are replaced), never
 * NULL.
 */
#include "channels/email/mime.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <string.h>

struct walk {
    struct blend_email *m;
    int failed;    /* BLEND_ENOMEM */
    int have_text; /* a text/plain body was taken */
    int have_html;
    char *raw_html; /* the HTML body as written (g_free) */
};

static gpointer init_once(gpointer arg)
{
    (void)arg;
    g_mime_init();
    xmlInitParser();
    return NULL;
}

void blend_email_init(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, init_once, NULL);
}

/* A blend_malloc copy of s (NULL: ""), with invalid UTF-8 replaced and at most max bytes
 * (cut on a character boundary; *cut set when that happened). */
static char *dup_utf8(const char *s, size_t max, int *cut)
{
    if (!s) {
        s = "";
    }
    gchar *valid = g_utf8_make_valid(s, -1);
    size_t n = strlen(valid);
    if (n > max) {
        const char *end = g_utf8_find_prev_char(valid, valid + max + 1);
        n = end ? (size_t)(end - valid) : 0;
        if (cut) {
            *cut = 1;
        }
    }
    char *out = blend_malloc(n + 1);
    if (out) {
        memcpy(out, valid, n);
        out[n] = '\0';
    }
    g_free(valid);
    return out;
}

static char *dup_lower(const char *s)
{
    char *out = dup_utf8(s, 998, NULL);
    for (char *p = out; p && *p; p++) {
        *p = (char)g_ascii_tolower(*p);
    }
    return out;
}

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer arg)
{
    struct blend_email *m = arg;
    (void)offset;
    (void)item;
    switch (code) {
    case GMIME_WARN_MALFORMED_MULTIPART:
    case GMIME_WARN_TRUNCATED_MESSAGE:
    case GMIME_WARN_MALFORMED_MESSAGE:
    case GMIME_CRIT_INVALID_HEADER_NAME:
    case GMIME_CRIT_CONFLICTING_HEADER:
    case GMIME_CRIT_CONFLICTING_PARAMETER:
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
    case GMIME_CRIT_NESTING_OVERFLOW:
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
        m->flags |= BLEND_EMAIL_MALFORMED;
        break;
    default:
        break; /* 8-bit headers, duplicated headers, odd parameters: read as well as possible */
    }
}

/* The first mailbox of a list: its address (lower-cased) and display name. */
static void first_mailbox(InternetAddressList *list, char **addr, char **name)
{
    *addr = NULL;
    if (name) {
        *name = NULL;
    }
    for (int i = 0; list && i < internet_address_list_length(list); i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            *addr = dup_lower(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
            if (name) {
                *name = dup_utf8(internet_address_get_name(ia), 998, NULL);
            }
            return;
        }
    }
}

static char *list_text(InternetAddressList *list)
{
    if (!list || internet_address_list_length(list) == 0) {
        return dup_utf8("", 0, NULL);
    }
    char *s = internet_address_list_to_string(list, NULL, FALSE);
    char *out = dup_utf8(s, 4096, NULL);
    g_free(s);
    return out;
}

static const char *header(GMimeMessage *msg, const char *name)
{
    return g_mime_object_get_header(GMIME_OBJECT(msg), name);
}

static int header_is(GMimeMessage *msg, const char *name, const char *const *values)
{
    const char *v = header(msg, name);
    if (!v) {
        return 0;
    }
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    for (; *values; values++) {
        if (g_ascii_strncasecmp(v, *values, strlen(*values)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Machine-written mail: answering it would start a loop (docs/email.md §Loops). */
static unsigned machine_flags(GMimeMessage *msg, const char *from_addr)
{
    static const char *const auto_submitted_no[] = {"no", NULL};
    static const char *const bulk[] = {"bulk", "junk", "list", NULL};
    static const char *const auto_reply[] = {"auto_reply", "auto-reply", NULL};
    static const char *const suppress[] = {"all", "oof", "autoreply", NULL};
    unsigned f = 0;
    const char *as = header(msg, "Auto-Submitted");
    if (as && !header_is(msg, "Auto-Submitted", auto_submitted_no)) {
        f |= BLEND_EMAIL_AUTO_REPLY;
    }
    if (header(msg, "X-Autoreply") || header(msg, "X-Autorespond") ||
        header_is(msg, "Precedence", auto_reply) ||
        header_is(msg, "X-Auto-Response-Suppress", suppress)) {
        f |= BLEND_EMAIL_AUTO_REPLY;
    }
    if (header_is(msg, "Precedence", bulk) || header(msg, "List-Id") ||
        header(msg, "List-Unsubscribe")) {
        f |= BLEND_EMAIL_LIST;
    }
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(msg));
    const char *report = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
    const char *rp = header(msg, "Return-Path");
    if ((ct && g_mime_content_type_is_type(ct, "multipart", "report") && report &&
         g_ascii_strcasecmp(report, "delivery-status") == 0) ||
        (rp && strstr(rp, "<>")) || g_str_has_prefix(from_addr, "mailer-daemon@")) {
        f |= BLEND_EMAIL_BOUNCE;
    }
    return f;
}

static int add_attachment(struct walk *w, GMimeObject *part, const unsigned char *data,
                          size_t size, const char *filename)
{
    struct blend_email *m = w->m;
    if (m->attachments_count == BLEND_EMAIL_ATTACHMENTS_MAX) {
        m->flags |= BLEND_EMAIL_TRUNCATED;
        return 0;
    }
    if (!m->attachments) {
        m->attachments = blend_calloc(BLEND_EMAIL_ATTACHMENTS_MAX, sizeof(*m->attachments));
        if (!m->attachments) {
            return BLEND_ENOMEM;
        }
    }
    struct blend_email_attachment *a = &m->attachments[m->attachments_count];
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
    GMimeContentDisposition *disp = g_mime_object_get_content_disposition(part);
    const char *cid = GMIME_IS_PART(part) ? g_mime_part_get_content_id(GMIME_PART(part)) : NULL;
    a->filename = dup_utf8(filename, 255, NULL);
    a->content_type = dup_lower(mime ? mime : "application/octet-stream");
    a->content_id = dup_utf8(cid, 255, NULL);
    a->inline_part = disp && !g_mime_content_disposition_is_attachment(disp);
    a->data = blend_malloc(size ? size : 1);
    g_free(mime);
    if (!a->filename || !a->content_type || !a->content_id || !a->data) {
        blend_free(a->filename);
        blend_free(a->content_type);
        blend_free(a->content_id);
        blend_free(a->data);
        memset(a, 0, sizeof(*a));
        return BLEND_ENOMEM;
    }
    if (size > 0) {
        memcpy(a->data, data, size);
    }
    a->size = size;
    m->attachments_count++;
    return 0;
}

/* The decoded content of a leaf part (transfer encoding undone), as a byte array (unref). */
static GByteArray *part_bytes(GMimeObject *obj, GMimeStream **keep)
{
    GMimeStream *out = g_mime_stream_mem_new();
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner) {
            (void)g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, out);
        }
    } else {
        GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(obj));
        if (content) {
            (void)g_mime_data_wrapper_write_to_stream(content, out);
        }
    }
    *keep = out;
    return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
}

/* Text as stored and shown: "\n" line ends (CRLF and lone CR become LF), no trailing ones. */
static void lines_normal(char *t)
{
    if (!t) {
        return;
    }
    char *w = t;
    for (const char *r = t; *r; r++) {
        if (*r == '\r') {
            *w++ = '\n';
            if (r[1] == '\n') {
                r++;
            }
        } else {
            *w++ = *r;
        }
    }
    while (w > t && w[-1] == '\n') {
        w--;
    }
    *w = '\0';
}

static void on_part(GMimeObject *parent, GMimeObject *part, gpointer arg)
{
    struct walk *w = arg;
    (void)parent;
    if (w->failed || GMIME_IS_MULTIPART(part)) {
        return;
    }
    struct blend_email *m = w->m;
    if (GMIME_IS_MESSAGE_PART(part)) {
        GMimeStream *keep = NULL;
        GByteArray *bytes = part_bytes(part, &keep);
        w->failed = add_attachment(w, part, bytes ? bytes->data : NULL, bytes ? bytes->len : 0,
                                   "message.eml");
        g_object_unref(keep);
        return;
    }
    if (!GMIME_IS_PART(part)) {
        return;
    }
    GMimePart *p = GMIME_PART(part);
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    int attachment = g_mime_part_is_attachment(p) || g_mime_part_get_filename(p) != NULL;
    int plain = ct && g_mime_content_type_is_type(ct, "text", "plain");
    int html = ct && g_mime_content_type_is_type(ct, "text", "html");
    if (GMIME_IS_TEXT_PART(part) && !attachment && ((plain && !w->have_text) ||
                                                    (html && !w->have_html))) {
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        if (plain) {
            int cut = 0;
            blend_free(m->text);
            m->text = dup_utf8(text, BLEND_EMAIL_BODY_BYTES_MAX, &cut);
            lines_normal(m->text);
            w->failed = m->text ? 0 : BLEND_ENOMEM;
            m->flags |= cut ? BLEND_EMAIL_TRUNCATED : 0;
            w->have_text = 1;
            g_free(text);
        } else {
            w->raw_html = text; /* cleaned once the walk is over */
            w->have_html = 1;
        }
        return;
    }
    GMimeStream *keep = NULL;
    GByteArray *bytes = part_bytes(part, &keep);
    w->failed = add_attachment(w, part, bytes ? bytes->data : NULL, bytes ? bytes->len : 0,
                               g_mime_part_get_filename(p));
    g_object_unref(keep);
}

static void references(struct blend_email *m, GMimeMessage *msg, int *failed)
{
    const char *v = header(msg, "References");
    GMimeReferences *refs = v ? g_mime_references_parse(NULL, v) : NULL;
    int n = refs ? g_mime_references_length(refs) : 0;
    int from = n > BLEND_EMAIL_REFERENCES_MAX ? n - BLEND_EMAIL_REFERENCES_MAX : 0;
    if (n > 0) {
        m->references = blend_calloc((size_t)(n - from), sizeof(char *));
        *failed = m->references ? 0 : BLEND_ENOMEM;
    }
    for (int i = from; m->references && i < n; i++) {
        char *id = dup_utf8(g_mime_references_get_message_id(refs, i), 998, NULL);
        if (!id) {
            *failed = BLEND_ENOMEM;
            break;
        }
        m->references[m->references_count++] = id;
    }
    if (refs) {
        g_mime_references_free(refs);
    }
    v = header(msg, "In-Reply-To");
    refs = v ? g_mime_references_parse(NULL, v) : NULL;
    m->in_reply_to = dup_utf8(refs && g_mime_references_length(refs) > 0
                                  ? g_mime_references_get_message_id(refs, 0)
                                  : NULL,
                              998, NULL);
    if (refs) {
        g_mime_references_free(refs);
    }
}

int blend_email_subject_token(const char *subject, char out[BLEND_EMAIL_TOKEN_BYTES])
{
    int found = 0;
    for (const char *p = subject ? strstr(subject, "[#") : NULL; p; p = strstr(p + 2, "[#")) {
        size_t n = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-");
        if (n >= 1 && n < BLEND_EMAIL_TOKEN_BYTES - 1 && p[2 + n] == ']') {
            memcpy(out, p + 2, n);
            out[n] = '\0';
            found = 1;
        }
    }
    return found;
}

void blend_email_free(struct blend_email *m)
{
    if (!m) {
        return;
    }
    blend_free(m->message_id);
    blend_free(m->in_reply_to);
    for (size_t i = 0; i < m->references_count; i++) {
        blend_free(m->references[i]);
    }
    blend_free(m->references);
    blend_free(m->from_addr);
    blend_free(m->from_name);
    blend_free(m->reply_to);
    blend_free(m->to);
    blend_free(m->cc);
    blend_free(m->subject);
    blend_free(m->text);
    blend_free(m->html);
    for (size_t i = 0; i < m->attachments_count; i++) {
        blend_free(m->attachments[i].filename);
        blend_free(m->attachments[i].content_type);
        blend_free(m->attachments[i].content_id);
        blend_free(m->attachments[i].data);
    }
    blend_free(m->attachments);
    blend_free(m);
}

/* Every string field set ("" when absent): the invariant callers rely on. */
static int fill_empty(struct blend_email *m)
{
    char **fields[] = {&m->message_id, &m->in_reply_to, &m->from_addr, &m->from_name,
                       &m->reply_to,   &m->to,          &m->cc,        &m->subject,
                       &m->text,       &m->html};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!*fields[i]) {
            *fields[i] = dup_utf8("", 0, NULL);
            if (!*fields[i]) {
                return BLEND_ENOMEM;
            }
        }
    }
    return 0;
}

int blend_email_parse(const char *raw, size_t len, struct blend_email **out)
{
    BLEND_ASSERT(out);
    if (!raw || len == 0 || len > BLEND_EMAIL_RAW_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    blend_email_init();
    struct blend_email *m = blend_calloc(1, sizeof(*m));
    if (!m) {
        return BLEND_ENOMEM;
    }
    GMimeParserOptions *opts = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(opts, on_warning, m);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
    g_object_unref(parser);
    int failed = 0;
    struct walk w = {.m = m};
    if (!msg) {
        m->flags |= BLEND_EMAIL_MALFORMED;
    } else {
        m->message_id = dup_utf8(g_mime_message_get_message_id(msg), 998, NULL);
        first_mailbox(g_mime_message_get_from(msg), &m->from_addr, &m->from_name);
        first_mailbox(g_mime_message_get_reply_to(msg), &m->reply_to, NULL);
        m->to = list_text(g_mime_message_get_to(msg));
        m->cc = list_text(g_mime_message_get_cc(msg));
        m->subject = dup_utf8(g_mime_message_get_subject(msg), 998, NULL);
        GDateTime *date = g_mime_message_get_date(msg);
        m->date_ms = date ? g_date_time_to_unix(date) * 1000 : 0;
        references(m, msg, &failed);
        m->flags |= machine_flags(msg, m->from_addr ? m->from_addr : "");
        (void)blend_email_subject_token(m->subject, m->token);
        g_mime_message_foreach(msg, on_part, &w);
        failed = failed ? failed : w.failed;
        if (!m->from_addr || !m->from_addr[0] || !g_mime_message_get_mime_part(msg)) {
            m->flags |= BLEND_EMAIL_MALFORMED; /* no sender, or no body at all */
        }
        g_object_unref(msg);
    }
    g_mime_parser_options_free(opts);
    if (!failed && w.raw_html) {
        char *text = NULL;
        int rc = blend_email_html_clean(w.raw_html, strlen(w.raw_html), &m->html, &text);
        if (rc == 0 && !w.have_text) {
            m->text = text;
        } else {
            blend_free(text);
        }
        if (rc == BLEND_ELIMIT) {
            m->flags |= BLEND_EMAIL_TRUNCATED;
        } else {
            failed = rc;
        }
    }
    g_free(w.raw_html);
    failed = failed ? failed : fill_empty(m);
    if (failed) {
        blend_email_free(m);
        return failed;
    }
    *out = m;
    return 0;
}
