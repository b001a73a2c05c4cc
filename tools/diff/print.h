/*
 * print.h - mailtls-diff's three output formats, one call per key.
 *
 *   table: aligned columns SEVERITY KEY FIELD OLD -> NEW WHY, one line per
 *          change; a summary line at the end (print_summary)
 *   json:  one object per key (NDJSON): severity, key, ip, port, domain,
 *          host, protocol, changes [{field, severity, why, old, new}]
 *   csv:   header, then one row per change:
 *          severity,key,ip,port,domain,field,change,why,old,new
 * Values come from snaps, so they are printable ASCII already; JSON and
 * CSV escaping still apply (quotes, backslashes).
 */
#ifndef MAILTLS_DIFF_PRINT_H
#define MAILTLS_DIFF_PRINT_H

#include <stdio.h>

#include "engine.h"

enum print_format { PRINT_TABLE, PRINT_JSON, PRINT_CSV };

/* A new or gone key as a one-change result (field status), so every
 * format lists it like the others. */
void print_one_sided(const struct diff_result *in, struct diff_result *out);
void print_header(FILE *f, enum print_format fmt);
void print_result(FILE *f, enum print_format fmt, const struct diff_result *res);
void print_summary(FILE *f, const struct diff_counts *c);

#endif
