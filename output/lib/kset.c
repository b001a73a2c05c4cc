/* kset.c - open-addressing set (or map) of fixed-size keys (see kset.h). */
#include "kset.h"

#include <stdlib.h>
#include <string.h>

static size_t slot_size(const struct kset *s)
{
    return s->ksize + s->vsize;
}

static unsigned char *slot_at(const struct kset *s, unsigned char *slots, size_t i)
{
    return slots + i * slot_size(s);
}

static bool is_empty(const struct kset *s, const unsigned char *slot)
{
    for (size_t i = 0; i < s->ksize; i++)
        if (slot[i])
            return false;
    return true;
}

static size_t home(const struct kset *s, const void *key, size_t cap)
{
    return (size_t)s->hash(key) & (cap - 1);
}

/* Index of the slot holding key, or of the empty slot where it would go. */
static size_t find(const struct kset *s, unsigned char *slots, size_t cap, const void *key)
{
    size_t j = home(s, key, cap);
    for (;;) {
        unsigned char *slot = slot_at(s, slots, j);
        if (is_empty(s, slot) || memcmp(slot, key, s->ksize) == 0)
            return j;
        j = (j + 1) & (cap - 1);
    }
}

void kset_init_map(struct kset *s, size_t ksize, size_t vsize, uint64_t (*hash)(const void *key),
                   size_t first_cap, unsigned load_pct, size_t max)
{
    memset(s, 0, sizeof *s);
    s->ksize = ksize;
    s->vsize = vsize;
    s->hash = hash;
    s->first_cap = first_cap;
    s->load_pct = load_pct;
    s->max = max;
}

void kset_init(struct kset *s, size_t ksize, uint64_t (*hash)(const void *key), size_t first_cap,
               unsigned load_pct, size_t max)
{
    kset_init_map(s, ksize, 0, hash, first_cap, load_pct, max);
}

static int grow(struct kset *s)
{
    size_t cap = s->cap ? 2 * s->cap : s->first_cap;
    unsigned char *slots = calloc(cap, slot_size(s));
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        const unsigned char *old = slot_at(s, s->slots, i);
        if (!is_empty(s, old))
            memcpy(slot_at(s, slots, find(s, slots, cap, old)), old, slot_size(s));
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int kset_reserve(struct kset *s)
{
    return s->cap ? 0 : grow(s);
}

void kset_free(struct kset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

void *kset_put(struct kset *s, const void *key, enum kset_add *how)
{
    if (s->cap) {
        unsigned char *slot = slot_at(s, s->slots, find(s, s->slots, s->cap, key));
        if (!is_empty(s, slot)) {
            *how = KSET_FOUND;
            return slot + s->ksize;
        }
    }
    if (s->n >= s->max || (100 * (s->n + 1) > (size_t)s->load_pct * s->cap && grow(s) < 0)) {
        *how = KSET_FULL;
        return NULL;
    }
    unsigned char *slot = slot_at(s, s->slots, find(s, s->slots, s->cap, key));
    memcpy(slot, key, s->ksize);
    s->n++;
    *how = KSET_ADDED;
    return slot + s->ksize; /* zero: empty slots are all zero */
}

enum kset_add kset_add(struct kset *s, const void *key)
{
    enum kset_add how;
    kset_put(s, key, &how);
    return how;
}

void *kset_get(const struct kset *s, const void *key)
{
    if (!s->cap)
        return NULL;
    unsigned char *slot = slot_at(s, s->slots, find(s, s->slots, s->cap, key));
    return is_empty(s, slot) ? NULL : slot + s->ksize;
}

bool kset_has(const struct kset *s, const void *key)
{
    return kset_get(s, key) != NULL;
}

void kset_del(struct kset *s, const void *key)
{
    if (!s->cap)
        return;
    size_t hole = find(s, s->slots, s->cap, key), mask = s->cap - 1;
    if (is_empty(s, slot_at(s, s->slots, hole)))
        return;
    /* backward-shift deletion: a later key moves into the hole when its
     * home slot is not between the hole and where it sits */
    for (size_t j = (hole + 1) & mask; !is_empty(s, slot_at(s, s->slots, j)); j = (j + 1) & mask) {
        size_t h = home(s, slot_at(s, s->slots, j), s->cap);
        bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
        if (movable) {
            memcpy(slot_at(s, s->slots, hole), slot_at(s, s->slots, j), slot_size(s));
            hole = j;
        }
    }
    memset(slot_at(s, s->slots, hole), 0, slot_size(s));
    s->n--;
}
