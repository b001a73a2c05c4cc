/*
 * permute.c - cyclic-group permutation (see permute.h).
 *
 * Numbers: p <= 2^32 + 15 (the prime after 2^32), so p - 1 is factored by
 * trial division up to 2^16 and primality is checked the same way; both take
 * well under a millisecond. The hot path is one modular multiply per step:
 * for p < 2^32 the product fits 64 bits and a Barrett reduction replaces the
 * (slow) 64-bit division; only n = 2^32 needs the 128-bit remainder.
 */
#include "permute.h"

#include "../output/lib/hash.h"

#include <stddef.h>

__extension__ typedef unsigned __int128 u128;

uint64_t tgt_mix64(uint64_t x)
{
    return hash_splitmix64(x);
}

static bool is_prime(uint64_t v)
{
    if (v < 2)
        return false;
    if (v % 2 == 0)
        return v == 2;
    for (uint64_t d = 3; d * d <= v; d += 2)
        if (v % d == 0)
            return false;
    return true;
}

static uint64_t mulmod_slow(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)(((u128)a * b) % m);
}

static uint64_t powmod(uint64_t base, uint64_t e, uint64_t m)
{
    uint64_t r = 1 % m;

    base %= m;
    while (e) {
        if (e & 1)
            r = mulmod_slow(r, base, m);
        base = mulmod_slow(base, base, m);
        e >>= 1;
    }
    return r;
}

/* Distinct prime factors of v (v < 2^34: at most 9 distinct primes). */
static size_t prime_factors(uint64_t v, uint64_t out[16])
{
    size_t k = 0;

    for (uint64_t d = 2; d * d <= v; d += (d == 2 ? 1 : 2)) {
        if (v % d == 0) {
            out[k++] = d;
            while (v % d == 0)
                v /= d;
        }
    }
    if (v > 1)
        out[k++] = v;
    return k;
}

/* g generates the whole group iff g^((p-1)/q) != 1 for each prime q | p-1. */
static bool is_primitive_root(uint64_t g, uint64_t p, const uint64_t *factors, size_t nf)
{
    for (size_t i = 0; i < nf; i++)
        if (powmod(g, (p - 1) / factors[i], p) == 1)
            return false;
    return true;
}

int tgt_perm_init(struct tgt_perm *perm, uint64_t n, uint64_t seed)
{
    uint64_t factors[16];
    size_t nf;
    uint64_t r1 = tgt_mix64(seed ^ UINT64_C(0x6d61696c746c7331));
    uint64_t r2 = tgt_mix64(r1 ^ n);

    if (n > TGT_PERM_MAX_N)
        return -1;
    *perm = (struct tgt_perm){.n = n};
    if (n == 0) {
        perm->done = true;
        return 0;
    }
    perm->p = n + 1;
    while (!is_prime(perm->p))
        perm->p++;
    perm->barrett = UINT64_MAX / perm->p;
    if (perm->p == 2) {
        perm->g = 1; /* the group {1} */
    } else {
        nf = prime_factors(perm->p - 1, factors);
        /* Start at a seed-chosen candidate in 2..p-1 and take the next
         * primitive root; about one candidate in four qualifies. */
        uint64_t span = perm->p - 2;
        uint64_t g = 2 + r1 % span;
        while (!is_primitive_root(g, perm->p, factors, nf))
            g = 2 + (g - 1) % span;
        perm->g = g;
    }
    perm->first = 1 + r2 % (perm->p - 1);
    return 0;
}

static inline uint64_t step(const struct tgt_perm *perm, uint64_t x)
{
    if (perm->p < (UINT64_C(1) << 32)) {
        uint64_t prod = x * perm->g;
        uint64_t q = (uint64_t)(((u128)prod * perm->barrett) >> 64);
        uint64_t r = prod - q * perm->p;
        /* Barrett's quotient is at most one too small. */
        return r >= perm->p ? r - perm->p : r;
    }
    return mulmod_slow(x, perm->g, perm->p);
}

bool tgt_perm_next(struct tgt_perm *perm, uint64_t *index)
{
    while (!perm->done) {
        if (!perm->started) {
            perm->started = true;
            perm->cur = perm->first;
        } else {
            perm->cur = step(perm, perm->cur);
            if (perm->cur == perm->first) {
                perm->done = true;
                break;
            }
        }
        if (perm->cur - 1 < perm->n) {
            *index = perm->cur - 1;
            return true;
        }
    }
    return false;
}
