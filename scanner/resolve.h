/*
 * resolve.h - host names and mail domains -> jobs and DNS records.
 *
 * The feed hands every TGT_NAME input item to resolve_start and keeps
 * asking resolve_next for what the finished lookups produced: probe jobs
 * and records made without a connection (DNS failures, domain records,
 * blocklisted addresses). Lookups run through dns.c (c-ares in the loop).
 *
 * Name mode (default): A and AAAA of the name; every address is probed on
 * every port with the name in `host` (SNI, cert_hostname_match). A failure
 * gives one record per (name, port) with ip null and a dns-* status.
 *
 * MX mode (--mx): the name is a mail domain. MX, then A and AAAA of every
 * exchanger (at most RESOLVE_MX_MAX, lowest preferences first). No MX:
 * the domain's own A/AAAA (RFC 5321 section 5.1). Null MX (RFC 7505):
 * no-mail. Each domain gets exactly one domain record (ip and port null,
 * `domain`, `mx`, status resolved / no-mail / dns-*), and each
 * (address, port) is probed once per scan, whichever and however many
 * domains lead to it: the probe record carries the exchanger in `host` and
 * the first domain with its MX preference. Full contract: scanner/DNS.md.
 *
 * Memory is bounded: tasks_max names in resolution at once (the feed
 * stops reading input when they are all busy), addr_cache_max names and
 * mx_cache_max MX answers kept once answered (LRU, plus the entries tasks
 * in progress hold), and RESOLVE_SEEN_MAX (address, port) pairs remembered
 * for MX-mode dedup.
 */
#ifndef MAILTLS_RESOLVE_H
#define MAILTLS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "dns.h"

#define RESOLVE_MX_MAX 16                    /* exchangers followed per domain */
#define RESOLVE_ADDR_PER_FAMILY 8            /* IPv4 and IPv6 addresses kept per name, each */
#define RESOLVE_SEEN_MAX (1u << 21)          /* (address, port) pairs remembered in MX mode */
#define RESOLVE_CACHE_AGE_MS (3600u * 1000u) /* answers older than this are asked again */

struct resolve_config {
    bool mx_mode;
    bool policy;             /* --policy (MX mode): DNSSEC, TLSA, MTA-STS and TLS-RPT facts (policy.h) */
    struct https *https;     /* --policy: the MTA-STS policy fetcher; NULL = no fetch */
    uint32_t tasks_max;      /* names/domains in resolution at once */
    uint32_t addr_cache_max; /* answered names whose addresses are kept */
    uint32_t mx_cache_max;   /* answered domains whose MX set is kept */
};

struct resolve_stats {
    uint64_t names, domains; /* input items taken */
    uint64_t jobs;           /* probe jobs handed out */
    uint64_t dedup_skipped;  /* MX mode: (address, port) already probed */
    uint64_t blocklisted;    /* blocklisted (address, port) records */
    uint64_t failed;         /* names/domains without any address */
    uint64_t cache_hits, cache_misses;
    uint64_t seen_full; /* pairs not remembered: RESOLVE_SEEN_MAX reached */
};

struct resolver;
struct tgt_source;
struct tgt_line;

/* Sizes the dns queue it needs: call resolve_dns_queue_max first. */
uint32_t resolve_dns_queue_max(const struct resolve_config *cfg);
struct resolver *resolve_new(const struct resolve_config *cfg, struct dns *dns, struct tgt_source *src,
                             char *err, size_t errlen);
void resolve_free(struct resolver *r);

/* No task free: the feed keeps its item and waits. */
bool resolve_full(const struct resolver *r);
/* Some task is resolving or still has output: the input is not done. */
bool resolve_busy(const struct resolver *r);
/* Takes a TGT_NAME line; `ports` (n_ports >= 1) must outlive the task
 * unless n_ports == 1 (then it is copied). -1 when full. */
int resolve_start(struct resolver *r, const struct tgt_line *l, const struct tgt_port *ports, size_t n_ports,
                  uint64_t now_ms);

enum resolve_out { RESOLVE_NONE, RESOLVE_JOB, RESOLVE_RECORD };
/* JOB: *job filled (kind JOB_PROBE). RECORD: *rec filled, the caller emits
 * it (no job). NONE: nothing ready now. */
enum resolve_out resolve_next(struct resolver *r, struct job *job, struct record *rec);
/* After the loop stopped early: every task not answered yet gets its
 * `interrupted` record(s) through emit. Returns -1 if emit failed. */
int resolve_abandon(struct resolver *r, int (*emit)(void *ctx, const struct job *j, struct record *rec),
                    void *ctx, struct record *scratch);
const struct resolve_stats *resolve_stats(const struct resolver *r);
/* --policy: a probe job the resolver handed out ended with rec (NULL: it
 * was not run, e.g. --resume had it), so the domain records waiting for
 * it can go out (resolve_next). */
void resolve_probe_done(struct resolver *r, const struct job *j, const struct record *rec);

#endif
