/* Subcommand dispatch and the start-up every subcommand shares (configuration, store). */
#include "cli/cli.h"

#include "api/auth.h"
#include "base/alloc.h"
#include "base/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: blend <command> [options]\n\n"
                 "commands:\n"
                 "  serve [--config FILE] [--provision FILE]   run the server\n"
                 "  provision [--config FILE] [--check] FILE   apply a provisioning file\n"
                 "  user add|passwd|list ...                   manage users\n"
                 "  routes                                     list HTTP routes and roles\n"
                 "  sim replay [--check] SCENARIO.jsonl        replay a routing scenario\n"
                 "  erlang --calls N --interval-s S ...        Erlang C/A staffing (--help)\n"
                 "  flow check|run FILE [--digits ...]         validate or walk an IVR flow\n"
                 "  version                                    print the version\n\n"
                 "Every option of the configuration file can also be set by environment\n"
                 "variable BLEND_<SECTION>_<KEY>, e.g. BLEND_HTTP_LISTEN=127.0.0.1:9090.\n");
}

int blend__cli_init(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    if (blend_auth_init() != 0) {
        fprintf(stderr, "blend: libsodium failed to initialise\n");
        return 1;
    }
    return 0;
}

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

int blend__cli_config(const char *config_path, struct blend_config *out)
{
    char err[512];
    blend_config_defaults(out);
    const char *path = config_path;
    if (!path && access("blend.conf", F_OK) == 0) {
        path = "blend.conf";
    }
    if (path) {
        int rc = blend_config_load_file(out, path, err, sizeof err);
        if (rc == BLEND_ENOENT) {
            fprintf(stderr, "blend: %s: no such configuration file\n", path);
            return 1;
        }
        if (rc) {
            fprintf(stderr, "blend: %s\n", err);
            return 1;
        }
    }
    if (blend_config_apply_env(out, env_get, NULL, err, sizeof err) ||
        blend_config_validate(out, err, sizeof err)) {
        fprintf(stderr, "blend: %s\n", err);
        return 1;
    }
    blend_log_set_level(out->log_level);
    return 0;
}

int blend__cli_store_open(const struct blend_config *c, struct blend_store **out)
{
    if (c->data_dir[0] && mkdir(c->data_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "blend: cannot create data directory %s: %s\n", c->data_dir,
                strerror(errno));
        return 1;
    }
    struct blend_store_config sc = {.url = c->store_url, .batch_max = c->store_batch_max};
    int rc = blend_store_open(&sc, out);
    if (rc) {
        fprintf(stderr, "blend: cannot open store %s: %s\n", c->store_url, blend_strerror(rc));
        return 1;
    }
    return 0;
}

int blend_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("blend %s (%s)\n", BLEND_VERSION, BLEND_GIT_REV);
    return 0;
}

int blend_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (blend__cli_init()) {
        return 1;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"serve", blend_cmd_serve},     {"provision", blend_cmd_provision},
        {"user", blend_cmd_user},       {"routes", blend_cmd_routes},
        {"version", blend_cmd_version}, {"--version", blend_cmd_version},
        {"sim", blend_cmd_sim},
        {"erlang", blend_cmd_erlang},
        {"flow", blend_cmd_flow},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) == 0) {
            return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "blend: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
