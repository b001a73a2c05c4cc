/*
 * One connection's I/O driver.
 *
 * Half duplex, like the farm's sessions: while replies are queued the
 * connection only writes; it reads only with an empty queue, so a client
 * that pipelines faster than it reads simply stops being read, and memory
 * stays the fixed rx and tx arrays. conn_run() repeats, without returning
 * to epoll, while it makes progress:
 *   handshake step -> flush tx -> action after the flush (start TLS, break
 *   the handshake, close) -> hand one complete command to proto.c -> read.
 * After 64 rounds it yields (server_mark_ready) so one client cannot
 * starve the others.
 *
 * A command is one line (SMTP, POP3) or one IMAP command with its
 * literals (cmd.c frames it). At most RX_CAP bytes: a longer one gets an
 * error reply and the connection is closed. After each command the bytes
 * it used are wiped, so a password never stays in memory longer than the
 * command that carried it.
 *
 * STARTTLS hygiene: whatever the client sent after STARTTLS in cleartext
 * is dropped when TLS starts; it never reaches the TLS layer.
 */
#include "selftest.h"

#include "../../output/lib/now.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum io_result { IO_OK, IO_WAIT_READ, IO_WAIT_WRITE, IO_EOF, IO_FAIL };

#define SPINS 64

void conn_event(struct conn *c, enum st_event ev, const char *mechanism, const char *detail)
{
    evlog_write(&c->ev, ev, mechanism, detail);
}

void conn_set_session(struct conn *c, const char *session)
{
    snprintf(c->session, sizeof(c->session), "%s", session);
    snprintf(c->ipe->session, sizeof(c->ipe->session), "%s", session);
}

void conn_send(struct conn *c, const char *text)
{
    size_t n = strlen(text);
    if (n > TX_CAP - c->tx_len)
        n = TX_CAP - c->tx_len;
    memcpy(c->tx + c->tx_len, text, n);
    c->tx_len += n;
}

void conn_sendf(struct conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    conn_send(c, buf);
}

void conn_close(struct server *sv, struct conn *c, const char *why, bool is_reset)
{
    if (c->is_dead)
        return;
    conn_event(c, EV_DISCONNECT, NULL, why);
    if (is_reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else if (c->ssl && c->ev.is_tls) {
        ERR_clear_error();
        SSL_shutdown(c->ssl); /* one close_notify, best effort: never waits */
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->is_dead = true;
    explicit_bzero(c->rx, sizeof(c->rx));
    explicit_bzero(c->user, sizeof(c->user));
    server_conn_closed(sv, c);
}

static void want(struct server *sv, struct conn *c, enum io_result r)
{
    uint32_t events = r == IO_WAIT_WRITE ? EPOLLOUT : EPOLLIN;
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(server_epfd(sv), EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_close(sv, c, "io_error", false);
        return;
    }
    c->events = events;
}

static enum io_result tls_result(struct conn *c, int rc)
{
    int err = SSL_get_error(c->ssl, rc);
    int saved = errno;
    ERR_clear_error();
    switch (err) {
    case SSL_ERROR_WANT_READ: return IO_WAIT_READ;
    case SSL_ERROR_WANT_WRITE: return IO_WAIT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return IO_EOF;
    case SSL_ERROR_SYSCALL: return saved == 0 || saved == ECONNRESET || saved == EPIPE ? IO_EOF : IO_FAIL;
    default: return IO_FAIL;
    }
}

static enum io_result io_read(struct conn *c, char *buf, size_t cap, size_t *got)
{
    if (c->ssl && c->ev.is_tls) {
        ERR_clear_error();
        int rc = SSL_read_ex(c->ssl, buf, cap, got);
        return rc == 1 ? IO_OK : tls_result(c, rc);
    }
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n > 0) {
        *got = (size_t)n;
        return IO_OK;
    }
    if (n == 0)
        return IO_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return IO_WAIT_READ;
    return errno == ECONNRESET ? IO_EOF : IO_FAIL;
}

static enum io_result flush(struct conn *c)
{
    while (c->tx_off < c->tx_len) {
        size_t put = 0;
        if (c->ssl && c->ev.is_tls) {
            ERR_clear_error();
            int rc = SSL_write_ex(c->ssl, c->tx + c->tx_off, c->tx_len - c->tx_off, &put);
            if (rc != 1)
                return tls_result(c, rc);
        } else {
            ssize_t n = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return IO_WAIT_WRITE;
                return errno == ECONNRESET || errno == EPIPE ? IO_EOF : IO_FAIL;
            }
            put = (size_t)n;
        }
        c->tx_off += put;
    }
    c->tx_off = c->tx_len = 0;
    return IO_OK;
}

static void start_tls(struct server *sv, struct conn *c)
{
    explicit_bzero(c->rx, c->rx_len);
    c->rx_len = 0;
    c->sync_acked = 0;
    c->ssl = SSL_new(server_tls(sv));
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        conn_close(sv, c, "tls_setup_failed", false);
        return;
    }
    SSL_set_accept_state(c->ssl);
    c->phase = PH_HANDSHAKE;
}

void conn_start(struct server *sv, struct conn *c)
{
    conn_event(c, EV_CONNECT, NULL, c->lst->kind);
    if (c->is_implicit) {
        if (c->ev.is_attack && c->ev.kase != CASE_BASELINE) {
            conn_event(c, EV_DISRUPT, NULL, "implicit_tls_closed");
            conn_close(sv, c, "implicit_tls_closed", false);
            return;
        }
        start_tls(sv, c);
    } else {
        proto_greet(sv, c);
    }
    conn_run(sv, c, 0);
}

/* One handshake step. true: go on; false: wait or closed. */
static bool handshake(struct server *sv, struct conn *c)
{
    ERR_clear_error();
    int rc = SSL_accept(c->ssl);
    if (rc == 1) {
        c->ev.is_tls = true;
        c->phase = PH_COMMAND;
        conn_event(c, EV_TLS_OK, NULL, SSL_get_version(c->ssl));
        if (c->is_implicit)
            proto_greet(sv, c);
        return true;
    }
    enum io_result r = tls_result(c, rc);
    if (r == IO_WAIT_READ || r == IO_WAIT_WRITE) {
        want(sv, c, r);
        return false;
    }
    conn_event(c, EV_TLS_FAIL, NULL, r == IO_EOF ? "client_closed" : "handshake_failed");
    conn_close(sv, c, "tls_failed", false);
    return false;
}

/* t2: the client's ClientHello is answered with cleartext junk, then the
 * connection is reset: the handshake cannot complete. */
static bool disrupt_handshake(struct server *sv, struct conn *c)
{
    static const char junk[] = "selftest: this is not TLS\r\n";
    size_t got = 0;
    enum io_result r = io_read(c, c->rx, RX_CAP, &got);
    explicit_bzero(c->rx, got);
    if (r == IO_WAIT_READ) {
        want(sv, c, r);
        return false;
    }
    if (r != IO_OK) {
        conn_close(sv, c, "client_closed", false);
        return false;
    }
    (void)send(c->fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL | MSG_DONTWAIT); /* the reset follows anyway */
    conn_event(c, EV_TLS_FAIL, NULL, "disrupted");
    conn_close(sv, c, "handshake_disrupted", true);
    return false;
}

/* The length of the next complete command in rx, 0 for none yet, -1 too
 * long. IMAP may ask for a "+" to a synchronising literal. */
static long next_command(struct conn *c)
{
    if (c->proto != ST_IMAP)
        return (long)stc_line_len(c->rx, c->rx_len);
    size_t sync_at = 0;
    long n = stc_imap_frame(c->rx, c->rx_len, RX_CAP, &sync_at);
    if (n == 0 && sync_at > c->sync_acked) {
        c->sync_acked = sync_at;
        conn_send(c, "+ Ready for literal data\r\n");
    }
    return n;
}

static void too_long(struct server *sv, struct conn *c)
{
    static const char *const replies[] = {
        [ST_SMTP] = "500 5.5.0 Line too long\r\n",
        [ST_IMAP] = "* BYE Command too long\r\n",
        [ST_POP3] = "-ERR Line too long\r\n",
    };
    conn_send(c, replies[c->proto]);
    c->phase = PH_FLUSH_THEN_CLOSE;
    c->close_why = "line_too_long";
}

/* After the flush: the phase's action. true: go on. */
static bool after_flush(struct server *sv, struct conn *c)
{
    switch (c->phase) {
    case PH_FLUSH_THEN_TLS: start_tls(sv, c); return !c->is_dead;
    case PH_FLUSH_THEN_DISRUPT: c->phase = PH_AWAIT_HELLO; return true;
    case PH_AWAIT_HELLO: return disrupt_handshake(sv, c);
    case PH_FLUSH_THEN_CLOSE:
        conn_close(sv, c, c->close_why ? c->close_why : "server_closed", false);
        return false;
    case PH_HANDSHAKE:
    case PH_COMMAND: return true;
    }
    return true;
}

/* Hands one command to proto.c, then wipes it. true: one was there. */
static bool one_command(struct server *sv, struct conn *c, long *n_out)
{
    long n = next_command(c);
    *n_out = n;
    if (n <= 0)
        return false;
    char saved = c->rx[n];
    c->rx[n] = '\0';
    c->last_ms = now_ms();
    proto_command(sv, c, c->rx, (size_t)n);
    if (c->is_dead)
        return true;
    c->rx[n] = saved;
    if (c->phase == PH_FLUSH_THEN_TLS || c->phase == PH_FLUSH_THEN_DISRUPT) {
        explicit_bzero(c->rx, c->rx_len); /* STARTTLS hygiene: drop the rest */
        c->rx_len = 0;
    } else {
        memmove(c->rx, c->rx + n, c->rx_len - (size_t)n);
        explicit_bzero(c->rx + c->rx_len - (size_t)n, (size_t)n);
        c->rx_len -= (size_t)n;
    }
    c->sync_acked = 0;
    return true;
}

void conn_run(struct server *sv, struct conn *c, uint32_t events)
{
    (void)events;
    for (int spin = 0; spin < SPINS; spin++) {
        if (c->is_dead)
            return;
        if (c->phase == PH_HANDSHAKE) {
            if (!handshake(sv, c))
                return;
            continue;
        }
        if (c->tx_off < c->tx_len) {
            enum io_result r = flush(c);
            if (r == IO_WAIT_READ || r == IO_WAIT_WRITE) {
                want(sv, c, r);
                return;
            }
            if (r != IO_OK) {
                conn_close(sv, c, r == IO_EOF ? "client_closed" : "io_error", false);
                return;
            }
            continue;
        }
        if (c->phase != PH_COMMAND) {
            if (!after_flush(sv, c))
                return;
            continue;
        }
        long n;
        if (one_command(sv, c, &n))
            continue;
        if (n < 0 || c->rx_len >= RX_CAP) {
            too_long(sv, c);
            continue;
        }
        if (c->tx_len)
            continue; /* a "+" for a literal was queued */
        size_t got = 0;
        enum io_result r = io_read(c, c->rx + c->rx_len, RX_CAP - c->rx_len, &got);
        if (r == IO_OK) {
            c->rx_len += got;
            c->last_ms = now_ms();
        } else if (r == IO_WAIT_READ || r == IO_WAIT_WRITE) {
            want(sv, c, r);
            return;
        } else {
            conn_close(sv, c, r == IO_EOF ? "client_closed" : "io_error", false);
            return;
        }
    }
    server_mark_ready(sv, c);
}
