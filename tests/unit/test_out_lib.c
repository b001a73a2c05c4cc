/*
 * test_out_lib.c - the building blocks of output/lib/ (mt_lib), tested
 * once for every user: the hash functions return exactly the values the
 * copies they replaced returned (the permutation's order depends on
 * splitmix64), the token bucket refills, caps and waits as --rate and
 * --dns-rate expect, the heap always yields the smallest key and keeps
 * every item's position right, the key set agrees with a brute-force
 * list through growth and its cap, and the clock is monotonic.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../output/lib/hash.h"
#include "../../output/lib/heap.h"
#include "../../output/lib/kset.h"
#include "../../output/lib/now.h"
#include "../../output/lib/rate.h"
#include "check.h"

/* The loops the library replaced, kept here as the reference. */
static uint32_t old_fnv32(uint32_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static uint64_t old_splitmix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static void test_hash(void)
{
    /* published FNV-1a test vectors */
    CHECK(hash_fnv1a32(HASH_FNV32_INIT, "", 0) == 0x811c9dc5u);
    CHECK(hash_fnv1a32(HASH_FNV32_INIT, "a", 1) == 0xe40c292cu);
    CHECK(hash_fnv1a32(HASH_FNV32_INIT, "foobar", 6) == 0xbf9cf968u);
    CHECK(hash_fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325));
    CHECK(hash_fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(hash_fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8));
    /* the resolver seeds with the entry kind */
    CHECK(hash_fnv1a32(HASH_FNV32_INIT ^ 1u, "mx.example", 10) ==
          old_fnv32(HASH_FNV32_INIT ^ 1u, "mx.example"));
    /* splitmix64 from seed 0: its first output is a known constant */
    CHECK(hash_splitmix64(0) == UINT64_C(0xe220a8397b1dcdaf));
    CHECK(hash_mix64(0) == 0);
    uint64_t x = 12345;
    for (int i = 0; i < 1000; i++, x = x * 6364136223846793005ull + 1442695040888963407ull) {
        CHECK(hash_splitmix64(x) == old_splitmix(x));
        CHECK(hash_mix64(x + UINT64_C(0x9e3779b97f4a7c15)) == old_splitmix(x));
        CHECK(hash_fib32(x) == (uint32_t)((x * UINT64_C(0x9e3779b97f4a7c15)) >> 32));
    }
}

static void test_rate(void)
{
    struct rate_limit r;
    rate_init(&r, 10.0, 1.0, 1.0, 1000);
    CHECK(rate_ready(&r));
    CHECK(rate_take(&r));
    CHECK(!rate_ready(&r));
    CHECK(!rate_take(&r));
    CHECK(rate_next_ms(&r, 1000) == 1101); /* 100 ms per token, +1 */
    rate_refill(&r, 1050);
    CHECK(!rate_ready(&r));
    rate_refill(&r, 1100);
    CHECK(rate_take(&r));
    /* a long pause earns no more than the burst */
    rate_refill(&r, 100000);
    CHECK(rate_take(&r));
    CHECK(!rate_take(&r));
    /* a clock reading from before the last refill earns nothing */
    rate_refill(&r, 50);
    CHECK(!rate_ready(&r));
    /* burst of 5 */
    rate_init(&r, 250.0, 5.0, 1.0, 0);
    rate_refill(&r, 1000);
    int n = 0;
    while (rate_take(&r))
        n++;
    CHECK(n == 5);
    /* unlimited */
    rate_init(&r, 0, 1.0, 0, 0);
    for (int i = 0; i < 100; i++)
        CHECK(rate_take(&r));
    CHECK(rate_next_ms(&r, 7) == 7);
}

struct item {
    int pad;
    uint64_t key;
    uint32_t pos;
};

/* Every item in the heap sits where its position says, and no parent has
 * a larger key than its children. */
static int heap_sound(const struct heap *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        const struct item *it = h->a[i];
        if (it->pos != i)
            return 0;
        if (i > 0 && ((const struct item *)h->a[(i - 1) / 2])->key > it->key)
            return 0;
    }
    return 1;
}

static void test_heap(void)
{
    enum { N = 500 };
    static struct item items[N];
    struct heap h;
    CHECK(heap_init(&h, N, offsetof(struct item, key), offsetof(struct item, pos)) == 0);
    CHECK(heap_top(&h) == NULL);
    uint64_t x = 7;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        items[i].key = (x >> 33) % 1000; /* many equal keys */
        items[i].pos = HEAP_NONE;
        heap_set(&h, &items[i]);
    }
    CHECK(h.n == N && heap_sound(&h));
    /* move keys up and down, remove some, in random order */
    int removed = 0;
    for (int round = 0; round < 2000; round++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        struct item *it = &items[(x >> 33) % N];
        if ((x >> 20) % 5 == 0) {
            if (it->pos != HEAP_NONE)
                removed++;
            heap_remove(&h, it);
            CHECK(it->pos == HEAP_NONE);
            heap_remove(&h, it); /* twice: nothing */
        } else {
            if (it->pos == HEAP_NONE)
                removed--;
            it->key = (x >> 40) % 1000;
            heap_set(&h, it);
        }
    }
    CHECK(h.n == (uint32_t)(N - removed));
    CHECK(heap_sound(&h));
    /* draining gives non-decreasing keys */
    uint64_t last = 0;
    int sorted = 1;
    struct item *top;
    while ((top = heap_top(&h))) {
        if (top->key < last)
            sorted = 0;
        last = top->key;
        heap_remove(&h, top);
    }
    CHECK(sorted);
    CHECK(h.n == 0);
    heap_free(&h);
}

/* A bad hash (many keys on few slots) makes probing and growth work hard. */
static uint64_t key_hash(const void *key)
{
    uint32_t k;
    memcpy(&k, key, sizeof k);
    return k % 37;
}

static void test_kset(void)
{
    enum { MAX = 3000 };
    static uint32_t added[MAX];
    int n_added = 0, found_ok = 1, has_ok = 1, added_ok = 1;
    struct kset s;
    kset_init(&s, sizeof(uint32_t), key_hash, 16, 70, MAX);
    uint32_t probe = 5;
    CHECK(!kset_has(&s, &probe));
    CHECK(kset_bytes(&s) == 0);
    uint64_t x = 3;
    for (int i = 0; i < 10000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t k = (uint32_t)((x >> 33) % 5000) + 1; /* never the all-zero key */
        int known = 0;
        for (int j = 0; j < n_added; j++)
            known |= added[j] == k;
        if (kset_has(&s, &k) != (bool)known)
            has_ok = 0;
        enum kset_add r = kset_add(&s, &k);
        if (known && r != KSET_FOUND)
            found_ok = 0;
        if (!known && n_added < MAX && r != KSET_ADDED)
            added_ok = 0;
        if (!known && n_added >= MAX && r != KSET_FULL)
            added_ok = 0;
        if (r == KSET_ADDED)
            added[n_added++] = k;
    }
    CHECK(has_ok);
    CHECK(found_ok);
    CHECK(added_ok);
    CHECK(s.n == (size_t)n_added && n_added == 3000); /* 5000 values, 10000 draws: the cap is reached */
    CHECK(s.cap >= 4096 && 100 * s.n <= 70 * s.cap);
    CHECK(kset_bytes(&s) == s.cap * sizeof(uint32_t));
    kset_free(&s);
    CHECK(!kset_has(&s, &probe));
    /* reserve allocates the first slots; a fixed set stops at its cap */
    kset_init(&s, sizeof(uint32_t), key_hash, 64, 75, 48);
    CHECK(kset_reserve(&s) == 0 && s.cap == 64);
    for (uint32_t k = 1; k <= 48; k++)
        CHECK(kset_add(&s, &k) == KSET_ADDED);
    uint32_t k49 = 49, k1 = 1;
    CHECK(kset_add(&s, &k49) == KSET_FULL);
    CHECK(kset_add(&s, &k1) == KSET_FOUND);
    CHECK(s.cap == 64);
    kset_free(&s);
}

/* The map form with deletion, against a plain array of counts: random
 * puts, increments and deletes on a table that wraps around its end. */
static void test_kmap(void)
{
    enum { KEYS = 200 };
    static uint32_t ref[KEYS + 1]; /* count per key; 0 = absent */
    struct kset m;
    kset_init_map(&m, sizeof(uint64_t), sizeof(uint32_t), key_hash, 512, 50, SIZE_MAX);
    CHECK(kset_reserve(&m) == 0);
    int ok = 1;
    uint64_t x = 11;
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t k = (x >> 33) % KEYS + 1;
        if ((x >> 20) % 3 == 0) {
            kset_del(&m, &k);
            ref[k] = 0;
        } else {
            enum kset_add how;
            uint32_t *v = kset_put(&m, &k, &how);
            if (!v || (how == KSET_ADDED) != (ref[k] == 0) || *v != ref[k])
                ok = 0;
            if (v)
                (*v)++;
            ref[k]++;
        }
        if (i % 97 == 0) { /* every key agrees */
            size_t n = 0;
            for (uint64_t q = 1; q <= KEYS; q++) {
                uint32_t *v = kset_get(&m, &q);
                if ((v != NULL) != (ref[q] != 0) || (v && *v != ref[q]))
                    ok = 0;
                n += ref[q] != 0;
            }
            if (n != m.n)
                ok = 0;
        }
    }
    CHECK(ok);
    CHECK(m.cap == 512); /* at most 200 keys in 512 slots: never grew */
    uint64_t absent = KEYS + 7;
    kset_del(&m, &absent); /* nothing */
    CHECK(kset_get(&m, &absent) == NULL);
    kset_free(&m);
}

static void test_now(void)
{
    uint64_t a = now_ms(), b = now_ms();
    CHECK(a > 0);
    CHECK(b >= a);
}

int main(void)
{
    test_hash();
    test_rate();
    test_heap();
    test_kset();
    test_kmap();
    test_now();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
