/*
 * permute.h - visit 0..n-1 once each, in a seeded pseudo-random order, with
 * O(1) state (ZMap's approach).
 *
 * p is the smallest prime above n and g a primitive root of p, so x -> x*g
 * mod p walks every element 1..p-1 of the multiplicative group before it
 * returns to its start. Element x stands for index x-1; the few elements
 * above n are skipped (primes are dense: p - n is at most a few hundred for
 * any n up to 2^32). Both g and the start element are derived from the
 * seed, so the same (n, seed) always gives the same order, and consecutive
 * indices are far apart in it.
 *
 * The struct is plain data: copy it to save a position.
 */
#ifndef MAILTLS_TGT_PERMUTE_H
#define MAILTLS_TGT_PERMUTE_H

#include <stdbool.h>
#include <stdint.h>

/* Largest n: an IPv4 /0 or an IPv6 /96. */
#define TGT_PERM_MAX_N (UINT64_C(1) << 32)

struct tgt_perm {
    uint64_t n;       /* indices 0..n-1 */
    uint64_t p;       /* smallest prime > n */
    uint64_t g;       /* primitive root modulo p, from the seed */
    uint64_t first;   /* start element in 1..p-1, from the seed */
    uint64_t cur;     /* last element visited */
    uint64_t barrett; /* floor((2^64-1) / p), for p < 2^32 */
    bool started;
    bool done;
};

/* Returns 0, or -1 if n > TGT_PERM_MAX_N. n == 0 gives an empty walk. */
int tgt_perm_init(struct tgt_perm *perm, uint64_t n, uint64_t seed);
/* Stores the next index and returns true, or returns false when every index
 * has been visited (and keeps returning false). */
bool tgt_perm_next(struct tgt_perm *perm, uint64_t *index);

/* A 64-bit mixing function (splitmix64's finaliser) for deriving seeds. */
uint64_t tgt_mix64(uint64_t x);

#endif
