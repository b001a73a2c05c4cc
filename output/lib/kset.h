/*
 * kset.h - a set of fixed-size keys, each with an optional fixed-size
 * value: open addressing, linear probing, backward-shift deletion.
 *
 * Keys are ksize bytes compared with memcmp; the all-zero key marks an
 * empty slot, so callers make sure no real key is all zero. The slot of a
 * key is hash(key) & (cap - 1) (cap a power of two), then the next ones.
 * The table starts at first_cap slots (on the first insert, or
 * kset_reserve), doubles when an insert would take it over load_pct
 * percent, and holds at most max keys: past that, inserts report full and
 * change nothing (lookups still work). Deletion moves later keys back
 * into the hole, so probe sequences stay unbroken and no tombstones
 * accumulate. Values (vsize bytes, zero on insert) stay where kset_put
 * returned them until the next insert or delete.
 *
 * Used by the input dedup (targets/dedup.c), the resolver's (address,
 * port) set, --save-certs' certificate set, --per-subnet's counts and the
 * TLS enumerator's per-address table.
 */
#ifndef MAILTLS_LIB_KSET_H
#define MAILTLS_LIB_KSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kset {
    unsigned char *slots;
    size_t ksize, vsize, cap, n, first_cap, max;
    unsigned load_pct;
    uint64_t (*hash)(const void *key);
};

enum kset_add { KSET_FULL = -1, KSET_FOUND = 0, KSET_ADDED = 1 };

/* Allocates nothing; first_cap a power of two, 0 < load_pct < 100. */
void kset_init(struct kset *s, size_t ksize, uint64_t (*hash)(const void *key), size_t first_cap,
               unsigned load_pct, size_t max);
/* Same with a value of vsize bytes per key. */
void kset_init_map(struct kset *s, size_t ksize, size_t vsize, uint64_t (*hash)(const void *key),
                   size_t first_cap, unsigned load_pct, size_t max);
/* Allocates the first slots now. 0, or -1 when out of memory. */
int kset_reserve(struct kset *s);
void kset_free(struct kset *s);
/* FOUND: it was there; ADDED: now it is; FULL: max keys reached or no
 * memory to grow (nothing added). */
enum kset_add kset_add(struct kset *s, const void *key);
bool kset_has(const struct kset *s, const void *key);
/* The value of key, inserted (zeroed) when absent; *how says which
 * (KSET_FULL: NULL returned, nothing added). */
void *kset_put(struct kset *s, const void *key, enum kset_add *how);
/* The value of key, or NULL when absent. */
void *kset_get(const struct kset *s, const void *key);
/* Removes key; nothing when absent. */
void kset_del(struct kset *s, const void *key);
/* Bytes of slot memory now held. */
static inline size_t kset_bytes(const struct kset *s)
{
    return s->cap * (s->ksize + s->vsize);
}

#endif
