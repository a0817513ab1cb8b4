/*
 * Outgoing HTTP client: libcurl's multi-socket API driven by the libuv loop (webclient.h). curl
 * tells us which sockets to watch (on_socket: one uv_poll each) and when it next needs the clock
 * (on_timer_set: one uv_timer); the loop tells curl what happened (curl_multi_socket_action),
 * and finished transfers are collected with curl_multi_info_read and answered.
 *
 * Invariants:
 *   - A request lives in wc->reqs from send() until it is answered or cancelled, and its easy
 *     handle is in the multi for exactly that time. It is unlinked before its callback runs, so
 *     nothing the callback does (cancel, send, destroy) can reach it twice.
 *   - No user callback runs inside a curl callback or inside send(): curl's first action on a
 *     new transfer is asked for through the timer, which fires from the loop.
 *   - After destroy() starts, wc->multi is NULL and no new work starts; wc's memory is released
 *     by the close callback of its last uv handle (libuv's rule for caller-owned handles).
 */
#include "api/webclient.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/log.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#ifndef BLEND_VERSION
#define BLEND_VERSION "dev"
#endif

/* One socket curl asked us to watch. */
struct sock {
    uv_poll_t poll;
    struct blend_webclient *wc;
    curl_socket_t fd;
    struct sock *prev, *next; /* wc->socks: polls not yet closed */
};

/* One request in flight. */
struct req {
    struct blend_webclient *wc;
    struct req *prev, *next; /* wc->reqs */
    CURL *easy;
    CURLU *url;
    struct curl_slist *headers;
    struct curl_slist *rcpt; /* MAIL (SMTP): the recipients */
    char *upload;            /* MAIL (SMTP): the message, read by on_read */
    size_t upload_len, upload_pos;
    int mail;
    struct blend_buf answer;
    int write_rc; /* why the write callback refused bytes: BLEND_ELIMIT or BLEND_ENOMEM */
    uint64_t id;
    uint64_t token;
    blend_webclient_cb *cb;
    void *arg;
};

struct blend_webclient {
    uv_loop_t *loop;
    CURLM *multi; /* NULL once destroy() has started */
    uv_timer_t timer;
    struct req *reqs;
    size_t reqs_count;
    struct sock *socks;
    uint64_t id_last;
    int is_closing;
    size_t handles_open; /* uv handles whose close callback has not run yet */
};

/* --- Process-wide libcurl initialisation ------------------------------------------------------ */

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe in every libcurl build: uv_once runs it exactly once,
 * whichever thread comes first. curl then allocates through blend_malloc like the rest of
 * Blend, so tests count its memory too. */
static void global_init(void)
{
    global_rc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, blend_malloc, blend_free, blend_realloc,
                                     blend_strdup, blend_calloc);
}

static int global_ready(void)
{
    uv_once(&global_once, global_init);
    return global_rc == CURLE_OK;
}

/* --- Handles ---------------------------------------------------------------------------------- */

static void maybe_free(struct blend_webclient *wc)
{
    if (wc->is_closing && wc->handles_open == 0) {
        BLEND_ASSERT(wc->reqs == NULL && wc->socks == NULL);
        blend_free(wc);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct blend_webclient *wc = h->data;
    BLEND_ASSERT(wc->handles_open > 0);
    wc->handles_open--;
    if (h->type == UV_POLL) {
        blend_free(h); /* the poll is the first member of its struct sock */
    }
    maybe_free(wc);
}

static void sock_close(struct sock *s)
{
    struct blend_webclient *wc = s->wc;
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        wc->socks = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    s->poll.data = wc;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/* --- Finished transfers ----------------------------------------------------------------------- */

static void req_unlink(struct req *r)
{
    struct blend_webclient *wc = r->wc;
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        wc->reqs = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
    BLEND_ASSERT(wc->reqs_count > 0);
    wc->reqs_count--;
    r->prev = r->next = NULL;
}

/* Frees a request already unlinked; its easy handle must be out of the multi. */
static void req_free(struct req *r)
{
    curl_easy_cleanup(r->easy);
    curl_url_cleanup(r->url);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->rcpt);
    blend_free(r->upload);
    blend_buf_deinit(&r->answer);
    blend_free(r);
}

/* Unlinks and answers r, then frees it. */
static void req_answer(struct req *r, int rc, int status)
{
    req_unlink(r);
    if (r->wc->multi) {
        CURLMcode mc = curl_multi_remove_handle(r->wc->multi, r->easy);
        BLEND_ASSERT(mc == CURLM_OK);
    }
    const char *body = "";
    size_t len = 0;
    if (rc == 0 && r->answer.data) {
        body = r->answer.data;
        len = r->answer.len;
    }
    r->cb(r->arg, r->token, rc, rc == 0 ? status : 0, body, len);
    req_free(r);
}

static int rc_of(const struct req *r, CURLcode res)
{
    switch (res) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return BLEND_ETIMEDOUT;
    case CURLE_FILESIZE_EXCEEDED:
        return BLEND_ELIMIT;
    case CURLE_OUT_OF_MEMORY:
        return BLEND_ENOMEM;
    case CURLE_WRITE_ERROR:
        return r->write_rc ? r->write_rc : BLEND_EIO;
    case CURLE_LOGIN_DENIED:
        return BLEND_EAUTH;
    default:
        return BLEND_EIO;
    }
}

/* Answers every transfer curl has finished. A callback may destroy the client: the loop stops
 * as soon as wc->multi is gone. */
static void drain(struct blend_webclient *wc)
{
    CURLMsg *m;
    int left;
    while (wc->multi && (m = curl_multi_info_read(wc->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        CURLcode res = m->data.result;
        struct req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        BLEND_ASSERT(r != NULL && r->easy == m->easy_handle);
        long status = 0;
        if (res == CURLE_OK || r->mail) {
            /* A mail server's refusal code tells a permanent failure from a passing one. */
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        }
        int rc = rc_of(r, res);
        if (rc != 0) {
            BLEND_LOG_DEBUG("webclient", "request %llu failed: %s (%s)", (unsigned long long)r->id,
                            curl_easy_strerror(res), blend_errname(rc));
        }
        req_answer(r, rc, (int)status);
    }
}

/* --- curl <-> libuv --------------------------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = (struct sock *)h;
    struct blend_webclient *wc = s->wc;
    BLEND_ASSERT(wc->multi != NULL);
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
        flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
    }
    int running;
    /* The poll may be closed during the call (CURL_POLL_REMOVE); its memory lives until the
     * close callback, and it is not touched again here. */
    CURLMcode mc = curl_multi_socket_action(wc->multi, s->fd, flags, &running);
    if (mc != CURLM_OK) {
        BLEND_LOG_WARN("webclient", "socket action: %s", curl_multi_strerror(mc));
    }
    drain(wc);
}

static void on_timeout(uv_timer_t *t)
{
    struct blend_webclient *wc = t->data;
    BLEND_ASSERT(wc->multi != NULL);
    int running;
    CURLMcode mc = curl_multi_socket_action(wc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) {
        BLEND_LOG_WARN("webclient", "timeout action: %s", curl_multi_strerror(mc));
    }
    drain(wc);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called after timeout_ms (-1: never). A 0 timeout
 * still goes through the loop, which keeps callbacks out of send(). */
static int on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    struct blend_webclient *wc = userp;
    (void)multi;
    if (wc->is_closing) {
        return 0;
    }
    if (timeout_ms < 0) {
        uv_timer_stop(&wc->timer);
        return 0;
    }
    return uv_timer_start(&wc->timer, on_timeout, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching fd. A failure (no memory for the
 * poll) is reported to curl, which fails the transfer; at worst it ends at its own timeout. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct blend_webclient *wc = userp;
    struct sock *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            sock_close(s);
        }
        return 0;
    }
    if (wc->is_closing) {
        return -1;
    }
    if (!s) {
        s = blend_calloc(1, sizeof *s);
        if (!s) {
            return -1;
        }
        if (uv_poll_init_socket(wc->loop, &s->poll, fd) != 0) {
            blend_free(s);
            return -1;
        }
        s->wc = wc;
        s->fd = fd;
        s->next = wc->socks;
        if (wc->socks) {
            wc->socks->prev = s;
        }
        wc->socks = s;
        wc->handles_open++;
        if (curl_multi_assign(wc->multi, fd, s) != CURLM_OK) {
            sock_close(s);
            return -1;
        }
    }
    int events = 0;
    events |= (what & CURL_POLL_IN) ? UV_READABLE : 0;
    events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct req *r = userp;
    size_t n = size * nmemb;
    int rc = blend_buf_append(&r->answer, data, n);
    if (rc < 0) {
        r->write_rc = rc; /* BLEND_ELIMIT past response_bytes_max, or BLEND_ENOMEM */
        return 0;
    }
    return n;
}

/* --- Lifecycle -------------------------------------------------------------------------------- */

int blend__webclient_create(uv_loop_t *loop, struct blend_webclient **out)
{
    BLEND_ASSERT(loop != NULL && out != NULL);
    if (!global_ready()) {
        return BLEND_EINTERNAL;
    }
    struct blend_webclient *wc = blend_calloc(1, sizeof *wc);
    if (!wc) {
        return BLEND_ENOMEM;
    }
    wc->loop = loop;
    wc->multi = curl_multi_init();
    if (!wc->multi) {
        blend_free(wc);
        return BLEND_ENOMEM;
    }
    int bad = curl_multi_setopt(wc->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK;
    bad |= curl_multi_setopt(wc->multi, CURLMOPT_SOCKETDATA, wc) != CURLM_OK;
    bad |= curl_multi_setopt(wc->multi, CURLMOPT_TIMERFUNCTION, on_timer_set) != CURLM_OK;
    bad |= curl_multi_setopt(wc->multi, CURLMOPT_TIMERDATA, wc) != CURLM_OK;
    if (bad || uv_timer_init(loop, &wc->timer) != 0) {
        curl_multi_cleanup(wc->multi);
        blend_free(wc);
        return BLEND_EINTERNAL;
    }
    wc->timer.data = wc;
    wc->handles_open = 1;
    *out = wc;
    return 0;
}

void blend__webclient_destroy(struct blend_webclient *wc)
{
    if (!wc) {
        return;
    }
    BLEND_ASSERT(!wc->is_closing); /* destroyed twice */
    wc->is_closing = 1;
    /* Callbacks run here may cancel other requests (or try to send: refused), so take the head
     * each time rather than walking a list that may change under us. */
    while (wc->reqs) {
        req_answer(wc->reqs, BLEND_ECLOSED, 0);
    }
    CURLM *multi = wc->multi;
    CURLMcode mc = curl_multi_cleanup(multi); /* may close cached connections' sockets */
    BLEND_ASSERT(mc == CURLM_OK);
    wc->multi = NULL;
    while (wc->socks) {
        sock_close(wc->socks);
    }
    uv_timer_stop(&wc->timer);
    uv_close((uv_handle_t *)&wc->timer, on_handle_closed);
}

/* --- Requests --------------------------------------------------------------------------------- */

static int is_text_clean(const char *s, size_t len_max)
{
    size_t len = strnlen(s, len_max);
    if (len == len_max) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Parses an http(s) URL with curl's parser. Returns an owned handle or NULL. */
static CURLU *url_parse(const char *text, int mail)
{
    if (strnlen(text, BLEND_WEBCLIENT_URL_BYTES_MAX + 1) > BLEND_WEBCLIENT_URL_BYTES_MAX) {
        return NULL;
    }
    CURLU *u = curl_url();
    if (!u) {
        return NULL;
    }
    char *scheme = NULL;
    if (curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (mail ? strcasecmp(scheme, "imap") != 0 && strcasecmp(scheme, "imaps") != 0 &&
                    strcasecmp(scheme, "smtp") != 0 && strcasecmp(scheme, "smtps") != 0
              : strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        curl_free(scheme);
        curl_url_cleanup(u);
        return NULL;
    }
    curl_free(scheme);
    return u;
}

/* A MAIL request's own fields (the common ones are checked by check_request). */
static int check_mail(const struct blend_webclient_request *r)
{
    const char *scheme_end = strstr(r->url, "://");
    int smtp = scheme_end && strncasecmp(r->url, "smtp", 4) == 0;
    if (r->content_type || (r->username && !is_text_clean(r->username, 256)) ||
        (r->password && !is_text_clean(r->password, 256))) {
        return BLEND_EINVAL;
    }
    if (!smtp) {
        /* IMAP: a command (or none), no body, no envelope. */
        return r->body_len == 0 && !r->mail_from && !r->rcpt &&
                       (!r->custom_request || is_text_clean(r->custom_request, 1024))
                   ? 0
                   : BLEND_EINVAL;
    }
    if (r->custom_request || !r->mail_from || !r->rcpt || !r->rcpt[0] || r->body_len == 0 ||
        !is_text_clean(r->mail_from, 320) || strpbrk(r->mail_from, "<>")) {
        return BLEND_EINVAL;
    }
    for (const char *const *a = r->rcpt; *a; a++) {
        if (!**a || !is_text_clean(*a, 320) || strpbrk(*a, "<>")) {
            return BLEND_EINVAL;
        }
    }
    return 0;
}

static int check_request(const struct blend_webclient_request *r, int *is_post)
{
    if (!r->method || !r->url || (!r->body && r->body_len > 0)) {
        return BLEND_EINVAL;
    }
    if (strcmp(r->method, "MAIL") == 0) {
        *is_post = 0;
        if (r->timeout_ms < 1 || r->timeout_ms > BLEND_WEBCLIENT_TIMEOUT_MS_MAX ||
            r->body_len > BLEND_WEBCLIENT_MAIL_BYTES_MAX ||
            r->response_bytes_max > BLEND_WEBCLIENT_MAIL_BYTES_MAX) {
            return BLEND_EINVAL;
        }
        return check_mail(r);
    }
    if (r->username || r->password || r->custom_request || r->mail_from || r->rcpt) {
        return BLEND_EINVAL; /* mail fields on an HTTP request */
    }
    int n = 0;
    for (const char *const *x = r->headers; x && *x; x++, n++) {
        const char *colon = strchr(*x, ':');
        if (n == 8 || !colon || colon == *x || !is_text_clean(*x, 1024)) {
            return BLEND_EINVAL; /* CR/LF would inject headers */
        }
    }
    *is_post = strcmp(r->method, "POST") == 0;
    if (!*is_post && strcmp(r->method, "GET") != 0) {
        return BLEND_EINVAL;
    }
    if (!*is_post && (r->body_len > 0 || r->content_type)) {
        return BLEND_EINVAL;
    }
    if (r->timeout_ms < 1 || r->timeout_ms > BLEND_WEBCLIENT_TIMEOUT_MS_MAX ||
        r->body_len > BLEND_WEBCLIENT_BODY_BYTES_MAX ||
        r->response_bytes_max > BLEND_WEBCLIENT_RESPONSE_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    if (r->content_type &&
        !is_text_clean(r->content_type, BLEND_WEBCLIENT_CONTENT_TYPE_BYTES_MAX)) {
        return BLEND_EINVAL; /* CR/LF would inject headers */
    }
    return 0;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct req *q = arg;
    size_t left = q->upload_len - q->upload_pos, want = size * n;
    size_t k = left < want ? left : want;
    memcpy(buf, q->upload + q->upload_pos, k);
    q->upload_pos += k;
    return k;
}

/* A MAIL request's options (after the common ones). */
static CURLcode mail_setup(struct req *q, const struct blend_webclient_request *r)
{
    CURL *e = q->easy;
    CURLcode c = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps");
    c = c ? c : curl_easy_setopt(e, CURLOPT_USE_SSL, r->require_tls ? (long)CURLUSESSL_ALL
                                                                     : (long)CURLUSESSL_NONE);
    if (r->username) {
        c = c ? c : curl_easy_setopt(e, CURLOPT_USERNAME, r->username);
    }
    if (r->password) {
        c = c ? c : curl_easy_setopt(e, CURLOPT_PASSWORD, r->password);
    }
    if (r->custom_request) {
        c = c ? c : curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->custom_request);
    }
    if (!r->mail_from) {
        return c;
    }
    for (const char *const *a = r->rcpt; *a && c == CURLE_OK; a++) {
        struct curl_slist *more = curl_slist_append(q->rcpt, *a);
        if (!more) {
            return CURLE_OUT_OF_MEMORY;
        }
        q->rcpt = more;
    }
    q->upload = blend_malloc(r->body_len);
    if (!q->upload) {
        return CURLE_OUT_OF_MEMORY;
    }
    memcpy(q->upload, r->body, r->body_len);
    q->upload_len = r->body_len;
    c = c ? c : curl_easy_setopt(e, CURLOPT_MAIL_FROM, r->mail_from);
    c = c ? c : curl_easy_setopt(e, CURLOPT_MAIL_RCPT, q->rcpt);
    c = c ? c : curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    c = c ? c : curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    c = c ? c : curl_easy_setopt(e, CURLOPT_READDATA, q);
    return c ? c : curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
}

/* Sets the easy handle's options. Returns the first failing curl code. */
static CURLcode req_setup(struct req *q, const struct blend_webclient_request *r, int is_post)
{
    size_t max =
        r->response_bytes_max ? r->response_bytes_max : BLEND_WEBCLIENT_RESPONSE_BYTES_DEFAULT;
    blend_buf_init(&q->answer, max);
    CURL *e = q->easy;
    CURLcode c = curl_easy_setopt(e, CURLOPT_CURLU, q->url);
    /* Signals are the loop's business; curl's resolver must not use alarm(). */
    c = c ? c : curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c = c ? c : curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)q);
    c = c ? c : curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    c = c ? c : curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    c = c ? c : curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    c = c ? c : curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
    c = c ? c : curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c = c ? c : curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    c = c ? c : curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    c = c ? c : curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
    c = c ? c : curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    c = c ? c : curl_easy_setopt(e, CURLOPT_USERAGENT, "blend/" BLEND_VERSION);
    if (q->mail) {
        c = c ? c : curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
        return c ? c : mail_setup(q, r);
    }
    if (is_post) {
        c = c ? c : curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        c = c ? c : curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body_len ? r->body : "");
    } else {
        c = c ? c : curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    return c ? c : curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
}

/* Request headers: the content type, and no "Expect: 100-continue", which would make a POST
 * wait a second for a "100 Continue" many servers never send (curl 7.88 asks only above 1 MiB,
 * BLEND_WEBCLIENT_BODY_BYTES_MAX; the empty header keeps it so if either moves). */
static int headers_build(struct req *q, const struct blend_webclient_request *r)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    if (h && r->content_type) {
        char line[BLEND_WEBCLIENT_CONTENT_TYPE_BYTES_MAX + 16];
        snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        struct curl_slist *more = curl_slist_append(h, line);
        if (!more) {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    for (const char *const *x = r->headers; h && x && *x; x++) {
        struct curl_slist *more = curl_slist_append(h, *x);
        if (!more) {
            curl_slist_free_all(h);
            h = NULL;
        } else {
            h = more;
        }
    }
    q->headers = h;
    return h ? 0 : BLEND_ENOMEM;
}

int blend__webclient_send(struct blend_webclient *wc, const struct blend_webclient_request *r,
                          blend_webclient_cb *cb, void *arg, uint64_t token, uint64_t *id_out)
{
    BLEND_ASSERT(wc != NULL && r != NULL && cb != NULL);
    if (wc->is_closing) {
        return BLEND_ECLOSED;
    }
    int is_post = 0;
    int rc = check_request(r, &is_post);
    if (rc < 0) {
        return rc;
    }
    if (wc->reqs_count >= BLEND_WEBCLIENT_REQUESTS_MAX) {
        return BLEND_ELIMIT;
    }
    struct req *q = blend_calloc(1, sizeof *q);
    if (!q) {
        return BLEND_ENOMEM;
    }
    q->mail = strcmp(r->method, "MAIL") == 0;
    q->url = url_parse(r->url, q->mail);
    if (!q->url) {
        rc = BLEND_EINVAL; /* also on no memory: curl's URL API does not tell them apart */
        goto fail;
    }
    q->easy = curl_easy_init();
    if (!q->easy || headers_build(q, r) < 0) {
        rc = BLEND_ENOMEM;
        goto fail;
    }
    CURLcode c = req_setup(q, r, is_post);
    if (c != CURLE_OK) {
        rc = c == CURLE_OUT_OF_MEMORY ? BLEND_ENOMEM : BLEND_EINTERNAL;
        goto fail;
    }
    CURLMcode mc = curl_multi_add_handle(wc->multi, q->easy);
    if (mc != CURLM_OK) {
        rc = mc == CURLM_OUT_OF_MEMORY ? BLEND_ENOMEM : BLEND_EINTERNAL;
        goto fail;
    }
    q->wc = wc;
    q->id = ++wc->id_last;
    q->token = token;
    q->cb = cb;
    q->arg = arg;
    q->next = wc->reqs;
    if (wc->reqs) {
        wc->reqs->prev = q;
    }
    wc->reqs = q;
    wc->reqs_count++;
    if (id_out) {
        *id_out = q->id;
    }
    return 0;
fail:
    req_free(q);
    return rc;
}

void blend__webclient_cancel(struct blend_webclient *wc, uint64_t id)
{
    BLEND_ASSERT(wc != NULL);
    /* A linear walk: at most BLEND_WEBCLIENT_REQUESTS_MAX, and cancels are rare (a caller hung
     * up while its flow waited for an answer). */
    for (struct req *r = wc->reqs; r; r = r->next) {
        if (r->id == id) {
            req_unlink(r);
            if (wc->multi) {
                CURLMcode mc = curl_multi_remove_handle(wc->multi, r->easy);
                BLEND_ASSERT(mc == CURLM_OK);
            }
            req_free(r);
            return;
        }
    }
}

/* --- Allow-list ------------------------------------------------------------------------------- */

struct url_parts {
    char *scheme, *host, *port, *path;
};

static void parts_free(struct url_parts *p)
{
    curl_free(p->scheme);
    curl_free(p->host);
    curl_free(p->port);
    curl_free(p->path);
    memset(p, 0, sizeof *p);
}

/* Splits an http(s) URL as curl will use it. Returns 0, or -1 (nothing to free). */
static int parts_get(const char *text, struct url_parts *p)
{
    memset(p, 0, sizeof *p);
    CURLU *u = url_parse(text, 0);
    if (!u) {
        return -1;
    }
    int bad = curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK;
    bad |= curl_url_get(u, CURLUPART_HOST, &p->host, 0) != CURLUE_OK;
    bad |= curl_url_get(u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) != CURLUE_OK;
    bad |= curl_url_get(u, CURLUPART_PATH, &p->path, 0) != CURLUE_OK;
    curl_url_cleanup(u);
    if (bad) {
        parts_free(p);
        return -1;
    }
    return 0;
}

static int entry_allows(const struct url_parts *e, const struct url_parts *u)
{
    if (strcasecmp(e->scheme, u->scheme) != 0 || strcasecmp(e->host, u->host) != 0 ||
        strcmp(e->port, u->port) != 0) {
        return 0;
    }
    size_t n = strlen(e->path);
    if (strncmp(u->path, e->path, n) != 0) {
        return 0;
    }
    /* At a segment boundary: "/api" allows "/api" and "/api/x", never "/apix". */
    return n > 0 && (e->path[n - 1] == '/' || u->path[n] == '\0' || u->path[n] == '/');
}

/* curl removes "." and ".." segments but leaves percent-encoded ones, and many servers decode
 * "%2e%2e" or "%2f" before routing: a path holding an encoded dot, slash or backslash could
 * climb out of an allowed prefix, so such URLs are never allowed. */
static int path_is_ambiguous(const char *path)
{
    for (const char *p = strchr(path, '%'); p; p = strchr(p + 1, '%')) {
        if (strncasecmp(p, "%2e", 3) == 0 || strncasecmp(p, "%2f", 3) == 0 ||
            strncasecmp(p, "%5c", 3) == 0) {
            return 1;
        }
    }
    return 0;
}

int blend__webclient_url_allowed(const char *allow_list, const char *url)
{
    BLEND_ASSERT(allow_list != NULL && url != NULL);
    size_t len = strnlen(allow_list, BLEND_WEBCLIENT_ALLOW_LIST_BYTES_MAX + 1);
    if (len == 0 || len > BLEND_WEBCLIENT_ALLOW_LIST_BYTES_MAX || !global_ready()) {
        return 0;
    }
    struct url_parts u;
    if (parts_get(url, &u) < 0) {
        return 0;
    }
    if (path_is_ambiguous(u.path)) {
        parts_free(&u);
        return 0;
    }
    char *list = blend_strndup(allow_list, len);
    int is_allowed = 0;
    char *save = NULL;
    for (char *tok = list ? strtok_r(list, ", \t\r\n", &save) : NULL; tok && !is_allowed;
         tok = strtok_r(NULL, ", \t\r\n", &save)) {
        struct url_parts e;
        if (parts_get(tok, &e) == 0) {
            is_allowed = entry_allows(&e, &u);
            parts_free(&e);
        }
    }
    blend_free(list);
    parts_free(&u);
    return is_allowed;
}
