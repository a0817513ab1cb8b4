/*
 * Fuzz target for `blend erlang`: the bytes are split at spaces and newlines into an argument
 * vector for the subcommand (its exit code must be 0, 1 or 2, never a crash), and the first 48
 * bytes are also read as raw doubles for the staffing functions, whose promises are checked:
 * any failure is BLEND_EINVAL or BLEND_ELIMIT and leaves the output untouched, and any result
 * has probabilities in [0, 1], p_abandon <= p_wait, occupancy in [0, 1] and asa_s >= 0.
 * The subcommand's own printing goes to /dev/null by swapping the stdio streams (glibc allows
 * assigning them); sanitizer reports still reach file descriptor 2.
 */
#include "base/assert.h"
#include "cli/cli.h"
#include "engine/wfm/erlang.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ARGS_MAX 32
#define ARG_BYTES_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;

static void fuzz_cli(const uint8_t *data, size_t size)
{
    static char text[ARG_BYTES_MAX + 1];
    char *argv[ARGS_MAX + 2];
    size_t n = size < ARG_BYTES_MAX ? size : ARG_BYTES_MAX;
    memcpy(text, data, n);
    text[n] = '\0';
    int argc = 0;
    argv[argc++] = "erlang";
    for (char *tok = strtok(text, " \n"); tok && argc <= ARGS_MAX; tok = strtok(NULL, " \n")) {
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        BLEND_ASSERT(devnull != NULL);
    }
    FILE *out = stdout, *err = stderr;
    stdout = devnull;
    stderr = devnull;
    int rc = blend_cmd_erlang(argc, argv);
    stdout = out;
    stderr = err;
    BLEND_ASSERT(rc == 0 || rc == 1 || rc == 2);
}

static void check_result(const struct blend_erlang_result *r)
{
    BLEND_ASSERT(r->p_wait >= 0 && r->p_wait <= 1);
    BLEND_ASSERT(r->p_abandon >= 0 && r->p_abandon <= r->p_wait);
    BLEND_ASSERT(r->service_level >= 0 && r->service_level <= 1);
    BLEND_ASSERT(r->occupancy >= 0 && r->occupancy <= 1);
    BLEND_ASSERT(r->asa_s >= 0);
    BLEND_ASSERT(r->agents >= 1 && r->agents <= BLEND_ERLANG_AGENTS_MAX);
}

static void fuzz_math(const uint8_t *data, size_t size)
{
    double v[6];
    if (size < sizeof v + sizeof(int32_t)) {
        return;
    }
    memcpy(v, data, sizeof v);
    int32_t agents;
    memcpy(&agents, data + sizeof v, sizeof agents);
    struct blend_erlang_input in = {v[0], v[1], v[2], v[3], v[4]};
    struct blend_erlang_result r, untouched;
    memset(&r, 0x3c, sizeof r);
    untouched = r;
    int rc = blend_erlang_eval(&in, agents, &r);
    if (rc) {
        BLEND_ASSERT(rc == BLEND_EINVAL && memcmp(&r, &untouched, sizeof r) == 0);
    } else {
        check_result(&r);
    }
    double max_abandon = v[5] < 0 ? -1 : fmod(v[5], 1.0);
    rc = blend_erlang_required(&in, fabs(fmod(v[5], 1.0)), max_abandon, agents, &r);
    if (rc) {
        BLEND_ASSERT(rc == BLEND_EINVAL || rc == BLEND_ELIMIT);
    } else {
        check_result(&r);
        BLEND_ASSERT(r.agents > r.traffic_erlangs);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cli(data, size);
    fuzz_math(data, size);
    return 0;
}
