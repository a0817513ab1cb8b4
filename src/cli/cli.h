/*
 * The `blend` command line: one file per subcommand (serve, provision, user, routes, version).
 * Every subcommand returns a process exit code: 0 on success, 1 on an operating error (the
 * message names the file, line or field at fault), 2 on a usage error.
 */
#ifndef BLEND_CLI_CLI_H
#define BLEND_CLI_CLI_H

#include "config/config.h"
#include "store/store.h"

int blend_cli_main(int argc, char **argv);

/* Subcommands (argv[0] is the subcommand's name). */
int blend_cmd_serve(int argc, char **argv);
int blend_cmd_provision(int argc, char **argv);
int blend_cmd_user(int argc, char **argv);
int blend_cmd_routes(int argc, char **argv);
int blend_cmd_version(int argc, char **argv);
int blend_cmd_sim(int argc, char **argv);
int blend_cmd_erlang(int argc, char **argv);
int blend_cmd_flow(int argc, char **argv);

/*
 * Loads the configuration: defaults, then the file named by --config (or ./blend.conf when it
 * exists), then BLEND_* environment variables, then validation. `config_path` may be NULL.
 * Prints the error and returns 1 on failure.
 */
int blend__cli_config(const char *config_path, struct blend_config *out);
/* Opens the store named by the configuration (creating its directory). Returns 1 on failure
 * after printing why. */
int blend__cli_store_open(const struct blend_config *c, struct blend_store **out);
/* Common start-up for every subcommand: allocators, libsodium. */
int blend__cli_init(void);

#endif
