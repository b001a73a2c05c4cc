/*
 * Binary min-heap of sessions ordered by heap_key (a deadline in ms).
 *
 * Each live session is in its worker's heap exactly once; s->heap_idx is
 * its position. The storage is sized at start-up (--max-sessions), so
 * pushing never allocates. Keys are allowed to be early: the loop re-keys
 * a session whose real deadline moved later instead of touching the heap
 * on every command (see loop.c).
 */
#include "farm.h"

#include <assert.h>

void heap_init(struct heap *h, struct sess **storage, uint32_t cap)
{
    h->a = storage;
    h->n = 0;
    h->cap = cap;
}

static void put(struct heap *h, uint32_t i, struct sess *s)
{
    h->a[i] = s;
    s->heap_idx = i;
}

static void sift_up(struct heap *h, uint32_t i)
{
    struct sess *s = h->a[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->a[parent]->heap_key <= s->heap_key)
            break;
        put(h, i, h->a[parent]);
        i = parent;
    }
    put(h, i, s);
}

static void sift_down(struct heap *h, uint32_t i)
{
    struct sess *s = h->a[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->a[child + 1]->heap_key < h->a[child]->heap_key)
            child++;
        if (s->heap_key <= h->a[child]->heap_key)
            break;
        put(h, i, h->a[child]);
        i = child;
    }
    put(h, i, s);
}

void heap_push(struct heap *h, struct sess *s)
{
    assert(h->n < h->cap);
    put(h, h->n++, s);
    sift_up(h, s->heap_idx);
}

void heap_remove(struct heap *h, struct sess *s)
{
    uint32_t i = s->heap_idx;
    assert(i < h->n && h->a[i] == s);
    struct sess *last = h->a[--h->n];
    s->heap_idx = UINT32_MAX;
    if (last == s)
        return;
    put(h, i, last);
    heap_fix(h, last);
}

void heap_fix(struct heap *h, struct sess *s)
{
    uint32_t i = s->heap_idx;
    if (i > 0 && h->a[(i - 1) / 2]->heap_key > s->heap_key)
        sift_up(h, i);
    else
        sift_down(h, i);
}

struct sess *heap_top(const struct heap *h)
{
    return h->n ? h->a[0] : NULL;
}
