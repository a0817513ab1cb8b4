/*
 * Helpers shared by the strict JSON model parsers of `blend sim run` (run.c: inbound traffic;
 * dial.c: the outbound dialer). Every error names the file and a JSON path such as
 * `$.outbound.talk.mean_s` and is collected in a struct blend_sim_errors; parsing goes on to
 * report several problems at once where it can.
 */
#ifndef BLEND_SIM_MODEL_INT_H
#define BLEND_SIM_MODEL_INT_H

#include <jansson.h>
#include <stdint.h>

#include "sim/run.h"

struct blend__sim_mparser {
    const char *file;
    struct blend_sim_errors *errs;
    struct blend_sim_model *m; /* run.c's model (NULL for other parsers) */
    int is_oom;
};

/* Records "FILE: PATH: message" (up to BLEND_SIM_ERRORS_MAX) and returns BLEND_EPARSE. */
int blend__sim_merr(struct blend__sim_mparser *p, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* BLEND_EPARSE (recorded) for the first key of `obj` not in the NULL-terminated `keys`. */
int blend__sim_mcheck_keys(struct blend__sim_mparser *p, json_t *obj, const char *path,
                           const char *const *keys);

/* A number field in [lo, hi] (lo excluded when is_lo_open). Absent: *out untouched, or an
 * error when required. */
int blend__sim_mget_number(struct blend__sim_mparser *p, json_t *obj, const char *path,
                           const char *key, int is_required, double lo, int is_lo_open, double hi,
                           double *out);

/* Seconds to milliseconds, rounded. */
int64_t blend__sim_s_to_ms(double s);

/* {"dist":"exponential","mean_s":M}, {"dist":"lognormal","mean_s":M,"sd_s":S} (is_patience 0)
 * or {"dist":"exponential"|"none"} (is_patience 1). */
int blend__sim_parse_distribution(struct blend__sim_mparser *p, json_t *v, const char *path,
                                  int is_patience, struct blend_sim_distribution *out);

#endif
