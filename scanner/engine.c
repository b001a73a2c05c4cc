/*
 * engine.c - the epoll loop, the conn pool, and the actions protocols use.
 *
 * Loop turn:
 *   1. launch new probes while a slot and a rate token are free;
 *   2. epoll_wait, bounded by the nearest deadline / next token / tick;
 *   3. dispatch readiness to conns (stale events are dropped by generation);
 *   4. expire deadlines from the top of the timer heap;
 *   5. tick the caller (output flush, status line).
 * A finished conn emits its record at once, closes its socket and returns
 * to the free list; the slot is reused only on a later turn.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "reply.h"
#include "subnet.h"
#include "timer.h"
#include "tls.h"

#define EV_BATCH 256
#define TICK_MS 250
#define QUIT_WAIT_MAX_MS 2000
#define INPUT_SLOT UINT32_MAX
#define EXT_SLOT (UINT32_MAX - 1) /* fds of the caller (resolver); low bits = fd */
#define PENDING_MAX 1024          /* jobs taken from the input but not yet started */

struct engine {
    struct engine_config cfg;
    struct engine_io io;
    int epfd;
    struct conn *pool;
    uint32_t *free_slots;
    uint32_t free_n;
    struct timer_heap timers;
    struct engine_stats stats;

    double tokens;
    uint64_t tokens_at_ms;
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
    bool pending_blocked; /* none of them can start until a probe ends */
    struct subnet_table own_subnets;
    struct subnet_table *subnets; /* own_subnets, or the table all loops share */
    uint64_t max_in_flight;
    bool warned_fd;
    uint64_t last_tick_ms;
};

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- phase names and deadlines ---------------------------------------- */

static const char *phase_name(const struct conn *c)
{
    switch (c->phase) {
    case PHASE_FREE: return "free";
    case PHASE_CONNECTING: return "connect";
    case PHASE_TLS_HANDSHAKE: return "tls-handshake";
    case PHASE_AWAIT_QUIT_REPLY: return "await-quit-reply";
    default: return c->ops->phase_name(c->phase);
    }
}

static void set_deadline(struct conn *c, uint64_t phase_deadline_ms)
{
    c->deadline_ms = min_u64(phase_deadline_ms, c->total_deadline_ms);
    timer_set(&c->eng->timers, c);
}

static void set_phase(struct conn *c, int phase, uint32_t timeout_ms)
{
    c->phase = phase;
    set_deadline(c, now_ms() + timeout_ms);
}

/* ---- epoll interest ----------------------------------------------------- */

static uint64_t ev_key(const struct conn *c)
{
    return ((uint64_t)c->slot << 32) | c->gen;
}

static void update_interest(struct conn *c)
{
    uint32_t mask;
    if (c->phase == PHASE_CONNECTING)
        mask = EPOLLOUT;
    else
        mask = EPOLLIN | ((c->tx_len > 0 || c->tls_wants_write) ? EPOLLOUT : 0);
    if (mask == c->epoll_mask)
        return;
    struct epoll_event ev = {.events = mask, .data.u64 = ev_key(c)};
    epoll_ctl(c->eng->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->epoll_mask = mask;
}

/* ---- finishing ------------------------------------------------------- */

static void finish_v(struct conn *c, enum rec_status status, const char *fmt, va_list ap)
{
    struct engine *e = c->eng;
    if (c->phase == PHASE_FREE)
        return;
    struct record *r = &c->rec;
    rec_set_status(r, status);
    if (fmt) {
        char buf[256];
        int n = vsnprintf(buf, sizeof buf, fmt, ap);
        if (n > 0)
            rec_set_text(r, F_ERROR, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    rec_set_str(r, F_PHASE, phase_name(c));
    rec_set_int(r, F_TIME_MS, (int64_t)(now_ms() - c->start_ms));
    bool is_test = c->job.kind == JOB_TLS_TEST;
    if (is_test && !c->test_reported && e->io.tls_test_done) {
        size_t elen = 0;
        const unsigned char *etext = rec_has(r, F_ERROR) ? rec_text(r, F_ERROR, &elen) : NULL;
        char ebuf[256];
        snprintf(ebuf, sizeof ebuf, "%.*s", (int)elen, etext ? (const char *)etext : "");
        c->test_reported = true;
        e->io.tls_test_done(e->io.ctx, &c->job, NULL, false, status, ebuf);
    }

    tls_detach(c);
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    timer_remove(&e->timers, c);
    c->phase = PHASE_FREE;
    c->gen++;

    e->stats.finished++;
    e->stats.in_flight--;
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

void conn_finish(struct conn *c, enum rec_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish_v(c, status, fmt, ap);
    va_end(ap);
}

/* ---- output ---------------------------------------------------------- */

/* Writes what tx holds; keeps the rest for EPOLLOUT. */
static void flush_tx(struct conn *c)
{
    while (c->tx_len > 0) {
        size_t n = 0;
        if (c->is_tls) {
            char err[160];
            enum tls_io r = tls_write(c, c->tx, c->tx_len, &n, err, sizeof err);
            if (r == TLS_IO_WANT)
                break;
            if (r != TLS_IO_DONE) {
                conn_finish(c, r == TLS_IO_EOF ? STATUS_CLOSED : STATUS_RESET, "%s", err);
                return;
            }
        } else {
            ssize_t w = send(c->fd, c->tx, c->tx_len, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                int saved = errno;
                conn_finish(c, saved == ECONNRESET || saved == EPIPE ? STATUS_RESET : STATUS_CLOSED,
                            "send: %s", strerror(saved));
                return;
            }
            n = (size_t)w;
        }
        memmove(c->tx, c->tx + n, c->tx_len - n);
        c->tx_len = (uint16_t)(c->tx_len - n);
    }
    update_interest(c);
}

void conn_send(struct conn *c, const char *data, size_t len)
{
    if (c->phase == PHASE_FREE)
        return;
    if (len > (size_t)(TX_CAP_BYTES - c->tx_len)) {
        conn_finish(c, STATUS_LOCAL_ERROR, "command longer than the send buffer");
        return;
    }
    memcpy(c->tx + c->tx_len, data, len);
    c->tx_len = (uint16_t)(c->tx_len + len);
    flush_tx(c);
}

void conn_sendf(struct conn *c, const char *fmt, ...)
{
    char buf[TX_CAP_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        conn_finish(c, STATUS_LOCAL_ERROR, "command too long");
        return;
    }
    conn_send(c, buf, (size_t)n);
}

void conn_expect(struct conn *c, int phase)
{
    if (c->phase == PHASE_FREE)
        return;
    conn_reply_clear(c);
    set_phase(c, phase, c->eng->cfg.read_timeout_ms);
}

void conn_quit(struct conn *c, const char *cmd, enum rec_status status)
{
    if (c->phase == PHASE_FREE)
        return;
    c->final_status = status;
    c->quitting = true;
    conn_send(c, cmd, strlen(cmd));
    if (c->phase == PHASE_FREE)
        return;
    set_phase(c, PHASE_AWAIT_QUIT_REPLY, min_u64(c->eng->cfg.read_timeout_ms, QUIT_WAIT_MAX_MS));
}

void conn_reply_clear(struct conn *c)
{
    c->reply_len = 0;
    c->reply_lines = 0;
}

void conn_reply_add(struct conn *c, const char *line, size_t len)
{
    size_t room = REPLY_CAP_BYTES - c->reply_len;
    if (room > 2) {
        size_t n = len < room - 2 ? len : room - 2;
        memcpy(c->reply + c->reply_len, line, n);
        c->reply_len = (uint16_t)(c->reply_len + n);
        c->reply[c->reply_len++] = '\r';
        c->reply[c->reply_len++] = '\n';
    }
    c->reply_lines++;
}

const char *conn_ehlo_name(const struct conn *c)
{
    return c->eng->cfg.ehlo_name;
}

bool conn_probe_auth(const struct conn *c)
{
    return c->eng->cfg.probe_auth && c->job.kind == JOB_PROBE;
}

/* ---- TLS ------------------------------------------------------------- */

static void drive_handshake(struct conn *c)
{
    char err[200];
    enum tls_io r = tls_handshake(c, err, sizeof err);
    if (r == TLS_IO_WANT) {
        update_interest(c);
        return;
    }
    if (c->job.kind == JOB_TLS_TEST && c->eng->io.tls_test_done) {
        /* an enumeration handshake ends here, accepted or not */
        c->test_reported = true;
        c->eng->io.tls_test_done(c->eng->io.ctx, &c->job, c->tls, r == TLS_IO_DONE,
                                 r == TLS_IO_DONE ? STATUS_OK : STATUS_TLS_FAILED, r == TLS_IO_DONE ? NULL : err);
        conn_finish(c, r == TLS_IO_DONE ? STATUS_OK : STATUS_TLS_FAILED, NULL);
        return;
    }
    if (r != TLS_IO_DONE) {
        if (c->job.port.mode == TLS_MODE_STARTTLS)
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
        conn_finish(c, STATUS_TLS_FAILED, "%s", err);
        return;
    }
    c->is_tls = true;
    tls_record_facts(c);
    update_interest(c);
    if (c->job.port.mode == TLS_MODE_STARTTLS) {
        rec_set_bool(&c->rec, F_STARTTLS_OK, true);
        c->ops->on_tls_up(c);
    } else {
        c->ops->on_start(c);
    }
}

static void begin_tls(struct conn *c)
{
    if (tls_attach(c, c->eng->cfg.ssl_ctx) < 0) {
        conn_finish(c, STATUS_LOCAL_ERROR, "cannot create TLS state");
        return;
    }
    if (c->job.kind == JOB_TLS_TEST && c->eng->io.tls_test_setup)
        c->eng->io.tls_test_setup(c->eng->io.ctx, &c->job, c->tls);
    set_phase(c, PHASE_TLS_HANDSHAKE, c->eng->cfg.read_timeout_ms);
    drive_handshake(c);
}

void conn_start_tls(struct conn *c)
{
    if (c->phase == PHASE_FREE)
        return;
    /* Plaintext that arrived after the go-ahead is a finding (it would be
     * injected into the TLS session by a naive client); it is dropped here
     * and never reaches OpenSSL. */
    rec_set_int(&c->rec, F_STARTTLS_EXTRA_BYTES, (int64_t)(c->rx_len - c->rx_off));
    c->rx_off = c->rx_len;
    begin_tls(c);
}

/* ---- input ----------------------------------------------------------- */

static void on_eof(struct conn *c, const char *why)
{
    if (c->quitting)
        conn_finish(c, c->final_status, NULL);
    else
        conn_finish(c, STATUS_CLOSED, "%s", why);
}

/* Hands every complete line in rx to the protocol. Stops when the probe
 * finished or TLS started (the rest of rx then belongs to no one). */
static void process_lines(struct conn *c)
{
    uint32_t gen = c->gen;
    while (c->gen == gen && c->phase != PHASE_TLS_HANDSHAKE && c->rx_off < c->rx_len) {
        unsigned char *p = c->rx + c->rx_off;
        size_t avail = (size_t)(c->rx_len - c->rx_off);
        if (c->literal_left > 0) {
            size_t skip = avail < c->literal_left ? avail : c->literal_left;
            c->literal_left -= (uint32_t)skip;
            c->rx_off = (uint16_t)(c->rx_off + skip);
            continue;
        }
        size_t line_len;
        size_t used = lines_next(p, avail, &line_len);
        if (used == 0)
            break;
        c->rx_off = (uint16_t)(c->rx_off + used);
        if (c->quitting)
            conn_finish(c, c->final_status, NULL);
        else
            c->ops->on_line(c, (const char *)p, line_len);
    }
    if (c->gen != gen || c->phase == PHASE_FREE)
        return;
    /* compact: keep only the unframed tail */
    if (c->rx_off > 0) {
        memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
        c->rx_len = (uint16_t)(c->rx_len - c->rx_off);
        c->rx_off = 0;
    }
    if (c->rx_len == RX_CAP_BYTES)
        conn_finish(c, STATUS_PROTOCOL_ERROR, "line longer than %d bytes", RX_CAP_BYTES);
}

static void on_readable(struct conn *c)
{
    uint32_t gen = c->gen;
    /* Reads until the socket (or OpenSSL) has nothing more: data already
     * decrypted inside OpenSSL would not wake epoll again. RX_TOTAL_MAX_BYTES
     * bounds the loop. */
    while (c->gen == gen && c->phase != PHASE_TLS_HANDSHAKE && c->phase != PHASE_FREE) {
        size_t room = RX_CAP_BYTES - c->rx_len, n = 0;
        if (room == 0)
            break;
        if (c->is_tls) {
            char err[200];
            enum tls_io r = tls_read(c, c->rx + c->rx_len, room, &n, err, sizeof err);
            if (r == TLS_IO_WANT) {
                update_interest(c);
                return;
            }
            if (r == TLS_IO_EOF) {
                on_eof(c, err);
                return;
            }
            if (r == TLS_IO_ERROR) {
                if (c->quitting)
                    conn_finish(c, c->final_status, NULL);
                else
                    conn_finish(c, errno == ECONNRESET ? STATUS_RESET : STATUS_TLS_FAILED, "%s", err);
                return;
            }
        } else {
            ssize_t got = recv(c->fd, c->rx + c->rx_len, room, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return;
                int saved = errno;
                if (c->quitting)
                    conn_finish(c, c->final_status, NULL);
                else
                    conn_finish(c, saved == ECONNRESET ? STATUS_RESET : STATUS_CLOSED, "recv: %s",
                                strerror(saved));
                return;
            }
            if (got == 0) {
                on_eof(c, "connection closed by peer");
                return;
            }
            n = (size_t)got;
        }
        c->rx_len = (uint16_t)(c->rx_len + n);
        c->rx_total += (uint32_t)n;
        if (c->rx_total > RX_TOTAL_MAX_BYTES) {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "server sent more than %d bytes", RX_TOTAL_MAX_BYTES);
            return;
        }
        process_lines(c);
    }
}

/* ---- connect --------------------------------------------------------- */

static enum rec_status connect_status(int err)
{
    switch (err) {
    case ECONNREFUSED: return STATUS_REFUSED;
    case ETIMEDOUT: return STATUS_CONNECT_TIMEOUT;
    case EHOSTUNREACH:
    case ENETUNREACH: return STATUS_UNREACHABLE;
    case ECONNRESET: return STATUS_RESET;
    default: return STATUS_CONNECT_ERROR;
    }
}

static void on_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_finish(c, connect_status(err), "connect: %s", strerror(err));
        return;
    }
    if (c->job.port.mode == TLS_MODE_IMPLICIT) {
        begin_tls(c);
    } else {
        c->phase = PHASE_PROTO; /* protocol sets its own phase in on_start */
        update_interest(c);
        c->ops->on_start(c);
    }
}

static const struct proto_ops *ops_for(enum mt_proto p)
{
    switch (p) {
    case PROTO_SMTP: return &smtp_ops;
    case PROTO_IMAP: return &imap_ops;
    case PROTO_POP3: return &pop3_ops;
    }
    return &smtp_ops;
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
    c->start_ms = now_ms();
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
    e->stats.in_flight++;

    c->fd = socket(job->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 && (errno == EMFILE || errno == ENFILE) && e->stats.in_flight > 1) {
        /* out of descriptors: not the target's fault. Give the slot back,
         * keep the job for later and run with what the system allows. */
        int saved = errno;
        c->phase = PHASE_FREE;
        timer_remove(&e->timers, c);
        e->free_slots[e->free_n++] = slot;
        e->stats.launched--;
        e->stats.in_flight--;
        if (subnet)
            subnet_release(e->subnets, subnet);
        pending_push(e, job); /* launch_ready keeps one ring slot for this */
        e->max_in_flight = e->stats.in_flight;
        if (!e->warned_fd) {
            e->warned_fd = true;
            fprintf(stderr, "mailtls-scan: %s; running with %llu probes in flight\n", strerror(saved),
                    (unsigned long long)e->max_in_flight);
        }
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
    set_deadline(c, c->start_ms + e->cfg.connect_timeout_ms);
    if (connect(c->fd, (const struct sockaddr *)&job->addr, job->addr_len) < 0 && errno != EINPROGRESS) {
        int saved = errno;
        conn_finish(c, connect_status(saved), "connect: %s", strerror(saved));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = ev_key(c)};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        int saved = errno;
        conn_finish(c, STATUS_LOCAL_ERROR, "epoll_ctl: %s", strerror(saved));
        return;
    }
    c->epoll_mask = EPOLLOUT;
}

/* ---- deadlines ------------------------------------------------------- */

static void on_deadline(struct conn *c)
{
    if (c->quitting) {
        conn_finish(c, c->final_status, NULL);
        return;
    }
    bool total = c->deadline_ms >= c->total_deadline_ms;
    switch (c->phase) {
    case PHASE_CONNECTING:
        conn_finish(c, STATUS_CONNECT_TIMEOUT, "no answer to connect within %u ms",
                    (unsigned)(c->deadline_ms - c->start_ms));
        break;
    case PHASE_TLS_HANDSHAKE:
        if (c->job.port.mode == TLS_MODE_STARTTLS)
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
        conn_finish(c, STATUS_READ_TIMEOUT, "TLS handshake not complete in time%s",
                    total ? " (total deadline)" : "");
        break;
    default:
        conn_finish(c, STATUS_READ_TIMEOUT, "reply not complete in time%s%s",
                    total ? " (total deadline)" : "", c->rx_len ? ", partial line received" : "");
        break;
    }
}

static void expire(struct engine *e, uint64_t now)
{
    struct conn *c;
    while ((c = timer_top(&e->timers)) && c->deadline_ms <= now)
        on_deadline(c);
}

/* ---- launching under the rate limit ---------------------------------- */

static void refill_tokens(struct engine *e, uint64_t now)
{
    if (e->cfg.rate <= 0)
        return;
    double burst = e->cfg.rate / 50.0 > 1.0 ? e->cfg.rate / 50.0 : 1.0;
    e->tokens += (double)(now - e->tokens_at_ms) * e->cfg.rate / 1000.0;
    if (e->tokens > burst)
        e->tokens = burst;
    e->tokens_at_ms = now;
}

static void watch_input(struct engine *e, bool on)
{
    int fd = e->io.wait_fd ? e->io.wait_fd(e->io.ctx) : -1;
    if (on && fd >= 0 && e->input_fd_registered != fd) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)INPUT_SLOT << 32};
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
        e->input_fd_registered = fd;
    } else if (!on && e->input_fd_registered >= 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->input_fd_registered, NULL);
        e->input_fd_registered = -1;
    }
}

static bool input_open(const struct engine *e)
{
    /* one ring slot stays free for a job that finds no descriptor */
    return !e->input_done && !e->input_waiting && e->pending_n < PENDING_MAX - 1;
}

static bool may_launch(const struct engine *e)
{
    return !e->stop_at_ms && e->free_n > 0 && !e->fatal &&
           !(e->max_in_flight && e->stats.in_flight >= e->max_in_flight);
}

static void launch_ready(struct engine *e, uint64_t now)
{
    refill_tokens(e, now);
    /* bounded per turn so a huge input cannot starve the event loop */
    for (int i = 0; i < 4096 && may_launch(e); i++) {
        if (e->cfg.rate > 0 && e->tokens < 1.0)
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
        if (e->cfg.rate > 0)
            e->tokens -= 1.0;
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
        uint64_t d = e->io.next_deadline(e->io.ctx);
        if (d)
            until = min_u64(until, d);
    }
    bool can_launch = may_launch(e) && ((e->pending_n > 0 && !e->pending_blocked) || input_open(e));
    if (can_launch) {
        if (e->cfg.rate <= 0 || e->tokens >= 1.0)
            return 0;
        uint64_t next = now + (uint64_t)((1.0 - e->tokens) * 1000.0 / e->cfg.rate) + 1;
        until = min_u64(until, next);
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
    uint32_t gen = c->gen;
    if (c->phase == PHASE_CONNECTING) {
        on_connected(c);
        return;
    }
    if (c->phase == PHASE_TLS_HANDSHAKE) {
        drive_handshake(c);
        return;
    }
    if ((ev->events & EPOLLOUT) && c->tx_len > 0)
        flush_tx(c);
    if (c->gen == gen && c->phase != PHASE_FREE && (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT)))
        on_readable(c);
}

/* A job taken from the input that never started still gets its answer. */
static void interrupt_pending(struct engine *e, const struct job *j)
{
    if (j->kind == JOB_PROBE) {
        static struct record rec; /* the loop thread's own; big for the stack */
        job_to_record(j, &rec);
        rec_set_status(&rec, STATUS_INTERRUPTED);
        rec_set_str(&rec, F_ERROR, "scan interrupted before the probe started");
        if (e->io.emit(e->io.ctx, j, &rec) < 0)
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
    e->tokens_at_ms = now_ms();
    e->tokens = 1.0;
    for (;;) {
        uint64_t now = now_ms();
        if (e->stop_requested && !e->stop_at_ms)
            e->stop_at_ms = now + e->cfg.grace_ms;
        launch_ready(e, now);
        if (e->fatal)
            break;
        if (e->stats.in_flight == 0 && e->pending_n == 0 && (e->input_done || e->stop_at_ms))
            break;
        int n = epoll_wait(e->epfd, evs, EV_BATCH, wait_timeout_ms(e, now_ms()));
        if (n < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < n && !e->fatal; i++)
            dispatch(e, &evs[i]);
        now = now_ms();
        expire(e, now);
        if (e->io.on_timer) {
            e->io.on_timer(e->io.ctx, now);
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
            if (e->io.tick && e->io.tick(e->io.ctx, now) < 0)
                e->fatal = true;
        }
        if (e->fatal)
            break;
    }
    return e->fatal ? -1 : 0;
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
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->pool = calloc(cfg->concurrency, sizeof *e->pool);
    e->free_slots = calloc(cfg->concurrency, sizeof *e->free_slots);
    e->pending = calloc(PENDING_MAX, sizeof *e->pending);
    if (e->epfd < 0 || !e->pool || !e->free_slots || !e->pending || timer_init(&e->timers, cfg->concurrency) < 0 ||
        (!cfg->subnets && subnet_init(&e->own_subnets, cfg->concurrency) < 0)) {
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
    if (e->epfd >= 0)
        close(e->epfd);
    timer_free(&e->timers);
    if (e->subnets == &e->own_subnets)
        subnet_free(&e->own_subnets);
    free(e->pending);
    free(e->pool);
    free(e->free_slots);
    free(e);
}
