/* timer.c - min-heap of conn deadlines (see timer.h). */
#include "timer.h"

#include <stdlib.h>

#include "conn.h"

int timer_init(struct timer_heap *h, uint32_t cap)
{
    h->a = calloc(cap ? cap : 1, sizeof *h->a);
    h->n = 0;
    h->cap = cap;
    return h->a ? 0 : -1;
}

void timer_free(struct timer_heap *h)
{
    free(h->a);
    h->a = NULL;
}

static void place(struct timer_heap *h, uint32_t i, struct conn *c)
{
    h->a[i] = c;
    c->heap_index = i;
}

static void sift_up(struct timer_heap *h, uint32_t i)
{
    struct conn *c = h->a[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->a[parent]->deadline_ms <= c->deadline_ms)
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, c);
}

static void sift_down(struct timer_heap *h, uint32_t i)
{
    struct conn *c = h->a[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = c->deadline_ms;
        if (l < h->n && h->a[l]->deadline_ms < best) {
            m = l;
            best = h->a[l]->deadline_ms;
        }
        if (r < h->n && h->a[r]->deadline_ms < best)
            m = r;
        if (m == i)
            break;
        place(h, i, h->a[m]);
        i = m;
    }
    place(h, i, c);
}

void timer_set(struct timer_heap *h, struct conn *c)
{
    if (c->heap_index == TIMER_NONE) {
        place(h, h->n++, c);
        sift_up(h, c->heap_index);
        return;
    }
    sift_up(h, c->heap_index);
    sift_down(h, c->heap_index);
}

void timer_remove(struct timer_heap *h, struct conn *c)
{
    uint32_t i = c->heap_index;
    if (i == TIMER_NONE)
        return;
    c->heap_index = TIMER_NONE;
    struct conn *last = h->a[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->heap_index);
}

struct conn *timer_top(const struct timer_heap *h)
{
    return h->n ? h->a[0] : NULL;
}
