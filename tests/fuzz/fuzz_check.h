/*
 * fuzz_check.h - helpers shared by the fuzz targets in tests/fuzz/.
 *
 * FUZZ_CHECK aborts on a broken invariant so that libFuzzer (and the
 * replay driver's child process) records the input as a crash. The UTF-8
 * decoder here is written independently of output/escape.c so the two can
 * be compared.
 */
#ifndef MAILTLS_FUZZ_CHECK_H
#define MAILTLS_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Length (1-4) of the well-formed UTF-8 sequence at s within n bytes, or 0.
 * Decodes the code point and checks it instead of using byte-range tables,
 * so it is an independent second opinion on out_utf8_seq_len(). */
static inline size_t fz_utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t need;

    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

#endif
