/*
 * Structured logs: one JSON object per line on stderr, e.g.
 *   {"ts":"2026-11-22T13:00:00.123Z","level":"info","mod":"http","msg":"listening on ..."}
 * Lines are written whole under a lock, so threads never interleave. Messages longer than
 * BLEND_LOG_LINE_BYTES_MAX are truncated and end with "…".
 */
#ifndef BLEND_BASE_LOG_H
#define BLEND_BASE_LOG_H

#include <stdio.h>

enum blend_log_level {
    BLEND_LOG_DEBUG = 0,
    BLEND_LOG_INFO,
    BLEND_LOG_WARN,
    BLEND_LOG_ERROR,
    BLEND_LOG_OFF,
};

/* Parses "debug", "info", "warn", "error", "off". Returns 0 or BLEND_EINVAL. */
int blend_log_level_parse(const char *name, enum blend_log_level *level_out);
const char *blend_log_level_name(enum blend_log_level level);

void blend_log_set_level(enum blend_log_level level);
enum blend_log_level blend_log_get_level(void);
/* Redirect output (tests); NULL restores stderr. The stream is borrowed. */
void blend_log_set_stream(FILE *stream);

/* Writes one line when level is enabled. mod names the module ("http", "store", ...). */
void blend_log(enum blend_log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define BLEND_LOG_DEBUG(mod, ...) blend_log(BLEND_LOG_DEBUG, mod, __VA_ARGS__)
#define BLEND_LOG_INFO(mod, ...) blend_log(BLEND_LOG_INFO, mod, __VA_ARGS__)
#define BLEND_LOG_WARN(mod, ...) blend_log(BLEND_LOG_WARN, mod, __VA_ARGS__)
#define BLEND_LOG_ERROR(mod, ...) blend_log(BLEND_LOG_ERROR, mod, __VA_ARGS__)

/* Appends s to out (capacity cap, including the NUL) as JSON string content, without quotes.
 * Returns the length written; stops early (whole characters only) when out is full. */
size_t blend_json_escape(char *out, size_t cap, const char *s);

#endif
