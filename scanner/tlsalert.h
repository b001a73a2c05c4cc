/*
 * tlsalert.h - did a TLS alert cross the wire during a handshake?
 *
 * A test handshake of the enumeration (tlsenum.c) that failed with an alert
 * sent or received is the server's answer to the offer; one that failed
 * without any alert was ended by the network (reset, hang-up) and says
 * nothing about the offer. OpenSSL's info callback sees every alert; the
 * answer is kept in the SSL object's ex_data (a number, nothing to free).
 */
#ifndef MAILTLS_TLSALERT_H
#define MAILTLS_TLSALERT_H

#include <openssl/ssl.h>
#include <stdbool.h>

/* Starts watching ssl (before its handshake); thread-safe. Replaces any
 * info callback ssl had. */
void tlsalert_watch(SSL *ssl);
/* Whether an alert was read or written since tlsalert_watch; false for
 * NULL or an SSL that was not watched. */
bool tlsalert_exchanged(const SSL *ssl);

#endif
