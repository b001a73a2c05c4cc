/*
 * timer.h - the deadlines of all conns in flight, as a binary min-heap.
 *
 * Each conn has exactly one effective deadline (conn.deadline_ms) and
 * remembers its heap position (conn.heap_index), so setting, moving and
 * removing a deadline cost O(log n) and expiry never walks all conns.
 * The heap array is sized once (capacity = pool size); it never grows.
 */
#ifndef MAILTLS_TIMER_H
#define MAILTLS_TIMER_H

#include <stdint.h>

struct conn;

#define TIMER_NONE UINT32_MAX

struct timer_heap {
    struct conn **a;
    uint32_t n, cap;
};

int timer_init(struct timer_heap *h, uint32_t cap);
void timer_free(struct timer_heap *h);
/* Inserts c or moves it to its new c->deadline_ms. */
void timer_set(struct timer_heap *h, struct conn *c);
void timer_remove(struct timer_heap *h, struct conn *c);
/* Earliest conn, or NULL when empty. */
struct conn *timer_top(const struct timer_heap *h);

#endif
