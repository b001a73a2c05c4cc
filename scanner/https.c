/* https.c - the MTA-STS policy fetch in the loop (see https.h). */
#include "https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "https_resp.h"

#define RX_CAP (HTTP_HEAD_MAX + HTTPS_BODY_MAX + 4096)

enum phase { HP_FREE, HP_CONNECT, HP_HANDSHAKE, HP_SEND, HP_RECV, HP_FAILED };

struct req {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
    char host[256];
    char path[128];
    https_done_fn fn;
    void *arg;
};

struct fetch {
    enum phase phase;
    int fd;
    SSL *ssl;
    uint64_t deadline;
    struct req q;
    char wire[512];
    size_t wire_len, wire_off;
    unsigned char *rx, *body;
    size_t rx_len;
    struct https_result res; /* HP_FAILED: the failure to report */
};

struct https {
    SSL_CTX *ctx;
    uint16_t port;
    uint32_t timeout_ms;
    https_watch_fn watch;
    void *watch_ctx;
    struct fetch slots[HTTPS_SLOTS];
    struct req *queue;
    uint32_t q_head, q_len, q_max;
};

struct https *https_new(const char *ca_file, uint16_t port, uint32_t timeout_ms, uint32_t queue_max,
                        char *err, size_t errlen)
{
    struct https *h = calloc(1, sizeof *h);
    if (!h || !(h->queue = calloc(queue_max ? queue_max : 1, sizeof *h->queue))) {
        snprintf(err, errlen, "out of memory for the MTA-STS fetches");
        free(h);
        return NULL;
    }
    h->q_max = queue_max ? queue_max : 1;
    h->port = port;
    h->timeout_ms = timeout_ms;
    h->ctx = SSL_CTX_new(TLS_client_method());
    if (!h->ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        goto fail;
    }
    /* RFC 8461 3.3: TLS 1.2 or later, a certificate valid for the name */
    SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(h->ctx, SSL_VERIFY_NONE, NULL); /* judged after the handshake, to say why */
    int ok = ca_file ? SSL_CTX_load_verify_locations(h->ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(h->ctx);
    if (!ok) {
        snprintf(err, errlen, "%s: cannot load CA certificates", ca_file ? ca_file : "system store");
        goto fail;
    }
    for (int i = 0; i < HTTPS_SLOTS; i++)
        h->slots[i].fd = -1;
    return h;
fail:
    https_free(h);
    return NULL;
}

void https_set_watch(struct https *h, https_watch_fn fn, void *ctx)
{
    h->watch = fn;
    h->watch_ctx = ctx;
}

static void watch(struct https *h, struct fetch *f, uint32_t ev)
{
    if (h->watch && f->fd >= 0)
        h->watch(h->watch_ctx, f->fd, ev);
}

static void release(struct https *h, struct fetch *f)
{
    if (f->fd >= 0) {
        watch(h, f, 0);
        close(f->fd);
    }
    SSL_free(f->ssl);
    free(f->rx);
    free(f->body);
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->phase = HP_FREE;
}

static void start_queued(struct https *h, uint64_t now);

/* Reports res and frees the slot. */
static void finish(struct https *h, struct fetch *f, const struct https_result *res, uint64_t now)
{
    struct req q = f->q;
    struct https_result copy = *res;
    /* the body lives in f: report before releasing */
    q.fn(q.arg, &copy);
    release(h, f);
    start_queued(h, now);
}

static void fail(struct https *h, struct fetch *f, enum https_fail why, const char *what, uint64_t now)
{
    struct https_result r;
    memset(&r, 0, sizeof r);
    r.fail = why;
    snprintf(r.error, sizeof r.error, "%s", what);
    finish(h, f, &r, now);
}

/* Starts the connect; a failure here is reported from the next timer turn. */
static void start(struct https *h, struct fetch *f, const struct req *q, uint64_t now)
{
    memset(f, 0, sizeof *f);
    f->q = *q;
    f->fd = -1;
    f->deadline = now + h->timeout_ms;
    f->wire_len =
        (size_t)snprintf(f->wire, sizeof f->wire,
                         "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mailtls\r\nAccept: text/plain\r\n"
                         "Connection: close\r\n\r\n",
                         q->path, q->host);
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    if (q->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(h->port);
        memcpy(&s6->sin6_addr, q->addr, 16);
        sslen = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(h->port);
        memcpy(&s4->sin_addr, q->addr, 4);
        sslen = sizeof *s4;
    }
    f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || (connect(f->fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS)) {
        f->phase = HP_FAILED;
        f->res.fail = HTTPS_CONNECT;
        snprintf(f->res.error, sizeof f->res.error, "connect: %s", strerror(errno));
        f->deadline = now; /* reported by https_on_timer */
        return;
    }
    f->phase = HP_CONNECT;
    watch(h, f, EPOLLOUT);
}

static void start_queued(struct https *h, uint64_t now)
{
    for (int i = 0; i < HTTPS_SLOTS && h->q_len > 0; i++) {
        if (h->slots[i].phase != HP_FREE)
            continue;
        struct req q = h->queue[h->q_head];
        h->q_head = (h->q_head + 1) % h->q_max;
        h->q_len--;
        start(h, &h->slots[i], &q, now);
    }
}

int https_get(struct https *h, int family, const uint8_t *addr, const char *host, const char *path,
              https_done_fn fn, void *arg, uint64_t now_ms)
{
    if (h->q_len >= h->q_max)
        return -1;
    struct req *q = &h->queue[(h->q_head + h->q_len) % h->q_max];
    q->family = family == 6 ? 6 : 4;
    memcpy(q->addr, addr, q->family == 6 ? 16 : 4);
    snprintf(q->host, sizeof q->host, "%s", host);
    snprintf(q->path, sizeof q->path, "%s", path);
    q->fn = fn;
    q->arg = arg;
    h->q_len++;
    start_queued(h, now_ms);
    return 0;
}

/* OpenSSL's words for the last error, and the queue cleared. */
static void ssl_reason(char *out, size_t outlen, const char *what)
{
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    snprintf(out, outlen, "%s: %s", what, code ? ERR_reason_error_string(code) : "connection closed");
}

static bool want(struct https *h, struct fetch *f, int ret)
{
    int e = SSL_get_error(f->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        watch(h, f, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
        return true;
    }
    return false;
}

static void on_connected(struct https *h, struct fetch *f, uint64_t now)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        char why[120];
        snprintf(why, sizeof why, "connect: %s", strerror(soerr ? soerr : errno));
        fail(h, f, HTTPS_CONNECT, why, now);
        return;
    }
    f->ssl = SSL_new(h->ctx);
    if (!f->ssl || !SSL_set_fd(f->ssl, f->fd) || !SSL_set_tlsext_host_name(f->ssl, f->q.host) ||
        !SSL_set1_host(f->ssl, f->q.host)) {
        fail(h, f, HTTPS_TLS, "TLS setup failed", now);
        return;
    }
    SSL_set_connect_state(f->ssl);
    f->phase = HP_HANDSHAKE;
}

static void step_recv(struct https *h, struct fetch *f, uint64_t now)
{
    if (!f->rx && (!(f->rx = malloc(RX_CAP)) || !(f->body = malloc(HTTPS_BODY_MAX)))) {
        fail(h, f, HTTPS_RESPONSE, "out of memory", now);
        return;
    }
    for (;;) {
        size_t n = 0;
        bool eof = false;
        ERR_clear_error();
        int ok = f->rx_len < RX_CAP ? SSL_read_ex(f->ssl, f->rx + f->rx_len, RX_CAP - f->rx_len, &n) : 0;
        if (ok) {
            f->rx_len += n;
        } else if (f->rx_len < RX_CAP) {
            int e = SSL_get_error(f->ssl, 0);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                watch(h, f, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                return;
            }
            ERR_clear_error();
            eof = true; /* close_notify, a TCP close, or an error: judge what came */
        }
        struct http_resp hr;
        enum http_res v = http_parse(f->rx, f->rx_len, eof, &hr, f->body, HTTPS_BODY_MAX);
        if (v == HTTP_MORE && f->rx_len >= RX_CAP)
            v = HTTP_TOO_BIG;
        if (v == HTTP_MORE)
            continue;
        if (v == HTTP_DONE) {
            struct https_result r;
            memset(&r, 0, sizeof r);
            r.status = hr.status;
            r.text_plain = hr.text_plain;
            r.has_location = hr.has_location;
            memcpy(r.content_type, hr.content_type, sizeof r.content_type);
            r.body = f->body;
            r.body_len = hr.body_len;
            finish(h, f, &r, now);
        } else if (v == HTTP_TOO_BIG) {
            fail(h, f, HTTPS_TOO_BIG, "response over 64 KiB (RFC 8461 3.3 limit)", now);
        } else {
            fail(h, f, HTTPS_RESPONSE, eof ? "response cut short or malformed" : "malformed response", now);
        }
        return;
    }
}

static void step(struct https *h, struct fetch *f, uint64_t now)
{
    char why[160];
    switch (f->phase) {
    case HP_CONNECT:
        on_connected(h, f, now);
        if (f->phase != HP_HANDSHAKE)
            return;
        /* fall through */
    case HP_HANDSHAKE: {
        ERR_clear_error();
        int r = SSL_do_handshake(f->ssl);
        if (r != 1) {
            if (!want(h, f, r)) {
                ssl_reason(why, sizeof why, "TLS handshake");
                fail(h, f, HTTPS_TLS, why, now);
            }
            return;
        }
        long vr = SSL_get_verify_result(f->ssl);
        if (vr != X509_V_OK) {
            snprintf(why, sizeof why, "certificate of %.80s: %s", f->q.host,
                     X509_verify_cert_error_string(vr));
            fail(h, f, HTTPS_CERT, why, now);
            return;
        }
        f->phase = HP_SEND;
    }
        /* fall through */
    case HP_SEND:
        while (f->wire_off < f->wire_len) {
            size_t n = 0;
            ERR_clear_error();
            int r = SSL_write_ex(f->ssl, f->wire + f->wire_off, f->wire_len - f->wire_off, &n);
            if (!r) {
                if (!want(h, f, r)) {
                    ssl_reason(why, sizeof why, "sending the request");
                    fail(h, f, HTTPS_RESPONSE, why, now);
                }
                return;
            }
            f->wire_off += n;
        }
        f->phase = HP_RECV;
        watch(h, f, EPOLLIN);
        /* fall through */
    case HP_RECV: step_recv(h, f, now); return;
    case HP_FREE:
    case HP_FAILED: return;
    }
}

bool https_on_fd(struct https *h, int fd, uint32_t events, uint64_t now_ms)
{
    for (int i = 0; i < HTTPS_SLOTS; i++) {
        struct fetch *f = &h->slots[i];
        if (f->phase != HP_FREE && f->fd == fd) {
            step(h, f, now_ms);
            return true;
        }
    }
    return false;
}

uint64_t https_next_deadline(struct https *h, uint64_t now_ms)
{
    uint64_t best = 0;
    for (int i = 0; i < HTTPS_SLOTS; i++) {
        const struct fetch *f = &h->slots[i];
        if (f->phase != HP_FREE && (!best || f->deadline < best))
            best = f->deadline;
    }
    (void)now_ms;
    return best;
}

void https_on_timer(struct https *h, uint64_t now_ms)
{
    for (int i = 0; i < HTTPS_SLOTS; i++) {
        struct fetch *f = &h->slots[i];
        if (f->phase == HP_FREE || f->deadline > now_ms)
            continue;
        if (f->phase == HP_FAILED) {
            struct https_result r = f->res;
            finish(h, f, &r, now_ms);
        } else {
            char why[120];
            snprintf(why, sizeof why, "no complete answer within %u ms", h->timeout_ms);
            fail(h, f, f->phase == HP_CONNECT ? HTTPS_CONNECT : HTTPS_TIMEOUT, why, now_ms);
        }
    }
}

void https_free(struct https *h)
{
    if (!h)
        return;
    h->watch = NULL; /* closing removes the fds from epoll */
    for (int i = 0; i < HTTPS_SLOTS; i++)
        if (h->slots[i].phase != HP_FREE)
            release(h, &h->slots[i]);
    SSL_CTX_free(h->ctx);
    free(h->queue);
    free(h);
}
