/* Assertion failure path: one line on stderr, then abort() so a core or sanitizer trace follows. */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void blend__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"event\":\"assert\",\"expr\":\"%s\",\"at\":\"%s:%d\"}\n",
            expr, file, line);
    fflush(stderr);
    abort();
}
