/*
 * tlsenum.h - what a server still accepts: TLS versions and cipher suites,
 * found with extra handshakes after the main probe (--tls-versions,
 * --ciphers), and the certificates it sends (--save-certs).
 *
 * Flow: the main probe's record is offered to the enumerator when it is
 * finished. If the probe reached TLS and enumeration is on, the enumerator
 * keeps the record, queues test jobs (JOB_TLS_TEST: the protocol's
 * STARTTLS dance, then one handshake with a pinned version or cipher
 * list), hears each outcome through tls_enum_done, and emits the record
 * with the tls_* enumeration fields once its last test has answered. At
 * most --per-ip test connections run at once against one address (across
 * all ports and names of that address), and each counts against --rate
 * like any connection, because the engine launches them. The method, the
 * fields and the grade rule are in scanner/TLS-ENUM.md. --save-certs is
 * certsave.h (the enumerator creates the saver and frees it).
 */
#ifndef MAILTLS_TLSENUM_H
#define MAILTLS_TLSENUM_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "job.h"

struct tls_enum_opts {
    bool versions;          /* --tls-versions */
    bool ciphers;           /* --ciphers (implies versions) */
    const char *save_certs; /* --save-certs DIR, or NULL */
    uint32_t max_held;      /* records held at once before the feed pauses */
    uint32_t in_flight_max; /* main probes that may still finish once paused
                             * (the engine's concurrency): extra slots */
    uint32_t per_ip;        /* --per-ip: test connections per address at once */
    SSL_CTX *ssl_ctx;       /* the engine's context: chains seen through it
                             * are saved (--save-certs) */
};

struct tls_enum;

/* emit: where finished records go (returns -1 on output failure). Memory:
 * (max_held + in_flight_max) record slots of about 7.5 KB, allocated here
 * and touched only when used. */
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
void tls_enum_done(void *t, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                   const char *error);
/* engine_io.tls_test_hello / tls_test_bytes: the raw test's ClientHello
 * and its answer (engine.h). */
size_t tls_enum_hello(void *t, const struct job *j, unsigned char *buf, size_t cap);
bool tls_enum_bytes(void *t, const struct job *j, const unsigned char *d, size_t n, bool eof);
/* -1 after an emit failed. */
int tls_enum_failed(const struct tls_enum *t);
/* Emits every record still held (scan interrupted or stopped early), with
 * what is still undecided listed in tls_enum_incomplete. Call after
 * engine_run and before the output is closed. Returns -1 if an emit failed. */
int tls_enum_flush(struct tls_enum *t);
/* Handshakes of enumeration so far (for the summary and benchmarks). */
uint64_t tls_enum_tests(const struct tls_enum *t);

#endif
