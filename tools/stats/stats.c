/* stats.c - per-port counters, facets and checks; see stats.h. */
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl.h"
#include "facet.h"
#include "product.h"

/* The indicators printed by default, as Shodan would search for them. */
static const struct {
    const char *name;
    const char *query;
} builtin_checks[] = {
    {"smtp-25 plaintext auth", "port:25 (\"250-AUTH\" OR \"AUTH\") (PLAIN OR LOGIN)"},
    {"smtp-587 plaintext auth", "port:587 (\"250-AUTH\" OR \"AUTH\") (PLAIN OR LOGIN)"},
    {"imap-143 plaintext auth", "port:143 (\"AUTH=PLAIN\" OR \"AUTH=LOGIN\") -LOGINDISABLED"},
    {"pop3-110 plaintext auth", "port:110 USER"},
    {"smtp-25 starttls", "port:25 STARTTLS"},
    {"smtp-587 starttls", "port:587 STARTTLS"},
    {"imap-143 starttls", "port:143 STARTTLS"},
    {"pop3-110 stls", "port:110 STLS"},
};

static const enum facet_id facet_list[] = {
    FACET_PORT,        FACET_COUNTRY,    FACET_ASN,          FACET_ORG,       FACET_PRODUCT,
    FACET_TLS_VERSION, FACET_TLS_CIPHER, FACET_CERT_TRUSTED, FACET_TLS_GRADE, FACET_STATUS};

int stats_init(struct stats *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < sizeof facet_list / sizeof facet_list[0]; i++) {
        s->facet_ids[i] = facet_list[i];
        s->facets[i] = tally_new(STATS_FACET_KEYS);
        if (!s->facets[i])
            return -1;
        s->n_facets++;
    }
    for (size_t i = 0; i < sizeof builtin_checks / sizeof builtin_checks[0]; i++)
        if (!stats_add_check(s, builtin_checks[i].name, builtin_checks[i].query))
            return -1;
    s->n_builtin = s->n_checks;
    return 0;
}

struct check *stats_add_check(struct stats *s, const char *name, const char *query)
{
    if (s->n_checks >= STATS_MAX_CHECKS)
        return NULL;
    struct check *c = &s->checks[s->n_checks];
    if (check_init(c, name, query) < 0)
        return NULL;
    s->n_checks++;
    return c;
}

static struct port_row *port_row(struct stats *s, int64_t port)
{
    for (int i = 0; i < s->n_ports; i++)
        if (s->ports[i].port == port)
            return &s->ports[i];
    if (s->n_ports < STATS_MAX_PORTS) {
        struct port_row *p = &s->ports[s->n_ports++];
        p->port = port;
        return p;
    }
    /* The spill row sits past the normal ones. */
    s->ports[STATS_MAX_PORTS].port = -1;
    return &s->ports[STATS_MAX_PORTS];
}

static bool is_true(const struct record *r, enum rec_field f)
{
    return rec_has(r, f) && rec_int(r, f) != 0;
}

static bool text_is(const struct record *r, enum rec_field f, const char *v)
{
    size_t n;
    if (!rec_has(r, f))
        return false;
    const unsigned char *t = rec_text(r, f, &n);
    return n == strlen(v) && memcmp(t, v, n) == 0;
}

/* Statuses that mean no TCP connection was made. */
static bool connected(const struct record *r)
{
    static const char *const failed[] = {"refused",     "connect-timeout", "unreachable", "connect-error",
                                         "blocklisted", "interrupted",     "local-error"};
    if (!rec_has(r, F_STATUS))
        return rec_has(r, F_BANNER);
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++)
        if (text_is(r, F_STATUS, failed[i]))
            return false;
    return true;
}

static void copy_text(const struct record *r, enum rec_field f, char *buf, size_t cap, const char **out)
{
    *out = NULL;
    if (!rec_has(r, f))
        return;
    size_t n;
    const unsigned char *t = rec_text(r, f, &n);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    *out = buf;
}

/* Appends one lower-cased version name and a space when it fits. */
static void put_version(char *buf, size_t cap, size_t *used, const unsigned char *v, size_t n)
{
    if (n == 0 || *used + n + 2 > cap)
        return;
    for (size_t i = 0; i < n; i++)
        buf[(*used)++] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
    buf[(*used)++] = ' ';
    buf[*used] = '\0';
}

/* What Shodan's ssl.version filter sees: the versions --tls-versions
 * found, else only the negotiated one (Shodan enumerates; a plain scan
 * knows one version per server, so ssl.version:tlsv1 then undercounts). */
static const char *ssl_versions(const struct record *r, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    const unsigned char *v;
    size_t n;
    if (rec_has(r, F_TLS_VERSIONS)) {
        for (uint16_t cur = 0; rec_list_next(r, F_TLS_VERSIONS, &cur, &v, &n);)
            put_version(buf, cap, &used, v, n);
    } else if (rec_has(r, F_TLS_VERSION)) {
        v = rec_text(r, F_TLS_VERSION, &n);
        put_version(buf, cap, &used, v, n);
    }
    if (used)
        buf[used - 1] = '\0'; /* the last space */
    return buf;
}

void stats_add(struct stats *s, const struct record *r)
{
    static char text[CRAWL_MAX_BYTES];
    char country[8], org[256];
    /* A repeated input line: no packet was sent and the target has its own
     * record, so it is no host and no probe (README, "Duplicate targets"). */
    if (text_is(r, F_STATUS, "duplicate")) {
        s->duplicate_records++;
        return;
    }
    s->records++;
    policy_add(&s->policy, r);
    size_t len = crawl_text(r, text);
    struct query_subject subj = {
        .text = text,
        .text_len = len,
        .port = rec_has(r, F_PORT) ? rec_int(r, F_PORT) : -1,
        .asn = rec_has(r, F_ASN) ? rec_int(r, F_ASN) : -1,
        .product = product_detect(text, len),
    };
    copy_text(r, F_COUNTRY, country, sizeof country, &subj.country);
    copy_text(r, F_AS_ORG, org, sizeof org, &subj.org);
    char versions[64];
    subj.has_ssl = rec_has(r, F_TLS_VERSION);
    subj.ssl_versions = ssl_versions(r, versions, sizeof versions);
    subj.has_cert = rec_has(r, F_CERT_DAYS_LEFT);
    subj.cert_expired = subj.has_cert && rec_int(r, F_CERT_DAYS_LEFT) < 0;

    struct port_row *p = port_row(s, subj.port);
    p->records++;
    p->open += connected(r);
    p->banner += rec_has(r, F_BANNER);
    p->starttls_offered += is_true(r, F_STARTTLS_OFFERED);
    p->starttls_ok += is_true(r, F_STARTTLS_OK);
    p->tls_ok += rec_has(r, F_TLS_VERSION);
    p->cert_trusted += is_true(r, F_CERT_TRUSTED);
    p->plaintext_auth += is_true(r, F_PLAINTEXT_AUTH_BEFORE_TLS);
    p->auth_probed += rec_has(r, F_AUTH_PROBE);
    p->auth_accepted += text_is(r, F_AUTH_PROBE, "cleartext-evaluated");
    p->injection += is_true(r, F_STARTTLS_INJECTION);
    p->starttls_required += is_true(r, F_STARTTLS_REQUIRED);
    p->starttls_masked += rec_has(r, F_STARTTLS_MASKED);

    /* Facets describe responsive services (what a crawler indexes), except
     * status, which describes every probe. */
    bool responsive = rec_has(r, F_BANNER) || rec_has(r, F_TLS_VERSION);
    for (int i = 0; i < s->n_facets; i++) {
        if (!responsive && s->facet_ids[i] != FACET_STATUS)
            continue;
        char buf[256];
        const char *v = facet_value(r, &subj, (enum facet_id)s->facet_ids[i], buf, sizeof buf);
        if (v)
            tally_add(s->facets[i], v, strlen(v), 1);
    }
    for (int i = 0; i < s->n_checks; i++)
        check_add(&s->checks[i], r, &subj);
}

static void u64(char *buf, uint64_t v)
{
    sprintf(buf, "%" PRIu64, v);
}

static void report_ports(struct stats *s, struct report *rep)
{
    static const char *const cols[] = {"port",
                                       "records",
                                       "open",
                                       "banner",
                                       "starttls_offered",
                                       "starttls_ok",
                                       "tls_ok",
                                       "cert_trusted",
                                       "plaintext_auth_before_tls",
                                       "auth_probed",
                                       "auth_accepted_cleartext",
                                       "starttls_injection",
                                       "starttls_required",
                                       "starttls_masked"};
    enum { NCOLS = sizeof cols / sizeof cols[0] };
    static const bool num[NCOLS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    report_begin(rep, "ports", NCOLS, cols, num);
    /* Sort by port for a stable listing. */
    for (int i = 1; i < s->n_ports; i++)
        for (int k = i; k > 0 && s->ports[k - 1].port > s->ports[k].port; k--) {
            struct port_row t = s->ports[k];
            s->ports[k] = s->ports[k - 1];
            s->ports[k - 1] = t;
        }
    int n = s->n_ports + (s->ports[STATS_MAX_PORTS].records ? 1 : 0);
    for (int i = 0; i < n; i++) {
        const struct port_row *p = i < s->n_ports ? &s->ports[i] : &s->ports[STATS_MAX_PORTS];
        char c[NCOLS][24];
        const char *cells[NCOLS];
        if (p->port < 0)
            strcpy(c[0], "other");
        else
            sprintf(c[0], "%" PRId64, p->port);
        uint64_t v[NCOLS - 1] = {p->records,        p->open,          p->banner,       p->starttls_offered,
                                 p->starttls_ok,    p->tls_ok,        p->cert_trusted, p->plaintext_auth,
                                 p->auth_probed,    p->auth_accepted, p->injection,    p->starttls_required,
                                 p->starttls_masked};
        for (int k = 0; k < NCOLS - 1; k++)
            u64(c[k + 1], v[k]);
        for (int k = 0; k < NCOLS; k++)
            cells[k] = c[k];
        report_row(rep, cells);
    }
    report_end(rep);
}

static void report_checks(struct stats *s, struct report *rep, int from, int to, const char *title)
{
    static const char *const cols[] = {
        "check",    "query",       "on_port_with_banner", "shodan_style", "precise", "advertised",
        "accepted", "auth_probed", "text_only",           "precise_only", "verdict"};
    static const bool num[] = {0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0};
    report_begin(rep, title, 11, cols, num);
    for (int i = from; i < to; i++) {
        const struct check *c = &s->checks[i];
        char v[7][24];
        uint64_t x[] = {c->base,   c->text,      c->advertised,  c->accepted,
                        c->probed, c->text_only, c->precise_only};
        for (int k = 0; k < 7; k++)
            u64(v[k], x[k]);
        const char *cells[] = {c->name,
                               c->query_text,
                               v[0],
                               v[1],
                               check_kind_name(c->kind),
                               v[2],
                               v[3],
                               c->kind == CHECK_AUTH ? v[4] : NULL,
                               v[5],
                               v[6],
                               check_verdict(c)};
        if (c->error) {
            const char *bad[] = {c->name, c->query_text, NULL, NULL, c->error, NULL,
                                 NULL,    NULL,          NULL, NULL, NULL};
            report_row(rep, bad);
        } else {
            report_row(rep, cells);
        }
    }
    report_end(rep);
}

static void report_facets(struct stats *s, struct report *rep, size_t top)
{
    static const char *const cols[] = {"value", "count", "percent"};
    static const bool num[] = {0, 1, 1};
    for (int i = 0; i < s->n_facets; i++) {
        /* Percentages are of all values counted in this facet, so every
         * entry is needed, not only the top ones. */
        size_t distinct = tally_distinct(s->facets[i]);
        struct tally_entry *e = malloc((distinct ? distinct : 1) * sizeof *e);
        if (!e)
            return;
        size_t m = tally_top(s->facets[i], e, distinct);
        uint64_t total = 0;
        for (size_t k = 0; k < m; k++)
            total += e[k].count;
        char title[64];
        snprintf(title, sizeof title, "facet %s", facet_name((enum facet_id)s->facet_ids[i]));
        report_begin(rep, title, 3, cols, num);
        for (size_t k = 0; k < m && k < top; k++) {
            char cnt[24], pct[24];
            u64(cnt, e[k].count);
            snprintf(pct, sizeof pct, "%.2f", total ? 100.0 * (double)e[k].count / (double)total : 0.0);
            const char *cells[] = {e[k].key, cnt, pct};
            report_row(rep, cells);
        }
        report_end(rep);
        free(e);
    }
}

static void ratio(char *buf, uint64_t a, int64_t b)
{
    if (b <= 0)
        strcpy(buf, "-");
    else
        snprintf(buf, 24, "%.6f", (double)a / (double)b);
}

static void report_compare(struct stats *s, struct report *rep)
{
    static const char *const cols[] = {"check",    "query",     "shodan_total",    "mailtls_shodan_style",
                                       "ratio",    "precise",   "mailtls_precise", "ratio_precise",
                                       "accepted", "text_only", "precise_only",    "verdict"};
    static const bool num[] = {0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0};
    report_begin(rep, "compare-shodan", 12, cols, num);
    for (int i = s->n_builtin; i < s->n_checks; i++) {
        const struct check *c = &s->checks[i];
        char v[8][24];
        snprintf(v[0], 24, "%" PRId64, c->shodan_total);
        u64(v[1], c->text);
        ratio(v[2], c->text, c->shodan_total);
        u64(v[3], c->advertised);
        ratio(v[4], c->advertised, c->shodan_total);
        u64(v[5], c->accepted);
        u64(v[6], c->text_only);
        u64(v[7], c->precise_only);
        if (c->error) {
            const char *bad[] = {c->name, c->query_text, v[0], NULL, NULL, c->error,
                                 NULL,    NULL,          NULL, NULL, NULL, "not comparable"};
            report_row(rep, bad);
            continue;
        }
        const char *cells[] = {c->name, c->query_text, v[0], v[1], v[2], check_kind_name(c->kind),
                               v[3],    v[4],          v[5], v[6], v[7], check_verdict(c)};
        report_row(rep, cells);
    }
    report_end(rep);

    static const char *const fcols[] = {"check", "facet", "value", "shodan_count", "mailtls_shodan_style"};
    static const bool fnum[] = {0, 0, 0, 1, 1};
    bool any = false;
    for (int i = s->n_builtin; i < s->n_checks; i++)
        any |= s->checks[i].n_facets > 0;
    if (!any)
        return;
    report_begin(rep, "compare-shodan facets", 5, fcols, fnum);
    for (int i = s->n_builtin; i < s->n_checks; i++) {
        const struct check *c = &s->checks[i];
        for (int f = 0; f < c->n_facets; f++) {
            const struct check_facet *cf = &c->facets[f];
            for (int k = 0; k < cf->n_values; k++) {
                char a[24], b[24];
                snprintf(a, sizeof a, "%" PRId64, cf->shodan_counts[k]);
                u64(b, check_facet_count(cf, cf->values[k]));
                const char *cells[] = {c->name, cf->name, cf->values[k], a, b};
                report_row(rep, cells);
            }
        }
    }
    report_end(rep);
}

void stats_report(struct stats *s, struct report *rep, size_t top)
{
    static const char *const cols[] = {"metric", "value"};
    static const bool num[] = {0, 1};
    report_begin(rep, "summary", 2, cols, num);
    char a[24], b[24];
    u64(a, s->records);
    u64(b, s->bad_lines);
    const char *r1[] = {"records", a};
    const char *r2[] = {"bad_lines_skipped", b};
    report_row(rep, r1);
    report_row(rep, r2);
    if (s->duplicate_records) { /* only then: older reports stay identical */
        char c[24];
        u64(c, s->duplicate_records);
        const char *r3[] = {"duplicate_records", c};
        report_row(rep, r3);
    }
    if (s->input_files > 1) { /* several files: say whether they look like shards */
        char d[24], e[24];
        u64(d, s->input_files);
        u64(e, s->repeated_keys);
        const char *r4[] = {"input_files", d};
        const char *r5[] = {"repeated_keys", e};
        report_row(rep, r4);
        report_row(rep, r5);
    }
    report_end(rep);
    report_ports(s, rep);
    report_checks(s, rep, 0, s->n_builtin, "indicators");
    policy_report(&s->policy, rep);
    report_facets(s, rep, top);
    if (s->n_checks > s->n_builtin)
        report_compare(s, rep);
}

void stats_free(struct stats *s)
{
    for (int i = 0; i < s->n_facets; i++)
        tally_free(s->facets[i]);
    for (int i = 0; i < s->n_checks; i++)
        check_free(&s->checks[i]);
}
