/*
 * hello.h - ClientHello records built by hand, for the raw enumeration of
 * tlsenum.c: no OpenSSL, no key material, only the bytes a server needs to
 * answer with a ServerHello, a HelloRetryRequest or an alert.
 *
 * One builder covers SSLv3 and TLS 1.0 to 1.2 (legacy_version pinned, the
 * record layer at 3.0 or 3.1) and TLS 1.3 (legacy_version 3.3 and
 * supported_versions holding 3.4 only, an empty key_share so that a server
 * that accepts answers with a HelloRetryRequest naming its group: nothing
 * is ever computed). hello_build_ssl2 makes the SSLv2 CLIENT-HELLO.
 */
#ifndef MAILTLS_HELLO_H
#define MAILTLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HELLO_SSL3 0x0300
#define HELLO_TLS10 0x0301
#define HELLO_TLS11 0x0302
#define HELLO_TLS12 0x0303
#define HELLO_TLS13 0x0304
#define HELLO_SCSV_RENEG 0x00FF
#define HELLO_SCSV_FALLBACK 0x5600
#define HELLO_MAX_BYTES 2048 /* a ClientHello never grows past this */

struct hello_spec {
    uint16_t version;       /* HELLO_SSL3 .. HELLO_TLS13 */
    const uint16_t *suites; /* in the order offered */
    size_t n_suites;
    const uint16_t *groups; /* supported_groups (none for SSLv3) */
    size_t n_groups;
    const char *sni;    /* server_name, or NULL/"" (IP literals must not be sent) */
    bool fallback_scsv; /* append TLS_FALLBACK_SCSV */
    bool deflate;       /* offer DEFLATE compression besides null */
    bool heartbeat;     /* heartbeat extension (peer_allowed_to_send) */
    /* TLS 1.3: one key share of this group instead of an empty list
     * (x25519 only: 32 random bytes are a valid public key). 0 = empty. */
    uint16_t key_share;
};

/* Writes the ClientHello record(s) for s into out; random supplies the 32
 * bytes of client random (and the session id of TLS 1.3). Returns the
 * length, or 0 when it does not fit cap or s is invalid. */
size_t hello_build(const struct hello_spec *s, const unsigned char random[32], unsigned char *out,
                   size_t cap);
/* SSLv2 CLIENT-HELLO offering the seven SSLv2 cipher kinds (version 2). */
size_t hello_build_ssl2(const unsigned char challenge[16], unsigned char *out, size_t cap);

#endif
