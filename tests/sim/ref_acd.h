/*
 * The reference ACD model: the executable specification of docs/routing.md. It implements the
 * same contract as the fast engine (src/engine/acd/acd.h: same events, effects, views, timer
 * ids and error codes) with the prefix blend_acdref_, written as plainly as possible: fixed
 * arrays sized at create, linear scans over every agent and contact at every decision, no
 * indexes. It is slow by design and is only linked into tests and benchmarks; the property
 * test (tests/sim/test_acd_property.c) requires the fast engine to agree with it decision for
 * decision. Where docs/routing.md leaves a choice open, ref_acd.c states the reading it takes
 * next to the rule (search for "Reading:").
 */
#ifndef BLEND_TESTS_SIM_REF_ACD_H
#define BLEND_TESTS_SIM_REF_ACD_H

#include "engine/acd/acd.h"

struct blend_acdref;

/* Sizes every table from `limits` (all > 0). Returns 0, BLEND_EINVAL or BLEND_ENOMEM. */
BLEND_MUST_USE int blend_acdref_create(const struct blend_acd_limits *limits,
                                       struct blend_acdref **out);
void blend_acdref_destroy(struct blend_acdref *ref);

/* Applies one event; same return codes and effects as blend_acd_step(). */
BLEND_MUST_USE int blend_acdref_step(struct blend_acdref *ref, const struct blend_acd_event *ev,
                                     struct blend_acd_effects *fx);

/* Asserts every invariant of docs/routing.md §Invariants. */
void blend_acdref_check(const struct blend_acdref *ref);

/* Views: 0 with *out filled, or BLEND_ENOENT. */
int blend_acdref_agent(const struct blend_acdref *ref, int64_t id,
                       struct blend_acd_agent_view *out);
int blend_acdref_contact(struct blend_acdref *ref, int64_t id, struct blend_acd_contact_view *out);

#endif
