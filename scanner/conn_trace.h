/*
 * conn_trace.h - phase names and the --debug phase-transition trace of
 * conn.c (conn_trace_enable, the switch, is declared in conn.h).
 */
#ifndef MAILTLS_CONN_TRACE_H
#define MAILTLS_CONN_TRACE_H

#include <stdbool.h>

struct conn;

/* The name of `phase` for connection c: the engine's own phases, else the
 * protocol's (c->ops->phase_name). */
const char *conn_phase_name(const struct conn *c, int phase);

/* Set by conn_trace_enable; read on every transition, so a plain flag. */
extern bool conn_trace_on;
void conn_trace_line(const struct conn *c, const char *to, const char *event);

#define CONN_TRACE(c, to, event)                                                                             \
    do {                                                                                                     \
        if (conn_trace_on)                                                                                   \
            conn_trace_line((c), (to), (event));                                                             \
    } while (0)

#endif
