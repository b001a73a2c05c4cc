/* hash.c - shared hash functions (see hash.h). */
#include "hash.h"

uint32_t hash_fnv1a32(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

uint64_t hash_fnv1a64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = HASH_FNV64_INIT;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

uint64_t hash_splitmix64(uint64_t x)
{
    return hash_mix64(x + HASH_GOLDEN64);
}
