/* job.c - jobs and the records made from them (see job.h). */
#include "job.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void job_set_addr(struct job *j, int family, const uint8_t *addr, const struct tgt_port *port)
{
    memset(&j->addr, 0, sizeof j->addr);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&j->addr;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, 4);
        sin->sin_port = htons(port->port);
        j->addr_len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&j->addr;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, 16);
        sin6->sin6_port = htons(port->port);
        j->addr_len = sizeof *sin6;
    }
    j->port = *port;
    j->n_tlsa = 0;
}

void job_for_name(struct job *j, const char *name, const struct tgt_port *port)
{
    memset(j, 0, sizeof *j);
    j->addr.ss_family = AF_UNSPEC;
    j->port = *port;
    snprintf(j->host, sizeof j->host, "%s", name);
}

void job_to_record(const struct job *j, struct record *r)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_storage *ss = &j->addr;
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
    rec_reset(r);
    if (ss->ss_family != AF_UNSPEC) /* a name that resolved to nothing: ip null */
        rec_set_str(r, F_IP, ip);
    rec_set_int(r, F_PORT, j->port.port);
    if (j->host[0])
        rec_set_str(r, F_HOST, j->host);
    if (j->domain[0])
        rec_set_str(r, F_DOMAIN, j->domain);
    if (j->has_mx_preference)
        rec_set_int(r, F_MX_PREFERENCE, j->mx_preference);
    rec_set_str(r, F_PROTOCOL, mt_proto_name(j->port.proto));
    rec_set_str(r, F_TLS_MODE, mt_tls_mode_name(j->port.mode));
}

void job_local_record(const struct job *j, struct record *r, enum rec_status st, const char *error)
{
    job_to_record(j, r);
    rec_set_status(r, st);
    if (error)
        rec_set_str(r, F_ERROR, error);
}
