/*
 * One session's I/O driver.
 *
 * A session is half duplex: while replies are queued it only writes (epoll
 * interest OUT, or whatever OpenSSL asks for), and it reads only once the
 * queue is empty. That bounds memory per session to the fixed rx and tx
 * arrays: a client pipelining faster than it reads simply stops being read.
 *
 * drive() repeats, without returning to epoll, while it makes progress:
 *   handshake step -> flush tx -> phase action after the flush (start TLS,
 *   close) -> hand complete lines to the protocol -> read more.
 * "Read more" is skipped right after a reply left or a handshake finished
 * while no whole line is waiting: the client is waiting for us, so the
 * read would only return EAGAIN; epoll (level-triggered) reports anything
 * that did arrive. Bytes OpenSSL already read ahead are not in the socket,
 * so they always mean read now (SSL_has_pending).
 * After 64 rounds it yields and the loop runs it again on the next turn,
 * so one busy client cannot starve the others.
 *
 * Phases (farm.h) name what the session waits for. The protocol files only
 * see whole lines and queue replies with sess_send(); they change phase
 * only through sess_close_after_flush() and sess_starttls_after_flush().
 */
#include "farm.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum io_result { IO_OK, IO_WAIT_READ, IO_WAIT_WRITE, IO_EOF, IO_FAIL };

#define DRIVE_SPINS 64

/* Leading bytes of the garbage profile: NULs, invalid UTF-8 (a lone
 * continuation byte, a truncated sequence, an overlong encoding and a
 * surrogate), then the over-long line follows with no CR or LF in it. */
static const unsigned char garbage_prefix[] = {0x00, 0x01, 0x02, 0xff, 0xfe, 0x80, 'g',  'a',  'r',  'b',
                                               'a',  'g',  'e',  0x00, 0xc3, 0x28, 0xe2, 0x82, 0xc0, 0xaf,
                                               0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, '\r', '\n',
                                               0x00, 0x1b, '[',  '2',  'J',  0x7f, 0x00};

static const char *const phase_names[] = {
#define X(id) [PHASE_##id] = #id,
    SESS_PHASES(X)
#undef X
};

/* The one way to change phase. Deadlines follow from the phase (see
 * sess_deadline), so nothing else needs updating; --debug logs it. */
static void set_phase(struct sess *s, enum sess_phase to)
{
    if (s->w->sh->cfg->debug) {
        char host[64];
        sess_host_name(s, host, sizeof(host));
        fprintf(stderr, "mailtls-farm: %s %s/%u %s: %s -> %s\n", host,
                s->w->sh->listeners->spec[s->listener_idx].kind,
                s->w->sh->listeners->spec[s->listener_idx].port, profile_name(s->profile),
                phase_names[s->phase], phase_names[to]);
    }
    s->phase = to;
}

static void set_interest(struct sess *s, uint32_t events)
{
    if (s->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = s};
    /* The first registration happens here, once the interest is known. */
    int op = s->events == UINT32_MAX ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(s->w->epfd, op, s->fd, &ev) != 0) {
        sess_end(s, END_ERROR, false);
        return;
    }
    s->events = events;
}

static enum io_result tls_error(struct sess *s, int rc)
{
    int err = SSL_get_error(s->ssl, rc);
    int saved_errno = errno;
    ERR_clear_error();
    switch (err) {
    case SSL_ERROR_WANT_READ: return IO_WAIT_READ;
    case SSL_ERROR_WANT_WRITE: return IO_WAIT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return IO_EOF;
    case SSL_ERROR_SYSCALL:
        return (saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) ? IO_EOF : IO_FAIL;
    default: return IO_FAIL;
    }
}

static enum io_result sys_error(void)
{
    switch (errno) {
    case EAGAIN: return IO_WAIT_READ; /* caller maps it to its own direction */
    case ECONNRESET:
    case EPIPE: return IO_EOF;
    default: return IO_FAIL;
    }
}

/* The one place that deals with EINTR, EAGAIN and OpenSSL's retry codes. */
static enum io_result io_read(struct sess *s, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (s->ssl) {
        ERR_clear_error();
        int rc = SSL_read(s->ssl, buf, (int)cap);
        if (rc > 0) {
            *got = (size_t)rc;
            return IO_OK;
        }
        return tls_error(s, rc);
    }
    for (;;) {
        ssize_t n = recv(s->fd, buf, cap, 0);
        if (n > 0) {
            *got = (size_t)n;
            return IO_OK;
        }
        if (n == 0)
            return IO_EOF;
        if (errno != EINTR)
            return sys_error();
    }
}

static enum io_result io_write(struct sess *s, const char *buf, size_t len, size_t *put)
{
    *put = 0;
    if (s->ssl) {
        ERR_clear_error();
        int rc = SSL_write(s->ssl, buf, (int)len);
        if (rc > 0) {
            *put = (size_t)rc;
            return IO_OK;
        }
        return tls_error(s, rc);
    }
    for (;;) {
        ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            *put = (size_t)n;
            return IO_OK;
        }
        if (errno != EINTR) {
            enum io_result r = sys_error();
            return r == IO_WAIT_READ ? IO_WAIT_WRITE : r;
        }
    }
}

static enum io_result flush_tx(struct sess *s)
{
    while (s->tx_off < s->tx_len) {
        size_t put;
        enum io_result r = io_write(s, s->tx + s->tx_off, s->tx_len - s->tx_off, &put);
        if (r != IO_OK)
            return r;
        s->tx_off += put;
        s->last_ms = s->w->now_ms;
    }
    s->tx_off = s->tx_len = 0;
    return IO_OK;
}

/* Waits in the direction r asks for, or ends the session. Returns true. */
static bool wait_or_end(struct sess *s, enum io_result r, enum sess_end on_fail)
{
    switch (r) {
    case IO_WAIT_READ: set_interest(s, EPOLLIN); break;
    case IO_WAIT_WRITE: set_interest(s, EPOLLOUT); break;
    case IO_EOF: sess_end(s, END_CLIENT_CLOSED, false); break;
    case IO_FAIL: sess_end(s, on_fail, false); break;
    case IO_OK: return false;
    }
    return true;
}

void sess_send(struct sess *s, const char *text)
{
    size_t len = strlen(text);
    size_t room = TX_CAP - s->tx_len;
    if (len > room)
        len = room;
    memcpy(s->tx + s->tx_len, text, len);
    s->tx_len += len;
}

void sess_sendf(struct sess *s, const char *fmt, ...)
{
    size_t room = TX_CAP - s->tx_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->tx + s->tx_len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* vsnprintf wrote at most room-1 characters plus a NUL we do not send */
    s->tx_len += (size_t)n < room ? (size_t)n : room ? room - 1 : 0;
}

void sess_close_after_flush(struct sess *s, enum sess_end why)
{
    set_phase(s, PHASE_AWAIT_FLUSH_THEN_CLOSE);
    s->end_after_flush = why;
}

void sess_starttls_after_flush(struct sess *s)
{
    STAT_INC(&s->w->stats, starttls_go_ahead);
    /* Anything the client pipelined after STARTTLS was sent in plaintext:
     * it must not be executed as if it came over TLS (CVE-2011-0411). */
    if (s->rx_len) {
        STAT_ADD(&s->w->stats, plaintext_after_starttls, s->rx_len);
        s->rx_len = 0;
    }
    set_phase(s, PHASE_AWAIT_FLUSH_THEN_TLS);
}

void sess_count_credentials(struct sess *s)
{
    if (s->is_tls)
        STAT_INC(&s->w->stats, auth_creds_tls);
    else
        STAT_INC(&s->w->stats, auth_creds_plaintext);
}

void sess_host_name(const struct sess *s, char *buf, size_t len)
{
    uint32_t a = s->addr4;
    if (a)
        snprintf(buf, len, "h%u-%u-%u-%u.farm.test", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    else
        snprintf(buf, len, "h6.farm.test");
}

const struct farm_proto_ops farm_protos[FARM_PROTO_COUNT] = {
#define FARM_PROTO_OPS(ID, id, sports, shelp, iid, iports, ihelp, toolong, regreet)                          \
    [FARM_##ID] = {#id, #iid, id##_greet, id##_line, id##_busy, toolong, regreet},
    FARM_PROTO_LIST(FARM_PROTO_OPS)
#undef FARM_PROTO_OPS
};

static void proto_greet(struct sess *s)
{
    farm_protos[s->proto].greet(s);
}

static void proto_busy(struct sess *s)
{
    farm_protos[s->proto].busy(s);
    sess_close_after_flush(s, END_SERVER_CLOSED);
}

static void proto_line(struct sess *s, char *line, size_t len)
{
    farm_protos[s->proto].line(s, line, len);
}

static void line_too_long(struct sess *s)
{
    sess_send(s, farm_protos[s->proto].too_long);
    s->rx_len = 0;
    sess_close_after_flush(s, END_ERROR);
}

static void new_tls(struct sess *s)
{
    const struct shared *sh = s->w->sh;
    SSL_CTX *ctx = s->profile == PROFILE_LEGACY_TLS ? sh->tls_legacy : sh->tls_modern;
    s->ssl = SSL_new(ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        ERR_clear_error();
        sess_end(s, END_ERROR, false);
        return;
    }
    SSL_set_accept_state(s->ssl);
    set_phase(s, PHASE_AWAIT_HANDSHAKE);
}

/* After the go-ahead left: start TLS, or wait for the ClientHello to reset. */
static void begin_tls(struct sess *s)
{
    if (s->profile == PROFILE_RESET_TLS)
        set_phase(s, PHASE_AWAIT_TLS_BYTES);
    else
        new_tls(s);
}

static enum io_result handshake(struct sess *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc != 1) {
        enum io_result r = tls_error(s, rc);
        /* A close during the handshake is a failed handshake too. */
        return r == IO_EOF ? IO_FAIL : r;
    }
    s->is_tls = true;
    STAT_INC(&s->w->stats, tls_handshakes);
    if (s->profile == PROFILE_LEGACY_TLS)
        STAT_INC(&s->w->stats, tls_handshakes_legacy);
    set_phase(s, PHASE_AWAIT_COMMAND);
    if (s->is_implicit) {
        if (s->profile == PROFILE_BUSY)
            proto_busy(s);
        else
            proto_greet(s);
    } else {
        /* RFC 3207 4.2: forget everything learnt before TLS. */
        s->has_greeted_ehlo = false;
        s->has_user = false;
        s->auth = AUTH_NONE;
        if (farm_protos[s->proto].greet_after_starttls)
            proto_greet(s);
    }
    return IO_OK;
}

static void fill_garbage(struct sess *s)
{
    uint64_t total = sizeof(garbage_prefix) + s->w->sh->cfg->garbage_bytes;
    while (s->garbage_left && s->tx_len < TX_CAP) {
        uint64_t pos = total - s->garbage_left;
        unsigned char b;
        if (pos < sizeof(garbage_prefix)) {
            b = garbage_prefix[pos];
        } else {
            /* xorshift64: cheap, deterministic per address */
            uint64_t x = s->garbage_rng;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s->garbage_rng = x;
            b = (unsigned char)x;
            if (b == '\n')
                b = 0x00;
            else if (b == '\r')
                b = 0xff;
        }
        s->tx[s->tx_len++] = (char)b;
        s->garbage_left--;
    }
}

/* Hands complete lines to the protocol. Returns true if it made progress
 * (consumed a line or changed phase), false if it needs more input. */
static bool process_lines(struct sess *s)
{
    bool did = false;
    char line[RX_CAP];
    while (!s->is_dead && s->phase == PHASE_AWAIT_COMMAND) {
        if (TX_CAP - s->tx_len < TX_REPLY_ROOM)
            return true; /* flush before reading the next command */
        char *nl = memchr(s->rx, '\n', s->rx_len);
        if (!nl) {
            if (s->rx_len == RX_CAP) {
                line_too_long(s);
                return true;
            }
            return did;
        }
        size_t consumed = (size_t)(nl - s->rx) + 1;
        size_t len = consumed - 1;
        if (len && s->rx[len - 1] == '\r')
            len--;
        memcpy(line, s->rx, len);
        line[len] = '\0';
        memmove(s->rx, s->rx + consumed, s->rx_len - consumed);
        s->rx_len -= consumed;
        did = true;
        proto_line(s, line, len);
    }
    return true;
}

static void reset_on_tls_bytes(struct sess *s)
{
    char b;
    ssize_t n = recv(s->fd, &b, 1, MSG_PEEK);
    if (n > 0)
        sess_end(s, END_SERVER_CLOSED, true);
    else if (n == 0)
        sess_end(s, END_CLIENT_CLOSED, false);
    else if (errno == EAGAIN || errno == EINTR)
        set_interest(s, EPOLLIN);
    else
        sess_end(s, END_CLIENT_CLOSED, false);
}

static void queue_ready(struct sess *s)
{
    if (s->is_ready_queued)
        return;
    s->is_ready_queued = true;
    s->ready_next = s->w->ready_list;
    s->w->ready_list = s;
}

/* See the top of the file: is a read now bound to return EAGAIN? */
static bool should_wait_for_input(const struct sess *s, bool has_answered)
{
    return has_answered && s->phase == PHASE_AWAIT_COMMAND && (!s->ssl || !SSL_has_pending(s->ssl));
}

static void drive(struct sess *s)
{
    bool has_answered = false; /* a reply left or a handshake ended in this call */
    for (unsigned spin = 0; spin < DRIVE_SPINS; spin++) {
        if (s->is_dead)
            return;
        enum io_result r;
        switch (s->phase) {
        case PHASE_AWAIT_DELAY: set_interest(s, EPOLLRDHUP); return;
        case PHASE_AWAIT_HANDSHAKE:
            r = handshake(s);
            if (wait_or_end(s, r, END_TLS_FAILED))
                return;
            has_answered = true;
            break;
        case PHASE_AWAIT_TLS_BYTES: reset_on_tls_bytes(s); return;
        case PHASE_AWAIT_COMMAND:
        case PHASE_AWAIT_FLUSH_THEN_TLS:
        case PHASE_AWAIT_FLUSH_THEN_CLOSE:
        case PHASE_AWAIT_CLIENT_LEAVE: break;
        }
        if (s->tx_len) {
            has_answered = true;
            r = flush_tx(s);
            if (wait_or_end(s, r, END_ERROR))
                return;
        }
        if (s->garbage_left) {
            fill_garbage(s);
            continue;
        }
        switch (s->phase) {
        case PHASE_AWAIT_FLUSH_THEN_TLS:
            begin_tls(s);
            /* The ClientHello follows our go-ahead, which just left: the
             * handshake's first read would only return EAGAIN. */
            if (s->phase == PHASE_AWAIT_HANDSHAKE) {
                set_interest(s, EPOLLIN);
                return;
            }
            continue;
        case PHASE_AWAIT_FLUSH_THEN_CLOSE: sess_end(s, s->end_after_flush, false); return;
        case PHASE_AWAIT_COMMAND:
            if (process_lines(s))
                continue;
            break;
        case PHASE_AWAIT_CLIENT_LEAVE:
            s->rx_len = 0; /* tarpit and garbage ignore what they get */
            break;
        case PHASE_AWAIT_DELAY:
        case PHASE_AWAIT_HANDSHAKE:
        case PHASE_AWAIT_TLS_BYTES: continue;
        }
        if (should_wait_for_input(s, has_answered)) {
            set_interest(s, EPOLLIN);
            return;
        }
        size_t got;
        r = io_read(s, s->rx + s->rx_len, RX_CAP - s->rx_len, &got);
        if (r == IO_OK) {
            s->rx_len += got;
            s->last_ms = s->w->now_ms;
            continue;
        }
        wait_or_end(s, r, END_ERROR);
        return;
    }
    queue_ready(s);
}

void sess_run(struct sess *s, uint32_t events)
{
    if (s->is_dead)
        return;
    if (s->phase == PHASE_AWAIT_DELAY) {
        /* Only the client leaving wakes a delayed session. */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            sess_end(s, END_CLIENT_CLOSED, false);
        return;
    }
    drive(s);
}

uint64_t sess_deadline(const struct sess *s)
{
    const struct farm_config *cfg = s->w->sh->cfg;
    uint64_t d = s->start_ms + cfg->max_session_ms;
    uint64_t other;
    if (s->phase == PHASE_AWAIT_DELAY)
        other = s->delay_until_ms;
    else if (s->profile == PROFILE_TARPIT)
        return d; /* the tarpit holds on until the client leaves */
    else
        other = s->last_ms + cfg->idle_ms;
    return other < d ? other : d;
}

void sess_on_deadline(struct sess *s)
{
    const struct farm_config *cfg = s->w->sh->cfg;
    uint64_t now = s->w->now_ms;
    if (now >= s->start_ms + cfg->max_session_ms || s->phase != PHASE_AWAIT_DELAY) {
        sess_end(s, END_TIMEOUT, false);
        return;
    }
    /* The delay is over: greet (or start the implicit TLS handshake). */
    s->last_ms = now;
    if (s->is_implicit) {
        new_tls(s);
    } else {
        set_phase(s, PHASE_AWAIT_COMMAND);
        proto_greet(s);
    }
    drive(s);
}

void sess_start(struct sess *s)
{
    const struct farm_config *cfg = s->w->sh->cfg;
    s->phase = PHASE_AWAIT_COMMAND; /* the initial phase, not a transition */
    s->events = UINT32_MAX;         /* not registered with epoll yet */
    switch (s->profile) {
    case PROFILE_TARPIT: set_phase(s, PHASE_AWAIT_CLIENT_LEAVE); break;
    case PROFILE_GARBAGE:
        set_phase(s, PHASE_AWAIT_CLIENT_LEAVE);
        s->garbage_left = sizeof(garbage_prefix) + cfg->garbage_bytes;
        s->garbage_rng = (s->key ^ cfg->seed) | 1; /* xorshift needs nonzero */
        break;
    case PROFILE_DELAY:
        set_phase(s, PHASE_AWAIT_DELAY);
        s->delay_until_ms = s->start_ms + cfg->delay_ms;
        break;
    case PROFILE_NO_TLS:
        if (s->is_implicit)
            set_phase(s, PHASE_AWAIT_FLUSH_THEN_CLOSE); /* nothing queued: closes at once */
        else
            proto_greet(s);
        s->end_after_flush = END_SERVER_CLOSED;
        break;
    case PROFILE_RESET_TLS:
        if (s->is_implicit)
            set_phase(s, PHASE_AWAIT_TLS_BYTES);
        else
            proto_greet(s);
        break;
    case PROFILE_BUSY:
        if (s->is_implicit)
            new_tls(s); /* the farewell comes after the handshake */
        else
            proto_busy(s);
        break;
    case PROFILE_STARTTLS_AUTH:
    case PROFILE_STRICT:
    case PROFILE_IMPLICIT_ONLY:
    case PROFILE_LEGACY_TLS:
    case PROFILE__COUNT:
        if (s->is_implicit)
            new_tls(s);
        else
            proto_greet(s);
        break;
    }
    s->heap_key = sess_deadline(s);
    heap_set(&s->w->timers, s);
    drive(s);
}

void sess_end(struct sess *s, enum sess_end why, bool is_reset)
{
    if (s->is_dead)
        return;
    s->is_dead = true;
    if (s->w->sh->cfg->debug) {
        char host[64];
        sess_host_name(s, host, sizeof(host));
        fprintf(stderr, "mailtls-farm: %s %s: %s ends: %s%s\n", host, profile_name(s->profile),
                phase_names[s->phase], end_name(why), is_reset ? " (reset)" : "");
    }
    if (s->ssl) {
        if (why == END_COMPLETED && s->is_tls) {
            ERR_clear_error();
            SSL_shutdown(s->ssl); /* one try at close_notify, never waits */
        }
        SSL_free(s->ssl);
        s->ssl = NULL;
        ERR_clear_error();
    }
    if (is_reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    } else if (why != END_CLIENT_CLOSED && why != END_SHUTDOWN) {
        /* Closing with unread input makes the kernel send a reset, which
         * can overtake our last reply (e.g. after an over-long line).
         * Drain what is already here; bounded, never waits. */
        char sink[4096];
        for (int i = 0; i < 16 && recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++) {
        }
    }
    close(s->fd); /* also drops the epoll registration */
    s->fd = -1;
    if (s->heap_idx != UINT32_MAX)
        heap_remove(&s->w->timers, s);
    STAT_INC(&s->w->stats, ended[why]);
    atomic_fetch_sub_explicit(&s->w->sh->active_sessions, 1, memory_order_relaxed);
    s->next = s->w->dead_list;
    s->w->dead_list = s;
}
