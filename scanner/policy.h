/*
 * policy.h - a mail domain's DNS policy facts (--policy with --mx):
 * DNSSEC verdicts, DANE TLSA records, the MTA-STS and TLS-RPT TXT records.
 *
 * Every query goes out through dns_send with DO set (dnsraw.h) to the
 * --resolver servers, which must validate: the verdict of an RRset is
 * read from the answer's AD bit. A SERVFAIL is asked again with CD set;
 * when that answers, the data exists but does not validate: bogus.
 *
 *   secure         NOERROR or NXDOMAIN with AD
 *   insecure       NOERROR or NXDOMAIN without AD
 *   bogus          SERVFAIL, and NOERROR/NXDOMAIN with CD
 *   indeterminate  anything else (timeout, REFUSED, SERVFAIL with CD too)
 *
 * The resolver (resolve.c) owns one struct pol_task per task; it calls
 * pol_begin when the domain starts and pol_add_mx for every exchanger once
 * the MX set is known, and holds the task until the policy calls its wake
 * function (all policy answers in). resolve_out.c calls pol_fill for the
 * domain record. This file never calls the resolver (wake is a pointer).
 */
#ifndef MAILTLS_POLICY_H
#define MAILTLS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "../output/record.h"
#include "dnsraw.h"
#include "job.h"
#include "mtasts.h"
#include "policy_txt.h"
#include "policy_wait.h"

#define POL_MX_MAX 16  /* = RESOLVE_MX_MAX */
#define POL_TLSA_MAX 4 /* TLSA records kept per exchanger */
#define POL_TLSA_DATA 64
#define POL_RUA_MAX 200

enum pol_dnssec { PD_NONE, PD_SECURE, PD_INSECURE, PD_BOGUS, PD_INDETERMINATE };
/* the MTA-STS policy fetch */
enum pol_sts { PS_NONE, PS_FETCHING, PS_FAILED, PS_OK };
const char *pol_dnssec_name(enum pol_dnssec v);

struct dns;
struct https;

struct pol_tlsa {
    uint8_t usage, selector, mtype;
    uint16_t len; /* association data's full length; data keeps the first POL_TLSA_DATA bytes */
    unsigned char data[POL_TLSA_DATA];
};

struct pol_q {
    struct pol_task *p;
    uint8_t what; /* enum pol_what (policy.c) */
    uint8_t mx;   /* exchanger index for TLSA and A */
    bool cd;      /* the CD retry of a SERVFAIL */
    int qlen;
    unsigned char q[DNSRAW_QUERY_MAX];
};

/* What the exchanger's probes showed (all its addresses and ports that
 * were probed in this scan, by whichever domain). */
struct pol_probe {
    uint16_t done, tls, no_starttls, valid, untrusted, mismatch, expired, dane_ok, dane_fail;
};

struct pol_mx {
    const char *name; /* the resolver's slot name; lives as long as the task */
    struct pol_probe probe;
    uint8_t tlsa_dnssec, a_dnssec;
    uint8_t tlsa_rcode; /* DNSRAW_RCODE_* of the TLSA answer; 255 = no answer */
    uint8_t n_tlsa;
    bool tlsa_cut; /* more than POL_TLSA_MAX records */
    struct pol_tlsa tlsa[POL_TLSA_MAX];
};

struct pol_task {
    struct dns *dns;
    void (*wake)(void *ctx); /* all answers in */
    void *ctx;
    uint16_t outstanding;
    uint8_t n_q;
    const char *domain;
    uint8_t mx_dnssec_v, sts_v, rpt_v; /* verdicts of the domain's MX and TXT RRsets */
    uint8_t sts_n, sts_bad, rpt_n, rpt_bad;
    char sts_id[PTXT_STS_ID_MAX + 1];
    char rua[POL_RUA_MAX];
    /* MTA-STS policy fetch (https.h): A (else AAAA) of mta-sts.<domain>, then the GET */
    struct https *https;
    uint8_t sts_state;    /* enum pol_sts (policy.c) */
    const char *sts_type; /* RFC 8460 result type when the fetch or the policy failed */
    char sts_err[200];
    struct sts_policy sts;
    uint8_t n_mx;
    struct pol_mx mx[POL_MX_MAX];
    struct pol_q qs[5 + 2 * POL_MX_MAX]; /* MX, 2 TXT, A+AAAA of mta-sts, TLSA+A per MX */
};

/* Queues the domain's MX (for its verdict), _mta-sts and _smtp._tls
 * queries. Returns the number queued; wake is called once they (and any
 * added by pol_add_mx, and the MTA-STS policy fetch through https when a
 * valid TXT record asks for it; NULL = no fetch) are all answered. */
int pol_begin(struct pol_task *p, struct dns *dns, struct https *https, const char *domain,
              void (*wake)(void *), void *ctx);
/* Queues TLSA _25._tcp.<mx> and A <mx> for exchanger i. Returns true when
 * the policy was idle (its wake already called) and is now busy again. */
bool pol_add_mx(struct pol_task *p, const char *mx);
/* The usable TLSA records of exchanger mx (when it is secure and has
 * some) into the job, for the DANE check on its handshake (dane.h). */
void pol_job_tlsa(const struct pol_task *p, const char *mx, struct job *j);
/* --policy records wait for the probes: what each ended probe of
 * exchanger mx showed (policy_wait.h), summed per exchanger. */
void pol_clear_probes(struct pol_task *p);
void pol_add_probe(struct pol_task *p, const char *mx, const struct pw_outcome *o);
/* The policy fields of the domain record. */
void pol_fill(const struct pol_task *p, struct record *rec);

#endif
