/*
 * loop.c - the part of one loop's state that both engine.c (the loop) and
 * conn.c (one connection's life) act on: the loop clock, and what a
 * finished conn gives back (its record, its slot, its subnet count).
 * It sits below both, so they never call each other in a circle:
 * engine.c -> conn.c -> loop.c, engine.c -> loop.c.
 */
#include "engine_int.h"

/* One reading of the monotonic clock: the loop clock advances by the gap
 * since the previous reading, but by no more than budget_ms; the rest is
 * a stall (engine.h). Monotonic by construction. */
uint64_t loop_clock_read(struct engine *e, uint64_t budget_ms)
{
    uint64_t real = now_ms();
    uint64_t gap = real - e->clock_real_ms;
    e->clock_real_ms = real;
    if (gap > budget_ms) {
        e->stats.stalled_ms += gap - budget_ms;
        gap = budget_ms;
    }
    e->clock_ms += gap;
    return e->clock_ms;
}

uint64_t engine_clock_ms(struct engine *e)
{
    return loop_clock_read(e, LOOP_STALL_MS);
}

void engine_conn_finished(struct engine *e, struct conn *c, enum rec_status status, bool is_test)
{
    struct record *r = &c->rec;
    e->stats.finished++;
    __atomic_fetch_sub(&e->stats.in_flight, 1, __ATOMIC_RELAXED);
    if (!is_test)
        e->stats.by_status[status]++;
    if (is_test) {
        e->stats.tls_tests++;
    } else {
        if (rec_has(r, F_STARTTLS_OK) && rec_int(r, F_STARTTLS_OK))
            e->stats.starttls_ok++;
        if (e->io.emit(e->io.ctx, &c->job, r) < 0)
            e->fatal = true;
    }
    e->free_slots[e->free_n++] = c->slot;
    if (c->subnet) {
        subnet_release(e->subnets, c->subnet);
        c->subnet = 0;
    }
    e->pending_blocked = false;
    e->input_waiting = false; /* a finished probe may make new jobs (TLS tests) */
}
