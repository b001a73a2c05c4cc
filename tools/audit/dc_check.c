/*
 * dc_check.c - the Dovecot findings (FINDINGS.md, "Dovecot") and the
 * verdict of each inet_listener for --live.
 *
 * Each setting is looked up the way Dovecot applies it to a connection:
 * the innermost matching block wins, `local ADDR { protocol P { } }`
 * before `local ADDR { }` before `protocol P { }` before the top level.
 * Findings are made for the top level and for every local/remote block,
 * per protocol; the service field says which ("imap-login",
 * "imap-login remote 10.0.0.0/8", listener checks "imap-login/imaps").
 * Dovecot 2.3 names the plaintext switch disable_plaintext_auth, 2.4
 * auth_allow_cleartext (with the opposite sense).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"

#define DOC_DC "https://doc.dovecot.org/settings/core/#core_setting-"
#define DC_BLOCKS_MAX 16

struct dc_ctx {
    const struct dc_conf *c;
    struct aud_findings *out;
    bool v24;
};

static void dcc_add(const struct dc_ctx *x, const char *service, const char *setting, const char *value,
                    const struct aud_row *row, enum aud_severity sev, const char *reason, const char *rec,
                    const char *doc)
{
    aud_find_add(x->out, "dovecot", service, setting, value, row, x->c->top, sev, reason, rec, doc);
}

/* The lookup chain for protocol P inside block B ("" = none). */
static size_t dcc_chain(const char *block, const char *proto, char buf[4][AUD_SCOPE_MAX], const char *sc[4])
{
    size_t n = 0;
    if (block[0]) {
        snprintf(buf[n], AUD_SCOPE_MAX, "%s/protocol %s", block, proto);
        sc[n] = buf[n], n++;
        snprintf(buf[n], AUD_SCOPE_MAX, "%s", block);
        sc[n] = buf[n], n++;
    }
    snprintf(buf[n], AUD_SCOPE_MAX, "protocol %s", proto);
    sc[n] = buf[n], n++;
    sc[n++] = "";
    return n;
}

/* Whether TLS is required and cleartext passwords are allowed, for one
 * chain; *auth_row and *auth_set name the deciding setting. */
struct auth_facts {
    const char *ssl;
    const struct aud_row *ssl_row;
    bool cleartext;
    const char *auth_set, *auth_val;
    const struct aud_row *auth_row;
    const char *mechs;
    const struct aud_row *mech_row;
};

static void dcc_auth_facts(const struct dc_ctx *x, const char *const *sc, size_t n, struct auth_facts *f)
{
    f->ssl = dc_value(x->c, sc, n, "ssl", &f->ssl_row);
    f->auth_set = x->v24 ? "auth_allow_cleartext" : "disable_plaintext_auth";
    f->auth_val = dc_value(x->c, sc, n, f->auth_set, &f->auth_row);
    f->cleartext = x->v24 ? aud_yes(f->auth_val) : !aud_yes(f->auth_val);
    f->mechs = dc_value(x->c, sc, n, "auth_mechanisms", &f->mech_row);
}

/* In a local/remote block, only what the block itself sets is reported
 * there; the rest is the top level's finding. */
static bool dcc_in_block(const char *block, const struct aud_row *row)
{
    return !block[0] || (row && strncmp(row->scope, block, strlen(block)) == 0);
}

static void dcc_check_auth(const struct dc_ctx *x, const char *block, const char *proto)
{
    char buf[4][AUD_SCOPE_MAX], label[AUD_SCOPE_MAX];
    const char *sc[4];
    size_t n = dcc_chain(block, proto, buf, sc);
    struct auth_facts f;
    dcc_auth_facts(x, sc, n, &f);
    snprintf(label, sizeof label, "%s-login%s%s", proto, block[0] ? " " : "", block);
    bool required = strcasecmp(f.ssl, "required") == 0;
    if (strcasecmp(f.ssl, "no") == 0 && dcc_in_block(block, f.ssl_row))
        dcc_add(x, label, "ssl", f.ssl, f.ssl_row, SEV_HIGH,
                "TLS is off: no STARTTLS and no implicit TLS, passwords travel in cleartext",
                "ssl = required", DOC_DC "ssl");
    else if (!required && !f.cleartext && dcc_in_block(block, f.ssl_row))
        dcc_add(x, label, "ssl", f.ssl, f.ssl_row, SEV_LOW,
                "STARTTLS optional: sessions may stay unencrypted (passwords are refused until TLS)",
                "ssl = required", DOC_DC "ssl");
    if (f.cleartext && !required && (dcc_in_block(block, f.auth_row) || dcc_in_block(block, f.ssl_row))) {
        dcc_add(x, label, f.auth_set, f.auth_val, f.auth_row, SEV_HIGH,
                "plaintext authentication allowed before TLS: a man in the middle strips STARTTLS and reads "
                "passwords",
                x->v24 ? "auth_allow_cleartext = no" : "disable_plaintext_auth = yes (or ssl = required)",
                x->v24 ? DOC_DC "auth_allow_cleartext" : DOC_DC "disable_plaintext_auth");
        if (aud_has_word(f.mechs, "plain") || aud_has_word(f.mechs, "login"))
            dcc_add(x, label, "auth_mechanisms", f.mechs, f.mech_row, SEV_MEDIUM,
                    "PLAIN/LOGIN are offered on connections without TLS", "require TLS before authentication",
                    DOC_DC "auth_mechanisms");
    }
}

/* TLS parameters: a finding per place they are set (top level or a block). */
static void dcc_check_tls_params(const struct dc_ctx *x, const char *block, const char *proto)
{
    char buf[4][AUD_SCOPE_MAX];
    const char *sc[4];
    size_t n = dcc_chain(block, proto, buf, sc);
    const struct aud_row *row;
    const char *v = dc_value(x->c, sc, n, "ssl_min_protocol", &row);
    const char *label = row && row->scope[0] ? row->scope : "dovecot";
    if (aud_min_tls(v) < 12)
        dcc_add(x, label, "ssl_min_protocol", v, row, SEV_MEDIUM,
                "allows TLS versions below 1.2 (TLS 1.0 and 1.1 are deprecated, RFC 8996)",
                "ssl_min_protocol = TLSv1.2", DOC_DC "ssl_min_protocol");
    v = dc_value(x->c, sc, n, "ssl_cipher_list", &row);
    label = row && row->scope[0] ? row->scope : "dovecot";
    if (aud_weak_cipher(v, NULL))
        dcc_add(x, label, "ssl_cipher_list", v, row, SEV_HIGH,
                "the cipher list admits weak ciphers (RC4, 3DES, DES, EXPORT, LOW, NULL or MD5)",
                "keep the default list, or add !RC4:!3DES:!LOW:!EXPORT:!aNULL", DOC_DC "ssl_cipher_list");
    v = dc_value(x->c, sc, n, "ssl_prefer_server_ciphers", &row);
    label = row && row->scope[0] ? row->scope : "dovecot";
    if (!aud_yes(v))
        dcc_add(x, label, "ssl_prefer_server_ciphers", v, row, SEV_LOW,
                "the client's cipher order wins, weaker suites it prefers are chosen",
                "ssl_prefer_server_ciphers = yes", DOC_DC "ssl_prefer_server_ciphers");
}

/* The local/remote blocks the configuration holds ("local 10.1.1.1"). */
static size_t dcc_find_blocks(const struct dc_conf *c, char blocks[DC_BLOCKS_MAX][AUD_SCOPE_MAX])
{
    size_t n = 0;
    for (size_t i = 0; i < c->st.n; i++) {
        const char *s = c->st.rows[i].scope;
        if (strncmp(s, "local ", 6) != 0 && strncmp(s, "remote ", 7) != 0)
            continue;
        size_t len = strcspn(s, "/");
        /* an address block "10.0.0.0/8" holds a slash: keep digits after it */
        if (s[len] == '/' && s[len + 1] >= '0' && s[len + 1] <= '9')
            len += 1 + strcspn(s + len + 1, "/");
        bool seen = false;
        for (size_t k = 0; k < n; k++)
            if (strlen(blocks[k]) == len && strncmp(blocks[k], s, len) == 0)
                seen = true;
        if (!seen && n < DC_BLOCKS_MAX && len < AUD_SCOPE_MAX) {
            memcpy(blocks[n], s, len);
            blocks[n++][len] = '\0';
        }
    }
    return n;
}

/* Built-in listeners of each login service (Dovecot's defaults). */
static const struct {
    const char *proto, *name;
    uint16_t port;
    bool ssl;
} def_listeners[] = {
    {"imap", "imap", 143, false},
    {"imap", "imaps", 993, true},
    {"pop3", "pop3", 110, false},
    {"pop3", "pop3s", 995, true},
};

static void dcc_add_listener_names(const struct dc_conf *c, const char *proto, char names[8][64], size_t *n)
{
    for (size_t i = 0; i < sizeof def_listeners / sizeof def_listeners[0]; i++)
        if (strcmp(def_listeners[i].proto, proto) == 0 && *n < 8)
            snprintf(names[(*n)++], 64, "%s", def_listeners[i].name);
    char prefix[64];
    int pl = snprintf(prefix, sizeof prefix, "service %s-login/inet_listener ", proto);
    for (size_t i = 0; i < c->st.n && *n < 8; i++) {
        const char *s = c->st.rows[i].scope;
        if (strncmp(s, prefix, (size_t)pl) != 0 || strchr(s + pl, '/'))
            continue;
        bool seen = false;
        for (size_t k = 0; k < *n; k++)
            seen |= strcmp(names[k], s + pl) == 0;
        if (!seen)
            snprintf(names[(*n)++], 64, "%s", s + pl);
    }
}

static void dcc_listener_verdict(const struct dc_ctx *x, const char *proto, const char *addr, bool ssl,
                                 struct aud_listener *l)
{
    if (ssl) {
        snprintf(l->verdict, sizeof l->verdict, "implicit-tls");
        snprintf(l->why, sizeof l->why, "inet_listener ssl = yes");
        return;
    }
    char block[AUD_SCOPE_MAX], buf[4][AUD_SCOPE_MAX];
    const char *sc[4];
    snprintf(block, sizeof block, "local %s", addr);
    bool has_block = false;
    for (size_t i = 0; i < x->c->st.n; i++)
        has_block |= strncmp(x->c->st.rows[i].scope, block, strlen(block)) == 0;
    size_t n = dcc_chain(has_block ? block : "", proto, buf, sc);
    struct auth_facts f;
    dcc_auth_facts(x, sc, n, &f);
    bool required = strcasecmp(f.ssl, "required") == 0;
    if (strcasecmp(f.ssl, "no") == 0)
        snprintf(l->verdict, sizeof l->verdict, "no-tls");
    else if (f.cleartext && !required && (aud_has_word(f.mechs, "plain") || aud_has_word(f.mechs, "login")))
        snprintf(l->verdict, sizeof l->verdict, "starttls-auth-before-tls");
    else
        snprintf(l->verdict, sizeof l->verdict, "starttls");
    snprintf(l->why, sizeof l->why, "ssl = %s, %s = %s, auth_mechanisms = %s", f.ssl, f.auth_set, f.auth_val,
             f.mechs);
}

static void dcc_check_listeners(const struct dc_ctx *x, const char *proto, struct aud_listeners *ls)
{
    char names[8][64];
    size_t nn = 0;
    dcc_add_listener_names(x->c, proto, names, &nn);
    for (size_t i = 0; i < nn; i++) {
        char scope[AUD_SCOPE_MAX], label[AUD_SCOPE_MAX];
        snprintf(scope, sizeof scope, "service %s-login/inet_listener %s", proto, names[i]);
        snprintf(label, sizeof label, "%s-login/%s", proto, names[i]);
        const char *sc[1] = {scope};
        const struct aud_row *prow, *srow;
        const char *pv = dc_value(x->c, sc, 1, "port", &prow);
        const char *sv = dc_value(x->c, sc, 1, "ssl", &srow);
        uint16_t port = 0;
        bool ssl = false;
        for (size_t k = 0; k < sizeof def_listeners / sizeof def_listeners[0]; k++)
            if (strcmp(def_listeners[k].name, names[i]) == 0 && strcmp(def_listeners[k].proto, proto) == 0)
                port = def_listeners[k].port, ssl = def_listeners[k].ssl;
        if (prow)
            port = (uint16_t)atoi(pv);
        if (srow)
            ssl = aud_yes(sv);
        if (port == 0)
            continue; /* port = 0 disables a listener */
        if ((port == 993 || port == 995) && !ssl)
            dcc_add(x, label, "ssl", srow ? sv : "no", srow ? srow : prow, SEV_HIGH,
                    "implicit-TLS port without ssl = yes: clients expecting TLS meet a cleartext listener",
                    "ssl = yes in this inet_listener",
                    "https://doc.dovecot.org/configuration_manual/service_configuration/");
        if (!ls)
            continue;
        const char *addr_v = dc_value(x->c, sc, 1, "address", NULL);
        if (!addr_v) {
            const char *top[1] = {""};
            addr_v = dc_value(x->c, top, 1, "listen", NULL);
        }
        char addrs[AUD_VAL_MAX];
        snprintf(addrs, sizeof addrs, "%s", addr_v ? addr_v : "*");
        char *save = NULL;
        for (char *a = strtok_r(addrs, ", \t", &save); a && ls->n < AUD_LISTENERS_MAX;
             a = strtok_r(NULL, ", \t", &save)) {
            struct aud_listener *l = &ls->v[ls->n++];
            memset(l, 0, sizeof *l);
            snprintf(l->product, sizeof l->product, "dovecot");
            snprintf(l->service, sizeof l->service, "%s", label);
            snprintf(l->address, sizeof l->address, "%s", a);
            l->port = port;
            snprintf(l->proto, sizeof l->proto, "%s", proto);
            l->implicit_tls = ssl;
            dcc_listener_verdict(x, proto, a, ssl, l);
        }
    }
}

void dc_check(const struct dc_conf *c, struct aud_findings *out, struct aud_listeners *ls)
{
    struct dc_ctx x = {.c = c, .out = out, .v24 = dc_is_v24(c)};
    const char *top[1] = {""};
    char protos[AUD_VAL_MAX];
    snprintf(protos, sizeof protos, "%s", dc_value(c, top, 1, "protocols", NULL));
    char blocks[DC_BLOCKS_MAX][AUD_SCOPE_MAX];
    size_t nb = dcc_find_blocks(c, blocks);
    static const char *const known[] = {"imap", "pop3"};
    for (size_t k = 0; k < 2; k++) {
        if (!aud_has_word(protos, known[k]))
            continue;
        dcc_check_auth(&x, "", known[k]);
        dcc_check_tls_params(&x, "", known[k]);
        for (size_t b = 0; b < nb; b++) {
            dcc_check_auth(&x, blocks[b], known[k]);
            dcc_check_tls_params(&x, blocks[b], known[k]);
        }
        dcc_check_listeners(&x, known[k], ls);
    }
}
