/*
 * Always-on assertions. A failed BLEND_ASSERT is a programmer error: it logs the expression and
 * location and aborts, in release builds too. Operating errors (bad input, peers, limits) are
 * never asserted: they are returned as BLEND_E* codes and answered.
 */
#ifndef BLEND_BASE_ASSERT_H
#define BLEND_BASE_ASSERT_H

_Noreturn void blend__assert_fail(const char *expr, const char *file, int line);

#define BLEND_ASSERT(expr)                                                                         \
    do {                                                                                           \
        if (__builtin_expect(!(expr), 0)) {                                                        \
            blend__assert_fail(#expr, __FILE__, __LINE__);                                         \
        }                                                                                          \
    } while (0)

#endif
