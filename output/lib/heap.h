/*
 * heap.h - a binary min-heap of items that carry their own key and their
 * own position (an intrusive heap).
 *
 * An item is any struct with a uint64_t key (a deadline in ms) and a
 * uint32_t position at offsets given once to heap_init, so setting,
 * moving and removing a key cost O(log n), and an item knows whether it
 * is in the heap (position HEAP_NONE when not). The array is sized once;
 * it never grows. The scanner's deadlines (engine_int.h) use it.
 */
#ifndef MAILTLS_LIB_HEAP_H
#define MAILTLS_LIB_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE UINT32_MAX

struct heap {
    void **a;
    uint32_t n, cap;
    size_t key_off; /* offset of the item's uint64_t key */
    size_t idx_off; /* offset of the item's uint32_t position */
};

/* Room for cap items. 0, or -1 when out of memory. */
int heap_init(struct heap *h, uint32_t cap, size_t key_off, size_t idx_off);
void heap_free(struct heap *h);
/* Inserts item (position HEAP_NONE) or moves it to its new key. The heap
 * must have room: at most cap items at once. */
void heap_set(struct heap *h, void *item);
/* Takes item out; nothing when it is not in (position HEAP_NONE). */
void heap_remove(struct heap *h, void *item);
/* Item with the smallest key, or NULL when empty. */
static inline void *heap_top(const struct heap *h)
{
    return h->n ? h->a[0] : NULL;
}

#endif
