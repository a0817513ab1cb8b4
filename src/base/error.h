/*
 * Error codes. Every fallible function in Blend returns 0 or one of these negative codes; the
 * table below is the single source of both the codes and their messages (libuv's errno pattern).
 * Results travel through out-parameters, written only on success.
 */
#ifndef BLEND_BASE_ERROR_H
#define BLEND_BASE_ERROR_H

#define BLEND_ERRNO_MAP(XX)                                                                        \
    XX(EINVAL, "invalid argument")                                                                 \
    XX(ENOMEM, "out of memory")                                                                    \
    XX(ENOENT, "not found")                                                                        \
    XX(EEXIST, "already exists")                                                                   \
    XX(ECONFLICT, "version conflict")                                                              \
    XX(ELIMIT, "limit reached")                                                                    \
    XX(EIO, "input/output error")                                                              \
    XX(EBUSY, "resource busy")                                                                     \
    XX(EAUTH, "authentication required")                                                           \
    XX(EPERM, "permission denied")                                                                 \
    XX(EPARSE, "parse error")                                                                      \
    XX(ECLOSED, "closed")                                                                          \
    XX(ETIMEDOUT, "timed out")                                                                     \
    XX(ELOCKED, "locked out")                                                                      \
    XX(ESTATE, "not allowed in the current state")                                                 \
    XX(EINTERNAL, "internal error")

enum blend_errno {
    BLEND_OK = 0,
    BLEND__ERRNO_BASE = -1000,
#define XX(code, msg) BLEND_##code,
    BLEND_ERRNO_MAP(XX)
#undef XX
    BLEND__ERRNO_END
};

/* Returns a static, human-readable message for a code from the table (or for 0). */
const char *blend_strerror(int err);
/* Returns the code's short name without the prefix, e.g. "ENOENT". */
const char *blend_errname(int err);

#define BLEND_MUST_USE __attribute__((warn_unused_result))

#endif
