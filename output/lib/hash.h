/*
 * hash.h - the hash functions every table and key of the project uses.
 *
 * FNV-1a for byte strings (the resolver's caches and seen set, the TLS
 * enumerator's per-address table), the splitmix64 finaliser for 64-bit
 * keys (input dedup keys, the permutation, the farm's profiles), and
 * Fibonacci hashing for integer keys of power-of-two tables (--per-subnet).
 * Values are part of no output format, but the permutation's order is: the
 * functions must keep returning exactly what they return today
 * (tests/unit/test_lib.c pins known values).
 */
#ifndef MAILTLS_LIB_HASH_H
#define MAILTLS_LIB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV32_INIT 2166136261u
#define HASH_FNV64_INIT UINT64_C(14695981039346656037)
#define HASH_GOLDEN64 UINT64_C(0x9e3779b97f4a7c15)

/* FNV-1a, 32 bits, continuing from h (HASH_FNV32_INIT to start). */
uint32_t hash_fnv1a32(uint32_t h, const void *p, size_t n);
/* FNV-1a, 64 bits, from HASH_FNV64_INIT. */
uint64_t hash_fnv1a64(const void *p, size_t n);
/* splitmix64's finaliser: every input bit reaches every output bit. */
uint64_t hash_mix64(uint64_t x);
/* One splitmix64 step: hash_mix64(x + golden ratio). */
uint64_t hash_splitmix64(uint64_t x);
/* Fibonacci hashing: the top bits of key times the golden ratio, for a
 * table of 2^bits slots (1 <= bits <= 32). */
static inline uint32_t hash_fib32(uint64_t key)
{
    return (uint32_t)((key * HASH_GOLDEN64) >> 32);
}

#endif
