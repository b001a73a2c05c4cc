/*
 * query.h - a Shodan-style search query, evaluated over one record.
 *
 * Grammar (what Shodan's banner search accepts, reduced to what mail
 * checks use):
 *   query  := or
 *   or     := and ("OR" and)*
 *   and    := unary (["AND"] unary)*        juxtaposition means AND
 *   unary  := "-" unary | "NOT" unary | primary
 *   primary:= "(" or ")" | "\"phrase\"" | filter ":" value | word
 * Filters: port, country, asn (AS123 or 123), org, product, has_ssl,
 * ssl.version, ssl.cert.expired; a value may be "quoted" (spaces kept), a
 * filter negated like any term (-port:25).
 * Matching, over the lower-cased "crawler text" (crawl.h) of the record:
 *   "phrase"  case-insensitive substring
 *   word      case-insensitive, and not glued to a letter or digit on
 *             either side (so PLAIN matches "AUTH=PLAIN" but not
 *             "PLAINTEXT"), which approximates Shodan's tokenizer
 *   filters   equality with the record's port / country / asn / as_org /
 *             product (case-insensitive; a product's daemon word is
 *             dropped, see query_product_canon);
 *             has_ssl:true|false   a TLS session was made (or not);
 *             ssl.version:V        V (sslv3, tlsv1, tlsv1.1, tlsv1.2,
 *                                  tlsv1.3; any case; tlsv1.0 = tlsv1) is
 *                                  among ssl_versions;
 *             ssl.cert.expired:true|false   only records with a
 *                                  certificate match either value.
 * Queries are bounded: QUERY_MAX_NODES nodes, QUERY_MAX_BYTES of text.
 */
#ifndef MAILTLS_STATS_QUERY_H
#define MAILTLS_STATS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUERY_MAX_NODES 128
#define QUERY_MAX_BYTES 2048
#define QUERY_MAX_PORTS 16

/* What a query is evaluated against. */
struct query_subject {
    const char *text; /* crawler text, lower case */
    size_t text_len;
    int64_t port;
    const char *country; /* NULL when unknown; others likewise */
    int64_t asn;         /* -1 when unknown */
    const char *org;
    const char *product;
    bool has_ssl; /* a TLS session was established */
    /* Lower-case, space-separated versions the server is known to accept
     * ("tlsv1.2 tlsv1.3"): the enumerated ones, else the negotiated one;
     * NULL or "" when none. */
    const char *ssl_versions;
    bool has_cert; /* a leaf certificate's expiry is known */
    bool cert_expired;
};

struct query;

struct query *query_compile(const char *q, char *err, size_t errlen);
bool query_match(const struct query *q, const struct query_subject *s);
void query_free(struct query *q);

/* Shodan names products after the daemon ("Postfix smtpd", "Dovecot
 * imapd"), mailtls after the software (product.h): drops a last word
 * smtpd, imapd, pop3d, esmtpd, lmtpd, smtp, imap or pop3 (any case) from v
 * in place and returns the new length. product: values and product facet
 * values pass through it. */
size_t query_product_canon(char *v, size_t len);
/* Ports named by positive port: filters; returns how many (<= max). */
int query_ports(const struct query *q, int64_t *ports, int max);
/* Does a positive term (word or phrase) equal one of the given words,
 * case-insensitive? Used to pick the precise counterpart of a query. */
bool query_has_term(const struct query *q, const char *const *words);

#endif
