/* policy.c - counts of the --policy fields (see policy.h). */
#include "policy.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const row_names[PR_COUNT] = {
    [PR_DNSSEC_SECURE] = "dnssec_secure",
    [PR_STS_ENFORCE] = "mta_sts_enforce",
    [PR_STS_TESTING] = "mta_sts_testing",
    [PR_STS_NONE] = "mta_sts_none",
    [PR_STS_INVALID] = "mta_sts_invalid",
    [PR_STS_ABSENT] = "mta_sts_absent",
    [PR_DANE_NONE] = "dane_none",
    [PR_DANE_NOT_SECURE] = "dane_not_secure",
    [PR_DANE_INVALID] = "dane_invalid",
    [PR_DANE_VALID] = "dane_valid",
    [PR_TLS_RPT_VALID] = "tls_rpt_valid",
    [PR_BREAKS] = "policy_breaks_delivery",
    [PR_BREAKS_UNKNOWN] = "policy_breaks_delivery_unknown",
};

static bool is(const struct record *r, enum rec_field f, const char *s)
{
    size_t n;
    const unsigned char *t = rec_has(r, f) ? rec_text(r, f, &n) : NULL;
    return t && n == strlen(s) && memcmp(t, s, n) == 0;
}

void policy_add(struct policy_counts *p, const struct record *r)
{
    if (rec_has(r, F_DANE_MATCH)) {
        p->dane_checked++;
        size_t n;
        const unsigned char *t = rec_text(r, F_DANE_MATCH, &n);
        p->dane_matched += !(n >= 5 && memcmp(t, "fail:", 5) == 0);
    }
    if (rec_has(r, F_PORT) || !rec_has(r, F_DNSSEC))
        return;
    p->domains++;
    p->row[PR_DNSSEC_SECURE] += is(r, F_DNSSEC, "secure");
    p->row[PR_STS_ENFORCE] += is(r, F_MTA_STS, "enforce");
    p->row[PR_STS_TESTING] += is(r, F_MTA_STS, "testing");
    p->row[PR_STS_NONE] += is(r, F_MTA_STS, "none");
    p->row[PR_STS_INVALID] += is(r, F_MTA_STS, "invalid");
    p->row[PR_STS_ABSENT] += is(r, F_MTA_STS, "absent");
    p->row[PR_DANE_NONE] += is(r, F_DANE, "none");
    p->row[PR_DANE_NOT_SECURE] += is(r, F_DANE, "not-secure");
    p->row[PR_DANE_INVALID] += is(r, F_DANE, "invalid");
    p->row[PR_DANE_VALID] += is(r, F_DANE, "valid");
    p->row[PR_TLS_RPT_VALID] += is(r, F_TLS_RPT, "valid");
    p->row[PR_BREAKS] += rec_has(r, F_POLICY_BREAKS_DELIVERY) && rec_int(r, F_POLICY_BREAKS_DELIVERY);
    p->row[PR_BREAKS_UNKNOWN] += !rec_has(r, F_POLICY_BREAKS_DELIVERY);
}

void policy_report(const struct policy_counts *p, struct report *rep)
{
    if (!p->domains && !p->dane_checked)
        return;
    static const char *const cols[] = {"metric", "count", "of", "share_pct"};
    static const bool num[] = {0, 1, 1, 1};
    report_begin(rep, "policy", 4, cols, num);
    char a[24], b[24], c[24];
    for (int i = 0; i <= PR_COUNT; i++) {
        uint64_t n = i < PR_COUNT ? p->row[i] : p->dane_matched;
        uint64_t of = i < PR_COUNT ? p->domains : p->dane_checked;
        snprintf(a, sizeof a, "%" PRIu64, n);
        snprintf(b, sizeof b, "%" PRIu64, of);
        snprintf(c, sizeof c, "%.1f", of ? 100.0 * (double)n / (double)of : 0.0);
        const char *cells[] = {i < PR_COUNT ? row_names[i] : "probes_dane_matched", a, b, c};
        report_row(rep, cells);
    }
    report_end(rep);
}
