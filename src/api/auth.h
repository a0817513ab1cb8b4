/*
 * Credentials: Argon2id password hashes (libsodium crypto_pwhash_str), bearer tokens (32 random
 * bytes, base64url, prefixed "blend_"), and the BLAKE2b digest under which a token is stored
 * (the store never holds a usable token). Roles and the role bitmask used by route access rules.
 */
#ifndef BLEND_API_AUTH_H
#define BLEND_API_AUTH_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>

enum blend_role {
    BLEND_ROLE_ADMIN = 1 << 0,
    BLEND_ROLE_SUPERVISOR = 1 << 1,
    BLEND_ROLE_QA = 1 << 2,
    BLEND_ROLE_AGENT = 1 << 3,
};
#define BLEND_ROLES_ALL (BLEND_ROLE_ADMIN | BLEND_ROLE_SUPERVISOR | BLEND_ROLE_QA | BLEND_ROLE_AGENT)

/* "admin" → BLEND_ROLE_ADMIN ...; 0 for an unknown name. */
unsigned blend_role_parse(const char *name);
const char *blend_role_name(unsigned role);

enum blend_password_cost {
    BLEND_PASSWORD_COST_MIN,         /* tests only: libsodium's minimum work */
    BLEND_PASSWORD_COST_INTERACTIVE, /* default */
    BLEND_PASSWORD_COST_MODERATE,
    BLEND_PASSWORD_COST_SENSITIVE,
};
int blend_password_cost_parse(const char *name, enum blend_password_cost *out);

/* Room for an encoded Argon2id hash string (crypto_pwhash_STRBYTES). */
#define BLEND_PASSWORD_HASH_BYTES 128
/* A token as given to clients: "blend_" + 43 base64url characters + NUL. */
#define BLEND_TOKEN_BYTES 64
/* Hex BLAKE2b-256 digest + NUL. */
#define BLEND_TOKEN_HASH_BYTES 65

/* Initialises libsodium; call once before anything else here. */
BLEND_MUST_USE int blend_auth_init(void);

/* Checks the password policy: length within limits, valid UTF-8 is the caller's (JSON) job. */
BLEND_MUST_USE int blend_password_check(const char *clear);
/* Hashes `clear` into out (BLEND_PASSWORD_HASH_BYTES). Slow by design: run off the main loop. */
BLEND_MUST_USE int blend_password_hash(const char *clear, enum blend_password_cost cost,
                                       char out[BLEND_PASSWORD_HASH_BYTES]);
/* 0 when clear matches hash, BLEND_EAUTH otherwise. Slow by design. */
BLEND_MUST_USE int blend_password_verify(const char *hash, const char *clear);

/* Writes a fresh random token and its storage digest. */
void blend_token_new(char token[BLEND_TOKEN_BYTES], char hash[BLEND_TOKEN_HASH_BYTES]);
/* Digest of a presented token; BLEND_EINVAL when it does not look like one of ours. */
BLEND_MUST_USE int blend_token_hash(const char *token, char hash[BLEND_TOKEN_HASH_BYTES]);

#endif
