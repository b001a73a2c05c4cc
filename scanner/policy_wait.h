/*
 * policy_wait.h - what each probed (address, port) showed, for the domain
 * records that wait for it (--policy).
 *
 * With --policy a domain record is written after the probes of all its
 * (address, port) pairs ended, so that the DANE check and the MTA-STS
 * certificate check of the handshakes count in its verdicts. Each pair is
 * still probed once per scan: the first domain's job probes it, later
 * domains find its outcome here (pending or done). An open-addressing
 * table that grows by doubling up to PW_MAX pairs; past that a pair is not
 * remembered and the domains behind it do not wait for it (its verdicts
 * then stay unknown). Entries are never removed (as the dedup set).
 */
#ifndef MAILTLS_POLICY_WAIT_H
#define MAILTLS_POLICY_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "../output/record.h"

#define PW_MAX (1u << 20)

struct pw_key {
    uint8_t family; /* 4 or 6; 0 = empty slot */
    uint8_t port[2];
    uint8_t a[16];
};

/* What a finished probe showed, as far as policy cares. */
struct pw_outcome {
    bool done;
    bool tls;         /* a TLS session was established */
    bool no_starttls; /* STARTTLS not offered or refused */
    bool pkix;        /* cert_trusted */
    bool name_ok;     /* cert_hostname_match (for the probe's host) */
    bool expired;     /* cert_days_left < 0 */
    int8_t dane;      /* -1 not checked, 0 no match, 1 matched */
};

struct pw_slot {
    struct pw_key k;
    struct pw_outcome o;
};

struct pw_table {
    struct pw_slot *slots;
    uint32_t cap, n;
    bool full_warned;
};

void pw_init(struct pw_table *t);
void pw_free(struct pw_table *t);
/* The pair's outcome; with create, a new pending entry when absent (NULL
 * when the table is at PW_MAX or out of memory). */
struct pw_outcome *pw_get(struct pw_table *t, const struct pw_key *k, bool create);
/* A finished probe record -> its outcome (done). */
void pw_from_record(const struct record *r, struct pw_outcome *o);

#endif
