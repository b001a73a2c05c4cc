/*
 * conn.h - one probe in flight: the socket, its buffers, its deadline and
 * what it has learned so far.
 *
 * Every conn lives in a pool sized once from --concurrency (engine.c); the
 * hot path allocates nothing except the SSL object, which exists only from
 * the TLS handshake on. Buffers are fixed: rx holds at most one line being
 * framed, tx one command, reply the first bytes of the current reply.
 *
 * Life of a conn (engine.c drives it, a protocol file gives it meaning):
 *
 *   CONNECTING --writable--> [implicit: TLS_HANDSHAKE] --> protocol phases
 *   protocol phases --conn_start_tls--> TLS_HANDSHAKE --> protocol phases
 *   (a raw enumeration test: --conn_start_tls--> RAW_HELLO --> finished)
 *   any phase --conn_finish--> record emitted, slot freed
 */
#ifndef MAILTLS_CONN_H
#define MAILTLS_CONN_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../output/record.h"
#include "../targets/target.h"
#include "job.h"
#include "proto.h"

#define RX_CAP_BYTES 4096         /* longest line we accept, plus slack */
#define TX_CAP_BYTES 512          /* longest command we send */
#define REPLY_CAP_BYTES 512       /* bytes of one reply kept for the record */
#define RX_TOTAL_MAX_BYTES 262144 /* a server sending more is a protocol error */

/* Phases shared by every protocol; protocol phases start at PHASE_PROTO. */
enum conn_phase {
    PHASE_FREE,
    PHASE_CONNECTING,
    PHASE_TLS_HANDSHAKE,
    PHASE_AWAIT_QUIT_REPLY,
    PHASE_AWAIT_INJECTED_REPLY, /* --downgrade-checks: TLS is up, nothing sent yet (conn_await_injected) */
    PHASE_RAW_HELLO,            /* JOB_TLS_TEST: raw ClientHello sent, reading the answer */
    PHASE_PROTO,
};

/* --downgrade-checks: where the command injected with STARTTLS stands. */
enum conn_injection {
    INJECTION_NONE,    /* not tried on this connection */
    INJECTION_SENT,    /* went out in the same send as STARTTLS */
    INJECTION_VOID,    /* part of it was still unsent when TLS began: no verdict */
    INJECTION_WAITING, /* TLS is up; waiting for an answer we did not ask for */
    INJECTION_DONE,    /* verdict recorded */
};

struct engine;

/* Each conn starts on a page of its own. Only the pages a probe writes
 * become resident (the pool is never cleared: engine.c), and what a probe
 * waiting for its greeting writes (this header, the job, the record's
 * header and first values: about 2.6 KB) then fits in one page instead of
 * straddling two in 2 cases out of 3 (6.5 KiB per probe before, 4.x
 * after: tools/bench --only memory). */
#define CONN_ALIGN 4096

struct conn {
    _Alignas(CONN_ALIGN) int fd;
    uint32_t gen;        /* bumped on reuse; stale epoll events carry the old value */
    uint32_t slot;       /* index in the pool */
    int phase;           /* enum conn_phase or a protocol's phase */
    uint32_t epoll_mask; /* interest currently registered */
    const struct proto_ops *ops;
    struct engine *eng;

    uint64_t start_ms;
    uint64_t total_deadline_ms;
    uint64_t deadline_ms; /* effective: min(phase deadline, total) */
    uint32_t heap_index;  /* position in the timer heap */
    uint64_t subnet;      /* its /24 or /48 while counted for --per-subnet; 0 = not */

    SSL *tls;
    bool is_tls;          /* TLS is up; lines now come through SSL_read */
    bool tls_wants_write; /* the last SSL call asked for writability */
    bool quitting;        /* QUIT/LOGOUT sent: EOF or timeout now ends in final_status */
    bool test_reported;   /* JOB_TLS_TEST: tls_test_done was called */
    bool credential_sent; /* --probe-auth: the fake credential went out on this connection */
    bool is_second;       /* the probe goes on over a second connection (auth probe hang-up) */
    uint8_t injection;    /* enum conn_injection */
    bool is_injection;    /* --downgrade-checks: the extra connection that tests STARTTLS injection */
    /* (reset when the slot is freed, with the two above) */
    /* (both reset when the slot is freed: launch in engine.c does not know them) */
    enum rec_status final_status;
    enum rec_status probe_status; /* the probe's own end, while the injection connection runs */

    uint32_t rx_total;     /* bytes received so far, capped by RX_TOTAL_MAX_BYTES */
    uint32_t literal_left; /* received bytes still to drop unframed (conn_skip: a literal) */
    uint16_t rx_len;
    uint16_t rx_off; /* bytes of rx already handed out as lines */
    uint16_t tx_len;
    uint16_t reply_len;
    uint16_t reply_lines;
    uint16_t reply_first_len; /* bytes of the reply's first line, without its line end */
    uint8_t reply_last_term;  /* bytes of the last line's line end: 2 (CRLF) or 1 (LF) */
    bool reply_cut;           /* the reply did not fit in reply[] */
    uint8_t line_term;        /* line end of the line on_line is handling: 2 or 1 */
    int reply_code;           /* SMTP: code of the reply being read */
    int tag_seq;              /* IMAP: number of the last tag sent */
    uint32_t flags;           /* protocol-specific bits (see smtp.c, imap.c, pop3.c) */

    struct job job;
    struct record rec;
    char reply[REPLY_CAP_BYTES];
    unsigned char tx[TX_CAP_BYTES];
    unsigned char rx[RX_CAP_BYTES];
};

/* Actions a protocol takes (engine.c). */
void conn_send(struct conn *c, const char *data, size_t len);
/* A string literal, its length counted by the compiler ("" x "" refuses
 * anything but a literal). */
#define conn_send_lit(c, lit) conn_send((c), "" lit "", sizeof(lit) - 1)
void conn_sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Enter a phase that waits for a reply, with a fresh read deadline. */
void conn_expect(struct conn *c, int phase);
/* Send QUIT/LOGOUT and wait briefly for its answer; the probe then ends
 * with `status` whatever the server does. */
void conn_quit(struct conn *c, const char *cmd, enum rec_status status);
/* The server agreed to STARTTLS: discard (and count) any plaintext already
 * buffered, forget everything about cleartext replies (skip counter,
 * partial lines, reply text, line counts and code), then run the
 * handshake; on_tls_up follows on success. Nothing framed before TLS
 * reaches the TLS session. */
void conn_start_tls(struct conn *c);
/* The next n received bytes are not lines (an IMAP or ManageSieve literal,
 * "{n}" at a line's end): drop them. Framing stays here, generic: the
 * protocol only says how many bytes; the bytes never reach a parser, so
 * no protocol needs its own byte counting. Reset by conn_start_tls. */
void conn_skip(struct conn *c, uint32_t n);
/* --probe-auth: the fake credential is on its way. From now until TLS, a
 * hang-up by the server (close, reset, or conn_auth_hangup) does not end
 * the probe: auth_probe becomes "disconnected" and the probe starts again
 * on a new connection, without the credential (c->is_second). */
void conn_credential_sent(struct conn *c);
/* The server hung up after the credential (IMAP BYE, SMTP 421, a close):
 * records auth_probe "disconnected" (with `reply` as auth_probe_reply when
 * not NULL) and goes on over a second connection; returns true. Returns
 * false, doing nothing, when no credential is pending (before it was sent,
 * under TLS, or on the second connection already). */
bool conn_auth_hangup(struct conn *c, const char *reply, size_t len);
/* Ends the probe now; error may be NULL. */
void conn_finish(struct conn *c, enum rec_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends one reply line to c->reply, bounded, followed by the line end it
 * arrived with (line must be the line on_line is handling). */
void conn_reply_add(struct conn *c, const char *line, size_t len);
void conn_reply_clear(struct conn *c);
/* Sets field f to the reply so far: all of it (whole), or without the
 * last line end (body), or its first line without line end (first);
 * marks f truncated when the reply did not fit in c->reply. */
enum conn_reply_part { REPLY_WHOLE, REPLY_BODY, REPLY_FIRST };
void conn_reply_store(struct conn *c, enum rec_field f, enum conn_reply_part part);
/* For on_cut: sets text field f to what arrived of the reply (the reply
 * lines, when with_reply, then the unframed bytes of an unfinished line)
 * and names f in the record's `partial` list. Nothing arrived: f is left
 * as it is. For a list field, only names it in `partial`. */
void conn_store_partial(struct conn *c, enum rec_field f, bool with_reply);
/* --debug: trace every phase transition on stderr (off by default). */
void conn_trace_enable(bool on);
/* Options the protocols need. */
const char *conn_ehlo_name(const struct conn *c);
/* --probe-auth on this probe, and the credential not yet sent by it. */
bool conn_probe_auth(const struct conn *c);
/* --downgrade-checks on this probe (a STARTTLS port). */
bool conn_downgrade_checks(const struct conn *c);
/* False on the injection connection: it records starttls_injection and
 * nothing else (the probe's own connection recorded the rest). */
bool conn_records_facts(const struct conn *c);
/* --downgrade-checks, STARTTLS injection. The probe itself runs without it;
 * when it ends with TLS having worked (starttls_ok true), its record is
 * complete but held, and the same slot opens one more connection
 * (is_injection, charged to --rate) that replays the conversation up to
 * STARTTLS, sends it with the injected command, and after the handshake
 * waits, sending nothing, for an answer (conn_await_injected; the lines go
 * to the protocol's on_line in PHASE_AWAIT_INJECTED_REPLY). Whatever
 * happens there, the record keeps the probe's own status, error, phase and
 * time_ms. A handshake that fails after the injection (Dovecot feeds the
 * pipelined bytes to its TLS layer) is false: the command was not run.
 * The wait lasts as long as the conversation took so far on this
 * connection (at least 300 ms, at most 2 s and --read-timeout): an answer
 * comes as fast as the replies before it. Silence gives false, an answer
 * true (downgrade_injected_line); either way the connection then ends. */
void conn_await_injected(struct conn *c);
/* The injection test has its verdict (or cannot have one): ends the
 * injection connection. */
void conn_injection_over(struct conn *c);

#endif
