/*
 * dns.h - c-ares 1.18 inside the scan's event loop.
 *
 * One c-ares channel talking only to the servers given with --resolver:
 * /etc/resolv.conf, search domains, HOSTALIASES and /etc/hosts are never
 * consulted (the channel is built with ARES_OPT_RESOLVCONF = /dev/null,
 * explicit servers, no domains, ndots 1, lookups "b" and
 * ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES). Queries go out with ares_query
 * only (no search list).
 *
 * The loop integration follows STYLE.md: c-ares' socket-state callback adds,
 * changes or removes the fd through the caller's watch function (in the
 * scanner: engine_watch_fd); readiness comes back through dns_on_fd, which
 * calls ares_process_fd with that fd and ARES_SOCKET_BAD in the other slot;
 * dns_next_deadline (ares_timeout plus the rate limiter) bounds the epoll
 * wait and dns_on_timer calls ares_process_fd(BAD, BAD) once it expired.
 *
 * Concurrency and rate are the resolver's own, separate from the probes':
 * at most `concurrency` ares_query calls unanswered, at most `rate` new
 * queries per second (token bucket, burst rate/50). Queries beyond either
 * wait in a FIFO of `queue_max` entries; dns_query refuses (-1) when it is
 * full, so callers size it for their worst case.
 *
 * This file knows nothing of the engine: it is also compiled into
 * mailtls-dnsbench (tools/dnsbench), which drives it from its own epoll.
 */
#ifndef MAILTLS_DNS_H
#define MAILTLS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_SERVERS 8

struct dns_config {
    const char *servers[DNS_MAX_SERVERS]; /* "IP", "IP:PORT", "[IPv6]:PORT" */
    int n_servers;                        /* >= 1: there is no default */
    uint32_t concurrency;                 /* ares_query calls unanswered at most */
    double rate;                          /* new queries per second; 0 = no limit */
    uint32_t timeout_ms;                  /* first attempt; c-ares doubles it per round */
    uint32_t retries;                     /* attempts after the first */
    uint32_t queue_max;                   /* queries waiting for a slot or a token */
};

/* status is a c-ares code (ARES_SUCCESS, ARES_ENOTFOUND, ARES_ETIMEOUT...);
 * abuf is the raw answer (valid during the call only; NULL on most errors). */
typedef void (*dns_answer_fn)(void *arg, int status, const unsigned char *abuf, int alen);
/* Adds/changes (events = EPOLLIN|EPOLLOUT bits) or removes (0) an fd. */
typedef int (*dns_watch_fn)(void *ctx, int fd, uint32_t events);

struct dns_stats {
    uint64_t queued, sent, answered, timeouts, failed; /* failed: any non-success */
};

struct dns;

/* Checks and installs the servers; no socket is opened yet. NULL with err. */
struct dns *dns_new(const struct dns_config *cfg, char *err, size_t errlen);
/* Must be called before the first query is sent (dns_on_timer/dns_pump). */
void dns_set_watch(struct dns *d, dns_watch_fn fn, void *ctx);
/* Queues one query (class IN). `name` must stay valid until fn is called;
 * fn is called exactly once, from dns_on_fd/dns_on_timer/dns_pump (never
 * from dns_query itself) or never after dns_free. -1 when the queue is full. */
int dns_query(struct dns *d, const char *name, int type, dns_answer_fn fn, void *arg);
/* The same for a whole query message built by the caller (dnsraw.h):
 * qbuf must stay valid until fn is called; its id (first two bytes) is
 * overwritten when it is sent (c-ares 1.18 does not pick one for
 * ares_send; this counter can meet an id c-ares picked for an ares_query
 * in flight, then one of the two waits for a retransmission). With ares_send the answer of
 * any rcode arrives with status ARES_SUCCESS (the channel has
 * ARES_FLAG_NOCHECKRESP): the caller reads the rcode from abuf. */
int dns_send(struct dns *d, unsigned char *qbuf, int qlen, dns_answer_fn fn, void *arg);
/* Sends queued queries while concurrency and rate allow. Safe to call from
 * an answer callback (it then does nothing; the caller's loop pumps). */
void dns_pump(struct dns *d, uint64_t now_ms);
void dns_on_fd(struct dns *d, int fd, uint32_t events, uint64_t now_ms);
/* Absolute ms (same clock as now_ms) when dns_on_timer has work, 0 = none. */
uint64_t dns_next_deadline(struct dns *d, uint64_t now_ms);
void dns_on_timer(struct dns *d, uint64_t now_ms);
/* Queries queued or unanswered. */
size_t dns_pending(const struct dns *d);
size_t dns_queue_room(const struct dns *d);
const struct dns_stats *dns_stats(const struct dns *d);
/* Destroys the channel; callbacks of unanswered queries are NOT called. */
void dns_free(struct dns *d);

/* Parses "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" (a bare IPv6 address
 * without brackets has no port). Writes c-ares' CSV form ("IP:PORT" or
 * "[IPv6]:PORT") into out. 0, or -1 with err. */
int dns_server_parse(const char *s, char *out, size_t outlen, char *err, size_t errlen);

#endif
