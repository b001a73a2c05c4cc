/*
 * engine_int.h - what engine.c (the pool and the loop) and conn.c (one
 * connection's life) share. Not for the protocol files: they see conn.h.
 */
#ifndef MAILTLS_ENGINE_INT_H
#define MAILTLS_ENGINE_INT_H

#include <signal.h>
#include <stddef.h>

#include "../output/lib/heap.h"
#include "../output/lib/rate.h"
#include "conn.h"
#include "engine.h"
#include "subnet.h"

#define EV_BATCH 256
#define TICK_MS 250
#define QUIT_WAIT_MAX_MS 2000
#define INPUT_SLOT UINT32_MAX
#define EXT_SLOT (UINT32_MAX - 1) /* fds of the caller (resolver); low bits = fd */
#define PENDING_MAX 1024          /* jobs taken from the input but not yet started */
/* A gap between two clock readings longer than the loop asked to wait,
 * plus this, was a stall: only this much of it is counted (engine.h). */
#define LOOP_STALL_MS 500
/* How often a loop held back by output backpressure looks again. */
#define BACKPRESSURE_POLL_MS 20

struct engine {
    struct engine_config cfg;
    struct engine_io io;
    int epfd;
    struct conn *pool;
    uint32_t *free_slots;
    uint32_t free_n;
    struct heap timers; /* conn deadlines: key deadline_ms, position heap_index */
    struct engine_stats stats;

    struct rate_limit rate; /* --rate */
    bool input_done;
    bool input_waiting;
    int input_fd_registered;
    bool fatal;
    volatile sig_atomic_t stop_requested;
    uint64_t stop_at_ms; /* when the grace period ends; 0 = not stopping */
    /* Jobs that cannot start yet: their subnet is at --per-subnet, or no
     * descriptor was left (then in-flight probes are also capped at what the
     * system allowed). A fixed ring; input is not read while it is full. */
    struct job *pending;
    uint32_t pending_head, pending_n;
    bool pending_blocked;   /* none of them can start until a probe ends */
    struct record *scratch; /* records for jobs that never got a conn (one per loop: threads) */
    struct subnet_table own_subnets;
    struct subnet_table *subnets; /* own_subnets, or the table all loops share */
    uint64_t max_in_flight;
    bool warned_fd;
    uint64_t last_tick_ms;
    /* the loop clock (engine_clock_ms): clock_ms advanced by the gaps
     * between readings of the monotonic clock, each at most its budget */
    uint64_t clock_ms;
    uint64_t clock_real_ms; /* monotonic time of the last reading */
    uint64_t held_since_ms; /* backpressure began (loop clock); 0 = not held */
    struct vcache *vcache;  /* chain verdicts of this loop (verify_cache.h); NULL = off */
};

/* The deadlines of all conns in flight (output/lib/heap.h): each conn has
 * one effective deadline (deadline_ms) and remembers its heap position
 * (heap_index, TIMER_NONE when it has none). */
#define TIMER_NONE HEAP_NONE
static inline int timer_init(struct heap *h, uint32_t cap)
{
    return heap_init(h, cap, offsetof(struct conn, deadline_ms), offsetof(struct conn, heap_index));
}
static inline void timer_free(struct heap *h)
{
    heap_free(h);
}
/* Inserts c or moves it to its new c->deadline_ms. */
static inline void timer_set(struct heap *h, struct conn *c)
{
    heap_set(h, c);
}
static inline void timer_remove(struct heap *h, struct conn *c)
{
    heap_remove(h, c);
}
/* Earliest conn, or NULL when empty. */
static inline struct conn *timer_top(const struct heap *h)
{
    return heap_top(h);
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* conn.c */
uint64_t conn_ev_key(const struct conn *c);
void conn_set_deadline(struct conn *c, uint64_t phase_deadline_ms);
enum rec_status conn_connect_status(int err);
void conn_begin_tls(struct conn *c);
void conn_on_event(struct conn *c, uint32_t events);
void conn_on_deadline(struct conn *c);

/* loop.c */
/* One reading of the monotonic clock: the loop clock advances by the gap
 * since the previous reading, but by no more than budget_ms; the rest is
 * a stall (engine.h). */
uint64_t loop_clock_read(struct engine *e, uint64_t budget_ms);
void engine_conn_finished(struct engine *e, struct conn *c, enum rec_status status, bool is_test);

#endif
