/*
 * Digest nonces and brute-force lock-out for the registrar.
 *
 * A nonce is "<issued_ms:16 hex><seq:8 hex><mac:24 hex>": the MAC (HMAC-SHA1 under a random
 * secret drawn at start, truncated) binds the issue time, so nonces are stateless until first
 * used and a forged or foreign nonce is simply stale. Nonce-counts are tracked only for nonces
 * that carried a correct digest, in a table bounded by BLEND_SIP_NONCES_MAX: an nc must grow
 * strictly, and when the table is full the oldest entry goes and `floor_ms` rises to its issue
 * time, making every nonce issued up to then stale, so an evicted nonce cannot be replayed.
 *
 * Sources are tracked by IP address (not port: an attacker chooses ports freely) in a table
 * bounded by BLEND_SIP_SOURCES_MAX, least recently seen first out.
 */
#include "sip/sip_int.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { NONCE_MAC_BYTES = 12, NONCE_HEX_LEN = 16 + 8 + 2 * NONCE_MAC_BYTES };
/* Bucket counts of the nonce and source tables: sizes for speed, not limits. */
enum { NONCE_BUCKETS = 1024, SOURCE_BUCKETS = 1024 };

struct nonce_entry {
    struct le he; /* in auth->nonces, keyed by the nonce text */
    struct le le; /* in auth->nonce_order, oldest first */
    char text[NONCE_HEX_LEN + 1];
    uint64_t issued_ms;
    uint32_t last_nc;
};

struct source_entry {
    struct le he; /* in auth->sources, keyed by the IP */
    struct le le; /* in auth->source_order, least recently seen first */
    struct sa ip; /* port 0 */
    uint32_t fails;
    uint64_t first_fail_ms;
    uint64_t locked_until_ms;
};

struct blend__sip_auth {
    const struct blend__sip_settings *set;
    uint8_t secret[20];
    uint32_t seq;
    uint64_t floor_ms;
    struct hash *nonces;
    struct list nonce_order;
    uint32_t nonces_count;
    struct hash *sources;
    struct list source_order;
    uint32_t sources_count;
};

uint64_t blend__sip_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int blend__sip_hex_md5(const char *hex, uint8_t out[MD5_SIZE])
{
    uint8_t tmp[MD5_SIZE];
    if (!hex || strlen(hex) != 2 * MD5_SIZE) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < 2 * MD5_SIZE; i++) {
        char c = hex[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!ok) {
            return BLEND_EINVAL;
        }
    }
    for (size_t i = 0; i < MD5_SIZE; i++) {
        tmp[i] = (uint8_t)((ch_hex(hex[2 * i]) << 4) | ch_hex(hex[2 * i + 1]));
    }
    memcpy(out, tmp, sizeof(tmp));
    return 0;
}

int blend_sip_ha1(const char *extension, const char *realm, const char *password,
                  char out_hex33[33])
{
    uint8_t md[MD5_SIZE];
    if (!extension || !realm || !password || !out_hex33 ||
        strlen(extension) >= BLEND_SIP_EXTENSION_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    if (md5_printf(md, "%s:%s:%s", extension, realm, password) != 0) {
        return BLEND_EINVAL;
    }
    (void)re_snprintf(out_hex33, 33, "%w", md, sizeof(md));
    return 0;
}

int blend__sip_auth_create(const struct blend__sip_settings *set, struct blend__sip_auth **out)
{
    BLEND_ASSERT(set && out);
    struct blend__sip_auth *auth = blend_calloc(1, sizeof(*auth));
    if (!auth) {
        return BLEND_ENOMEM;
    }
    auth->set = set;
    rand_bytes(auth->secret, sizeof(auth->secret));
    auth->seq = rand_u32();
    if (hash_alloc(&auth->nonces, NONCE_BUCKETS) != 0 ||
        hash_alloc(&auth->sources, SOURCE_BUCKETS) != 0) {
        blend__sip_auth_destroy(auth);
        return BLEND_ENOMEM;
    }
    *out = auth;
    return 0;
}

static void nonce_drop(struct blend__sip_auth *auth, struct nonce_entry *n)
{
    BLEND_ASSERT(auth->nonces_count > 0);
    hash_unlink(&n->he);
    list_unlink(&n->le);
    auth->nonces_count--;
    blend_free(n);
}

static void source_drop(struct blend__sip_auth *auth, struct source_entry *s)
{
    BLEND_ASSERT(auth->sources_count > 0);
    hash_unlink(&s->he);
    list_unlink(&s->le);
    auth->sources_count--;
    blend_free(s);
}

void blend__sip_auth_destroy(struct blend__sip_auth *auth)
{
    if (!auth) {
        return;
    }
    while (auth->nonce_order.head) {
        nonce_drop(auth, auth->nonce_order.head->data);
    }
    while (auth->source_order.head) {
        source_drop(auth, auth->source_order.head->data);
    }
    mem_deref(auth->nonces);
    mem_deref(auth->sources);
    blend_free(auth);
}

static void nonce_mac(const struct blend__sip_auth *auth, const char *head, size_t head_len,
                      uint8_t mac[NONCE_MAC_BYTES])
{
    /* libre's hmac_sha1 (OpenSSL's HMAC underneath) writes the whole SHA-1 digest whatever
     * length it is given: take it into a buffer of that size, then truncate. OpenSSL is not
     * instrumented, so ASan cannot see an overflow there. */
    uint8_t full[20]; /* SHA-1 */
    hmac_sha1(auth->secret, sizeof(auth->secret), (const uint8_t *)head, head_len, full,
              sizeof(full));
    memcpy(mac, full, NONCE_MAC_BYTES);
}

void blend__sip_nonce_make(struct blend__sip_auth *auth, uint64_t now_ms, char out[64])
{
    uint8_t mac[NONCE_MAC_BYTES];
    char head[32];
    (void)snprintf(head, sizeof(head), "%016" PRIx64 "%08" PRIx32, now_ms, auth->seq++);
    nonce_mac(auth, head, 24, mac);
    (void)re_snprintf(out, 64, "%s%w", head, mac, sizeof(mac));
}

static bool nonce_cmp(struct le *le, void *arg)
{
    const struct nonce_entry *n = le->data;
    return pl_strcmp(arg, n->text) == 0;
}

static bool nonce_parse(const struct blend__sip_auth *auth, const struct pl *nonce,
                        uint64_t *issued_ms)
{
    uint8_t mac[NONCE_MAC_BYTES], got[NONCE_MAC_BYTES];
    char text[NONCE_HEX_LEN + 1];
    if (nonce->l != NONCE_HEX_LEN) {
        return false;
    }
    memcpy(text, nonce->p, NONCE_HEX_LEN);
    text[NONCE_HEX_LEN] = '\0';
    uint8_t digits[NONCE_HEX_LEN / 2];
    for (size_t i = 0; i < NONCE_HEX_LEN; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    for (size_t i = 0; i < NONCE_HEX_LEN / 2; i++) {
        digits[i] = (uint8_t)((ch_hex(text[2 * i]) << 4) | ch_hex(text[2 * i + 1]));
    }
    memcpy(got, digits + 12, NONCE_MAC_BYTES);
    nonce_mac(auth, text, 24, mac);
    if (mem_seccmp(mac, got, NONCE_MAC_BYTES) != 0) {
        return false;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < 8; i++) {
        t = (t << 8) | digits[i];
    }
    *issued_ms = t;
    return true;
}

static void nonces_purge(struct blend__sip_auth *auth, uint64_t now_ms)
{
    while (auth->nonce_order.head) {
        struct nonce_entry *n = auth->nonce_order.head->data;
        if (n->issued_ms + auth->set->nonce_ttl_ms >= now_ms) {
            break;
        }
        nonce_drop(auth, n);
    }
}

static bool nc_parse(const struct pl *nc, uint32_t *out)
{
    uint32_t v = 0;
    if (nc->l != 8) {
        return false;
    }
    for (size_t i = 0; i < 8; i++) {
        char c = nc->p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
        v = (v << 4) | ch_hex(c);
    }
    *out = v;
    return true;
}

enum blend__sip_nonce_verdict blend__sip_nonce_check(struct blend__sip_auth *auth,
                                                     const struct pl *nonce, const struct pl *nc,
                                                     uint64_t now_ms)
{
    uint64_t issued_ms;
    uint32_t ncv;
    if (!nonce_parse(auth, nonce, &issued_ms) || !nc_parse(nc, &ncv) || ncv == 0) {
        return BLEND__SIP_NONCE_STALE;
    }
    if (issued_ms > now_ms || now_ms - issued_ms > auth->set->nonce_ttl_ms ||
        issued_ms <= auth->floor_ms) {
        return BLEND__SIP_NONCE_STALE;
    }
    nonces_purge(auth, now_ms);
    struct le *le = hash_lookup(auth->nonces, hash_joaat_pl(nonce), nonce_cmp, (void *)nonce);
    if (le) {
        struct nonce_entry *n = le->data;
        if (ncv <= n->last_nc) {
            return BLEND__SIP_NONCE_STALE;
        }
        n->last_nc = ncv;
        return BLEND__SIP_NONCE_OK;
    }
    if (auth->nonces_count >= BLEND_SIP_NONCES_MAX) {
        struct nonce_entry *old = auth->nonce_order.head->data;
        if (old->issued_ms > auth->floor_ms) {
            auth->floor_ms = old->issued_ms;
        }
        nonce_drop(auth, old);
        if (issued_ms <= auth->floor_ms) {
            return BLEND__SIP_NONCE_STALE;
        }
    }
    struct nonce_entry *n = blend_calloc(1, sizeof(*n));
    if (!n) {
        /* Without room to track the count the nonce cannot be accepted safely. */
        return BLEND__SIP_NONCE_STALE;
    }
    memcpy(n->text, nonce->p, NONCE_HEX_LEN);
    n->issued_ms = issued_ms;
    n->last_nc = ncv;
    hash_append(auth->nonces, hash_joaat_pl(nonce), &n->he, n);
    list_append(&auth->nonce_order, &n->le, n);
    auth->nonces_count++;
    BLEND_ASSERT(auth->nonces_count <= BLEND_SIP_NONCES_MAX);
    return BLEND__SIP_NONCE_OK;
}

static bool source_cmp(struct le *le, void *arg)
{
    const struct source_entry *s = le->data;
    return sa_cmp(&s->ip, arg, SA_ADDR);
}

static struct source_entry *source_find(struct blend__sip_auth *auth, const struct sa *ip)
{
    struct le *le = hash_lookup(auth->sources, sa_hash(ip, SA_ADDR), source_cmp, (void *)ip);
    return le ? le->data : NULL;
}

bool blend__sip_source_is_locked(struct blend__sip_auth *auth, const struct sa *src,
                                 uint64_t now_ms)
{
    struct source_entry *s = source_find(auth, src);
    if (!s || s->locked_until_ms == 0) {
        return false;
    }
    if (s->locked_until_ms > now_ms) {
        return true;
    }
    /* The lock is over: the source starts afresh. */
    source_drop(auth, s);
    return false;
}

bool blend__sip_source_fail(struct blend__sip_auth *auth, const struct sa *src, uint64_t now_ms,
                            uint64_t *until_ms)
{
    struct source_entry *s = source_find(auth, src);
    if (!s) {
        if (auth->sources_count >= BLEND_SIP_SOURCES_MAX) {
            source_drop(auth, auth->source_order.head->data);
        }
        s = blend_calloc(1, sizeof(*s));
        if (!s) {
            return false;
        }
        s->ip = *src;
        sa_set_port(&s->ip, 0);
        hash_append(auth->sources, sa_hash(&s->ip, SA_ADDR), &s->he, s);
        auth->sources_count++;
    } else {
        list_unlink(&s->le);
    }
    list_append(&auth->source_order, &s->le, s);
    if (s->fails == 0 || now_ms - s->first_fail_ms > auth->set->auth_fail_window_ms) {
        s->fails = 0;
        s->first_fail_ms = now_ms;
    }
    s->fails++;
    if (s->fails < auth->set->auth_fail_max || s->locked_until_ms > now_ms) {
        return false;
    }
    s->locked_until_ms = now_ms + auth->set->auth_lock_ms;
    *until_ms = s->locked_until_ms;
    return true;
}
