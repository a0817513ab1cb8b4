/*
 * `blend user add|passwd|list`: user management straight on the store, for the first admin
 * and for recovery (a forgotten admin password, a locked-out account). Passwords come from a
 * no-echo prompt on a terminal, or from the first line of standard input with --password-stdin.
 */
#include "cli/cli.h"

#include "api/auth.h"
#include "base/alloc.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

_Static_assert((int)BLEND_CONFIG_PASSWORD_COST_MIN == (int)BLEND_PASSWORD_COST_MIN &&
                   (int)BLEND_CONFIG_PASSWORD_COST_SENSITIVE ==
                       (int)BLEND_PASSWORD_COST_SENSITIVE,
               "config and auth list the password costs in the same order");

static int read_line(FILE *in, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, in)) {
        return BLEND_EIO;
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    } else if (n == len - 1) {
        return BLEND_ELIMIT;
    }
    return 0;
}

static int prompt_secret(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    int tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int rc = read_line(stdin, buf, len);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    return rc;
}

/* Gets a new password: from stdin (--password-stdin) or asked twice on the terminal. */
static int get_password(int from_stdin, char *buf, size_t len)
{
    if (from_stdin || !isatty(STDIN_FILENO)) {
        if (read_line(stdin, buf, len)) {
            fprintf(stderr, "blend: no password on standard input\n");
            return 1;
        }
    } else {
        char again[BLEND_PASSWORD_BYTES_MAX + 2];
        if (prompt_secret("New password: ", buf, len) ||
            prompt_secret("Repeat password: ", again, sizeof again) || strcmp(buf, again) != 0) {
            fprintf(stderr, "blend: the passwords differ\n");
            return 1;
        }
    }
    if (blend_password_check(buf)) {
        fprintf(stderr, "blend: a password has %d to %d bytes\n", BLEND_PASSWORD_BYTES_MIN,
                BLEND_PASSWORD_BYTES_MAX);
        return 1;
    }
    return 0;
}

static int write_one(struct blend_store *s, enum blend_op_kind kind, int64_t id, json_t *doc,
                     const char *what)
{
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op = w ? blend_write_add(w, kind, &blend_res_users, doc) : NULL;
    if (!op) {
        json_decref(doc);
        blend_write_destroy(w);
        fprintf(stderr, "blend: out of memory\n");
        return 1;
    }
    op->id = id;
    snprintf(w->actor, sizeof w->actor, "cli");
    snprintf(w->source, sizeof w->source, "blend user %s", what);
    int rc = blend_store_write_sync(s, w);
    if (rc) {
        fprintf(stderr, "blend: %s%s%s: %s\n", op->error_field,
                op->error_field[0] ? ": " : "",
                op->error_detail[0] ? op->error_detail : blend_strerror(rc), blend_errname(rc));
    }
    blend_write_destroy(w);
    return rc ? 1 : 0;
}

/* Validates a users document (as a client would send it, plus the internal hash). */
static int validate_user(json_t *input, enum blend_validate_mode mode, json_t **doc)
{
    struct blend_field_errors errs;
    blend_field_errors_init(&errs);
    int rc = blend_model_validate(&blend_res_users, input, mode, 1, doc, &errs);
    json_decref(input);
    if (rc) {
        for (size_t i = 0; i < errs.count; i++) {
            fprintf(stderr, "blend: %s: %s\n", errs.items[i].path, errs.items[i].message);
        }
        return 1;
    }
    return 0;
}

static int user_add(struct blend_store *s, const struct blend_config *c, int argc, char **argv)
{
    const char *name = NULL, *role = "agent", *display = NULL;
    int from_stdin = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
            role = argv[++i];
        } else if (strcmp(argv[i], "--display-name") == 0 && i + 1 < argc) {
            display = argv[++i];
        } else if (strcmp(argv[i], "--password-stdin") == 0) {
            from_stdin = 1;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "blend user add: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: blend user add NAME [--role admin|supervisor|qa|agent] "
                        "[--display-name TEXT] [--password-stdin]\n");
        return 2;
    }
    char pw[BLEND_PASSWORD_BYTES_MAX + 2], hash[BLEND_PASSWORD_HASH_BYTES];
    if (get_password(from_stdin, pw, sizeof pw)) {
        return 1;
    }
    int rc = blend_password_hash(pw, (enum blend_password_cost)c->auth_password_cost, hash);
    memset(pw, 0, sizeof pw);
    if (rc) {
        fprintf(stderr, "blend: hashing failed: %s\n", blend_strerror(rc));
        return 1;
    }
    json_t *in = json_pack("{s:s, s:s, s:s}", "username", name, "role", role, "password_hash",
                           hash);
    if (display) {
        json_object_set_new(in, "display_name", json_string(display));
    }
    json_t *doc;
    if (validate_user(in, BLEND_VALIDATE_CREATE, &doc)) {
        return 1;
    }
    if (write_one(s, BLEND_OP_CREATE, 0, doc, "add")) {
        return 1;
    }
    printf("user %s added (%s)\n", name, role);
    return 0;
}

static int user_passwd(struct blend_store *s, const struct blend_config *c, int argc,
                       char **argv)
{
    const char *name = NULL;
    int from_stdin = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0) {
            from_stdin = 1;
        } else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        } else {
            fprintf(stderr, "blend user passwd: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: blend user passwd NAME [--password-stdin]\n");
        return 2;
    }
    json_t *user;
    if (blend_store_find(s, &blend_res_users, "username", name, 0, &user)) {
        fprintf(stderr, "blend: no user named '%s'\n", name);
        return 1;
    }
    int64_t id = json_integer_value(json_object_get(user, "id"));
    json_decref(user);
    char pw[BLEND_PASSWORD_BYTES_MAX + 2], hash[BLEND_PASSWORD_HASH_BYTES];
    if (get_password(from_stdin, pw, sizeof pw)) {
        return 1;
    }
    int rc = blend_password_hash(pw, (enum blend_password_cost)c->auth_password_cost, hash);
    memset(pw, 0, sizeof pw);
    if (rc) {
        fprintf(stderr, "blend: hashing failed: %s\n", blend_strerror(rc));
        return 1;
    }
    /* A new password also lifts a lock-out. */
    json_t *in = json_pack("{s:s, s:i, s:i}", "password_hash", hash, "failed_logins", 0,
                           "locked_until", 0);
    json_t *doc;
    if (validate_user(in, BLEND_VALIDATE_PATCH, &doc) ||
        write_one(s, BLEND_OP_UPDATE, id, doc, "passwd")) {
        return 1;
    }
    printf("password of %s changed\n", name);
    return 0;
}

static int user_list(struct blend_store *s)
{
    struct blend_list_query q = {.after_id = 0, .limit = BLEND_API_PAGE_MAX};
    printf("%-6s %-24s %-11s %-8s %s\n", "ID", "USERNAME", "ROLE", "DISABLED", "NAME");
    for (;;) {
        json_t *items;
        int64_t next;
        int rc = blend_store_list(s, &blend_res_users, &q, &items, &next);
        if (rc) {
            fprintf(stderr, "blend: cannot list users: %s\n", blend_strerror(rc));
            return 1;
        }
        size_t i;
        json_t *u;
        json_array_foreach(items, i, u)
        {
            printf("%-6lld %-24s %-11s %-8s %s\n",
                   (long long)json_integer_value(json_object_get(u, "id")),
                   json_string_value(json_object_get(u, "username")),
                   json_string_value(json_object_get(u, "role")),
                   json_is_true(json_object_get(u, "disabled")) ? "yes" : "no",
                   json_string_value(json_object_get(u, "display_name"))
                       ? json_string_value(json_object_get(u, "display_name"))
                       : "");
        }
        json_decref(items);
        if (next == 0) {
            return 0;
        }
        q.after_id = next;
    }
}

int blend_cmd_user(int argc, char **argv)
{
    const char *config_path = NULL;
    int n = 0;
    char *rest[64];
    for (int i = 1; i < argc && n < 64; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else {
            rest[n++] = argv[i];
        }
    }
    if (n < 1) {
        fprintf(stderr, "usage: blend user add|passwd|list [--config FILE] ...\n");
        return 2;
    }
    struct blend_config c;
    struct blend_store *s;
    if (blend__cli_config(config_path, &c) || blend__cli_store_open(&c, &s)) {
        return 1;
    }
    int rc;
    if (strcmp(rest[0], "add") == 0) {
        rc = user_add(s, &c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "passwd") == 0) {
        rc = user_passwd(s, &c, n - 1, rest + 1);
    } else if (strcmp(rest[0], "list") == 0) {
        rc = user_list(s);
    } else {
        fprintf(stderr, "blend user: unknown subcommand '%s'\n", rest[0]);
        rc = 2;
    }
    blend_store_close(s);
    return rc;
}
