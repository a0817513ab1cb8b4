/*
 * The reference model (ref_acd.h) behind the replay driver's vtable, for tests and benchmarks:
 * the same scenario can be replayed on blend_sim_engine_fast and blend_sim_engine_ref.
 */
#ifndef BLEND_TESTS_SIM_REF_ENGINE_H
#define BLEND_TESTS_SIM_REF_ENGINE_H

#include "sim/sim.h"

extern const struct blend_sim_engine blend_sim_engine_ref;

#endif
