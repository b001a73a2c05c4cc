/*
 * report.h - prints result tables as an aligned text table, CSV or JSON.
 *
 * A section is a titled table: report_begin() names its columns (a column
 * whose name is in `numeric` prints as a JSON number), report_row() adds
 * rows of strings (NULL = empty/null), report_end() prints it. Rows are
 * kept until report_end(), at most REPORT_MAX_ROWS per section. Cell text
 * is escaped for the format (JSON rules of escape.h; CSV quoting of
 * escape.h; control and invalid bytes escaped in the text table), so a
 * hostile value cannot break the layout or the terminal.
 *
 *   table: "== title ==" then the header and rows, columns aligned
 *   csv:   per section a header "section,<columns...>" then rows whose
 *          first cell is the section title; a blank line between sections
 *   json:  one object {"<title>": [{"<column>": value, ...}, ...], ...}
 */
#ifndef MAILTLS_STATS_REPORT_H
#define MAILTLS_STATS_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#define REPORT_MAX_COLS 16
#define REPORT_MAX_ROWS 10000

enum report_format { REPORT_TABLE, REPORT_CSV, REPORT_JSON };

struct report;

struct report *report_new(FILE *f, enum report_format fmt);
void report_begin(struct report *r, const char *title, int ncols, const char *const *cols,
                  const bool *numeric);
void report_row(struct report *r, const char *const *cells);
void report_end(struct report *r);
/* Closes the JSON object; returns -1 when writing to f failed. */
int report_finish(struct report *r);

#endif
