/*
 * POP3 as the farm answers it (RFC 1939; CAPA/STLS RFC 2449 and 2595;
 * AUTH RFC 5034).
 *
 * Greeting: +OK mailtls-farm ready.
 * CAPA:     +OK / CAPA / TOP / UIDL / RESP-CODES / PIPELINING / AUTH-RESP-CODE /
 *           [USER / SASL PLAIN LOGIN] / [STLS] / .
 *   USER and SASL listed when TLS is active or the profile allows plaintext
 *   login; STLS when offered and TLS is not active.
 * STLS:     +OK Begin TLS negotiation now.
 * USER x:   +OK, then PASS y: -ERR [AUTH] Authentication failed.
 * AUTH PLAIN|LOGIN [ir] (continuations "+ "): -ERR [AUTH] Authentication failed.
 * AUTH alone lists the mechanisms.
 *   refused: -ERR [AUTH] Plaintext authentication disallowed on non-secure
 *            (SSL/TLS) connections.                       (as Dovecot says)
 * QUIT:     +OK Logging out.  (completed); anything else: -ERR Unknown command.
 */
#include "farm.h"

#include <string.h>
#include <strings.h>

static const char plaintext_disallowed[] =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n";

void pop3_greet(struct sess *s)
{
    sess_send(s, "+OK mailtls-farm ready.\r\n");
}

void pop3_busy(struct sess *s)
{
    sess_send(s, "-ERR [SYS/TEMP] Too busy, try again later.\r\n");
}

static void auth_failed(struct sess *s)
{
    sess_count_credentials(s);
    s->auth = AUTH_NONE;
    s->has_user = false;
    sess_send(s, "-ERR [AUTH] Authentication failed.\r\n");
}

static void auth_continue(struct sess *s, const char *line)
{
    if (strcmp(line, "*") == 0) {
        s->auth = AUTH_NONE;
        sess_send(s, "-ERR Authentication aborted by client.\r\n");
        return;
    }
    switch (s->auth) {
    case AUTH_AWAIT_LOGIN_USER:
        s->auth = AUTH_AWAIT_LOGIN_PASS;
        sess_send(s, "+ UGFzc3dvcmQ6\r\n");
        break;
    case AUTH_AWAIT_PLAIN:
    case AUTH_AWAIT_LOGIN_PASS: auth_failed(s); break;
    case AUTH_NONE: break;
    }
}

static void cmd_auth(struct sess *s, char *args)
{
    char *mech = line_word(&args);
    char *initial = line_word(&args);
    if (!sess_may_auth(s)) {
        sess_send(s, plaintext_disallowed);
    } else if (!*mech) {
        sess_send(s, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
    } else if (strcasecmp(mech, "PLAIN") == 0) {
        if (*initial) {
            auth_failed(s);
        } else {
            s->auth = AUTH_AWAIT_PLAIN;
            sess_send(s, "+ \r\n");
        }
    } else if (strcasecmp(mech, "LOGIN") == 0) {
        s->auth = *initial ? AUTH_AWAIT_LOGIN_PASS : AUTH_AWAIT_LOGIN_USER;
        sess_send(s, *initial ? "+ UGFzc3dvcmQ6\r\n" : "+ VXNlcm5hbWU6\r\n");
    } else {
        sess_send(s, "-ERR Unsupported authentication mechanism.\r\n");
    }
}

void pop3_line(struct sess *s, char *line, size_t len)
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
    if (strcasecmp(verb, "CAPA") == 0) {
        sess_send(s, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n");
        if (sess_may_auth(s))
            sess_send(s, "USER\r\nSASL PLAIN LOGIN\r\n");
        if (sess_may_starttls(s))
            sess_send(s, "STLS\r\n");
        sess_send(s, ".\r\n");
    } else if (strcasecmp(verb, "STLS") == 0) {
        if (s->is_tls) {
            sess_send(s, "-ERR TLS is already active.\r\n");
        } else if (!sess_may_starttls(s)) {
            sess_send(s, "-ERR TLS support isn't enabled.\r\n");
        } else {
            sess_send(s, "+OK Begin TLS negotiation now.\r\n");
            sess_starttls_after_flush(s);
        }
    } else if (strcasecmp(verb, "USER") == 0) {
        if (!sess_may_auth(s)) {
            sess_send(s, plaintext_disallowed);
        } else if (!*args) {
            sess_send(s, "-ERR No username given.\r\n");
        } else {
            s->has_user = true;
            sess_send(s, "+OK\r\n");
        }
    } else if (strcasecmp(verb, "PASS") == 0) {
        if (!sess_may_auth(s))
            sess_send(s, plaintext_disallowed);
        else if (!s->has_user)
            sess_send(s, "-ERR No username given.\r\n");
        else
            auth_failed(s);
    } else if (strcasecmp(verb, "AUTH") == 0) {
        cmd_auth(s, args);
    } else if (strcasecmp(verb, "QUIT") == 0) {
        sess_send(s, "+OK Logging out.\r\n");
        sess_close_after_flush(s, END_COMPLETED);
    } else {
        sess_send(s, "-ERR Unknown command.\r\n");
    }
}
