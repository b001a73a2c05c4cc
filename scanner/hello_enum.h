/*
 * hello_enum.h - what one target's raw TLS enumeration has learned, and
 * which ClientHello comes next (tlsenum.c schedules the connections; this
 * is the method). Method, fields and grade rule: scanner/TLS-ENUM.md.
 *
 * Steps, one connection each, in this order:
 *   SSL2        an SSLv2 CLIENT-HELLO
 *   SUITES v    for SSLv3, TLS 1.0 .. 1.3: the version's candidate suites
 *               in chunks of HE_CHUNK; the server names one, it is removed
 *               and the chunk offered again, until the server refuses the
 *               chunk; then the next chunk. Without --ciphers a version
 *               stops at its first accepted suite.
 *   ORDER v     (--ciphers, >= 2 suites) does the server choose by its
 *               own preference? The accepted suites with a "loser" first
 *               (a suite the server passed over for another during
 *               discovery: under server order never its top), so one
 *               answer decides; without a loser in reverse order, then if
 *               needed forward. If server order, and the suites were found
 *               in more than one chunk, they are ranked by removal.
 *   GROUPS13    (--ciphers) TLS 1.3 with an empty key_share: the
 *               HelloRetryRequest names a group; removed; again.
 *   GROUPS12    (--ciphers) TLS 1.2 ECDHE: the curve from ServerKeyExchange.
 *   FALLBACK    (>= 2 versions) the second-highest version with
 *               TLS_FALLBACK_SCSV: inappropriate_fallback or not.
 * Renegotiation indication, compression (DEFLATE is offered), heartbeat
 * and the DHE prime size come from the answers of the steps above.
 */
#ifndef MAILTLS_HELLO_ENUM_H
#define MAILTLS_HELLO_ENUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../output/record.h"
#include "hello_parse.h"

#define HE_NVER 5 /* SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 */
#define HE_V13 4
#define HE_CHUNK 64      /* suites per ClientHello while discovering */
#define HE_MAX_FOUND 160 /* accepted suites kept per version */
#define HE_MAX_GROUPS 32
#define HE_MAX_OFFER 192

enum he_step {
    HE_SSL2,
    HE_SUITES,
    HE_ORDER_REV,
    HE_ORDER_FWD,
    HE_ORDER_RANK,
    HE_GROUPS13,
    HE_GROUPS12,
    HE_FALLBACK,
    HE_DONE
};

struct he_state {
    bool ciphers; /* --ciphers: all suites, order, groups; else versions only */
    uint8_t step, ver, chunk, attempt;
    int8_t main_ver;          /* version the main probe completed (HE index), -1 */
    uint8_t tested, accepted; /* bit per version */
    int8_t sslv2, fallback, reneg, compression, heartbeat; /* -1 unknown */
    int8_t server_order[HE_NVER];
    uint8_t first_chunk[HE_NVER]; /* chunk of the first suite found */
    bool multi_chunk[HE_NVER];    /* suites found in more than one chunk */
    uint8_t last_chunk[HE_NVER];  /* chunk of the last suite found */
    uint16_t loser[HE_NVER];      /* a suite offered beside an earlier pick: never the server's top */
    bool complete;                /* nothing undecided (for the grade) */
    bool hello_sent;              /* the current test's ClientHello went out */
    bool last_close;              /* the last refusal was a hang-up, not an alert */
    uint16_t dh_bits;             /* smallest DHE prime seen, 0 = none */
    uint8_t cert_kinds;           /* --save-certs: IS_CERT_* chains still to capture */
    uint16_t n_found[HE_NVER];
    uint16_t found[HE_NVER][HE_MAX_FOUND]; /* codes; preference order once ranked */
    uint16_t n_ranked, n_groups, n_offer;
    uint16_t ranked[HE_MAX_FOUND];
    uint16_t groups[HE_MAX_GROUPS];
    uint16_t offer[HE_MAX_OFFER]; /* suites or groups of the test in flight */
    struct hello_parser hp;
};

/* Frees what the parser captured (the Certificate); the state stays valid. */
void he_release(struct he_state *s);
/* Builds the candidate lists once (not thread-safe: call at start-up). */
void he_init_tables(void);
/* main_ver: HE index of the main probe's version, or -1. Afterwards the
 * caller may set cert_kinds (the Certificate of answers whose suite needs a
 * certificate of such a kind is captured: s->hp.cert, s->hp.r.cert_kind). */
void he_start(struct he_state *s, bool ciphers, int main_ver);
/* Moves to the next test that must run; false when there is none. */
bool he_next(struct he_state *s, struct record *r);
/* The ClientHello of the current test (sni may be NULL); 0 = none. */
size_t he_hello(struct he_state *s, const char *sni, const unsigned char random[32], unsigned char *out,
                size_t cap);
/* Bytes of the answer; true once it is complete (eof: peer closed). */
bool he_bytes(struct he_state *s, const unsigned char *d, size_t n, bool eof);
/* Applies the complete answer. Returns false when it proved nothing (the
 * same test should run again, at most twice: he_retry). */
bool he_answer(struct he_state *s, struct record *r);
/* The test ended without an answer (status, error); false = inconclusive. */
bool he_no_answer(struct he_state *s, struct record *r, enum rec_status status);
/* An inconclusive test: true = run it again; false = given up (noted). */
bool he_retry(struct he_state *s, struct record *r, const char *why);
/* The enumeration fields of the record (TLS-ENUM.md). */
void he_write(struct he_state *s, struct record *r);
/* Interrupted: notes it, no more tests. */
void he_interrupt(struct he_state *s, struct record *r);
/* Names: "SSLv3", "TLSv1", ... */
extern const char *const he_ver_name[HE_NVER];

#endif
