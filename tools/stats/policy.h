/*
 * policy.h - mailtls-stats counts of the --policy fields (issue 12): per
 * domain record (port null, dnssec set) the share with enforce MTA-STS,
 * DNSSEC, DANE states and a policy that breaks delivery; per probe record
 * the DANE checks made on the handshake and how many matched.
 */
#ifndef MAILTLS_STATS_POLICY_H
#define MAILTLS_STATS_POLICY_H

#include <stdint.h>

#include "../../output/record.h"
#include "report.h"

enum policy_row {
    PR_DNSSEC_SECURE,
    PR_STS_ENFORCE,
    PR_STS_TESTING,
    PR_STS_NONE,
    PR_STS_INVALID,
    PR_STS_ABSENT,
    PR_DANE_NONE,
    PR_DANE_NOT_SECURE,
    PR_DANE_INVALID,
    PR_DANE_VALID, /* every exchanger's usable TLSA matched its handshakes */
    PR_TLS_RPT_VALID,
    PR_BREAKS,
    PR_BREAKS_UNKNOWN,
    PR_COUNT
};

struct policy_counts {
    uint64_t domains; /* domain records with policy fields */
    uint64_t row[PR_COUNT];
    uint64_t dane_checked, dane_matched; /* probe records */
};

void policy_add(struct policy_counts *p, const struct record *r);
/* Writes the "policy" table, only when some record had policy fields. */
void policy_report(const struct policy_counts *p, struct report *rep);

#endif
