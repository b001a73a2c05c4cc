/*
 * IMAP as the farm answers it (RFC 3501; STARTTLS 6.2.1; SASL-IR RFC 4959).
 *
 * Greeting:   * OK [CAPABILITY <caps>] mailtls-farm ready.
 * <caps> = IMAP4rev1 SASL-IR ID, then STARTTLS when offered, then
 *          AUTH=PLAIN AUTH=LOGIN when login is allowed, else LOGINDISABLED.
 * CAPABILITY: * CAPABILITY <caps> / <tag> OK Capability completed.
 * STARTTLS:   <tag> OK Begin TLS negotiation now.
 * LOGIN, AUTHENTICATE PLAIN|LOGIN [ir] (continuations "+ "):
 *   allowed:  <tag> NO [AUTHENTICATIONFAILED] Authentication failed.
 *   refused:  <tag> NO [PRIVACYREQUIRED] Plaintext authentication disallowed
 *             on non-secure (SSL/TLS) connections.       (as Dovecot says)
 * LOGOUT:     * BYE Logging out / <tag> OK Logout completed.  (completed)
 * ID, NOOP answered; anything else: <tag> BAD Error in IMAP command ...
 * Literals ({n}) are not supported: the farm has nothing to log in to.
 */
#include "farm.h"

#include <string.h>
#include <strings.h>

static const char privacy_required[] =
    "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) "
    "connections.";

static void send_caps(struct sess *s)
{
    sess_send(s, "IMAP4rev1 SASL-IR ID");
    if (sess_may_starttls(s))
        sess_send(s, " STARTTLS");
    sess_send(s, sess_may_auth(s) ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
}

void imap_greet(struct sess *s)
{
    sess_send(s, "* OK [CAPABILITY ");
    send_caps(s);
    sess_send(s, "] mailtls-farm ready.\r\n");
}

void imap_busy(struct sess *s)
{
    sess_send(s, "* BYE Too busy, try again later.\r\n");
}

static void auth_failed(struct sess *s)
{
    sess_count_credentials(s);
    s->auth = AUTH_NONE;
    sess_sendf(s, "%s NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", s->imap_tag);
}

static void auth_continue(struct sess *s, const char *line)
{
    if (strcmp(line, "*") == 0) {
        s->auth = AUTH_NONE;
        sess_sendf(s, "%s BAD Authentication aborted by client.\r\n", s->imap_tag);
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

static void cmd_authenticate(struct sess *s, char *args)
{
    char *mech = line_word(&args);
    char *initial = line_word(&args);
    const char *tag = s->imap_tag;
    if (!*mech) {
        sess_sendf(s, "%s BAD Error in IMAP command AUTHENTICATE: Missing arguments.\r\n", tag);
    } else if (!sess_may_auth(s)) {
        sess_sendf(s, "%s %s\r\n", tag, privacy_required);
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
        sess_sendf(s, "%s NO [CANNOT] Unsupported authentication mechanism.\r\n", tag);
    }
}

void imap_line(struct sess *s, char *line, size_t len)
{
    if (s->auth != AUTH_NONE) {
        auth_continue(s, line);
        return;
    }
    char *args = line;
    char *tag = line_word(&args);
    char *cmd = line_word(&args);
    while (*args == ' ')
        args++;
    if (!*tag || !*cmd || strlen(tag) >= sizeof(s->imap_tag) || strcmp(tag, "*") == 0 ||
        strcmp(tag, "+") == 0) {
        sess_send(s, "* BAD Error in IMAP command received by server.\r\n");
        return;
    }
    memcpy(s->imap_tag, tag, strlen(tag) + 1);
    if (len && line[len - 1] == '}') {
        sess_sendf(s, "%s BAD Literals are not supported.\r\n", tag);
    } else if (strcasecmp(cmd, "CAPABILITY") == 0) {
        sess_send(s, "* CAPABILITY ");
        send_caps(s);
        sess_sendf(s, "\r\n%s OK Capability completed.\r\n", tag);
    } else if (strcasecmp(cmd, "NOOP") == 0) {
        sess_sendf(s, "%s OK NOOP completed.\r\n", tag);
    } else if (strcasecmp(cmd, "ID") == 0) {
        sess_sendf(s, "* ID NIL\r\n%s OK ID completed.\r\n", tag);
    } else if (strcasecmp(cmd, "LOGOUT") == 0) {
        sess_sendf(s, "* BYE Logging out\r\n%s OK Logout completed.\r\n", tag);
        sess_close_after_flush(s, END_COMPLETED);
    } else if (strcasecmp(cmd, "STARTTLS") == 0) {
        if (s->is_tls) {
            sess_sendf(s, "%s BAD TLS is already active.\r\n", tag);
        } else if (!sess_may_starttls(s)) {
            sess_sendf(s, "%s BAD TLS support isn't enabled.\r\n", tag);
        } else {
            sess_sendf(s, "%s OK Begin TLS negotiation now.\r\n", tag);
            sess_starttls_after_flush(s);
        }
    } else if (strcasecmp(cmd, "LOGIN") == 0) {
        char *user = line_word(&args);
        char *pass = line_word(&args);
        if (!*user || !*pass)
            sess_sendf(s, "%s BAD Error in IMAP command LOGIN: Missing arguments.\r\n", tag);
        else if (!sess_may_auth(s))
            sess_sendf(s, "%s %s\r\n", tag, privacy_required);
        else
            auth_failed(s);
    } else if (strcasecmp(cmd, "AUTHENTICATE") == 0) {
        cmd_authenticate(s, args);
    } else {
        sess_sendf(s, "%s BAD Error in IMAP command %.32s: Unknown command.\r\n", tag, cmd);
    }
}
