/*
 * mt_proto.h - the protocol table: one row per protocol the scanner speaks.
 *
 * Adding a protocol is ONE row in MT_PROTO_LIST below plus ONE file,
 * scanner/<id>.c, that defines `const struct proto_ops <id>_ops` (the
 * conversation: greet, line, after-TLS, cut, phase names; see
 * scanner/proto.h). Nothing else in the core changes:
 *
 *   reads the row                      what it takes
 *   targets/port.c                     names, implicit-TLS name, default ports
 *   output/record.c                    `protocol` / `tls_mode` names and doc
 *   scanner/options.c                  the protocol list of --help
 *   scanner/proto.c                    the row's <id>_ops (the callbacks)
 *
 * Why an X-macro in output/ and the callbacks found by name: targets/ and
 * output/ must not include scanner/ headers, yet they need the names and
 * ports; the scanner needs the callbacks, which live in scanner/. One list
 * in the lowest layer, expanded twice, keeps both halves from one row: here
 * into the low-layer data (mt_proto.c) and in scanner/proto.c into
 * `&<id>_ops`. A row without its scanner file is a link error (undefined
 * <id>_ops); a file without its row is never reached; an unknown value
 * cannot be looked up (no default, no silent SMTP fallback).
 *
 * Row: X(ID, id, implicit-TLS name or NULL, STARTTLS command,
 *        (STARTTLS ports), (implicit-TLS ports))
 * `id` is the protocol's record name and --ports name, and the prefix of
 * its scanner file and ops. Port lists are parenthesised, 0 for none; a
 * port in a list is inferred when given alone in --ports (each port in at
 * most one row).
 */
#ifndef MAILTLS_MT_PROTO_H
#define MAILTLS_MT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Order is the enum's order: only append (resume keys store names, but the
 * enum values appear in tests). */
#define MT_PROTO_LIST(X)                                                                                     \
    X(SMTP, smtp, "smtps", "STARTTLS", (25, 587), (465))                                                     \
    X(IMAP, imap, "imaps", "STARTTLS", (143), (993))                                                         \
    X(POP3, pop3, "pop3s", "STLS", (110), (995))                                                             \
    X(LMTP, lmtp, NULL, "STARTTLS", (24), (0))                                                               \
    X(SIEVE, sieve, NULL, "STARTTLS", (4190), (0))

enum mt_proto {
#define MT_PROTO_ENUM(ID, id, implicit, cmd, sports, iports) PROTO_##ID,
    MT_PROTO_LIST(MT_PROTO_ENUM)
#undef MT_PROTO_ENUM
        MT_PROTO_COUNT
};
enum mt_tls_mode { TLS_MODE_STARTTLS, TLS_MODE_IMPLICIT };

#define MT_PROTO_PORTS_MAX 4

/* The low-layer half of a row. */
struct mt_proto_info {
    const char *name;                            /* "smtp": record `protocol`, --ports /PROTO */
    const char *implicit_name;                   /* "smtps", or NULL: no implicit-TLS variant */
    const char *starttls_cmd;                    /* "STARTTLS", "STLS" */
    uint16_t starttls_ports[MT_PROTO_PORTS_MAX]; /* 0-terminated */
    uint16_t implicit_ports[MT_PROTO_PORTS_MAX]; /* 0-terminated */
};

/* Row of p; NULL for a value outside the table. */
const struct mt_proto_info *mt_proto_info(enum mt_proto p);
const char *mt_proto_name(enum mt_proto p);
const char *mt_tls_mode_name(enum mt_tls_mode m);
/* "smtp" / "SMTPS" (any case, len bytes) -> protocol and mode. */
bool mt_proto_lookup(const char *s, size_t len, enum mt_proto *p, enum mt_tls_mode *m);
/* Standard port -> protocol and mode; false when no row lists it. */
bool mt_proto_by_port(uint16_t port, enum mt_proto *p, enum mt_tls_mode *m);
/* "smtp, smtps, imap, ..." into buf (always NUL-terminated). */
void mt_proto_names(char *buf, size_t cap);

/* For doc strings built at compile time: " smtp imap pop3". */
#define MT_PROTO_DOC_NAME(ID, id, implicit, cmd, sports, iports) " " #id
#define MT_PROTO_DOC_NAMES MT_PROTO_LIST(MT_PROTO_DOC_NAME)

#endif
