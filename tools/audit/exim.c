/*
 * exim.c - Exim's configuration file, main section and authenticators,
 * and the checks of tls_advertise_hosts, auth_advertise_hosts and
 * tls_require_ciphers (FINDINGS.md, "Exim").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "exim.h"

#define EX_LOGICAL_MAX (4 * AUD_LINE_MAX)
#define DOC_EX "https://www.exim.org/exim-html-current/doc/html/spec_html/ch-main_configuration.html"

void ex_init(struct ex_conf *c, const char *file)
{
    memset(c, 0, sizeof *c);
    snprintf(c->file, sizeof c->file, "%s", file);
    aud_store_init(&c->st);
}

void ex_free(struct ex_conf *c)
{
    aud_store_free(&c->st);
}

struct ex_reader {
    struct ex_conf *c;
    const char *file;
    char section[AUD_NAME_MAX]; /* "" = main, "authenticators", ... */
    char driver[AUD_NAME_MAX];  /* current authenticator */
    char buf[EX_LOGICAL_MAX];
    size_t len;
    int start_line;
    bool pending; /* the last line ended in a backslash */
};

static void ex_logical(struct ex_reader *r, const char *s, size_t n, int lineno)
{
    aud_trim(&s, &n);
    if (n == 0)
        return;
    if (n > 6 && strncmp(s, "begin", 5) == 0 && isspace((unsigned char)s[5])) {
        const char *name = s + 6;
        size_t nl = n - 6;
        aud_trim(&name, &nl);
        snprintf(r->section, sizeof r->section, "%.*s", (int)(nl < AUD_NAME_MAX - 1 ? nl : AUD_NAME_MAX - 1),
                 name);
        r->driver[0] = '\0';
        return;
    }
    if (s[0] == '.') { /* .include, .ifdef ...: not followed */
        aud_store_warn(&r->c->st, "%s:%d: directive not followed: %.*s", r->file, lineno,
                       (int)(n > 40 ? 40 : n), s);
        return;
    }
    if (strcmp(r->section, "authenticators") == 0 && s[n - 1] == ':' && !memchr(s, '=', n)) {
        snprintf(r->driver, sizeof r->driver, "%.*s",
                 (int)(n - 1 < AUD_NAME_MAX - 1 ? n - 1 : AUD_NAME_MAX - 1), s);
        return;
    }
    if (r->section[0] && strcmp(r->section, "authenticators") != 0)
        return;
    if (n > 5 && strncmp(s, "hide", 4) == 0 && isspace((unsigned char)s[4])) {
        s += 5;
        n -= 5;
        aud_trim(&s, &n);
    }
    const char *eq = memchr(s, '=', n);
    const char *name = s, *val = eq ? eq + 1 : s + n;
    size_t nl = eq ? (size_t)(eq - s) : n, vl = eq ? n - nl - 1 : 0;
    aud_trim(&name, &nl);
    aud_trim(&val, &vl);
    if (nl == 0 || nl >= AUD_NAME_MAX || isupper((unsigned char)name[0])) /* a macro */
        return;
    char nm[AUD_NAME_MAX], scope[AUD_SCOPE_MAX];
    memcpy(nm, name, nl);
    nm[nl] = '\0';
    if (r->section[0])
        snprintf(scope, sizeof scope, "authenticators/%s", r->driver);
    else
        scope[0] = '\0';
    if (!eq) { /* a boolean: name, no_name, not_name */
        bool neg = strncmp(nm, "no_", 3) == 0 || strncmp(nm, "not_", 4) == 0;
        const char *bare = neg ? strchr(nm, '_') + 1 : nm;
        if (!bare[0]) { /* "no_" alone */
            aud_store_warn(&r->c->st, "%s:%d: bad option name", r->file, lineno);
            return;
        }
        aud_store_add(&r->c->st, scope, bare, neg ? "false" : "true", neg ? 5 : 4, r->file, lineno);
        return;
    }
    aud_store_add(&r->c->st, scope, nm, val, vl, r->file, lineno);
}

static int ex_on_line(void *ctx, const char *line, size_t n, int lineno)
{
    struct ex_reader *r = ctx;
    const char *s = line;
    size_t sn = n;
    aud_trim(&s, &sn);
    if (!r->pending && (sn == 0 || s[0] == '#'))
        return 0;
    if (!r->pending) {
        r->len = 0;
        r->start_line = lineno;
    }
    bool more = sn > 0 && s[sn - 1] == '\\';
    if (more)
        sn--;
    size_t room = sizeof r->buf - 1 - r->len;
    if (sn > room) {
        aud_store_warn(&r->c->st, "%s:%d: logical line longer than %d bytes cut", r->file, lineno,
                       EX_LOGICAL_MAX);
        sn = room;
    }
    memcpy(r->buf + r->len, s, sn);
    r->len += sn;
    r->buf[r->len] = '\0';
    r->pending = more;
    if (!more)
        ex_logical(r, r->buf, r->len, r->start_line);
    return 0;
}

void ex_parse_buf(struct ex_conf *c, const char *buf, size_t len, const char *file)
{
    struct ex_reader *r = calloc(1, sizeof *r);
    if (!r) {
        aud_store_warn(&c->st, "out of memory");
        return;
    }
    r->c = c;
    r->file = file;
    aud_lines(buf, len, &c->st, file, ex_on_line, r);
    if (r->pending)
        ex_logical(r, r->buf, r->len, r->start_line);
    free(r);
}

int ex_load_file(struct ex_conf *c, char *err, size_t errlen)
{
    size_t len;
    char *buf = aud_read_file(c->file, &len, err, errlen);
    if (!buf)
        return -1;
    ex_parse_buf(c, buf, len, c->file);
    free(buf);
    return 0;
}

/* A host list or condition that only matches once TLS is up. */
static bool ex_tls_gated(const char *v)
{
    return v && (strstr(v, "tls_in_cipher") || strstr(v, "tls_cipher") || strstr(v, "tls_in_ok"));
}

static bool ex_empty_list(const char *v)
{
    return !v || !v[0] || strcmp(v, ":") == 0 || strcmp(v, "!*") == 0;
}

/* Authenticators whose mechanism sends the password itself (plaintext
 * driver: PLAIN, LOGIN) and that are advertised without TLS. */
static const struct aud_row *ex_cleartext_auth(const struct ex_conf *c)
{
    for (size_t i = 0; i < c->st.n; i++) {
        const struct aud_row *r = &c->st.rows[i];
        if (strncmp(r->scope, "authenticators/", 15) != 0 || strcmp(r->name, "driver") != 0 ||
            strcmp(r->value, "plaintext") != 0)
            continue;
        const struct aud_row *cond = aud_store_last(&c->st, r->scope, "server_advertise_condition");
        if (!cond || !ex_tls_gated(cond->value))
            return r;
    }
    return NULL;
}

void ex_check(const struct ex_conf *c, struct aud_findings *out)
{
    const struct aud_row *tls = aud_store_last(&c->st, "", "tls_advertise_hosts");
    const struct aud_row *auth = aud_store_last(&c->st, "", "auth_advertise_hosts");
    const struct aud_row *ciph = aud_store_last(&c->st, "", "tls_require_ciphers");
    /* Exim 4.92 and later: tls_advertise_hosts defaults to *, auth_advertise_hosts to *. */
    const char *tls_v = tls ? tls->value : "*", *auth_v = auth ? auth->value : "*";
    bool no_tls = ex_empty_list(tls_v);
    if (no_tls)
        aud_find_add(out, "exim", "exim", "tls_advertise_hosts", tls_v, tls, c->file, SEV_MEDIUM,
                     "STARTTLS is never advertised: mail (and AUTH) only in cleartext",
                     "tls_advertise_hosts = * with tls_certificate and tls_privatekey", DOC_EX);
    const struct aud_row *drv = ex_cleartext_auth(c);
    if (drv && !ex_empty_list(auth_v) && !ex_tls_gated(auth_v))
        aud_find_add(out, "exim", "exim", "auth_advertise_hosts", auth_v, auth, c->file, SEV_HIGH,
                     no_tls
                         ? "a plaintext authenticator (PLAIN/LOGIN) and no TLS: passwords only in cleartext"
                         : "a plaintext authenticator (PLAIN/LOGIN) is advertised before STARTTLS",
                     "auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}} (or server_advertise_condition "
                     "= ${if def:tls_in_cipher} in the authenticator)",
                     DOC_EX);
    if (ciph) {
        const char *v = ciph->value;
        /* OpenSSL cipher strings, and GnuTLS priority strings (Debian's exim4 uses GnuTLS) */
        bool weak = aud_weak_cipher(v, NULL) || strstr(v, "+ARCFOUR") || strstr(v, "+3DES") ||
                    strstr(v, "+DES") || strstr(v, "+NULL") || strstr(v, "+EXPORT");
        if (weak)
            aud_find_add(out, "exim", "exim", "tls_require_ciphers", v, ciph, c->file, SEV_HIGH,
                         "the cipher list admits weak ciphers (RC4, 3DES, DES, EXPORT, LOW, NULL or MD5)",
                         "leave tls_require_ciphers unset (library defaults) or remove those", DOC_EX);
    }
}
