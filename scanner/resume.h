/*
 * resume.h - --resume: continue an interrupted or killed scan from its
 * output, so that all runs together hold every target once.
 *
 * resume_prepare() reads the earlier output with the project's reader
 * (output/reader.h: NDJSON or CSV, gzip or not, a killed scan's torn last
 * line or gzip member dropped) in two passes:
 *  1. every final record (status not `interrupted`, not `duplicate`, not a
 *     domain record) adds its target key to the done set;
 *  2. the file is rewritten (a temporary file renamed over it, same
 *     format and compression) with exactly the records kept: final
 *     records, and --mx domain records whose every (address, port) listed
 *     in `mx` is done. A domain record with work left is dropped: the
 *     domain is resolved again and gets a new one. `interrupted` and
 *     `duplicate` records are dropped too (the new run writes them again:
 *     they cost no packet).
 * The scan then appends to the file, and the feed asks the done set
 * before every DNS query and connection (feed.c), so nothing finished is
 * contacted again, and a scan interrupted any number of times advances.
 *
 * Keys come from targets/dedup.h tgt_key(), the function the input dedup
 * uses: (address or none, port, protocol, mode, name). The name is the
 * record's `host` (SNI name, host name), except for --mx probes (records
 * with a `domain` and a port), which are deduplicated per (address, port)
 * whatever exchanger led there, so their key has no name.
 */
#ifndef MAILTLS_RESUME_H
#define MAILTLS_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../output/record.h"
#include "../targets/target.h"

struct resume_set;
struct job;

struct resume_counts {
    uint64_t kept;      /* records carried over */
    uint64_t redo;      /* interrupted records and unfinished domains dropped: run again */
    uint64_t duplicate; /* duplicate records dropped: written again by the new run */
    bool torn;          /* a torn end (killed scan) was cut off */
};

/* csv: the format the scan writes (--format); a file in the other format
 * is refused. ports: the scan's --ports (for --mx domain completeness).
 * Returns NULL with err set on failure. */
struct resume_set *resume_prepare(const char *path, bool csv, const struct tgt_port *ports, size_t n_ports,
                                  char *err, size_t errlen, struct resume_counts *counts);
/* A probe job (address, port, protocol, host or --mx) already finished. */
bool resume_done_job(const struct resume_set *s, const struct job *j);
/* A name target's record without address (dns-* failure, local-error) on this port. */
bool resume_done_name(const struct resume_set *s, const char *name, const struct tgt_port *port);
/* An --mx domain whose domain record and probes are all done. */
bool resume_done_domain(const struct resume_set *s, const char *domain);
/* A record made without a connection (resolver's blocklisted or failure records). */
bool resume_done_record(const struct resume_set *s, const struct record *r);
void resume_free(struct resume_set *s);

#endif
