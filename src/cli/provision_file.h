/* Applying a provisioning file (CLI `blend provision`, server start and SIGHUP). */
#ifndef BLEND_CLI_PROVISION_FILE_H
#define BLEND_CLI_PROVISION_FILE_H

#include "store/store.h"

#include <stdio.h>

/*
 * Reads, validates and applies the file at `path` in one transaction, on the calling thread
 * (which must be the store's opening thread; it blocks until the write is durable). New users'
 * passwords are hashed with `password_cost` (enum blend_password_cost). With check_only, stops
 * after validation. Writes every error to `err`. On success sets *changed_out to the number of
 * resources created or changed (0 when the store already matched the file).
 */
int blend__provision_file(struct blend_store *s, const char *path, int password_cost,
                          int check_only, const char *actor, int *changed_out, FILE *err);

#endif
