/* facet.c - facet values of a record; see facet.h. */
#include "facet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const names[FACET_COUNT] = {
    [FACET_PORT] = "port",
    [FACET_COUNTRY] = "country",
    [FACET_ASN] = "asn",
    [FACET_ORG] = "org",
    [FACET_PRODUCT] = "product",
    [FACET_TLS_VERSION] = "tls_version",
    [FACET_TLS_CIPHER] = "tls_cipher",
    [FACET_CERT_TRUSTED] = "cert_trusted",
    [FACET_TLS_GRADE] = "tls_grade",
    [FACET_STATUS] = "status",
    [FACET_PROTOCOL] = "protocol",
    [FACET_HAS_SSL] = "has_ssl",
    [FACET_CERT_EXPIRED] = "ssl.cert.expired",
};

/* Shodan's facet names for the same things. */
static const struct {
    const char *alias;
    enum facet_id id;
} aliases[] = {
    {"as_org", FACET_ORG},
    {"ssl.version", FACET_TLS_VERSION},
    {"ssl.cipher.name", FACET_TLS_CIPHER},
};

int facet_lookup(const char *name)
{
    for (int i = 0; i < FACET_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].alias, name) == 0)
            return (int)aliases[i].id;
    return -1;
}

const char *facet_name(enum facet_id id)
{
    return (unsigned)id < FACET_COUNT ? names[id] : "?";
}

static const char *text(const struct record *r, enum rec_field f, char *buf, size_t cap)
{
    if (!rec_has(r, f))
        return NULL;
    size_t n;
    const unsigned char *t = rec_text(r, f, &n);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return buf;
}

const char *facet_value(const struct record *r, const struct query_subject *s, enum facet_id id, char *buf,
                        size_t cap)
{
    switch (id) {
    case FACET_PORT:
        if (!rec_has(r, F_PORT))
            return NULL;
        snprintf(buf, cap, "%" PRId64, rec_int(r, F_PORT));
        return buf;
    case FACET_ASN:
        if (!rec_has(r, F_ASN))
            return NULL;
        snprintf(buf, cap, "AS%" PRId64, rec_int(r, F_ASN));
        return buf;
    case FACET_CERT_TRUSTED:
        return rec_has(r, F_CERT_TRUSTED) ? (rec_int(r, F_CERT_TRUSTED) ? "true" : "false") : NULL;
    case FACET_PRODUCT: return s->product;
    case FACET_COUNTRY: return text(r, F_COUNTRY, buf, cap);
    case FACET_ORG: return text(r, F_AS_ORG, buf, cap);
    case FACET_TLS_VERSION: return text(r, F_TLS_VERSION, buf, cap);
    case FACET_TLS_CIPHER: return text(r, F_TLS_CIPHER, buf, cap);
    case FACET_TLS_GRADE: return text(r, F_TLS_GRADE, buf, cap);
    case FACET_STATUS: return text(r, F_STATUS, buf, cap);
    case FACET_PROTOCOL: return text(r, F_PROTOCOL, buf, cap);
    case FACET_HAS_SSL: return rec_has(r, F_TLS_VERSION) ? "true" : "false";
    case FACET_CERT_EXPIRED:
        return rec_has(r, F_CERT_DAYS_LEFT) ? (rec_int(r, F_CERT_DAYS_LEFT) < 0 ? "true" : "false") : NULL;
    case FACET_COUNT: break;
    }
    return NULL;
}
