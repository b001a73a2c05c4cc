/*
 * tlssuites.h - what TLS enumeration (tlsenum.c) tests: the versions, the
 * cipher suites OpenSSL can offer (loaded once, shared by every
 * enumerator and thread), and which of them count as weak.
 */
#ifndef MAILTLS_TLSSUITES_H
#define MAILTLS_TLSSUITES_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#define TE_NVER 4 /* TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 */
#define TE_TLS13 3
#define TLSSUITES_MAX 512

/* Every suite for TLS <= 1.2: the list starts here and is narrowed with
 * "!NAME" items; security level 0 so OpenSSL does not drop weak ones. */
#define ALL_12 "ALL:COMPLEMENTOFALL"
#define SECLEVEL0 ":@SECLEVEL=0"
#define N_SUITES13 5
#define N_WEAK 9

extern const int tlssuites_ver_code[TE_NVER];
/* OpenSSL's names, as in the tls_version field. */
extern const char *const tlssuites_ver_name[TE_NVER];
/* The TLS 1.3 suites, in OpenSSL's default order. */
extern const char *const tlssuites_13[N_SUITES13];

/* weak bits */
enum {
    W_TLS10 = 1 << 0,
    W_TLS11 = 1 << 1,
    W_NULL = 1 << 2,
    W_ANON = 1 << 3,
    W_EXPORT = 1 << 4,
    W_RC4 = 1 << 5,
    W_DES = 1 << 6,
    W_3DES = 1 << 7,
    W_MD5 = 1 << 8,
};
extern const char *const tlssuites_weak_name[N_WEAK];

/* Suites OpenSSL can offer: index -> cipher; filled by tlssuites_load. */
extern const SSL_CIPHER *tlssuites_all[TLSSUITES_MAX];
extern uint16_t tlssuites_n;
extern uint16_t tlssuites_offerable[TE_NVER]; /* suites a client can send at each version */

/* Loads the table once (later calls return 0 at once). -1 with err. */
int tlssuites_load(char *err, size_t errlen);
/* Index of c in tlssuites_all, or -1. */
int tlssuites_index(const SSL_CIPHER *c);
/* W_* bits of a suite. */
uint32_t tlssuites_weak_bits(const SSL_CIPHER *c);

#endif
