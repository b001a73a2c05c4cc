/* malloc_tune.c - see malloc_tune.h. */
#include "malloc_tune.h"

#include <stdlib.h>
#include <unistd.h>

void malloc_tune(char **argv)
{
#ifdef __GLIBC__
    if (getenv("GLIBC_TUNABLES") || getenv("MAILTLS_NO_MALLOC_TUNING"))
        return;
    if (setenv("GLIBC_TUNABLES", MALLOC_TUNE_TUNABLES, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES"); /* not re-executed: children see what we saw */
#else
    (void)argv;
#endif
}
