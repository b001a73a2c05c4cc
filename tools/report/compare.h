/*
 * compare.h - `mailtls-report --compare OLD`: what got worse since OLD,
 * by reason, with at most max_hosts hosts per reason. It runs the diff
 * engine of mailtls-diff (tools/diff/engine.h, same severity table, same
 * bounded memory) over OLD and the report's scan.
 */
#ifndef MAILTLS_REPORT_COMPARE_H
#define MAILTLS_REPORT_COMPARE_H

#include "../diff/engine.h"
#include "agg.h"

#define CMP_MAX_REASONS 48

struct cmp_reason {
    const char *why; /* the severity table's text (static) */
    struct finding hosts;
};

struct cmp {
    struct diff_counts cnt;
    size_t max_hosts;
    int n_reasons;
    struct cmp_reason reasons[CMP_MAX_REASONS];
};

/* 0, or -1 with err. */
int cmp_run(struct cmp *c, const char *old_path, const char *new_path, size_t max_hosts, int expiry_days,
            char *err, size_t errlen);
void cmp_free(struct cmp *c);

#endif
