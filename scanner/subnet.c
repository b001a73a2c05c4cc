/* subnet.c - in-flight counts per /24 or /48 (see subnet.h). */
#include "subnet.h"

#include <netinet/in.h>

#include "../output/lib/hash.h"
#include "../targets/addr.h"
#include <stdlib.h>
#include <string.h>

int subnet_init(struct subnet_table *t, uint32_t max_in_flight)
{
    uint32_t cap = 16;
    while (cap < 2 * max_in_flight)
        cap <<= 1;
    t->keys = calloc(cap, sizeof *t->keys);
    t->counts = calloc(cap, sizeof *t->counts);
    t->mask = cap - 1;
    pthread_mutex_init(&t->lock, NULL);
    return t->keys && t->counts ? 0 : -1;
}

void subnet_free(struct subnet_table *t)
{
    free(t->keys);
    free(t->counts);
    t->keys = NULL;
    t->counts = NULL;
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

static uint32_t slot_of(const struct subnet_table *t, uint64_t key)
{
    return hash_fib32(key) & t->mask;
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t find(const struct subnet_table *t, uint64_t key)
{
    uint32_t i = slot_of(t, key);
    while (t->keys[i] && t->keys[i] != key)
        i = (i + 1) & t->mask;
    return i;
}

bool subnet_acquire(struct subnet_table *t, uint64_t key, uint32_t cap)
{
    pthread_mutex_lock(&t->lock);
    uint32_t i = find(t, key);
    bool ok = !t->keys[i] || t->counts[i] < cap;
    if (ok) {
        t->keys[i] = key;
        t->counts[i]++;
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void subnet_release(struct subnet_table *t, uint64_t key)
{
    pthread_mutex_lock(&t->lock);
    uint32_t i = find(t, key);
    if (!t->keys[i] || --t->counts[i] > 0) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    /* backward-shift deletion keeps every probe sequence unbroken */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & t->mask; t->keys[j]; j = (j + 1) & t->mask) {
        uint32_t home = slot_of(t, t->keys[j]);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            t->keys[hole] = t->keys[j];
            t->counts[hole] = t->counts[j];
            hole = j;
        }
    }
    t->keys[hole] = 0;
    t->counts[hole] = 0;
    pthread_mutex_unlock(&t->lock);
}
