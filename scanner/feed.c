/* feed.c - target items x ports -> jobs (see feed.h). */
#include "feed.h"

#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "https.h"
#include "options.h"
#include "resolve.h"
#include "resume.h"

static void fill_job(const struct tgt_line *l, const struct tgt_port *port, struct job *j)
{
    job_set_addr(j, l->family, l->addr, port);
    snprintf(j->host, sizeof j->host, "%s", l->name);
    j->domain[0] = 0;
    j->has_mx_preference = false;
    j->mx_preference = 0;
}

/* The port spec for an item that names its own port. */
static int port_for_item(const struct feed *f, const struct tgt_line *l, struct tgt_port *out)
{
    if (l->has_proto) {
        *out = l->proto;
        out->port = l->port;
        return 0;
    }
    for (size_t i = 0; i < f->n_ports; i++)
        if (f->ports[i].port == l->port) {
            *out = f->ports[i];
            return 0;
        }
    return tgt_port_infer(l->port, out) ? 0 : -1;
}

#define DUPLICATE_ERROR "an earlier input line named the same target; probed once"

/* Records the feed makes itself (blocklisted, unresolvable) go straight out. */
static int emit_local(struct feed *f, const struct job *j, enum rec_status st, const char *error)
{
    job_local_record(j, &f->scratch, st, error);
    return f->out.emit(f->out.ctx, NULL, &f->scratch);
}

/* Records and jobs of finished lookups. 1: *out is a job; 0: none now; -1: output failed.
 * With --resume, what the earlier run finished is dropped here, before
 * the connection. */
static int take_resolved(struct feed *f, struct job *out)
{
    for (;;) {
        switch (resolve_next(f->res, out, &f->scratch)) {
        case RESOLVE_NONE: return 0;
        case RESOLVE_JOB:
            if (f->resume && resume_done_job(f->resume, out)) {
                f->resumed++;
                resolve_probe_done(f->res, out, NULL); /* --policy: not run, nothing to wait for */
                break;
            }
            return 1;
        case RESOLVE_RECORD:
            if (f->resume && resume_done_record(f->resume, &f->scratch)) {
                f->resumed++;
                break;
            }
            if (f->out.emit(f->out.ctx, NULL, &f->scratch) < 0)
                return -1;
            break;
        }
    }
}

/* --resume: a name or domain item whose every record the earlier run
 * holds needs no DNS query at all. A name that resolved is asked again
 * (the output does not say how many addresses it had); its finished
 * (address, port) pairs are then dropped by take_resolved. */
static bool item_done(struct feed *f, const struct tgt_line *l)
{
    if (!f->resume)
        return false;
    if (f->mx)
        return resume_done_domain(f->resume, l->name);
    struct tgt_port port;
    if (l->port)
        return port_for_item(f, l, &port) == 0 && resume_done_name(f->resume, l->name, &port);
    for (size_t i = 0; i < f->n_ports; i++)
        if (!resume_done_name(f->resume, l->name, &f->ports[i]))
            return false;
    return true;
}

/* The one `duplicate` record of a repeated --mx domain line. */
static int emit_duplicate_domain(struct feed *f, const struct tgt_line *l)
{
    rec_reset(&f->scratch);
    rec_set_str(&f->scratch, F_DOMAIN, l->name);
    rec_set_status(&f->scratch, STATUS_DUPLICATE);
    rec_set_str(&f->scratch, F_ERROR, DUPLICATE_ERROR);
    f->duplicate_records++;
    return f->out.emit(f->out.ctx, NULL, &f->scratch);
}

/* Hands a TGT_NAME item to the resolver. 0 taken (or malformed), 1 no room. */
static int resolve_item(struct feed *f, const struct tgt_line *l)
{
    if (resolve_full(f->res))
        return 1;
    if (l->port) {
        struct tgt_port port;
        if (port_for_item(f, l, &port) < 0) {
            fprintf(stderr, "mailtls-scan: %s: port %u has no known protocol; write PORT/PROTO\n",
                    f->item.origin ? f->item.origin : "?", l->port);
            f->malformed++;
            return 0;
        }
        return resolve_start(f->res, l, &port, 1, now_ms()) < 0;
    }
    return resolve_start(f->res, l, f->ports, f->n_ports, now_ms()) < 0;
}

/* Once, at the end of the input: lines the duplicate check could not hold. */
static void warn_dedup_full(const struct feed *f)
{
    struct tgt_counts c;
    tgt_source_counts(f->src, &c);
    if (c.dedup_full)
        fprintf(stderr,
                "mailtls-scan: warning: the duplicate check holds %zu distinct targets; %llu later lines "
                "were not checked (targets/README-targets.md)\n",
                (size_t)TGT_DEDUP_MAX_DEFAULT, (unsigned long long)c.dedup_full);
}

enum job_next feed_next(void *arg, struct job *out)
{
    struct feed *f = arg;
    char err[TGT_ERR_MAX];
    if (f->tls_enum) {
        if (tls_enum_failed(f->tls_enum))
            return JOB_FATAL;
        /* tests first: they finish records that are already held */
        if (tls_enum_next_job(f->tls_enum, out))
            return JOB_READY;
        if (tls_enum_full(f->tls_enum))
            return JOB_WAIT;
    }
    for (;;) {
        if (f->res) {
            int got = take_resolved(f, out);
            if (got < 0)
                return JOB_FATAL;
            if (got > 0) {
                f->probes_out++;
                return JOB_READY;
            }
        }
        if (!f->have_item) {
            enum tgt_next r = tgt_source_next(f->src, &f->item, err, sizeof err);
            switch (r) {
            case TGT_NEXT_END:
                if (!f->input_read)
                    warn_dedup_full(f);
                f->input_read = true;
                if (f->res && resolve_busy(f->res))
                    return JOB_WAIT; /* lookups in flight: on_fd/on_timer ask again */
                /* a probe still running may hand the enumerator a record */
                return f->tls_enum && (tls_enum_busy(f->tls_enum) || f->probes_out > 0) ? JOB_WAIT : JOB_END;
            case TGT_NEXT_WAIT: return JOB_WAIT;
            case TGT_NEXT_ERROR: fprintf(stderr, "mailtls-scan: %s\n", err); return JOB_FATAL;
            case TGT_NEXT_MALFORMED:
                fprintf(stderr, "mailtls-scan: %s\n", err);
                f->malformed++;
                continue;
            case TGT_NEXT_ITEM: break;
            }
            f->have_item = true;
            f->port_index = 0;
        }
        const struct tgt_line *l = &f->item.line;
        if (l->kind == TGT_NAME && f->res && f->port_index == 0 && f->item.duplicate && f->mx) {
            f->have_item = false;
            if (emit_duplicate_domain(f, l) < 0)
                return JOB_FATAL;
            continue;
        }
        if (l->kind == TGT_NAME && f->res && f->port_index == 0 && !f->item.duplicate) {
            if (item_done(f, l)) {
                f->resumed++;
                f->have_item = false;
                continue;
            }
            if (resolve_item(f, l) > 0)
                return JOB_WAIT; /* every task busy: keep the item */
            f->have_item = false;
            continue;
        }
        struct tgt_port port;
        if (l->port) {
            if (f->port_index > 0) {
                f->have_item = false;
                continue;
            }
            f->port_index = 1;
            if (port_for_item(f, l, &port) < 0) {
                fprintf(stderr, "mailtls-scan: %s: port %u has no known protocol; write PORT/PROTO\n",
                        f->item.origin ? f->item.origin : "?", l->port);
                f->malformed++;
                continue;
            }
        } else {
            if (f->port_index >= f->n_ports) {
                f->have_item = false;
                continue;
            }
            port = f->ports[f->port_index++];
        }
        if (l->kind == TGT_NAME) {
            /* No --resolver: names are never given to the system
             * resolver (scanner/DNS.md); each still gets its record. */
            struct job j = {0};
            j.port = port;
            j.addr.ss_family = AF_UNSPEC;
            snprintf(j.host, sizeof j.host, "%s", l->name);
            if (f->item.duplicate) {
                f->duplicate_records++;
                if (emit_local(f, &j, STATUS_DUPLICATE, DUPLICATE_ERROR) < 0)
                    return JOB_FATAL;
                continue;
            }
            if (f->resume && resume_done_name(f->resume, l->name, &port)) {
                f->resumed++;
                continue;
            }
            f->unresolved_records++;
            if (emit_local(f, &j, STATUS_LOCAL_ERROR,
                           "host names need --resolver IP[:PORT]; the system resolver is never used") < 0)
                return JOB_FATAL;
            continue;
        }
        fill_job(l, &port, out);
        out->kind = JOB_PROBE;
        out->test = 0;
        out->owner = NULL;
        if (f->item.duplicate) {
            f->duplicate_records++;
            if (emit_local(f, out, STATUS_DUPLICATE, DUPLICATE_ERROR) < 0)
                return JOB_FATAL;
            continue;
        }
        if (f->resume && resume_done_job(f->resume, out)) {
            f->resumed++;
            continue;
        }
        if (f->item.blocklisted) {
            f->blocklisted_records++;
            if (emit_local(f, out, STATUS_BLOCKLISTED, NULL) < 0)
                return JOB_FATAL;
            continue;
        }
        f->probes_out++;
        return JOB_READY;
    }
}

int feed_wait_fd(void *arg)
{
    struct feed *f = arg;
    return tgt_source_fd(f->src);
}

int feed_emit(void *arg, const struct job *j, struct record *r)
{
    struct feed *f = arg;
    if (j && j->kind == JOB_PROBE && f->probes_out > 0)
        f->probes_out--;
    if (f->res && j)
        resolve_probe_done(f->res, j, r); /* --policy: a domain record may wait for it */
    if (f->tls_enum && j && j->kind == JOB_PROBE && tls_enum_offer(f->tls_enum, j, r) == 1)
        return 0; /* held until its TLS tests are done */
    return f->out.emit(f->out.ctx, j, r);
}

int feed_tick(void *arg, uint64_t now_ms)
{
    struct feed *f = arg;
    return f->out.tick ? f->out.tick(f->out.ctx, now_ms) : 0;
}

void feed_tls_setup(void *arg, const struct job *j, SSL *ssl)
{
    struct feed *f = arg;
    if (f->tls_enum)
        tls_enum_setup(f->tls_enum, j, ssl);
}

void feed_tls_done(void *arg, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                   const char *error)
{
    struct feed *f = arg;
    if (f->tls_enum)
        tls_enum_done(f->tls_enum, j, ssl, ok, status, error);
}

size_t feed_tls_hello(void *arg, const struct job *j, unsigned char *buf, size_t cap)
{
    struct feed *f = arg;
    return f->tls_enum ? tls_enum_hello(f->tls_enum, j, buf, cap) : 0;
}

bool feed_tls_bytes(void *arg, const struct job *j, const unsigned char *d, size_t n, bool eof)
{
    struct feed *f = arg;
    return f->tls_enum ? tls_enum_bytes(f->tls_enum, j, d, n, eof) : true;
}

void feed_dns_on_fd(void *arg, int fd, uint32_t events)
{
    struct feed *f = arg;
    if (f->https && https_on_fd(f->https, fd, events, now_ms()))
        return;
    if (f->dns)
        dns_on_fd(f->dns, fd, events, now_ms());
}

uint64_t feed_dns_next_deadline(void *arg)
{
    struct feed *f = arg;
    uint64_t d = f->dns ? dns_next_deadline(f->dns, now_ms()) : 0;
    uint64_t h = f->https ? https_next_deadline(f->https, now_ms()) : 0;
    return !d || (h && h < d) ? h : d;
}

void feed_dns_on_timer(void *arg, uint64_t now)
{
    struct feed *f = arg;
    if (f->https)
        https_on_timer(f->https, now);
    if (f->dns)
        dns_on_timer(f->dns, now);
}

static int watch_engine(void *engine, int fd, uint32_t events)
{
    return engine_watch_fd(engine, fd, events);
}

void feed_dns_attach(struct feed *f, struct engine *e)
{
    if (f->dns)
        dns_set_watch(f->dns, watch_engine, e);
    if (f->https)
        https_set_watch(f->https, watch_engine, e);
}

int feed_dns_finish(struct feed *f)
{
    if (!f->res)
        return 0;
    return resolve_abandon(f->res, f->out.emit, f->out.ctx, &f->scratch);
}

int feed_dns_setup(struct feed *f, const struct options *o, struct engine_io *io, char *err, size_t errlen)
{
    if (o->n_resolvers == 0)
        return 0;
    /* enough tasks to keep --dns-concurrency queries busy; capped so the
     * pool (about 1 KB per task) stays small */
    uint32_t tasks = o->dns_concurrency * 2 < 64 ? 64 : o->dns_concurrency * 2;
    if (tasks > 20000)
        tasks = 20000;
    if (o->policy) {
        /* one fetch per domain in resolution at most: the queue never fills */
        f->https = https_new(o->ca_file, (uint16_t)o->mta_sts_port, (uint32_t)(o->total_timeout_s * 1000),
                             tasks, err, errlen);
        if (!f->https)
            return -1;
    }
    struct resolve_config rc = {.mx_mode = o->mx,
                                .https = f->https,
                                .policy = o->policy,
                                .tasks_max = tasks,
                                .addr_cache_max = 32768,
                                .mx_cache_max = 4096};
    struct dns_config dc = {.n_servers = o->n_resolvers,
                            .concurrency = o->dns_concurrency,
                            .rate = o->dns_rate,
                            .timeout_ms = (uint32_t)(o->dns_timeout_s * 1000),
                            .retries = o->dns_retries,
                            .queue_max = resolve_dns_queue_max(&rc)};
    for (int i = 0; i < o->n_resolvers; i++)
        dc.servers[i] = o->resolvers[i];
    char why[200];
    f->dns = dns_new(&dc, why, sizeof why);
    if (!f->dns) {
        snprintf(err, errlen, "--resolver: %s", why);
        return -1;
    }
    f->mx = o->mx;
    f->res = resolve_new(&rc, f->dns, f->src, err, errlen);
    if (!f->res)
        return -1;
    io->on_fd = feed_dns_on_fd;
    io->next_deadline = feed_dns_next_deadline;
    io->on_timer = feed_dns_on_timer;
    return 0;
}

void feed_dns_free(struct feed *f)
{
    https_free(f->https); /* these two before the resolver: no callback reaches it afterwards */
    dns_free(f->dns);
    resolve_free(f->res);
    f->dns = NULL;
    f->res = NULL;
}
