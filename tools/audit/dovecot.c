/*
 * dovecot.c - Dovecot's configuration syntax, read with line numbers.
 *
 * Dovecot's own parser (src/config/config-parser.c) reads one line at a
 * time: `#` starts a comment outside quotes, `name = value`, `type name {`
 * opens a section, `}` closes one, `!include[_try] PATTERN` pulls in files
 * (glob, relative to the including file; _try ignores missing ones). We do
 * the same with limits: section depth AUD_SECTION_DEPTH, include depth
 * AUD_INCLUDE_DEPTH, lines AUD_LINE_MAX.
 */
#include <ctype.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dovecot.h"

void dc_init(struct dc_conf *c, const char *top)
{
    memset(c, 0, sizeof *c);
    snprintf(c->top, sizeof c->top, "%s", top);
    aud_store_init(&c->st);
}

void dc_free(struct dc_conf *c)
{
    aud_store_free(&c->st);
}

struct dc_parser {
    struct dc_conf *c;
    char scope[AUD_SECTION_DEPTH + 1][AUD_SCOPE_MAX]; /* scope[d] = path at depth d */
    int depth;
    int skipped; /* sections opened beyond the depth limit, not tracked */
    int include_depth;
};

struct dc_file {
    struct dc_parser *p;
    const char *file;
};

static void parse_text(struct dc_parser *p, const char *buf, size_t len, const char *file);

/* Removes a `#` comment (outside double quotes) and surrounding blanks. */
static size_t strip_comment(const char *s, size_t n)
{
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            quoted = !quoted;
        else if (s[i] == '#' && !quoted)
            return i;
    }
    return n;
}

static void unquote(const char **v, size_t *vl)
{
    if (*vl >= 2 && (*v)[0] == '"' && (*v)[*vl - 1] == '"') {
        (*v)++;
        *vl -= 2;
    }
}

static void do_include(struct dc_parser *p, const char *file, const char *pat, size_t pl, bool try,
                       int lineno)
{
    struct dc_conf *c = p->c;
    if (c->no_includes)
        return;
    if (p->include_depth >= AUD_INCLUDE_DEPTH) {
        aud_store_warn(&c->st, "%s:%d: includes nested deeper than %d", file, lineno, AUD_INCLUDE_DEPTH);
        return;
    }
    char path[AUD_PATH_MAX * 2];
    if (pat[0] == '/') {
        snprintf(path, sizeof path, "%.*s", (int)pl, pat);
    } else {
        char dirbuf[AUD_PATH_MAX];
        snprintf(dirbuf, sizeof dirbuf, "%s", file);
        snprintf(path, sizeof path, "%s/%.*s", dirname(dirbuf), (int)pl, pat);
    }
    glob_t g;
    int rc = glob(path, GLOB_ERR, NULL, &g);
    if (rc != 0) {
        if (!try)
            aud_store_warn(&c->st, "%s:%d: include %s: no such file", file, lineno, path);
        if (rc != GLOB_NOMATCH)
            globfree(&g);
        return;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char err[256];
        size_t len;
        char *buf = aud_read_file(g.gl_pathv[i], &len, err, sizeof err);
        if (!buf) {
            if (!try)
                aud_store_warn(&c->st, "%s:%d: include: %s", file, lineno, err);
            continue;
        }
        p->include_depth++;
        parse_text(p, buf, len, g.gl_pathv[i]);
        p->include_depth--;
        free(buf);
    }
    globfree(&g);
}

/* "type [name] {": pushes the section path. */
static void open_section(struct dc_parser *p, const char *s, size_t n, const char *file, int lineno)
{
    if (p->skipped || p->depth >= AUD_SECTION_DEPTH) {
        if (!p->skipped)
            aud_store_warn(&p->c->st, "%s:%d: sections nested deeper than %d", file, lineno,
                           AUD_SECTION_DEPTH);
        p->skipped++;
        return;
    }
    aud_trim(&s, &n);
    char part[AUD_SCOPE_MAX];
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n && k < sizeof part - 1; i++) { /* collapse blanks, drop quotes */
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"')
            continue;
        if (isspace(ch)) {
            space = true;
            continue;
        }
        if (space && k)
            part[k++] = ' ';
        space = false;
        if (k < sizeof part - 1)
            part[k++] = (char)ch;
    }
    part[k] = '\0';
    char path[AUD_SCOPE_MAX];
    const char *parent = p->scope[p->depth];
    int len = snprintf(path, sizeof path, "%s%s%s", parent, parent[0] ? "/" : "", part);
    if (len < 0 || (size_t)len >= sizeof path)
        aud_store_warn(&p->c->st, "%s:%d: section path longer than %d bytes cut", file, lineno,
                       AUD_SCOPE_MAX);
    p->depth++;
    memcpy(p->scope[p->depth], path, sizeof path);
}

/* `$name` in a value: Dovecot replaces it by the setting's value so far
 * (`protocols = $protocols imap`, as Debian's protocols.d files do). A
 * name set in this section or at the top level is replaced; a reference
 * to the setting being assigned becomes "" when it is not set yet; any
 * other `$` stays as written. */
static void expand_value(const struct dc_parser *p, const char *setting, const char *v, size_t vl, char *out,
                         size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < vl && o < cap - 1;) {
        size_t k = i + 1;
        while (v[i] == '$' && k < vl && (isalnum((unsigned char)v[k]) || v[k] == '_'))
            k++;
        if (v[i] != '$' || k == i + 1 || k - i - 1 >= AUD_NAME_MAX) {
            out[o++] = v[i++];
            continue;
        }
        char nm[AUD_NAME_MAX];
        memcpy(nm, v + i + 1, k - i - 1);
        nm[k - i - 1] = '\0';
        const struct aud_row *r = aud_store_last(&p->c->st, p->scope[p->depth], nm);
        if (!r)
            r = aud_store_last(&p->c->st, "", nm);
        if (!r && strcmp(nm, setting) != 0) {
            out[o++] = v[i++];
            continue;
        }
        const char *rv = r ? r->value : "";
        for (size_t j = 0; rv[j] && o < cap - 1; j++)
            out[o++] = rv[j];
        i = k;
    }
    out[o] = '\0';
}

static int on_line(void *ctx, const char *line, size_t n, int lineno)
{
    struct dc_file *f = ctx;
    struct dc_parser *p = f->p;
    const char *s = line;
    n = strip_comment(s, n);
    aud_trim(&s, &n);
    if (n == 0)
        return 0;
    if (n >= 8 && strncmp(s, "!include", 8) == 0) {
        bool try = n >= 12 && strncmp(s, "!include_try", 12) == 0;
        const char *pat = s + (try ? 12 : 8);
        size_t pl = n - (size_t)(pat - s);
        aud_trim(&pat, &pl);
        unquote(&pat, &pl);
        if (pl)
            do_include(p, f->file, pat, pl, try, lineno);
        return 0;
    }
    if (s[0] == '}') {
        if (p->skipped)
            p->skipped--;
        else if (p->depth > 0)
            p->depth--;
        else
            aud_store_warn(&p->c->st, "%s:%d: '}' without a section", f->file, lineno);
        return 0;
    }
    const char *eq = memchr(s, '=', n);
    if (s[n - 1] == '{' && (!eq || (const char *)memchr(s, '{', n) < eq)) {
        open_section(p, s, n - 1, f->file, lineno);
        return 0;
    }
    if (!eq) {
        aud_store_warn(&p->c->st, "%s:%d: neither a setting nor a section", f->file, lineno);
        return 0;
    }
    if (p->skipped)
        return 0;
    const char *name = s, *val = eq + 1;
    size_t nl = (size_t)(eq - s), vl = n - nl - 1;
    aud_trim(&name, &nl);
    aud_trim(&val, &vl);
    unquote(&val, &vl);
    if (nl == 0 || nl >= AUD_NAME_MAX) {
        aud_store_warn(&p->c->st, "%s:%d: bad setting name", f->file, lineno);
        return 0;
    }
    char nm[AUD_NAME_MAX];
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    if (memchr(val, '$', vl)) {
        char ex[AUD_VAL_MAX];
        expand_value(p, nm, val, vl, ex, sizeof ex);
        aud_store_add(&p->c->st, p->scope[p->depth], nm, ex, strlen(ex), f->file, lineno);
        return 0;
    }
    aud_store_add(&p->c->st, p->scope[p->depth], nm, val, vl, f->file, lineno);
    return 0;
}

static void parse_text(struct dc_parser *p, const char *buf, size_t len, const char *file)
{
    struct dc_file f = {.p = p, .file = file};
    aud_lines(buf, len, &p->c->st, file, on_line, &f);
}

void dc_parse_buf(struct dc_conf *c, const char *buf, size_t len, const char *file)
{
    struct dc_parser *p = calloc(1, sizeof *p);
    if (!p) {
        aud_store_warn(&c->st, "out of memory");
        return;
    }
    p->c = c;
    parse_text(p, buf, len, file);
    if (p->depth || p->skipped)
        aud_store_warn(&c->st, "%s: %d section(s) not closed", file, p->depth + p->skipped);
    free(p);
}

int dc_load_files(struct dc_conf *c, char *err, size_t errlen)
{
    size_t len;
    char *buf = aud_read_file(c->top, &len, err, errlen);
    if (!buf)
        return -1;
    dc_parse_buf(c, buf, len, c->top);
    free(buf);
    return 0;
}

/* Dovecot 2.3.19 (doveconf -d) and 2.4 defaults of what the checks need. */
static const char *const dc_defaults[][2] = {
    {"ssl", "yes"},
    {"disable_plaintext_auth", "yes"},
    {"auth_allow_cleartext", "no"},
    {"auth_mechanisms", "plain"},
    {"ssl_min_protocol", "TLSv1.2"},
    {"ssl_cipher_list",
     "ALL:!kRSA:!SRP:!kDHd:!DSS:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!MD5:!PSK:!RC4:!ADH:!LOW@STRENGTH"},
    {"ssl_prefer_server_ciphers", "no"},
    {"listen", "*, ::"},
    {"protocols", "imap pop3"},
};

const char *dc_default(const char *name)
{
    for (size_t i = 0; i < sizeof dc_defaults / sizeof dc_defaults[0]; i++)
        if (strcmp(dc_defaults[i][0], name) == 0)
            return dc_defaults[i][1];
    return NULL;
}

const char *dc_value(const struct dc_conf *c, const char *const *scopes, size_t n, const char *name,
                     const struct aud_row **origin)
{
    for (size_t i = 0; i < n; i++) {
        const struct aud_row *r = aud_store_last(&c->st, scopes[i], name);
        if (r) {
            if (origin)
                *origin = r;
            return r->value;
        }
    }
    if (origin)
        *origin = NULL;
    return dc_default(name);
}

bool dc_is_v24(const struct dc_conf *c)
{
    for (size_t i = 0; i < c->st.n; i++)
        if (strcmp(c->st.rows[i].name, "dovecot_config_version") == 0 ||
            strcmp(c->st.rows[i].name, "auth_allow_cleartext") == 0)
            return true;
    return false;
}
