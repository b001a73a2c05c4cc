/* subnet.c - in-flight counts per /24 or /48 (see subnet.h). */
#include "subnet.h"

#include <netinet/in.h>

#include "../output/lib/hash.h"
#include "../output/lib/kset.h"
#include "../targets/addr.h"
#include <stdint.h>
#include <string.h>

/* Keys are subnet keys (never 0); Fibonacci hashing spreads them. */
static uint64_t key_hash(const void *key)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    return hash_fib32(k);
}

int subnet_init(struct subnet_table *t, uint32_t max_in_flight)
{
    uint32_t cap = 16;
    while (cap < 2 * max_in_flight)
        cap <<= 1;
    /* at most one key per probe in flight: never over half full, never grows */
    kset_init_map(&t->counts, sizeof(uint64_t), sizeof(uint32_t), key_hash, cap, 50, SIZE_MAX);
    pthread_mutex_init(&t->lock, NULL);
    return kset_reserve(&t->counts);
}

void subnet_free(struct subnet_table *t)
{
    kset_free(&t->counts);
    pthread_mutex_destroy(&t->lock);
}

static uint64_t key_v4(const unsigned char *a)
{
    return (4ull << 56) | ((uint64_t)a[0] << 16) | ((uint64_t)a[1] << 8) | a[2];
}

uint64_t subnet_key(const struct sockaddr_storage *addr)
{
    struct in_addr v4;
    /* ::ffff:a.b.c.d and the other IPv6 spellings of an IPv4 host share
     * its /24: otherwise they would be a way around --per-subnet */
    if (tgt_addr_embedded_v4(addr, &v4))
        return key_v4((const unsigned char *)&v4.s_addr);
    if (addr->ss_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr;
        return key_v4(a);
    }
    if (addr->ss_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
        uint64_t k = 6ull << 56;
        for (int i = 0; i < 6; i++)
            k |= (uint64_t)a[i] << (8 * (5 - i));
        return k;
    }
    return 0;
}

bool subnet_acquire(struct subnet_table *t, uint64_t key, uint32_t cap)
{
    pthread_mutex_lock(&t->lock);
    uint32_t *count = kset_get(&t->counts, &key);
    bool ok = !count || *count < cap;
    if (ok && !count) {
        enum kset_add how;
        count = kset_put(&t->counts, &key, &how);
        ok = count != NULL;
    }
    if (ok)
        (*count)++;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void subnet_release(struct subnet_table *t, uint64_t key)
{
    pthread_mutex_lock(&t->lock);
    uint32_t *count = kset_get(&t->counts, &key);
    if (count && --*count == 0)
        kset_del(&t->counts, &key); /* backward-shift: no tombstones */
    pthread_mutex_unlock(&t->lock);
}
