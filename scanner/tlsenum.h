/*
 * tlsenum.h - what a server still accepts: TLS versions and cipher suites,
 * found with extra handshakes after the main probe (--tls-versions,
 * --ciphers).
 *
 * Flow: the main probe's record is offered to the enumerator when it is
 * finished. If the probe reached TLS and enumeration is on, the enumerator
 * keeps the record, queues test jobs (JOB_TLS_TEST: the protocol's
 * STARTTLS dance, then one handshake with a pinned version or cipher
 * list), hears each outcome through tls_enum_done, and emits the record
 * with the tls_* enumeration fields once its last test has answered. Tests
 * of one target run one at a time (--per-ip), and each counts against
 * --rate like any connection, because the engine launches them.
 */
#ifndef MAILTLS_TLSENUM_H
#define MAILTLS_TLSENUM_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "conn.h"

struct tls_enum_opts {
    bool versions;          /* --tls-versions */
    bool ciphers;           /* --ciphers (implies versions) */
    const char *save_certs; /* --save-certs DIR, or NULL */
    uint32_t max_held;      /* records held at once (bounded memory) */
};

struct tls_enum;

/* emit: where finished records go (returns -1 on output failure). */
struct tls_enum *tls_enum_new(const struct tls_enum_opts *o, int (*emit)(void *, struct record *),
                              void *emit_ctx, char *err, size_t errlen);
void tls_enum_free(struct tls_enum *t);
/* A main probe finished. Returns 1 when the enumerator took the record
 * (emitted later), 0 when the caller must emit it now. */
int tls_enum_offer(struct tls_enum *t, const struct job *j, struct record *r);
/* Next test job to launch; false when none is ready. */
bool tls_enum_next_job(struct tls_enum *t, struct job *out);
/* Records are held or tests are pending: input is not finished yet. */
bool tls_enum_busy(const struct tls_enum *t);
/* No room to hold another record: the feed pauses new targets. */
bool tls_enum_full(const struct tls_enum *t);
/* engine_io hooks (ctx = struct tls_enum *). */
void tls_enum_setup(void *t, const struct job *j, SSL *ssl);
void tls_enum_done(void *t, const struct job *j, SSL *ssl, bool ok, enum rec_status status, const char *error);
/* -1 after an emit failed. */
int tls_enum_failed(const struct tls_enum *t);

#endif
