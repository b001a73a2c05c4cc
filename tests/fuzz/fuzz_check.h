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
#include <string.h>

#define FUZZ_CHECK(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                     \
            abort();                                                                                         \
        }                                                                                                    \
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

/* Length of the maximal subpart at s (Unicode ch. 3: the longest prefix
 * of a well-formed sequence, at least 1) when fz_utf8_len(s, n) is 0:
 * tried by completing each candidate prefix with continuation bytes. */
static inline size_t fz_utf8_subpart(const unsigned char *s, size_t n)
{
    size_t best = 1;
    for (size_t k = 2; k <= 3 && k <= n; k++) {
        unsigned char probe[4] = {0x80, 0x80, 0x80, 0x80};
        for (size_t i = 0; i < k; i++)
            probe[i] = s[i];
        size_t need = fz_utf8_len(probe, 4);
        if (need > k)
            best = k;
        else
            break;
    }
    return best;
}

/* What the JSON text of raw bytes must decode to (output/escape.h): NUL and
 * each maximal ill-formed subpart become U+FFFD, the rest is unchanged.
 * dst needs 3 * n bytes. Returns the length; *lossy says whether anything
 * was replaced. */
static inline size_t fz_json_text(unsigned char *dst, const unsigned char *s, size_t n, int *lossy)
{
    size_t o = 0;
    *lossy = 0;
    for (size_t i = 0; i < n;) {
        size_t k = s[i] == 0 ? 0 : fz_utf8_len(s + i, n - i);
        if (k) {
            for (size_t j = 0; j < k; j++)
                dst[o++] = s[i + j];
            i += k;
            continue;
        }
        dst[o++] = 0xef;
        dst[o++] = 0xbf;
        dst[o++] = 0xbd;
        i += s[i] == 0 ? 1 : fz_utf8_subpart(s + i, n - i);
        *lossy = 1;
    }
    return o;
}

/* Decodes standard padded base64 (RFC 4648) into dst (len / 4 * 3 bytes);
 * returns the length or -1. Written apart from output/escape.c. */
static inline long fz_base64_decode(unsigned char *dst, const char *s, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len % 4)
        return -1;
    size_t o = 0;
    unsigned bits = 0, nbits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=') {
            /* only as the last one or two characters */
            if (i < len - 2 || (i == len - 2 && s[len - 1] != '='))
                return -1;
            break;
        }
        const char *p = s[i] ? strchr(abc, s[i]) : NULL;
        if (!p)
            return -1;
        bits = bits << 6 | (unsigned)(p - abc);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            dst[o++] = (unsigned char)(bits >> nbits);
            bits &= (1u << nbits) - 1;
        }
    }
    return bits == 0 ? (long)o : -1;
}

#endif
