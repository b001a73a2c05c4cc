/*
 * reader.c - the project's output read back as records (see reader.h).
 *
 * Three layers: lines (gzread into a fixed buffer, line by line, torn ends
 * handled), JSON or CSV line -> struct record (json.c tokens, escape.c for
 * CSV cells), and reader_next gluing them with the format detection.
 */
#include "reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "escape.h"
#include "json.h"
#include "recjson.h"

#define READER_BUF_BYTES (READER_LINE_MAX + 64 * 1024)

struct lines {
    gzFile g;
    const char *path;
    char *buf;
    size_t start, end; /* unread bytes are buf[start..end) */
    long lineno;
    bool eof;
    bool torn_ok; /* a damaged end is the end (reader_opts.torn_tail_ok) */
    bool torn;    /* ... and one was cut */
    bool had_cr;  /* the line last returned ended in "\r\n" (CSV rows do) */
};

static struct lines *lines_open(const char *path, char *err, size_t errlen)
{
    struct lines *l = calloc(1, sizeof *l);
    if (l)
        l->buf = malloc(READER_BUF_BYTES);
    if (!l || !l->buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (l)
            free(l);
        return NULL;
    }
    l->path = path;
    l->g = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    if (!l->g) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        free(l->buf);
        free(l);
        return NULL;
    }
    gzbuffer(l->g, 256 * 1024);
    return l;
}

/* zlib's gzerror() prefixes the path itself; the caller adds it with the
 * line number, so drop zlib's copy. */
static const char *gz_message(struct lines *l)
{
    int zerr;
    const char *msg = gzerror(l->g, &zerr);
    size_t n = strlen(l->path);
    if (strncmp(msg, l->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        msg += n + 2;
    return zerr == Z_ERRNO ? strerror(errno) : msg;
}

/* Moves unread bytes to the front and reads more. Returns -1 on error. */
static int fill(struct lines *l, char *err, size_t errlen)
{
    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
    }
    if (l->end == READER_BUF_BYTES || l->eof)
        return 0;
    int n = gzread(l->g, l->buf + l->end, (unsigned)(READER_BUF_BYTES - l->end));
    if (n < 0 && l->torn_ok) {
        l->eof = l->torn = true;
        return 0;
    }
    if (n < 0) {
        snprintf(err, errlen, "%s:%ld: %s", l->path, l->lineno + 1, gz_message(l));
        return -1;
    }
    if (n == 0) {
        /* gzread returns 0 both at a clean end and at a truncated member;
         * only gzerror tells them apart. */
        int zerr;
        gzerror(l->g, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END && l->torn_ok) {
            l->torn = true;
        } else if (zerr != Z_OK && zerr != Z_STREAM_END) {
            snprintf(err, errlen, "%s:%ld: %s", l->path, l->lineno + 1, gz_message(l));
            return -1;
        }
        l->eof = true;
    }
    l->end += (size_t)n;
    return 0;
}

static int lines_next(struct lines *l, char **line, size_t *len, char *err, size_t errlen)
{
    size_t scanned = 0;
    for (;;) {
        char *p = l->buf + l->start;
        size_t avail = l->end - l->start;
        char *nl = avail > scanned ? memchr(p + scanned, '\n', avail - scanned) : NULL;
        if (!nl && l->eof && avail > 0 && l->torn_ok) {
            /* an unterminated last line: the torn end of a killed scan */
            l->torn = true;
            l->start = l->end;
            return 0;
        }
        if (nl || (l->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            if (n > READER_LINE_MAX) {
                snprintf(err, errlen, "%s:%ld: line longer than %d bytes", l->path, l->lineno + 1,
                         READER_LINE_MAX);
                return -1;
            }
            l->start += n + (nl ? 1 : 0);
            l->lineno++;
            l->had_cr = n > 0 && p[n - 1] == '\r';
            if (l->had_cr)
                n--;
            *line = p;
            *len = n;
            return 1;
        }
        if (l->eof)
            return 0;
        scanned = avail;
        if (avail > READER_LINE_MAX) {
            snprintf(err, errlen, "%s:%ld: line longer than %d bytes", l->path, l->lineno + 1,
                     READER_LINE_MAX);
            return -1;
        }
        if (fill(l, err, errlen) < 0)
            return -1;
    }
}

static int lines_first_byte(struct lines *l)
{
    char err[16];
    for (;;) {
        for (size_t i = l->start; i < l->end; i++) {
            char c = l->buf[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
                return (unsigned char)c;
        }
        if (l->eof || l->end == READER_BUF_BYTES)
            return -1;
        if (fill(l, err, sizeof err) < 0)
            return -1;
    }
}

static void lines_close(struct lines *l)
{
    gzclose(l->g);
    free(l->buf);
    free(l);
}

/* A record line holds ~40 fields and at most a few hundred list items;
 * this leaves room for forward-compatible extra fields. */
#define READER_MAX_TOKENS 8192
#define READER_MAX_COLUMNS 256

struct reader {
    struct lines *lines; /* NULL for reader_new_lines */
    const char *line;    /* the line last returned */
    size_t line_len;
    bool started, is_csv, need_header;
    char *header; /* CSV header line, copied */
    size_t header_len;
    int col_field[READER_MAX_COLUMNS]; /* CSV column -> field, -1 = ignored */
    int ncols;
    struct json_tok toks[READER_MAX_TOKENS];
    unsigned char tmp[READER_LINE_MAX]; /* decoded value */
    char cell[READER_LINE_MAX];         /* CSV cell with quotes undone */
};

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

/* Standard base64 (RFC 4648, padding required as the writer emits it)
 * into dst; returns the length or -1. cap >= len * 3 / 4 suffices. */
static long b64_decode(const char *s, size_t len, unsigned char *dst, size_t cap)
{
    static signed char val[256];
    static bool ready;
    if (!ready) {
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        memset(val, -1, sizeof val);
        for (int i = 0; i < 64; i++)
            val[(unsigned char)alpha[i]] = (signed char)i;
        ready = true;
    }
    if (len % 4)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=' && s[i + 3] == '=');
        if (pad && i + 4 != len)
            return -1;
        uint32_t w = 0;
        for (int k = 0; k < 4 - pad; k++) {
            int c = val[(unsigned char)s[i + k]];
            if (c < 0)
                return -1;
            w |= (uint32_t)c << (18 - 6 * k);
        }
        if (n + 3 - (size_t)pad > cap)
            return -1;
        dst[n++] = (unsigned char)(w >> 16);
        if (pad < 2)
            dst[n++] = (unsigned char)(w >> 8);
        if (pad < 1)
            dst[n++] = (unsigned char)w;
    }
    return (long)n;
}

/* The bytes of one string token: its base64 twin `b` when given (not -1,
 * not null), else the decoded text. */
static long string_bytes(struct reader *in, const struct json_doc *d, int tok, int b)
{
    if (b >= 0 && d->toks[b].type == JSON_STRING) {
        const struct json_tok *t = &d->toks[b];
        return b64_decode(d->src + t->start, t->len, in->tmp, sizeof in->tmp);
    }
    if (d->toks[tok].type != JSON_STRING)
        return -1;
    return json_string(d, tok, in->tmp, sizeof in->tmp);
}

/* Field f from value token v; b is the `<name>_b64` token or -1. */
static int json_field(struct reader *in, struct json_doc *d, struct record *r, enum rec_field f, int v, int b,
                      char *err, size_t errlen)
{
    const struct json_tok *t = &d->toks[v];
    const char *name = rec_fields[f].name;
    if (t->type == JSON_NULL)
        return 0;
    switch (rec_fields[f].type) {
    case RT_TEXT: {
        long n = string_bytes(in, d, v, b);
        if (n < 0) {
            snprintf(err, errlen, "field %s: expected a string%s", name,
                     b >= 0 ? " (or bad base64 twin)" : "");
            return -1;
        }
        rec_set_text(r, f, in->tmp, (size_t)n);
        return 0;
    }
    case RT_LIST: {
        if (t->type != JSON_ARRAY ||
            (b >= 0 && d->toks[b].type != JSON_ARRAY && d->toks[b].type != JSON_NULL)) {
            snprintf(err, errlen, "field %s: expected an array", name);
            return -1;
        }
        bool twin = b >= 0 && d->toks[b].type == JSON_ARRAY;
        if (twin && d->toks[b].count != t->count) {
            snprintf(err, errlen, "field %s_b64: %u items for %u", name, d->toks[b].count, t->count);
            return -1;
        }
        rec_list_init(r, f);
        uint32_t i = (uint32_t)v + 1, j = twin ? (uint32_t)b + 1 : 0;
        for (uint32_t k = 0; k < t->count; k++) {
            long n = string_bytes(in, d, (int)i, twin ? (int)j : -1);
            if (n < 0) {
                snprintf(err, errlen, "field %s: expected strings in the array", name);
                return -1;
            }
            rec_list_add(r, f, in->tmp, (size_t)n);
            i = d->toks[i].next;
            if (twin)
                j = d->toks[j].next;
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
    case RT_JSON: {
        long n = recjson_from_doc(d, v, in->tmp, sizeof in->tmp);
        if (n < 0) {
            snprintf(err, errlen, "field %s: expected an object of name arrays", name);
            return -1;
        }
        rec_set_text(r, f, in->tmp, (size_t)n);
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

int reader_json_line(struct reader *in, struct record *r, const char *line, size_t len, char *err,
                     size_t errlen)
{
    struct json_doc d = {.toks = in->toks, .cap = READER_MAX_TOKENS};
    int val[F_COUNT], twin[F_COUNT];
    if (json_parse(&d, line, len, err, errlen) < 0)
        return -1;
    if (d.toks[0].type != JSON_OBJECT) {
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    /* First find every field and its `_b64` twin, wherever each stands. */
    for (int f = 0; f < F_COUNT; f++)
        val[f] = twin[f] = -1;
    uint32_t i = 1;
    for (uint32_t m = 0; m < d.toks[0].count; m++) {
        uint32_t v = d.toks[i].next;
        const struct json_tok *k = &d.toks[i];
        int f = field_by_name(line + k->start, k->len, (int)m);
        if (f >= 0) {
            val[f] = (int)v;
        } else if (k->len > 4 && memcmp(line + k->start + k->len - 4, "_b64", 4) == 0) {
            f = field_by_name(line + k->start, k->len - 4, -1);
            if (f >= 0 && (rec_fields[f].type == RT_TEXT || rec_fields[f].type == RT_LIST))
                twin[f] = (int)v;
        }
        i = d.toks[v].next;
    }
    rec_reset(r);
    for (int f = 0; f < F_COUNT; f++)
        if (val[f] >= 0 && json_field(in, &d, r, (enum rec_field)f, val[f], twin[f], err, errlen) < 0)
            return -1;
    return 0;
}

/* Splits the next CSV cell from *p. Quoted cells come back with quotes
 * undone in in->cell; *quoted tells null ("") from empty ("\"\""). */
static int next_cell(struct reader *in, const char **p, const char *end, bool *more, const char **cell,
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

int reader_csv_header(struct reader *in, const char *line, size_t len, char *err, size_t errlen)
{
    const char *p = line, *end = line + len;
    in->ncols = 0;
    for (bool more = true; more;) {
        if (in->ncols >= READER_MAX_COLUMNS) {
            snprintf(err, errlen, "more than %d columns", READER_MAX_COLUMNS);
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

static int csv_field(struct reader *in, struct record *r, enum rec_field f, const char *s, size_t n,
                     bool quoted, char *err, size_t errlen)
{
    const char *name = rec_fields[f].name;
    if (!quoted && n == 0)
        return 0; /* null */
    switch (rec_fields[f].type) {
    case RT_TEXT:
    case RT_JSON: {
        long m = quoted ? out_csv_unescape(in->tmp, s, n) : (memcpy(in->tmp, s, n), (long)n);
        if (m < 0) {
            snprintf(err, errlen, "field %s: bad escape", name);
            return -1;
        }
        if (rec_fields[f].type == RT_JSON && !recjson_ok(in->tmp, (size_t)m)) {
            snprintf(err, errlen, "field %s: expected an object of name arrays", name);
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

int reader_csv_line(struct reader *in, struct record *r, const char *line, size_t len, char *err,
                    size_t errlen)
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

int reader_field(const char *name, size_t len)
{
    return field_by_name(name, len, -1);
}

struct reader *reader_new_lines(void)
{
    return calloc(1, sizeof(struct reader));
}

struct reader *reader_open(const char *path, const struct reader_opts *o, char *err, size_t errlen)
{
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    rd->lines = lines_open(path, err, errlen);
    if (!rd->lines) {
        free(rd);
        return NULL;
    }
    rd->lines->torn_ok = o && o->torn_tail_ok;
    return rd;
}

void reader_close(struct reader *rd)
{
    if (!rd)
        return;
    if (rd->lines)
        lines_close(rd->lines);
    free(rd->header);
    free(rd);
}

/* The format from the first non-blank byte; the CSV header comes next. */
static void detect(struct reader *rd)
{
    rd->started = true;
    rd->is_csv = lines_first_byte(rd->lines) != '{';
    rd->need_header = rd->is_csv;
}

enum reader_result reader_next(struct reader *rd, struct record *r, char *err, size_t errlen)
{
    char *line, why[256];
    size_t len;
    int got;
    if (!rd->lines) {
        snprintf(err, errlen, "reader without a file");
        return READER_ERROR;
    }
    if (!rd->started)
        detect(rd);
    while ((got = lines_next(rd->lines, &line, &len, err, errlen)) > 0) {
        if (len == 0)
            continue;
        rd->line = line;
        rd->line_len = len + rd->lines->had_cr; /* the raw bytes keep their CR */
        if (rd->need_header) {
            if (reader_csv_header(rd, line, len, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s:%ld: %s", rd->lines->path, rd->lines->lineno, why);
                return READER_ERROR;
            }
            rd->header = malloc(rd->line_len + 1);
            if (!rd->header) {
                snprintf(err, errlen, "%s: out of memory", rd->lines->path);
                return READER_ERROR;
            }
            memcpy(rd->header, line, rd->line_len);
            rd->header[rd->line_len] = '\0';
            rd->header_len = rd->line_len;
            rd->need_header = false;
            continue;
        }
        int ok = rd->is_csv ? reader_csv_line(rd, r, line, len, why, sizeof why)
                            : reader_json_line(rd, r, line, len, why, sizeof why);
        if (ok < 0) {
            snprintf(err, errlen, "%s:%ld: %s", rd->lines->path, rd->lines->lineno, why);
            return READER_BAD_LINE;
        }
        return READER_RECORD;
    }
    return got < 0 ? READER_ERROR : READER_END;
}

const char *reader_line(const struct reader *rd, size_t *len)
{
    *len = rd->line_len;
    return rd->line;
}

const char *reader_header(const struct reader *rd, size_t *len)
{
    *len = rd->header_len;
    return rd->header;
}

long reader_line_number(const struct reader *rd)
{
    return rd->lines ? rd->lines->lineno : 0;
}

bool reader_is_csv(const struct reader *rd)
{
    return rd->is_csv;
}

bool reader_is_gzip(const struct reader *rd)
{
    return rd->lines && gzdirect(rd->lines->g) == 0;
}

bool reader_torn(const struct reader *rd)
{
    return rd->lines && rd->lines->torn;
}
