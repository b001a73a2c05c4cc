/*
 * SMTP as the farm answers it (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954).
 *
 * Greeting:  220 <host> ESMTP mailtls-farm      (<host> = h127-1-2-3.farm.test)
 * EHLO:      250-<host> / 250-PIPELINING / 250-SIZE 10240000 /
 *            [250-STARTTLS] / [250-AUTH PLAIN LOGIN] / 250 8BITMIME
 *   STARTTLS listed when the profile offers it and TLS is not active;
 *   AUTH listed when TLS is active or the profile allows AUTH in plaintext.
 * STARTTLS:  220 2.0.0 Ready to start TLS; afterwards EHLO must be repeated.
 * AUTH PLAIN [ir] / AUTH LOGIN [ir]: 334 challenges, then always
 *            535 5.7.8 Error: authentication failed: authentication failure
 *   refused before TLS with 530 5.7.0 Must issue a STARTTLS command first
 *   (strict) or 503 5.5.1 Error: authentication not enabled (implicit-only).
 * MAIL 250, RCPT 554 relay denied, DATA 554, RSET/NOOP 250, VRFY 502,
 * QUIT 221 (the session counts as completed), anything else 502.
 * Replies mimic Postfix so the scanner sees familiar text.
 */
#include "farm.h"

#include <string.h>
#include <strings.h>

void smtp_greet(struct sess *s)
{
    char host[64];
    sess_host_name(s, host, sizeof(host));
    sess_sendf(s, "220 %s ESMTP mailtls-farm\r\n", host);
}

void smtp_busy(struct sess *s)
{
    sess_send(s, "421 4.7.0 Too busy, closing connection\r\n");
}

static void auth_failed(struct sess *s)
{
    sess_count_credentials(s);
    s->auth = AUTH_NONE;
    sess_send(s, "535 5.7.8 Error: authentication failed: authentication failure\r\n");
}

static void auth_continue(struct sess *s, const char *line)
{
    if (strcmp(line, "*") == 0) {
        s->auth = AUTH_NONE;
        sess_send(s, "501 5.7.0 Authentication aborted\r\n");
        return;
    }
    switch (s->auth) {
    case AUTH_AWAIT_LOGIN_USER:
        s->auth = AUTH_AWAIT_LOGIN_PASS;
        sess_send(s, "334 UGFzc3dvcmQ6\r\n"); /* "Password:" */
        break;
    case AUTH_AWAIT_PLAIN:
    case AUTH_AWAIT_LOGIN_PASS: auth_failed(s); break;
    case AUTH_NONE: break;
    }
}

static void cmd_ehlo(struct sess *s, const char *arg, bool is_extended)
{
    char host[64];
    if (!*arg) {
        sess_sendf(s, "501 5.5.4 Syntax: %s hostname\r\n", is_extended ? "EHLO" : "HELO");
        return;
    }
    sess_host_name(s, host, sizeof(host));
    s->has_greeted_ehlo = true;
    if (!is_extended) {
        sess_sendf(s, "250 %s\r\n", host);
        return;
    }
    sess_sendf(s, "250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n", host);
    if (sess_may_starttls(s))
        sess_send(s, "250-STARTTLS\r\n");
    if (sess_may_auth(s))
        sess_send(s, "250-AUTH PLAIN LOGIN\r\n");
    sess_send(s, "250 8BITMIME\r\n");
}

static void cmd_auth(struct sess *s, char *args)
{
    if (!s->has_greeted_ehlo) {
        sess_send(s, "503 5.5.1 Error: send HELO/EHLO first\r\n");
        return;
    }
    if (!sess_may_auth(s)) {
        if (s->profile == PROFILE_STRICT)
            sess_send(s, "530 5.7.0 Must issue a STARTTLS command first\r\n");
        else
            sess_send(s, "503 5.5.1 Error: authentication not enabled\r\n");
        return;
    }
    char *mech = line_word(&args);
    char *initial = line_word(&args);
    if (!*mech) {
        sess_send(s, "501 5.5.4 Syntax: AUTH mechanism\r\n");
    } else if (strcasecmp(mech, "PLAIN") == 0) {
        if (*initial) {
            auth_failed(s);
        } else {
            s->auth = AUTH_AWAIT_PLAIN;
            sess_send(s, "334 \r\n");
        }
    } else if (strcasecmp(mech, "LOGIN") == 0) {
        s->auth = *initial ? AUTH_AWAIT_LOGIN_PASS : AUTH_AWAIT_LOGIN_USER;
        sess_send(s, *initial ? "334 UGFzc3dvcmQ6\r\n" : "334 VXNlcm5hbWU6\r\n");
    } else {
        sess_send(s, "504 5.5.4 Unsupported authentication mechanism\r\n");
    }
}

void smtp_line(struct sess *s, char *line, size_t len)
{
    (void)len;
    if (s->auth != AUTH_NONE) {
        auth_continue(s, line);
        return;
    }
    char *args = line;
    char *verb = line_word(&args);
    while (*args == ' ')
        args++;
    if (strcasecmp(verb, "EHLO") == 0) {
        cmd_ehlo(s, args, true);
    } else if (strcasecmp(verb, "HELO") == 0) {
        cmd_ehlo(s, args, false);
    } else if (strcasecmp(verb, "STARTTLS") == 0) {
        if (s->is_tls)
            sess_send(s, "503 5.5.1 Error: TLS already active\r\n");
        else if (!sess_may_starttls(s))
            sess_send(s, "502 5.5.1 Error: command not implemented\r\n");
        else if (*args)
            sess_send(s, "501 5.5.4 Syntax: STARTTLS\r\n");
        else {
            sess_send(s, "220 2.0.0 Ready to start TLS\r\n");
            sess_starttls_after_flush(s);
        }
    } else if (strcasecmp(verb, "AUTH") == 0) {
        cmd_auth(s, args);
    } else if (strcasecmp(verb, "MAIL") == 0) {
        if (!s->has_greeted_ehlo)
            sess_send(s, "503 5.5.1 Error: send HELO/EHLO first\r\n");
        else if (s->profile == PROFILE_STRICT && !s->is_tls)
            sess_send(s, "530 5.7.0 Must issue a STARTTLS command first\r\n");
        else
            sess_send(s, "250 2.1.0 Ok\r\n");
    } else if (strcasecmp(verb, "RCPT") == 0) {
        sess_send(s, "554 5.7.1 Relay access denied\r\n");
    } else if (strcasecmp(verb, "DATA") == 0) {
        sess_send(s, "554 5.5.1 Error: no valid recipients\r\n");
    } else if (strcasecmp(verb, "RSET") == 0 || strcasecmp(verb, "NOOP") == 0) {
        sess_send(s, "250 2.0.0 Ok\r\n");
    } else if (strcasecmp(verb, "VRFY") == 0) {
        sess_send(s, "502 5.5.1 VRFY command is disabled\r\n");
    } else if (strcasecmp(verb, "QUIT") == 0) {
        sess_send(s, "221 2.0.0 Bye\r\n");
        sess_close_after_flush(s, END_COMPLETED);
    } else if (!*verb) {
        sess_send(s, "500 5.5.2 Error: bad syntax\r\n");
    } else {
        sess_send(s, "502 5.5.2 Error: command not recognized\r\n");
    }
}
