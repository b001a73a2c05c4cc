/*
 * conn_trace.c - names of a connection's phases (for the record's `phase`
 * field and the trace) and the --debug trace of phase transitions. Split
 * from conn.c, which calls CONN_TRACE at every transition.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "conn_trace.h"
#include "engine_int.h"

const char *conn_phase_name(const struct conn *c, int phase)
{
    switch (phase) {
    case PHASE_FREE: return "free";
    case PHASE_CONNECTING: return "connect";
    case PHASE_TLS_HANDSHAKE: return "tls-handshake";
    case PHASE_AWAIT_QUIT_REPLY: return "await-quit-reply";
    case PHASE_AWAIT_INJECTED_REPLY: return "await-injected-reply";
    case PHASE_RAW_HELLO: return "raw-hello";
    default: return c->ops->phase_name(phase);
    }
}

/* ---- --debug: the phase-transition trace ------------------------------ */

/* Off by default; when off, each transition costs one test of this flag. */
bool conn_trace_on;

void conn_trace_enable(bool on)
{
    conn_trace_on = on;
}

/* One line per transition: target, protocol, old phase -> new phase, event
 * (as curl's state trace). Written with one fprintf: lines of several
 * threads do not interleave inside a line. */
void conn_trace_line(const struct conn *c, const char *to, const char *event)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    uint16_t port = c->job.port.port;
    if (c->job.addr.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->job.addr)->sin_addr, addr, sizeof addr);
    else if (c->job.addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&c->job.addr)->sin6_addr, addr, sizeof addr);
    fprintf(stderr, "debug: %s%s%s port %u %s%s: %s -> %s (%s)\n", addr, c->job.host[0] ? " " : "",
            c->job.host, (unsigned)port, mt_proto_name(c->job.port.proto),
            c->job.kind == JOB_TLS_TEST ? " tls-test"
            : c->is_injection           ? " injection"
                                        : "",
            conn_phase_name(c, c->phase), to, event);
}
