/* kset.c - open-addressing set of fixed-size keys (see kset.h). */
#include "kset.h"

#include <stdlib.h>
#include <string.h>

static bool is_empty(const struct kset *s, const unsigned char *slot)
{
    for (size_t i = 0; i < s->ksize; i++)
        if (slot[i])
            return false;
    return true;
}

/* The slot holding key, or the empty slot where it would go. */
static unsigned char *find(const struct kset *s, unsigned char *slots, size_t cap, const void *key)
{
    size_t j = (size_t)s->hash(key) & (cap - 1);
    for (;;) {
        unsigned char *slot = slots + j * s->ksize;
        if (is_empty(s, slot) || memcmp(slot, key, s->ksize) == 0)
            return slot;
        j = (j + 1) & (cap - 1);
    }
}

void kset_init(struct kset *s, size_t ksize, uint64_t (*hash)(const void *key), size_t first_cap,
               unsigned load_pct, size_t max)
{
    memset(s, 0, sizeof *s);
    s->ksize = ksize;
    s->hash = hash;
    s->first_cap = first_cap;
    s->load_pct = load_pct;
    s->max = max;
}

static int grow(struct kset *s)
{
    size_t cap = s->cap ? 2 * s->cap : s->first_cap;
    unsigned char *slots = calloc(cap, s->ksize);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        const unsigned char *old = s->slots + i * s->ksize;
        if (!is_empty(s, old))
            memcpy(find(s, slots, cap, old), old, s->ksize);
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

enum kset_add kset_add(struct kset *s, const void *key)
{
    if (s->cap && !is_empty(s, find(s, s->slots, s->cap, key)))
        return KSET_FOUND;
    if (s->n >= s->max)
        return KSET_FULL;
    if (100 * (s->n + 1) > (size_t)s->load_pct * s->cap && grow(s) < 0)
        return KSET_FULL;
    memcpy(find(s, s->slots, s->cap, key), key, s->ksize);
    s->n++;
    return KSET_ADDED;
}

bool kset_has(const struct kset *s, const void *key)
{
    return s->cap && !is_empty(s, find(s, s->slots, s->cap, key));
}
