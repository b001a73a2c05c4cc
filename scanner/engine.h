/*
 * engine.h - the event loop that runs every probe.
 *
 * One epoll instance, one pool of conns sized from --concurrency, one timer
 * heap, one token bucket for --rate. The engine pulls jobs from its caller
 * (next_job) whenever a slot and a token are free, and hands each finished
 * record to emit(); it never blocks: connects are nonblocking, TLS runs on
 * nonblocking sockets, output goes to a queue written by a thread of its
 * own (output/outq.h), and the only sleep is epoll_wait bounded by the
 * nearest deadline.
 *
 * Stalls (a SIGSTOP, a VM pause, swapping, a loop starved of CPU) must not
 * turn answered probes into timeouts. Two rules ensure it:
 *  - every socket that is ready is served before any deadline is judged:
 *    after epoll_wait returned a full batch the loop asks again (without
 *    waiting, a bounded number of times) before expiring deadlines;
 *  - deadlines run on the loop's own clock (engine_clock_ms), which counts
 *    a gap between two readings only up to what the loop asked to wait
 *    plus LOOP_STALL_MS; the rest was time the loop did not run, and a
 *    server is not blamed for it. time_ms in records uses the same clock.
 */
#ifndef MAILTLS_ENGINE_H
#define MAILTLS_ENGINE_H

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../output/lib/now.h"
#include "job.h"

struct engine_config {
    uint32_t concurrency;         /* conns in flight at most (pool size) */
    double rate;                  /* new connections per second; 0 = unlimited */
    uint32_t per_subnet;          /* probes in flight per /24 or /48; 0 = no cap */
    struct subnet_table *subnets; /* shared by all loops (workers.c); NULL = the engine's own */
    uint32_t connect_timeout_ms;
    uint32_t read_timeout_ms;  /* each reply, and the TLS handshake */
    uint32_t total_timeout_ms; /* whole probe */
    uint32_t grace_ms;         /* after SIGINT/SIGTERM, before `interrupted` */
    const char *ehlo_name;
    bool probe_auth;
    bool downgrade_checks; /* --downgrade-checks */
    SSL_CTX *ssl_ctx;
    uint32_t verify_cache_slots; /* --verify-cache: chain verdicts remembered per loop; 0 = none */
    /* Output backpressure (out_backpressure()): while it reads true no new
     * probe starts; probes in flight go on and finish. NULL = none. */
    const atomic_bool *backpressure;
};

enum job_next { JOB_READY, JOB_WAIT, JOB_END, JOB_FATAL };

struct engine_io {
    void *ctx;
    /* Next job. WAIT: nothing now, poll wait_fd() for input. May emit
     * records itself (malformed lines, blocklisted targets). */
    enum job_next (*next_job)(void *ctx, struct job *out);
    int (*wait_fd)(void *ctx);
    /* A finished record and the job it answers (NULL for records made
     * without a connection); -1 = output failed, the scan must stop. */
    int (*emit)(void *ctx, const struct job *j, struct record *r);
    /* Called at least every 250 ms (output flush, status line). -1 = stop. */
    int (*tick)(void *ctx, uint64_t now_ms);
    /* Optional, for a resolver living in the same loop (c-ares): readiness
     * of an fd registered with engine_watch_fd, and a deadline of its own
     * (absolute ms, 0 = none) that bounds epoll_wait; on_timer is called on
     * every loop turn. After either, a WAITing next_job is asked again. */
    void (*on_fd)(void *ctx, int fd, uint32_t events);
    uint64_t (*next_deadline)(void *ctx);
    void (*on_timer)(void *ctx, uint64_t now_ms);
    /* Optional, for JOB_TLS_TEST jobs (TLS enumeration): configure the SSL
     * object before the handshake (versions, cipher list), and learn the
     * outcome exactly once per test job. `ssl` is valid only during the call
     * and NULL when the probe ended before TLS (refused, STARTTLS refused,
     * timeout...); ok = handshake completed. */
    void (*tls_test_setup)(void *ctx, const struct job *j, SSL *ssl);
    void (*tls_test_done)(void *ctx, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                          const char *error);
    /* Optional, for raw JOB_TLS_TEST jobs (no OpenSSL, scanner/hello.h):
     * tls_test_hello writes the ClientHello to send (0 = this test uses
     * OpenSSL, tls_test_setup follows); tls_test_bytes gets what the
     * server sent, piece by piece (eof: the peer closed; n = 0), and
     * returns true once the answer is complete. Any other end of the test
     * (timeout, reset, close before an answer) reaches tls_test_done with
     * ssl NULL. */
    size_t (*tls_test_hello)(void *ctx, const struct job *j, unsigned char *buf, size_t cap);
    bool (*tls_test_bytes)(void *ctx, const struct job *j, const unsigned char *d, size_t n, bool eof);
};

struct engine_stats {
    uint64_t launched, finished, in_flight;
    uint64_t by_status[STATUS_COUNT];
    uint64_t starttls_ok;
    uint64_t tls_tests;                              /* enumeration handshakes (no record of their own) */
    uint64_t stalled_ms;                             /* time the loop did not run, left out of its clock */
    uint64_t backpressure_ms;                        /* time launching waited for the output */
    uint64_t verify_cache_hits, verify_cache_misses; /* chains verified: verdict remembered or not */
};

struct engine;
struct subnet_table;

struct engine *engine_new(const struct engine_config *cfg, const struct engine_io *io, char *err,
                          size_t errlen);
/* Runs until every job is done. Returns 0, or -1 when emit/tick failed. */
int engine_run(struct engine *e);
/* Adds, changes (events != 0) or removes (events == 0) an fd the caller
 * owns in the epoll set; events are EPOLLIN/EPOLLOUT. */
int engine_watch_fd(struct engine *e, int fd, uint32_t events);
/* Async-signal-safe: stop launching, give in-flight probes the grace period. */
void engine_request_stop(struct engine *e);
const struct engine_stats *engine_stats(const struct engine *e);
void engine_free(struct engine *e);

/* The loop's clock for deadlines: monotonic, stalls left out (see above).
 * Only on the loop's own thread. */
uint64_t engine_clock_ms(struct engine *e);

#endif
