/*
 * agg.h - everything mailtls-report shows, gathered in one streaming pass.
 *
 * agg_add() is called once per record. It feeds mailtls-stats' own
 * aggregate (tools/stats/stats.h, linked in unchanged), so the report's
 * per-port table and facet counts are by construction the numbers
 * `mailtls-stats --format json` prints for the same file, plus what only
 * the report shows: per (port, protocol, TLS mode) shares, TLS versions,
 * grades, certificate trust and a histogram of days left, top issuers,
 * downgrade and policy findings, each with at most max_hosts example
 * hosts. Memory is bounded: AGG_MAX_GROUPS groups (the rest go to one
 * "other" group), capped tallies, max_hosts labels per finding.
 */
#ifndef MAILTLS_REPORT_AGG_H
#define MAILTLS_REPORT_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../output/record.h"
#include "../stats/stats.h"
#include "../stats/tally.h"

#define AGG_MAX_GROUPS 64
#define AGG_HOST_LABEL 80
#define AGG_TALLY_KEYS 20000

/* Versions in rising order; index 0 = anything else. */
#define AGG_VERSIONS 6
extern const char *const agg_version_names[AGG_VERSIONS];
#define AGG_GRADES 4 /* A B C F */
extern const char *const agg_grade_names[AGG_GRADES];
#define AGG_EXPIRY_BINS 9
extern const char *const agg_expiry_labels[AGG_EXPIRY_BINS];

struct group {
    int64_t port; /* -1 = other */
    char proto[12], mode[12];
    uint64_t records, connected;
    uint64_t starttls_mode; /* connected on a STARTTLS port */
    uint64_t starttls_offered, starttls_ok;
    uint64_t tls_ok; /* a TLS session was made */
    uint64_t plain_auth, auth_probed, auth_accepted;
    uint64_t version[AGG_VERSIONS];
    uint64_t grade[AGG_GRADES];
    uint64_t cert_seen, trusted, expired, mismatch, self_signed;
};

#define AGG_FINDINGS(X)                                                                                      \
    X(PLAIN_AUTH, "plain-auth", "Plaintext AUTH advertised before TLS")                                      \
    X(AUTH_ACCEPTED, "auth-accepted", "Cleartext AUTH accepted (--probe-auth)")                              \
    X(NO_STARTTLS, "no-starttls", "STARTTLS not offered on a STARTTLS port")                                 \
    X(STARTTLS_FAILS, "starttls-fails", "STARTTLS offered but the upgrade failed")                           \
    X(OLD_TLS, "old-tls", "TLS 1.0/1.1 negotiated or accepted")                                              \
    X(WEAK, "weak", "Weak ciphers or key exchange (tls_weak)")                                               \
    X(UNTRUSTED, "untrusted", "Certificate not trusted")                                                     \
    X(EXPIRED, "expired", "Certificate expired")                                                             \
    X(EXPIRING, "expiring", "Certificate expires soon")                                                      \
    X(MISMATCH, "mismatch", "Certificate does not match the host name")                                      \
    X(EXTRA_BYTES, "extra-bytes", "Bytes after the STARTTLS go-ahead (injection/downgrade risk)")            \
    X(INJECTION, "injection", "STARTTLS command injection")                                                  \
    X(DANE_BAD, "dane-bad", "DANE present but not valid")                                                    \
    X(STS_BAD, "sts-bad", "MTA-STS policy invalid")                                                          \
    X(POLICY_BREAKS, "policy-breaks", "Policy breaks delivery")

enum agg_finding {
#define X(id, slug, title) FIND_##id,
    AGG_FINDINGS(X)
#undef X
        FIND_COUNT
};
extern const char *const agg_finding_slug[FIND_COUNT];
extern const char *const agg_finding_title[FIND_COUNT];

struct finding {
    uint64_t count;
    size_t n_hosts;
    char (*hosts)[AGG_HOST_LABEL];
};

struct agg {
    struct stats st;
    int n_groups;
    struct group groups[AGG_MAX_GROUPS + 1]; /* the last one collects the overflow */
    uint64_t expiry[AGG_EXPIRY_BINS];
    uint64_t with_days;
    struct tally *issuers, *dane, *mta_sts;
    struct finding find[FIND_COUNT];
    size_t max_hosts;
    int expiry_days;
    bool has_policy; /* dane or mta_sts fields seen */
};

int agg_init(struct agg *a, size_t max_hosts, int expiry_days);
void agg_add(struct agg *a, const struct record *r);
/* Groups sorted by port, protocol; the overflow group last when used. */
void agg_sort_groups(struct agg *a);
void agg_free(struct agg *a);
/* Adds label to a finding's host list (count always, label while room). */
void agg_finding_add(struct finding *f, size_t max_hosts, const char *label);

#endif
