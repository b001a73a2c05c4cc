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
#include <stddef.h>

struct conn;

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
/* Name of the handshake's ephemeral key exchange into out ("X25519",
 * "secp256r1", "ffdhe2048", "DHE-1024"); "" for static RSA. */
void tls_group_name(SSL *ssl, char *out, size_t outlen);

#endif
