/*
 * HTML bodies for display (docs/email.md §Display): libxml2's HTML parser reads whatever the
 * sender wrote (it repairs broken markup as browsers do), and a new document is written from
 * the tree by an allow-list: formatting and structure elements are kept with no attributes but
 * a link's http/https/mailto href and a cell's numeric colspan/rowspan; active or embedding
 * elements (script, style, iframe, object, forms, svg, ...) are dropped with their content;
 * any other element is replaced by its content; images become their alt text (no remote
 * loads: they are how mail tracks its readers). The same walk gives the text body.
 *
 * Invariants: the output contains only the allow-listed elements and attributes, with every
 * text and attribute value escaped; nesting deeper than HTML_DEPTH_MAX is flattened; both
 * outputs are valid UTF-8 and capped at BLEND_EMAIL_BODY_BYTES_MAX.
 */
#include "channels/email/mime.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <string.h>
#include <strings.h>

#define HTML_DEPTH_MAX 256

static const char *const KEPT[] = {
    "a",  "abbr", "b",      "blockquote", "br",    "caption", "code",  "dd",    "div",
    "dl", "dt",   "em",     "h1",         "h2",    "h3",      "h4",    "h5",    "h6",
    "hr", "i",    "li",     "ol",         "p",     "pre",     "s",     "small", "span",
    "strong",     "sub",    "sup",        "table", "tbody",   "td",    "tfoot", "th",
    "thead",      "tr",     "u",          "ul",    NULL,
};
static const char *const DROPPED[] = {
    "applet", "base",   "button", "embed",    "form",     "frame",  "frameset", "head",
    "iframe", "input",  "link",   "math",     "meta",     "noscript", "object", "script",
    "select", "style",  "svg",    "template", "textarea", "title",  NULL,
};
/* Elements after which the text body starts a new line. */
static const char *const BLOCKS[] = {
    "blockquote", "br", "dd", "div", "dl", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "table", "tr", "ul", NULL,
};

struct out {
    struct blend_buf html, text;
    int err;
    int pre; /* inside <pre>: text whitespace kept */
};

static int in(const char *const *set, const char *name)
{
    for (; *set; set++) {
        if (strcasecmp(*set, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void put(struct out *o, struct blend_buf *b, const char *s, size_t n)
{
    if (!o->err) {
        o->err = blend_buf_append(b, s, n);
    }
}

static void put_escaped(struct out *o, const char *s)
{
    for (const char *p = s; *p && !o->err; p++) {
        switch (*p) {
        case '&':
            put(o, &o->html, "&amp;", 5);
            break;
        case '<':
            put(o, &o->html, "&lt;", 4);
            break;
        case '>':
            put(o, &o->html, "&gt;", 4);
            break;
        case '"':
            put(o, &o->html, "&quot;", 6);
            break;
        default:
            put(o, &o->html, p, 1);
        }
    }
}

static int text_ends_with_newline(const struct out *o)
{
    return o->text.len == 0 || o->text.data[o->text.len - 1] == '\n';
}

static void text_newline(struct out *o)
{
    if (!text_ends_with_newline(o)) {
        put(o, &o->text, "\n", 1);
    }
}

/* Text as it reads: whitespace runs become one space outside <pre>. */
static void put_text(struct out *o, const char *s)
{
    put_escaped(o, s);
    for (const char *p = s; *p && !o->err; p++) {
        if (!o->pre && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
            if (o->text.len > 0 && o->text.data[o->text.len - 1] != ' ' &&
                o->text.data[o->text.len - 1] != '\n') {
                put(o, &o->text, " ", 1);
            }
            continue;
        }
        put(o, &o->text, p, 1);
    }
}

static int href_ok(const char *v)
{
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
        v++;
    }
    return strncasecmp(v, "http://", 7) == 0 || strncasecmp(v, "https://", 8) == 0 ||
           strncasecmp(v, "mailto:", 7) == 0;
}

static int digits_ok(const char *v)
{
    size_t n = strlen(v);
    return n >= 1 && n <= 3 && strspn(v, "0123456789") == n;
}

static void put_attr(struct out *o, const char *name, const char *value)
{
    put(o, &o->html, " ", 1);
    put(o, &o->html, name, strlen(name));
    put(o, &o->html, "=\"", 2);
    put_escaped(o, value);
    put(o, &o->html, "\"", 1);
}

static void walk(struct out *o, xmlNode *n, int depth);

static void element(struct out *o, xmlNode *n, int depth)
{
    const char *name = (const char *)n->name;
    if (in(DROPPED, name)) {
        return;
    }
    if (strcasecmp(name, "img") == 0) {
        xmlChar *alt = xmlGetProp(n, (const xmlChar *)"alt");
        if (alt) {
            put_text(o, (const char *)alt);
            xmlFree(alt);
        }
        return;
    }
    int kept = in(KEPT, name) && depth < HTML_DEPTH_MAX;
    int block = in(BLOCKS, name);
    if (kept) {
        put(o, &o->html, "<", 1);
        put(o, &o->html, name, strlen(name));
        const char *attrs[2] = {NULL, NULL};
        if (strcasecmp(name, "a") == 0) {
            attrs[0] = "href";
        } else if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) {
            attrs[0] = "colspan";
            attrs[1] = "rowspan";
        }
        for (int i = 0; i < 2 && attrs[i]; i++) {
            xmlChar *v = xmlGetProp(n, (const xmlChar *)attrs[i]);
            const char *s = (const char *)v;
            int link = i == 0 && attrs[0][0] == 'h';
            if (s && (link ? href_ok(s) : digits_ok(s))) {
                put_attr(o, attrs[i], s);
                if (link) {
                    put(o, &o->html, " rel=\"noopener noreferrer nofollow\"", 35);
                }
            }
            xmlFree(v);
        }
        put(o, &o->html, ">", 1);
    }
    if (block) {
        text_newline(o);
    }
    if (strcasecmp(name, "li") == 0) {
        put(o, &o->text, "- ", 2);
    }
    int was_pre = o->pre;
    o->pre = o->pre || strcasecmp(name, "pre") == 0;
    if (strcasecmp(name, "br") != 0 && strcasecmp(name, "hr") != 0) {
        walk(o, n->children, depth + 1);
        if (kept) {
            put(o, &o->html, "</", 2);
            put(o, &o->html, name, strlen(name));
            put(o, &o->html, ">", 1);
        }
    }
    o->pre = was_pre;
    if (block) {
        text_newline(o);
    } else if ((strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) && o->text.len > 0 &&
               o->text.data[o->text.len - 1] != ' ' && o->text.data[o->text.len - 1] != '\n') {
        put(o, &o->text, " ", 1); /* cells of a row read side by side */
    }
}

static void walk(struct out *o, xmlNode *n, int depth)
{
    for (; n && !o->err; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            put_text(o, n->content ? (const char *)n->content : "");
        } else if (n->type == XML_ELEMENT_NODE) {
            element(o, n, depth);
        }
    }
}

int blend_email_html_clean(const char *html, size_t len, char **html_out, char **text_out)
{
    BLEND_ASSERT(html && html_out && text_out);
    blend_email_init();
    struct out o = {0};
    blend_buf_init(&o.html, BLEND_EMAIL_BODY_BYTES_MAX);
    blend_buf_init(&o.text, BLEND_EMAIL_BODY_BYTES_MAX);
    if (len > 0 && len <= INT32_MAX) {
        htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                        HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                            HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED);
        if (doc) {
            /* From the document's first child: with NOIMPLIED, text may stand beside the root. */
            walk(&o, doc->children, 0);
            xmlFreeDoc(doc);
        }
    }
    /* The text body: no trailing newline. */
    while (!o.err && o.text.len > 0 && o.text.data[o.text.len - 1] == '\n') {
        o.text.data[--o.text.len] = '\0';
    }
    int err = o.err;
    char *h = err ? NULL : blend_buf_take(&o.html);
    char *t = err ? NULL : blend_buf_take(&o.text);
    if (!err && (!h || !t)) {
        /* Nothing was appended to one of them: an empty string. */
        if (!h) {
            h = blend_calloc(1, 1);
        }
        if (!t) {
            t = blend_calloc(1, 1);
        }
        err = h && t ? 0 : BLEND_ENOMEM;
    }
    blend_buf_deinit(&o.html);
    blend_buf_deinit(&o.text);
    /* libxml2 hands out UTF-8, but a broken input can end mid-character: checked, not trusted. */
    if (!err && (!g_utf8_validate(h, -1, NULL) || !g_utf8_validate(t, -1, NULL))) {
        char *fixed[2] = {g_utf8_make_valid(h, -1), g_utf8_make_valid(t, -1)};
        blend_free(h);
        blend_free(t);
        h = blend_malloc(strlen(fixed[0]) + 1);
        t = blend_malloc(strlen(fixed[1]) + 1);
        if (h && t) {
            strcpy(h, fixed[0]);
            strcpy(t, fixed[1]);
        } else {
            err = BLEND_ENOMEM;
        }
        g_free(fixed[0]);
        g_free(fixed[1]);
    }
    if (err) {
        blend_free(h);
        blend_free(t);
        return err;
    }
    *html_out = h;
    *text_out = t;
    return 0;
}
