/*
 * pop3.c - the POP3 probe (RFC 1939; CAPA and STLS, RFC 2449 and 2595;
 * implicit TLS on 995, RFC 8314).
 *
 * Greeting "+OK", then CAPA: a multi-line list ending in "." that names
 * STLS, USER (password login) and the SASL mechanisms. Servers without
 * CAPA answer -ERR; we tolerate that and still try STLS on a STARTTLS
 * port, since the capability may exist unannounced. With --probe-auth,
 * USER then PASS with a fake credential: -ERR to USER (Dovecot's "[AUTH]
 * Plaintext authentication disallowed") means TLS is required, -ERR to
 * PASS means the password was evaluated in cleartext. Then STLS, the
 * handshake, CAPA again, QUIT.
 *
 *   phase                      on
 *   POP3_AWAIT_GREETING        +OK -> CAPA; -ERR -> server-busy
 *   POP3_AWAIT_CAPA_STATUS     +OK -> list follows; -ERR -> no CAPA, go on
 *   POP3_AWAIT_CAPA_LIST       lines until "." -> next step
 *   POP3_AWAIT_USER_REPLY      +OK -> PASS; -ERR -> tls-required
 *   POP3_AWAIT_PASS_REPLY      -ERR -> cleartext-evaluated
 *   POP3_AWAIT_STLS_REPLY      +OK -> TLS; -ERR -> starttls-refused
 *   (TLS up)                   [--downgrade-checks: silent wait for an answer to the
 *                              NOOP sent with STLS, downgrade.h]
 *                              CAPA -> ... -> QUIT
 *
 * With --downgrade-checks, starttls_required says whether a cleartext
 * login is refused: the --probe-auth verdict when there is one, else no
 * USER and no SASL PLAIN/LOGIN in the cleartext CAPA (null without CAPA).
 *
 * A server that hangs up after the fake USER/PASS (a close, often right
 * after its -ERR) gives auth_probe "disconnected"; the probe then goes on
 * over a second connection without the credential (conn_auth_hangup).
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "downgrade.h"
#include "reply.h"

enum pop3_phase {
    POP3_AWAIT_GREETING = PHASE_PROTO,
    POP3_AWAIT_CAPA_STATUS,
    POP3_AWAIT_CAPA_LIST,
    POP3_AWAIT_USER_REPLY,
    POP3_AWAIT_PASS_REPLY,
    POP3_AWAIT_STLS_REPLY,
};

#define POP3_HAS_STLS 0x01
#define POP3_HAS_USER 0x02
#define POP3_CAPA_FAILED 0x04
#define POP3_PASSWORD_MECH 0x08 /* SASL PLAIN or LOGIN in cleartext */

static const char *pop3_phase_name(int phase)
{
    switch ((enum pop3_phase)phase) {
    case POP3_AWAIT_GREETING: return "await-greeting";
    case POP3_AWAIT_CAPA_STATUS: return "await-capa-reply";
    case POP3_AWAIT_CAPA_LIST: return "await-capa-list";
    case POP3_AWAIT_USER_REPLY: return "await-user-reply";
    case POP3_AWAIT_PASS_REPLY: return "await-pass-reply";
    case POP3_AWAIT_STLS_REPLY: return "await-stls-reply";
    }
    return "?";
}

static void pop3_start(struct conn *c)
{
    conn_expect(c, POP3_AWAIT_GREETING);
}

static void send_capa(struct conn *c)
{
    conn_send_lit(c, "CAPA\r\n");
    conn_expect(c, POP3_AWAIT_CAPA_STATUS);
}

static void pop3_tls_up(struct conn *c)
{
    if (downgrade_after_tls(c))
        return;
    send_capa(c);
}

static void try_stls(struct conn *c)
{
    if (!(c->flags & POP3_CAPA_FAILED) || rec_has(&c->rec, F_AUTH_PROBE))
        downgrade_required_from_login(c, c->flags & (POP3_HAS_USER | POP3_PASSWORD_MECH));
    /* Without CAPA we cannot know; asking costs one line. */
    if ((c->flags & POP3_HAS_STLS) || (c->flags & POP3_CAPA_FAILED)) {
        downgrade_send_starttls(c, "STLS\r\n");
        conn_expect(c, POP3_AWAIT_STLS_REPLY);
    } else {
        conn_quit(c, "QUIT\r\n", STATUS_OK);
    }
}

/* The cleartext facts of a second connection (after an auth probe
 * hang-up) were recorded by the first one: they are not written twice. */
static bool records_cleartext(const struct conn *c)
{
    return c->is_tls || !c->is_second;
}

static void capa_done(struct conn *c)
{
    struct record *r = &c->rec;
    if (records_cleartext(c))
        reply_caps_complete(r, c->is_tls);
    if (c->is_tls) {
        conn_quit(c, "QUIT\r\n", STATUS_OK);
        return;
    }
    if (records_cleartext(c)) {
        downgrade_masked_caps(r);
        /* from the whole list, not from the capped record lists */
        rec_set_bool(r, F_STARTTLS_OFFERED, c->flags & POP3_HAS_STLS);
        if (!(c->flags & POP3_CAPA_FAILED))
            rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, c->flags & (POP3_HAS_USER | POP3_PASSWORD_MECH));
    }
    if (conn_probe_auth(c) && c->job.port.mode == TLS_MODE_STARTTLS) {
        conn_credential_sent(c);
        conn_send_lit(c, "USER mailtls-probe\r\n");
        conn_expect(c, POP3_AWAIT_USER_REPLY);
        return;
    }
    try_stls(c);
}

static void set_probe(struct conn *c, const char *verdict, const char *line, size_t len)
{
    rec_set_str(&c->rec, F_AUTH_PROBE, verdict);
    rec_set_text(&c->rec, F_AUTH_PROBE_REPLY, line, len);
}

static void pop3_line(struct conn *c, const char *line, size_t len)
{
    if (c->phase == PHASE_AWAIT_INJECTED_REPLY) {
        downgrade_injected_line(c, line, len);
        return;
    }
    int st = reply_pop3_status(line, len);
    switch ((enum pop3_phase)c->phase) {
    case POP3_AWAIT_GREETING:
        if (records_cleartext(c))
            rec_set_text(&c->rec, F_BANNER, line, len);
        if (st > 0)
            send_capa(c);
        else if (st < 0)
            conn_finish(c, STATUS_SERVER_BUSY, "greeting -ERR");
        else
            conn_finish(c, STATUS_PROTOCOL_ERROR, "greeting is not +OK or -ERR");
        break;
    case POP3_AWAIT_CAPA_STATUS:
        if (st > 0) {
            conn_expect(c, POP3_AWAIT_CAPA_LIST);
        } else if (st < 0) {
            if (!c->is_tls)
                c->flags |= POP3_CAPA_FAILED;
            capa_done(c);
        } else {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "CAPA reply is not +OK or -ERR");
        }
        break;
    case POP3_AWAIT_CAPA_LIST:
        if (len == 1 && line[0] == '.') {
            capa_done(c);
        } else {
            struct caps_seen seen = {0};
            /* a leading ".." is a byte-stuffed "." (RFC 1939 3) */
            if (len >= 2 && line[0] == '.') {
                line++;
                len--;
            }
            reply_pop3_capa(records_cleartext(c) ? &c->rec : NULL, c->is_tls, line, len, &seen);
            if (!c->is_tls) {
                if (seen.starttls)
                    c->flags |= POP3_HAS_STLS;
                if (seen.user)
                    c->flags |= POP3_HAS_USER;
                if (seen.password_mech)
                    c->flags |= POP3_PASSWORD_MECH;
            }
        }
        break;
    case POP3_AWAIT_USER_REPLY:
        if (st > 0) {
            conn_send_lit(c, "PASS not-a-real-password\r\n");
            conn_expect(c, POP3_AWAIT_PASS_REPLY);
        } else {
            set_probe(c, st < 0 ? "tls-required" : "unexpected", line, len);
            try_stls(c);
        }
        break;
    case POP3_AWAIT_PASS_REPLY:
        set_probe(c, st < 0 ? "cleartext-evaluated" : "unexpected", line, len);
        try_stls(c);
        break;
    case POP3_AWAIT_STLS_REPLY:
        if (!conn_records_facts(c)) {
            /* the injection connection: the probe recorded the reply */
            if (st > 0)
                conn_start_tls(c);
            else
                conn_injection_over(c);
            break;
        }
        rec_set_text(&c->rec, F_STARTTLS_REPLY, line, len);
        if (st > 0) {
            if (c->flags & POP3_CAPA_FAILED)
                rec_set_bool(&c->rec, F_STARTTLS_OFFERED, true);
            conn_start_tls(c);
        } else {
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
            conn_quit(c, "QUIT\r\n", (c->flags & POP3_HAS_STLS) ? STATUS_STARTTLS_REFUSED : STATUS_OK);
        }
        break;
    }
}

/* The reply in progress will never be complete: keep what arrived. */
static void pop3_cut(struct conn *c)
{
    switch ((enum pop3_phase)c->phase) {
    case POP3_AWAIT_GREETING:
        if (records_cleartext(c))
            conn_store_partial(c, F_BANNER, false);
        break;
    case POP3_AWAIT_CAPA_LIST:
        if (records_cleartext(c))
            conn_store_partial(c, c->is_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS, false);
        break;
    case POP3_AWAIT_USER_REPLY:
    case POP3_AWAIT_PASS_REPLY: conn_store_partial(c, F_AUTH_PROBE_REPLY, false); break;
    case POP3_AWAIT_STLS_REPLY:
        if (conn_records_facts(c))
            conn_store_partial(c, F_STARTTLS_REPLY, false);
        break;
    case POP3_AWAIT_CAPA_STATUS: break;
    }
}

const struct proto_ops pop3_ops = {
    .name = "pop3",
    .on_start = pop3_start,
    .on_line = pop3_line,
    .on_tls_up = pop3_tls_up,
    .phase_name = pop3_phase_name,
    .on_cut = pop3_cut,
};
