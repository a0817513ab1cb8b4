/*
 * JSON-lines logger. The level is an atomic so any thread may read it without the lock; the
 * lock only serialises writes to the stream.
 */
#include "base/log.h"

#include "base/error.h"
#include "base/limits.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int current_level = BLEND_LOG_INFO;
static FILE *log_stream;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int blend_log_level_parse(const char *name, enum blend_log_level *level_out)
{
    for (int i = 0; i <= BLEND_LOG_OFF; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *level_out = (enum blend_log_level)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

const char *blend_log_level_name(enum blend_log_level level)
{
    return (level >= BLEND_LOG_DEBUG && level <= BLEND_LOG_OFF) ? level_names[level] : "?";
}

void blend_log_set_level(enum blend_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum blend_log_level blend_log_get_level(void)
{
    return (enum blend_log_level)atomic_load(&current_level);
}

void blend_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    log_stream = stream;
    pthread_mutex_unlock(&log_lock);
}

size_t blend_json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap == 0) {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        size_t len;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            len = 2;
        } else if (c == '\n') {
            memcpy(tmp, "\\n", 2);
            len = 2;
        } else if (c < 0x20 || c == 0x7f) {
            len = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else {
            tmp[0] = (char)c;
            len = 1;
        }
        if (n + len + 1 > cap) {
            break;
        }
        memcpy(out + n, tmp, len);
        n += len;
    }
    /* Never leave a truncated UTF-8 sequence at the end. */
    while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80) {
        size_t lead = n - 1;
        while (lead > 0 && ((unsigned char)out[lead] & 0xC0) == 0x80) {
            lead--;
        }
        unsigned char l = (unsigned char)out[lead];
        size_t want = l >= 0xF0 ? 4 : l >= 0xE0 ? 3 : l >= 0xC0 ? 2 : 1;
        if (n - lead >= want) {
            break;
        }
        n = lead;
    }
    out[n] = '\0';
    return n;
}

void blend_log(enum blend_log_level level, const char *mod, const char *fmt, ...)
{
    if ((int)level < atomic_load(&current_level) || level >= BLEND_LOG_OFF) {
        return;
    }
    char msg[BLEND_LOG_LINE_BYTES_MAX];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int truncated = len >= (int)sizeof msg;

    char esc[BLEND_LOG_LINE_BYTES_MAX];
    size_t elen = blend_json_escape(esc, sizeof esc, msg);
    truncated |= elen < strlen(msg);

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&log_lock);
    FILE *out = log_stream ? log_stream : stderr;
    fprintf(out, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"mod\":\"%s\",\"msg\":\"%s%s\"}\n", when,
            ts.tv_nsec / 1000000, level_names[level], mod, esc, truncated ? "\u2026" : "");
    fflush(out);
    pthread_mutex_unlock(&log_lock);
}
