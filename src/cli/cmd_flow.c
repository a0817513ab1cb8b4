/*
 * `blend flow`: IVR flows on the command line, for flow authors and tests.
 *   blend flow check FILE                  loads and validates (docs/flows.md §Validation)
 *   blend flow run FILE [--digits "1,2,#"] [--caller N] [--calendar open|closed|holiday]
 *                  [--hour H] [--http ok|fail]
 *                                          walks the flow without a call, printing each step
 * `run` plays the host of docs/flows.md: every prompt finishes at once, the keys given are
 * pressed one by one when the flow waits for one ("t" lets the armed timer fire instead), a
 * webhook answers with no fields (ok) or fails (the default: no call leaves the machine), a
 * voicemail finishes at once, and a caller left in a queue with no keys to press is answered.
 * When the keys run out, the armed timer fires (timeouts, retries) until the flow ends. Exit
 * codes: 0 done, 1 the flow is invalid (each error printed as "path: message"), 2 usage or an
 * unreadable file.
 */
#include "cli/cli.h"

#include "base/alloc.h"
#include "engine/ivr/ivr.h"
#include "model/flow.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Walking stops after this many events: a flow that keeps asking (menus retried forever by
 * timers) is cut rather than looping. */
#define FLOW_RUN_EVENTS_MAX 2000

static void usage(FILE *out)
{
    fprintf(out, "usage: blend flow check FILE\n"
                 "       blend flow run FILE [--digits \"1,2,#\"] [--caller NUMBER]\n"
                 "                  [--calendar open|closed|holiday] [--hour 0-23]\n"
                 "                  [--http ok|fail]\n");
}

/* Reads and loads the flow; prints why not. Returns 0, 1 (invalid flow) or 2 (unreadable). */
static int load(const char *path, struct blend_ivr_flow **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "blend flow: cannot open %s\n", path);
        return 2;
    }
    char *text = blend_malloc(BLEND_FLOW_BYTES_MAX + 1);
    size_t len = text ? fread(text, 1, BLEND_FLOW_BYTES_MAX + 1, f) : 0;
    int failed = !text || ferror(f);
    fclose(f);
    if (failed || len > BLEND_FLOW_BYTES_MAX) {
        fprintf(stderr, "blend flow: cannot read %s (%s)\n", path,
                !text ? "out of memory" : failed ? "read error" : "larger than 1 MiB");
        blend_free(text);
        return 2;
    }
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    int rc = blend_flow_parse(text, len, out, &errs);
    blend_free(text);
    if (rc == 0) {
        return 0;
    }
    if (rc != BLEND_EINVAL) {
        fprintf(stderr, "blend flow: %s: %s\n", path, blend_strerror(rc));
        return 2;
    }
    fprintf(stderr, "blend flow: %s is not a valid flow:\n", path);
    for (size_t i = 0; i < errs.count; i++) {
        fprintf(stderr, "  %s: %s\n", errs.items[i].path[0] ? errs.items[i].path : "(document)",
                errs.items[i].message);
    }
    if (errs.count_total > errs.count) {
        fprintf(stderr, "  ... and %zu more\n", errs.count_total - errs.count);
    }
    return 1;
}

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

/* Prints one effect; notes what the host must answer. */
struct host {
    int play, http, recorded, in_queue;
    int timer_armed;
    uint32_t timer_id;
    int64_t timer_due_ms;
};

static void print_effect(const struct blend_ivr_effect *e, struct host *h)
{
    switch (e->kind) {
    case BLEND_IVR_FX_STEP:
        printf("step %s\n", e->node);
        return;
    case BLEND_IVR_FX_INPUT:
        printf("  input %c at %s\n", e->digit, e->node);
        return;
    case BLEND_IVR_FX_EXIT:
        printf("exit at %s: %s\n", or_dash(e->node), or_dash(e->reason));
        return;
    case BLEND_IVR_FX_PLAY:
        h->play = 1;
        if (e->file && e->file[0]) {
            printf("  play file %s%s\n", e->file, e->is_barge_in ? " (keys interrupt)" : "");
        } else {
            printf("  say [%s] \"%s\"%s\n", or_dash(e->language), or_dash(e->text),
                   e->is_barge_in ? " (keys interrupt)" : "");
        }
        return;
    case BLEND_IVR_FX_ARM_TIMER:
        h->timer_armed = 1;
        h->timer_id = e->timer_id;
        h->timer_due_ms = e->due_ms;
        printf("  timer %u due at %lld ms\n", e->timer_id, (long long)e->due_ms);
        return;
    case BLEND_IVR_FX_HTTP:
        h->http = 1;
        printf("  webhook %s (timeout %d ms)\n", or_dash(e->text), e->timeout_ms);
        return;
    case BLEND_IVR_FX_JOIN_QUEUE:
        h->in_queue = 1;
        printf("  join queue %s (priority %d, skills %s, announce every %d s, max wait %d s%s%s)\n",
               or_dash(e->queue), e->value, or_dash(e->skills), e->announce_every_s,
               e->max_wait_s, e->callback_key ? ", callback key" : "",
               e->voicemail_key ? ", voicemail key" : "");
        return;
    case BLEND_IVR_FX_LEAVE_QUEUE:
        h->in_queue = 0;
        printf("  leave queue %s\n", or_dash(e->queue));
        return;
    case BLEND_IVR_FX_CALLBACK:
        h->in_queue = 0;
        printf("  callback requested in %s\n", or_dash(e->queue));
        return;
    case BLEND_IVR_FX_RECORD_VOICEMAIL:
        h->recorded = 1;
        printf("  record voicemail for %s (at most %d s)\n", or_dash(e->queue), e->value);
        return;
    case BLEND_IVR_FX_TRANSFER:
        printf("  transfer to %s\n", or_dash(e->text));
        return;
    case BLEND_IVR_FX_SURVEY_ANSWER:
        printf("  survey %s = %d\n", or_dash(e->text), e->value);
        return;
    case BLEND_IVR_FX_HANGUP:
        printf("  hang up\n");
        return;
    }
}

static int parse_calendar(const char *s, enum blend_ivr_calendar *out)
{
    static const struct {
        const char *name;
        enum blend_ivr_calendar v;
    } t[] = {{"open", BLEND_IVR_CAL_OPEN},
             {"closed", BLEND_IVR_CAL_CLOSED},
             {"holiday", BLEND_IVR_CAL_HOLIDAY}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(s, t[i].name) == 0) {
            *out = t[i].v;
            return 0;
        }
    }
    return -1;
}

static int run(const struct blend_ivr_flow *flow, const char *digits,
               const struct blend_ivr_facts *facts, int http_ok)
{
    struct blend_ivr_session *s;
    if (blend_ivr_session_create(flow, &s) != 0) {
        fprintf(stderr, "blend flow: out of memory\n");
        return 2;
    }
    static struct blend_ivr_effects fx;
    struct host h = {0};
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .facts = facts};
    const char *d = digits ? digits : "";
    int64_t now_ms = 0;
    int events = 0;
    for (;;) {
        ev.now_ms = now_ms;
        if (blend_ivr_session_step(s, &ev, &fx) != 0) {
            break;
        }
        h.play = h.http = h.recorded = 0;
        for (size_t i = 0; i < fx.count; i++) {
            print_effect(&fx.items[i], &h);
        }
        if (blend_ivr_session_is_ended(s) || ++events >= FLOW_RUN_EVENTS_MAX) {
            break;
        }
        memset(&ev, 0, sizeof ev);
        while (*d == ',' || *d == ' ') {
            d++;
        }
        now_ms += 1;
        if (h.http) {
            ev.kind = BLEND_IVR_EV_HTTP_RESULT;
            ev.is_ok = http_ok;
            printf("  webhook %s\n", http_ok ? "answered (no fields)" : "failed");
        } else if (h.play) {
            ev.kind = BLEND_IVR_EV_PLAYED;
        } else if (h.recorded) {
            ev.kind = BLEND_IVR_EV_RECORDED;
        } else if (*d && *d != 't') {
            ev.kind = BLEND_IVR_EV_DIGIT;
            ev.digit = *d++;
            printf("  press %c\n", ev.digit);
        } else if (*d == 't' && h.timer_armed) {
            d++;
            ev.kind = BLEND_IVR_EV_TIMER;
            ev.timer_id = h.timer_id;
            now_ms = h.timer_due_ms > now_ms ? h.timer_due_ms : now_ms;
            printf("  (timer %u fires)\n", h.timer_id);
        } else if (h.in_queue) {
            ev.kind = BLEND_IVR_EV_QUEUE;
            ev.queue_event = BLEND_IVR_QUEUE_ANSWERED;
            printf("  (an agent answers)\n");
        } else if (h.timer_armed) {
            ev.kind = BLEND_IVR_EV_TIMER;
            ev.timer_id = h.timer_id;
            now_ms = h.timer_due_ms > now_ms ? h.timer_due_ms : now_ms;
            printf("  (no key: timer %u fires)\n", h.timer_id);
        } else {
            printf("(the flow waits for nothing the walk can give)\n");
            break;
        }
        ev.now_ms = now_ms;
    }
    const char *reason = blend_ivr_session_exit_reason(s);
    printf("ended: %s\n", reason ? reason : events >= FLOW_RUN_EVENTS_MAX ? "cut (too long)"
                                                                          : "not ended");
    blend_ivr_session_destroy(s);
    return 0;
}

int blend_cmd_flow(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "run") != 0)) {
        usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    int is_run = strcmp(argv[1], "run") == 0;
    const char *path = argv[2];
    const char *digits = NULL;
    struct blend_ivr_facts facts;
    memset(&facts, 0, sizeof facts);
    facts.hour = 12;
    int http_ok = 0;
    for (int i = 3; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!is_run || !v) {
            fprintf(stderr, "blend flow: unexpected '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        char *end = NULL;
        if (strcmp(argv[i], "--digits") == 0 && strspn(v, "0123456789*#ABCDt, ") == strlen(v)) {
            digits = v;
        } else if (strcmp(argv[i], "--caller") == 0 && strlen(v) < sizeof facts.caller) {
            snprintf(facts.caller, sizeof facts.caller, "%s", v);
        } else if (strcmp(argv[i], "--calendar") == 0 && parse_calendar(v, &facts.calendar) == 0) {
        } else if (strcmp(argv[i], "--hour") == 0 && (facts.hour = (int)strtol(v, &end, 10),
                                                      *v && !*end && facts.hour >= 0 &&
                                                          facts.hour <= 23)) {
        } else if (strcmp(argv[i], "--http") == 0 &&
                   (strcmp(v, "ok") == 0 || strcmp(v, "fail") == 0)) {
            http_ok = strcmp(v, "ok") == 0;
        } else {
            fprintf(stderr, "blend flow: bad option or value: %s %s\n", argv[i], v);
            usage(stderr);
            return 2;
        }
    }
    struct blend_ivr_flow *flow = NULL;
    int rc = load(path, &flow);
    if (rc != 0) {
        return rc;
    }
    if (!is_run) {
        printf("%s: valid flow\n", path);
        blend_ivr_flow_destroy(flow);
        return 0;
    }
    rc = run(flow, digits, &facts, http_ok);
    blend_ivr_flow_destroy(flow);
    return rc;
}
