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

enum pol_what { PW_MX, PW_STS, PW_RPT, PW_TLSA, PW_A, PW_STS_A, PW_STS_AAAA };

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

/* The policy host's first address: a[0..16) the address, a[16] its
 * length (4 or 16; 0 = none yet). */
static void first_a(void *arg, const unsigned char *rd, uint16_t rdlen)
{
    uint8_t *a = arg;
    if ((rdlen == 4 || rdlen == 16) && !a[16]) {
        memcpy(a, rd, rdlen);
        a[16] = (uint8_t)rdlen;
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

/* The A answer (then, without an address, the AAAA answer) of the
 * policy host: fetch from its first address. */
static void sts_fetch(struct pol_task *p, bool v6, enum pol_dnssec v, const unsigned char *abuf, int alen)
{
    uint8_t a[17] = {0};
    struct dnsraw_header h;
    if (abuf)
        dnsraw_parse(abuf, (size_t)alen, v6 ? DNSRAW_T_AAAA : DNSRAW_T_A, &h, first_a, a);
    char host[300], why[400];
    snprintf(host, sizeof host, "mta-sts.%s", p->domain);
    if (!a[16] && !v6) {
        if (!queue(p, PW_STS_AAAA, 0, host, DNSRAW_T_AAAA))
            sts_failed(p, "sts-policy-fetch-error", "no room to ask for the policy host's address");
        return;
    }
    if (!a[16]) {
        snprintf(why, sizeof why, "A/AAAA %s: no address (%s)", host, pol_dnssec_name(v));
        sts_failed(p, "sts-policy-fetch-error", why);
        return;
    }
    if (https_get(p->https, a[16] == 16 ? 6 : 4, a, host, "/.well-known/mta-sts.txt", on_fetch, p, now_ms()) <
        0) {
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
                    : q->what == PW_STS_AAAA                 ? DNSRAW_T_AAAA
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
    case PW_STS_A:
    case PW_STS_AAAA: sts_fetch(p, q->what == PW_STS_AAAA, v, use ? abuf : NULL, alen); break;
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
