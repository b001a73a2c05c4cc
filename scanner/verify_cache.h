/*
 * verify_cache.h - one chain verification per distinct chain, per loop.
 *
 * At internet scale thousands of addresses present the same certificate
 * chain (a hosting provider's wildcard, a shared MX). Verifying it again
 * on every handshake costs one or two public-key operations and the chain
 * building around them for a verdict that cannot differ: the trust store
 * and the verification parameters are fixed for the scan. So each event
 * loop keeps the X509_V_* verdict of the chains it has verified, keyed by
 * the SHA-256 of the chain's certificates (DER, in the order sent).
 *
 * A verdict depends on the time only through the certificates' validity:
 * an entry is used only while the clock is inside every certificate's
 * [notBefore, notAfter] window as it was at verification, and for at most
 * VCACHE_TTL_S seconds (a trust anchor's own validity). Outside that, the
 * chain is verified again. DANE handshakes never use the cache: their
 * verdict also depends on the domain's TLSA records.
 *
 * The table is direct-mapped (a colliding chain replaces the entry), sized
 * by --verify-cache, allocated on first use; one loop = one thread, so no
 * lock.
 */
#ifndef MAILTLS_VERIFY_CACHE_H
#define MAILTLS_VERIFY_CACHE_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#define VCACHE_TTL_S 600

struct vcache;
struct vcache_key {
    unsigned char d[32];
};

/* slots is rounded down to a power of two; 0 = no cache (NULL). */
struct vcache *vcache_new(uint32_t slots);
void vcache_free(struct vcache *vc);
/* The chain's key. false when it cannot be computed (then do not cache). */
bool vcache_key(struct vcache *vc, STACK_OF(X509) * chain, struct vcache_key *key);
/* true and *verdict when the chain was verified before and still may be
 * trusted to give the same verdict at `now` (seconds since the epoch). */
bool vcache_lookup(struct vcache *vc, const struct vcache_key *key, int64_t now, int *verdict);
void vcache_store(struct vcache *vc, const struct vcache_key *key, STACK_OF(X509) * chain, int64_t now,
                  int verdict);

#endif
