/* heap.c - intrusive binary min-heap (see heap.h). */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t key(const struct heap *h, const void *item)
{
    uint64_t k;
    memcpy(&k, (const char *)item + h->key_off, sizeof k);
    return k;
}

static uint32_t pos(const struct heap *h, const void *item)
{
    uint32_t i;
    memcpy(&i, (const char *)item + h->idx_off, sizeof i);
    return i;
}

static void set_pos(const struct heap *h, void *item, uint32_t i)
{
    memcpy((char *)item + h->idx_off, &i, sizeof i);
}

int heap_init(struct heap *h, uint32_t cap, size_t key_off, size_t idx_off)
{
    h->a = calloc(cap ? cap : 1, sizeof *h->a);
    h->n = 0;
    h->cap = cap;
    h->key_off = key_off;
    h->idx_off = idx_off;
    return h->a ? 0 : -1;
}

void heap_free(struct heap *h)
{
    free(h->a);
    h->a = NULL;
}

static void place(struct heap *h, uint32_t i, void *item)
{
    h->a[i] = item;
    set_pos(h, item, i);
}

static void sift_up(struct heap *h, uint32_t i)
{
    void *item = h->a[i];
    uint64_t k = key(h, item);
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (key(h, h->a[parent]) <= k)
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, item);
}

static void sift_down(struct heap *h, uint32_t i)
{
    void *item = h->a[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = key(h, item);
        if (l < h->n && key(h, h->a[l]) < best) {
            m = l;
            best = key(h, h->a[l]);
        }
        if (r < h->n && key(h, h->a[r]) < best)
            m = r;
        if (m == i)
            break;
        place(h, i, h->a[m]);
        i = m;
    }
    place(h, i, item);
}

void heap_set(struct heap *h, void *item)
{
    if (pos(h, item) == HEAP_NONE) {
        place(h, h->n++, item);
        sift_up(h, pos(h, item));
        return;
    }
    sift_up(h, pos(h, item));
    sift_down(h, pos(h, item));
}

void heap_remove(struct heap *h, void *item)
{
    uint32_t i = pos(h, item);
    if (i == HEAP_NONE)
        return;
    set_pos(h, item, HEAP_NONE);
    void *last = h->a[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, pos(h, last));
}
