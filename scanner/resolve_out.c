/* resolve_out.c - finished lookups -> records and jobs, once per
 * (address, port) in MX mode (see resolve.h, resolve_int.h). */
#include "resolve_int.h"

#include <ares.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../output/lib/hash.h"
#include "job.h"

/* ---- output ---------------------------------------------------------- */

static void fill_truncated(struct record *rec)
{
    if (!rec->truncated)
        return;
    for (int f = 0; f < F_COUNT; f++)
        if ((rec->truncated >> f) & 1u)
            rec_list_add(rec, F_TRUNCATED, rec_fields[f].name, strlen(rec_fields[f].name));
}

static void addr_text(const struct raddr *a, char *out, size_t outlen)
{
    if (!inet_ntop(a->family, a->a, out, (socklen_t)outlen))
        snprintf(out, outlen, "?");
}

static const char *qname_of(int kind)
{
    return kind == E_MX ? "MX" : "A/AAAA";
}

/* Error text for a failed entry: which query, which name, what c-ares said. */
static void entry_error(const struct entry *e, char *out, size_t outlen)
{
    int code = e->code_a;
    if (e->kind == E_ADDR && resolve_rres_of(e->code_b) == (enum rres)e->res)
        code = e->code_b;
    if (e->res == R_NULLMX)
        snprintf(out, outlen, "null MX (RFC 7505): %s accepts no mail", e->name);
    else if (e->res == R_NODATA)
        snprintf(out, outlen, "%s %s: no address", qname_of(e->kind), e->name);
    else
        snprintf(out, outlen, "%s %s: %s", qname_of(e->kind), e->name, ares_strerror(code));
}

static void domain_record(struct resolver *r, struct task *t, struct record *rec)
{
    rec_reset(rec);
    rec_set_str(rec, F_DOMAIN, t->name);
    rec_set_status(rec, resolve_status_of((enum rres)t->res));
    char buf[512], err[300];
    err[0] = 0;
    if (!t->mx) {
        snprintf(err, sizeof err, "out of memory for the MX lookup of %s", t->name);
    } else if (t->mx->res != R_OK && t->mx->res != R_NODATA) {
        entry_error(t->mx, err, sizeof err);
    } else {
        rec_list_init(rec, F_MX);
        for (int i = 0; i < t->n_slots; i++) {
            const struct slot *s = &t->slots[i];
            char pref[8];
            if (s->implicit)
                snprintf(pref, sizeof pref, "-");
            else
                snprintf(pref, sizeof pref, "%u", s->pref);
            if (!s->e || s->e->res != R_OK) {
                enum rres res = s->e ? (enum rres)s->e->res : (enum rres)s->fail;
                int n = snprintf(buf, sizeof buf, "%s %s %s", pref, s->name,
                                 rec_status_name(resolve_status_of(res)));
                rec_list_add(rec, F_MX, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
                if (!err[0] && t->res != R_OK) {
                    if (s->e)
                        entry_error(s->e, err, sizeof err);
                    else
                        snprintf(err, sizeof err, "MX %s: exchanger is not a host name", s->name);
                }
                continue;
            }
            for (int k = 0; k < s->e->n4 + s->e->n6; k++) {
                char ip[INET6_ADDRSTRLEN];
                addr_text(&s->e->addrs[k], ip, sizeof ip);
                int n = snprintf(buf, sizeof buf, "%s %s %s", pref, s->name, ip);
                rec_list_add(rec, F_MX, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
            }
            if (s->e->truncated)
                rec->truncated |= (rec_mask)1 << F_MX;
        }
        if (t->mx_truncated)
            rec->truncated |= (rec_mask)1 << F_MX;
    }
    if (err[0])
        rec_set_str(rec, F_ERROR, err);
    if (t->pol && t->mx)
        pol_fill(t->pol, rec);
    fill_truncated(rec);
}

static void job_identity(struct job *j, const struct raddr *a, const struct tgt_port *port)
{
    job_set_addr(j, a->family, a->a, port);
    j->kind = JOB_PROBE;
    j->test = 0;
    j->owner = NULL;
}

/* Name mode, no address: one record per port, ip null. */
static void name_failure_record(struct task *t, const struct tgt_port *port, struct record *rec)
{
    struct job j;
    job_for_name(&j, t->name, port);
    job_to_record(&j, rec);
    rec_set_status(rec, resolve_status_of((enum rres)t->res));
    char err[300];
    if (t->slots[0].e)
        entry_error(t->slots[0].e, err, sizeof err);
    else
        snprintf(err, sizeof err, "out of memory for the lookup of %s", t->name);
    rec_set_str(rec, F_ERROR, err);
}

/* ---- --policy: domain records wait for their probes ------------------ */

/* Calls fn for every (address, port) pair of the task's exchangers. */
typedef bool pair_fn(struct resolver *, const struct slot *, const struct tgt_port *, const struct pw_key *,
                     void *);
static bool pairs_any(struct resolver *r, struct task *t, pair_fn *fn, void *arg)
{
    for (int i = 0; i < t->n_slots; i++) {
        const struct slot *s = &t->slots[i];
        if (!s->e || s->e->res != R_OK)
            continue;
        for (int a = 0; a < s->e->n4 + s->e->n6; a++)
            for (size_t p = 0; p < t->n_ports; p++) {
                struct pw_key k;
                resolve_pw_key(&s->e->addrs[a], t->ports[p].port, &k);
                if (fn(r, s, &t->ports[p], &k, arg))
                    return true;
            }
    }
    return false;
}

static bool pair_pending(struct resolver *r, const struct slot *s, const struct tgt_port *port,
                         const struct pw_key *k, void *arg)
{
    (void)s;
    (void)port;
    (void)arg;
    const struct pw_outcome *o = pw_get(&r->pw, k, false);
    return o && !o->done;
}

static bool pair_sum(struct resolver *r, const struct slot *s, const struct tgt_port *port,
                     const struct pw_key *k, void *arg)
{
    struct pol_task *p = arg;
    const struct pw_outcome *o = pw_get(&r->pw, k, false);
    /* DANE and MTA-STS are about STARTTLS delivery: implicit-TLS ports
     * (465...) only feed implicit_tls */
    if (o && o->done && port->mode != TLS_MODE_IMPLICIT)
        pol_add_probe(p, s->name, o);
    return false;
}

/* implicit_tls: the implicit-TLS ports of -p (by index, up to 64) on
 * which some exchanger address answered with TLS. */
struct implicit_seen {
    const struct tgt_port *ports;
    uint64_t tls;
};

static bool pair_implicit(struct resolver *r, const struct slot *s, const struct tgt_port *port,
                          const struct pw_key *k, void *arg)
{
    (void)s;
    struct implicit_seen *seen = arg;
    const struct pw_outcome *o = pw_get(&r->pw, k, false);
    size_t i = (size_t)(port - seen->ports);
    if (port->mode == TLS_MODE_IMPLICIT && i < 64 && o && o->done && o->tls)
        seen->tls |= (uint64_t)1 << i;
    return false;
}

/* null when -p has no implicit-TLS port (RFC 8314 not asked) */
static void implicit_tls_fill(struct resolver *r, struct task *t, struct record *rec)
{
    struct implicit_seen seen = {t->ports, 0};
    bool asked = false;
    for (size_t p = 0; p < t->n_ports; p++)
        asked |= t->ports[p].mode == TLS_MODE_IMPLICIT;
    bool addr = false; /* an exchanger with an address: something was probed */
    for (int i = 0; i < t->n_slots; i++)
        addr |= t->slots[i].e && t->slots[i].e->res == R_OK;
    if (!asked || !addr)
        return;
    pairs_any(r, t, pair_implicit, &seen);
    rec_list_init(rec, F_IMPLICIT_TLS);
    for (size_t p = 0; p < t->n_ports && p < 64; p++) {
        char num[8];
        int n = snprintf(num, sizeof num, "%u", t->ports[p].port);
        if ((seen.tls >> p) & 1u && !rec_list_contains(rec, F_IMPLICIT_TLS, num, false))
            rec_list_add(rec, F_IMPLICIT_TLS, num, (size_t)n);
    }
}

/* Tasks waiting for probes whose probes all ended rejoin the done queue. */
static void wake_waiting(struct resolver *r)
{
    if (!r->probe_news)
        return;
    r->probe_news = false;
    struct task **pp = &r->wait_head;
    while (*pp) {
        struct task *t = *pp;
        if (pairs_any(r, t, pair_pending, NULL)) {
            pp = &t->wait_next;
            continue;
        }
        *pp = t->wait_next;
        t->next = NULL;
        if (r->done_tail)
            r->done_tail->next = t;
        else
            r->done_head = t;
        r->done_tail = t;
    }
}

void resolve_probe_done(struct resolver *r, const struct job *j, const struct record *rec)
{
    if (!r->cfg.policy || !r->cfg.mx_mode || !j || j->kind != JOB_PROBE)
        return;
    struct raddr a;
    if (j->addr.ss_family == AF_INET) {
        a.family = AF_INET;
        memcpy(a.a, &((const struct sockaddr_in *)&j->addr)->sin_addr, 4);
    } else if (j->addr.ss_family == AF_INET6) {
        a.family = AF_INET6;
        memcpy(a.a, &((const struct sockaddr_in6 *)&j->addr)->sin6_addr, 16);
    } else {
        return;
    }
    struct pw_key k;
    resolve_pw_key(&a, j->port.port, &k);
    struct pw_outcome *o = pw_get(&r->pw, &k, false);
    if (!o || o->done)
        return;
    if (rec)
        pw_from_record(rec, o);
    else
        o->done = true; /* not run: no facts */
    r->probe_news = true;
}

static void policy_domain_record(struct resolver *r, struct task *t, struct record *rec)
{
    pol_clear_probes(t->pol);
    pairs_any(r, t, pair_sum, t->pol);
    domain_record(r, t, rec);
    implicit_tls_fill(r, t, rec);
}

/* The cursor over (exchanger, address, port): the next new pair as a job
 * (or a blocklisted record); NONE when the task has no pair left. */
static enum resolve_out next_pair(struct resolver *r, struct task *t, struct job *job, struct record *rec)
{
    bool mx_mode = t->is_mx;
    while (t->cur_slot < t->n_slots) {
        struct slot *s = &t->slots[t->cur_slot];
        struct entry *e = s->e;
        if (!e || e->res != R_OK || t->cur_addr >= e->n4 + e->n6) {
            t->cur_slot++;
            t->cur_addr = 0;
            t->cur_port = 0;
            continue;
        }
        if (t->cur_port >= t->n_ports) {
            t->cur_addr++;
            t->cur_port = 0;
            continue;
        }
        const struct raddr *a = &e->addrs[t->cur_addr];
        const struct tgt_port *port = &t->ports[t->cur_port++];
        if (mx_mode && resolve_seen_check(r, a, port->port)) {
            r->stats.dedup_skipped++;
            continue;
        }
        job_identity(job, a, port);
        snprintf(job->host, sizeof job->host, "%s", s->name);
        if (mx_mode) {
            snprintf(job->domain, sizeof job->domain, "%s", t->name);
            job->has_mx_preference = !s->implicit;
            job->mx_preference = s->pref;
            if (t->pol) { /* the first domain's view of this exchanger, as for SNI */
                struct pw_key k;
                resolve_pw_key(a, port->port, &k);
                pw_get(&r->pw, &k, true); /* pending until its record comes back */
                if (port->proto == PROTO_SMTP && port->mode == TLS_MODE_STARTTLS)
                    pol_job_tlsa(t->pol, s->name, job);
            }
        } else {
            job->domain[0] = 0;
            job->has_mx_preference = false;
            job->mx_preference = 0;
        }
        if (tgt_source_is_blocked(r->src, a->family, a->a)) {
            r->stats.blocklisted++;
            job_local_record(job, rec, STATUS_BLOCKLISTED, NULL);
            resolve_probe_done(r, job, rec);
            return RESOLVE_RECORD;
        }
        r->stats.jobs++;
        return RESOLVE_JOB;
    }
    return RESOLVE_NONE;
}

static void done_pop(struct resolver *r)
{
    r->done_head = r->done_head->next;
    if (!r->done_head)
        r->done_tail = NULL;
}

enum resolve_out resolve_next(struct resolver *r, struct job *job, struct record *rec)
{
    wake_waiting(r);
    for (;;) {
        struct task *t = r->done_head;
        if (!t)
            return RESOLVE_NONE;
        bool mx_mode = t->is_mx;
        /* --mx: the domain record first; --policy: after the probes */
        if (mx_mode && !t->answered && !t->pol) {
            t->answered = true;
            domain_record(r, t, rec);
            return RESOLVE_RECORD;
        }
        if (!mx_mode && t->res != R_OK) {
            if (t->cur_port < t->n_ports) {
                name_failure_record(t, &t->ports[t->cur_port++], rec);
                return RESOLVE_RECORD;
            }
            t->cur_slot = t->n_slots; /* nothing to probe */
        }
        if (!t->jobs_done) {
            enum resolve_out got = next_pair(r, t, job, rec);
            if (got != RESOLVE_NONE)
                return got;
            t->jobs_done = true;
        }
        if (mx_mode && !t->answered) { /* --policy */
            if (pairs_any(r, t, pair_pending, NULL)) {
                done_pop(r);
                t->wait_next = r->wait_head;
                r->wait_head = t;
                continue;
            }
            t->answered = true;
            policy_domain_record(r, t, rec);
            return RESOLVE_RECORD;
        }
        done_pop(r);
        resolve_task_release(r, t);
    }
}

int resolve_abandon(struct resolver *r, int (*emit)(void *ctx, const struct job *j, struct record *rec),
                    void *ctx, struct record *scratch)
{
    for (uint32_t i = 0; i < r->cfg.tasks_max; i++) {
        struct task *t = &r->tasks[i];
        if (t->phase == TP_FREE || t->phase == TP_DONE)
            continue;
        if (t->is_mx) {
            rec_reset(scratch);
            rec_set_str(scratch, F_DOMAIN, t->name);
            rec_set_status(scratch, STATUS_INTERRUPTED);
            rec_set_str(scratch, F_ERROR, "scan stopped before the domain was resolved");
            if (emit(ctx, NULL, scratch) < 0)
                return -1;
        } else {
            for (size_t p = 0; p < t->n_ports; p++) {
                struct job j;
                job_for_name(&j, t->name, &t->ports[p]);
                job_local_record(&j, scratch, STATUS_INTERRUPTED,
                                 "scan stopped before the name was resolved");
                if (emit(ctx, NULL, scratch) < 0)
                    return -1;
            }
        }
        t->phase = TP_DONE;
    }
    /* tasks answered whose domain record is still unwritten; --policy:
     * also those waiting for probes (verdicts from what ended) */
    for (int pass = 0; pass < 2; pass++) {
        for (struct task *t = pass ? r->wait_head : r->done_head; t; t = pass ? t->wait_next : t->next) {
            if (t->is_mx && !t->answered) {
                t->answered = true;
                if (t->pol)
                    policy_domain_record(r, t, scratch);
                else
                    domain_record(r, t, scratch);
                if (emit(ctx, NULL, scratch) < 0)
                    return -1;
            }
        }
    }
    return 0;
}
