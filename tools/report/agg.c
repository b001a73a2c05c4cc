/* agg.c - the report's one-pass aggregate; see agg.h. */
#include "agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"

const char *const agg_version_names[AGG_VERSIONS] = {"other",   "TLSv1",   "TLSv1.1",
                                                     "TLSv1.2", "TLSv1.3", "SSLv3"};
const char *const agg_grade_names[AGG_GRADES] = {"A", "B", "C", "F"};
const char *const agg_expiry_labels[AGG_EXPIRY_BINS] = {"expired", "0-7",    "8-14",    "15-30", "31-60",
                                                        "61-90",   "91-180", "181-365", "> 365"};
const char *const agg_finding_slug[FIND_COUNT] = {
#define X(id, slug, title) slug,
    AGG_FINDINGS(X)
#undef X
};
const char *const agg_finding_title[FIND_COUNT] = {
#define X(id, slug, title) title,
    AGG_FINDINGS(X)
#undef X
};

/* Optional fields (issue 12): looked up by name, -1 while unknown. */
static int f_dane = -1, f_mta_sts = -1, f_breaks = -1, f_injection = -1;

int agg_init(struct agg *a, size_t max_hosts, int expiry_days)
{
    memset(a, 0, sizeof *a);
    a->max_hosts = max_hosts;
    a->expiry_days = expiry_days;
    f_dane = reader_field("dane", 4);
    f_mta_sts = reader_field("mta_sts", 7);
    f_breaks = reader_field("policy_breaks_delivery", 22);
    f_injection = reader_field("starttls_injection", 18);
    if (stats_init(&a->st) < 0)
        return -1;
    a->issuers = tally_new(AGG_TALLY_KEYS);
    a->dane = tally_new(64);
    a->mta_sts = tally_new(64);
    for (int i = 0; i < FIND_COUNT; i++)
        if (max_hosts && !(a->find[i].hosts = calloc(max_hosts, AGG_HOST_LABEL)))
            return -1;
    return a->issuers && a->dane && a->mta_sts ? 0 : -1;
}

void agg_free(struct agg *a)
{
    stats_free(&a->st);
    tally_free(a->issuers);
    tally_free(a->dane);
    tally_free(a->mta_sts);
    for (int i = 0; i < FIND_COUNT; i++)
        free(a->find[i].hosts);
}

static bool is_true(const struct record *r, int f)
{
    return f >= 0 && rec_has(r, (enum rec_field)f) && rec_int(r, (enum rec_field)f) != 0;
}

static size_t text(const struct record *r, int f, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    if (f < 0 || !rec_has(r, (enum rec_field)f) || rec_fields[f].type != RT_TEXT)
        return 0;
    const unsigned char *t = rec_text(r, (enum rec_field)f, &n);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return n;
}

static struct group *group_for(struct agg *a, const struct record *r)
{
    char proto[12], mode[12];
    text(r, F_PROTOCOL, proto, sizeof proto);
    text(r, F_TLS_MODE, mode, sizeof mode);
    int64_t port = rec_has(r, F_PORT) ? rec_int(r, F_PORT) : 0;
    for (int i = 0; i < a->n_groups; i++) {
        struct group *g = &a->groups[i];
        if (g->port == port && strcmp(g->proto, proto) == 0 && strcmp(g->mode, mode) == 0)
            return g;
    }
    struct group *g = a->n_groups < AGG_MAX_GROUPS ? &a->groups[a->n_groups++] : &a->groups[AGG_MAX_GROUPS];
    if (g->records == 0) {
        g->port = g == &a->groups[AGG_MAX_GROUPS] ? -1 : port;
        snprintf(g->proto, sizeof g->proto, "%s", g->port < 0 ? "other" : proto);
        snprintf(g->mode, sizeof g->mode, "%s", g->port < 0 ? "" : mode);
    }
    return g;
}

void agg_finding_add(struct finding *f, size_t max_hosts, const char *label)
{
    f->count++;
    if (f->n_hosts < max_hosts)
        snprintf(f->hosts[f->n_hosts++], AGG_HOST_LABEL, "%s", label);
}

static void label_of(const struct record *r, char *buf, size_t cap)
{
    char ip[64], host[64];
    text(r, F_IP, ip, sizeof ip);
    text(r, F_HOST, host, sizeof host);
    int64_t port = rec_int(r, F_PORT);
    const char *fmt = strchr(ip, ':') ? "[%s]:%lld%s%s%s" : "%s:%lld%s%s%s";
    snprintf(buf, cap, fmt, ip, (long long)port, *host ? " (" : "", host, *host ? ")" : "");
}

static int version_index(const char *v)
{
    for (int i = 1; i < AGG_VERSIONS; i++)
        if (strcmp(v, agg_version_names[i]) == 0)
            return i;
    return 0;
}

static int expiry_bin(int64_t d)
{
    static const int64_t upper[] = {-1, 7, 14, 30, 60, 90, 180, 365};
    for (int i = 0; i < 8; i++)
        if (d <= upper[i])
            return i;
    return 8;
}

/* The issuer's CN when there is one (what people call the CA), else the
 * whole RFC 2253 name. */
static void issuer_name(const struct record *r, char *buf, size_t cap)
{
    char dn[512];
    text(r, F_CERT_ISSUER, dn, sizeof dn);
    const char *cn = strstr(dn, "CN=");
    if (cn && (cn == dn || cn[-1] == ',')) {
        size_t n = strcspn(cn + 3, ",");
        snprintf(buf, cap, "%.*s", (int)n, cn + 3);
    } else {
        snprintf(buf, cap, "%.120s", dn);
    }
}

static void tls_facts(struct agg *a, struct group *g, const struct record *r, const char *label)
{
    char v[24];
    bool old = false;
    if (text(r, F_TLS_VERSION, v, sizeof v)) {
        g->tls_ok++;
        int i = version_index(v);
        g->version[i]++;
        old = i == 1 || i == 2 || i == 5;
    }
    old |= rec_list_contains(r, F_TLS_VERSIONS, "TLSv1", false) ||
           rec_list_contains(r, F_TLS_VERSIONS, "TLSv1.1", false);
    if (old)
        agg_finding_add(&a->find[FIND_OLD_TLS], a->max_hosts, label);
    if (text(r, F_TLS_GRADE, v, sizeof v))
        for (int i = 0; i < AGG_GRADES; i++)
            g->grade[i] += strcmp(v, agg_grade_names[i]) == 0;
    uint16_t cur = 0;
    const unsigned char *it;
    size_t n;
    bool weak = false;
    while (rec_list_next(r, F_TLS_WEAK, &cur, &it, &n))
        weak |= !(n >= 5 && memcmp(it, "TLSv1", 5) == 0); /* old versions are counted above */
    if (weak)
        agg_finding_add(&a->find[FIND_WEAK], a->max_hosts, label);
}

static void cert_facts(struct agg *a, struct group *g, const struct record *r, const char *label)
{
    if (!rec_has(r, F_CERT_TRUSTED) && !rec_has(r, F_CERT_DAYS_LEFT))
        return;
    g->cert_seen++;
    if (is_true(r, F_CERT_TRUSTED))
        g->trusted++;
    else if (rec_has(r, F_CERT_TRUSTED))
        agg_finding_add(&a->find[FIND_UNTRUSTED], a->max_hosts, label);
    if (rec_has(r, F_CERT_HOSTNAME_MATCH) && !is_true(r, F_CERT_HOSTNAME_MATCH)) {
        g->mismatch++;
        agg_finding_add(&a->find[FIND_MISMATCH], a->max_hosts, label);
    }
    g->self_signed += is_true(r, F_CERT_SELF_SIGNED);
    if (rec_has(r, F_CERT_DAYS_LEFT)) {
        int64_t d = rec_int(r, F_CERT_DAYS_LEFT);
        a->expiry[expiry_bin(d)]++;
        a->with_days++;
        if (d < 0) {
            g->expired++;
            agg_finding_add(&a->find[FIND_EXPIRED], a->max_hosts, label);
        } else if (d < a->expiry_days) {
            agg_finding_add(&a->find[FIND_EXPIRING], a->max_hosts, label);
        }
    }
    char iss[128];
    issuer_name(r, iss, sizeof iss);
    if (*iss)
        tally_add(a->issuers, iss, strlen(iss), 1);
}

static void policy_facts(struct agg *a, const struct record *r, const char *label)
{
    char v[32];
    if (text(r, f_dane, v, sizeof v)) {
        a->has_policy = true;
        tally_add(a->dane, v, strlen(v), 1);
        if (strcmp(v, "invalid") == 0 || strcmp(v, "not-secure") == 0)
            agg_finding_add(&a->find[FIND_DANE_BAD], a->max_hosts, label);
    }
    if (text(r, f_mta_sts, v, sizeof v)) {
        a->has_policy = true;
        tally_add(a->mta_sts, v, strlen(v), 1);
        if (strcmp(v, "invalid") == 0)
            agg_finding_add(&a->find[FIND_STS_BAD], a->max_hosts, label);
    }
    if (is_true(r, f_breaks))
        agg_finding_add(&a->find[FIND_POLICY_BREAKS], a->max_hosts, label);
    if (is_true(r, f_injection))
        agg_finding_add(&a->find[FIND_INJECTION], a->max_hosts, label);
}

void agg_add(struct agg *a, const struct record *r)
{
    char label[AGG_HOST_LABEL], st[24];
    stats_add(&a->st, r);
    text(r, F_STATUS, st, sizeof st);
    if (strcmp(st, "duplicate") == 0)
        return;                /* stats skips them too: the target has its own record */
    if (!rec_has(r, F_PORT)) { /* an --mx domain record: policy only */
        char dom[AGG_HOST_LABEL];
        text(r, F_DOMAIN, dom, sizeof dom);
        policy_facts(a, r, dom);
        return;
    }
    label_of(r, label, sizeof label);
    struct group *g = group_for(a, r);
    g->records++;
    bool connected = rec_has(r, F_BANNER) || rec_has(r, F_TLS_VERSION);
    g->connected += connected;
    if (connected && strcmp(g->mode, "starttls") == 0) {
        g->starttls_mode++;
        if (!is_true(r, F_STARTTLS_OFFERED))
            agg_finding_add(&a->find[FIND_NO_STARTTLS], a->max_hosts, label);
        else if (!is_true(r, F_STARTTLS_OK))
            agg_finding_add(&a->find[FIND_STARTTLS_FAILS], a->max_hosts, label);
    }
    g->starttls_offered += is_true(r, F_STARTTLS_OFFERED);
    g->starttls_ok += is_true(r, F_STARTTLS_OK);
    if (is_true(r, F_PLAINTEXT_AUTH_BEFORE_TLS)) {
        g->plain_auth++;
        agg_finding_add(&a->find[FIND_PLAIN_AUTH], a->max_hosts, label);
    }
    g->auth_probed += rec_has(r, F_AUTH_PROBE);
    text(r, F_AUTH_PROBE, st, sizeof st);
    if (strcmp(st, "cleartext-evaluated") == 0) {
        g->auth_accepted++;
        agg_finding_add(&a->find[FIND_AUTH_ACCEPTED], a->max_hosts, label);
    }
    if (rec_int(r, F_STARTTLS_EXTRA_BYTES) > 0)
        agg_finding_add(&a->find[FIND_EXTRA_BYTES], a->max_hosts, label);
    tls_facts(a, g, r, label);
    cert_facts(a, g, r, label);
    policy_facts(a, r, label);
}

static int by_port(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    int c = strcmp(a->proto, b->proto);
    return c ? c : strcmp(a->mode, b->mode);
}

void agg_sort_groups(struct agg *a)
{
    qsort(a->groups, (size_t)a->n_groups, sizeof a->groups[0], by_port);
    if (a->groups[AGG_MAX_GROUPS].records)
        a->groups[a->n_groups++] = a->groups[AGG_MAX_GROUPS];
}
