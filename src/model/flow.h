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
/* Largest webhook answer blend_flow_webhook_fields reads. */
#define BLEND_FLOW_WEBHOOK_BODY_MAX (64 * 1024)

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

/* The flows resource's check across fields (struct blend_resource.check_doc): a created flow
 * document {name, language, start, nodes} must load and validate as a flow; a patch that changes
 * the graph must give `start` and `nodes` together (the graph is replaced as a whole). */
void blend_flow_check_doc(const json_t *doc, int is_create, struct blend_field_errors *errs);

/* Appends the validator's errors as field errors: path "nodes.<node>" (or "start"). */
void blend_flow_errors_add(struct blend_field_errors *errs, const struct blend_ivr_errors *ivr);

/* Turns a webhook's answer (a JSON object, at most 64 KiB) into the variables of an http node
 * (docs/flows.md, "Webhooks from flows"). For each of the `count` names (at most
 * BLEND_IVR_SETS_MAX; names[i].var is read), the member of that name, else the dotted path
 * ("order.status" reads {"order": {"status": ...}}), gives a value when it is a string, a number
 * (integers as written, reals in their shortest round-trip form) or a boolean ("true"/"false");
 * other types and missing names are skipped. Returns 0 with out[0..*count_out) set (out has room
 * for `count` entries; written only on success), BLEND_EPARSE for a body that is not one JSON
 * object (duplicate keys refused) or a chosen value holding a control character, BLEND_ELIMIT for
 * a body over 64 KiB or a chosen value longer than BLEND_IVR_VALUE_BYTES - 1 bytes (never
 * truncated), BLEND_ENOMEM (jansson's lexer reports some allocation failures as BLEND_EPARSE). */
BLEND_MUST_USE int blend_flow_webhook_fields(const char *body, size_t len,
                                             const struct blend_ivr_assign *names, size_t count,
                                             struct blend_ivr_assign *out, size_t *count_out);

#endif
