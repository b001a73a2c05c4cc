/*
 * render.h - the report page from a finished aggregate (agg.h) and, with
 * --compare, the comparison (compare.h). Section order: summary cards,
 * ports (mailtls-stats' table), per port and protocol shares, TLS,
 * certificates, countries and networks, findings with host lists, policy,
 * what got worse, probe outcomes. Chart ids: see render.c (README lists
 * them).
 */
#ifndef MAILTLS_REPORT_RENDER_H
#define MAILTLS_REPORT_RENDER_H

#include <stdio.h>

#include "agg.h"
#include "compare.h"

struct page_info {
    const char *title;
    const char *scan_path;
    const char *old_path; /* NULL without --compare */
    size_t top;           /* rows per facet table and chart */
    long long bad_lines;
};

void render_page(FILE *f, struct agg *a, const struct cmp *c, const struct page_info *info);

#endif
