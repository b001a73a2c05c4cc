/*
 * check.h - the findings (FINDINGS.md lists each one) and the verdicts
 * the live cross-check compares.
 *
 * A verdict sums up what a client sees on one listener, in words a scan
 * record can be held against:
 *   implicit-tls              TLS from the first byte (smtps, imaps, pop3s)
 *   starttls                  STARTTLS offered, no plaintext AUTH before it
 *   starttls-auth-before-tls  STARTTLS offered, PLAIN/LOGIN offered before it
 *   no-tls                    no STARTTLS (and no implicit TLS)
 */
#ifndef MAILTLS_AUDIT_CHECK_H
#define MAILTLS_AUDIT_CHECK_H

#include "dovecot.h"
#include "postfix.h"

#define AUD_LISTENERS_MAX 64

/* A listener the configuration declares, for --live. */
struct aud_listener {
    char product[16];
    char service[AUD_SCOPE_MAX]; /* "127.0.0.1:submission/inet", "imap-login/imaps" */
    char address[64];            /* as configured ("*", "all", "127.0.0.1") */
    uint16_t port;
    char proto[8];     /* smtp, imap, pop3 */
    bool implicit_tls; /* smtps, imaps, pop3s */
    char verdict[32];  /* see above */
    char why[160];     /* the settings behind the verdict */
};

struct aud_listeners {
    struct aud_listener v[AUD_LISTENERS_MAX];
    size_t n;
};

void pf_check(const struct pf_conf *c, struct aud_findings *out, struct aud_listeners *ls);
void dc_check(const struct dc_conf *c, struct aud_findings *out, struct aud_listeners *ls);

/* Shared by both: true for yes/true/1 (Postfix and Dovecot booleans). */
bool aud_yes(const char *v);
/* The lowest TLS version a protocol setting allows: 10 (TLSv1), 11, 12, 13;
 * 3 for SSLv3, 2 for SSLv2. Postfix syntax (">=TLSv1.2", "!SSLv3, !TLSv1",
 * "TLSv1.2 TLSv1.3") and Dovecot's ssl_min_protocol ("TLSv1.2", "ANY"). */
int aud_min_tls(const char *v);
/* First weak cipher token (RC4, 3DES, DES, EXPORT, EXP, LOW, NULL, eNULL,
 * MD5) that an OpenSSL cipher string adds and does not also remove with
 * `!`; exclude (may be NULL) is a further list of excluded names. NULL when
 * none. */
const char *aud_weak_cipher(const char *list, const char *exclude);

#endif
