/*
 * test_tgt_permute.c - the cyclic-group permutation visits each index once.
 */
#include "../../targets/permute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

__extension__ typedef unsigned __int128 u128;

/* Walks the permutation; true if every index in [0,n) came exactly once.
 * Also counts adjacent outputs that differ by one (should be rare). */
static bool walk_is_permutation(uint64_t n, uint64_t seed, uint64_t *adjacent)
{
    size_t words = (size_t)((n + 63) / 64);
    uint64_t *seen = calloc(words ? words : 1, sizeof *seen);
    struct tgt_perm perm;
    uint64_t idx, prev = UINT64_MAX, count = 0;
    bool ok = true;

    if (!seen || tgt_perm_init(&perm, n, seed) != 0) {
        free(seen);
        return false;
    }
    *adjacent = 0;
    while (tgt_perm_next(&perm, &idx)) {
        if (idx >= n || (seen[idx / 64] >> (idx % 64)) & 1) {
            ok = false;
            break;
        }
        seen[idx / 64] |= UINT64_C(1) << (idx % 64);
        if (prev != UINT64_MAX && (idx == prev + 1 || prev == idx + 1))
            (*adjacent)++;
        prev = idx;
        count++;
    }
    /* Exhausted stays exhausted. */
    if (tgt_perm_next(&perm, &idx))
        ok = false;
    free(seen);
    return ok && count == n;
}

static void test_small(void)
{
    static const uint64_t sizes[] = {1, 2, 3, 4, 5, 7, 100, 255, 256, 257, 1000, 65535, 65536};
    uint64_t adjacent;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (uint64_t seed = 0; seed < 8; seed++) {
            bool ok = walk_is_permutation(sizes[i], seed * 7919 + 1, &adjacent);
            if (!ok)
                fprintf(stderr, "  n=%llu seed=%llu\n", (unsigned long long)sizes[i],
                        (unsigned long long)seed);
            CHECK(ok);
        }
    }
    /* Consecutive outputs are not consecutive addresses (a sequential walk
     * would give 65535 adjacent pairs). */
    CHECK(walk_is_permutation(65536, 42, &adjacent) && adjacent < 200);
}

static void test_edges(void)
{
    struct tgt_perm perm;
    uint64_t idx;

    CHECK(tgt_perm_init(&perm, 0, 1) == 0 && !tgt_perm_next(&perm, &idx));
    CHECK(tgt_perm_init(&perm, TGT_PERM_MAX_N + 1, 1) == -1);
    CHECK(tgt_perm_init(&perm, 1, 99) == 0 && tgt_perm_next(&perm, &idx) && idx == 0 &&
          !tgt_perm_next(&perm, &idx));
    /* n = 2^32 (IPv4 /0, IPv6 /96): p is the prime after 2^32, the walk
     * starts, stays in range and does not repeat early. */
    CHECK(tgt_perm_init(&perm, TGT_PERM_MAX_N, 5) == 0 && perm.p == UINT64_C(4294967311));
    {
        uint64_t got[1000];
        bool ok = true;
        for (int i = 0; i < 1000 && ok; i++) {
            ok = tgt_perm_next(&perm, &got[i]) && got[i] < TGT_PERM_MAX_N;
            for (int j = 0; j < i && ok; j++)
                ok = got[j] != got[i];
        }
        CHECK(ok);
    }
}

/* The fast (Barrett) step must agree with a plain 128-bit remainder right
 * below 2^32, where products come closest to 2^64. */
static void test_barrett_near_2_32(void)
{
    struct tgt_perm perm;
    uint64_t idx, x;
    bool ok = true;

    CHECK(tgt_perm_init(&perm, UINT64_C(4294967290), 3) == 0 && perm.p == UINT64_C(4294967291));
    x = perm.first;
    for (int i = 0; i < 1000000 && ok; i++) {
        ok = tgt_perm_next(&perm, &idx);
        while (ok && x - 1 >= perm.n) /* skipped elements above n */
            x = (uint64_t)(((u128)x * perm.g) % perm.p);
        ok = ok && idx == x - 1;
        x = (uint64_t)(((u128)x * perm.g) % perm.p);
    }
    CHECK(ok);
}

static void test_seeds(void)
{
    struct tgt_perm a, b;
    uint64_t ia, ib;
    int same = 0, differ = 0;

    tgt_perm_init(&a, 1000, 7);
    tgt_perm_init(&b, 1000, 7);
    for (int i = 0; i < 1000; i++) {
        tgt_perm_next(&a, &ia);
        tgt_perm_next(&b, &ib);
        same += ia == ib;
    }
    CHECK(same == 1000);
    tgt_perm_init(&a, 1000, 7);
    tgt_perm_init(&b, 1000, 8);
    for (int i = 0; i < 1000; i++) {
        tgt_perm_next(&a, &ia);
        tgt_perm_next(&b, &ib);
        differ += ia != ib;
    }
    CHECK(differ > 900);
}

/* One n around 2^24 (a /8), bounded in time. */
static void test_large(void)
{
    uint64_t adjacent;
    struct timespec t0, t1;
    double secs;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(walk_is_permutation((UINT64_C(1) << 24) + 3, 2024, &adjacent));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* Generous bound (sanitizer builds are slow); a blow-up would show. */
    CHECK(secs < 30.0);
    CHECK(adjacent < 1000);
}

int main(void)
{
    test_small();
    test_edges();
    test_barrett_near_2_32();
    test_seeds();
    test_large();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
