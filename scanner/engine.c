/*
 * engine.c - the epoll loop, the conn pool, launching under the limits.
 *
 * Loop turn:
 *   1. launch new probes while a slot and a rate token are free and the
 *      output is not asking for backpressure;
 *   2. epoll_wait, bounded by the nearest deadline / next token / tick;
 *   3. dispatch readiness to conns (stale events are dropped by generation),
 *      asking epoll again while batches come back full, so every ready
 *      socket is served before step 4;
 *   4. expire deadlines from the top of the timer heap (loop clock);
 *   5. tick the caller (output flush, status line).
 * A finished conn emits its record at once, closes its socket and returns
 * to the free list; the slot is reused only on a later turn. What happens
 * on one connection (sending, framing lines, TLS, deadlines) is conn.c.
 */
#include "engine_int.h"

#include "conn.h"

#include "tls.h"
#include "verify_cache.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- connect --------------------------------------------------------- */

/* The protocol table (scanner/proto.h): no default, no fallback. */
static const struct proto_ops *ops_for(enum mt_proto p)
{
    return proto_ops_for(p);
}

static void fill_record_identity(struct conn *c)
{
    struct record *r = &c->rec;
    job_to_record(&c->job, r);
    if (c->job.port.mode == TLS_MODE_IMPLICIT) {
        /* nothing is said in cleartext on implicit-TLS ports */
        rec_list_init(r, F_AUTH_BEFORE_TLS);
        rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, false);
    }
}

static void pending_push(struct engine *e, const struct job *job)
{
    e->pending[(e->pending_head + e->pending_n) % PENDING_MAX] = *job;
    e->pending_n++;
}

/* Reserves a place for job in its subnet: *key is what launch() records
 * (0 without a cap); false when the subnet is at --per-subnet. */
static bool subnet_reserve(struct engine *e, const struct job *job, uint64_t *key)
{
    *key = 0;
    if (e->cfg.per_subnet == 0)
        return true;
    uint64_t k = subnet_key(&job->addr);
    if (!subnet_acquire(e->subnets, k, e->cfg.per_subnet))
        return false;
    *key = k;
    return true;
}

/* Takes the oldest pending job whose subnet has room (reserving it). */
static bool pending_take(struct engine *e, struct job *out, uint64_t *subnet)
{
    if (e->pending_blocked)
        return false;
    for (uint32_t k = 0; k < e->pending_n; k++) {
        struct job *j = &e->pending[(e->pending_head + k) % PENDING_MAX];
        if (!subnet_reserve(e, j, subnet))
            continue;
        *out = *j;
        /* fill the hole with the head, then drop the head */
        *j = e->pending[e->pending_head];
        e->pending_head = (e->pending_head + 1) % PENDING_MAX;
        e->pending_n--;
        return true;
    }
    e->pending_blocked = true;
    return false;
}

/* No room for one more socket (descriptors, epoll watches, kernel
 * memory): not the target's fault. Give the slot back, keep the job for
 * later and run with what the system allows from now on. */
static void launch_defer(struct engine *e, struct conn *c, const struct job *job, uint64_t subnet,
                         const char *what, int err)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->subnet = 0;
    c->phase = PHASE_FREE;
    timer_remove(&e->timers, c);
    e->free_slots[e->free_n++] = c->slot;
    e->stats.launched--;
    __atomic_fetch_sub(&e->stats.in_flight, 1, __ATOMIC_RELAXED);
    if (subnet)
        subnet_release(e->subnets, subnet);
    pending_push(e, job); /* launch_ready keeps one ring slot for this */
    e->max_in_flight = e->stats.in_flight;
    if (!e->warned_fd) {
        e->warned_fd = true;
        fprintf(stderr, "mailtls-scan: %s%s; running with %llu probes in flight\n", what, strerror(err),
                (unsigned long long)e->max_in_flight);
    }
}

static bool out_of_room(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOSPC || err == ENOMEM || err == ENOBUFS;
}

static void launch(struct engine *e, const struct job *job, uint64_t subnet)
{
    uint32_t slot = e->free_slots[--e->free_n];
    struct conn *c = &e->pool[slot];
    if (!c->eng) { /* first use of this slot */
        c->slot = slot;
        c->eng = e;
        c->heap_index = TIMER_NONE;
    }
    c->job = *job;
    c->ops = ops_for(job->port.proto);
    c->start_ms = engine_clock_ms(e);
    c->total_deadline_ms = c->start_ms + e->cfg.total_timeout_ms;
    c->tls = NULL;
    c->is_tls = c->tls_wants_write = c->quitting = c->test_reported = false;
    c->final_status = STATUS_OK;
    c->rx_total = c->literal_left = 0;
    c->rx_len = c->rx_off = c->tx_len = 0;
    c->reply_len = c->reply_lines = 0;
    c->reply_code = c->tag_seq = 0;
    c->flags = 0;
    c->epoll_mask = 0;
    c->phase = PHASE_CONNECTING;
    fill_record_identity(c);
    e->stats.launched++;
    __atomic_fetch_add(&e->stats.in_flight, 1, __ATOMIC_RELAXED); /* read live by workers_open_conns */

    c->fd = socket(job->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 && (errno == EMFILE || errno == ENFILE) && e->stats.in_flight > 1) {
        launch_defer(e, c, job, subnet, "", errno);
        return;
    }
    if (c->fd < 0) {
        int saved = errno;
        conn_finish(c, STATUS_LOCAL_ERROR, "socket: %s", strerror(saved));
        return;
    }
    c->subnet = subnet; /* released when the conn finishes */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_set_deadline(c, c->start_ms + e->cfg.connect_timeout_ms);
    if (connect(c->fd, (const struct sockaddr *)&job->addr, job->addr_len) < 0 && errno != EINPROGRESS) {
        int saved = errno;
        conn_finish(c, conn_connect_status(saved), "connect: %s", strerror(saved));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = conn_ev_key(c)};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        /* Never a silent hang: the socket is not watched, so the probe
         * either waits for a place (max_user_watches, kernel memory) or
         * ends with a local-error record. */
        int saved = errno;
        if (out_of_room(saved) && e->stats.in_flight > 1) {
            launch_defer(e, c, job, subnet, "epoll_ctl: ", saved);
            return;
        }
        conn_finish(c, STATUS_LOCAL_ERROR, "epoll_ctl: %s", strerror(saved));
        return;
    }
    c->epoll_mask = EPOLLOUT;
}

/* Accounting when a conn has finished (conn.c closed it): counters, the
 * record to its destination, the slot and its subnet place back. */
/* ---- launching under the rate limit ---------------------------------- */

/* Watches the input for more lines. When epoll cannot watch it, the
 * input is still asked again at every tick (TICK_MS): slower, never stuck. */
static void watch_input(struct engine *e, bool on)
{
    int fd = e->io.wait_fd ? e->io.wait_fd(e->io.ctx) : -1;
    if (on && fd >= 0 && e->input_fd_registered != fd) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)INPUT_SLOT << 32};
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST)
            e->input_fd_registered = fd;
    } else if (!on && e->input_fd_registered >= 0) {
        /* ENOENT/EBADF: the input was closed meanwhile, which removed it */
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->input_fd_registered, NULL);
        e->input_fd_registered = -1;
    }
}

static bool input_open(const struct engine *e)
{
    /* one ring slot stays free for a job that finds no descriptor */
    return !e->input_done && !e->input_waiting && e->pending_n < PENDING_MAX - 1;
}

/* The output's backlog is above its high water (out_backpressure). */
static bool output_held(const struct engine *e)
{
    return e->cfg.backpressure && atomic_load_explicit(e->cfg.backpressure, memory_order_relaxed);
}

static bool may_launch(const struct engine *e)
{
    return !e->stop_at_ms && e->free_n > 0 && !e->fatal &&
           !(e->max_in_flight && e->stats.in_flight >= e->max_in_flight) && !output_held(e);
}

/* Counts the time launching waited for the output. */
static void note_backpressure(struct engine *e, uint64_t now)
{
    bool held = output_held(e);
    if (held && !e->held_since_ms) {
        e->held_since_ms = now;
    } else if (!held && e->held_since_ms) {
        e->stats.backpressure_ms += now - e->held_since_ms;
        e->held_since_ms = 0;
    }
}

static void launch_ready(struct engine *e, uint64_t now)
{
    rate_refill(&e->rate, now);
    /* bounded per turn so a huge input cannot starve the event loop */
    for (int i = 0; i < 4096 && may_launch(e); i++) {
        if (!rate_ready(&e->rate))
            return;
        struct job job;
        uint64_t subnet;
        if (!pending_take(e, &job, &subnet)) {
            if (!input_open(e))
                return;
            enum job_next r = e->io.next_job(e->io.ctx, &job);
            if (r == JOB_END) {
                e->input_done = true;
                return;
            }
            if (r == JOB_FATAL) {
                e->fatal = true;
                return;
            }
            if (r == JOB_WAIT) {
                e->input_waiting = true;
                watch_input(e, true);
                return;
            }
            if (!subnet_reserve(e, &job, &subnet)) {
                pending_push(e, &job);
                continue;
            }
        }
        rate_take(&e->rate);
        launch(e, &job, subnet);
    }
}

static int wait_timeout_ms(struct engine *e, uint64_t now)
{
    uint64_t until = now + TICK_MS;
    struct conn *top = timer_top(&e->timers);
    if (top)
        until = min_u64(until, top->deadline_ms);
    if (e->stop_at_ms)
        until = min_u64(until, e->stop_at_ms);
    if (e->io.next_deadline) {
        uint64_t d = e->io.next_deadline(e->io.ctx); /* the resolver's: monotonic, not the loop clock */
        if (d) {
            uint64_t real = now_ms();
            until = min_u64(until, now + (d > real ? d - real : 0));
        }
    }
    bool work = (e->pending_n > 0 && !e->pending_blocked) || input_open(e);
    if (work && output_held(e) && !e->stop_at_ms)
        until = min_u64(until, now + BACKPRESSURE_POLL_MS); /* the flag has no descriptor to wait on */
    bool can_launch = may_launch(e) && work;
    if (can_launch) {
        if (rate_ready(&e->rate))
            return 0;
        until = min_u64(until, rate_next_ms(&e->rate, now));
    }
    return until > now ? (int)(until - now) : 0;
}

/* ---- the loop -------------------------------------------------------- */

int engine_watch_fd(struct engine *e, int fd, uint32_t events)
{
    if (events == 0)
        return epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
    struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)EXT_SLOT << 32) | (uint32_t)fd};
    if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void dispatch(struct engine *e, const struct epoll_event *ev)
{
    uint32_t slot = (uint32_t)(ev->data.u64 >> 32);
    if (slot == EXT_SLOT) {
        if (e->io.on_fd)
            e->io.on_fd(e->io.ctx, (int)(uint32_t)ev->data.u64, ev->events);
        e->input_waiting = false; /* the resolver may have produced jobs */
        return;
    }
    if (slot == INPUT_SLOT) {
        e->input_waiting = false;
        watch_input(e, false);
        return;
    }
    struct conn *c = &e->pool[slot];
    if (c->gen != (uint32_t)ev->data.u64 || c->phase == PHASE_FREE)
        return; /* event for a conn that already finished */
    conn_on_event(c, ev->events);
}

/* Waits up to timeout_ms for readiness, then serves every ready socket:
 * while a batch comes back full more may be waiting, and all must be read
 * before any deadline is judged (after a stall, answers wait on many
 * sockets at once). epoll hands out level-triggered fds round-robin, so
 * pool/EV_BATCH + 2 rounds reach each ready socket at least once. */
static int serve_ready(struct engine *e, struct epoll_event *evs, int timeout_ms)
{
    int n = epoll_wait(e->epfd, evs, EV_BATCH, timeout_ms);
    int saved = errno;
    loop_clock_read(e, (uint64_t)timeout_ms + LOOP_STALL_MS);
    uint32_t rounds = e->cfg.concurrency / EV_BATCH + 2;
    for (;;) {
        if (n < 0) {
            /* EINTR: a signal, or SIGCONT after a stop (signal(7)); the
             * sockets that became ready meanwhile must still be looked at */
            if (saved != EINTR)
                return -1;
            if (--rounds == 0)
                return 0;
            n = epoll_wait(e->epfd, evs, EV_BATCH, 0);
            saved = errno;
            continue;
        }
        for (int i = 0; i < n && !e->fatal; i++)
            dispatch(e, &evs[i]);
        if (n < EV_BATCH || e->fatal || --rounds == 0)
            return 0;
        n = epoll_wait(e->epfd, evs, EV_BATCH, 0);
        saved = errno;
    }
}

/* Fires the deadlines that are due. Before blaming any server, reads what
 * already arrived: the loop may have stalled after its last epoll_wait
 * (stopped in the middle of a batch), and an answer waiting on a socket
 * is an answer in time. *now: the loop clock it judged by. -1 on an epoll
 * failure. */
static int expire(struct engine *e, struct epoll_event *evs, uint64_t *now)
{
    struct conn *c = timer_top(&e->timers);
    *now = engine_clock_ms(e);
    if (!c || c->deadline_ms > *now)
        return 0;
    if (serve_ready(e, evs, 0) < 0)
        return -1;
    *now = engine_clock_ms(e);
    while ((c = timer_top(&e->timers)) && c->deadline_ms <= *now)
        conn_on_deadline(c);
    return 0;
}

/* A job taken from the input that never started still gets its answer. */
static void interrupt_pending(struct engine *e, const struct job *j)
{
    if (j->kind == JOB_PROBE) {
        struct record *rec = e->scratch;
        job_local_record(j, rec, STATUS_INTERRUPTED, "scan interrupted before the probe started");
        if (e->io.emit(e->io.ctx, j, rec) < 0)
            e->fatal = true;
    } else if (e->io.tls_test_done) {
        e->io.tls_test_done(e->io.ctx, j, NULL, false, STATUS_INTERRUPTED, "interrupted");
    }
}

static void interrupt_all(struct engine *e)
{
    while (e->pending_n > 0) {
        struct job j = e->pending[e->pending_head];
        e->pending_head = (e->pending_head + 1) % PENDING_MAX;
        e->pending_n--;
        interrupt_pending(e, &j);
    }
    for (uint32_t i = 0; i < e->cfg.concurrency; i++)
        if (e->pool[i].phase != PHASE_FREE)
            conn_finish(&e->pool[i], STATUS_INTERRUPTED, "scan interrupted before the probe finished");
}

int engine_run(struct engine *e)
{
    struct epoll_event evs[EV_BATCH];
    e->clock_real_ms = now_ms(); /* the time before the loop ran is no stall of it */
    /* bursts of 20 ms worth of connections, at least one */
    rate_init(&e->rate, e->cfg.rate, e->cfg.rate / 50.0 > 1.0 ? e->cfg.rate / 50.0 : 1.0, 1.0,
              engine_clock_ms(e));
    for (;;) {
        uint64_t now = engine_clock_ms(e);
        if (e->stop_requested && !e->stop_at_ms)
            e->stop_at_ms = now + e->cfg.grace_ms;
        note_backpressure(e, now);
        launch_ready(e, now);
        if (e->fatal)
            break;
        if (e->stats.in_flight == 0 && e->pending_n == 0 && (e->input_done || e->stop_at_ms))
            break;
        if (serve_ready(e, evs, wait_timeout_ms(e, engine_clock_ms(e))) < 0 || expire(e, evs, &now) < 0)
            return -1;
        if (e->io.on_timer) {
            e->io.on_timer(e->io.ctx, now_ms()); /* the resolver runs on the monotonic clock */
            e->input_waiting = false;
        }
        if (e->stop_at_ms && now >= e->stop_at_ms)
            interrupt_all(e);
        if (now - e->last_tick_ms >= TICK_MS) {
            e->last_tick_ms = now;
            /* input shared with other threads may have refilled meanwhile,
             * and their probes may have freed places in a shared subnet */
            e->input_waiting = false;
            e->pending_blocked = false;
            if (e->io.tick && e->io.tick(e->io.ctx, now_ms()) < 0)
                e->fatal = true;
        }
        if (e->fatal)
            break;
    }
    return e->fatal ? -1 : 0;
}

/* The conn pool: page-aligned (CONN_ALIGN) and zero-filled by the kernel,
 * so a slot costs resident memory only once a probe writes to it. */
static struct conn *pool_map(uint32_t n)
{
    void *p = mmap(NULL, (size_t)n * sizeof(struct conn), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

struct engine *engine_new(const struct engine_config *cfg, const struct engine_io *io, char *err,
                          size_t errlen)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->io = *io;
    e->input_fd_registered = -1;
    e->clock_real_ms = e->clock_ms = now_ms();
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->pool = pool_map(cfg->concurrency);
    e->free_slots = calloc(cfg->concurrency, sizeof *e->free_slots);
    e->pending = calloc(PENDING_MAX, sizeof *e->pending);
    e->scratch = malloc(sizeof *e->scratch);
    e->vcache = vcache_new(cfg->verify_cache_slots);
    bool ok = e->epfd >= 0 && e->pool && e->free_slots && e->pending && e->scratch &&
              (e->vcache || !cfg->verify_cache_slots) && timer_init(&e->timers, cfg->concurrency) == 0;
    if (ok && !cfg->subnets) {
        /* set before the check: engine_free frees what subnet_init got,
         * even when only half of it */
        e->subnets = &e->own_subnets;
        ok = subnet_init(&e->own_subnets, cfg->concurrency) == 0;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot set up the engine for %u connections: %s", cfg->concurrency,
                 strerror(errno));
        engine_free(e);
        return NULL;
    }
    e->subnets = cfg->subnets ? cfg->subnets : &e->own_subnets;
    /* Hand out low slots first: fewer pages touched at low concurrency. A
     * slot's struct is written only when it is first used (launch), so an
     * unused part of the pool costs no resident memory at all. */
    for (uint32_t i = 0; i < cfg->concurrency; i++)
        e->free_slots[i] = cfg->concurrency - 1 - i;
    e->free_n = cfg->concurrency;
    return e;
}

void engine_request_stop(struct engine *e)
{
    e->stop_requested = 1;
}

const struct engine_stats *engine_stats(const struct engine *e)
{
    return &e->stats;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    /* A loop that stopped on a fatal error (the output failed) leaves
     * probes in flight: nothing can record them any more, but their
     * sockets and TLS state are still ours to release. */
    for (uint32_t i = 0; e->pool && i < e->cfg.concurrency; i++) {
        struct conn *c = &e->pool[i];
        if (!c->eng || c->phase == PHASE_FREE)
            continue;
        tls_detach(c);
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        c->phase = PHASE_FREE;
    }
    if (e->epfd >= 0)
        close(e->epfd);
    timer_free(&e->timers);
    if (e->subnets == &e->own_subnets)
        subnet_free(&e->own_subnets);
    vcache_free(e->vcache);
    free(e->pending);
    free(e->scratch);
    if (e->pool)
        munmap(e->pool, (size_t)e->cfg.concurrency * sizeof *e->pool);
    free(e->free_slots);
    free(e);
}
