/*
 * html.h - the pieces of a self-contained HTML page: escaped text, the
 * inline style sheet and the inline sort script, sortable tables.
 *
 * Nothing written here names a URL: no link, no script or font source, no
 * XML namespace (inline SVG in HTML needs none), so the page opens the
 * same from a file, a mail attachment or an air-gapped machine.
 */
#ifndef MAILTLS_REPORT_HTML_H
#define MAILTLS_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

/* Text content or attribute value: & < > " ' escaped, valid UTF-8 kept,
 * control bytes and invalid UTF-8 replaced by U+FFFD. */
void html_text(FILE *f, const char *s);
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);
/* A sortable table: columns as "name" (text) or "#name" (numeric). */
void html_table_begin(FILE *f, const char *id, int ncols, const char *const *cols);
void html_table_end(FILE *f);
void html_row_begin(FILE *f);
void html_row_end(FILE *f);
void html_cell_text(FILE *f, const char *s);
/* A number cell: data-v holds the exact value, the text adds pct of total
 * when total > 0. */
void html_cell_num(FILE *f, const char *col, uint64_t v, uint64_t total);

#endif
