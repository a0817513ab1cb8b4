/*
 * IVR flow documents (docs/flows.md): JSON in, a linked struct blend_ivr_flow out. The loader
 * checks shapes (JSON types, ranges, lengths, known fields per node type) and reports every
 * problem as a field error with a JSON path ("nodes.lang.timeout_s"); the graph rules (targets,
 * reachability, variables, loops without input) are the engine's validator's, whose errors are
 * turned into field errors on the node at fault ("nodes.check"). Never crashes on any input:
 * the document's shape bounds every walk (no recursion), and every collection has a limit from
 * engine/ivr/ivr.h. Pure: no I/O.
 */
#ifndef BLEND_MODEL_FLOW_H
#define BLEND_MODEL_FLOW_H

#include "base/error.h"
#include "engine/ivr/ivr.h"
#include "model/model.h"

#include <jansson.h>
#include <stddef.h>

/* Largest flow document accepted by blend_flow_parse. */
#define BLEND_FLOW_BYTES_MAX (1024 * 1024)

/* Builds a linked flow from `doc` (borrowed). Returns 0 with an owned flow in *out (free with
 * blend_ivr_flow_destroy), BLEND_EINVAL with `errs` filled (shape errors only: the graph is not
 * validated), or BLEND_ENOMEM. A node of an unknown type is kept, for the validator to name. */
BLEND_MUST_USE int blend_flow_load(const json_t *doc, struct blend_ivr_flow **out,
                                   struct blend_field_errors *errs);

/* blend_flow_load, then blend_ivr_validate: *out is written only when both pass. */
BLEND_MUST_USE int blend_flow_load_valid(const json_t *doc, struct blend_ivr_flow **out,
                                         struct blend_field_errors *errs);

/* Parses JSON text (duplicate keys refused, at most BLEND_FLOW_BYTES_MAX bytes), then
 * blend_flow_load_valid. A JSON syntax error is a field error at path "" (BLEND_EINVAL). */
BLEND_MUST_USE int blend_flow_parse(const char *text, size_t len, struct blend_ivr_flow **out,
                                    struct blend_field_errors *errs);

/* Appends the validator's errors as field errors: path "nodes.<node>" (or "start"). */
void blend_flow_errors_add(struct blend_field_errors *errs, const struct blend_ivr_errors *ivr);

#endif
