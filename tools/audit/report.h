/*
 * report.h - printing the audit: a readable report grouped by service
 * (default) or NDJSON, one object per finding and, with --live, one per
 * checked listener (kind "live").
 */
#ifndef MAILTLS_AUDIT_REPORT_H
#define MAILTLS_AUDIT_REPORT_H

#include <stdio.h>

#include "check.h"

/* What a live scan of one listener showed, next to the configuration's
 * verdict. */
struct aud_live {
    const struct aud_listener *l;
    char address[64]; /* the address scanned */
    char live_verdict[48];
    bool agree;
    char explain[400]; /* the record's facts, and for a mismatch why */
};

struct aud_source {
    const char *product;
    const char *path; /* directory or top file */
    const char *via;  /* "postconf", "files", ... */
    const char *note; /* why the tool was not used, or NULL */
    unsigned warnings;
    const char *first_warning;
};

void report_text(FILE *f, const struct aud_source *src, size_t n_src, const struct aud_findings *fs,
                 const struct aud_live *live, size_t n_live);
void report_json(FILE *f, const struct aud_source *src, size_t n_src, const struct aud_findings *fs,
                 const struct aud_live *live, size_t n_live);

#endif
