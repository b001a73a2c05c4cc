/* report.c - table, CSV and JSON printers; see report.h. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "../../output/escape.h"

struct report {
    FILE *f;
    enum report_format fmt;
    bool any_section;
    char *title;
    int ncols;
    char *cols[REPORT_MAX_COLS];
    bool numeric[REPORT_MAX_COLS];
    int nrows;
    char **cells; /* nrows * ncols, escaped for the format */
};

struct report *report_new(FILE *f, enum report_format fmt)
{
    struct report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->f = f;
    r->fmt = fmt;
    r->cells = calloc((size_t)REPORT_MAX_ROWS * REPORT_MAX_COLS, sizeof *r->cells);
    if (!r->cells) {
        free(r);
        return NULL;
    }
    return r;
}

/* Escapes s for the current format; NULL stays NULL. */
static char *escape(const struct report *r, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    size_t cap = OUT_JSON_ESCAPE_MAX(n) + 1;
    char *d = malloc(cap);
    if (!d)
        return NULL;
    size_t m = r->fmt == REPORT_CSV ? out_csv_escape(d, cap, (const unsigned char *)s, n, false)
                                    : out_json_escape(d, cap, (const unsigned char *)s, n);
    d[m] = '\0';
    if (r->fmt == REPORT_TABLE) {
        /* On a terminal only control and invalid bytes need escaping;
         * quotes and backslashes read better unescaped. */
        size_t o = 0;
        for (size_t i = 0; i < m; i++) {
            if (d[i] == '\\' && i + 1 < m && (d[i + 1] == '"' || d[i + 1] == '\\'))
                i++;
            d[o++] = d[i];
        }
        d[o] = '\0';
    }
    return d;
}

void report_begin(struct report *r, const char *title, int ncols, const char *const *cols,
                  const bool *numeric)
{
    r->title = strdup(title);
    r->ncols = ncols < REPORT_MAX_COLS ? ncols : REPORT_MAX_COLS;
    for (int c = 0; c < r->ncols; c++) {
        r->cols[c] = strdup(cols[c]);
        r->numeric[c] = numeric && numeric[c];
    }
    r->nrows = 0;
}

void report_row(struct report *r, const char *const *cells)
{
    if (r->nrows >= REPORT_MAX_ROWS)
        return;
    for (int c = 0; c < r->ncols; c++)
        r->cells[r->nrows * REPORT_MAX_COLS + c] = escape(r, cells[c]);
    r->nrows++;
}

/* Display width: escaped text is ASCII except valid UTF-8, whose
 * continuation bytes take no column. */
static int width(const char *s)
{
    int w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void print_table(struct report *r)
{
    int w[REPORT_MAX_COLS];
    for (int c = 0; c < r->ncols; c++) {
        w[c] = width(r->cols[c]);
        for (int i = 0; i < r->nrows; i++) {
            int x = width(r->cells[i * REPORT_MAX_COLS + c]);
            if (x > w[c])
                w[c] = x;
        }
    }
    fprintf(r->f, "%s== %s ==\n", r->any_section ? "\n" : "", r->title);
    for (int i = -1; i < r->nrows; i++) {
        for (int c = 0; c < r->ncols; c++) {
            const char *s = i < 0 ? r->cols[c] : r->cells[i * REPORT_MAX_COLS + c];
            if (!s)
                s = "-";
            int pad = w[c] - width(s);
            bool last = c == r->ncols - 1;
            if (r->numeric[c] && i >= 0)
                fprintf(r->f, "%*s%s%s", pad, "", s, last ? "" : "  ");
            else
                fprintf(r->f, "%s%*s", s, last ? 0 : pad + 2, "");
        }
        fputc('\n', r->f);
    }
}

static void print_csv(struct report *r)
{
    if (r->any_section)
        fputc('\n', r->f);
    fputs("section", r->f);
    for (int c = 0; c < r->ncols; c++)
        fprintf(r->f, ",%s", r->cols[c]);
    fputs("\r\n", r->f);
    char *t = escape(r, r->title);
    for (int i = 0; i < r->nrows; i++) {
        fprintf(r->f, "\"%s\"", t ? t : "");
        for (int c = 0; c < r->ncols; c++) {
            const char *s = r->cells[i * REPORT_MAX_COLS + c];
            if (!s)
                fputc(',', r->f);
            else if (r->numeric[c])
                fprintf(r->f, ",%s", s);
            else
                fprintf(r->f, ",\"%s\"", s);
        }
        fputs("\r\n", r->f);
    }
    free(t);
}

static bool looks_numeric(const char *s)
{
    if (!*s)
        return false;
    char *end;
    strtod(s, &end);
    return *end == '\0' && strspn(s, "-0123456789.") == strlen(s);
}

static void print_json(struct report *r)
{
    char *t = escape(r, r->title);
    fprintf(r->f, "%s\n\"%s\":[", r->any_section ? "," : "{", t ? t : "");
    free(t);
    for (int i = 0; i < r->nrows; i++) {
        fputs(i ? ",\n {" : "\n {", r->f);
        for (int c = 0; c < r->ncols; c++) {
            const char *s = r->cells[i * REPORT_MAX_COLS + c];
            fprintf(r->f, "%s\"%s\":", c ? "," : "", r->cols[c]);
            if (!s)
                fputs("null", r->f);
            else if (r->numeric[c] && looks_numeric(s))
                fputs(s, r->f);
            else
                fprintf(r->f, "\"%s\"", s);
        }
        fputc('}', r->f);
    }
    fputs("]", r->f);
}

void report_end(struct report *r)
{
    switch (r->fmt) {
    case REPORT_TABLE: print_table(r); break;
    case REPORT_CSV: print_csv(r); break;
    case REPORT_JSON: print_json(r); break;
    }
    r->any_section = true;
    for (int i = 0; i < r->nrows; i++)
        for (int c = 0; c < r->ncols; c++) {
            free(r->cells[i * REPORT_MAX_COLS + c]);
            r->cells[i * REPORT_MAX_COLS + c] = NULL;
        }
    for (int c = 0; c < r->ncols; c++)
        free(r->cols[c]);
    free(r->title);
    r->title = NULL;
    r->nrows = 0;
}

int report_finish(struct report *r)
{
    if (r->fmt == REPORT_JSON)
        fputs(r->any_section ? "\n}\n" : "{}\n", r->f);
    int rc = fflush(r->f) == 0 && !ferror(r->f) ? 0 : -1;
    free(r->cells);
    free(r);
    return rc;
}
