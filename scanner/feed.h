/*
 * feed.h - turns the target stream into jobs for the engine.
 *
 * Each target item becomes one job per port (or one job for IP:PORT). A
 * blocklisted item becomes `blocklisted` records without any packet; a
 * malformed line is reported on stderr with its file and line and counted.
 * Every (target, port) therefore yields exactly one record.
 */
#ifndef MAILTLS_FEED_H
#define MAILTLS_FEED_H

#include <stdint.h>

#include "conn.h"
#include "engine.h"
#include "tlsenum.h"

struct feed {
    struct tgt_source *src;
    const struct tgt_port *ports;
    size_t n_ports;
    struct engine_io out;   /* where records go (emit) and who ticks (tick) */
    struct tgt_item item;   /* current item */
    size_t port_index;      /* next port of the current item */
    bool have_item;
    uint64_t malformed, blocklisted_records, unresolved_records;
    struct tls_enum *tls_enum; /* NULL unless --tls-versions/--ciphers */
    struct record scratch;
};

enum job_next feed_next(void *feed, struct job *out);
int feed_wait_fd(void *feed);
/* Forward to feed->out: the feed is the engine's only partner. */
int feed_emit(void *feed, const struct job *j, struct record *r);
int feed_tick(void *feed, uint64_t now_ms);

/* Fills the identity fields (ip, port, host, protocol, tls_mode) of a record. */
void job_to_record(const struct job *j, struct record *r);

#endif
