/*
 * dns.c - c-ares in the event loop (see dns.h).
 *
 * Queries wait in a FIFO until a concurrency slot and a rate token are
 * free; dns_pump then hands them to ares_query. Each query in c-ares owns
 * one slot of a pool sized from --dns-concurrency, carrying the caller's
 * callback, so nothing is allocated per query here (c-ares allocates its
 * own query state).
 *
 * Reentrancy: answers arrive inside ares_process_fd (and, for immediate
 * failures such as a malformed name, inside ares_query). Callers may queue
 * new queries from their callback; those are sent by the pump that runs
 * right after ares_process_fd returns, never recursively.
 */
#include "dns.h"

#include "../output/lib/rate.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>

struct dns_slot {
    struct dns *d;
    dns_answer_fn fn;
    void *arg;
    uint32_t next_free;
};

struct dns_pending_q {
    const char *name;
    int type;
    unsigned char *qbuf; /* dns_send: a whole query message, else NULL */
    int qlen;
    dns_answer_fn fn;
    void *arg;
};

struct dns {
    ares_channel ch;
    struct dns_config cfg;
    dns_watch_fn watch;
    void *watch_ctx;

    struct dns_slot *slots;
    uint32_t free_head; /* UINT32_MAX = none */
    uint32_t in_flight;

    struct dns_pending_q *queue;
    uint32_t q_head, q_len;

    struct rate_limit rate; /* --dns-rate */
    uint16_t next_id;       /* dns_send: query ids, from a random start */
    bool busy;              /* inside ares_process_fd or the pump: no recursive pumping */
    bool closing;           /* dns_free: swallow the callbacks c-ares makes while dying */
    struct dns_stats stats;
};

#define NO_SLOT UINT32_MAX

int dns_server_parse(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_s = NULL;
    bool v6 = false;
    size_t n;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] != 0 && close[1] != ':')) {
            snprintf(err, errlen, "'%s': write [IPv6]:PORT", s);
            return -1;
        }
        n = (size_t)(close - s - 1);
        if (n >= sizeof host)
            goto bad_addr;
        memcpy(host, s + 1, n);
        host[n] = 0;
        v6 = true;
        if (close[1] == ':')
            port_s = close + 2;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':')) { /* bare IPv6, no port */
            n = strlen(s);
            v6 = true;
        } else {
            n = colon ? (size_t)(colon - s) : strlen(s);
            if (colon)
                port_s = colon + 1;
        }
        if (n >= sizeof host)
            goto bad_addr;
        memcpy(host, s, n);
        host[n] = 0;
    }
    unsigned char buf[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
        goto bad_addr;
    unsigned long port = 53;
    if (port_s) {
        char *end;
        errno = 0;
        port = strtoul(port_s, &end, 10);
        if (errno || *end || !*port_s || port == 0 || port > 65535) {
            snprintf(err, errlen, "'%s': port must be 1-65535", s);
            return -1;
        }
    }
    int w = v6 ? snprintf(out, outlen, "[%s]:%lu", host, port) : snprintf(out, outlen, "%s:%lu", host, port);
    if (w < 0 || (size_t)w >= outlen) {
        snprintf(err, errlen, "'%s': too long", s);
        return -1;
    }
    return 0;
bad_addr:
    snprintf(err, errlen, "'%s' is not an IP address (a resolver is given by address, never by name)", s);
    return -1;
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
    /* "neither" means c-ares is about to close the socket: drop it from
     * epoll first so a reused descriptor number starts clean. */
    if (d->watch)
        d->watch(d->watch_ctx, fd, ev);
}

struct dns *dns_new(const struct dns_config *cfg, char *err, size_t errlen)
{
    static bool lib_ready;
    if (cfg->n_servers < 1 || cfg->n_servers > DNS_MAX_SERVERS) {
        snprintf(err, errlen, "between 1 and %d resolvers are needed (no system resolver is used)",
                 DNS_MAX_SERVERS);
        return NULL;
    }
    if (!lib_ready) {
        int rc = ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) {
            snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
            return NULL;
        }
        lib_ready = true;
    }
    char csv[DNS_MAX_SERVERS * (INET6_ADDRSTRLEN + 10)];
    size_t used = 0;
    csv[0] = 0;
    for (int i = 0; i < cfg->n_servers; i++) {
        char one[INET6_ADDRSTRLEN + 10];
        if (dns_server_parse(cfg->servers[i], one, sizeof one, err, errlen) < 0)
            return NULL;
        used += (size_t)snprintf(csv + used, sizeof csv - used, "%s%s", i ? "," : "", one);
    }

    struct dns *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    if (d->cfg.concurrency < 1)
        d->cfg.concurrency = 1;
    if (d->cfg.queue_max < 1)
        d->cfg.queue_max = 1;
    d->slots = calloc(d->cfg.concurrency, sizeof *d->slots);
    d->queue = calloc(d->cfg.queue_max, sizeof *d->queue);
    if (!d->slots || !d->queue) {
        snprintf(err, errlen, "out of memory for %u DNS queries", d->cfg.queue_max);
        goto fail;
    }
    for (uint32_t i = 0; i < d->cfg.concurrency; i++) {
        d->slots[i].d = d;
        d->slots[i].next_free = i + 1 < d->cfg.concurrency ? i + 1 : NO_SLOT;
    }
    d->free_head = 0;

    struct ares_options ao;
    memset(&ao, 0, sizeof ao);
    /* Nothing on this machine may steer us to another server: no
     * resolv.conf (read from /dev/null), no search domains, no
     * HOSTALIASES, explicit servers (set below), ndots and lookups fixed so
     * neither the environment (RES_OPTIONS, LOCALDOMAIN) nor host.conf nor
     * nsswitch.conf is used. */
    ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    /* A SERVFAIL or REFUSED answer is the answer: without NOCHECKRESP,
     * c-ares 1.18 retries it and then reports "could not contact DNS
     * servers" (ECONNREFUSED), which would hide the server's verdict. */
    ao.flags |= ARES_FLAG_NOCHECKRESP;
    ao.timeout = (int)(cfg->timeout_ms ? cfg->timeout_ms : 1);
    ao.tries = (int)cfg->retries + 1;
    ao.ndots = 1;
    ao.ndomains = 0;
    ao.domains = NULL;
    ao.lookups = (char *)"b";
    ao.nservers = 0;
    ao.servers = NULL;
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = d;
    ao.socket_receive_buffer_size = 1 << 20;
    ao.resolvconf_path = (char *)"/dev/null";
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_DOMAINS |
               ARES_OPT_LOOKUPS | ARES_OPT_SERVERS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_SOCK_RCVBUF |
               ARES_OPT_RESOLVCONF | (cfg->n_servers > 1 ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE);
    int rc = ares_init_options(&d->ch, &ao, mask);
    if (rc != ARES_SUCCESS) {
        d->ch = NULL;
        snprintf(err, errlen, "c-ares init: %s", ares_strerror(rc));
        goto fail;
    }
    rc = ares_set_servers_ports_csv(d->ch, csv);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares servers '%s': %s", csv, ares_strerror(rc));
        goto fail;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    d->next_id = (uint16_t)(tv.tv_usec ^ (tv.tv_sec << 4) ^ getpid());
    rate_init(&d->rate, cfg->rate, cfg->rate / 50.0 > 1.0 ? cfg->rate / 50.0 : 1.0, 1.0, 0);
    return d;
fail:
    dns_free(d);
    return NULL;
}

void dns_set_watch(struct dns *d, dns_watch_fn fn, void *ctx)
{
    d->watch = fn;
    d->watch_ctx = ctx;
}

int dns_query(struct dns *d, const char *name, int type, dns_answer_fn fn, void *arg)
{
    if (d->q_len >= d->cfg.queue_max)
        return -1;
    uint32_t at = (d->q_head + d->q_len) % d->cfg.queue_max;
    d->queue[at] = (struct dns_pending_q){name, type, NULL, 0, fn, arg};
    d->q_len++;
    d->stats.queued++;
    return 0;
}

int dns_send(struct dns *d, unsigned char *qbuf, int qlen, dns_answer_fn fn, void *arg)
{
    if (d->q_len >= d->cfg.queue_max)
        return -1;
    uint32_t at = (d->q_head + d->q_len) % d->cfg.queue_max;
    d->queue[at] = (struct dns_pending_q){NULL, 0, qbuf, qlen, fn, arg};
    d->q_len++;
    d->stats.queued++;
    return 0;
}

static void answered(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_slot *s = arg;
    struct dns *d = s->d;
    if (d->closing)
        return;
    dns_answer_fn fn = s->fn;
    void *uarg = s->arg;
    s->next_free = d->free_head;
    d->free_head = (uint32_t)(s - d->slots);
    d->in_flight--;
    d->stats.answered++;
    if (status == ARES_ETIMEOUT)
        d->stats.timeouts++;
    if (status != ARES_SUCCESS)
        d->stats.failed++;
    fn(uarg, status, abuf, alen);
}

void dns_pump(struct dns *d, uint64_t now)
{
    if (d->busy || d->closing)
        return;
    d->busy = true;
    rate_refill(&d->rate, now);
    while (d->q_len > 0 && d->free_head != NO_SLOT) {
        if (!rate_take(&d->rate))
            break;
        struct dns_pending_q q = d->queue[d->q_head];
        d->q_head = (d->q_head + 1) % d->cfg.queue_max;
        d->q_len--;
        struct dns_slot *s = &d->slots[d->free_head];
        d->free_head = s->next_free;
        s->fn = q.fn;
        s->arg = q.arg;
        d->in_flight++;
        d->stats.sent++;
        if (q.qbuf) {
            /* c-ares 1.18's ares_send keeps the caller's id and matches
             * answers by it: each query in flight needs its own */
            d->next_id = (uint16_t)(d->next_id + 1);
            q.qbuf[0] = (uint8_t)(d->next_id >> 8);
            q.qbuf[1] = (uint8_t)d->next_id;
            ares_send(d->ch, q.qbuf, q.qlen, answered, s);
        } else
            ares_query(d->ch, q.name, 1 /* C_IN */, q.type, answered, s);
    }
    d->busy = false;
}

void dns_on_fd(struct dns *d, int fd, uint32_t events, uint64_t now)
{
    if (d->closing)
        return;
    ares_socket_t rfd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
    bool was_busy = d->busy;
    d->busy = true;
    ares_process_fd(d->ch, rfd, wfd);
    d->busy = was_busy;
    dns_pump(d, now);
}

/* Microseconds until c-ares' nearest retransmission or timeout, or -1. */
static int64_t ares_wait_us(struct dns *d)
{
    struct timeval tv;
    if (!d->ch || !ares_timeout(d->ch, NULL, &tv))
        return -1;
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

uint64_t dns_next_deadline(struct dns *d, uint64_t now)
{
    uint64_t until = 0;
    if (d->q_len > 0 && d->free_head != NO_SLOT) {
        rate_refill(&d->rate, now);
        if (rate_ready(&d->rate))
            return now;
        until = rate_next_ms(&d->rate, now);
    }
    int64_t us = ares_wait_us(d);
    if (us >= 0) {
        uint64_t t = now + (uint64_t)((us + 999) / 1000);
        if (!until || t < until)
            until = t;
    }
    return until;
}

void dns_on_timer(struct dns *d, uint64_t now)
{
    if (d->closing)
        return;
    int64_t us = ares_wait_us(d);
    if (us >= 0 && us < 1000) {
        bool was_busy = d->busy;
        d->busy = true;
        ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        d->busy = was_busy;
    }
    dns_pump(d, now);
}

size_t dns_pending(const struct dns *d)
{
    return (size_t)d->q_len + d->in_flight;
}

size_t dns_queue_room(const struct dns *d)
{
    return (size_t)(d->cfg.queue_max - d->q_len);
}

const struct dns_stats *dns_stats(const struct dns *d)
{
    return &d->stats;
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    d->closing = true;
    /* closing a socket removes it from any epoll set; the engine may be
     * gone already, so the socket-state callbacks no longer reach it */
    d->watch = NULL;
    if (d->ch)
        ares_destroy(d->ch);
    free(d->slots);
    free(d->queue);
    free(d);
}
