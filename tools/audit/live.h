/*
 * live.h - --live: scan the listeners the configuration declares with the
 * scanner's engine (the same probe and records as mailtls-scan) and hold
 * each result against the configuration's verdict.
 *
 * Only loopback is ever scanned: a listener on "*", "all", "0.0.0.0" or
 * "loopback-only" is scanned at 127.0.0.1, "::" at ::1, an explicit
 * 127.x.y.z or ::1 as given; any other address is reported as
 * "not-scanned" and never contacted.
 */
#ifndef MAILTLS_AUDIT_LIVE_H
#define MAILTLS_AUDIT_LIVE_H

#include "../../output/record.h"
#include "report.h"

struct live_opts {
    double timeout_s;         /* per probe (total); connect and read get a share */
    const char *records_path; /* NDJSON records of the scan, or NULL */
};

/* Fills out[] (one per distinct address and port, at most max) and
 * returns how many; -1 with err on a setup failure (TLS context, engine,
 * records file). */
int live_run(const struct aud_listeners *ls, const struct live_opts *o, struct aud_live *out, size_t max,
             char *err, size_t errlen);

/* The verdict a scan record shows (see check.h), and a line of its facts. */
void live_verdict(const struct record *r, bool implicit, char *verdict, size_t vlen, char *facts,
                  size_t flen);

#endif
