/* tally.c - bounded value counter; see tally.h. */
#include "tally.h"

#include "../../output/lib/hash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key; /* NULL = empty */
    uint32_t len;
    uint32_t hash;
    uint64_t count;
};

struct tally {
    struct slot *slots;
    size_t mask; /* slots - 1; slots is a power of two >= 2 * max_keys */
    size_t max_keys;
    size_t arena_cap;
    size_t keys;
    char *arena;
    size_t arena_used;
    uint64_t other;
};

struct tally *tally_new(size_t max_keys)
{
    struct tally *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    size_t slots = 16;
    while (slots < 2 * max_keys)
        slots *= 2;
    t->mask = slots - 1;
    t->max_keys = max_keys;
    t->arena_cap = max_keys * TALLY_KEY_AVG_BYTES;
    t->slots = calloc(slots, sizeof *t->slots);
    t->arena = malloc(t->arena_cap);
    if (!t->slots || !t->arena) {
        tally_free(t);
        return NULL;
    }
    return t;
}

void tally_free(struct tally *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->arena);
    free(t);
}

static uint32_t hash(const char *s, size_t n)
{
    return hash_fnv1a32(HASH_FNV32_INIT, s, n);
}

static struct slot *find(const struct tally *t, const char *key, size_t len, uint32_t h)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

void tally_add(struct tally *t, const char *key, size_t len, uint64_t n)
{
    uint32_t h = hash(key, len);
    struct slot *s = find(t, key, len, h);
    if (s->key) {
        s->count += n;
        return;
    }
    if (t->keys >= t->max_keys || len + 1 > t->arena_cap - t->arena_used || len > UINT32_MAX) {
        t->other += n;
        return;
    }
    s->key = t->arena + t->arena_used;
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    t->arena_used += len + 1;
    s->len = (uint32_t)len;
    s->hash = h;
    s->count = n;
    t->keys++;
}

uint64_t tally_get(const struct tally *t, const char *key)
{
    if (strcmp(key, TALLY_OTHER) == 0)
        return t->other;
    size_t len = strlen(key);
    const struct slot *s = find(t, key, len, hash(key, len));
    return s->key ? s->count : 0;
}

static int by_count(const void *a, const void *b)
{
    const struct tally_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t tally_top(const struct tally *t, struct tally_entry *out, size_t max)
{
    size_t n = t->keys + (t->other ? 1 : 0);
    struct tally_entry *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].key)
            all[k++] = (struct tally_entry){t->slots[i].key, t->slots[i].count};
    if (t->other)
        all[k++] = (struct tally_entry){TALLY_OTHER, t->other};
    qsort(all, k, sizeof *all, by_count);
    size_t m = k < max ? k : max;
    memcpy(out, all, m * sizeof *all);
    free(all);
    return m;
}

size_t tally_distinct(const struct tally *t)
{
    return t->keys + (t->other ? 1 : 0);
}
