/*
 * Fuzz target for IVR flows: the input is parsed as a flow document (loader, then validator);
 * when it is a valid flow, a session runs through it with events taken from the same bytes
 * (each byte picks a key press, a prompt end, the last armed timer, an http answer, a queue
 * outcome or a recorded voicemail). Any crash, sanitizer report, leak or broken invariant (a
 * failed load leaves *out untouched and reports an error; an ended session refuses events;
 * a step never exceeds the visit budget) is a finding.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/flow.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Events one run may feed: enough to walk every node of a small flow several times. */
#define EVENTS_MAX 512

static struct blend_ivr_effects fx;

static void run_session(const struct blend_ivr_flow *flow, const uint8_t *data, size_t size)
{
    struct blend_ivr_session *s = NULL;
    if (blend_ivr_session_create(flow, &s) < 0) {
        return;
    }
    struct blend_ivr_facts facts = {.calendar = (enum blend_ivr_calendar)(size % 4),
                                    .hour = (int)(size % 24),
                                    .ewt_s = (int)(size % 600)};
    memcpy(facts.caller, "+8210", 6);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .facts = &facts};
    BLEND_ASSERT(blend_ivr_session_step(s, &ev, &fx) == 0);
    uint32_t armed = 0;
    static const char keys[] = "0123456789*#";
    static const struct blend_ivr_assign fields[] = {{"balance", "12"}, {"account", "4242"}};
    for (size_t i = 0; i < size && i < EVENTS_MAX; i++) {
        for (size_t k = 0; k < fx.count; k++) {
            BLEND_ASSERT(fx.items[k].node != NULL);
            armed = fx.items[k].kind == BLEND_IVR_FX_ARM_TIMER ? fx.items[k].timer_id : armed;
        }
        uint8_t b = data[size - 1 - i]; /* from the end: the document's tail varies most */
        struct blend_ivr_event e = {.now_ms = (int64_t)i * 1000};
        switch (b % 6) {
        case 0:
        case 1:
            e.kind = BLEND_IVR_EV_DIGIT;
            e.digit = keys[(b / 6) % 12];
            break;
        case 2:
            e.kind = BLEND_IVR_EV_PLAYED;
            break;
        case 3:
            e.kind = BLEND_IVR_EV_TIMER;
            e.timer_id = armed;
            break;
        case 4:
            e.kind = BLEND_IVR_EV_HTTP_RESULT;
            e.is_ok = b & 8;
            e.fields = fields;
            e.fields_count = (b >> 4) % 3;
            break;
        default:
            e.kind = (b & 8) ? BLEND_IVR_EV_RECORDED : BLEND_IVR_EV_QUEUE;
            e.queue_event = (b & 16) ? BLEND_IVR_QUEUE_ANSWERED : BLEND_IVR_QUEUE_OVERFLOW;
            break;
        }
        int was_ended = blend_ivr_session_is_ended(s);
        int rc = blend_ivr_session_step(s, &e, &fx);
        BLEND_ASSERT(was_ended ? rc == BLEND_ESTATE : rc == 0);
        BLEND_ASSERT(fx.count <= BLEND_IVR_EFFECTS_MAX);
        if (was_ended) {
            BLEND_ASSERT(blend_ivr_session_exit_reason(s) != NULL);
            break;
        }
    }
    blend_ivr_session_destroy(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    int rc = blend_flow_parse((const char *)data, size, &flow, &errs);
    BLEND_ASSERT(rc == 0 || rc == BLEND_EINVAL || rc == BLEND_ENOMEM);
    BLEND_ASSERT((rc == 0) == (flow != NULL));
    BLEND_ASSERT(rc != BLEND_EINVAL || errs.count_total > 0);
    if (flow) {
        struct blend_ivr_errors ivr;
        BLEND_ASSERT(blend_ivr_validate(flow, &ivr) == 0);
        run_session(flow, data, size);
        blend_ivr_flow_destroy(flow);
    }
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
