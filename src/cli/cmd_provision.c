/* `blend provision [--config FILE] [--check] FILE`: validate and apply a provisioning file. */
#include "cli/cli.h"
#include "cli/provision_file.h"

#include <stdio.h>
#include <string.h>

int blend_cmd_provision(int argc, char **argv)
{
    const char *config_path = NULL, *file = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (argv[i][0] != '-' && !file) {
            file = argv[i];
        } else {
            fprintf(stderr, "blend provision: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: blend provision [--config FILE] [--check] FILE.json\n");
        return 2;
    }
    struct blend_config c;
    struct blend_store *s = NULL;
    if (blend__cli_config(config_path, &c) || (!check_only && blend__cli_store_open(&c, &s))) {
        return 1;
    }
    int changed = 0;
    int rc = blend__provision_file(s, file, (int)c.auth_password_cost, check_only, "cli",
                                   &changed, stderr);
    if (s) {
        blend_store_close(s);
    }
    if (rc) {
        return 1;
    }
    if (check_only) {
        printf("%s: valid\n", file);
    } else {
        printf("%s: applied, %d resource(s) created or changed\n", file, changed);
    }
    return 0;
}
