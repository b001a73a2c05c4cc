/*
 * tls.h - OpenSSL on nonblocking sockets, and what a handshake tells us.
 *
 * One client SSL_CTX serves every probe. It offers TLS 1.0 to 1.3 at
 * security level 0 with OpenSSL's DEFAULT cipher order, so a server gets
 * the same preferences `openssl s_client` would send, yet legacy-only
 * servers still complete a handshake and are recorded as such. The chain
 * is verified (system store or --ca-file) but never enforced: the verdict
 * goes into the record instead.
 */
#ifndef MAILTLS_TLS_H
#define MAILTLS_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct conn;

/* Largest Certificate (or CertificateRequest) message accepted from a
 * server, in bytes. Real mail-server chains are 2 to 10 KiB, multi-domain
 * hosting certificates a few tens of KiB; 64 KiB leaves room for those and
 * keeps a hostile chain from costing more than the per-probe memory
 * ceiling (README "Resources"). OpenSSL's own default is 100 KiB. A bigger
 * message ends the handshake: tls-failed, "certificate message exceeds
 * 65536 bytes". */
#define TLS_MAX_CERT_LIST (64 * 1024)
/* Certificates in that message: real chains have 2 to 5; a parsed
 * certificate costs about 3 KiB whatever its size. */
#define TLS_MAX_CHAIN_CERTS 16
/* Extensions plus subject and issuer name entries over the whole chain:
 * real certificates have about 10 + 2 x 5; each decoded one costs 100 to
 * 200 bytes, so 16 certificates made of tiny extensions would otherwise
 * hold ten times their size. */
#define TLS_MAX_CHAIN_ITEMS 512
/* A chain bigger than this (DER) is verified on copies freed at once: the
 * extension caches verification fills (every SAN entry, decoded) do not
 * stay with the connection. Real chains are smaller and cost no copy. */
#define TLS_VERIFY_IN_PLACE_BYTES 8192

SSL_CTX *tls_client_ctx(const char *ca_file, char *err, size_t errlen);

/* RESET: the peer reset the connection (ECONNRESET), told apart from other
 * errors here so callers never test an errno that may be stale. */
enum tls_io { TLS_IO_DONE, TLS_IO_WANT, TLS_IO_EOF, TLS_IO_ERROR, TLS_IO_RESET };

/* Creates c->tls on c->fd with SNI from the job's host name (when it is a
 * name, not an address literal). Returns -1 on allocation failure. */
int tls_attach(struct conn *c, SSL_CTX *ctx);
/* Drives the handshake. WANT sets c->tls_wants_write as needed; ERROR and
 * EOF leave a description in err. */
enum tls_io tls_handshake(struct conn *c, char *err, size_t errlen);
/* Reads/writes through TLS; *n is the byte count on DONE. */
enum tls_io tls_read(struct conn *c, void *buf, size_t len, size_t *n, char *err, size_t errlen);
enum tls_io tls_write(struct conn *c, const void *buf, size_t len, size_t *n, char *err, size_t errlen);
/* Fills tls_version, tls_cipher and the cert_* fields of c->rec. */
void tls_record_facts(struct conn *c);
void tls_detach(struct conn *c);
/* true once the server's chain went over TLS_MAX_CHAIN_CERTS or
 * TLS_MAX_CHAIN_ITEMS (the handshake then fails with a message saying so). */
bool tls_limit_hit(const SSL *ssl);
/* Name of the handshake's ephemeral key exchange into out ("X25519",
 * "secp256r1", "ffdhe2048", "DHE-1024"); "" for static RSA. */
void tls_group_name(SSL *ssl, char *out, size_t outlen);

#endif
