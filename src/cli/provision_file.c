/*
 * Applying a provisioning file from the command line and at server start / SIGHUP: read the
 * file (bounded), parse and validate it whole, build one write, commit it, and report every
 * error with its JSON path (or the failing op's field).
 */
#include "cli/provision_file.h"

#include "api/auth.h"
#include "base/alloc.h"
#include "base/limits.h"
#include "provision/provision.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The hooks' shared argument. */
struct hooks {
    enum blend_password_cost cost;
    struct blend_store *store;
};

static int hash_password(const char *clear, char *out, size_t outlen, void *arg)
{
    const struct hooks *h = arg;
    char hash[BLEND_PASSWORD_HASH_BYTES];
    int rc = blend_password_hash(clear, h->cost, hash);
    if (rc) {
        return rc;
    }
    if (strlen(hash) + 1 > outlen) {
        return BLEND_ELIMIT;
    }
    memcpy(out, hash, strlen(hash) + 1);
    return 0;
}

static int user_exists(const char *username, void *arg)
{
    const struct hooks *h = arg;
    return blend_provision_store_user_exists(username, h->store);
}

static int identity_exists(const char *kind, const char *value, void *arg)
{
    const struct hooks *h = arg;
    return blend_provision_store_identity_exists(kind, value, h->store);
}

static int read_file(const char *path, char **data_out, size_t *len_out, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(err, "%s: %s\n", path, strerror(errno));
        return BLEND_ENOENT;
    }
    char *data = blend_malloc(BLEND_PROVISION_BYTES_MAX + 1);
    if (!data) {
        fclose(f);
        return BLEND_ENOMEM;
    }
    size_t n = fread(data, 1, BLEND_PROVISION_BYTES_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(err, "%s: read error\n", path);
        blend_free(data);
        return BLEND_EIO;
    }
    if (n > BLEND_PROVISION_BYTES_MAX) {
        fprintf(err, "%s: larger than %d bytes\n", path, BLEND_PROVISION_BYTES_MAX);
        blend_free(data);
        return BLEND_ELIMIT;
    }
    *data_out = data;
    *len_out = n;
    return 0;
}

int blend__provision_file(struct blend_store *s, const char *path, int password_cost,
                          int check_only, const char *actor, int *changed_out, FILE *err)
{
    char *data;
    size_t len;
    int rc = read_file(path, &data, &len, err);
    if (rc) {
        return rc;
    }
    struct blend_provision *p = NULL;
    struct blend_provision_errors *errs = blend_malloc(sizeof *errs);
    if (!errs) {
        blend_free(data);
        return BLEND_ENOMEM;
    }
    memset(errs, 0, sizeof *errs);
    rc = blend_provision_parse(data, len, path, &p, errs);
    blend_free(data);
    if (rc) {
        char *text = blend_malloc(16384);
        if (text) {
            blend_provision_errors_format(errs, text, 16384);
            fprintf(err, "%s: %zu error(s):\n%s", path, errs->count_total, text);
            blend_free(text);
        }
        blend_free(errs);
        return rc;
    }
    blend_free(errs);
    if (check_only) {
        blend_provision_destroy(p);
        *changed_out = 0;
        return 0;
    }
    struct hooks h = {.cost = (enum blend_password_cost)password_cost, .store = s};
    struct blend_provision_env env = {
        .hash_password = hash_password,
        .user_exists = user_exists,
        .identity_exists = identity_exists,
        .arg = &h,
    };
    struct blend_write *w = NULL;
    rc = blend_provision_build(p, &env, &w);
    blend_provision_destroy(p);
    if (rc) {
        fprintf(err, "%s: cannot build the write: %s\n", path, blend_strerror(rc));
        return rc;
    }
    snprintf(w->actor, sizeof w->actor, "%s", actor);
    rc = blend_store_write_sync(s, w);
    if (rc) {
        const struct blend_write_op *op = &w->ops[w->failed_op >= 0 ? w->failed_op : 0];
        fprintf(err, "%s: %s %s: %s%s%s\n", path, op->res ? op->res->singular : "event",
                op->error_field[0] ? op->error_field : "", blend_strerror(rc),
                op->error_detail[0] ? ": " : "", op->error_detail);
        blend_write_destroy(w);
        return rc;
    }
    int changed = 0;
    for (int i = 0; i < w->ops_count; i++) {
        changed += w->ops[i].changed ? 1 : 0;
    }
    blend_write_destroy(w);
    *changed_out = changed;
    return 0;
}
