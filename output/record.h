/*
 * record.h - one finished probe: what a client saw at one (address, port).
 *
 * The record is the contract between the scanner and every writer. Its
 * fields are described once, in the table rec_fields[] (record.c): name,
 * type, byte cap and the documentation line. The JSON and CSV writers walk
 * that table, so a field added here appears in every format and in
 * `mailtls-scan --schema` without touching the writers.
 *
 * Storage: every field starts out null. Numbers and booleans live in num[];
 * text and list fields live in a fixed arena (no heap, no growth). Text is
 * raw bytes exactly as the server sent them (NUL, control bytes and invalid
 * UTF-8 included): escaping happens only in the writers. A value that does
 * not fit its cap, or the arena, is cut and the field's bit in `truncated`
 * is set; the writers build the `truncated` field from those bits (nobody
 * adds to it by hand).
 */
#ifndef MAILTLS_RECORD_H
#define MAILTLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enum mt_proto, enum mt_tls_mode and their names: the protocol table */
#include "mt_proto.h"

/* The `status` field. Stable strings: users' scripts match on them. */
#define REC_STATUS_LIST(X)                                                                                   \
    X(STATUS_OK, "ok")                                                                                       \
    X(STATUS_REFUSED, "refused")                                                                             \
    X(STATUS_CONNECT_TIMEOUT, "connect-timeout")                                                             \
    X(STATUS_READ_TIMEOUT, "read-timeout")                                                                   \
    X(STATUS_RESET, "reset")                                                                                 \
    X(STATUS_CLOSED, "closed")                                                                               \
    X(STATUS_SERVER_BUSY, "server-busy")                                                                     \
    X(STATUS_REJECTED, "rejected")                                                                           \
    X(STATUS_PROTOCOL_ERROR, "protocol-error")                                                               \
    X(STATUS_STARTTLS_REFUSED, "starttls-refused")                                                           \
    X(STATUS_TLS_FAILED, "tls-failed")                                                                       \
    X(STATUS_UNREACHABLE, "unreachable")                                                                     \
    X(STATUS_CONNECT_ERROR, "connect-error")                                                                 \
    X(STATUS_BLOCKLISTED, "blocklisted")                                                                     \
    X(STATUS_INTERRUPTED, "interrupted")                                                                     \
    X(STATUS_RESOLVED, "resolved")                                                                           \
    X(STATUS_NO_MAIL, "no-mail")                                                                             \
    X(STATUS_DNS_NXDOMAIN, "dns-nxdomain")                                                                   \
    X(STATUS_DNS_SERVFAIL, "dns-servfail")                                                                   \
    X(STATUS_DNS_TIMEOUT, "dns-timeout")                                                                     \
    X(STATUS_DNS_NO_ADDRESS, "dns-no-address")                                                               \
    X(STATUS_DNS_ERROR, "dns-error")                                                                         \
    X(STATUS_LOCAL_ERROR, "local-error")                                                                     \
    X(STATUS_DUPLICATE, "duplicate")

enum rec_status {
#define X(id, name) id,
    REC_STATUS_LIST(X)
#undef X
        STATUS_COUNT
};
const char *rec_status_name(enum rec_status s);

/* Field identifiers, in output order. Keep in step with rec_fields[]. */
enum rec_field {
    F_IP,
    F_PORT,
    F_HOST,
    F_PROTOCOL,
    F_TLS_MODE,
    F_STATUS,
    F_ERROR,
    F_PHASE,
    F_BANNER,
    F_CAPS_BEFORE_TLS,
    F_STARTTLS_OFFERED,
    F_STARTTLS_REPLY,
    F_STARTTLS_OK,
    F_STARTTLS_EXTRA_BYTES,
    F_AUTH_BEFORE_TLS,
    F_PLAINTEXT_AUTH_BEFORE_TLS,
    F_CAPS_AFTER_TLS,
    F_AUTH_AFTER_TLS,
    F_AUTH_PROBE,
    F_AUTH_PROBE_REPLY,
    F_TLS_VERSION,
    F_TLS_CIPHER,
    F_CERT_SUBJECT,
    F_CERT_ISSUER,
    F_CERT_SAN,
    F_CERT_NOT_BEFORE,
    F_CERT_NOT_AFTER,
    F_CERT_SHA256,
    F_CERT_TRUSTED,
    F_CERT_VERIFY_ERROR,
    F_CERT_HOSTNAME_MATCH,
    F_CERT_KEY,
    F_CERT_SIG_ALG,
    F_CERT_CHAIN_LEN,
    F_CERT_DAYS_LEFT,
    F_CERT_SELF_SIGNED,
    F_OCSP_STAPLED,
    F_TLS_GROUP,
    F_TLS_VERSIONS,
    F_TLS_VERSIONS_TESTED,
    F_TLS_CIPHERS,
    F_TLS_SERVER_ORDER,
    F_TLS_WEAK,
    F_TLS_GRADE,
    F_TLS_ENUM_INCOMPLETE,
    F_DOMAIN,
    F_MX_PREFERENCE,
    F_MX,
    F_COUNTRY,
    F_ASN,
    F_AS_ORG,
    F_TIME_MS,
    F_PARTIAL,
    F_STARTTLS_INJECTION,
    F_STARTTLS_REQUIRED,
    F_STARTTLS_MASKED,
    F_DNSSEC,
    F_MX_DNSSEC,
    F_DANE,
    F_DANE_RECORDS,
    F_MTA_STS,
    F_MTA_STS_ID,
    F_MTA_STS_ERROR,
    F_TLS_RPT,
    F_TLS_RPT_RUA,
    F_POLICY_BREAKS_DELIVERY,
    F_RESULT_TYPES,
    F_DANE_MATCH,
    F_MTA_STS_MX,
    F_MTA_STS_MAX_AGE,
    F_TLS_CIPHERS_OPENSSL,
    F_TLS_GROUPS,
    F_TLS_PQ_HYBRID,
    F_TLS_FALLBACK_SCSV,
    F_TLS_SECURE_RENEGOTIATION,
    F_TLS_COMPRESSION,
    F_TLS_HEARTBEAT,
    F_TLS_DH_BITS,
    F_SSLV2,
    F_SSLV3,
    F_IMPLICIT_TLS,
    F_TRUNCATED,
    F_COUNT
};

enum rec_type {
    RT_TEXT, /* bytes; JSON string, CSV quoted field */
    RT_LIST, /* list of byte strings; JSON array, CSV items joined by '|' */
    RT_INT,  /* signed 64-bit; JSON number */
    RT_BOOL, /* JSON true/false */
    RT_JSON, /* an object of string arrays made by the scanner (recjson.h);
              * JSON: the object itself, CSV: its text in one cell. Never cut:
              * a value over the cap is left out and marked truncated. */
};

struct rec_field_def {
    const char *name;
    enum rec_type type;
    uint16_t cap;       /* max bytes kept (text: whole value; list: per item) */
    uint16_t max_items; /* lists only */
    const char *doc;    /* one line, for --schema and the README */
};
extern const struct rec_field_def rec_fields[F_COUNT];

/* Room for both suite objects in full (their RT_JSON caps); only the used
 * part of the arena is ever touched (rec_reset clears no bytes). */
#define REC_ARENA_BYTES 36864
#define REC_LIST_MAX_BYTES 2048       /* one list's share of the arena */
#define REC_SCALAR_RESERVE_BYTES 1024 /* never taken by lists */

struct rec_span {
    uint16_t off;        /* text: start of bytes; list: offset of first item node */
    uint16_t len;        /* text: byte length; list: item count */
    uint16_t last;       /* list: offset of last item node (for O(1) append) */
    uint16_t list_bytes; /* list: arena bytes its nodes use */
};

/* One bit per field. 64 fields were not enough once the policy fields
 * came (issue 12); gcc and clang on every target we build for have the
 * 128-bit type. */
typedef unsigned __int128 rec_mask;
_Static_assert(F_COUNT <= 128, "is_set and truncated are 128-bit masks");

struct record {
    rec_mask is_set;    /* bit per field: not set = null */
    rec_mask truncated; /* bit per field: value was cut to fit */
    int64_t num[F_COUNT];
    struct rec_span span[F_COUNT];
    uint16_t arena_used;
    unsigned char arena[REC_ARENA_BYTES];
};

void rec_reset(struct record *r);
bool rec_has(const struct record *r, enum rec_field f);
void rec_set_int(struct record *r, enum rec_field f, int64_t v);
void rec_set_bool(struct record *r, enum rec_field f, bool v);
/* Text setters copy; a second set of the same field replaces the value
 * (the old bytes are reclaimed only when they were the newest). */
void rec_set_text(struct record *r, enum rec_field f, const void *data, size_t len);
void rec_set_str(struct record *r, enum rec_field f, const char *s);
void rec_set_status(struct record *r, enum rec_status s);
/* Marks f as cut to fit (a value its producer had to shorten before the
 * record saw it, e.g. a reply longer than the connection's reply buffer). */
void rec_mark_truncated(struct record *r, enum rec_field f);
/* Makes the list field present and empty (JSON []), e.g. "no mechanisms". */
void rec_list_init(struct record *r, enum rec_field f);
/* Appends one item (initialising the list if needed). Silently ignores
 * items past max_items, setting the truncated bit. */
void rec_list_add(struct record *r, enum rec_field f, const void *data, size_t len);
bool rec_list_contains(const struct record *r, enum rec_field f, const char *s, bool nocase);
/* The same for an item of explicit length (which may hold NUL bytes). */
bool rec_list_contains_bytes(const struct record *r, enum rec_field f, const void *data, size_t len,
                             bool nocase);

/* Read access for writers. rec_int of a field that is not set is 0. */
int64_t rec_int(const struct record *r, enum rec_field f);
const unsigned char *rec_text(const struct record *r, enum rec_field f, size_t *len);
/* Iterate a list: pass *cursor = 0 first; returns 0 when done. */
int rec_list_next(const struct record *r, enum rec_field f, uint16_t *cursor, const unsigned char **item,
                  size_t *len);

#endif
