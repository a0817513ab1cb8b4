/*
 * What Blend says to a caller waiting in a queue: the position and expected wait announcement
 * and the callback confirmation, in English, Korean and Chinese. Pure text: the host renders it
 * through the prompt service. The rounding rules are docs/flows.md's ("Announcements").
 */
#include "engine/ivr/ivr.h"

#include "base/assert.h"

#include <stdio.h>
#include <string.h>

enum blend_ivr_lang blend_ivr_lang_of(const char *language)
{
    if (!language) {
        return BLEND_IVR_LANG_EN;
    }
    if (strncmp(language, "ko", 2) == 0) {
        return BLEND_IVR_LANG_KO;
    }
    if (strncmp(language, "zh", 2) == 0 || strncmp(language, "cmn", 3) == 0 ||
        strncmp(language, "yue", 3) == 0) {
        return BLEND_IVR_LANG_ZH;
    }
    return BLEND_IVR_LANG_EN;
}

int blend_ivr_wait_minutes(int64_t ewt_ms, int last_min)
{
    int min = 0;
    if (ewt_ms > 60000) {
        int64_t m = (ewt_ms + 59999) / 60000;
        if (m > 10) {
            m = (m + 4) / 5 * 5;
        }
        min = m > 24 * 60 ? 24 * 60 : (int)m;
    }
    if (last_min >= 0 && min > last_min) {
        min = last_min;
    }
    return min;
}

static void part(struct blend_ivr_announcement *a, const char *text)
{
    BLEND_ASSERT(a->count < BLEND_IVR_ANNOUNCE_PARTS_MAX &&
                 strlen(text) < BLEND_IVR_ANNOUNCE_PART_BYTES);
    memcpy(a->parts[a->count++], text, strlen(text) + 1);
}

static void number(struct blend_ivr_announcement *a, int n)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", n);
    part(a, buf);
}

int blend_ivr_announce(const char *language, int position, int minutes,
                       struct blend_ivr_announcement *out)
{
    BLEND_ASSERT(out);
    if (position < 1 || minutes < 0) {
        return BLEND_EINVAL;
    }
    out->count = 0;
    switch (blend_ivr_lang_of(language)) {
    case BLEND_IVR_LANG_KO:
        part(out, "고객님의 대기 순번은 ");
        number(out, position);
        if (minutes) {
            part(out, "번입니다. 예상 대기 시간은 약 ");
            number(out, minutes);
            part(out, "분입니다.");
        } else {
            part(out, "번입니다. 곧 상담원을 연결해 드리겠습니다.");
        }
        break;
    case BLEND_IVR_LANG_ZH:
        part(out, "您现在排在第");
        number(out, position);
        if (minutes) {
            part(out, "位。预计等待时间约");
            number(out, minutes);
            part(out, "分钟。");
        } else {
            part(out, "位。预计等待不到一分钟。");
        }
        break;
    case BLEND_IVR_LANG_EN:
        part(out, "You are number ");
        number(out, position);
        if (minutes) {
            part(out, " in line. Your expected wait is about ");
            number(out, minutes);
            part(out, minutes == 1 ? " minute." : " minutes.");
        } else {
            part(out, " in line. Your expected wait is less than a minute.");
        }
        break;
    }
    return 0;
}

int blend_ivr_announce_text(const char *language, int position, int minutes, char *out,
                            size_t cap)
{
    BLEND_ASSERT(out && cap > 0);
    struct blend_ivr_announcement a;
    int rc = blend_ivr_announce(language, position, minutes, &a);
    if (rc) {
        return rc;
    }
    size_t len = 0;
    for (size_t i = 0; i < a.count; i++) {
        size_t n = strlen(a.parts[i]);
        if (len + n >= cap) {
            return BLEND_ELIMIT;
        }
        memcpy(out + len, a.parts[i], n);
        len += n;
    }
    out[len] = '\0';
    return 0;
}

const char *blend_ivr_callback_text(const char *language)
{
    switch (blend_ivr_lang_of(language)) {
    case BLEND_IVR_LANG_KO:
        return "감사합니다. 상담원이 연결 가능할 때 이 번호로 다시 전화 드리겠습니다. "
               "안녕히 계십시오.";
    case BLEND_IVR_LANG_ZH:
        return "谢谢。客服有空时，我们会回拨这个号码。再见。";
    case BLEND_IVR_LANG_EN:
        break;
    }
    return "Thank you. We will call you back at this number as soon as an agent is free. "
           "Goodbye.";
}
