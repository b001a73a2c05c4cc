/*
 * feed.h - turns the target stream into jobs for the engine.
 *
 * Each target item becomes one job per port (or one job for IP:PORT). A
 * blocklisted item becomes `blocklisted` records without any packet; a
 * malformed line is reported on stderr with its file and line and counted.
 * A line that repeats an earlier target (tgt_item.duplicate) yields
 * `duplicate` records the same way, without any packet or DNS query.
 * Every (target, port) therefore yields exactly one record. With --resume,
 * every target the earlier run finished is skipped here, before any DNS
 * query or connection (resume.h). Host names go
 * to the resolver (resolve.c) when --resolver is given; with --mx a domain
 * yields one domain record and each (address, port) one probe record
 * (scanner/DNS.md).
 */
#ifndef MAILTLS_FEED_H
#define MAILTLS_FEED_H

#include <stdint.h>

#include "engine.h"
#include "job.h"
#include "tlsenum.h"

struct dns;
struct resolver;
struct resume_set;

struct feed {
    struct tgt_source *src;
    const struct tgt_port *ports;
    size_t n_ports;
    struct engine_io out; /* where records go (emit) and who ticks (tick) */
    struct tgt_item item; /* current item */
    size_t port_index;    /* next port of the current item */
    bool have_item;
    uint64_t malformed, blocklisted_records, unresolved_records;
    struct tls_enum *tls_enum; /* NULL unless --tls-versions/--ciphers */
    bool input_read;           /* every input line has been read */
    uint64_t probes_out;       /* probes handed out, record not yet emitted: with
                                * tls_enum they may still bring TLS tests */
    struct record scratch;
    struct dns *dns;                 /* --resolver: c-ares in engine 0's loop (scanner/DNS.md) */
    struct resolver *res;            /* NULL without --resolver: names get a local-error record */
    struct https *https;             /* --policy: MTA-STS policy fetches in the same loop (https.h) */
    bool mx;                         /* --mx: name items are mail domains */
    const struct resume_set *resume; /* --resume: targets with a final record (NULL without) */
    uint64_t resumed;                /* jobs and records skipped: done in the earlier run */
    uint64_t duplicate_records;
};

enum job_next feed_next(void *feed, struct job *out);
int feed_wait_fd(void *feed);
/* Forward to feed->out: the feed is the engine's only partner. */
int feed_emit(void *feed, const struct job *j, struct record *r);
int feed_tick(void *feed, uint64_t now_ms);
/* engine_io.tls_test_setup/tls_test_done: forward to feed->tls_enum. */
void feed_tls_setup(void *feed, const struct job *j, SSL *ssl);
void feed_tls_done(void *feed, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                   const char *error);
/* engine_io.tls_test_hello/tls_test_bytes: the raw tests of feed->tls_enum. */
size_t feed_tls_hello(void *feed, const struct job *j, unsigned char *buf, size_t cap);
bool feed_tls_bytes(void *feed, const struct job *j, const unsigned char *d, size_t n, bool eof);

struct options;
/* With --resolver: builds f->dns and f->res and sets the resolver hooks of
 * io (on_fd, next_deadline, on_timer). 0, or -1 with err. */
int feed_dns_setup(struct feed *f, const struct options *o, struct engine_io *io, char *err, size_t errlen);
void feed_dns_free(struct feed *f);
/* engine_io.on_fd/next_deadline/on_timer: drive f->dns. */
void feed_dns_on_fd(void *feed, int fd, uint32_t events);
uint64_t feed_dns_next_deadline(void *feed);
void feed_dns_on_timer(void *feed, uint64_t now_ms);
/* Gives the resolver the engine whose epoll set holds its sockets. */
void feed_dns_attach(struct feed *f, struct engine *e);
/* After the loop ended: names/domains still in resolution get their
 * `interrupted` records. -1 if output failed. */
int feed_dns_finish(struct feed *f);

#endif
