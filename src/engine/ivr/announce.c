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

int blend_ivr_announce_text(const char *language, int position, int minutes, char *out, size_t cap)
{
    BLEND_ASSERT(out && cap > 0);
    if (position < 1 || minutes < 0) {
        return BLEND_EINVAL;
    }
    int n = 0;
    switch (blend_ivr_lang_of(language)) {
    case BLEND_IVR_LANG_KO:
        n = minutes ? snprintf(out, cap,
                               "고객님의 대기 순번은 %d번입니다. 예상 대기 시간은 약 %d분입니다.",
                               position, minutes)
                    : snprintf(out, cap,
                               "고객님의 대기 순번은 %d번입니다. 곧 상담원을 연결해 드리겠습니다.",
                               position);
        break;
    case BLEND_IVR_LANG_ZH:
        n = minutes
                ? snprintf(out, cap, "您现在排在第%d位。预计等待时间约%d分钟。", position, minutes)
                : snprintf(out, cap, "您现在排在第%d位。预计等待不到一分钟。", position);
        break;
    case BLEND_IVR_LANG_EN:
        n = minutes ? snprintf(out, cap,
                               "You are number %d in line. Your expected wait is about %d "
                               "minute%s.",
                               position, minutes, minutes == 1 ? "" : "s")
                    : snprintf(out, cap,
                               "You are number %d in line. Your expected wait is less than a "
                               "minute.",
                               position);
        break;
    }
    return n < 0 || (size_t)n >= cap ? BLEND_ELIMIT : 0;
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
