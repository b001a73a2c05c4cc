/*
 * iana_suites.h - the TLS cipher suites and named groups a raw ClientHello
 * (hello.c) can offer: every suite of the IANA "TLS Cipher Suites" registry
 * a server can select (plus 0x0066, which GnuTLS still serves), with its
 * IANA name, OpenSSL's name where Debian's OpenSSL knows it, and the class
 * bits that tls_weak and tls_grade are computed from (TLS-ENUM.md); the
 * IANA "TLS Supported Groups" registry; the SSLv2 cipher kinds.
 *
 * The tables are constant data: no loading, shared by every thread.
 */
#ifndef MAILTLS_IANA_SUITES_H
#define MAILTLS_IANA_SUITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* class bits of a suite */
enum {
    IS_TLS13 = 1 << 0,     /* a TLS 1.3 suite (only offered at TLS 1.3) */
    IS_EXPORT = 1 << 1,    /* export-grade (40/56-bit) */
    IS_ANON = 1 << 2,      /* no server authentication (DH_anon, ECDH_anon) */
    IS_NULL = 1 << 3,      /* no encryption */
    IS_RC4 = 1 << 4,       /* RC4 */
    IS_DES = 1 << 5,       /* single DES (DES40 included) */
    IS_3DES = 1 << 6,      /* 3DES-EDE */
    IS_RC2 = 1 << 7,       /* RC2 (always export) */
    IS_MD5 = 1 << 8,       /* HMAC-MD5 */
    KX_DHE = 1 << 9,       /* finite-field ephemeral DH: ServerKeyExchange starts with p */
    KX_ECDHE = 1 << 10,    /* ECDHE: ServerKeyExchange names the curve */
    NEEDS_CREDS = 1 << 11, /* PSK, SRP, KRB5, ECCPWD: needs a shared secret */
};

struct iana_suite {
    uint16_t code;
    const char *openssl; /* OpenSSL's name, or NULL when Debian's OpenSSL has none */
    const char *name;    /* IANA name */
    uint16_t flags;
};

struct iana_group {
    uint16_t code;
    const char *name; /* IANA name (x25519, secp256r1, X25519MLKEM768, ffdhe2048) */
    bool pq_hybrid;   /* post-quantum (hybrid) key agreement */
    bool legacy;      /* not defined for TLS 1.3 (binary curves, small prime curves) */
};

extern const struct iana_suite iana_suites[];
extern const size_t iana_suites_n;
extern const struct iana_group iana_groups[];
extern const size_t iana_groups_n;

/* kind of certificate key a suite authenticates with (--save-certs) */
enum { IS_CERT_RSA = 1, IS_CERT_EC = 2, IS_CERT_DSA = 4 };

/* The suite with this codepoint, or NULL (binary search). */
const struct iana_suite *iana_suite_find(uint16_t code);
/* The group with this codepoint, or NULL. */
const struct iana_group *iana_group_find(uint16_t code);
/* IS_CERT_* of the server certificate a suite needs; 0 = none or another
 * kind (anonymous, PSK/SRP/KRB5, static DH, GOST, TLS 1.3 suites). */
unsigned iana_suite_cert_kind(const struct iana_suite *s);
/* Index of a suite in iana_suites (for bitsets), or -1. */
int iana_suite_index(uint16_t code);

#endif
