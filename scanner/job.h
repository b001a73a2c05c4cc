/*
 * job.h - one thing to probe, and the records made from it.
 *
 * The feed, the resolver, the enumerator and the engine all build jobs
 * and fill records from them; this is their one shared home (it used to
 * live in conn.h and feed.c, which made feed.c, resolve.c and engine.c
 * include each other). It depends only on targets/ and output/.
 */
#ifndef MAILTLS_JOB_H
#define MAILTLS_JOB_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../output/record.h"
#include "../targets/target.h"

/* What a connection is for: the full probe (one record), or one extra
 * handshake of a TLS enumeration (no record of its own; the result goes to
 * engine_io.tls_test_done). */
enum job_kind { JOB_PROBE, JOB_TLS_TEST };

/* --policy: one usable DANE TLSA record (RFC 7672: usage 2 or 3) of the
 * exchanger, from a DNSSEC-secure answer, to check on the probe's own
 * handshake (scanner/dane.h). */
#define JOB_TLSA_MAX 4
#define JOB_TLSA_DATA 64
struct job_tlsa {
    uint8_t usage, selector, mtype, len;
    unsigned char data[JOB_TLSA_DATA];
};

/* One thing to probe: an address, the port spec, and the name it stands for. */
struct job {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct tgt_port port;
    char host[TGT_NAME_MAX + 1]; /* "" when the target has no name */
    enum job_kind kind;
    uint32_t test;                 /* JOB_TLS_TEST: which test, for its owner */
    void *owner;                   /* JOB_TLS_TEST: the enumeration it belongs to */
    char domain[TGT_NAME_MAX + 1]; /* --mx: first input domain behind this job; "" otherwise */
    bool has_mx_preference;        /* --mx: mx_preference is the MX record's (not the fallback) */
    uint16_t mx_preference;
    uint8_t n_tlsa; /* --policy: DANE records for `host`; 0 = no DANE check */
    struct job_tlsa tlsa[JOB_TLSA_MAX];
};

/* Sets the address (family AF_INET: 4 bytes of addr, else 16), its length
 * and the port spec, and clears the DANE records; nothing else of the job. */
void job_set_addr(struct job *j, int family, const uint8_t *addr, const struct tgt_port *port);
/* A job without address (a name that did not resolve): ip null in its
 * record. Clears the whole job; host is the name. */
void job_for_name(struct job *j, const char *name, const struct tgt_port *port);
/* Fills the identity fields (ip, port, host, domain, mx_preference,
 * protocol, tls_mode) of a record, after rec_reset. */
void job_to_record(const struct job *j, struct record *r);
/* A record answered without a connection: identity, status, and error
 * when not NULL. */
void job_local_record(const struct job *j, struct record *r, enum rec_status st, const char *error);

#endif
