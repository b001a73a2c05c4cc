/*
 * pf_check.c - the Postfix findings (FINDINGS.md, "Postfix") and the
 * verdict of each smtpd inet service for --live.
 *
 * A service's role decides what is normal: port 25 is a public MX (TLS
 * must stay optional, RFC 3207 section 4), 587 is submission (RFC 6409:
 * mail clients with passwords), 465 is submissions with implicit TLS (RFC
 * 8314). Other ports: implicit TLS (smtpd_tls_wrappermode=yes) counts as
 * 465, SASL enabled as 587, the rest as 25.
 */
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check.h"

#define DOC_PF "postconf(5) "

enum pf_role { ROLE_MX, ROLE_SUBMISSION, ROLE_SMTPS };

struct pf_svc_ctx {
    const struct pf_conf *c;
    struct aud_findings *out;
    char scope[AUD_SCOPE_MAX]; /* "name/type", the -o scope */
    const char *label;         /* service field of findings */
    uint16_t port;
    enum pf_role role;
    char level[32];
    const struct aud_row *level_row;
    bool wrapper, sasl, auth_only;
};

/* "[host:]port" of a master.cf service name; port by number or
 * /etc/services name. host gets the address part ("" when none). */
static uint16_t service_port(const char *name, char *host, size_t hostlen)
{
    const char *colon = strrchr(name, ':');
    const char *port = colon ? colon + 1 : name;
    snprintf(host, hostlen, "%.*s", colon ? (int)(colon - name) : 0, name);
    if (host[0] == '[') { /* [::1]:25 */
        size_t n = strlen(host);
        memmove(host, host + 1, n);
        if (n >= 2 && host[n - 2] == ']')
            host[n - 2] = '\0';
    }
    char *end;
    long v = strtol(port, &end, 10);
    if (*port && !*end && v > 0 && v < 65536)
        return (uint16_t)v;
    struct servent *se = getservbyname(port, "tcp"); /* /etc/services, no DNS */
    return se ? ntohs((uint16_t)se->s_port) : 0;
}

static const char *pfc_val(const struct pf_svc_ctx *s, const char *name, char *buf, size_t cap,
                           const struct aud_row **row)
{
    return pf_value(s->c, s->scope, name, buf, cap, row);
}

static void pfc_add(const struct pf_svc_ctx *s, const char *service, const char *setting, const char *value,
                    const struct aud_row *row, enum aud_severity sev, const char *reason, const char *rec,
                    const char *doc)
{
    aud_find_add(s->out, "postfix", service, setting, value, row, s->c->main_cf, sev, reason, rec, doc);
}

/* Findings about a value inherited from main.cf name the service
 * "main.cf" (one finding, not one per service); a -o override names its
 * service. */
static const char *pfc_label_for(const struct pf_svc_ctx *s, const struct aud_row *row)
{
    return row && row->scope[0] ? s->label : "main.cf";
}

/* smtpd_tls_security_level, or what the obsolete smtpd_use_tls and
 * smtpd_enforce_tls make of an empty one. */
static void pfc_effective_level(struct pf_svc_ctx *s)
{
    char buf[AUD_VAL_MAX];
    const struct aud_row *row;
    pfc_val(s, "smtpd_tls_security_level", buf, sizeof buf, &row);
    s->level_row = row;
    if (buf[0]) {
        snprintf(s->level, sizeof s->level, "%.31s", buf);
        return;
    }
    if (aud_yes(pfc_val(s, "smtpd_enforce_tls", buf, sizeof buf, &row))) {
        snprintf(s->level, sizeof s->level, "encrypt");
        s->level_row = row;
    } else if (aud_yes(pfc_val(s, "smtpd_use_tls", buf, sizeof buf, &row))) {
        snprintf(s->level, sizeof s->level, "may");
        s->level_row = row;
    } else {
        snprintf(s->level, sizeof s->level, "none");
    }
}

static void pfc_check_level(const struct pf_svc_ctx *s)
{
    const char *set = "smtpd_tls_security_level", *doc = DOC_PF "smtpd_tls_security_level";
    bool none = strcmp(s->level, "none") == 0, may = strcmp(s->level, "may") == 0;
    if (s->wrapper) {
        if (none)
            pfc_add(s, s->label, set, s->level, s->level_row, SEV_MEDIUM,
                    "wrapper mode on a service whose TLS is off: the implicit-TLS port cannot work",
                    "-o smtpd_tls_security_level=encrypt on this service", doc);
        return;
    }
    if (s->role == ROLE_MX) {
        if (none)
            pfc_add(s, s->label, set, s->level, s->level_row, SEV_MEDIUM,
                    "no STARTTLS on the MX: mail from other servers travels in cleartext",
                    "smtpd_tls_security_level = may (with a certificate)", doc);
        else if (may)
            pfc_add(s, s->label, set, s->level, s->level_row, SEV_INFO,
                    "opportunistic TLS: normal for a public MX (RFC 3207), STARTTLS can be stripped",
                    "keep may on port 25; publish MTA-STS or DANE so senders insist on TLS", doc);
        else if (strcmp(s->level, "encrypt") == 0)
            pfc_add(
                s, s->label, set, s->level, s->level_row, SEV_LOW,
                "mandatory TLS on a public MX refuses mail from servers without TLS (RFC 3207 says MUST NOT)",
                "smtpd_tls_security_level = may on port 25", doc);
        return;
    }
    if (none)
        pfc_add(s, s->label, set, s->level, s->level_row, SEV_HIGH,
                "no TLS on a submission service: passwords and mail travel in cleartext",
                "-o smtpd_tls_security_level=encrypt on this service", doc);
    else if (may)
        pfc_add(s, s->label, set, s->level, s->level_row, s->auth_only || !s->sasl ? SEV_MEDIUM : SEV_HIGH,
                "STARTTLS optional on a submission service: a man in the middle can strip it (downgrade)",
                "-o smtpd_tls_security_level=encrypt on this service", doc);
}

static void pfc_check_auth(const struct pf_svc_ctx *s)
{
    char buf[AUD_VAL_MAX];
    const struct aud_row *row;
    if (!s->sasl || s->wrapper)
        return;
    if (strcmp(s->level, "none") == 0) {
        pfc_val(s, "smtpd_sasl_auth_enable", buf, sizeof buf, &row);
        pfc_add(s, s->label, "smtpd_sasl_auth_enable", buf, row, SEV_HIGH,
                "SASL AUTH on a service without TLS: passwords can only travel in cleartext",
                "enable TLS (smtpd_tls_security_level=encrypt) or -o smtpd_sasl_auth_enable=no here",
                DOC_PF "smtpd_sasl_auth_enable");
    } else if (strcmp(s->level, "may") == 0 && !s->auth_only) {
        pfc_val(s, "smtpd_tls_auth_only", buf, sizeof buf, &row);
        pfc_add(s, s->label, "smtpd_tls_auth_only", buf, row, SEV_HIGH,
                "AUTH offered before STARTTLS: clients can send passwords in cleartext",
                "smtpd_tls_auth_only = yes (or security level encrypt on submission)",
                DOC_PF "smtpd_tls_auth_only");
    }
}

static void pfc_check_wrapper(const struct pf_svc_ctx *s)
{
    char buf[AUD_VAL_MAX];
    const struct aud_row *row;
    pfc_val(s, "smtpd_tls_wrappermode", buf, sizeof buf, &row);
    if (s->port == 465 && !s->wrapper)
        pfc_add(s, s->label, "smtpd_tls_wrappermode", buf, row, SEV_HIGH,
                "port 465 without wrapper mode: clients expect implicit TLS (RFC 8314) and get cleartext",
                "-o smtpd_tls_wrappermode=yes on the 465 service", DOC_PF "smtpd_tls_wrappermode");
    else if ((s->port == 25 || s->port == 587) && s->wrapper)
        pfc_add(s, s->label, "smtpd_tls_wrappermode", buf, row, SEV_MEDIUM,
                "wrapper mode on a STARTTLS port: clients speaking STARTTLS cannot connect",
                "smtpd_tls_wrappermode only on port 465", DOC_PF "smtpd_tls_wrappermode");
}

static bool pfc_tls_on(const struct pf_svc_ctx *s)
{
    return s->wrapper || strcmp(s->level, "none") != 0;
}

static void pfc_check_protocols_ciphers(const struct pf_svc_ctx *s)
{
    bool mandatory = strcmp(s->level, "encrypt") == 0;
    char buf[AUD_VAL_MAX], ex[AUD_VAL_MAX], list[AUD_VAL_MAX], name[AUD_NAME_MAX];
    const struct aud_row *row, *lrow;
    const char *pset = mandatory ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols";
    pfc_val(s, pset, buf, sizeof buf, &row);
    if (aud_min_tls(buf) < 12)
        pfc_add(s, pfc_label_for(s, row), pset, buf, row, SEV_MEDIUM,
                "allows TLS versions below 1.2 (TLS 1.0 and 1.1 are deprecated, RFC 8996)", ">=TLSv1.2",
                DOC_PF "smtpd_tls_protocols");
    const char *cset = mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers";
    pfc_val(s, cset, buf, sizeof buf, &row);
    if (strcasecmp(buf, "export") == 0 || strcasecmp(buf, "low") == 0 || strcasecmp(buf, "null") == 0)
        pfc_add(s, pfc_label_for(s, row), cset, buf, row, SEV_HIGH,
                "cipher grade admits export, low-strength or null ciphers", "medium or high",
                DOC_PF "smtpd_tls_ciphers");
    snprintf(name, sizeof name, "tls_%.40s_cipherlist", buf);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    pfc_val(s, name, list, sizeof list, &lrow);
    pfc_val(s, mandatory ? "smtpd_tls_mandatory_exclude_ciphers" : "smtpd_tls_exclude_ciphers", ex, sizeof ex,
            NULL);
    const char *weak = lrow ? aud_weak_cipher(list, ex) : NULL; /* Postfix's own lists are fine */
    if (weak)
        pfc_add(s, pfc_label_for(s, lrow), name, list, lrow, SEV_HIGH,
                "the cipher list admits weak ciphers (RC4, 3DES, DES, EXPORT, LOW, NULL or MD5)",
                "leave the tls_*_cipherlist defaults, or smtpd_tls_exclude_ciphers = RC4, 3DES, aNULL...",
                DOC_PF "tls_medium_cipherlist");
}

/* Certificates: none at all turns TLS off; a missing file makes every
 * handshake fail. */
static void pfc_check_certs(const struct pf_svc_ctx *s)
{
    static const char *const params[] = {"smtpd_tls_chain_files", "smtpd_tls_cert_file", "smtpd_tls_key_file",
                                         "smtpd_tls_eccert_file", "smtpd_tls_eckey_file"};
    bool any = false;
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        char buf[AUD_VAL_MAX];
        const struct aud_row *row;
        pfc_val(s, params[i], buf, sizeof buf, &row);
        char *save = NULL;
        for (char *f = strtok_r(buf, ", \t", &save); f; f = strtok_r(NULL, ", \t", &save)) {
            any = true;
            if (access(f, R_OK) != 0) {
                pfc_add(s, pfc_label_for(s, row), params[i], f, row, SEV_HIGH,
                        "certificate or key file missing or unreadable: TLS fails on this service",
                        "point it at an existing PEM file (postfix check)", DOC_PF "smtpd_tls_chain_files");
                break;
            }
        }
    }
    if (!any)
        pfc_add(s, s->label, "smtpd_tls_cert_file", "", NULL, SEV_HIGH,
                "TLS is enabled but no certificate is configured: Postfix offers no TLS",
                "smtpd_tls_chain_files (or smtpd_tls_cert_file and smtpd_tls_key_file)",
                DOC_PF "smtpd_tls_chain_files");
}

static void pfc_set_verdict(const struct pf_svc_ctx *s, struct aud_listener *l)
{
    if (s->wrapper) {
        snprintf(l->verdict, sizeof l->verdict, "implicit-tls");
        snprintf(l->why, sizeof l->why, "smtpd_tls_wrappermode=yes");
    } else if (strcmp(s->level, "none") == 0) {
        snprintf(l->verdict, sizeof l->verdict, "no-tls");
        snprintf(l->why, sizeof l->why, "smtpd_tls_security_level=none");
    } else if (s->sasl && !s->auth_only && strcmp(s->level, "may") == 0) {
        snprintf(l->verdict, sizeof l->verdict, "starttls-auth-before-tls");
        snprintf(l->why, sizeof l->why, "smtpd_tls_security_level=may, smtpd_tls_auth_only=no, SASL on");
    } else {
        snprintf(l->verdict, sizeof l->verdict, "starttls");
        snprintf(l->why, sizeof l->why, "smtpd_tls_security_level=%s, smtpd_tls_auth_only=%s, SASL %s",
                 s->level, s->auth_only ? "yes" : "no", s->sasl ? "on" : "off");
    }
}

/* One listener per address: the service's own host, else each
 * inet_interfaces entry. */
static void pfc_add_listeners(const struct pf_svc_ctx *s, const char *host, struct aud_listeners *ls)
{
    char ifs[AUD_VAL_MAX];
    if (host[0])
        snprintf(ifs, sizeof ifs, "%s", host);
    else
        pf_value(s->c, "", "inet_interfaces", ifs, sizeof ifs, NULL);
    char *save = NULL;
    for (char *a = strtok_r(ifs, ", \t", &save); a && ls->n < AUD_LISTENERS_MAX;
         a = strtok_r(NULL, ", \t", &save)) {
        struct aud_listener *l = &ls->v[ls->n++];
        memset(l, 0, sizeof *l);
        snprintf(l->product, sizeof l->product, "postfix");
        snprintf(l->service, sizeof l->service, "%s", s->label);
        snprintf(l->address, sizeof l->address, "%s", a);
        l->port = s->port;
        snprintf(l->proto, sizeof l->proto, "smtp");
        l->implicit_tls = s->wrapper;
        pfc_set_verdict(s, l);
    }
}

static void pfc_check_service(const struct pf_conf *c, const struct pf_service *sv, struct aud_findings *out,
                              struct aud_listeners *ls)
{
    struct pf_svc_ctx s = {.c = c, .out = out};
    char buf[AUD_VAL_MAX], host[128];
    snprintf(s.scope, sizeof s.scope, "%s/%s", sv->name, sv->type);
    s.label = s.scope;
    s.port = service_port(sv->name, host, sizeof host);
    pfc_effective_level(&s);
    s.wrapper = aud_yes(pfc_val(&s, "smtpd_tls_wrappermode", buf, sizeof buf, NULL));
    s.sasl = aud_yes(pfc_val(&s, "smtpd_sasl_auth_enable", buf, sizeof buf, NULL));
    s.auth_only = aud_yes(pfc_val(&s, "smtpd_tls_auth_only", buf, sizeof buf, NULL));
    if (s.port == 25)
        s.role = ROLE_MX;
    else if (s.port == 587)
        s.role = ROLE_SUBMISSION;
    else if (s.port == 465 || s.wrapper)
        s.role = ROLE_SMTPS;
    else
        s.role = s.sasl ? ROLE_SUBMISSION : ROLE_MX;
    pfc_check_level(&s);
    pfc_check_auth(&s);
    pfc_check_wrapper(&s);
    if (pfc_tls_on(&s)) {
        pfc_check_protocols_ciphers(&s);
        pfc_check_certs(&s);
    }
    if (ls && s.port)
        pfc_add_listeners(&s, host, ls);
}

/* The Postfix SMTP client (outbound), and logging. */
static void pfc_check_global(const struct pf_conf *c, struct aud_findings *out)
{
    struct pf_svc_ctx s = {.c = c, .out = out, .scope = ""};
    char lvl[AUD_VAL_MAX], dns[AUD_VAL_MAX], buf[AUD_VAL_MAX];
    const struct aud_row *row, *drow;
    pfc_val(&s, "smtp_tls_security_level", lvl, sizeof lvl, &row);
    if (!lvl[0]) {
        if (aud_yes(pfc_val(&s, "smtp_enforce_tls", buf, sizeof buf, &drow)))
            snprintf(lvl, sizeof lvl, "encrypt"), row = drow;
        else if (aud_yes(pfc_val(&s, "smtp_use_tls", buf, sizeof buf, &drow)))
            snprintf(lvl, sizeof lvl, "may"), row = drow;
        else
            snprintf(lvl, sizeof lvl, "none");
    }
    const char *set = "smtp_tls_security_level", *doc = DOC_PF "smtp_tls_security_level";
    pfc_val(&s, "smtp_dns_support_level", dns, sizeof dns, &drow);
    if (strcmp(lvl, "none") == 0)
        pfc_add(&s, "smtp/unix", set, lvl, row, SEV_MEDIUM, "outbound mail never uses TLS",
                "smtp_tls_security_level = may (or dane with smtp_dns_support_level = dnssec)", doc);
    else if (strcmp(lvl, "may") == 0)
        pfc_add(&s, "smtp/unix", set, lvl, row, SEV_INFO,
                "opportunistic outbound TLS: encrypted when offered, peer not authenticated, strippable",
                "smtp_tls_security_level = dane with smtp_dns_support_level = dnssec", doc);
    else if (strncmp(lvl, "dane", 4) == 0 && strcmp(dns, "dnssec") != 0)
        pfc_add(&s, "smtp/unix", "smtp_dns_support_level", dns, drow, SEV_MEDIUM,
                "DANE needs DNSSEC-validated lookups: without them Postfix falls back to opportunistic TLS",
                "smtp_dns_support_level = dnssec and a validating resolver", DOC_PF "smtp_dns_support_level");
    else if (strcmp(lvl, "encrypt") == 0)
        pfc_add(&s, "smtp/unix", set, lvl, row, SEV_LOW,
                "mandatory TLS to every destination: mail to servers without TLS is deferred",
                "dane (with dnssec) or per-destination policy in smtp_tls_policy_maps", doc);
    if (!aud_yes(pfc_val(&s, "smtpd_tls_received_header", buf, sizeof buf, &row)))
        pfc_add(&s, "main.cf", "smtpd_tls_received_header", buf, row, SEV_INFO,
                "Received: headers do not record the TLS version and cipher",
                "smtpd_tls_received_header = yes", DOC_PF "smtpd_tls_received_header");
    if (strcmp(pfc_val(&s, "smtpd_tls_loglevel", buf, sizeof buf, &row), "0") == 0)
        pfc_add(&s, "main.cf", "smtpd_tls_loglevel", buf, row, SEV_INFO, "TLS handshakes are not logged",
                "smtpd_tls_loglevel = 1", DOC_PF "smtpd_tls_loglevel");
}

void pf_check(const struct pf_conf *c, struct aud_findings *out, struct aud_listeners *ls)
{
    for (size_t i = 0; i < c->n_svc; i++) {
        const struct pf_service *sv = &c->svc[i];
        if (strcmp(sv->type, "inet") == 0 && strcmp(sv->command, "smtpd") == 0)
            pfc_check_service(c, sv, out, ls);
    }
    pfc_check_global(c, out);
}
