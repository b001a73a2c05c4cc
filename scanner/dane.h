/*
 * dane.h - DANE (RFC 7671/7672) on the probe's own handshake, with
 * OpenSSL's DANE support: no second connection.
 *
 * A job carries the usable TLSA records of its exchanger (--policy,
 * job.h) only when they came from a DNSSEC-secure answer; the resolver
 * hands the job out only after that answer is in, so the records are there
 * before the connection starts. dane_attach enables DANE on the SSL
 * (SSL_dane_enable with the exchanger name as the reference identifier,
 * SSL_dane_tlsa_add per record, no name checks for DANE-EE as RFC 7672
 * 3.1.1 says). OpenSSL then folds the DANE verdict into the chain
 * verification; tls.c keeps the PKIX verdict apart for cert_trusted
 * (dane_pkix_*), and dane_record writes which record matched at which
 * depth into the probe record (dane_match).
 */
#ifndef MAILTLS_DANE_H
#define MAILTLS_DANE_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "../output/record.h"
#include "job.h"

/* Once per SSL_CTX (SSL_CTX_dane_enable). 0, or -1. */
int dane_ctx_init(SSL_CTX *ctx);
/* DANE for this handshake when the job has TLSA records (JOB_PROBE only).
 * 0 (also when nothing to do), or -1 when OpenSSL refused. */
int dane_attach(SSL *ssl, const struct job *j);
bool dane_on(const SSL *ssl);
/* The PKIX verdict of the chain (X509_V_OK or an error), found without
 * DANE and without the name check, for cert_trusted. */
void dane_pkix_set(SSL *ssl, int verify_err);
long dane_pkix_get(const SSL *ssl);
/* dane_match: "USAGE SELECTOR MTYPE depth N" for the matched record, or
 * "fail: <verification error>"; nothing when DANE was not on. */
void dane_record(SSL *ssl, struct record *r);

#endif
