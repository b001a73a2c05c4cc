/*
 * facet.h - the value of a named facet for one record, as text.
 *
 * Names (Shodan's spelling accepted where it differs):
 *   port, country, asn ("AS64500"), org (as_org), product (product.h),
 *   tls_version (ssl.version), tls_cipher (ssl.cipher.name),
 *   cert_trusted ("true"/"false"), tls_grade, status, protocol,
 *   has_ssl and ssl.cert.expired ("true"/"false", as the filters of the
 *   same names decide)
 * Text values come straight from the record, cut at the first NUL; the
 * printers escape them.
 */
#ifndef MAILTLS_STATS_FACET_H
#define MAILTLS_STATS_FACET_H

#include <stddef.h>

#include "../../output/record.h"
#include "query.h"

enum facet_id {
    FACET_PORT,
    FACET_COUNTRY,
    FACET_ASN,
    FACET_ORG,
    FACET_PRODUCT,
    FACET_TLS_VERSION,
    FACET_TLS_CIPHER,
    FACET_CERT_TRUSTED,
    FACET_TLS_GRADE,
    FACET_STATUS,
    FACET_PROTOCOL,
    FACET_HAS_SSL,      /* "true"/"false": a TLS session (query.h has_ssl:) */
    FACET_CERT_EXPIRED, /* "true"/"false"; none without a certificate */
    FACET_COUNT
};

/* Facet for a name or alias, or -1. */
int facet_lookup(const char *name);
const char *facet_name(enum facet_id id);
/* NULL when the record has no value for it. buf holds formatted values. */
const char *facet_value(const struct record *r, const struct query_subject *s, enum facet_id id, char *buf,
                        size_t cap);

#endif
