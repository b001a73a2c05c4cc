/* policy_out.c - a mail domain's policy facts -> its domain record
 * (see policy.h): DANE and MTA-STS verdicts from the DNS answers, the
 * fetched policy and what the exchangers' probes showed; whether a
 * compliant sender would deliver; RFC 8460 result types. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

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

void pol_clear_probes(struct pol_task *p)
{
    for (int i = 0; i < p->n_mx; i++)
        memset(&p->mx[i].probe, 0, sizeof p->mx[i].probe);
}

void pol_add_probe(struct pol_task *p, const char *mx, const struct pw_outcome *o)
{
    for (int i = 0; i < p->n_mx; i++) {
        if (strcmp(p->mx[i].name, mx) != 0)
            continue;
        struct pol_probe *s = &p->mx[i].probe;
        s->done++;
        s->tls += o->tls;
        s->no_starttls += o->no_starttls && !o->tls;
        s->valid += o->tls && o->pkix && o->name_ok && !o->expired;
        s->untrusted += o->tls && !o->pkix;
        s->mismatch += o->tls && !o->name_ok;
        s->expired += o->tls && o->expired;
        s->dane_ok += o->dane == 1;
        s->dane_fail += o->dane == 0;
        return;
    }
}

/* Can a compliant sender deliver to this exchanger? */
enum mx_way { MW_OK, MW_UNKNOWN, MW_BLOCKED };

static enum mx_way worse(enum mx_way a, enum mx_way b)
{
    return a > b ? a : b;
}

/* DANE of a host with usable records, from its probes (RFC 7672 2.2): a
 * matching address will take the mail. */
static enum mx_way dane_way(const struct pol_mx *m)
{
    const struct pol_probe *s = &m->probe;
    if (s->dane_ok)
        return MW_OK;
    if (s->dane_fail || s->no_starttls)
        return MW_BLOCKED;
    return MW_UNKNOWN;
}

/* dane_records: one row per TLSA record (output/recjson.h shape) */
#define DANE_ROWS_MAX 8192 /* = the field's cap (output/record.c) */

/* JSON-safe copy of an exchanger name: recjson values are [A-Za-z0-9_.+-]
 * only, anything else (never in a host name) becomes '_'. */
static void safe_name(const char *in, char *out, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-' || c == '_' || c == '+';
        out[i] = ok ? (char)c : '_';
    }
    out[i] = 0;
}

/* Appends one row to rows[0..*used) (opening '[' or ','); a row that
 * does not fit is left out and sets *cut. */
static void tlsa_row(char *rows, size_t *used, const struct pol_mx *m, const struct pol_tlsa *t, bool *cut)
{
    char name[256], hex[2 * POL_TLSA_DATA + 1], row[600];
    safe_name(m->name, name, sizeof name);
    int hn = t->len < POL_TLSA_DATA ? t->len : POL_TLSA_DATA;
    for (int b = 0; b < hn; b++)
        snprintf(hex + 2 * b, 3, "%02x", t->data[b]);
    hex[2 * hn] = 0;
    const char *dnssec = pol_dnssec_name(m->tlsa_dnssec);
    int n = snprintf(row, sizeof row,
                     "%c{\"mx\":\"%s\",\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"data\":\"%s\","
                     "\"data_len\":%u,\"dnssec\":\"%s\",\"usable\":%s}",
                     *used ? ',' : '[', name, t->usage, t->selector, t->mtype, hex, t->len,
                     dnssec ? dnssec : "indeterminate", tlsa_usable(t) ? "true" : "false");
    /* room for the row and the closing ']' */
    if (n < 0 || (size_t)n >= sizeof row || *used + (size_t)n + 1 > DANE_ROWS_MAX) {
        *cut = true;
        return;
    }
    memcpy(rows + *used, row, (size_t)n);
    *used += (size_t)n;
}

static void fill_dane(const struct pol_task *p, struct record *rec, enum mx_way *way)
{
    int n_state[MD_USABLE + 1] = {0}, n_fail = 0, n_unknown = 0;
    char rows[DANE_ROWS_MAX];
    size_t used = 0;
    bool cut = false;
    for (int i = 0; i < p->n_mx; i++) {
        const struct pol_mx *m = &p->mx[i];
        enum mx_dane st = mx_dane_of(p, m);
        n_state[st]++;
        if (st == MD_BOGUS) {
            way[i] = MW_BLOCKED; /* RFC 7672 2.1.1: not used */
        } else if (st == MD_USABLE) {
            way[i] = dane_way(m);
            n_fail += m->probe.dane_fail > 0 || way[i] == MW_BLOCKED;
            n_unknown += way[i] == MW_UNKNOWN;
            if (m->probe.dane_fail)
                add_type(rec, "tlsa-invalid"); /* no record matched the chain */
            if (m->probe.no_starttls && !m->probe.tls)
                add_type(rec, "starttls-not-supported");
        }
        for (int k = 0; k < m->n_tlsa; k++)
            tlsa_row(rows, &used, m, &m->tlsa[k], &cut);
        cut |= m->tlsa_cut;
    }
    if (p->n_mx > 0) {
        if (used == 0)
            rows[used++] = '[';
        rows[used++] = ']';
        rec_set_text(rec, F_DANE_RECORDS, rows, used);
        if (cut)
            rec_mark_truncated(rec, F_DANE_RECORDS);
    }
    if (n_state[MD_BOGUS])
        add_type(rec, "dnssec-invalid");
    if (n_state[MD_UNUSABLE])
        add_type(rec, "tlsa-invalid");
    /* RFC 8460 4.3.2.1 dane-required: a sender that requires DANE for
     * this domain (RFC 7672 6) - which publishes usable TLSA, so means
     * DANE - finds an exchanger without DNSSEC-validated TLSA records */
    if (n_state[MD_USABLE] && (n_state[MD_NONE] || n_state[MD_NOT_SECURE]))
        add_type(rec, "dane-required");
    if (p->n_mx == 0)
        return;
    const char *v;
    if (n_state[MD_NONE] == p->n_mx)
        v = "none";
    else if (n_state[MD_BOGUS] || n_state[MD_UNUSABLE] || n_fail)
        v = "invalid";
    else if (n_unknown)
        v = NULL; /* usable records, but no handshake said yes or no */
    else if (n_state[MD_NOT_SECURE])
        v = "not-secure";
    else
        v = "valid";
    if (v)
        rec_set_str(rec, F_DANE, v);
}

/* MTA-STS with a valid policy: patterns, and in testing/enforce mode the
 * exchangers checked against them and against their certificates (RFC
 * 8461 4.1, 4.2); exchangers with usable DANE records are DANE's. */
static void sts_policy_fields(const struct pol_task *p, struct record *rec, enum mx_way *way)
{
    const struct sts_policy *s = &p->sts;
    rec_set_str(rec, F_MTA_STS, sts_mode_name(s->mode));
    rec_set_int(rec, F_MTA_STS_MAX_AGE, s->max_age);
    rec_list_init(rec, F_MTA_STS_MX);
    for (int i = 0; i < s->n_mx; i++)
        rec_list_add(rec, F_MTA_STS_MX, s->mx[i], strlen(s->mx[i]));
    if (s->mx_cut)
        rec_mark_truncated(rec, F_MTA_STS_MX);
    if (s->mode == STS_NONE)
        return;
    char err[300] = "";
    size_t used = 0;
    for (int i = 0; i < p->n_mx; i++) {
        const struct pol_mx *m = &p->mx[i];
        const struct pol_probe *pr = &m->probe;
        bool match = false;
        for (int k = 0; k < s->n_mx && !match; k++)
            match = sts_mx_match(s->mx[k], m->name);
        const char *why = NULL;
        enum mx_way w = MW_OK;
        if (!match) {
            why = "matches no policy mx pattern";
            add_type(rec, "validation-failure");
            w = MW_BLOCKED;
        } else if (mx_dane_of(p, m) == MD_USABLE) {
            continue; /* DANE decides (RFC 8461 2) */
        } else if (pr->valid) {
            w = MW_OK;
        } else if (pr->tls) {
            why = pr->expired    ? "certificate expired"
                  : pr->mismatch ? "certificate not valid for its name"
                                 : "certificate not trusted";
            add_type(rec, pr->expired    ? "certificate-expired"
                          : pr->mismatch ? "certificate-host-mismatch"
                                         : "certificate-not-trusted");
            w = MW_BLOCKED;
        } else if (pr->no_starttls) {
            why = "no STARTTLS";
            add_type(rec, "starttls-not-supported");
            w = MW_BLOCKED;
        } else {
            w = MW_UNKNOWN; /* not reached */
        }
        if (why && used < sizeof err) {
            int n = snprintf(err + used, sizeof err - used, "%sMX %s %s", used ? "; " : "", m->name, why);
            used += n > 0 ? (size_t)n : 0;
        }
        if (s->mode == STS_ENFORCE)
            way[i] = worse(way[i], w);
    }
    if (err[0])
        rec_set_str(rec, F_MTA_STS_ERROR, err);
}

static void fill_sts(const struct pol_task *p, struct record *rec, enum mx_way *way)
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
    if (p->sts_state == PS_OK)
        sts_policy_fields(p, rec, way);
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
    enum mx_way way[POL_MX_MAX];
    for (int i = 0; i < POL_MX_MAX; i++)
        way[i] = MW_OK;
    fill_dane(p, rec, way);
    fill_sts(p, rec, way);
    fill_rpt(p, rec);
    /* the sender delivers when one exchanger takes the mail */
    enum mx_way best = MW_BLOCKED;
    for (int i = 0; i < p->n_mx; i++)
        if (way[i] < best)
            best = way[i];
    if (p->mx_dnssec_v == PD_BOGUS) {
        add_type(rec, "dnssec-invalid"); /* a validating sender cannot learn the exchangers */
        rec_set_bool(rec, F_POLICY_BREAKS_DELIVERY, true);
    } else if (p->n_mx == 0 || best != MW_UNKNOWN) {
        rec_set_bool(rec, F_POLICY_BREAKS_DELIVERY, p->n_mx > 0 && best == MW_BLOCKED);
    }
}
