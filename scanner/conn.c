/*
 * conn.c - one connection's life: deadlines, epoll interest, sending,
 * framing received lines for the protocol, the TLS handshake, and the end
 * of the probe. engine.c owns the pool and the loop and calls in here with
 * readiness (conn_on_event) and expired deadlines (conn_on_deadline); the
 * protocol files use the conn_* actions declared in conn.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn_trace.h"
#include "engine_int.h"
#include "hello.h"
#include "reply.h"
#include "tls.h"

/* ---- deadlines ---------------------------------------------------------- */

void conn_set_deadline(struct conn *c, uint64_t phase_deadline_ms)
{
    c->deadline_ms = min_u64(phase_deadline_ms, c->total_deadline_ms);
    timer_set(&c->eng->timers, c);
}

static void set_phase(struct conn *c, int phase, uint32_t timeout_ms)
{
    CONN_TRACE(c, conn_phase_name(c, phase), c->is_tls ? "tls" : "cleartext");
    c->phase = phase;
    conn_set_deadline(c, engine_clock_ms(c->eng) + timeout_ms);
}

/* ---- epoll interest ----------------------------------------------------- */

uint64_t conn_ev_key(const struct conn *c)
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
    struct epoll_event ev = {.events = mask, .data.u64 = conn_ev_key(c)};
    if (epoll_ctl(c->eng->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        /* without the registration no event would ever come: the probe
         * would sit until its deadline and be judged a silent server */
        int saved = errno;
        conn_finish(c, STATUS_LOCAL_ERROR, "epoll_ctl: %s", strerror(saved));
        return;
    }
    c->epoll_mask = mask;
}

/* ---- finishing ------------------------------------------------------- */

static void start_injection(struct conn *c);

/* --downgrade-checks: TLS worked on the probe's connection; the injection
 * test has not run yet; the scan is not stopping (no new connection then). */
static bool injection_due(const struct conn *c, enum rec_status status)
{
    const struct record *r = &c->rec;
    return conn_downgrade_checks(c) && !c->is_injection && rec_has(r, F_STARTTLS_OK) &&
           rec_int(r, F_STARTTLS_OK) != 0 && status != STATUS_INTERRUPTED && !c->eng->stop_at_ms;
}

static void finish_v(struct conn *c, enum rec_status status, const char *fmt, va_list ap)
{
    struct engine *e = c->eng;
    if (c->phase == PHASE_FREE)
        return;
    struct record *r = &c->rec;
    CONN_TRACE(c, "finished", rec_status_name(status));
    if (c->is_injection) {
        /* the record holds the probe's own end; this connection adds only
         * starttls_injection */
        status = c->probe_status;
    } else {
        rec_set_status(r, status);
        if (fmt) {
            char buf[256];
            int n = vsnprintf(buf, sizeof buf, fmt, ap);
            if (n > 0)
                rec_set_text(r, F_ERROR, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        }
        rec_set_str(r, F_PHASE, conn_phase_name(c, c->phase));
        rec_set_int(r, F_TIME_MS, (int64_t)(engine_clock_ms(e) - c->start_ms));
        if (injection_due(c, status)) {
            c->probe_status = status;
            start_injection(c);
            return;
        }
    }
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
    c->credential_sent = c->is_second = c->is_injection = false;
    c->injection = INJECTION_NONE;

    engine_conn_finished(e, c, status, is_test);
}

void conn_finish(struct conn *c, enum rec_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish_v(c, status, fmt, ap);
    va_end(ap);
}

/* ---- output ---------------------------------------------------------- */

/* After the credential and before TLS, a hang-up leads to a second
 * connection instead of the end of the probe. */
static bool may_reconnect(const struct conn *c)
{
    return c->credential_sent && !c->is_second && !c->is_tls && !c->quitting && c->job.kind == JOB_PROBE &&
           c->phase >= PHASE_PROTO;
}

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
                if (may_reconnect(c)) {
                    /* the server hung up after the credential: its EOF or
                     * reset, seen by the read side, starts the second
                     * connection (not from here, inside a protocol's send) */
                    c->tx_len = 0;
                    break;
                }
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
    c->reply_first_len = 0;
    c->reply_last_term = 0;
    c->reply_cut = false;
    c->reply_code = 0;
}

void conn_reply_add(struct conn *c, const char *line, size_t len)
{
    /* the line end as received: a server sending bare LF gets no CR */
    bool cut = false;
    size_t after = reply_append(c->reply, REPLY_CAP_BYTES, c->reply_len, line, len, c->line_term, &cut);
    size_t stored = after - c->reply_len;
    c->reply_last_term = (uint8_t)(stored > len ? stored - len : 0);
    c->reply_len = (uint16_t)after;
    c->reply_cut = c->reply_cut || cut;
    if (c->reply_lines == 0)
        c->reply_first_len = (uint16_t)(len < UINT16_MAX ? len : UINT16_MAX);
    c->reply_lines++;
}

void conn_reply_store(struct conn *c, enum rec_field f, enum conn_reply_part part)
{
    size_t len = c->reply_len;
    bool cut = c->reply_cut;
    if (part == REPLY_BODY) {
        len -= c->reply_last_term;
    } else if (part == REPLY_FIRST) {
        cut = c->reply_first_len > c->reply_len;
        len = cut ? c->reply_len : c->reply_first_len;
    }
    rec_set_text(&c->rec, f, c->reply, len);
    if (cut)
        rec_mark_truncated(&c->rec, f);
}

static void mark_partial(struct record *r, enum rec_field f)
{
    const char *name = rec_fields[f].name;
    if (!rec_list_contains(r, F_PARTIAL, name, false))
        rec_list_add(r, F_PARTIAL, name, strlen(name));
}

void conn_store_partial(struct conn *c, enum rec_field f, bool with_reply)
{
    if (rec_fields[f].type == RT_LIST) {
        if (rec_has(&c->rec, f))
            mark_partial(&c->rec, f);
        return;
    }
    size_t have = with_reply ? c->reply_len : 0;
    size_t tail = (size_t)(c->rx_len - c->rx_off);
    if (have + tail == 0)
        return;
    char buf[REPLY_CAP_BYTES];
    memcpy(buf, c->reply, have);
    size_t t = tail < sizeof buf - have ? tail : sizeof buf - have;
    memcpy(buf + have, c->rx + c->rx_off, t);
    rec_set_text(&c->rec, f, buf, have + t);
    if ((with_reply && c->reply_cut) || t < tail)
        rec_mark_truncated(&c->rec, f);
    mark_partial(&c->rec, f);
}

const char *conn_ehlo_name(const struct conn *c)
{
    return c->eng->cfg.ehlo_name;
}

bool conn_probe_auth(const struct conn *c)
{
    return c->eng->cfg.probe_auth && c->job.kind == JOB_PROBE && !c->is_second;
}

bool conn_downgrade_checks(const struct conn *c)
{
    return c->eng->cfg.downgrade_checks && c->job.kind == JOB_PROBE && c->job.port.mode == TLS_MODE_STARTTLS;
}

bool conn_records_facts(const struct conn *c)
{
    return !c->is_injection;
}

#define INJECTED_WAIT_MIN_MS 300
#define INJECTED_WAIT_MAX_MS 2000

void conn_await_injected(struct conn *c)
{
    if (c->phase == PHASE_FREE)
        return;
    uint64_t so_far = engine_clock_ms(c->eng) - c->start_ms;
    uint64_t wait = so_far < INJECTED_WAIT_MIN_MS ? INJECTED_WAIT_MIN_MS : so_far;
    wait = min_u64(min_u64(wait, INJECTED_WAIT_MAX_MS), c->eng->cfg.read_timeout_ms);
    c->injection = INJECTION_WAITING;
    conn_reply_clear(c);
    set_phase(c, PHASE_AWAIT_INJECTED_REPLY, (uint32_t)wait);
}

void conn_injection_over(struct conn *c)
{
    /* no QUIT: the verdict is in, and a vulnerable server may still be
     * answering what we never asked */
    conn_finish(c, c->probe_status, NULL);
}

void conn_skip(struct conn *c, uint32_t n)
{
    c->literal_left = n;
}

void conn_credential_sent(struct conn *c)
{
    c->credential_sent = true;
}

/* Forgets everything about the byte stream of the connection that ends:
 * its buffers, reply state and protocol bits. The record stays. */
static void reset_stream(struct conn *c)
{
    c->rx_len = c->rx_off = c->tx_len = 0;
    c->rx_total = c->literal_left = 0;
    conn_reply_clear(c);
    c->tag_seq = 0;
    c->flags = 0;
    c->tls_wants_write = false;
    c->credential_sent = false;
    c->injection = INJECTION_NONE;
}

/* A second connection: the same steps as the first (engine.c launch),
 * same slot and record. For an auth probe the server hung up on, and for
 * the STARTTLS injection test. */
static void reconnect(struct conn *c)
{
    struct engine *e = c->eng;
    tls_detach(c);
    close(c->fd); /* also removes it from the epoll set */
    c->gen++;     /* events already reported for the old socket are dropped */
    reset_stream(c);
    c->is_second = true;
    c->phase = PHASE_CONNECTING;
    c->epoll_mask = 0;
    c->fd = socket(c->job.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        int saved = errno;
        conn_finish(c, STATUS_LOCAL_ERROR, "second connection: socket: %s", strerror(saved));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_set_deadline(c, now_ms() + e->cfg.connect_timeout_ms);
    if (connect(c->fd, (const struct sockaddr *)&c->job.addr, c->job.addr_len) < 0 && errno != EINPROGRESS) {
        int saved = errno;
        conn_finish(c, conn_connect_status(saved), "second connection: connect: %s", strerror(saved));
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = conn_ev_key(c)};
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        int saved = errno;
        conn_finish(c, STATUS_LOCAL_ERROR, "epoll_ctl: %s", strerror(saved));
        return;
    }
    c->epoll_mask = EPOLLOUT;
}

/* The probe is over and its record complete; the injection connection
 * starts (conn_await_injected). It gets a budget of its own, and its
 * connect is charged to --rate like a new probe's. */
static void start_injection(struct conn *c)
{
    struct engine *e = c->eng;
    c->is_injection = true;
    c->is_tls = false;
    c->quitting = false;
    c->start_ms = engine_clock_ms(e);
    c->total_deadline_ms = c->start_ms + e->cfg.total_timeout_ms;
    rate_charge(&e->rate);
    reconnect(c);
}

bool conn_auth_hangup(struct conn *c, const char *reply, size_t len)
{
    if (!may_reconnect(c))
        return false;
    rec_set_str(&c->rec, F_AUTH_PROBE, "disconnected");
    if (reply)
        rec_set_text(&c->rec, F_AUTH_PROBE_REPLY, reply, len);
    reconnect(c);
    return true;
}

/* ---- TLS ------------------------------------------------------------- */

static void on_readable(struct conn *c);

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
                                 r == TLS_IO_DONE ? STATUS_OK : STATUS_TLS_FAILED,
                                 r == TLS_IO_DONE ? NULL : err);
        conn_finish(c, r == TLS_IO_DONE ? STATUS_OK : STATUS_TLS_FAILED, NULL);
        return;
    }
    if (r != TLS_IO_DONE) {
        if (c->is_injection && c->injection == INJECTION_SENT)
            rec_set_bool(&c->rec, F_STARTTLS_INJECTION, false); /* our NOOP broke its handshake */
        else if (c->job.port.mode == TLS_MODE_STARTTLS && !c->is_injection)
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
        conn_finish(c, STATUS_TLS_FAILED, "%s", err);
        return;
    }
    c->is_tls = true;
    if (!c->is_injection)
        tls_record_facts(c);
    update_interest(c);
    uint32_t gen = c->gen;
    if (c->job.port.mode == TLS_MODE_STARTTLS) {
        if (!c->is_injection)
            rec_set_bool(&c->rec, F_STARTTLS_OK, true);
        c->ops->on_tls_up(c);
    } else {
        c->ops->on_start(c);
    }
    /* Read-ahead (tls.c) may have taken records sent right behind the
     * server's handshake flight (an implicit-TLS greeting) off the socket:
     * epoll would not report them again. */
    if (c->gen == gen && c->phase != PHASE_FREE && c->is_tls && SSL_has_pending(c->tls))
        on_readable(c);
}

/* A raw enumeration test (hello.h): the ClientHello goes out as built,
 * the answer goes to tls_test_bytes until it says it has enough. No
 * OpenSSL state is created. */
static void raw_hello_start(struct conn *c, const unsigned char *hello, size_t n)
{
    ssize_t w = send(c->fd, hello, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n) {
        /* a fresh socket's send buffer holds 2 KB: a short write is an error */
        int saved = w < 0 ? errno : EMSGSIZE;
        conn_finish(c, saved == ECONNRESET || saved == EPIPE ? STATUS_RESET : STATUS_CLOSED,
                    "send of the ClientHello: %s", strerror(saved));
        return;
    }
    set_phase(c, PHASE_RAW_HELLO, c->eng->cfg.read_timeout_ms);
    update_interest(c);
}

static void raw_hello_read(struct conn *c)
{
    for (;;) {
        ssize_t got = recv(c->fd, c->rx, RX_CAP_BYTES, 0);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            int saved = errno;
            conn_finish(c, saved == ECONNRESET ? STATUS_RESET : STATUS_CLOSED, "recv: %s", strerror(saved));
            return;
        }
        c->rx_total += (uint32_t)got;
        if (c->eng->io.tls_test_bytes(c->eng->io.ctx, &c->job, c->rx, (size_t)got, got == 0)) {
            c->test_reported = true;
            conn_finish(c, STATUS_OK, NULL);
            return;
        }
        if (got == 0) {
            conn_finish(c, STATUS_CLOSED, "connection closed by peer");
            return;
        }
        if (c->rx_total > RX_TOTAL_MAX_BYTES) {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "server sent more than %d bytes", RX_TOTAL_MAX_BYTES);
            return;
        }
    }
}

void conn_begin_tls(struct conn *c)
{
    if (c->job.kind == JOB_TLS_TEST && c->eng->io.tls_test_hello && c->eng->io.tls_test_bytes) {
        unsigned char hello[HELLO_MAX_BYTES];
        size_t n = c->eng->io.tls_test_hello(c->eng->io.ctx, &c->job, hello, sizeof hello);
        if (n > 0) {
            raw_hello_start(c, hello, n);
            return;
        }
    }
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
    if (!c->is_injection)
        rec_set_int(&c->rec, F_STARTTLS_EXTRA_BYTES, (int64_t)(c->rx_len - c->rx_off));
    c->rx_off = c->rx_len;
    /* Nothing framed in cleartext may steer the TLS session (a man in the
     * middle could otherwise blank post-TLS facts): a literal still being
     * skipped, a partial line, the reply text, its line count and code. */
    c->literal_left = 0;
    conn_reply_clear(c);
    /* A command not yet sent would go out inside TLS: drop it. If it was
     * the injected one (--downgrade-checks), it did not share STARTTLS's
     * segment, so its test has no verdict. */
    if (c->tx_len > 0) {
        if (c->injection == INJECTION_SENT)
            c->injection = INJECTION_VOID;
        c->tx_len = 0;
    }
    conn_begin_tls(c);
}

/* ---- input ----------------------------------------------------------- */

/* The reply being read will never complete: let the protocol keep what
 * arrived before the probe ends. */
static void cut_reply(struct conn *c)
{
    if (!c->quitting && !c->is_injection && c->phase >= PHASE_PROTO && c->ops->on_cut)
        c->ops->on_cut(c);
}

static void on_eof(struct conn *c, const char *why)
{
    if (c->quitting) {
        conn_finish(c, c->final_status, NULL);
        return;
    }
    if (conn_auth_hangup(c, NULL, 0))
        return;
    cut_reply(c);
    conn_finish(c, STATUS_CLOSED, "%s", why);
}

/* Hands every complete line in rx to the protocol. Stops when the probe
 * finished or TLS started (the rest of rx then belongs to no one). */
static void process_lines(struct conn *c)
{
    uint32_t gen = c->gen;
    while (c->gen == gen && c->phase != PHASE_TLS_HANDSHAKE && c->phase != PHASE_RAW_HELLO &&
           c->rx_off < c->rx_len) {
        unsigned char *p = c->rx + c->rx_off;
        size_t avail = (size_t)(c->rx_len - c->rx_off);
        if (c->literal_left > 0) {
            size_t skip = avail < c->literal_left ? avail : c->literal_left;
            c->literal_left -= (uint32_t)skip;
            c->rx_off = (uint16_t)(c->rx_off + skip);
            continue;
        }
        size_t line_len;
        size_t used = reply_lines_next(p, avail, &line_len);
        if (used == 0)
            break;
        c->rx_off = (uint16_t)(c->rx_off + used);
        c->line_term = (uint8_t)(used - line_len);
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
    while (c->gen == gen && c->phase != PHASE_TLS_HANDSHAKE && c->phase != PHASE_RAW_HELLO &&
           c->phase != PHASE_FREE) {
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
            if (r == TLS_IO_ERROR || r == TLS_IO_RESET) {
                cut_reply(c);
                if (c->quitting)
                    conn_finish(c, c->final_status, NULL);
                else
                    conn_finish(c, r == TLS_IO_RESET ? STATUS_RESET : STATUS_TLS_FAILED, "%s", err);
                return;
            }
        } else {
            ssize_t got = recv(c->fd, c->rx + c->rx_len, room, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return;
                int saved = errno;
                if (c->quitting) {
                    conn_finish(c, c->final_status, NULL);
                } else if (!conn_auth_hangup(c, NULL, 0)) {
                    cut_reply(c);
                    conn_finish(c, saved == ECONNRESET ? STATUS_RESET : STATUS_CLOSED, "recv: %s",
                                strerror(saved));
                }
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

enum rec_status conn_connect_status(int err)
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

static void on_connected(struct conn *c, uint32_t events)
{
    int err = 0;
    socklen_t len = sizeof err;
    /* writable without an error or hang-up: the connect succeeded, and
     * SO_ERROR would say 0 (one syscall per probe saved) */
    if ((events & (EPOLLERR | EPOLLHUP)) && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_finish(c, conn_connect_status(err), "%sconnect: %s",
                    c->is_second ? "second connection (after the auth probe): " : "", strerror(err));
        return;
    }
    if (c->job.port.mode == TLS_MODE_IMPLICIT) {
        conn_begin_tls(c);
    } else {
        CONN_TRACE(c, "(protocol start)", "connected");
        c->phase = PHASE_PROTO; /* protocol sets its own phase in on_start */
        update_interest(c);
        c->ops->on_start(c);
    }
}

/* ---- deadlines ------------------------------------------------------- */

void conn_on_deadline(struct conn *c)
{
    if (c->quitting) {
        conn_finish(c, c->final_status, NULL);
        return;
    }
    bool total = c->deadline_ms >= c->total_deadline_ms;
    switch (c->phase) {
    case PHASE_CONNECTING:
        if (c->is_second)
            conn_finish(c, STATUS_CONNECT_TIMEOUT,
                        "second connection (after the auth probe): no answer to connect");
        else
            conn_finish(c, STATUS_CONNECT_TIMEOUT, "no answer to connect within %u ms",
                        (unsigned)(c->deadline_ms - c->start_ms));
        break;
    case PHASE_TLS_HANDSHAKE:
        if (c->job.port.mode == TLS_MODE_STARTTLS && !c->is_injection)
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
        conn_finish(c, STATUS_READ_TIMEOUT, "TLS handshake not complete in time%s",
                    total ? " (total deadline)" : "");
        break;
    case PHASE_AWAIT_INJECTED_REPLY:
        if (!total) {
            /* silence: the injected command died with the cleartext */
            rec_set_bool(&c->rec, F_STARTTLS_INJECTION, false);
            c->injection = INJECTION_DONE;
            conn_injection_over(c);
            break;
        }
        conn_finish(c, STATUS_READ_TIMEOUT, "waiting for an answer to the injected command (total deadline)");
        break;
    default:
        cut_reply(c);
        if (!total && may_reconnect(c)) {
            /* a server silent after the credential must not cost the
             * STARTTLS and TLS facts either */
            if (!rec_has(&c->rec, F_AUTH_PROBE))
                rec_set_str(&c->rec, F_AUTH_PROBE, "no-reply");
            reconnect(c);
            break;
        }
        conn_finish(c, STATUS_READ_TIMEOUT, "reply not complete in time%s%s",
                    total ? " (total deadline)" : "", c->rx_len ? ", partial line received" : "");
        break;
    }
}

/* Readiness of a conn's socket, as epoll reported it. */
void conn_on_event(struct conn *c, uint32_t events)
{
    uint32_t gen = c->gen;
    if (c->phase == PHASE_CONNECTING) {
        on_connected(c, events);
        return;
    }
    if (c->phase == PHASE_TLS_HANDSHAKE) {
        drive_handshake(c);
        return;
    }
    if (c->phase == PHASE_RAW_HELLO) {
        raw_hello_read(c);
        return;
    }
    if ((events & EPOLLOUT) && c->tx_len > 0)
        flush_tx(c);
    if (c->gen == gen && c->phase != PHASE_FREE && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT)))
        on_readable(c);
}
