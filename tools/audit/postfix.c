/*
 * postfix.c - main.cf and master.cf read the way Postfix reads them.
 *
 * Both files are made of logical lines: a line starting with non-space
 * begins one, lines starting with whitespace continue it, and blank lines
 * and lines whose first non-space byte is `#` are ignored (postconf(5),
 * master(5)). main.cf holds `name = value`, the last assignment wins.
 * master.cf holds services: name type private unpriv chroot wakeup maxproc
 * command [args], where `-o name=value` or `-o { name = value }` override a
 * main.cf parameter for that service only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postfix.h"

#define PF_LOGICAL_MAX (4 * AUD_LINE_MAX)
#define PF_SEGMENTS_MAX 64
#define PF_EXPAND_DEPTH 8

void pf_init(struct pf_conf *c, const char *dir)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    snprintf(c->main_cf, sizeof c->main_cf, "%s/main.cf", dir);
    snprintf(c->master_cf, sizeof c->master_cf, "%s/master.cf", dir);
    aud_store_init(&c->st);
}

void pf_free(struct pf_conf *c)
{
    aud_store_free(&c->st);
}

/* A logical line being assembled, with the physical line where each piece
 * starts (so an -o on a continuation line gets its own line number). */
struct logical {
    char buf[PF_LOGICAL_MAX];
    size_t len;
    size_t seg_off[PF_SEGMENTS_MAX];
    int seg_line[PF_SEGMENTS_MAX];
    int n_seg;
    bool cut;
};

struct pf_reader {
    struct pf_conf *c;
    const char *file;
    struct logical lg;
    void (*flush)(struct pf_reader *r);
};

static int logical_line_of(const struct logical *lg, size_t off)
{
    int line = lg->n_seg ? lg->seg_line[0] : 0;
    for (int i = 0; i < lg->n_seg && lg->seg_off[i] <= off; i++)
        line = lg->seg_line[i];
    return line;
}

static void logical_append(struct pf_reader *r, const char *s, size_t n, int lineno)
{
    struct logical *lg = &r->lg;
    if (lg->len && lg->len < sizeof lg->buf - 1)
        lg->buf[lg->len++] = ' ';
    if (lg->n_seg < PF_SEGMENTS_MAX) {
        lg->seg_off[lg->n_seg] = lg->len;
        lg->seg_line[lg->n_seg++] = lineno;
    }
    size_t room = sizeof lg->buf - 1 - lg->len;
    if (n > room) {
        n = room;
        if (!lg->cut)
            aud_store_warn(&r->c->st, "%s:%d: logical line longer than %d bytes cut", r->file, lineno,
                           PF_LOGICAL_MAX);
        lg->cut = true;
    }
    memcpy(lg->buf + lg->len, s, n);
    lg->len += n;
    lg->buf[lg->len] = '\0';
}

static int on_physical(void *ctx, const char *line, size_t n, int lineno)
{
    struct pf_reader *r = ctx;
    const char *t = line;
    size_t tn = n;
    aud_trim(&t, &tn);
    if (tn == 0 || t[0] == '#')
        return 0;
    bool continues = isspace((unsigned char)line[0]);
    if (!continues && r->lg.n_seg) {
        r->flush(r);
        memset(&r->lg, 0, sizeof r->lg);
    }
    if (continues && !r->lg.n_seg) {
        aud_store_warn(&r->c->st, "%s:%d: continuation line without a line to continue", r->file, lineno);
        return 0;
    }
    logical_append(r, t, tn, lineno);
    return 0;
}

static void read_logical(struct pf_conf *c, const char *buf, size_t len, const char *file,
                         void (*flush)(struct pf_reader *))
{
    struct pf_reader *r = calloc(1, sizeof *r);
    if (!r) {
        aud_store_warn(&c->st, "out of memory");
        return;
    }
    r->c = c;
    r->file = file;
    r->flush = flush;
    aud_lines(buf, len, &c->st, file, on_physical, r);
    if (r->lg.n_seg)
        flush(r);
    free(r);
}

/* "name = value" (spaces around = optional) into the store. */
static void add_assignment(struct pf_conf *c, const char *scope, const char *s, size_t n, const char *file,
                           int line)
{
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        aud_store_warn(&c->st, "%s:%d: no '=' in a parameter line", file, line);
        return;
    }
    const char *name = s, *val = eq + 1;
    size_t nl = (size_t)(eq - s), vl = n - nl - 1;
    aud_trim(&name, &nl);
    aud_trim(&val, &vl);
    if (nl == 0 || nl >= AUD_NAME_MAX) {
        aud_store_warn(&c->st, "%s:%d: bad parameter name", file, line);
        return;
    }
    char nm[AUD_NAME_MAX];
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    aud_store_add(&c->st, scope, nm, val, vl, file, line);
}

static void flush_main(struct pf_reader *r)
{
    add_assignment(r->c, "", r->lg.buf, r->lg.len, r->file, r->lg.seg_line[0]);
}

void pf_parse_main(struct pf_conf *c, const char *buf, size_t len, const char *file)
{
    read_logical(c, buf, len, file, flush_main);
}

/* Next whitespace-separated token at *pos; `{ ... }` is one token (braces
 * included). Returns its length, 0 at the end. */
static size_t next_token(const char *s, size_t len, size_t *pos, size_t *start)
{
    size_t p = *pos;
    while (p < len && isspace((unsigned char)s[p]))
        p++;
    *start = p;
    if (p < len && s[p] == '{') {
        const char *close = memchr(s + p, '}', len - p);
        p = close ? (size_t)(close - s) + 1 : len;
    } else {
        while (p < len && !isspace((unsigned char)s[p]))
            p++;
    }
    *pos = p;
    return p - *start;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void flush_master(struct pf_reader *r)
{
    struct pf_conf *c = r->c;
    const struct logical *lg = &r->lg;
    size_t pos = 0, start, n;
    const char *f[8];
    size_t fl[8];
    int nf = 0;
    while (nf < 8 && (n = next_token(lg->buf, lg->len, &pos, &start)) > 0) {
        f[nf] = lg->buf + start;
        fl[nf++] = n;
    }
    if (nf < 8) {
        aud_store_warn(&c->st, "%s:%d: service line with fewer than 8 fields", r->file, lg->seg_line[0]);
        return;
    }
    if (c->n_svc >= PF_SERVICES_MAX) {
        aud_store_warn(&c->st, "%s: more than %d services", r->file, PF_SERVICES_MAX);
        return;
    }
    struct pf_service *sv = &c->svc[c->n_svc++];
    copy_field(sv->name, sizeof sv->name, f[0], fl[0]);
    copy_field(sv->type, sizeof sv->type, f[1], fl[1]);
    copy_field(sv->command, sizeof sv->command, f[7], fl[7]);
    sv->line = lg->seg_line[0];
    char scope[AUD_SCOPE_MAX];
    snprintf(scope, sizeof scope, "%s/%s", sv->name, sv->type);
    while ((n = next_token(lg->buf, lg->len, &pos, &start)) > 0) {
        if (n != 2 || memcmp(lg->buf + start, "-o", 2) != 0)
            continue;
        int line = logical_line_of(lg, start);
        if ((n = next_token(lg->buf, lg->len, &pos, &start)) == 0)
            break;
        const char *a = lg->buf + start;
        if (a[0] == '{') { /* -o { name = value } */
            a++;
            n--;
            if (n && a[n - 1] == '}')
                n--;
        }
        add_assignment(c, scope, a, n, r->file, line);
    }
}

void pf_parse_master(struct pf_conf *c, const char *buf, size_t len, const char *file)
{
    read_logical(c, buf, len, file, flush_master);
}

int pf_load_files(struct pf_conf *c, char *err, size_t errlen)
{
    size_t len;
    char *buf = aud_read_file(c->main_cf, &len, err, errlen);
    if (!buf)
        return -1;
    pf_parse_main(c, buf, len, c->main_cf);
    free(buf);
    char err2[256];
    buf = aud_read_file(c->master_cf, &len, err2, sizeof err2);
    if (!buf) {
        aud_store_warn(&c->st, "%s", err2);
        return 0;
    }
    pf_parse_master(c, buf, len, c->master_cf);
    free(buf);
    return 0;
}

/* ---------------------------------------------------------------- values */

/* Postfix 3.7 defaults (postconf -d) of what the checks and the expansion
 * of their values need. */
static const char *const pf_defaults[][2] = {
    {"smtpd_tls_security_level", ""},
    {"smtpd_use_tls", "no"},
    {"smtpd_enforce_tls", "no"},
    {"smtpd_tls_auth_only", "no"},
    {"smtpd_sasl_auth_enable", "no"},
    {"smtpd_tls_wrappermode", "no"},
    {"smtpd_tls_protocols", ">=TLSv1"},
    {"smtpd_tls_mandatory_protocols", ">=TLSv1"},
    {"smtpd_tls_ciphers", "medium"},
    {"smtpd_tls_mandatory_ciphers", "medium"},
    {"smtpd_tls_exclude_ciphers", ""},
    {"smtpd_tls_mandatory_exclude_ciphers", ""},
    {"smtpd_tls_cert_file", ""},
    {"smtpd_tls_key_file", "$smtpd_tls_cert_file"},
    {"smtpd_tls_eccert_file", ""},
    {"smtpd_tls_eckey_file", "$smtpd_tls_eccert_file"},
    {"smtpd_tls_chain_files", ""},
    {"smtp_tls_security_level", ""},
    {"smtp_use_tls", "no"},
    {"smtp_enforce_tls", "no"},
    {"smtp_dns_support_level", ""},
    {"smtpd_tls_received_header", "no"},
    {"smtpd_tls_loglevel", "0"},
    {"inet_interfaces", "all"},
    {"inet_protocols", "all"},
    {"tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH"},
    {"tls_medium_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH"},
    {"tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH"},
    {"tls_export_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH"},
    {"tls_null_cipherlist", "eNULL:!aNULL"},
};

const char *pf_default(const char *name)
{
    for (size_t i = 0; i < sizeof pf_defaults / sizeof pf_defaults[0]; i++)
        if (strcmp(pf_defaults[i][0], name) == 0)
            return pf_defaults[i][1];
    return NULL;
}

/* Raw (unexpanded) value: service override, main.cf, default. */
static const char *raw_value(const struct pf_conf *c, const char *scope, const char *name,
                             const struct aud_row **origin)
{
    const struct aud_row *r = scope[0] ? aud_store_last(&c->st, scope, name) : NULL;
    if (!r)
        r = aud_store_last(&c->st, "", name);
    if (origin)
        *origin = r;
    if (r)
        return r->value;
    if (strcmp(name, "config_directory") == 0)
        return c->dir;
    return pf_default(name);
}

struct expand_out {
    char *buf;
    size_t cap, len;
};

static void out_put(struct expand_out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void expand(const struct pf_conf *c, const char *scope, const char *s, struct expand_out *o,
                   int depth);

/* One $name, ${name}, $(name), ${name?text}, ${name:text} at s (s[0] is
 * '$'). Returns bytes consumed. */
static size_t expand_ref(const struct pf_conf *c, const char *scope, const char *s, struct expand_out *o,
                         int depth)
{
    const char *p = s + 1;
    char close = 0;
    if (*p == '{')
        close = '}';
    else if (*p == '(')
        close = ')';
    if (close)
        p++;
    const char *name = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t nl = (size_t)(p - name);
    if (nl == 0 || nl >= AUD_NAME_MAX) {
        out_put(o, "$", 1);
        return 1;
    }
    char nm[AUD_NAME_MAX];
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    const char *v = raw_value(c, scope, nm, NULL);
    char op = 0;
    const char *text = NULL;
    size_t tl = 0;
    if (close) {
        if (*p == '?' || *p == ':') {
            op = *p++;
            text = p;
            while (*p && *p != close)
                p++;
            tl = (size_t)(p - text);
        }
        if (*p == close)
            p++;
    }
    bool nonempty = v && v[0];
    if (op == '?' && nonempty) {
        char t[AUD_VAL_MAX];
        copy_field(t, sizeof t, text, tl);
        expand(c, scope, t, o, depth + 1);
    } else if (op == ':' && !nonempty) {
        char t[AUD_VAL_MAX];
        copy_field(t, sizeof t, text, tl);
        expand(c, scope, t, o, depth + 1);
    } else if (!op && v) {
        expand(c, scope, v, o, depth + 1);
    }
    return (size_t)(p - s);
}

static void expand(const struct pf_conf *c, const char *scope, const char *s, struct expand_out *o, int depth)
{
    if (depth > PF_EXPAND_DEPTH) { /* a loop ($a = $b, $b = $a): Postfix stops too */
        out_put(o, s, strlen(s));
        return;
    }
    while (*s) {
        const char *d = strchr(s, '$');
        if (!d) {
            out_put(o, s, strlen(s));
            return;
        }
        out_put(o, s, (size_t)(d - s));
        if (d[1] == '$') { /* $$ is a literal $ */
            out_put(o, "$", 1);
            s = d + 2;
            continue;
        }
        s = d + expand_ref(c, scope, d, o, depth);
    }
}

const char *pf_value(const struct pf_conf *c, const char *scope, const char *name, char *out, size_t outlen,
                     const struct aud_row **origin)
{
    const struct aud_row *row;
    const char *raw = raw_value(c, scope, name, &row);
    if (origin)
        *origin = row;
    struct expand_out o = {.buf = out, .cap = outlen, .len = 0};
    out[0] = '\0';
    if (raw) {
        if (c->via_postconf && row) /* postconf -x already expanded it; defaults are ours */
            out_put(&o, raw, strlen(raw));
        else
            expand(c, scope, raw, &o, 0);
    }
    return out;
}
