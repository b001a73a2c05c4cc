/* workers.c - N engines, one feed, one lock (see workers.h). */
#include "workers.h"

#include "job.h"
#include "subnet.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS_MAX 64

/* The callbacks that take the lock, for the lock's accounting. */
enum w_cb { W_NEXT_JOB, W_WAIT_FD, W_EMIT, W_TICK, W_ON_FD, W_DEADLINE, W_ON_TIMER, W_TLS, W_CB_COUNT };
static const char *const w_cb_name[W_CB_COUNT] = {"next_job", "wait_fd",       "emit",     "tick",
                                                  "on_fd",    "next_deadline", "on_timer", "tls_test"};

/* hold_ns and wait_ns are wall time, which a loaded machine inflates
 * (a holder preempted keeps the lock); hold_cpu_ns is the holder's CPU
 * time, the serial work itself. */
struct w_lock_stat {
    uint64_t calls, contended, hold_ns, hold_cpu_ns, wait_ns;
};

struct workers;

/* One engine's side: what it took from the feed in its last turn of the
 * lock and has not asked for yet (workers_out.batch). */
struct w_side {
    struct workers *w;
    struct engine *engine;
    struct job *batch;  /* NULL without batching */
    unsigned batch_max; /* jobs one turn of the lock may take for this engine */
    uint32_t concurrency;
    unsigned head, n;
    bool fatal;         /* the feed failed after the batch was taken: said once it is used up */
    struct record *rec; /* for the interrupted records of jobs never launched */
};

struct workers {
    pthread_mutex_t lock;
    struct engine_io shared; /* the caller's io, called under lock */
    struct workers_out out;  /* work done before emit, outside the lock */
    unsigned n;
    struct engine *engines[WORKERS_MAX];
    int results[WORKERS_MAX];
    struct subnet_table subnets; /* --per-subnet counts for all loops */
    bool has_subnets;
    struct w_side side[WORKERS_MAX]; /* engine i's is side[i], its io's ctx */
    bool timed;                      /* MAILTLS_LOCK_STATS: account the lock (workers.h) */
    struct w_lock_stat stat[W_CB_COUNT];
};

/* One turn of the lock: when it was taken and how long that took. */
struct w_turn {
    uint64_t taken_ns, taken_cpu_ns, wait_ns;
    bool contended;
};

static uint64_t w_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t w_now_ns(void)
{
    return w_clock_ns(CLOCK_MONOTONIC);
}

static struct w_turn w_lock(struct workers *w)
{
    struct w_turn t = {0};
    if (!w->timed) {
        pthread_mutex_lock(&w->lock);
        return t;
    }
    uint64_t t0 = w_now_ns();
    if (pthread_mutex_trylock(&w->lock) != 0) {
        t.contended = true;
        pthread_mutex_lock(&w->lock);
    }
    t.taken_ns = w_now_ns();
    t.wait_ns = t.taken_ns - t0;
    t.taken_cpu_ns = w_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    return t;
}

/* The accounting is done while the lock is still held: no lock of its own. */
static void w_unlock(struct workers *w, enum w_cb cb, const struct w_turn *t)
{
    if (w->timed) {
        struct w_lock_stat *s = &w->stat[cb];
        s->calls++;
        s->contended += t->contended;
        s->wait_ns += t->wait_ns;
        s->hold_cpu_ns += w_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t->taken_cpu_ns;
        s->hold_ns += w_now_ns() - t->taken_ns;
    }
    pthread_mutex_unlock(&w->lock);
}

static int w_emit(void *ctx, const struct job *j, struct record *r);
static void w_tls_done(void *ctx, const struct job *j, SSL *ssl, bool ok, enum rec_status st,
                       const char *error);

static struct workers *w_of(void *ctx)
{
    return ((struct w_side *)ctx)->w;
}

/* Under the lock, after the feed gave one job: more in the same turn, as
 * many as the engine has free connection slots for (so that a stop finds
 * no more jobs taken than before, when nothing limits the rate), up to its
 * batch_max. A WAIT or END is not kept: the feed says it again when asked
 * after the batch (it repeats both); FATAL is kept. */
static void w_fill_batch(struct w_side *sd)
{
    struct workers *w = sd->w;
    uint64_t busy = __atomic_load_n(&engine_stats(sd->engine)->in_flight, __ATOMIC_RELAXED);
    uint64_t want = busy < sd->concurrency ? sd->concurrency - busy : 1; /* the job in hand included */
    if (want > sd->batch_max)
        want = sd->batch_max;
    sd->head = 0;
    while (sd->n + 1 < want) {
        enum job_next r = w->shared.next_job(w->shared.ctx, &sd->batch[sd->n]);
        if (r != JOB_READY) {
            sd->fatal = r == JOB_FATAL;
            return;
        }
        sd->n++;
    }
}

static enum job_next w_next_job(void *ctx, struct job *out)
{
    struct w_side *sd = ctx;
    struct workers *w = sd->w;
    if (sd->n > 0) {
        *out = sd->batch[sd->head++];
        sd->n--;
        return JOB_READY;
    }
    if (sd->fatal)
        return JOB_FATAL;
    struct w_turn t = w_lock(w);
    enum job_next r = w->shared.next_job(w->shared.ctx, out);
    if (r == JOB_READY && sd->batch)
        w_fill_batch(sd);
    w_unlock(w, W_NEXT_JOB, &t);
    return r;
}

/* After its engine stopped (a signal, a failed output): the jobs it took
 * and never launched still get their one record each, as the engine's own
 * queue does (engine.c interrupt_pending). */
static int w_interrupt_batch(struct w_side *sd)
{
    int rc = 0;
    while (sd->n > 0) {
        if (!sd->rec && !(sd->rec = malloc(sizeof *sd->rec)))
            return -1;
        const struct job *j = &sd->batch[sd->head++];
        sd->n--;
        if (j->kind != JOB_PROBE) { /* not batched today (workers.h); as engine.c would */
            if (sd->w->shared.tls_test_done)
                w_tls_done(sd, j, NULL, false, STATUS_INTERRUPTED, "interrupted");
            continue;
        }
        job_local_record(j, sd->rec, STATUS_INTERRUPTED, "scan interrupted before the probe started");
        if (w_emit(sd, j, sd->rec) < 0)
            rc = -1;
    }
    return rc;
}

static int w_wait_fd(void *ctx)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    int fd = w->shared.wait_fd ? w->shared.wait_fd(w->shared.ctx) : -1;
    w_unlock(w, W_WAIT_FD, &t);
    return fd;
}

static int w_emit(void *ctx, const struct job *j, struct record *r)
{
    struct workers *w = w_of(ctx);
    if (w->out.prepare)
        w->out.prepare(w->out.ctx, j, r);
    struct w_turn t = w_lock(w);
    int rc = w->shared.emit(w->shared.ctx, j, r);
    w_unlock(w, W_EMIT, &t);
    if (w->out.prepare)
        w->out.prepare(w->out.ctx, NULL, NULL); /* whatever was not taken is stale now */
    return rc;
}

static int w_tick(void *ctx, uint64_t now)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    int rc = w->shared.tick ? w->shared.tick(w->shared.ctx, now) : 0;
    w_unlock(w, W_TICK, &t);
    return rc;
}

static void w_on_fd(void *ctx, int fd, uint32_t events)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    w->shared.on_fd(w->shared.ctx, fd, events);
    w_unlock(w, W_ON_FD, &t);
}

static uint64_t w_next_deadline(void *ctx)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    uint64_t d = w->shared.next_deadline(w->shared.ctx);
    w_unlock(w, W_DEADLINE, &t);
    return d;
}

static void w_on_timer(void *ctx, uint64_t now)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    w->shared.on_timer(w->shared.ctx, now);
    w_unlock(w, W_ON_TIMER, &t);
}

static void w_tls_setup(void *ctx, const struct job *j, SSL *ssl)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    w->shared.tls_test_setup(w->shared.ctx, j, ssl);
    w_unlock(w, W_TLS, &t);
}

static size_t w_tls_hello(void *ctx, const struct job *j, unsigned char *buf, size_t cap)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    size_t n = w->shared.tls_test_hello(w->shared.ctx, j, buf, cap);
    w_unlock(w, W_TLS, &t);
    return n;
}

static bool w_tls_bytes(void *ctx, const struct job *j, const unsigned char *d, size_t n, bool eof)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    bool done = w->shared.tls_test_bytes(w->shared.ctx, j, d, n, eof);
    w_unlock(w, W_TLS, &t);
    return done;
}

static void w_tls_done(void *ctx, const struct job *j, SSL *ssl, bool ok, enum rec_status st,
                       const char *error)
{
    struct workers *w = w_of(ctx);
    struct w_turn t = w_lock(w);
    w->shared.tls_test_done(w->shared.ctx, j, ssl, ok, st, error);
    w_unlock(w, W_TLS, &t);
}

struct workers *workers_new(const struct engine_config *cfg, const struct engine_io *io,
                            const struct workers_out *out, unsigned threads, char *err, size_t errlen)
{
    if (threads < 1)
        threads = 1;
    if (threads > WORKERS_MAX)
        threads = WORKERS_MAX;
    if (threads > cfg->concurrency)
        threads = cfg->concurrency;
    struct workers *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->shared = *io;
    if (out)
        w->out = *out;
    const char *timed = getenv("MAILTLS_LOCK_STATS");
    w->timed = timed && *timed && strcmp(timed, "0") != 0;
    if (w->out.batch > WORKERS_BATCH_MAX)
        w->out.batch = WORKERS_BATCH_MAX;
    w->n = threads;
    w->has_subnets = true; /* workers_free frees even half of a failed init */
    if (subnet_init(&w->subnets, cfg->concurrency) < 0) {
        snprintf(err, errlen, "out of memory");
        workers_free(w);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        struct engine_config c = *cfg;
        c.concurrency = cfg->concurrency / threads + (i < cfg->concurrency % threads ? 1 : 0);
        c.rate = cfg->rate / threads;
        c.subnets = &w->subnets; /* one count per subnet for the whole scan */
        struct w_side *sd = &w->side[i];
        sd->w = w;
        sd->concurrency = c.concurrency;
        /* with --rate, at most a millisecond's worth of launches waits in
         * a batch: below 2,000/s per loop, no batching (nor need of it) */
        sd->batch_max = c.rate > 0 && c.rate / 1000 < w->out.batch ? (unsigned)(c.rate / 1000) : w->out.batch;
        if (sd->batch_max > 1 && !(sd->batch = calloc(sd->batch_max, sizeof *sd->batch))) {
            snprintf(err, errlen, "out of memory");
            workers_free(w);
            return NULL;
        }
        struct engine_io wio = {
            .ctx = sd,
            .next_job = w_next_job,
            .wait_fd = io->wait_fd ? w_wait_fd : NULL,
            .emit = w_emit,
            .tick = w_tick,
            .tls_test_setup = io->tls_test_setup ? w_tls_setup : NULL,
            .tls_test_done = io->tls_test_done ? w_tls_done : NULL,
            .tls_test_hello = io->tls_test_hello ? w_tls_hello : NULL,
            .tls_test_bytes = io->tls_test_bytes ? w_tls_bytes : NULL,
        };
        if (i == 0) {
            wio.on_fd = io->on_fd ? w_on_fd : NULL;
            wio.next_deadline = io->next_deadline ? w_next_deadline : NULL;
            wio.on_timer = io->on_timer ? w_on_timer : NULL;
        }
        w->engines[i] = sd->engine = engine_new(&c, &wio, err, errlen);
        if (!w->engines[i]) {
            workers_free(w);
            return NULL;
        }
    }
    return w;
}

/* One engine's loop, then the answer for the jobs it took and never
 * launched. */
static int run_side(struct w_side *sd)
{
    int rc = engine_run(sd->engine);
    if (w_interrupt_batch(sd) < 0)
        rc = -1;
    return rc;
}

static void *run_one(void *arg)
{
    return (void *)(intptr_t)run_side(arg);
}

int workers_run(struct workers *w)
{
    pthread_t tids[WORKERS_MAX];
    for (unsigned i = 1; i < w->n; i++)
        if (pthread_create(&tids[i], NULL, run_one, &w->side[i]) != 0)
            w->results[i] = -2; /* could not start: run it on this thread after engine 0 */
    int rc = run_side(&w->side[0]);
    for (unsigned i = 1; i < w->n; i++) {
        if (w->results[i] == -2) {
            w->results[i] = run_side(&w->side[i]);
            continue;
        }
        void *res;
        pthread_join(tids[i], &res);
        w->results[i] = (int)(intptr_t)res;
    }
    for (unsigned i = 1; i < w->n; i++)
        if (w->results[i] < 0)
            rc = -1;
    return rc;
}

void workers_request_stop(struct workers *w)
{
    for (unsigned i = 0; i < w->n; i++)
        engine_request_stop(w->engines[i]);
}

struct engine *workers_main_engine(struct workers *w)
{
    return w->engines[0];
}

void workers_stats(const struct workers *w, struct engine_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < w->n; i++) {
        const struct engine_stats *s = engine_stats(w->engines[i]);
        out->launched += s->launched;
        out->finished += s->finished;
        out->in_flight += s->in_flight;
        out->starttls_ok += s->starttls_ok;
        out->tls_tests += s->tls_tests;
        out->stalled_ms += s->stalled_ms;
        out->backpressure_ms += s->backpressure_ms;
        out->verify_cache_hits += s->verify_cache_hits;
        out->verify_cache_misses += s->verify_cache_misses;
        for (int k = 0; k < STATUS_COUNT; k++)
            out->by_status[k] += s->by_status[k];
    }
}

uint64_t workers_open_conns(const struct workers *w)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < w->n; i++)
        n += __atomic_load_n(&engine_stats(w->engines[i])->in_flight, __ATOMIC_RELAXED);
    return n;
}

static void w_print_stat(FILE *f, const char *name, const struct w_lock_stat *s)
{
    fprintf(f, "mailtls-scan: lock %s calls=%llu contended=%llu hold_ns=%llu hold_cpu_ns=%llu wait_ns=%llu",
            name, (unsigned long long)s->calls, (unsigned long long)s->contended,
            (unsigned long long)s->hold_ns, (unsigned long long)s->hold_cpu_ns,
            (unsigned long long)s->wait_ns);
}

/* What the accounting itself adds to hold_cpu_ns per turn: the cheapest
 * of many back-to-back reads of the thread-CPU clock (a system call). */
static uint64_t w_clock_overhead_ns(void)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = w_clock_ns(CLOCK_THREAD_CPUTIME_ID), b = w_clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if (b - a < best)
            best = b - a;
    }
    return best;
}

void workers_lock_stats(const struct workers *w, FILE *f)
{
    if (!w->timed)
        return;
    struct w_lock_stat all = {0};
    for (int i = 0; i < W_CB_COUNT; i++) {
        const struct w_lock_stat *s = &w->stat[i];
        all.calls += s->calls;
        all.contended += s->contended;
        all.hold_ns += s->hold_ns;
        all.hold_cpu_ns += s->hold_cpu_ns;
        all.wait_ns += s->wait_ns;
        if (s->calls) {
            w_print_stat(f, w_cb_name[i], s);
            fputc('\n', f);
        }
    }
    w_print_stat(f, "all", &all);
    fprintf(f, " threads=%u clock_overhead_ns=%llu\n", w->n, (unsigned long long)w_clock_overhead_ns());
}

void workers_free(struct workers *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->n; i++) {
        engine_free(w->engines[i]);
        free(w->side[i].batch);
        free(w->side[i].rec);
    }
    if (w->has_subnets)
        subnet_free(&w->subnets);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
