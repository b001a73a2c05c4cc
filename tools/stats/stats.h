/*
 * stats.h - the aggregate mailtls-stats builds from a stream of records.
 *
 * stats_add() is called once per record; it derives the crawler text and
 * product once and feeds the per-port counters, the facets and every
 * check (the built-in indicators and those from --compare-shodan).
 * Memory is bounded: STATS_MAX_PORTS port rows (the rest are counted in a
 * row for port -1), facets capped by tally.h.
 */
#ifndef MAILTLS_STATS_STATS_H
#define MAILTLS_STATS_STATS_H

#include <stdint.h>

#include "../../output/record.h"
#include "check.h"
#include "policy.h"
#include "report.h"

#define STATS_MAX_PORTS 512
#define STATS_MAX_CHECKS 64
#define STATS_FACET_KEYS 50000

struct port_row {
    int64_t port;
    uint64_t records;
    uint64_t open;   /* TCP connection established (status not a connect failure) */
    uint64_t banner; /* a greeting was recorded */
    uint64_t starttls_offered;
    uint64_t starttls_ok;
    uint64_t tls_ok; /* a TLS session was established (tls_version set) */
    uint64_t cert_trusted;
    uint64_t plaintext_auth; /* plaintext_auth_before_tls true */
    uint64_t auth_probed;
    uint64_t injection;         /* starttls_injection true (--downgrade-checks) */
    uint64_t starttls_required; /* starttls_required true */
    uint64_t starttls_masked;   /* starttls_masked set */
    uint64_t auth_accepted;     /* auth_probe = cleartext-evaluated */
};

struct stats {
    uint64_t records;
    uint64_t bad_lines;
    uint64_t duplicate_records; /* status `duplicate`: not counted as records */
    uint64_t input_files;       /* set by the caller; rows only when > 1 */
    uint64_t repeated_keys;     /* (address, port) keys in several files (inputs.h) */
    int n_ports;
    struct port_row ports[STATS_MAX_PORTS + 1];
    int n_checks;
    int n_builtin; /* checks[0..n_builtin) are the built-in indicators */
    struct check checks[STATS_MAX_CHECKS];
    int n_facets;
    int facet_ids[16]; /* enum facet_id */
    struct tally *facets[16];
    struct policy_counts policy; /* --policy fields (policy.h) */
};

int stats_init(struct stats *s);
/* Adds a check from --compare-shodan; returns it, or NULL when full. */
struct check *stats_add_check(struct stats *s, const char *name, const char *query);
void stats_add(struct stats *s, const struct record *r);
void stats_report(struct stats *s, struct report *rep, size_t top);
void stats_free(struct stats *s);

#endif
