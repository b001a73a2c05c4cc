/*
 * rules.h - the severity table of mailtls-diff: what a change of each
 * compared field means, for one key present in both scans.
 *
 * A result holds one change per field that differs, each worse, better
 * or changed, with a short reason; the key's severity is the highest of
 * its changes (worse > better > changed). Keys only in the new scan are
 * `new`, only in the old one `gone`. The table itself is in rules.c (and
 * the README); DIFF_FIELDS lists the names --ignore accepts.
 */
#ifndef MAILTLS_DIFF_RULES_H
#define MAILTLS_DIFF_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "snap.h"

#define DIFF_FIELDS(X)                                                                                       \
    X(STATUS, "status")                                                                                      \
    X(STARTTLS_OFFERED, "starttls_offered")                                                                  \
    X(STARTTLS_OK, "starttls_ok")                                                                            \
    X(PLAINTEXT_AUTH, "plaintext_auth_before_tls")                                                           \
    X(AUTH_PROBE, "auth_probe")                                                                              \
    X(TLS_VERSION, "tls_version")                                                                            \
    X(TLS_VERSIONS, "tls_versions")                                                                          \
    X(TLS_GRADE, "tls_grade")                                                                                \
    X(CERT_TRUSTED, "cert_trusted")                                                                          \
    X(CERT_HOSTNAME_MATCH, "cert_hostname_match")                                                            \
    X(CERT_DAYS_LEFT, "cert_days_left")                                                                      \
    X(CERT_SHA256, "cert_sha256")                                                                            \
    X(BANNER, "banner")                                                                                      \
    X(MX, "mx")                                                                                              \
    X(DANE, "dane")                                                                                          \
    X(MTA_STS, "mta_sts")                                                                                    \
    X(POLICY_BREAKS, "policy_breaks_delivery")                                                               \
    X(INJECTION, "starttls_injection")

enum diff_field {
#define X(id, name) DF_##id,
    DIFF_FIELDS(X)
#undef X
        DF_COUNT
};

/* In rising order: a key's severity is the highest of its changes. */
enum diff_sev { SEV_UNCHANGED, SEV_CHANGED, SEV_BETTER, SEV_NEW, SEV_GONE, SEV_WORSE };

#define DIFF_VALUE_MAX 96
#define DIFF_MAX_CHANGES DF_COUNT

struct diff_change {
    enum diff_field field;
    enum diff_sev sev;
    const char *why; /* static text, e.g. "STARTTLS no longer offered" */
    char old_v[DIFF_VALUE_MAX], new_v[DIFF_VALUE_MAX];
};

struct diff_result {
    enum diff_sev sev;
    const struct snap *old_s, *new_s; /* one is NULL for new / gone */
    int n;
    struct diff_change c[DIFF_MAX_CHANGES];
};

struct rules_opts {
    int expiry_days; /* worse when the certificate gets this close to notAfter */
    uint64_t ignore; /* bit per enum diff_field */
};

const char *rules_field_name(enum diff_field f);
int rules_field_lookup(const char *name, size_t len); /* -1 when unknown */
const char *rules_sev_name(enum diff_sev s);
/* Fills res for a key in both scans (res->sev SEV_UNCHANGED: nothing differs). */
void rules_compare(const struct rules_opts *o, const struct snap *old_s, const struct snap *new_s,
                   struct diff_result *res);

#endif
