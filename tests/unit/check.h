/*
 * check.h - the unit tests' one assertion: CHECK(cond) counts a pass or
 * reports file:line and counts a failure; main() ends with
 * printf("%d passed, %d failed\n", passed, failed) and a non-zero exit on
 * any failure (the line ctest logs and CI reads).
 */
#ifndef MAILTLS_TEST_CHECK_H
#define MAILTLS_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (cond) {                                                                                          \
            passed++;                                                                                        \
        } else {                                                                                             \
            failed++;                                                                                        \
            fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__, __LINE__, #cond);                                 \
        }                                                                                                    \
    } while (0)

#endif
