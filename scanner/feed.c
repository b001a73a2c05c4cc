/* feed.c - target items x ports -> jobs (see feed.h). */
#include "feed.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void job_to_record(const struct job *j, struct record *r)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_storage *ss = &j->addr;
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
    rec_reset(r);
    rec_set_str(r, F_IP, ip);
    rec_set_int(r, F_PORT, j->port.port);
    if (j->host[0])
        rec_set_str(r, F_HOST, j->host);
    rec_set_str(r, F_PROTOCOL, mt_proto_name(j->port.proto));
    rec_set_str(r, F_TLS_MODE, mt_tls_mode_name(j->port.mode));
}

static void fill_job(const struct tgt_line *l, const struct tgt_port *port, struct job *j)
{
    memset(&j->addr, 0, sizeof j->addr);
    if (l->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&j->addr;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, l->addr, 4);
        sin->sin_port = htons(port->port);
        j->addr_len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&j->addr;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, l->addr, 16);
        sin6->sin6_port = htons(port->port);
        j->addr_len = sizeof *sin6;
    }
    j->port = *port;
    snprintf(j->host, sizeof j->host, "%s", l->name);
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

/* Records the feed makes itself (blocklisted, unresolvable) go straight out. */
static int emit_local(struct feed *f, const struct job *j, enum rec_status st, const char *error)
{
    job_to_record(j, &f->scratch);
    rec_set_status(&f->scratch, st);
    if (error)
        rec_set_str(&f->scratch, F_ERROR, error);
    return f->out.emit(f->out.ctx, NULL, &f->scratch);
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
        if (!f->have_item) {
            enum tgt_next r = tgt_source_next(f->src, &f->item, err, sizeof err);
            switch (r) {
            case TGT_NEXT_END:
                return f->tls_enum && tls_enum_busy(f->tls_enum) ? JOB_WAIT : JOB_END;
            case TGT_NEXT_WAIT: return JOB_WAIT;
            case TGT_NEXT_ERROR:
                fprintf(stderr, "mailtls-scan: %s\n", err);
                return JOB_FATAL;
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
            /* Host names need DNS through c-ares (targets issue); until
             * then the name still gets its record, never a silent skip. */
            struct job j = {0};
            j.port = port;
            j.addr.ss_family = AF_UNSPEC;
            snprintf(j.host, sizeof j.host, "%s", l->name);
            f->unresolved_records++;
            if (emit_local(f, &j, STATUS_LOCAL_ERROR, "host names are not resolved yet; give IP,NAME") < 0)
                return JOB_FATAL;
            continue;
        }
        fill_job(l, &port, out);
        out->kind = JOB_PROBE;
        out->test = 0;
        out->owner = NULL;
        if (f->item.blocklisted) {
            f->blocklisted_records++;
            if (emit_local(f, out, STATUS_BLOCKLISTED, NULL) < 0)
                return JOB_FATAL;
            continue;
        }
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
    if (f->tls_enum && j && j->kind == JOB_PROBE && tls_enum_offer(f->tls_enum, j, r) == 1)
        return 0; /* held until its TLS tests are done */
    return f->out.emit(f->out.ctx, j, r);
}

int feed_tick(void *arg, uint64_t now_ms)
{
    struct feed *f = arg;
    return f->out.tick ? f->out.tick(f->out.ctx, now_ms) : 0;
}
