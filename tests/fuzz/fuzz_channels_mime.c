/*
 * Fuzz target for inbound email: the input is one raw message as IMAP or SMTP would hand it
 * over, parsed by blend_email_parse; the same bytes also go through the HTML allow-list on their
 * own. Any crash, sanitizer report or leak is a finding, and so is a broken contract: parsing
 * succeeds for any non-empty input within the size limit (broken content is flagged, never
 * refused), every string field is present and valid UTF-8, counts stay within the limits, and
 * the rebuilt HTML never carries a script, an event handler or a javascript: link.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "channels/email/mime.h"

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
    BLEND_ASSERT(s != NULL);
    BLEND_ASSERT(g_utf8_validate(s, -1, NULL));
}

/* Text and attribute values are escaped, so every '<' of the output opens a tag: each must be
 * an allow-listed element with only the allowed attributes (a link's http/https/mailto href,
 * followed by the fixed rel; a cell's numeric colspan/rowspan). */
static void check_html(const char *h)
{
    check_text(h);
    static const char tag[] =
        "^</?(a|abbr|b|blockquote|br|caption|code|dd|div|dl|dt|em|h[1-6]|hr|i|li|ol|p|pre|s|"
        "small|span|strong|sub|sup|table|tbody|td|tfoot|th|thead|tr|u|ul)"
        "( href=\"[ \t\r\n]*(https?://|mailto:)[^\"<>]*\" rel=\"noopener noreferrer nofollow\""
        "| colspan=\"[0-9]{1,3}\"| rowspan=\"[0-9]{1,3}\")*>$";
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        BLEND_ASSERT(end != NULL);
        gchar *one = g_strndup(p, (gsize)(end - p + 1));
        BLEND_ASSERT(g_regex_match_simple(tag, one, G_REGEX_CASELESS, 0));
        g_free(one);
    }
    BLEND_ASSERT(strchr(h, '>') == NULL || strchr(h, '<') != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        blend_email_init();
        ready = 1;
    }
    if (size > 256 * 1024) {
        return 0; /* the limits are tested by the unit tests; keep runs fast */
    }
    struct blend_email *m = NULL;
    int rc = blend_email_parse((const char *)data, size, &m);
    if (size == 0) {
        BLEND_ASSERT(rc == BLEND_EINVAL && m == NULL);
    } else {
        BLEND_ASSERT(rc == 0 || rc == BLEND_ENOMEM);
    }
    if (rc == 0) {
        const char *fields[] = {m->message_id, m->in_reply_to, m->from_addr, m->from_name,
                                m->reply_to,   m->to,          m->cc,        m->subject,
                                m->text};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            check_text(fields[i]);
        }
        check_html(m->html);
        BLEND_ASSERT(m->references_count <= BLEND_EMAIL_REFERENCES_MAX);
        BLEND_ASSERT(m->attachments_count <= BLEND_EMAIL_ATTACHMENTS_MAX);
        for (size_t i = 0; i < m->references_count; i++) {
            check_text(m->references[i]);
        }
        for (size_t i = 0; i < m->attachments_count; i++) {
            check_text(m->attachments[i].filename);
            check_text(m->attachments[i].content_type);
            BLEND_ASSERT(m->attachments[i].data != NULL);
        }
        BLEND_ASSERT(strlen(m->token) < BLEND_EMAIL_TOKEN_BYTES);
        blend_email_free(m);
    }
    char *html = NULL, *text = NULL;
    rc = blend_email_html_clean((const char *)data, size, &html, &text);
    BLEND_ASSERT(rc == 0 || rc == BLEND_ENOMEM || rc == BLEND_ELIMIT);
    if (rc == 0) {
        check_html(html);
        check_text(text);
        blend_free(html);
        blend_free(text);
    }
    return 0;
}
