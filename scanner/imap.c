/*
 * imap.c - the IMAP probe (RFC 9051/3501; STARTTLS and LOGINDISABLED,
 * RFC 3501 6.2.1; implicit TLS on 993, RFC 8314).
 *
 * The greeting is one untagged line: OK (maybe with a [CAPABILITY ...]
 * code), PREAUTH, or BYE (the server turns us away). If the greeting
 * carried no capabilities we ask with CAPABILITY. The capabilities say
 * whether STARTTLS is there, which SASL mechanisms (AUTH=...) are offered
 * in cleartext, and whether LOGIN is disabled before TLS. With
 * --probe-auth, LOGIN with a fake credential tells a server that evaluates
 * passwords in cleartext (NO [AUTHENTICATIONFAILED]) from one that refuses
 * them (NO [PRIVACYREQUIRED], BAD with LOGINDISABLED). Then STARTTLS, the
 * handshake, CAPABILITY again, LOGOUT.
 *
 *   phase                        on
 *   IMAP_AWAIT_GREETING          * OK / * PREAUTH -> caps or CAPABILITY; * BYE -> server-busy
 *   IMAP_AWAIT_CAPABILITY        * CAPABILITY ...; tagged OK -> next step
 *   IMAP_AWAIT_LOGIN_REPLY       tagged -> auth_probe verdict -> STARTTLS or LOGOUT
 *   IMAP_AWAIT_STARTTLS_REPLY    tagged OK -> TLS; NO/BAD -> starttls-refused
 *   (TLS up)                     [--downgrade-checks: silent wait for "a OK" to the
 *                                "a NOOP" sent with STARTTLS, downgrade.h]
 *                                CAPABILITY -> IMAP_AWAIT_CAPABILITY -> LOGOUT
 *
 * With --downgrade-checks, starttls_required says whether a cleartext
 * login is refused: the --probe-auth verdict when there is one, else
 * LOGINDISABLED without AUTH=PLAIN/LOGIN.
 *
 * Untagged lines we do not need (Dovecot's "* OK Waiting for
 * authentication process to respond.." among them) are skipped; a line
 * ending in a literal {n} makes us ask the engine to drop the next n bytes
 * unframed (conn_skip). That request dies with the cleartext: conn_start_tls
 * forgets it, so a literal announced before TLS cannot eat TLS bytes.
 *
 * With --probe-auth, a server that hangs up on the fake LOGIN (Courier:
 * "* BYE Temporary problem, please try again later" and a close) gives
 * auth_probe "disconnected"; the probe then goes on over a second
 * connection without the credential (conn_auth_hangup).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "downgrade.h"
#include "reply.h"

enum imap_phase {
    IMAP_AWAIT_GREETING = PHASE_PROTO,
    IMAP_AWAIT_CAPABILITY,
    IMAP_AWAIT_LOGIN_REPLY,
    IMAP_AWAIT_STARTTLS_REPLY,
};

#define IMAP_HAS_STARTTLS 0x01
#define IMAP_LOGINDISABLED 0x02
#define IMAP_HAVE_CAPS 0x04
#define IMAP_PASSWORD_MECH 0x08 /* AUTH=PLAIN or AUTH=LOGIN in cleartext */

#define IMAP_LITERAL_MAX 65536

static const char *imap_phase_name(int phase)
{
    switch ((enum imap_phase)phase) {
    case IMAP_AWAIT_GREETING: return "await-greeting";
    case IMAP_AWAIT_CAPABILITY: return "await-capability";
    case IMAP_AWAIT_LOGIN_REPLY: return "await-login-reply";
    case IMAP_AWAIT_STARTTLS_REPLY: return "await-starttls-reply";
    }
    return "?";
}

static void current_tag(const struct conn *c, char *tag, size_t len)
{
    snprintf(tag, len, "m%d", c->tag_seq);
}

static void send_tagged(struct conn *c, const char *command, int phase)
{
    char tag[16];
    c->tag_seq++;
    current_tag(c, tag, sizeof tag);
    conn_sendf(c, "%s %s\r\n", tag, command);
    conn_expect(c, phase);
}

static void logout(struct conn *c, enum rec_status status)
{
    char cmd[32];
    c->tag_seq++;
    snprintf(cmd, sizeof cmd, "m%d LOGOUT\r\n", c->tag_seq);
    conn_quit(c, cmd, status);
}

/* The cleartext facts of a second connection (after an auth probe
 * hang-up) were recorded by the first one: they are not written twice. */
static bool records_cleartext(const struct conn *c)
{
    return c->is_tls || !c->is_second;
}

static void add_caps(struct conn *c, const char *s, size_t len)
{
    struct caps_seen seen = {0};
    reply_imap_caps(records_cleartext(c) ? &c->rec : NULL, c->is_tls, s, len, &seen);
    if (!c->is_tls) {
        if (seen.starttls)
            c->flags |= IMAP_HAS_STARTTLS;
        if (seen.logindisabled)
            c->flags |= IMAP_LOGINDISABLED;
        if (seen.password_mech)
            c->flags |= IMAP_PASSWORD_MECH;
    }
    c->flags |= IMAP_HAVE_CAPS;
}

static void after_cleartext_caps(struct conn *c)
{
    downgrade_required_from_login(c, !(c->flags & IMAP_LOGINDISABLED) || (c->flags & IMAP_PASSWORD_MECH));
    if (!(c->flags & IMAP_HAS_STARTTLS)) {
        logout(c, STATUS_OK);
        return;
    }
    char cmd[32];
    c->tag_seq++;
    snprintf(cmd, sizeof cmd, "m%d STARTTLS\r\n", c->tag_seq);
    downgrade_send_starttls(c, cmd);
    conn_expect(c, IMAP_AWAIT_STARTTLS_REPLY);
}

/* All capabilities are known for the current side of TLS. */
static void caps_done(struct conn *c)
{
    struct record *r = &c->rec;
    if (records_cleartext(c))
        reply_caps_complete(r, c->is_tls);
    if (c->is_tls) {
        logout(c, STATUS_OK);
        return;
    }
    if (records_cleartext(c)) {
        downgrade_masked_caps(r);
        /* from the whole reply, not from the capped lists */
        bool logindisabled = c->flags & IMAP_LOGINDISABLED;
        rec_set_bool(r, F_STARTTLS_OFFERED, c->flags & IMAP_HAS_STARTTLS);
        rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, !logindisabled || (c->flags & IMAP_PASSWORD_MECH));
    }
    if (conn_probe_auth(c) && c->job.port.mode == TLS_MODE_STARTTLS) {
        conn_credential_sent(c);
        send_tagged(c, "LOGIN \"mailtls-probe\" \"not-a-real-password\"", IMAP_AWAIT_LOGIN_REPLY);
        return;
    }
    after_cleartext_caps(c);
}

static void imap_start(struct conn *c)
{
    conn_expect(c, IMAP_AWAIT_GREETING);
}

static void imap_tls_up(struct conn *c)
{
    if (downgrade_after_tls(c))
        return;
    c->flags &= (uint8_t)~IMAP_HAVE_CAPS;
    send_tagged(c, "CAPABILITY", IMAP_AWAIT_CAPABILITY);
}

static void on_greeting(struct conn *c, const char *line, size_t len)
{
    if (records_cleartext(c))
        rec_set_text(&c->rec, F_BANNER, line, len);
    if (len >= 5 && strncasecmp(line, "* BYE", 5) == 0) {
        conn_finish(c, STATUS_SERVER_BUSY, "greeting BYE");
        return;
    }
    bool ok = len >= 4 && strncasecmp(line, "* OK", 4) == 0;
    bool preauth = len >= 9 && strncasecmp(line, "* PREAUTH", 9) == 0;
    if (!ok && !preauth) {
        conn_finish(c, STATUS_PROTOCOL_ERROR, "greeting is not * OK, * PREAUTH or * BYE");
        return;
    }
    size_t clen;
    const char *caps = reply_imap_capability_code(line, len, &clen);
    if (caps) {
        add_caps(c, caps, clen);
        caps_done(c);
    } else {
        send_tagged(c, "CAPABILITY", IMAP_AWAIT_CAPABILITY);
    }
}

static void on_login_reply(struct conn *c, int kind, const char *rest, size_t rlen)
{
    const char *verdict = "unexpected";
    if (reply_text_contains(rest, rlen, "PRIVACYREQUIRED") || (kind != 1 && (c->flags & IMAP_LOGINDISABLED)))
        verdict = "tls-required";
    else if (kind == 2)
        verdict = "cleartext-evaluated"; /* NO: the credential was checked (and failed) */
    rec_set_str(&c->rec, F_AUTH_PROBE, verdict);
    rec_set_text(&c->rec, F_AUTH_PROBE_REPLY, rest, rlen);
    after_cleartext_caps(c);
}

static void imap_line(struct conn *c, const char *line, size_t len)
{
    if (c->phase == PHASE_AWAIT_INJECTED_REPLY) {
        downgrade_injected_line(c, line, len);
        return;
    }
    long lit = reply_literal_len(line, len);
    if (lit >= 0) {
        if (lit > IMAP_LITERAL_MAX) {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "literal of %ld bytes", lit);
            return;
        }
        conn_skip(c, (uint32_t)lit);
    }
    if (c->phase == IMAP_AWAIT_GREETING) {
        /* Dovecot says this before its real greeting when auth is slow */
        if (reply_text_contains(line, len, "Waiting for authentication process"))
            return;
        on_greeting(c, line, len);
        return;
    }
    size_t clen;
    const char *caps = reply_imap_capability_untagged(line, len, &clen);
    if (!caps)
        caps = reply_imap_capability_code(line, len, &clen);
    if (caps && c->phase == IMAP_AWAIT_CAPABILITY) {
        add_caps(c, caps, clen);
        return;
    }
    if (len >= 5 && strncasecmp(line, "* BYE", 5) == 0) {
        /* after the credential: the server hung up on it, not on us */
        bool is_answer = c->phase == IMAP_AWAIT_LOGIN_REPLY;
        if (!conn_auth_hangup(c, is_answer ? line : NULL, len))
            conn_finish(c, STATUS_SERVER_BUSY, "server said BYE");
        return;
    }
    char tag[16];
    current_tag(c, tag, sizeof tag);
    const char *rest;
    size_t rlen;
    int kind = reply_imap_tagged(line, len, tag, &rest, &rlen);
    if (!kind)
        return; /* untagged data or a continuation we do not need */
    switch ((enum imap_phase)c->phase) {
    case IMAP_AWAIT_CAPABILITY:
        if (kind != 1 && !(c->flags & IMAP_HAVE_CAPS)) {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "CAPABILITY refused");
            return;
        }
        caps_done(c);
        break;
    case IMAP_AWAIT_LOGIN_REPLY: on_login_reply(c, kind, rest, rlen); break;
    case IMAP_AWAIT_STARTTLS_REPLY:
        if (!conn_records_facts(c)) {
            /* the injection connection: the probe recorded the reply */
            if (kind == 1)
                conn_start_tls(c);
            else
                conn_injection_over(c);
            break;
        }
        rec_set_text(&c->rec, F_STARTTLS_REPLY, line, len);
        if (kind == 1) {
            conn_start_tls(c);
        } else {
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
            logout(c, STATUS_STARTTLS_REFUSED);
        }
        break;
    case IMAP_AWAIT_GREETING: break;
    }
}

/* The reply in progress will never be complete: keep what arrived. */
static void imap_cut(struct conn *c)
{
    switch ((enum imap_phase)c->phase) {
    case IMAP_AWAIT_GREETING:
        if (records_cleartext(c))
            conn_store_partial(c, F_BANNER, false);
        break;
    case IMAP_AWAIT_LOGIN_REPLY: conn_store_partial(c, F_AUTH_PROBE_REPLY, false); break;
    case IMAP_AWAIT_STARTTLS_REPLY:
        if (conn_records_facts(c))
            conn_store_partial(c, F_STARTTLS_REPLY, false);
        break;
    case IMAP_AWAIT_CAPABILITY:
        /* an untagged CAPABILITY came, its tagged completion did not */
        if ((c->flags & IMAP_HAVE_CAPS) && records_cleartext(c))
            conn_store_partial(c, c->is_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS, false);
        break;
    }
}

const struct proto_ops imap_ops = {
    .name = "imap",
    .on_start = imap_start,
    .on_line = imap_line,
    .on_tls_up = imap_tls_up,
    .phase_name = imap_phase_name,
    .on_cut = imap_cut,
};
