/*
 * check.h - one indicator, counted two ways over the records.
 *
 * Shodan's way: the query (query.h) matched against the crawler text
 * (crawl.h), i.e. what a banner search engine would count.
 * The precise way, picked from the query's terms and restricted to the
 * query's port: filters (all ports when it names none):
 *   auth      (terms AUTH, PLAIN, LOGIN, AUTH=PLAIN, AUTH=LOGIN, USER, SASL)
 *             advertised = plaintext_auth_before_tls is true;
 *             accepted   = auth_probe is "cleartext-evaluated"
 *             (the server evaluated a password sent without TLS)
 *   starttls  (terms STARTTLS, STLS)
 *             advertised = starttls_offered is true;
 *             accepted   = starttls_ok is true (the upgrade worked)
 *   banner    (anything else) advertised = the record has a banner
 * text_only / precise_only count the records on those ports that one
 * definition counts and the other does not: where the definitions differ.
 */
#ifndef MAILTLS_STATS_CHECK_H
#define MAILTLS_STATS_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "../../output/record.h"
#include "query.h"
#include "tally.h"

#define CHECK_MAX_FACETS 4
#define CHECK_MAX_FACET_VALUES 50

enum check_kind { CHECK_AUTH, CHECK_STARTTLS, CHECK_BANNER };

struct check_facet {
    char *name;            /* as Shodan's file spells it */
    int id;                /* enum facet_id */
    struct tally *mailtls; /* facet values of text-matched records */
    int n_values;
    char *values[CHECK_MAX_FACET_VALUES];
    int64_t shodan_counts[CHECK_MAX_FACET_VALUES];
};

struct check {
    char *name;
    char *query_text;
    struct query *q; /* NULL when the query did not compile */
    char *error;     /* why q is NULL */
    enum check_kind kind;
    int64_t ports[QUERY_MAX_PORTS];
    int n_ports;
    /* counts over the records */
    uint64_t base;       /* records on the check's ports with a banner */
    uint64_t text;       /* Shodan-style matches */
    uint64_t advertised; /* precise */
    uint64_t accepted;
    uint64_t probed; /* auth checks: records with auth_probe set */
    uint64_t text_only;
    uint64_t precise_only;
    /* from --compare-shodan */
    bool has_shodan;
    int64_t shodan_total;
    int n_facets;
    struct check_facet facets[CHECK_MAX_FACETS];
};

/* Fills name/query/q/kind/ports; on a bad query sets error instead. */
int check_init(struct check *c, const char *name, const char *query);
void check_free(struct check *c);
const char *check_kind_name(enum check_kind k);
/* "agree", "shodan-style counts more", "precise counts more" or "both
 * differ": which definition picks up records the other misses. */
const char *check_verdict(const struct check *c);
/* subject: crawler text etc. of r (already computed by the caller). */
void check_add(struct check *c, const struct record *r, const struct query_subject *s);
/* mailtls' count for one of Shodan's facet values, compared ignoring
 * ASCII case. */
uint64_t check_facet_count(const struct check_facet *f, const char *value);

#endif
