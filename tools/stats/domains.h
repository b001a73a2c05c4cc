/*
 * domains.h - the per-domain roll-up of an --mx scan.
 *
 * An --mx scan writes one domain record per input domain (port null,
 * `domain` set, `mx` = "PREF EXCHANGER RESULT" items, RESULT an address or
 * a dns-* status) and one probe record per (address, port), which names
 * only the first domain that led to it (scanner/DNS.md). So the roll-up
 * joins the two by address, at the end: while reading it keeps, per
 * domain, the hashes of its MX addresses, and per address what its probe
 * records showed (over all their ports):
 *
 *   answered        a banner or a TLS session
 *   tls             every probe made TLS (STARTTLS worked, or implicit TLS)
 *   offered         every STARTTLS-port probe saw STARTTLS advertised
 *   plaintext_auth  some probe saw a password allowed before TLS
 *                   (plaintext_auth_before_tls)
 *   cert_valid      every TLS probe: cert_trusted and cert_hostname_match
 *
 * and reports for the `resolved` domains how many have every MX address
 * answering and offering STARTTLS, with working TLS, with a valid
 * certificate, and how many have any MX address offering plaintext AUTH
 * (see domains_report for the row names). "Every MX" means every address
 * in `mx`; an address without a probe record fails an "every" test.
 *
 * Probe records are followed only from the first domain record on (the
 * scanner writes a domain record before its probes), so a scan of
 * addresses costs no memory here.
 *
 * Memory: DOMAINS_MAX domains, DOMAINS_MAX_ADDRS address hashes in all,
 * DOMAINS_MAX_HOSTS distinct probed addresses; beyond them records are
 * counted in `domains_not_rolled_up`.
 */
#ifndef MAILTLS_STATS_DOMAINS_H
#define MAILTLS_STATS_DOMAINS_H

#include "../../output/record.h"
#include "report.h"

#define DOMAINS_MAX (4u << 20)
#define DOMAINS_MAX_ADDRS (8u << 20)
#define DOMAINS_MAX_HOSTS (4u << 20)

struct domains;

struct domains *domains_new(void);
/* Every record goes here; the ones that are neither domain nor probe
 * records of an --mx scan change nothing. */
void domains_add(struct domains *d, const struct record *r);
/* Section "domains" (metric, value); nothing when no domain record was
 * read, so reports of other scans stay as they were. */
void domains_report(struct domains *d, struct report *rep);
void domains_free(struct domains *d);

#endif
