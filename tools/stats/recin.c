/* recin.c - NDJSON and CSV lines to records; see recin.h. */
#include "recin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/escape.h"
#include "json.h"
#include "lines.h"

/* A record line holds ~40 fields and at most a few hundred list items;
 * this leaves room for forward-compatible extra fields. */
#define RECIN_MAX_TOKENS 8192
#define RECIN_MAX_COLUMNS 256

struct recin {
    int col_field[RECIN_MAX_COLUMNS]; /* CSV column -> field, -1 = ignored */
    int ncols;
    struct json_tok toks[RECIN_MAX_TOKENS];
    unsigned char tmp[LINES_MAX_BYTES];   /* decoded value */
    char cell[LINES_MAX_BYTES];           /* CSV cell with quotes undone */
};

struct recin *recin_new(void)
{
    return calloc(1, sizeof(struct recin));
}

void recin_free(struct recin *in)
{
    free(in);
}

/* Field index for a name; tries `hint` first because files list fields in
 * table order. */
static int field_by_name(const char *name, size_t len, int hint)
{
    static size_t name_len[F_COUNT];
    if (name_len[0] == 0)
        for (int f = 0; f < F_COUNT; f++)
            name_len[f] = strlen(rec_fields[f].name);
    if (hint >= 0 && hint < F_COUNT && name_len[hint] == len && memcmp(rec_fields[hint].name, name, len) == 0)
        return hint;
    for (int f = 0; f < F_COUNT; f++)
        if (name_len[f] == len && memcmp(rec_fields[f].name, name, len) == 0)
            return f;
    return -1;
}

static int json_field(struct recin *in, struct json_doc *d, struct record *r, enum rec_field f, int v,
                      char *err, size_t errlen)
{
    const struct json_tok *t = &d->toks[v];
    const char *name = rec_fields[f].name;
    if (t->type == JSON_NULL)
        return 0;
    switch (rec_fields[f].type) {
    case RT_TEXT: {
        long n = json_string(d, v, in->tmp, sizeof in->tmp);
        if (n < 0) {
            snprintf(err, errlen, "field %s: expected a string", name);
            return -1;
        }
        rec_set_text(r, f, in->tmp, (size_t)n);
        return 0;
    }
    case RT_LIST: {
        if (t->type != JSON_ARRAY) {
            snprintf(err, errlen, "field %s: expected an array", name);
            return -1;
        }
        rec_list_init(r, f);
        uint32_t i = (uint32_t)v + 1;
        for (uint32_t k = 0; k < t->count; k++, i = d->toks[i].next) {
            long n = json_string(d, (int)i, in->tmp, sizeof in->tmp);
            if (n < 0) {
                snprintf(err, errlen, "field %s: expected strings in the array", name);
                return -1;
            }
            rec_list_add(r, f, in->tmp, (size_t)n);
        }
        return 0;
    }
    case RT_INT: {
        int64_t x;
        if (json_int(d, v, &x) < 0) {
            snprintf(err, errlen, "field %s: expected an integer", name);
            return -1;
        }
        rec_set_int(r, f, x);
        return 0;
    }
    case RT_BOOL:
        if (t->type != JSON_TRUE && t->type != JSON_FALSE) {
            snprintf(err, errlen, "field %s: expected true or false", name);
            return -1;
        }
        rec_set_bool(r, f, t->type == JSON_TRUE);
        return 0;
    }
    return 0;
}

int recin_json(struct recin *in, struct record *r, const char *line, size_t len, char *err, size_t errlen)
{
    struct json_doc d = {.toks = in->toks, .cap = RECIN_MAX_TOKENS};
    if (json_parse(&d, line, len, err, errlen) < 0)
        return -1;
    if (d.toks[0].type != JSON_OBJECT) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    rec_reset(r);
    uint32_t i = 1;
    for (uint32_t m = 0; m < d.toks[0].count; m++) {
        uint32_t v = d.toks[i].next;
        const struct json_tok *k = &d.toks[i];
        int f = field_by_name(line + k->start, k->len, (int)m);
        if (f >= 0 && json_field(in, &d, r, (enum rec_field)f, (int)v, err, errlen) < 0)
            return -1;
        i = d.toks[v].next;
    }
    return 0;
}

/* Splits the next CSV cell from *p. Quoted cells come back with quotes
 * undone in in->cell; *quoted tells null ("") from empty ("\"\""). */
static int next_cell(struct recin *in, const char **p, const char *end, bool *more, const char **cell,
                     size_t *len, bool *quoted, char *err, size_t errlen, int col)
{
    const char *s = *p;
    if (s < end && *s == '"') {
        size_t n = 0;
        s++;
        for (;;) {
            const char *q = memchr(s, '"', (size_t)(end - s));
            if (!q) {
                snprintf(err, errlen, "column %d: unterminated quoted field", col + 1);
                return -1;
            }
            memcpy(in->cell + n, s, (size_t)(q - s));
            n += (size_t)(q - s);
            if (q + 1 < end && q[1] == '"') {
                in->cell[n++] = '"';
                s = q + 2;
                continue;
            }
            s = q + 1;
            break;
        }
        if (s < end && *s != ',') {
            snprintf(err, errlen, "column %d: text after closing quote", col + 1);
            return -1;
        }
        *cell = in->cell;
        *len = n;
        *quoted = true;
    } else {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *stop = c ? c : end;
        if (memchr(s, '"', (size_t)(stop - s))) {
            snprintf(err, errlen, "column %d: quote inside unquoted field", col + 1);
            return -1;
        }
        *cell = s;
        *len = (size_t)(stop - s);
        *quoted = false;
        s = stop;
    }
    *more = s < end; /* stopped at a ',' */
    *p = *more ? s + 1 : s;
    return 0;
}

int recin_csv_header(struct recin *in, const char *line, size_t len, char *err, size_t errlen)
{
    const char *p = line, *end = line + len;
    in->ncols = 0;
    for (bool more = true; more;) {
        if (in->ncols >= RECIN_MAX_COLUMNS) {
            snprintf(err, errlen, "more than %d columns", RECIN_MAX_COLUMNS);
            return -1;
        }
        const char *cell;
        size_t n;
        bool quoted;
        if (next_cell(in, &p, end, &more, &cell, &n, &quoted, err, errlen, in->ncols) < 0)
            return -1;
        in->col_field[in->ncols] = field_by_name(cell, n, in->ncols);
        in->ncols++;
    }
    int known = 0;
    for (int c = 0; c < in->ncols; c++)
        known += in->col_field[c] >= 0;
    if (known == 0) {
        snprintf(err, errlen, "CSV header names no mailtls field");
        return -1;
    }
    return 0;
}

static int csv_int(const char *s, size_t n, int64_t *v)
{
    char buf[24];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *endp;
    long long x = strtoll(buf, &endp, 10);
    if (errno || *endp)
        return -1;
    *v = x;
    return 0;
}

static int csv_field(struct recin *in, struct record *r, enum rec_field f, const char *s, size_t n,
                     bool quoted, char *err, size_t errlen)
{
    const char *name = rec_fields[f].name;
    if (!quoted && n == 0)
        return 0; /* null */
    switch (rec_fields[f].type) {
    case RT_TEXT: {
        long m = quoted ? out_csv_unescape(in->tmp, s, n) : (memcpy(in->tmp, s, n), (long)n);
        if (m < 0) {
            snprintf(err, errlen, "field %s: bad escape", name);
            return -1;
        }
        rec_set_text(r, f, in->tmp, (size_t)m);
        return 0;
    }
    case RT_LIST: {
        rec_list_init(r, f);
        if (n == 0)
            return 0;
        const char *end = s + n;
        for (;;) {
            const char *bar = memchr(s, '|', (size_t)(end - s));
            const char *stop = bar ? bar : end;
            long m = out_csv_unescape(in->tmp, s, (size_t)(stop - s));
            if (m < 0) {
                snprintf(err, errlen, "field %s: bad escape", name);
                return -1;
            }
            rec_list_add(r, f, in->tmp, (size_t)m);
            if (!bar)
                return 0;
            s = bar + 1;
        }
    }
    case RT_INT: {
        int64_t x;
        if (csv_int(s, n, &x) < 0) {
            snprintf(err, errlen, "field %s: expected an integer", name);
            return -1;
        }
        rec_set_int(r, f, x);
        return 0;
    }
    case RT_BOOL:
        if (n == 4 && memcmp(s, "true", 4) == 0) {
            rec_set_bool(r, f, true);
        } else if (n == 5 && memcmp(s, "false", 5) == 0) {
            rec_set_bool(r, f, false);
        } else {
            snprintf(err, errlen, "field %s: expected true or false", name);
            return -1;
        }
        return 0;
    }
    return 0;
}

int recin_csv(struct recin *in, struct record *r, const char *line, size_t len, char *err, size_t errlen)
{
    const char *p = line, *end = line + len;
    rec_reset(r);
    int col = 0;
    for (bool more = true; more;) {
        if (col >= in->ncols) {
            snprintf(err, errlen, "more columns than the header (%d)", in->ncols);
            return -1;
        }
        const char *cell;
        size_t n;
        bool quoted;
        if (next_cell(in, &p, end, &more, &cell, &n, &quoted, err, errlen, col) < 0)
            return -1;
        int f = in->col_field[col];
        if (f >= 0 && csv_field(in, r, (enum rec_field)f, cell, n, quoted, err, errlen) < 0)
            return -1;
        col++;
    }
    if (col != in->ncols) {
        snprintf(err, errlen, "%d columns, header has %d", col, in->ncols);
        return -1;
    }
    return 0;
}
