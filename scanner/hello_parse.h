/*
 * hello_parse.h - reads a server's answer to a raw ClientHello (hello.h),
 * incrementally, in whatever pieces recv() returns: a ServerHello, a
 * HelloRetryRequest, an alert, or an SSLv2 SERVER-HELLO; optionally on
 * through the Certificate to the first bytes of ServerKeyExchange, for the
 * DHE prime size or the ECDHE curve.
 *
 * Memory is the struct alone (about 600 bytes): a ServerHello larger than
 * HP_MSG_CAP is refused, everything after it is only counted. The one
 * exception is asked for by hp_want_certs (--save-certs): the Certificate
 * message of a TLS <= 1.2 answer whose suite needs a certificate of a kind
 * not yet saved is kept in a buffer allocated for it (<= HP_CERT_MAX;
 * longer ones are skipped), freed by hp_release. No length from the wire is
 * trusted: each is checked against what encloses it.
 */
#ifndef MAILTLS_HELLO_PARSE_H
#define MAILTLS_HELLO_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_MSG_CAP 512            /* largest ServerHello/HRR accepted */
#define HP_TOTAL_MAX_BYTES 131072 /* read no further than this for ServerKeyExchange */
#define HP_CERT_MAX 65536         /* largest Certificate message captured */

enum hp_kind {
    HP_NONE,         /* nothing complete yet */
    HP_SERVER_HELLO, /* r.version, r.suite and the extensions below */
    HP_HRR,          /* TLS 1.3 HelloRetryRequest: r.suite, r.group */
    HP_ALERT,        /* r.alert_level, r.alert_desc */
    HP_SSL2,         /* SSLv2 SERVER-HELLO: r.ssl2_ciphers */
    HP_BAD,          /* not a well-formed answer: r.why */
};

enum hp_want {
    HP_WANT_SKE = 1 << 0, /* read on to ServerKeyExchange for (EC)DHE suites (<= 1.2) */
};

struct hello_result {
    uint8_t kind;        /* enum hp_kind */
    uint16_t version;    /* negotiated (supported_versions when present) */
    uint16_t suite;      /* chosen cipher suite */
    uint16_t group;      /* TLS 1.3 key_share/HRR group, or the ECDHE curve from ServerKeyExchange */
    uint16_t dh_bits;    /* DHE: bits of p from ServerKeyExchange (0 = not seen) */
    uint8_t compression; /* chosen compression method */
    uint8_t alert_level, alert_desc;
    bool reneg_ext;        /* renegotiation_info in the ServerHello */
    bool heartbeat_ext;    /* heartbeat in the ServerHello */
    bool ske_seen;         /* ServerKeyExchange was reached */
    uint16_t ssl2_ciphers; /* SSLv2: cipher kinds the server listed */
    uint8_t cert_kind;     /* IS_CERT_* of the Certificate captured in cert (0 = none) */
    const char *why;       /* HP_BAD: a static string */
};

struct hello_parser {
    struct hello_result r;
    unsigned want;
    uint8_t state;
    uint8_t hdr[5];
    uint8_t hdr_len;
    uint8_t rec_type;
    uint32_t rec_left; /* body bytes of the current record still to come */
    uint8_t alert[2];
    uint8_t alert_len;
    uint8_t hs[4]; /* handshake message header being read */
    uint8_t hs_len;
    uint8_t hs_type;
    uint32_t msg_left;  /* body bytes of the current handshake message still to come */
    uint32_t msg_total; /* its announced length */
    uint16_t msg_len;   /* bytes collected in msg */
    uint8_t msg[HP_MSG_CAP];
    uint32_t total;     /* bytes fed */
    uint8_t cert_kinds; /* IS_CERT_* kinds whose Certificate is wanted (hp_want_certs) */
    bool cert_wanted;   /* the chosen suite's kind is one of them: read on to the Certificate */
    bool cert_on;       /* the message being read is the Certificate captured in cert */
    bool ske_wanted;    /* read on to ServerKeyExchange after the Certificate */
    uint8_t *cert;      /* the Certificate message body being captured, or NULL */
    uint32_t cert_len;  /* bytes of it collected (complete when r.cert_kind is set) */
    bool hello_done;    /* the ServerHello was parsed; waiting for ServerKeyExchange */
    bool done;
};

void hp_init(struct hello_parser *p, unsigned want);
/* Feeds n bytes; returns true once the answer is complete (p->r.kind is
 * then not HP_NONE; later calls change nothing). */
bool hp_feed(struct hello_parser *p, const unsigned char *d, size_t n);
/* The peer closed the connection: a ServerHello already parsed stands
 * (ServerKeyExchange simply not seen); otherwise r.kind stays HP_NONE. */
void hp_eof(struct hello_parser *p);
/* After hp_init: keep the Certificate message of a TLS <= 1.2 answer whose
 * suite authenticates with one of these IS_CERT_* kinds (iana_suites.h). */
void hp_want_certs(struct hello_parser *p, unsigned kinds);
/* Frees the captured Certificate (p->cert); the parser can be reused
 * after hp_init. Safe on a parser that captured nothing. */
void hp_release(struct hello_parser *p);
/* Walks the certificate_list of a TLS <= 1.2 Certificate message body (m,
 * n): from *at (start with 0) gives the next DER certificate and moves *at
 * past it. false at the end or on a length that does not fit. */
bool hp_cert_next(const uint8_t *m, size_t n, size_t *at, const uint8_t **der, size_t *len);

#endif
