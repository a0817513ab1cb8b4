/* Messages and names for the error table in error.h. */
#include "base/error.h"

const char *blend_strerror(int err)
{
    switch (err) {
    case BLEND_OK:
        return "success";
#define XX(code, msg)                                                                              \
    case BLEND_##code:                                                                             \
        return msg;
        BLEND_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *blend_errname(int err)
{
    switch (err) {
    case BLEND_OK:
        return "OK";
#define XX(code, msg)                                                                              \
    case BLEND_##code:                                                                             \
        return #code;
        BLEND_ERRNO_MAP(XX)
#undef XX
    default:
        return "EUNKNOWN";
    }
}
