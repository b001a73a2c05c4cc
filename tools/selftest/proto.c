/*
 * What SMTP (RFC 5321, 3207, 4954), IMAP (RFC 3501) and POP3 (RFC 1939,
 * 2595, 5034) answer, in each case.
 *
 * Normal behaviour (baseline, and two_phase's first connection): STARTTLS
 * offered; AUTH advertised only under TLS (IMAP says LOGINDISABLED, POP3
 * lists no USER/SASL before TLS). Under attack (t1-t4) AUTH PLAIN and
 * LOGIN are advertised in cleartext too, as a stripped real server's
 * would be, to tempt the client, and:
 *   t1  STARTTLS is missing from EHLO / CAPABILITY / CAPA; a STARTTLS sent
 *       anyway is an unknown command;
 *   t2  STARTTLS gets its go-ahead, then the ClientHello is answered with
 *       cleartext junk and a reset (conn.c);
 *   t3  STARTTLS is refused (SMTP 454, IMAP NO, POP3 -ERR), or with
 *       --t3-drop the connection is closed without an answer;
 *   t4  TLS works, then the session is reset right after the credentials
 *       arrive (or at the fifth command under TLS without any).
 * Credentials are accepted whatever they are, with or without TLS and
 * whether AUTH was advertised or not: the point is to see what the client
 * sends. A user name's session part is kept (the session id); the rest of
 * the name and the password are dropped and wiped.
 *
 * Mail: MAIL FROM is refused (550 5.7.1), so RCPT and DATA never start a
 * transaction: nothing is relayed or stored. IMAP shows an empty INBOX,
 * POP3 an empty maildrop.
 */
#include "selftest.h"

#include <stdio.h>
#include <string.h>

static bool playing(const struct conn *c, enum st_case k)
{
    return c->ev.is_attack && c->ev.kase == k;
}

static bool hostile(const struct conn *c)
{
    return c->ev.is_attack && c->ev.kase != CASE_BASELINE;
}

static bool offers_starttls(const struct conn *c)
{
    return !c->ev.is_tls && !c->is_implicit && !playing(c, CASE_T1);
}

static bool offers_auth(const struct conn *c)
{
    return c->ev.is_tls || hostile(c);
}

/* Logs the capability list just sent (and the strip, once, for t1). */
static void caps_sent(struct conn *c)
{
    c->ev.starttls_advertised = offers_starttls(c);
    conn_event(c, EV_CAPABILITY, NULL, NULL);
    if (playing(c, CASE_T1) && !c->ev.is_tls && !c->has_stripped) {
        c->has_stripped = true;
        conn_event(c, EV_DISRUPT, NULL, "starttls_stripped");
    }
}

struct proto_text {
    const char *go_ahead, *refused, *unknown, *already; /* STARTTLS; %s = IMAP tag */
    const char *prompt;                                 /* SASL challenge: + base64 */
    const char *auth_ok, *auth_bad, *auth_cancel, *no_mech;
};

static const struct proto_text texts[] = {
    [ST_SMTP] = {"220 2.0.0 Ready to start TLS\r\n",
                 "454 4.7.0 TLS not available due to temporary reason\r\n",
                 "502 5.5.1 Unrecognized command\r\n", "503 5.5.1 TLS already active\r\n", "334 %s\r\n",
                 "235 2.7.0 Authentication successful\r\n", "501 5.5.2 Cannot decode response\r\n",
                 "501 5.7.0 Authentication cancelled\r\n", "504 5.5.4 Unrecognized authentication type\r\n"},
    [ST_IMAP] = {"%s OK Begin TLS negotiation now\r\n", "%s NO STARTTLS unavailable\r\n",
                 "%s BAD Unknown command\r\n", "%s BAD TLS already active\r\n", "+ %s\r\n",
                 "%s OK AUTHENTICATE completed\r\n", "%s BAD Invalid response\r\n",
                 "%s BAD AUTHENTICATE cancelled\r\n", "%s NO Unsupported mechanism\r\n"},
    [ST_POP3] = {"+OK Begin TLS negotiation\r\n", "-ERR TLS not available\r\n", "-ERR Unknown command\r\n",
                 "-ERR TLS already active\r\n", "+ %s\r\n", "+OK Logged in\r\n", "-ERR Invalid response\r\n",
                 "-ERR Authentication cancelled\r\n", "-ERR Unsupported mechanism\r\n"},
};

/* Sends a reply that may hold the IMAP tag (%s); for SMTP/POP3 the text has
 * no %s and the tag is ignored. */
static void reply(struct conn *c, const char *fmt)
{
    if (c->proto == ST_IMAP)
        conn_sendf(c, fmt, c->tag);
    else
        conn_send(c, fmt);
}

static void starttls(struct conn *c)
{
    const struct proto_text *t = &texts[c->proto];
    if (c->ev.is_tls || c->is_implicit) {
        reply(c, t->already);
    } else if (playing(c, CASE_T1)) {
        conn_event(c, EV_STARTTLS, NULL, "stripped");
        reply(c, t->unknown);
    } else if (playing(c, CASE_T3) && c->is_t3_drop) {
        conn_event(c, EV_STARTTLS, NULL, "dropped");
        conn_event(c, EV_DISRUPT, NULL, "starttls_dropped");
        c->phase = PH_FLUSH_THEN_CLOSE;
        c->close_why = "starttls_dropped";
    } else if (playing(c, CASE_T3)) {
        conn_event(c, EV_STARTTLS, NULL, "refused");
        conn_event(c, EV_DISRUPT, NULL, "starttls_refused");
        reply(c, t->refused);
    } else if (playing(c, CASE_T2)) {
        conn_event(c, EV_STARTTLS, NULL, "go_ahead");
        conn_event(c, EV_DISRUPT, NULL, "handshake_disrupted");
        reply(c, t->go_ahead);
        c->phase = PH_FLUSH_THEN_DISRUPT;
    } else {
        conn_event(c, EV_STARTTLS, NULL, "go_ahead");
        reply(c, t->go_ahead);
        c->phase = PH_FLUSH_THEN_TLS;
    }
}

bool proto_login(struct server *sv, struct conn *c, const char *user, const char *mechanism)
{
    char session[ST_SESSION_MAX + 1];
    if (stc_session_from_user(user, strlen(user), session, sizeof(session)))
        conn_set_session(c, session);
    c->has_login = true;
    conn_event(c, EV_LOGIN, mechanism, NULL);
    explicit_bzero(c->user, sizeof(c->user)); /* AUTH LOGIN / POP3 USER kept it until now */
    if (c->ev.is_tls && playing(c, CASE_T4)) {
        conn_event(c, EV_DISRUPT, NULL, "tls_broken_after_auth");
        conn_close(sv, c, "tls_broken", true);
        return false;
    }
    return true;
}

static void sasl_plain(struct server *sv, struct conn *c, const char *b64, size_t len)
{
    unsigned char msg[RX_CAP];
    char user[ST_USER_MAX];
    long n = stc_b64_decode(b64, len, msg, sizeof(msg));
    bool is_ok = n >= 0 && stc_plain_user(msg, (size_t)n, user, sizeof(user)) == 0;
    explicit_bzero(msg, sizeof(msg));
    c->auth = AUTH_NONE;
    if (!is_ok) {
        reply(c, texts[c->proto].auth_bad);
        return;
    }
    if (proto_login(sv, c, user, "PLAIN"))
        reply(c, texts[c->proto].auth_ok);
    explicit_bzero(user, sizeof(user));
}

static void prompt(struct conn *c, const char *b64)
{
    conn_sendf(c, texts[c->proto].prompt, b64);
}

/* AUTH / AUTHENTICATE mech [initial-response]. */
static void sasl_start(struct server *sv, struct conn *c, const char *mech, const char *ir, size_t ir_len)
{
    bool has_ir = ir_len > 0 && !(ir_len == 1 && ir[0] == '=');
    conn_event(c, EV_AUTH_COMMAND, mech, NULL);
    if (strcmp(mech, "PLAIN") == 0) {
        if (has_ir) {
            sasl_plain(sv, c, ir, ir_len);
            return;
        }
        c->auth = AUTH_AWAIT_PLAIN;
        prompt(c, "");
    } else if (strcmp(mech, "LOGIN") == 0) {
        c->auth = AUTH_AWAIT_LOGIN_USER;
        if (has_ir) {
            long n = stc_b64_decode(ir, ir_len, (unsigned char *)c->user, sizeof(c->user) - 1);
            if (n < 0) {
                c->auth = AUTH_NONE;
                reply(c, texts[c->proto].auth_bad);
                return;
            }
            c->user[n] = '\0';
            c->auth = AUTH_AWAIT_LOGIN_PASS;
            prompt(c, "UGFzc3dvcmQ6");
            return;
        }
        prompt(c, "VXNlcm5hbWU6");
    } else {
        reply(c, texts[c->proto].no_mech);
    }
}

/* A line answering a SASL challenge. */
static void sasl_continue(struct server *sv, struct conn *c, const char *line, size_t len)
{
    const struct proto_text *t = &texts[c->proto];
    len = stc_line_trim(line, len);
    if (len == 1 && line[0] == '*') {
        c->auth = AUTH_NONE;
        reply(c, t->auth_cancel);
        return;
    }
    if (c->auth == AUTH_AWAIT_PLAIN) {
        sasl_plain(sv, c, line, len);
        return;
    }
    unsigned char buf[RX_CAP];
    long n = stc_b64_decode(line, len, buf, sizeof(buf) - 1);
    if (n < 0) {
        c->auth = AUTH_NONE;
        reply(c, t->auth_bad);
    } else if (c->auth == AUTH_AWAIT_LOGIN_USER) {
        size_t ulen = (size_t)n < sizeof(c->user) ? (size_t)n : sizeof(c->user) - 1;
        memcpy(c->user, buf, ulen);
        c->user[ulen] = '\0';
        c->auth = AUTH_AWAIT_LOGIN_PASS;
        prompt(c, "UGFzc3dvcmQ6");
    } else {
        c->auth = AUTH_NONE;
        if (proto_login(sv, c, c->user, "LOGIN"))
            reply(c, t->auth_ok);
    }
    explicit_bzero(buf, sizeof(buf));
}

/* The next word of line[*off..len) (CRLF excluded), as pointer + length. */
static const char *word(const char *line, size_t len, size_t *off, size_t *wlen)
{
    size_t i = *off;
    while (i < len && line[i] == ' ')
        i++;
    size_t start = i;
    while (i < len && line[i] != ' ')
        i++;
    *wlen = i - start;
    *off = i;
    return line + start;
}

/* A mechanism name upper-cased into buf (cap 32). */
static void mech_name(const char *w, size_t wlen, char *buf)
{
    size_t rest;
    stc_verb(w, wlen, buf, 32, &rest);
}

static void smtp_command(struct server *sv, struct conn *c, const char *line, size_t len)
{
    char verb[16], mech[32];
    size_t off;
    len = stc_line_trim(line, len);
    stc_verb(line, len, verb, sizeof(verb), &off);
    if (strcmp(verb, "EHLO") == 0) {
        conn_event(c, EV_EHLO, NULL, NULL);
        conn_send(c, "250-selftest.example\r\n");
        if (offers_starttls(c))
            conn_send(c, "250-STARTTLS\r\n");
        if (offers_auth(c))
            conn_send(c, "250-AUTH PLAIN LOGIN\r\n");
        conn_send(c, "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
        caps_sent(c);
    } else if (strcmp(verb, "HELO") == 0) {
        conn_event(c, EV_EHLO, NULL, "helo");
        conn_send(c, "250 selftest.example\r\n");
    } else if (strcmp(verb, "STARTTLS") == 0) {
        starttls(c);
    } else if (strcmp(verb, "AUTH") == 0) {
        size_t mlen, irlen;
        const char *m = word(line, len, &off, &mlen);
        const char *ir = word(line, len, &off, &irlen);
        mech_name(m, mlen, mech);
        sasl_start(sv, c, mech, ir, irlen);
    } else if (strcmp(verb, "MAIL") == 0) {
        conn_send(c, "550 5.7.1 mailtls-selftest accepts no mail (test service)\r\n");
    } else if (strcmp(verb, "RCPT") == 0) {
        conn_send(c, "503 5.5.1 Error: need MAIL command\r\n");
    } else if (strcmp(verb, "DATA") == 0 || strcmp(verb, "BDAT") == 0) {
        conn_send(c, "503 5.5.1 Error: need RCPT command\r\n");
    } else if (strcmp(verb, "RSET") == 0 || strcmp(verb, "NOOP") == 0) {
        conn_send(c, "250 2.0.0 OK\r\n");
    } else if (strcmp(verb, "VRFY") == 0) {
        conn_send(c, "252 2.0.0 Cannot VRFY\r\n");
    } else if (strcmp(verb, "QUIT") == 0) {
        conn_send(c, "221 2.0.0 Bye\r\n");
        c->phase = PH_FLUSH_THEN_CLOSE;
        c->close_why = "quit";
    } else {
        conn_send(c, "502 5.5.1 Unrecognized command\r\n");
    }
}

static void imap_caps(struct conn *c)
{
    conn_sendf(c, "* CAPABILITY IMAP4rev1%s%s\r\n", offers_starttls(c) ? " STARTTLS" : "",
               offers_auth(c) ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
    caps_sent(c);
}

static void imap_login(struct server *sv, struct conn *c, const char *args, const char *end)
{
    char user[ST_USER_MAX], pass[RX_CAP];
    const char *p = args;
    conn_event(c, EV_AUTH_COMMAND, "imap_login", NULL);
    bool is_ok = stc_imap_astring(&p, end, user, sizeof(user)) >= 0 &&
                 stc_imap_astring(&p, end, pass, sizeof(pass)) >= 0;
    explicit_bzero(pass, sizeof(pass));
    if (!is_ok)
        conn_sendf(c, "%s BAD Invalid arguments\r\n", c->tag);
    else if (proto_login(sv, c, user, "imap_login"))
        conn_sendf(c, "%s OK LOGIN completed\r\n", c->tag);
    explicit_bzero(user, sizeof(user));
}

static void imap_command(struct server *sv, struct conn *c, const char *cmd, size_t len)
{
    char verb[16], mech[32];
    size_t off = 0, tlen;
    const char *tag =
        word(cmd, stc_line_len(cmd, len) ? stc_line_trim(cmd, stc_line_len(cmd, len)) : len, &off, &tlen);
    snprintf(c->tag, sizeof(c->tag), "%.*s", (int)(tlen < 32 ? tlen : 32), tag);
    size_t rest;
    stc_verb(cmd + off, len - off, verb, sizeof(verb), &rest);
    off += rest;
    const char *args = cmd + off, *end = cmd + len;
    if (strcmp(verb, "CAPABILITY") == 0) {
        imap_caps(c);
        conn_sendf(c, "%s OK CAPABILITY completed\r\n", c->tag);
    } else if (strcmp(verb, "STARTTLS") == 0) {
        starttls(c);
    } else if (strcmp(verb, "LOGIN") == 0) {
        imap_login(sv, c, args, end);
    } else if (strcmp(verb, "AUTHENTICATE") == 0) {
        size_t mlen, irlen, tl = stc_line_trim(cmd, len);
        const char *m = word(cmd, tl, &off, &mlen);
        const char *ir = word(cmd, tl, &off, &irlen);
        mech_name(m, mlen, mech);
        sasl_start(sv, c, mech, ir, irlen);
    } else if (strcmp(verb, "SELECT") == 0 || strcmp(verb, "EXAMINE") == 0) {
        conn_sendf(c,
                   "* FLAGS (\\Seen \\Deleted)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] UIDs "
                   "valid\r\n* OK [UIDNEXT 1] Predicted next UID\r\n%s OK [%s] %s completed\r\n",
                   c->tag, verb[0] == 'S' ? "READ-WRITE" : "READ-ONLY", verb);
    } else if (strcmp(verb, "LIST") == 0 || strcmp(verb, "LSUB") == 0) {
        conn_sendf(c, "* %s (\\HasNoChildren) \"/\" INBOX\r\n%s OK %s completed\r\n", verb, c->tag, verb);
    } else if (strcmp(verb, "SEARCH") == 0 || strcmp(verb, "UID") == 0) {
        conn_sendf(c, "* SEARCH\r\n%s OK %s completed\r\n", c->tag, verb);
    } else if (strcmp(verb, "STATUS") == 0) {
        conn_sendf(c,
                   "* STATUS INBOX (MESSAGES 0 RECENT 0 UNSEEN 0 UIDNEXT 1 UIDVALIDITY 1)\r\n%s OK STATUS "
                   "completed\r\n",
                   c->tag);
    } else if (strcmp(verb, "NAMESPACE") == 0) {
        conn_sendf(c, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n%s OK NAMESPACE completed\r\n", c->tag);
    } else if (strcmp(verb, "ID") == 0) {
        conn_sendf(c, "* ID NIL\r\n%s OK ID completed\r\n", c->tag);
    } else if (strcmp(verb, "LOGOUT") == 0) {
        conn_sendf(c, "* BYE Logging out\r\n%s OK LOGOUT completed\r\n", c->tag);
        c->phase = PH_FLUSH_THEN_CLOSE;
        c->close_why = "quit";
    } else if (verb[0]) {
        conn_sendf(c, "%s OK %s completed\r\n", c->tag, verb);
    } else {
        conn_sendf(c, "%s BAD Empty command\r\n", c->tag[0] ? c->tag : "*");
    }
}

static void pop3_command(struct server *sv, struct conn *c, const char *line, size_t len)
{
    char verb[16], mech[32];
    size_t off;
    len = stc_line_trim(line, len);
    stc_verb(line, len, verb, sizeof(verb), &off);
    if (strcmp(verb, "CAPA") == 0) {
        conn_send(c, "+OK Capability list follows\r\n");
        if (offers_starttls(c))
            conn_send(c, "STLS\r\n");
        if (offers_auth(c))
            conn_send(c, "USER\r\nSASL PLAIN LOGIN\r\n");
        conn_send(c, "UIDL\r\nTOP\r\n.\r\n");
        caps_sent(c);
    } else if (strcmp(verb, "STLS") == 0) {
        starttls(c);
    } else if (strcmp(verb, "USER") == 0) {
        conn_event(c, EV_AUTH_COMMAND, "USER", NULL);
        snprintf(c->user, sizeof(c->user), "%.*s", (int)(len - off), line + off);
        conn_send(c, "+OK\r\n");
    } else if (strcmp(verb, "PASS") == 0) {
        if (proto_login(sv, c, c->user, "USER"))
            conn_send(c, "+OK Logged in\r\n");
    } else if (strcmp(verb, "AUTH") == 0) {
        size_t mlen, irlen;
        const char *m = word(line, len, &off, &mlen);
        const char *ir = word(line, len, &off, &irlen);
        if (mlen == 0) {
            conn_send(c, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
            return;
        }
        mech_name(m, mlen, mech);
        sasl_start(sv, c, mech, ir, irlen);
    } else if (strcmp(verb, "STAT") == 0) {
        conn_send(c, "+OK 0 0\r\n");
    } else if (strcmp(verb, "LIST") == 0 || strcmp(verb, "UIDL") == 0) {
        conn_send(c, "+OK 0 messages\r\n.\r\n");
    } else if (strcmp(verb, "NOOP") == 0 || strcmp(verb, "RSET") == 0) {
        conn_send(c, "+OK\r\n");
    } else if (strcmp(verb, "QUIT") == 0) {
        conn_send(c, "+OK Bye\r\n");
        c->phase = PH_FLUSH_THEN_CLOSE;
        c->close_why = "quit";
    } else if (strcmp(verb, "RETR") == 0 || strcmp(verb, "TOP") == 0 || strcmp(verb, "DELE") == 0) {
        conn_send(c, "-ERR No such message\r\n");
    } else {
        conn_send(c, "-ERR Unknown command\r\n");
    }
}

void proto_greet(struct server *sv, struct conn *c)
{
    static const char *const greetings[] = {
        [ST_SMTP] = "220 selftest.example ESMTP mailtls-selftest (a test that plays the attacker; accepts no "
                    "mail)\r\n",
        [ST_IMAP] = "* OK selftest.example mailtls-selftest IMAP4rev1 ready\r\n",
        [ST_POP3] = "+OK selftest.example mailtls-selftest POP3 ready\r\n",
    };
    conn_send(c, greetings[c->proto]);
}

void proto_command(struct server *sv, struct conn *c, char *cmd, size_t len)
{
    if (c->auth != AUTH_NONE) {
        sasl_continue(sv, c, cmd, len);
        return;
    }
    /* t4 without credentials: break the session at the fifth command. */
    if (c->ev.is_tls && playing(c, CASE_T4) && !c->has_login && ++c->cmds_after_tls > 4) {
        conn_event(c, EV_DISRUPT, NULL, "tls_broken_before_auth");
        conn_close(sv, c, "tls_broken", true);
        return;
    }
    switch (c->proto) {
    case ST_SMTP: smtp_command(sv, c, cmd, len); break;
    case ST_IMAP: imap_command(sv, c, cmd, len); break;
    case ST_POP3: pop3_command(sv, c, cmd, len); break;
    }
}
