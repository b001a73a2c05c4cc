/*
 * proto.h - the scanner half of the protocol table: what a protocol file
 * provides, and how the engine finds it.
 *
 * The rows themselves are MT_PROTO_LIST in output/mt_proto.h (names,
 * implicit-TLS name, STARTTLS command, default ports), so that targets/
 * and output/ can read them without a scanner/ header. The row with id
 * `lmtp` is served by `const struct proto_ops lmtp_ops`, defined in
 * scanner/lmtp.c: proto.c expands the same list into a table of pointers
 * to <id>_ops. A protocol is therefore one file plus one row; a row
 * without its file fails to link.
 */
#ifndef MAILTLS_PROTO_H
#define MAILTLS_PROTO_H

#include <stddef.h>

#include "../output/mt_proto.h"

struct conn;

/*
 * What a protocol file provides. The engine frames lines (CRLF or LF,
 * without the terminator) and calls on_line once per complete line; the
 * protocol answers through the conn_* actions (conn.h).
 */
struct proto_ops {
    const char *name; /* the row's id: checked against it at start-up */
    /* Connected (STARTTLS ports) or implicit TLS up: wait for the greeting. */
    void (*on_start)(struct conn *c);
    void (*on_line)(struct conn *c, const char *line, size_t len);
    /* TLS came up after the protocol's STARTTLS. */
    void (*on_tls_up)(struct conn *c);
    /* Printable name of a protocol phase (>= PHASE_PROTO). */
    const char *(*phase_name)(int phase);
    /* The reply being read will never be complete (deadline, close or
     * reset in a protocol phase): store what arrived, marked partial
     * (conn_store_partial). Called just before the probe finishes. */
    void (*on_cut)(struct conn *c);
    /* The protocol's own constant data, for a file that serves a variant
     * of another's conversation (lmtp.c runs smtp.c's with LHLO). */
    const void *variant;
};

#define PROTO_OPS_DECL(ID, id, implicit, cmd, sports, iports) extern const struct proto_ops id##_ops;
MT_PROTO_LIST(PROTO_OPS_DECL)
#undef PROTO_OPS_DECL

/* The ops of a row. p must be a table value (the engine checks jobs at
 * their source: targets/ only produces table values). */
const struct proto_ops *proto_ops_for(enum mt_proto p);
/* Start-up check that every row has complete ops whose name is the row's;
 * returns 0, or -1 after naming the broken row on stderr. */
int proto_check(void);

#endif
