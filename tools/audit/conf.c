/*
 * conf.c - the settings store, the bounded line splitter and the file
 * reader every configuration parser of mailtls-audit uses.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"

void aud_store_init(struct aud_store *s)
{
    memset(s, 0, sizeof *s);
}

void aud_store_free(struct aud_store *s)
{
    free(s->rows);
    memset(s, 0, sizeof *s);
}

void aud_store_warn(struct aud_store *s, const char *fmt, ...)
{
    if (s->warnings++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->first_warning, sizeof s->first_warning, fmt, ap);
        va_end(ap);
    }
}

/* Copies at most cap-1 bytes of src (length len) and terminates. */
static void copy_cut(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int aud_store_add(struct aud_store *s, const char *scope, const char *name, const char *value, size_t vlen,
                  const char *file, int line)
{
    if (s->n >= AUD_ROWS_MAX) {
        aud_store_warn(s, "%s: more than %d settings; the rest is ignored", file, AUD_ROWS_MAX);
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct aud_row *r = realloc(s->rows, cap * sizeof *r);
        if (!r) {
            aud_store_warn(s, "out of memory");
            return -1;
        }
        s->rows = r;
        s->cap = cap;
    }
    struct aud_row *r = &s->rows[s->n++];
    copy_cut(r->scope, sizeof r->scope, scope, strlen(scope));
    copy_cut(r->name, sizeof r->name, name, strlen(name));
    copy_cut(r->value, sizeof r->value, value, vlen);
    copy_cut(r->file, sizeof r->file, file, strlen(file));
    r->line = line;
    return 0;
}

const struct aud_row *aud_store_last(const struct aud_store *s, const char *scope, const char *name)
{
    for (size_t i = s->n; i-- > 0;)
        if (strcmp(s->rows[i].name, name) == 0 && strcmp(s->rows[i].scope, scope) == 0)
            return &s->rows[i];
    return NULL;
}

int aud_lines(const char *buf, size_t len, struct aud_store *s, const char *file,
              int (*fn)(void *ctx, const char *line, size_t len, int lineno), void *ctx)
{
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        lineno++;
        if (n > 0 && buf[pos + n - 1] == '\r')
            n--;
        if (n > AUD_LINE_MAX) {
            aud_store_warn(s, "%s:%d: line longer than %d bytes ignored", file, lineno, AUD_LINE_MAX);
        } else if (memchr(buf + pos, '\0', n)) {
            /* no text file holds one; a NUL would cut names and values short */
            aud_store_warn(s, "%s:%d: line with a NUL byte ignored", file, lineno);
        } else {
            int rc = fn(ctx, buf + pos, n, lineno);
            if (rc)
                return rc;
        }
        pos = end + 1;
    }
    return 0;
}

char *aud_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        fclose(f);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= AUD_FILE_MAX) {
                snprintf(err, errlen, "%s: larger than %d bytes", path, AUD_FILE_MAX);
                free(buf);
                buf = NULL;
                break;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    if (!buf && !err[0])
        snprintf(err, errlen, "%s: out of memory", path);
    if (buf && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

void aud_trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

bool aud_has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p; p++) {
        if (strncasecmp(p, word, wl) != 0)
            continue;
        bool start_ok = p == list || !isalnum((unsigned char)p[-1]);
        bool end_ok = !isalnum((unsigned char)p[wl]) && p[wl] != '.';
        if (start_ok && end_ok)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- findings */

const char *aud_severity_name(enum aud_severity s)
{
    switch (s) {
    case SEV_INFO: return "info";
    case SEV_LOW: return "low";
    case SEV_MEDIUM: return "medium";
    case SEV_HIGH: return "high";
    }
    return "?";
}

int aud_find_add(struct aud_findings *f, const char *product, const char *service, const char *setting,
                 const char *value, const struct aud_row *row, const char *deffile, enum aud_severity sev,
                 const char *reason, const char *recommendation, const char *doc)
{
    const char *file = row ? row->file : deffile;
    int line = row ? row->line : 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct aud_finding *o = &f->v[i];
        if (strcmp(o->product, product) == 0 && strcmp(o->service, service) == 0 &&
            strcmp(o->setting, setting) == 0 && strcmp(o->file, file) == 0 && o->line == line)
            return 0;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        struct aud_finding *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    struct aud_finding *x = &f->v[f->n++];
    memset(x, 0, sizeof *x);
    copy_cut(x->product, sizeof x->product, product, strlen(product));
    copy_cut(x->service, sizeof x->service, service, strlen(service));
    copy_cut(x->setting, sizeof x->setting, setting, strlen(setting));
    copy_cut(x->value, sizeof x->value, value, strlen(value));
    copy_cut(x->file, sizeof x->file, file, strlen(file));
    x->line = line;
    x->severity = sev;
    x->reason = reason;
    x->recommendation = recommendation;
    x->doc = doc;
    return 0;
}

void aud_findings_free(struct aud_findings *f)
{
    free(f->v);
    memset(f, 0, sizeof *f);
}

bool aud_findings_any(const struct aud_findings *f, enum aud_severity sev)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].severity == sev)
            return true;
    return false;
}
