/*
 * certsave.h - --save-certs DIR: every certificate a server sends is
 * written once as DIR/<sha256 of its DER>.pem.
 *
 * The saver hangs on the engine's SSL_CTX (ex_data), so tls.c reaches it
 * from any handshake without knowing the enumerator that created it
 * (tlsenum.c owns its life). Chains are seen from every engine thread
 * (--threads): the set of hashes and the files have their own lock.
 */
#ifndef MAILTLS_CERTSAVE_H
#define MAILTLS_CERTSAVE_H

#include <openssl/ssl.h>

struct certsave;

/* dir must be a directory; attaches the saver to ctx. NULL with err. */
struct certsave *certsave_new(const char *dir, SSL_CTX *ctx, char *err, size_t errlen);
/* Detaches it from its context and frees it; NULL does nothing. */
void certsave_free(struct certsave *s);
/* Saves the peer chain of ssl under the saver attached to its context
 * (nothing when there is none). */
void certsave_chain_seen(SSL *ssl);
/* Saves the certificates of a TLS <= 1.2 Certificate message body (the
 * 3-byte list length and its entries) captured from a raw answer
 * (hello_parse.h); at most 16, each parsed with d2i_X509 (a malformed one
 * is skipped). NULL t does nothing. */
void certsave_tls_message(struct certsave *t, const unsigned char *msg, size_t len);

#endif
