/*
 * The routing engine's adapter in the server: it feeds the pure ACD (src/engine/acd/) with the
 * configuration from the store and with what happens through the API, arms the timers the ACD
 * asks for on the libuv loop, and records every decision in the event log (one write per step,
 * acknowledged to the client that caused it once durable). No routing rule lives here.
 */
#ifndef BLEND_API_ROUTING_H
#define BLEND_API_ROUTING_H

#include "base/error.h"
#include "engine/acd/acd.h"

#include <jansson.h>
#include <stdint.h>

struct blend_app;
struct blend_routing;
struct blend_http_req;
struct blend_write;

/* Creates the ACD, loads every queue and agent from the store, restores agent presence and
 * re-queues unfinished interactions from the log. */
BLEND_MUST_USE int blend__routing_create(struct blend_app *app, struct blend_routing **out);
void blend__routing_destroy(struct blend_routing *r);

/* A committed event: configuration changes (queues.*, agents.*, skills.*) reach the ACD. */
void blend__routing_on_committed(struct blend_routing *r, const json_t *event);

/* Reads an agent (or every agent) from the store again and hands it to the ACD: used when
 * something outside the document changes what the agent may take (its phone registered). */
void blend__routing_agent_reload(struct blend_routing *r, int64_t agent_id);
void blend__routing_agents_reload(struct blend_routing *r);

/* The writes recording one step's effects, not yet submitted. */
#define BLEND_ROUTING_STEP_WRITES_MAX 64
struct blend_routing_writes {
    struct blend_write *w[BLEND_ROUTING_STEP_WRITES_MAX];
    size_t n;
};

/* Steps the ACD with ev (now_ms is set here); on success fills `out` with the writes recording
 * the effects (appended to what `out` holds) and arms timers. Returns the ACD's code. */
BLEND_MUST_USE int blend__routing_apply(struct blend_routing *r, struct blend_acd_event *ev,
                                        struct blend_routing_writes *out);
/* Submits the writes in order and answers req with (status, answer stolen) once the last is
 * durable. Returns BLEND_HTTP_DONE/BLEND_HTTP_PENDING. */
int blend__routing_commit(struct blend_routing *r, struct blend_routing_writes *ws,
                          struct blend_http_req *req, json_t *answer, int status);
/* Answers a step the ACD refused (409, 422, 503). */
void blend__routing_refuse(struct blend_http_req *req, int rc);
/* Steps with nobody waiting (the writes are submitted unacknowledged). Returns the ACD's code. */
int blend__routing_step_detached(struct blend_routing *r, struct blend_acd_event *ev);

/* A contact's own skills: the JSON object {"skill-name": min 1..10} (or anything else: none)
 * as ACD requirements in `out` (BLEND_ACD_QUEUE_SKILLS_MAX entries) and `count`. A name that is
 * not a skill of the store: with skip_unknown it is left out and logged, else BLEND_ENOENT
 * with the name copied into `unknown` (when not NULL). More than BLEND_ACD_QUEUE_SKILLS_MAX
 * names or a minimum outside 1..10: BLEND_EINVAL. Outputs are written only on success. */
BLEND_MUST_USE int blend__routing_skills(struct blend_routing *r, const json_t *map,
                                         int skip_unknown, struct blend_acd_skill_req *out,
                                         uint8_t *count, char *unknown, size_t unknown_len);

/* Views for the API. */
struct blend_acd *blend__routing_acd(struct blend_routing *r);
json_t *blend__routing_agent_json(struct blend_routing *r, int64_t agent_id);
json_t *blend__routing_contact_json(struct blend_routing *r, int64_t contact_id);

/* Live and today's figures of a queue (NULL when unknown) and of an agent (docs/kpis.md). */
json_t *blend__routing_queue_stats(struct blend_routing *r, int64_t queue_id);
json_t *blend__routing_agent_stats(struct blend_routing *r, int64_t agent_id);

/* Names of channels and presence states as the API writes them. */
const char *blend__channel_name(enum blend_channel c);
int blend__channel_parse(const char *name, enum blend_channel *out);
const char *blend__presence_name(enum blend_acd_presence p);

#endif
