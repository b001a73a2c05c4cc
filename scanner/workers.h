/*
 * workers.h - --threads: one engine (epoll loop, conn pool) per thread over
 * one shared feed.
 *
 * Every call an engine makes into the shared engine_io (next_job, emit,
 * tick, the TLS-test hooks) is serialised by one mutex, so the feed, the
 * enumerator and the writer need no locking of their own, and the output
 * stays one stream ordered by completion. The lock is only ever held for
 * work in memory: the writer formats into its queue and a thread of its
 * own does the writing (writer.h, background), so a slow disk or a paused
 * reader of stdout never stalls a loop through this lock; it only stops
 * the loops from launching (engine_config.backpressure). The resolver
 * hooks (on_fd, next_deadline, on_timer) go to engine 0 only: c-ares
 * lives in that loop.
 * The SSL_CTX is shared (OpenSSL 3 allows SSL_new from many threads).
 *
 * What runs under the lock caps the whole scan at 1 / (hold time per
 * probe) whatever the core count (tools/BENCH.md, "Multi-core model"), so
 * per-record work that needs no shared state runs before it, on the
 * emitting engine's thread: workers_out.prepare (the sink formats the
 * record there; under the lock it only appends the bytes), and an engine
 * takes its jobs in batches (workers_out.batch), one turn of the lock for
 * several probes.
 *
 * MAILTLS_LOCK_STATS=1 in the environment times every turn of the lock
 * per callback (wall and thread-CPU clocks); workers_lock_stats() prints
 * the totals (mailtls-scan does at exit, for tools/bench threads).
 */
#ifndef MAILTLS_WORKERS_H
#define MAILTLS_WORKERS_H

#include <stdio.h>

#include "engine.h"

struct workers;

#define WORKERS_BATCH_MAX 64

/* Optional. prepare(ctx, j, r) runs before every emit, outside the lock,
 * on the thread that will emit r (j may be NULL as for emit); then
 * prepare(ctx, NULL, NULL) runs after the emit returned: what was prepared
 * and not used is stale from then on.
 * batch > 1: an engine asking for a job takes up to `batch` in one turn of
 * the lock (at most WORKERS_BATCH_MAX; no more than it has free connection
 * slots, nor than a millisecond of its --rate) and gets the rest from its
 * own list without the lock. Jobs it took and never launched (a stop) get
 * their `interrupted` record when its loop ends. Only for a feed whose jobs need
 * nothing from it until they finish (not the TLS enumerator's tests, which
 * it schedules per address). */
struct workers_out {
    void *ctx;
    void (*prepare)(void *ctx, const struct job *j, struct record *r);
    unsigned batch;
};

/* cfg->concurrency and cfg->rate are divided among the threads. */
struct workers *workers_new(const struct engine_config *cfg, const struct engine_io *io,
                            const struct workers_out *out, unsigned threads, char *err, size_t errlen);
int workers_run(struct workers *w);
/* Async-signal-safe. */
void workers_request_stop(struct workers *w);
/* The engine that owns the resolver's descriptors. */
struct engine *workers_main_engine(struct workers *w);
/* Sum of every engine's counters. */
void workers_stats(const struct workers *w, struct engine_stats *out);
/* Connections open now in all loops; safe while they run (the status line). */
uint64_t workers_open_conns(const struct workers *w);
/* MAILTLS_LOCK_STATS: one line per callback that took the lock, then the
 * total ("lock all calls=N contended=N hold_ns=N hold_cpu_ns=N wait_ns=N
 * threads=N clock_overhead_ns=N"; the last is what one turn's accounting
 * adds to hold_cpu_ns).
 * Nothing without it. Call after workers_run. */
void workers_lock_stats(const struct workers *w, FILE *f);
void workers_free(struct workers *w);

#endif
