/* Credentials over libsodium; see auth.h. */
#include "api/auth.h"

#include "base/assert.h"
#include "base/limits.h"

#include <sodium.h>
#include <string.h>

static const char *const role_names[] = {"admin", "supervisor", "qa", "agent"};

unsigned blend_role_parse(const char *name)
{
    for (unsigned i = 0; i < 4; i++) {
        if (name && strcmp(name, role_names[i]) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

const char *blend_role_name(unsigned role)
{
    for (unsigned i = 0; i < 4; i++) {
        if (role == (1u << i)) {
            return role_names[i];
        }
    }
    return "?";
}

int blend_password_cost_parse(const char *name, enum blend_password_cost *out)
{
    static const char *const names[] = {"min", "interactive", "moderate", "sensitive"};
    for (int i = 0; i < 4; i++) {
        if (name && strcmp(name, names[i]) == 0) {
            *out = (enum blend_password_cost)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

int blend_auth_init(void)
{
    return sodium_init() < 0 ? BLEND_EINTERNAL : 0;
}

int blend_password_check(const char *clear)
{
    size_t n = strlen(clear);
    if (n < BLEND_PASSWORD_BYTES_MIN || n > BLEND_PASSWORD_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    return 0;
}

int blend_password_hash(const char *clear, enum blend_password_cost cost,
                        char out[BLEND_PASSWORD_HASH_BYTES])
{
    _Static_assert(BLEND_PASSWORD_HASH_BYTES >= crypto_pwhash_STRBYTES, "hash room");
    unsigned long long ops;
    size_t mem;
    switch (cost) {
    case BLEND_PASSWORD_COST_MIN:
        ops = crypto_pwhash_OPSLIMIT_MIN;
        mem = crypto_pwhash_MEMLIMIT_MIN;
        break;
    case BLEND_PASSWORD_COST_MODERATE:
        ops = crypto_pwhash_OPSLIMIT_MODERATE;
        mem = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    case BLEND_PASSWORD_COST_SENSITIVE:
        ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
        mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
        break;
    default:
        ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    }
    int rc = blend_password_check(clear);
    if (rc) {
        return rc;
    }
    if (crypto_pwhash_str_alg(out, clear, strlen(clear), ops, mem, crypto_pwhash_ALG_ARGON2ID13)) {
        return BLEND_ENOMEM;
    }
    return 0;
}

int blend_password_verify(const char *hash, const char *clear)
{
    if (!hash || !hash[0] || strlen(clear) > BLEND_PASSWORD_BYTES_MAX) {
        return BLEND_EAUTH;
    }
    return crypto_pwhash_str_verify(hash, clear, strlen(clear)) == 0 ? 0 : BLEND_EAUTH;
}

static void digest_hex(const char *token, char hash[BLEND_TOKEN_HASH_BYTES])
{
    unsigned char d[32];
    crypto_generichash(d, sizeof d, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hash, BLEND_TOKEN_HASH_BYTES, d, sizeof d);
}

void blend_token_new(char token[BLEND_TOKEN_BYTES], char hash[BLEND_TOKEN_HASH_BYTES])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, "blend_", 6);
    sodium_bin2base64(token + 6, BLEND_TOKEN_BYTES - 6, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    digest_hex(token, hash);
}

int blend_token_hash(const char *token, char hash[BLEND_TOKEN_HASH_BYTES])
{
    size_t n = strnlen(token, BLEND_TOKEN_BYTES);
    if (n != 6 + 43 || strncmp(token, "blend_", 6) != 0) {
        return BLEND_EINVAL;
    }
    for (size_t i = 6; i < n; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return BLEND_EINVAL;
        }
    }
    digest_hex(token, hash);
    return 0;
}
