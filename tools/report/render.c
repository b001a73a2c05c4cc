/*
 * render.c - the report page; see render.h. Chart ids (always present,
 * an empty chart says why): chart-starttls, chart-plain-auth,
 * chart-tls-versions, chart-grades, chart-cert-trust, chart-expiry,
 * chart-issuers, chart-countries, chart-asns, chart-findings,
 * chart-policy; with --compare also chart-worse.
 */
#include "render.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../stats/facet.h"
#include "html.h"
#include "svg.h"

#define MAX_BARS 128

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void group_name(const struct group *g, char *buf, size_t cap)
{
    if (g->port < 0)
        snprintf(buf, cap, "other ports");
    else
        snprintf(buf, cap, "%lld/%s%s%s", (long long)g->port, g->proto, *g->mode ? " " : "", g->mode);
}

static void share_bar(struct svg_bar *b, const char *label, uint64_t part, uint64_t whole, int series)
{
    snprintf(b->label, sizeof b->label, "%s", label);
    b->value = pct(part, whole);
    snprintf(b->text, sizeof b->text, "%.1f%% (%" PRIu64 "/%" PRIu64 ")", b->value, part, whole);
    b->series = series;
}

static void count_bar(struct svg_bar *b, const char *label, uint64_t n, uint64_t total, int series)
{
    snprintf(b->label, sizeof b->label, "%s", label);
    b->value = (double)n;
    if (total)
        snprintf(b->text, sizeof b->text, "%" PRIu64 " (%.1f%%)", n, pct(n, total));
    else
        snprintf(b->text, sizeof b->text, "%" PRIu64, n);
    b->series = series;
}

static void cards(FILE *f, const struct agg *a)
{
    uint64_t rec = 0, conn = 0, st_mode = 0, st_ok = 0, plain = 0, tls = 0, seen = 0, trusted = 0;
    for (int i = 0; i < a->n_groups; i++) {
        const struct group *g = &a->groups[i];
        rec += g->records;
        conn += g->connected;
        st_mode += g->starttls_mode;
        st_ok += g->starttls_ok;
        plain += g->plain_auth;
        tls += g->tls_ok;
        seen += g->cert_seen;
        trusted += g->trusted;
    }
    fputs("<div class=\"cards\" id=\"cards\">", f);
    fprintf(f, "<div class=\"card\"><b data-v=\"%" PRIu64 "\">%" PRIu64 "</b>probes</div>", rec, rec);
    fprintf(f, "<div class=\"card\"><b>%" PRIu64 "</b>answered (%.1f%%)</div>", conn, pct(conn, rec));
    fprintf(f, "<div class=\"card\"><b>%.1f%%</b>STARTTLS works (%" PRIu64 " of %" PRIu64 ")</div>",
            pct(st_ok, st_mode), st_ok, st_mode);
    fprintf(f, "<div class=\"card\"><b>%.1f%%</b>plaintext AUTH before TLS</div>", pct(plain, conn));
    fprintf(f, "<div class=\"card\"><b>%.1f%%</b>TLS established</div>", pct(tls, conn));
    fprintf(f, "<div class=\"card\"><b>%.1f%%</b>certificates trusted</div>", pct(trusted, seen));
    fputs("</div>\n", f);
}

/* The per-port table of mailtls-stats, same columns and numbers. */
static void ports_table(FILE *f, struct agg *a)
{
    static const char *const cols[] = {"port",
                                       "#records",
                                       "#open",
                                       "#banner",
                                       "#starttls_offered",
                                       "#starttls_ok",
                                       "#tls_ok",
                                       "#cert_trusted",
                                       "#plaintext_auth_before_tls",
                                       "#auth_probed",
                                       "#auth_accepted_cleartext",
                                       "#starttls_injection",
                                       "#starttls_required",
                                       "#starttls_masked"};
    enum { NCOLS = sizeof cols / sizeof cols[0] };
    struct stats *s = &a->st;
    fputs("<h2 id=\"ports\">Ports</h2>\n<p>Counts as <code>mailtls-stats</code> gives them (share of the "
          "port's records in brackets).</p>\n",
          f);
    html_table_begin(f, "t-ports", NCOLS, cols);
    for (int i = 1; i < s->n_ports; i++) /* by port, as mailtls-stats lists them */
        for (int k = i; k > 0 && s->ports[k - 1].port > s->ports[k].port; k--) {
            struct port_row t = s->ports[k];
            s->ports[k] = s->ports[k - 1];
            s->ports[k - 1] = t;
        }
    int n = s->n_ports + (s->ports[STATS_MAX_PORTS].records ? 1 : 0);
    for (int i = 0; i < n; i++) {
        const struct port_row *p = i < s->n_ports ? &s->ports[i] : &s->ports[STATS_MAX_PORTS];
        html_row_begin(f);
        if (p->port < 0)
            fputs("<td data-col=\"port\">other</td>", f);
        else
            fprintf(f, "<td class=\"n\" data-col=\"port\" data-v=\"%lld\">%lld</td>", (long long)p->port,
                    (long long)p->port);
        uint64_t v[NCOLS - 1] = {p->records,        p->open,          p->banner,       p->starttls_offered,
                                 p->starttls_ok,    p->tls_ok,        p->cert_trusted, p->plaintext_auth,
                                 p->auth_probed,    p->auth_accepted, p->injection,    p->starttls_required,
                                 p->starttls_masked};
        for (int k = 0; k < NCOLS - 1; k++)
            html_cell_num(f, cols[k + 1] + 1, v[k], k ? p->records : 0);
        html_row_end(f);
    }
    html_table_end(f);
}

static void groups_section(FILE *f, const struct agg *a)
{
    static const char *const cols[] = {"service",      "#records",        "#answered",    "#starttls_offered",
                                       "#starttls_ok", "#plaintext_auth", "#auth_probed", "#auth_accepted",
                                       "#tls_ok",      "#cert_trusted",   "#cert_expired"};
    fputs("<h2 id=\"services\">Per port and protocol</h2>\n", f);
    html_table_begin(f, "t-groups", 11, cols);
    static struct svg_bar st[MAX_BARS], pa[MAX_BARS];
    int nst = 0, npa = 0;
    for (int i = 0; i < a->n_groups; i++) {
        const struct group *g = &a->groups[i];
        char name[64];
        group_name(g, name, sizeof name);
        html_row_begin(f);
        html_cell_text(f, name);
        html_cell_num(f, "records", g->records, 0);
        html_cell_num(f, "answered", g->connected, g->records);
        html_cell_num(f, "starttls_offered", g->starttls_offered, g->starttls_mode);
        html_cell_num(f, "starttls_ok", g->starttls_ok, g->starttls_mode);
        html_cell_num(f, "plaintext_auth", g->plain_auth, g->connected);
        html_cell_num(f, "auth_probed", g->auth_probed, 0);
        html_cell_num(f, "auth_accepted", g->auth_accepted, g->auth_probed);
        html_cell_num(f, "tls_ok", g->tls_ok, g->connected);
        html_cell_num(f, "cert_trusted", g->trusted, g->cert_seen);
        html_cell_num(f, "cert_expired", g->expired, g->cert_seen);
        html_row_end(f);
        char label[96];
        if (g->starttls_mode && nst + 2 <= MAX_BARS) {
            snprintf(label, sizeof label, "%s offered", name);
            share_bar(&st[nst++], label, g->starttls_offered, g->starttls_mode, 0);
            snprintf(label, sizeof label, "%s working", name);
            share_bar(&st[nst++], label, g->starttls_ok, g->starttls_mode, 1);
        }
        if (g->connected && npa + 2 <= MAX_BARS) {
            snprintf(label, sizeof label, "%s advertised", name);
            share_bar(&pa[npa++], label, g->plain_auth, g->connected, 2);
            if (g->auth_probed) {
                snprintf(label, sizeof label, "%s accepted", name);
                share_bar(&pa[npa++], label, g->auth_accepted, g->auth_probed, 3);
            }
        }
    }
    html_table_end(f);
    svg_hbars(f, "chart-starttls", "STARTTLS offered and working, share of answering STARTTLS services", st,
              nst, 100, "no STARTTLS service answered");
    svg_hbars(f, "chart-plain-auth",
              "Plaintext AUTH before TLS: advertised (share of answering services) and accepted (share of "
              "--probe-auth probes)",
              pa, npa, 100, "no service answered");
}

/* A mailtls-stats facet as a table (same counts as its JSON), and its
 * top values as bars when chart_id is given. */
static void facet_section(FILE *f, const struct agg *a, enum facet_id id, size_t top, const char *chart_id,
                          const char *caption, const char *empty_note)
{
    const struct tally *t = NULL;
    for (int i = 0; i < a->st.n_facets; i++)
        if (a->st.facet_ids[i] == (int)id)
            t = a->st.facets[i];
    size_t distinct = t ? tally_distinct(t) : 0;
    struct tally_entry *e = malloc((distinct ? distinct : 1) * sizeof *e);
    size_t m = t && e ? tally_top(t, e, distinct) : 0;
    uint64_t total = 0;
    for (size_t k = 0; k < m; k++)
        total += e[k].count;
    static struct svg_bar bars[MAX_BARS];
    int nb = 0;
    for (size_t k = 0; k < m && k < top && nb < MAX_BARS; k++)
        count_bar(&bars[nb++], e[k].key, e[k].count, total, 0);
    if (chart_id)
        svg_hbars(f, chart_id, caption, bars, nb, 0, empty_note);
    char tid[64];
    static const char *const cols[] = {"value", "#count", "#percent"};
    if (m == 0) { /* the chart (if any) already says there is nothing */
        free(e);
        return;
    }
    snprintf(tid, sizeof tid, "t-facet-%s", facet_name(id));
    html_table_begin(f, tid, 3, cols);
    for (size_t k = 0; k < m && k < top; k++) {
        html_row_begin(f);
        fputs("<td data-col=\"value\">", f);
        html_text(f, e[k].key);
        fputs("</td>", f);
        html_cell_num(f, "count", e[k].count, 0);
        fprintf(f, "<td class=\"n\" data-v=\"%.2f\">%.2f</td>", pct(e[k].count, total),
                pct(e[k].count, total));
        html_row_end(f);
    }
    html_table_end(f);
    free(e);
}

/* Versions and grades per port and protocol, shares of that service's
 * TLS sessions (versions) and graded services (grades). */
static void by_service(FILE *f, const struct agg *a)
{
    static const char *const cols[] = {"service", "#TLSv1.3", "#TLSv1.2", "#TLSv1.1", "#TLSv1", "#SSLv3",
                                       "#other",  "#A",       "#B",       "#C",       "#F"};
    static const int order[] = {4, 3, 2, 1, 5, 0};
    html_table_begin(f, "t-tls-by-service", 11, cols);
    for (int i = 0; i < a->n_groups; i++) {
        const struct group *g = &a->groups[i];
        uint64_t graded = 0;
        for (int k = 0; k < AGG_GRADES; k++)
            graded += g->grade[k];
        char name[64];
        group_name(g, name, sizeof name);
        html_row_begin(f);
        html_cell_text(f, name);
        for (int k = 0; k < AGG_VERSIONS; k++)
            html_cell_num(f, agg_version_names[order[k]], g->version[order[k]], g->tls_ok);
        for (int k = 0; k < AGG_GRADES; k++)
            html_cell_num(f, agg_grade_names[k], g->grade[k], graded);
        html_row_end(f);
    }
    html_table_end(f);
}

static void tls_section(FILE *f, const struct agg *a, size_t top)
{
    fputs("<h2 id=\"tls\">TLS</h2>\n", f);
    uint64_t v[AGG_VERSIONS] = {0}, gr[AGG_GRADES] = {0}, tls = 0, graded = 0;
    for (int i = 0; i < a->n_groups; i++) {
        tls += a->groups[i].tls_ok;
        for (int k = 0; k < AGG_VERSIONS; k++)
            v[k] += a->groups[i].version[k];
        for (int k = 0; k < AGG_GRADES; k++) {
            gr[k] += a->groups[i].grade[k];
            graded += a->groups[i].grade[k];
        }
    }
    static const int order[] = {4, 3, 2, 1, 5, 0}; /* newest first */
    struct svg_bar bars[AGG_VERSIONS];
    int nb = 0;
    for (int k = 0; k < AGG_VERSIONS; k++)
        if (v[order[k]])
            count_bar(&bars[nb++], agg_version_names[order[k]], v[order[k]], tls, k < 2 ? 1 : k < 4 ? 2 : 3);
    svg_hbars(f, "chart-tls-versions", "Negotiated TLS version (probes that reached TLS)", bars, nb, 0,
              "no probe reached TLS");
    by_service(f, a);
    facet_section(f, a, FACET_TLS_VERSION, top, NULL, NULL, NULL);
    struct svg_bar gb[AGG_GRADES];
    int ng = 0;
    for (int k = 0; k < AGG_GRADES; k++)
        if (gr[k])
            count_bar(&gb[ng++], agg_grade_names[k], gr[k], graded, k);
    svg_hbars(f, "chart-grades", "TLS grade (--ciphers; rule in scanner/TLS-ENUM.md)", gb, ng, 0,
              "no grades: the scan ran without --ciphers");
    facet_section(f, a, FACET_TLS_GRADE, top, NULL, NULL, NULL);
}

static void cert_section(FILE *f, const struct agg *a, size_t top)
{
    fputs("<h2 id=\"certificates\">Certificates</h2>\n", f);
    uint64_t seen = 0, trusted = 0, expired = 0, mismatch = 0, self = 0;
    for (int i = 0; i < a->n_groups; i++) {
        const struct group *g = &a->groups[i];
        seen += g->cert_seen;
        trusted += g->trusted;
        expired += g->expired;
        mismatch += g->mismatch;
        self += g->self_signed;
    }
    struct svg_bar b[5];
    int nb = 0;
    if (seen) {
        count_bar(&b[nb++], "trusted", trusted, seen, 1);
        count_bar(&b[nb++], "not trusted", seen - trusted, seen, 3);
        count_bar(&b[nb++], "expired", expired, seen, 3);
        count_bar(&b[nb++], "name mismatch", mismatch, seen, 2);
        count_bar(&b[nb++], "self-signed", self, seen, 2);
    }
    svg_hbars(f, "chart-cert-trust", "Certificate trust (probes that got a certificate)", b, nb, (double)seen,
              "no certificate seen");
    facet_section(f, a, FACET_CERT_TRUSTED, top, NULL, NULL, NULL);
    struct svg_bar h[AGG_EXPIRY_BINS];
    for (int k = 0; k < AGG_EXPIRY_BINS; k++)
        count_bar(&h[k], agg_expiry_labels[k], a->expiry[k], 0, k == 0 ? 3 : k < 3 ? 2 : 1);
    svg_columns(f, "chart-expiry", "Days until the certificate expires", h, AGG_EXPIRY_BINS,
                "no certificate seen");
    size_t distinct = tally_distinct(a->issuers);
    struct tally_entry *e = malloc((distinct ? distinct : 1) * sizeof *e);
    size_t m = e ? tally_top(a->issuers, e, top) : 0;
    static struct svg_bar ib[MAX_BARS];
    int ni = 0;
    for (size_t k = 0; k < m && ni < MAX_BARS; k++)
        count_bar(&ib[ni++], e[k].key, e[k].count, seen, 0);
    svg_hbars(f, "chart-issuers", "Top certificate issuers", ib, ni, 0, "no certificate seen");
    static const char *const cols[] = {"issuer", "#count"};
    html_table_begin(f, "t-issuers", 2, cols);
    for (size_t k = 0; k < m; k++) {
        html_row_begin(f);
        html_cell_text(f, e[k].key);
        html_cell_num(f, "count", e[k].count, seen);
        html_row_end(f);
    }
    html_table_end(f);
    free(e);
}

static void host_list(FILE *f, const struct finding *fd)
{
    fputs("<ul class=\"hosts\">", f);
    for (size_t i = 0; i < fd->n_hosts; i++) {
        fputs("<li>", f);
        html_text(f, fd->hosts[i]);
        fputs("</li>", f);
    }
    fputs("</ul>\n", f);
    if (fd->count > fd->n_hosts)
        fprintf(f, "<p class=\"more\">... and %" PRIu64 " more (--max-hosts)</p>\n",
                fd->count - (uint64_t)fd->n_hosts);
}

static void findings_section(FILE *f, const struct agg *a)
{
    fputs("<h2 id=\"findings\">Findings</h2>\n", f);
    struct svg_bar b[FIND_COUNT];
    int nb = 0;
    for (int i = 0; i < FIND_COUNT; i++)
        if (a->find[i].count)
            count_bar(&b[nb++], agg_finding_slug[i], a->find[i].count, 0, 3);
    svg_hbars(f, "chart-findings", "Hosts per finding", b, nb, 0, "nothing found");
    for (int i = 0; i < FIND_COUNT; i++) {
        const struct finding *fd = &a->find[i];
        if (!fd->count)
            continue;
        fprintf(f, "<h3 id=\"finding-%s\">", agg_finding_slug[i]);
        html_text(f, agg_finding_title[i]);
        fprintf(f, ": <span data-v=\"%" PRIu64 "\">%" PRIu64 "</span></h3>\n", fd->count, fd->count);
        host_list(f, fd);
    }
    struct svg_bar pb[2 * 16];
    int np = 0;
    const struct tally *tl[] = {a->dane, a->mta_sts};
    const char *pre[] = {"DANE ", "MTA-STS "};
    for (int t = 0; t < 2; t++) {
        struct tally_entry e[16];
        size_t m = tally_top(tl[t], e, 16);
        for (size_t k = 0; k < m; k++) {
            char label[64];
            snprintf(label, sizeof label, "%s%s", pre[t], e[k].key);
            count_bar(&pb[np++], label, e[k].count, 0, t);
        }
    }
    svg_hbars(f, "chart-policy", "Domain policy (DANE, MTA-STS)", pb, np, 0,
              a->has_policy ? "no policy" : "no policy fields in this scan");
}

static void compare_section(FILE *f, const struct cmp *c, const char *old_path)
{
    fputs("<h2 id=\"worse\">What got worse</h2>\n<p>Since <code>", f);
    html_text(f, old_path);
    fprintf(f,
            "</code> (severity table of <code>mailtls-diff</code>): <b data-v=\"%" PRIu64 "\">%" PRIu64
            "</b> hosts worse, %" PRIu64 " better, %" PRIu64 " changed, %" PRIu64 " new, %" PRIu64
            " gone.</p>\n",
            c->cnt.by_sev[SEV_WORSE], c->cnt.by_sev[SEV_WORSE], c->cnt.by_sev[SEV_BETTER],
            c->cnt.by_sev[SEV_CHANGED], c->cnt.by_sev[SEV_NEW], c->cnt.by_sev[SEV_GONE]);
    struct svg_bar b[CMP_MAX_REASONS];
    for (int i = 0; i < c->n_reasons; i++)
        count_bar(&b[i], c->reasons[i].why, c->reasons[i].hosts.count, 0, 3);
    svg_hbars(f, "chart-worse", "Hosts that got worse, by reason", b, c->n_reasons, 0, "nothing got worse");
    static const char *const cols[] = {"reason", "#hosts", "examples"};
    html_table_begin(f, "t-worse", 3, cols);
    for (int i = 0; i < c->n_reasons; i++) {
        html_row_begin(f);
        html_cell_text(f, c->reasons[i].why);
        html_cell_num(f, "hosts", c->reasons[i].hosts.count, 0);
        fputs("<td>", f);
        host_list(f, &c->reasons[i].hosts);
        fputs("</td>", f);
        html_row_end(f);
    }
    html_table_end(f);
}

void render_page(FILE *f, struct agg *a, const struct cmp *c, const struct page_info *info)
{
    html_begin(f, info->title);
    fputs("<h1>", f);
    html_text(f, info->title);
    fputs("</h1>\n<p class=\"meta\">Scan <code>", f);
    html_text(f, info->scan_path);
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "</code>, %" PRIu64 " records, report made %s by mailtls-report %s.", a->st.records, when,
            MAILTLS_VERSION);
    if (info->bad_lines)
        fprintf(f, " %lld bad lines skipped.", info->bad_lines);
    fputs("</p>\n", f);
    cards(f, a);
    ports_table(f, a);
    groups_section(f, a);
    tls_section(f, a, info->top);
    cert_section(f, a, info->top);
    fputs("<h2 id=\"where\">Countries and networks</h2>\n", f);
    facet_section(f, a, FACET_COUNTRY, info->top, "chart-countries", "Top countries (--geoip)",
                  "no country data: the scan ran without --geoip");
    facet_section(f, a, FACET_ASN, info->top, "chart-asns", "Top autonomous systems (--asn)",
                  "no AS data: the scan ran without --asn");
    findings_section(f, a);
    if (c)
        compare_section(f, c, info->old_path);
    fputs("<h2 id=\"outcomes\">Probe outcomes</h2>\n", f);
    facet_section(f, a, FACET_STATUS, info->top, NULL, NULL, NULL);
    html_end(f);
}
