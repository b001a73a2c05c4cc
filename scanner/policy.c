/* policy.c - DNSSEC, DANE TLSA, MTA-STS and TLS-RPT DNS facts of a mail
 * domain (see policy.h). */
#include "policy.h"

#include <ares.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../output/lib/now.h"
#include "dns.h"
#include "https.h"

enum pol_what { PW_MX, PW_STS, PW_RPT, PW_TLSA, PW_A, PW_STS_A };
enum pol_sts { PS_NONE, PS_FETCHING, PS_FAILED, PS_OK };

const char *pol_dnssec_name(enum pol_dnssec v)
{
    switch (v) {
    case PD_SECURE: return "secure";
    case PD_INSECURE: return "insecure";
    case PD_BOGUS: return "bogus";
    case PD_INDETERMINATE: return "indeterminate";
    case PD_NONE: break;
    }
    return NULL;
}

static void on_answer(void *arg, int status, const unsigned char *abuf, int alen);

static bool queue(struct pol_task *p, enum pol_what what, uint8_t mx, const char *name, uint16_t type)
{
    if (p->n_q >= sizeof p->qs / sizeof p->qs[0])
        return false;
    struct pol_q *q = &p->qs[p->n_q];
    q->p = p;
    q->what = (uint8_t)what;
    q->mx = mx;
    q->cd = false;
    q->qlen = dnsraw_build(q->q, sizeof q->q, name, type, false);
    if (q->qlen < 0 || dns_send(p->dns, q->q, q->qlen, on_answer, q) < 0)
        return false;
    p->n_q++;
    p->outstanding++;
    return true;
}

int pol_begin(struct pol_task *p, struct dns *dns, struct https *https, const char *domain,
              void (*wake)(void *), void *ctx)
{
    memset(p, 0, offsetof(struct pol_task, mx));
    p->dns = dns;
    p->https = https;
    p->wake = wake;
    p->ctx = ctx;
    p->domain = domain;
    char name[300];
    queue(p, PW_MX, 0, domain, DNSRAW_T_MX);
    snprintf(name, sizeof name, "_mta-sts.%s", domain);
    queue(p, PW_STS, 0, name, DNSRAW_T_TXT);
    snprintf(name, sizeof name, "_smtp._tls.%s", domain);
    queue(p, PW_RPT, 0, name, DNSRAW_T_TXT);
    return p->outstanding;
}

bool pol_add_mx(struct pol_task *p, const char *mx)
{
    if (p->n_mx >= POL_MX_MAX)
        return false;
    bool was_idle = p->outstanding == 0;
    uint8_t i = p->n_mx++;
    struct pol_mx *m = &p->mx[i];
    memset(m, 0, sizeof *m);
    m->name = mx;
    m->tlsa_rcode = 255;
    char name[300];
    snprintf(name, sizeof name, "_25._tcp.%s", mx);
    queue(p, PW_TLSA, i, name, DNSRAW_T_TLSA);
    queue(p, PW_A, i, mx, DNSRAW_T_A);
    return was_idle && p->outstanding > 0;
}

struct txt_ctx {
    struct pol_task *p;
    enum pol_what what;
};

static void on_txt(void *arg, const unsigned char *rd, uint16_t rdlen)
{
    struct txt_ctx *c = arg;
    struct pol_task *p = c->p;
    char txt[1024], id[PTXT_STS_ID_MAX + 1], rua[POL_RUA_MAX];
    if (dnsraw_txt(rd, rdlen, txt, sizeof txt) < 0)
        return;
    enum ptxt_res r;
    if (c->what == PW_STS) {
        r = ptxt_sts(txt, id, sizeof id);
        if (r == PTXT_OTHER)
            return;
        if (p->sts_n++ == 0 && r == PTXT_OK)
            memcpy(p->sts_id, id, sizeof id);
        if (r == PTXT_BAD)
            p->sts_bad = 1;
    } else {
        r = ptxt_tlsrpt(txt, rua, sizeof rua);
        if (r == PTXT_OTHER)
            return;
        if (p->rpt_n++ == 0 && r == PTXT_OK)
            memcpy(p->rua, rua, sizeof rua);
        if (r == PTXT_BAD)
            p->rpt_bad = 1;
    }
}

static void on_tlsa(void *arg, const unsigned char *rd, uint16_t rdlen)
{
    struct pol_mx *m = arg;
    struct dnsraw_tlsa t;
    if (dnsraw_tlsa(rd, rdlen, &t) < 0)
        return;
    if (m->n_tlsa >= POL_TLSA_MAX) {
        m->tlsa_cut = true;
        return;
    }
    struct pol_tlsa *k = &m->tlsa[m->n_tlsa++];
    k->usage = t.usage;
    k->selector = t.selector;
    k->mtype = t.mtype;
    k->len = t.data_len;
    memcpy(k->data, t.data, t.data_len < POL_TLSA_DATA ? t.data_len : POL_TLSA_DATA);
}

static enum pol_dnssec verdict(const struct pol_q *q, int status, const struct dnsraw_header *h, bool parsed)
{
    if (status != ARES_SUCCESS || !parsed || !h->qr)
        return PD_INDETERMINATE;
    if (h->rcode != DNSRAW_RCODE_NOERROR && h->rcode != DNSRAW_RCODE_NXDOMAIN)
        return PD_INDETERMINATE;
    if (q->cd)
        return PD_BOGUS; /* answers only with checking disabled */
    return h->ad ? PD_SECURE : PD_INSECURE;
}

static void finish(struct pol_task *p)
{
    if (--p->outstanding == 0 && p->wake)
        p->wake(p->ctx);
}

/* ---- the MTA-STS policy fetch (RFC 8461 3.3) ------------------------ */

static void sts_failed(struct pol_task *p, const char *type, const char *why)
{
    p->sts_state = PS_FAILED;
    p->sts_type = type;
    snprintf(p->sts_err, sizeof p->sts_err, "%.199s", why);
}

/* Exactly one valid v=STSv1 record: find the policy host's address. */
static void sts_fetch_begin(struct pol_task *p)
{
    if (!p->https || p->sts_n != 1 || p->sts_bad)
        return;
    char name[300];
    snprintf(name, sizeof name, "mta-sts.%s", p->domain);
    p->sts_state = PS_FETCHING;
    if (!queue(p, PW_STS_A, 0, name, DNSRAW_T_A))
        sts_failed(p, "sts-policy-fetch-error", "no room to ask for the policy host's address");
}

static void first_a(void *arg, const unsigned char *rd, uint16_t rdlen)
{
    uint8_t *a = arg;
    if (rdlen == 4 && !a[4]) {
        memcpy(a, rd, 4);
        a[4] = 1;
    }
}

static void on_fetch(void *arg, const struct https_result *r)
{
    struct pol_task *p = arg;
    char why[300];
    if (r->fail == HTTPS_CERT) {
        sts_failed(p, "sts-webpki-invalid", r->error);
    } else if (r->fail != HTTPS_OK) {
        snprintf(why, sizeof why, "fetch: %s", r->error);
        sts_failed(p, "sts-policy-fetch-error", why);
    } else if (r->status != 200) {
        snprintf(why, sizeof why, "HTTP status %d%s (only 200 is accepted)", r->status,
                 r->has_location ? ", a redirect (never followed)" : "");
        sts_failed(p, "sts-policy-fetch-error", why);
    } else if (!r->text_plain) {
        snprintf(why, sizeof why, "Content-Type '%s' is not text/plain", r->content_type);
        sts_failed(p, "sts-policy-invalid", why);
    } else if (sts_parse((const char *)r->body, r->body_len, &p->sts, why, sizeof why) < 0) {
        sts_failed(p, "sts-policy-invalid", why);
    } else {
        p->sts_state = PS_OK;
    }
    finish(p);
}

static void sts_fetch(struct pol_task *p, enum pol_dnssec v, const unsigned char *abuf, int alen)
{
    uint8_t a[5] = {0};
    struct dnsraw_header h;
    if (abuf)
        dnsraw_parse(abuf, (size_t)alen, DNSRAW_T_A, &h, first_a, a);
    char host[300], why[400];
    snprintf(host, sizeof host, "mta-sts.%s", p->domain);
    if (!a[4]) {
        snprintf(why, sizeof why, "A %s: no address (%s)", host, pol_dnssec_name(v));
        sts_failed(p, "sts-policy-fetch-error", why);
        return;
    }
    if (https_get(p->https, a, host, "/.well-known/mta-sts.txt", on_fetch, p, now_ms()) < 0) {
        sts_failed(p, "sts-policy-fetch-error", "too many policy fetches waiting");
        return;
    }
    p->outstanding++; /* on_fetch finishes it */
}

static void on_answer(void *arg, int status, const unsigned char *abuf, int alen)
{
    struct pol_q *q = arg;
    struct pol_task *p = q->p;
    struct dnsraw_header h;
    uint16_t type = q->what == PW_MX                         ? DNSRAW_T_MX
                    : q->what == PW_TLSA                     ? DNSRAW_T_TLSA
                    : q->what == PW_A || q->what == PW_STS_A ? DNSRAW_T_A
                                                             : DNSRAW_T_TXT;
    bool parsed = status == ARES_SUCCESS && abuf && alen > 0 &&
                  dnsraw_parse(abuf, (size_t)alen, type, &h, NULL, NULL) == 0;
    if (parsed && h.rcode == DNSRAW_RCODE_SERVFAIL && !q->cd) {
        /* a validating resolver says SERVFAIL for bogus data: ask again
         * with checking disabled to tell bogus from broken */
        q->cd = true;
        q->q[3] |= 0x10;
        if (dns_send(p->dns, q->q, q->qlen, on_answer, q) == 0)
            return;
    }
    enum pol_dnssec v = verdict(q, status, &h, parsed);
    /* the records of a bogus answer are not believed */
    bool use = v == PD_SECURE || v == PD_INSECURE;
    struct txt_ctx tc = {p, (enum pol_what)q->what};
    struct pol_mx *m = &p->mx[q->mx];
    switch ((enum pol_what)q->what) {
    case PW_MX: p->mx_dnssec_v = (uint8_t)v; break;
    case PW_STS:
    case PW_RPT:
        if (q->what == PW_STS)
            p->sts_v = (uint8_t)v;
        else
            p->rpt_v = (uint8_t)v;
        if (use)
            dnsraw_parse(abuf, (size_t)alen, type, &h, on_txt, &tc);
        if (q->what == PW_STS)
            sts_fetch_begin(p);
        break;
    case PW_STS_A: sts_fetch(p, v, use ? abuf : NULL, alen); break;
    case PW_TLSA:
        m->tlsa_dnssec = (uint8_t)v;
        if (parsed)
            m->tlsa_rcode = h.rcode;
        if (use)
            dnsraw_parse(abuf, (size_t)alen, type, &h, on_tlsa, m);
        break;
    case PW_A: m->a_dnssec = (uint8_t)v; break;
    }
    finish(p);
}

/* ---- the domain record ---------------------------------------------- */

/* How an exchanger stands for DANE (RFC 7672 2.2, 3.1.3). */
enum mx_dane { MD_NONE, MD_NOT_SECURE, MD_BOGUS, MD_UNUSABLE, MD_USABLE };

static bool tlsa_usable(const struct pol_tlsa *t)
{
    /* SMTP uses DANE-TA(2) and DANE-EE(3) only; selector 0/1, mtype 0-2 */
    return (t->usage == 2 || t->usage == 3) && t->selector <= 1 && t->mtype <= 2 &&
           (t->mtype != 0 || t->len <= POL_TLSA_DATA) && (t->mtype != 1 || t->len == 32) &&
           (t->mtype != 2 || t->len == 64);
}

static enum mx_dane mx_dane_of(const struct pol_task *p, const struct pol_mx *m)
{
    if (m->tlsa_dnssec == PD_BOGUS)
        return MD_BOGUS;
    if (m->n_tlsa == 0)
        return MD_NONE;
    /* TLSA counts only when it and the MX RRset that led to the host are
     * both secure */
    if (m->tlsa_dnssec != PD_SECURE || p->mx_dnssec_v != PD_SECURE)
        return MD_NOT_SECURE;
    for (int i = 0; i < m->n_tlsa; i++)
        if (tlsa_usable(&m->tlsa[i]))
            return MD_USABLE;
    return MD_UNUSABLE;
}

void pol_job_tlsa(const struct pol_task *p, const char *mx, struct job *j)
{
    j->n_tlsa = 0;
    for (int i = 0; i < p->n_mx; i++) {
        const struct pol_mx *m = &p->mx[i];
        if (strcmp(m->name, mx) != 0 || mx_dane_of(p, m) != MD_USABLE)
            continue;
        for (int k = 0; k < m->n_tlsa && j->n_tlsa < JOB_TLSA_MAX; k++) {
            const struct pol_tlsa *t = &m->tlsa[k];
            if (!tlsa_usable(t))
                continue;
            struct job_tlsa *o = &j->tlsa[j->n_tlsa++];
            o->usage = t->usage;
            o->selector = t->selector;
            o->mtype = t->mtype;
            o->len = (uint8_t)t->len;
            memcpy(o->data, t->data, t->len);
        }
        return;
    }
}

static int dnssec_rank(uint8_t v)
{
    switch ((enum pol_dnssec)v) {
    case PD_SECURE: return 0;
    case PD_INSECURE: return 1;
    case PD_INDETERMINATE: return 2;
    case PD_BOGUS: return 3;
    case PD_NONE: break;
    }
    return -1;
}

static void add_type(struct record *rec, const char *t)
{
    if (!rec_list_contains(rec, F_RESULT_TYPES, t, false))
        rec_list_add(rec, F_RESULT_TYPES, t, strlen(t));
}

static void fill_dane(const struct pol_task *p, struct record *rec, bool *breaks_known, bool *breaks)
{
    int n_state[MD_USABLE + 1] = {0};
    if (p->n_mx > 0)
        rec_list_init(rec, F_DANE_RECORDS);
    for (int i = 0; i < p->n_mx; i++) {
        const struct pol_mx *m = &p->mx[i];
        enum mx_dane st = mx_dane_of(p, m);
        n_state[st]++;
        for (int k = 0; k < m->n_tlsa; k++) {
            const struct pol_tlsa *t = &m->tlsa[k];
            char hex[2 * 8 + 1], item[400];
            int hn = t->len < 8 ? t->len : 8;
            for (int b = 0; b < hn; b++)
                snprintf(hex + 2 * b, 3, "%02x", t->data[b]);
            hex[2 * hn] = 0;
            int n = snprintf(item, sizeof item, "%s %u %u %u %s%s %s %s", m->name, t->usage, t->selector,
                             t->mtype, hex, t->len > 8 ? "..." : "", pol_dnssec_name(m->tlsa_dnssec),
                             tlsa_usable(t) ? "usable" : "unusable");
            rec_list_add(rec, F_DANE_RECORDS, item, (size_t)n < sizeof item ? (size_t)n : sizeof item - 1);
        }
        if (m->tlsa_cut)
            rec_mark_truncated(rec, F_DANE_RECORDS);
    }
    if (n_state[MD_BOGUS])
        add_type(rec, "dnssec-invalid");
    if (n_state[MD_UNUSABLE])
        add_type(rec, "tlsa-invalid");
    if (p->n_mx == 0)
        return;
    if (n_state[MD_NONE] == p->n_mx) {
        rec_set_str(rec, F_DANE, "none");
    } else if (n_state[MD_USABLE]) {
        /* valid or invalid is decided on the handshake (not done in this
         * version): dane stays null, and so may the delivery verdict */
        *breaks_known = false;
    } else if (n_state[MD_BOGUS] || n_state[MD_UNUSABLE]) {
        rec_set_str(rec, F_DANE, "invalid");
    } else {
        rec_set_str(rec, F_DANE, "not-secure");
    }
    /* RFC 7672 2.1.1: a host whose TLSA lookup is bogus is not used */
    if (n_state[MD_BOGUS] == p->n_mx)
        *breaks = true;
}

/* A fetched, valid policy: mode, patterns, max_age, and the exchangers
 * checked against the patterns (RFC 8461 4.1). */
static void sts_policy_fields(const struct pol_task *p, struct record *rec, bool *breaks_known, bool *breaks)
{
    const struct sts_policy *s = &p->sts;
    rec_set_str(rec, F_MTA_STS, sts_mode_name(s->mode));
    rec_set_int(rec, F_MTA_STS_MAX_AGE, s->max_age);
    rec_list_init(rec, F_MTA_STS_MX);
    for (int i = 0; i < s->n_mx; i++)
        rec_list_add(rec, F_MTA_STS_MX, s->mx[i], strlen(s->mx[i]));
    if (s->mx_cut)
        rec_mark_truncated(rec, F_MTA_STS_MX);
    if (s->mode == STS_NONE || p->n_mx == 0)
        return;
    int matched = 0;
    char err[300] = "";
    size_t used = 0;
    for (int i = 0; i < p->n_mx; i++) {
        bool ok = false;
        for (int k = 0; k < s->n_mx && !ok; k++)
            ok = sts_mx_match(s->mx[k], p->mx[i].name);
        if (ok) {
            matched++;
        } else if (used < sizeof err) {
            int n = snprintf(err + used, sizeof err - used, "%sMX %s matches no policy mx pattern",
                             used ? "; " : "", p->mx[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (err[0]) {
        rec_set_str(rec, F_MTA_STS_ERROR, err);
        add_type(rec, "validation-failure");
    }
    if (s->mode != STS_ENFORCE)
        return;
    if (matched == 0)
        *breaks = true; /* an enforcing sender has no exchanger left */
    else
        *breaks_known = false; /* whether one presents a valid certificate: not checked here */
}

static void fill_sts(const struct pol_task *p, struct record *rec, bool *breaks_known, bool *breaks)
{
    char err[300];
    if (p->sts_v != PD_SECURE && p->sts_v != PD_INSECURE) {
        snprintf(err, sizeof err, "TXT _mta-sts.%s: no answer (%s)", p->domain,
                 pol_dnssec_name(p->sts_v) ? pol_dnssec_name(p->sts_v) : "not asked");
        rec_set_str(rec, F_MTA_STS_ERROR, err);
        add_type(rec, "sts-policy-fetch-error");
        return;
    }
    if (p->sts_n == 0) {
        rec_set_str(rec, F_MTA_STS, "absent");
        return;
    }
    if (p->sts_n > 1 || p->sts_bad) {
        rec_set_str(rec, F_MTA_STS, "invalid");
        rec_set_str(rec, F_MTA_STS_ERROR,
                    p->sts_n > 1 ? "more than one v=STSv1 TXT record"
                                 : "v=STSv1 TXT record without a valid id (1-32 letters "
                                   "and digits)");
        add_type(rec, "sts-policy-invalid");
        return;
    }
    rec_set_str(rec, F_MTA_STS_ID, p->sts_id);
    if (p->sts_state == PS_FAILED) {
        /* RFC 8461 5: no usable policy, mail goes as without MTA-STS */
        rec_set_str(rec, F_MTA_STS, "invalid");
        rec_set_str(rec, F_MTA_STS_ERROR, p->sts_err);
        add_type(rec, p->sts_type);
        return;
    }
    if (p->sts_state != PS_OK) {
        *breaks_known = false; /* not fetched */
        return;
    }
    sts_policy_fields(p, rec, breaks_known, breaks);
}

static void fill_rpt(const struct pol_task *p, struct record *rec)
{
    if (p->rpt_v != PD_SECURE && p->rpt_v != PD_INSECURE)
        return;
    if (p->rpt_n == 0) {
        rec_set_str(rec, F_TLS_RPT, "absent");
    } else if (p->rpt_n > 1 || p->rpt_bad) {
        rec_set_str(rec, F_TLS_RPT, "invalid");
    } else {
        rec_set_str(rec, F_TLS_RPT, "valid");
        rec_set_str(rec, F_TLS_RPT_RUA, p->rua);
    }
}

void pol_fill(const struct pol_task *p, struct record *rec)
{
    const char *d = pol_dnssec_name(p->mx_dnssec_v);
    if (d)
        rec_set_str(rec, F_DNSSEC, d);
    int worst = -1;
    uint8_t worst_v = PD_NONE;
    for (int i = 0; i < p->n_mx; i++) {
        if (dnssec_rank(p->mx[i].a_dnssec) > worst) {
            worst = dnssec_rank(p->mx[i].a_dnssec);
            worst_v = p->mx[i].a_dnssec;
        }
    }
    if (pol_dnssec_name(worst_v))
        rec_set_str(rec, F_MX_DNSSEC, pol_dnssec_name(worst_v));
    rec_list_init(rec, F_RESULT_TYPES);
    bool breaks_known = true, breaks = false;
    if (p->mx_dnssec_v == PD_BOGUS) {
        /* a validating sender cannot learn the exchangers */
        add_type(rec, "dnssec-invalid");
        breaks = true;
    }
    fill_dane(p, rec, &breaks_known, &breaks);
    fill_sts(p, rec, &breaks_known, &breaks);
    fill_rpt(p, rec);
    if (breaks || breaks_known)
        rec_set_bool(rec, F_POLICY_BREAKS_DELIVERY, breaks);
}
