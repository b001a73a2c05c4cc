/*
 * smtp.c - the SMTP probe (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954).
 *
 * We wait for the whole 220 greeting (it may be multi-line, RFC 5321
 * 4.2.1) before saying anything: a client that talks first is refused by
 * Postfix's postscreen and many others. Then EHLO (HELO if EHLO gets a
 * 5xx), and the extensions tell us STARTTLS and the AUTH mechanisms a
 * client sees in cleartext. With --probe-auth we try AUTH PLAIN with a fake
 * credential to learn whether the server would evaluate a password sent in
 * cleartext (535) or insists on TLS first (530/538). Then STARTTLS, the
 * handshake, EHLO again to see what is offered under TLS, and QUIT.
 * On port 465 (implicit TLS) the same conversation runs inside TLS.
 * Variants of SMTP reuse this conversation through smtp.h: their ops carry
 * a struct smtp_variant (the hello verb, whether HELO is a fallback).
 *
 * Replies are recorded byte for byte, each line with the line end it came
 * with (a server sending bare LF gets no CR added). A reply that a
 * deadline, a close or a reset cuts is kept as far as it arrived and named
 * in `partial` (smtp_cut). A server that hangs up on the fake credential
 * (421 or a close) gives auth_probe "disconnected"; the probe then goes on
 * over a second connection without the credential (conn_auth_hangup), so
 * the STARTTLS and TLS facts are still measured.
 *
 *   phase                      on the complete reply
 *   SMTP_AWAIT_GREETING        220 -> EHLO; 421/4xx -> server-busy; 554/5xx -> rejected
 *   SMTP_AWAIT_EHLO_REPLY      250 -> extensions; 5xx -> HELO; 421 -> server-busy
 *   SMTP_AWAIT_HELO_REPLY      250 -> no extensions, QUIT
 *   SMTP_AWAIT_AUTH_REPLY      classify (auth_probe), then STARTTLS or QUIT
 *   SMTP_AWAIT_MAIL_REPLY      (--downgrade-checks) 530 naming TLS -> starttls_required
 *                              true, 2xx -> false; then RSET
 *   SMTP_AWAIT_RSET_REPLY      any -> STARTTLS or QUIT
 *   SMTP_AWAIT_STARTTLS_REPLY  220 -> TLS handshake; else starttls-refused
 *   (TLS up)                   [--downgrade-checks: silent wait for an answer to the
 *                              NOOP sent with STARTTLS, downgrade.h]
 *                              EHLO again -> SMTP_AWAIT_EHLO_REPLY -> QUIT
 *
 * With --downgrade-checks (SMTP, not LMTP), MAIL FROM:<> before TLS asks
 * whether the server lets a client go on in cleartext (RFC 3207 4: 530
 * "Must issue a STARTTLS command first"); RSET undoes it. Never a RCPT,
 * never DATA: nothing can be delivered.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "downgrade.h"
#include "reply.h"
#include "smtp.h"

enum smtp_phase {
    SMTP_AWAIT_GREETING = PHASE_PROTO,
    SMTP_AWAIT_EHLO_REPLY,
    SMTP_AWAIT_HELO_REPLY,
    SMTP_AWAIT_AUTH_REPLY,
    SMTP_AWAIT_STARTTLS_REPLY,
    SMTP_AWAIT_MAIL_REPLY,
    SMTP_AWAIT_RSET_REPLY,
};

/* bits of conn.flags */
#define SMTP_HAS_STARTTLS 0x01
#define SMTP_AUTH_CANCELLED 0x02
#define SMTP_PASSWORD_MECH 0x04 /* PLAIN or LOGIN seen in the cleartext EHLO reply */
#define SMTP_MAIL_TESTED 0x08   /* --downgrade-checks: MAIL FROM:<> was asked */

static const struct smtp_variant smtp_plain = {.hello = "EHLO", .helo_fallback = true};

/* SMTP itself, or the variant of the protocol whose ops run this file's
 * callbacks (LMTP: lmtp.c). */
static const struct smtp_variant *variant(const struct conn *c)
{
    return c->ops->variant ? c->ops->variant : &smtp_plain;
}

const char *smtp_phase_name(int phase)
{
    switch ((enum smtp_phase)phase) {
    case SMTP_AWAIT_GREETING: return "await-greeting";
    case SMTP_AWAIT_EHLO_REPLY: return "await-ehlo-reply";
    case SMTP_AWAIT_HELO_REPLY: return "await-helo-reply";
    case SMTP_AWAIT_AUTH_REPLY: return "await-auth-reply";
    case SMTP_AWAIT_STARTTLS_REPLY: return "await-starttls-reply";
    case SMTP_AWAIT_MAIL_REPLY: return "await-mail-reply";
    case SMTP_AWAIT_RSET_REPLY: return "await-rset-reply";
    }
    return "?";
}

/* "\0mailtls-probe\0not-a-real-password" in base64: an obviously fake
 * credential; see README "--probe-auth". */
#define FAKE_AUTH_PLAIN "AUTH PLAIN AG1haWx0bHMtcHJvYmUAbm90LWEtcmVhbC1wYXNzd29yZA==\r\n"

void smtp_start(struct conn *c)
{
    conn_expect(c, SMTP_AWAIT_GREETING);
}

static void send_ehlo(struct conn *c)
{
    conn_sendf(c, "%s %s\r\n", variant(c)->hello, conn_ehlo_name(c));
    conn_expect(c, SMTP_AWAIT_EHLO_REPLY);
}

void smtp_tls_up(struct conn *c)
{
    if (downgrade_after_tls(c))
        return;
    send_ehlo(c);
}

/* After the cleartext EHLO (and the optional AUTH probe): with
 * --downgrade-checks, first ask whether mail may go on in cleartext;
 * then upgrade or leave. */
static void after_cleartext_ehlo(struct conn *c)
{
    if (conn_downgrade_checks(c) && conn_records_facts(c) && !c->ops->variant &&
        !(c->flags & SMTP_MAIL_TESTED)) {
        c->flags |= SMTP_MAIL_TESTED;
        conn_send_lit(c, "MAIL FROM:<>\r\n");
        conn_expect(c, SMTP_AWAIT_MAIL_REPLY);
        return;
    }
    if (!(c->flags & SMTP_HAS_STARTTLS)) {
        conn_quit(c, "QUIT\r\n", STATUS_OK);
        return;
    }
    downgrade_send_starttls(c, "STARTTLS\r\n");
    conn_expect(c, SMTP_AWAIT_STARTTLS_REPLY);
}

/* 530 is "Must issue a STARTTLS command first" (RFC 3207 4), but servers
 * also send it for "authentication required": only one naming TLS counts.
 * Any other refusal says nothing about TLS: the field stays null. */
static void on_mail_reply(struct conn *c, int code)
{
    if (code == 530 && reply_text_contains(c->reply, c->reply_len, "TLS"))
        rec_set_bool(&c->rec, F_STARTTLS_REQUIRED, true);
    else if (code / 100 == 2)
        rec_set_bool(&c->rec, F_STARTTLS_REQUIRED, false);
    if (code == 421) {
        conn_finish(c, STATUS_SERVER_BUSY, "MAIL FROM answered 421");
        return;
    }
    conn_send_lit(c, "RSET\r\n");
    conn_expect(c, SMTP_AWAIT_RSET_REPLY);
}

/* The cleartext facts of a second connection (after an auth probe
 * hang-up) were recorded by the first one: they are not written twice. */
static bool records_cleartext(const struct conn *c)
{
    return c->is_tls || !c->is_second;
}

static void ehlo_done(struct conn *c)
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
        /* from the whole reply, not from the capped lists */
        rec_set_bool(r, F_STARTTLS_OFFERED, c->flags & SMTP_HAS_STARTTLS);
        rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, c->flags & SMTP_PASSWORD_MECH);
    }
    if (conn_probe_auth(c) && c->job.port.mode == TLS_MODE_STARTTLS) {
        conn_credential_sent(c);
        conn_send_lit(c, FAKE_AUTH_PLAIN);
        conn_expect(c, SMTP_AWAIT_AUTH_REPLY);
        return;
    }
    after_cleartext_ehlo(c);
}

static void on_auth_reply(struct conn *c, int code)
{
    if (code == 334 && !(c->flags & SMTP_AUTH_CANCELLED)) {
        /* the server ignored the initial response; cancel (RFC 4954 4) */
        c->flags |= SMTP_AUTH_CANCELLED;
        conn_send_lit(c, "*\r\n");
        conn_expect(c, SMTP_AWAIT_AUTH_REPLY);
        return;
    }
    const char *verdict = "unexpected";
    if (code == 530 || code == 538 || code == 523)
        verdict = "tls-required";
    else if (code == 535 || code == 454 || code == 534)
        verdict = "cleartext-evaluated";
    else if (code == 503 || code == 502 || code == 504 || code == 500)
        verdict = "not-offered";
    rec_set_str(&c->rec, F_AUTH_PROBE, verdict);
    conn_reply_store(c, F_AUTH_PROBE_REPLY, REPLY_BODY);
    after_cleartext_ehlo(c);
}

/* One complete reply (the last line has arrived). */
static void on_reply(struct conn *c, int code)
{
    /* 421 once the credential is out: the server hung up on it */
    if (code == 421 && c->phase == SMTP_AWAIT_AUTH_REPLY &&
        conn_auth_hangup(c, c->reply, c->reply_len - c->reply_last_term))
        return;
    if (code == 421 && conn_auth_hangup(c, NULL, 0))
        return;
    switch ((enum smtp_phase)c->phase) {
    case SMTP_AWAIT_GREETING:
        if (records_cleartext(c))
            conn_reply_store(c, F_BANNER, REPLY_WHOLE);
        if (code == 220)
            send_ehlo(c);
        else if (code == 421 || code / 100 == 4)
            conn_finish(c, STATUS_SERVER_BUSY, "greeting %d", code);
        else if (code / 100 == 5)
            conn_finish(c, STATUS_REJECTED, "greeting %d", code);
        else
            conn_finish(c, STATUS_PROTOCOL_ERROR, "unexpected greeting code %d", code);
        break;
    case SMTP_AWAIT_EHLO_REPLY:
        if (code == 250)
            ehlo_done(c);
        else if (code == 421)
            conn_finish(c, STATUS_SERVER_BUSY, "%s answered 421", variant(c)->hello);
        else if (code / 100 == 5 && !c->is_tls && variant(c)->helo_fallback) {
            conn_sendf(c, "HELO %s\r\n", conn_ehlo_name(c));
            conn_expect(c, SMTP_AWAIT_HELO_REPLY);
        } else
            conn_finish(c, STATUS_PROTOCOL_ERROR, "%s answered %d", variant(c)->hello, code);
        break;
    case SMTP_AWAIT_HELO_REPLY:
        if (code == 250) {
            rec_set_bool(&c->rec, F_STARTTLS_OFFERED, false);
            rec_list_init(&c->rec, F_AUTH_BEFORE_TLS);
            rec_set_bool(&c->rec, F_PLAINTEXT_AUTH_BEFORE_TLS, false);
            conn_quit(c, "QUIT\r\n", STATUS_OK);
        } else if (code == 421) {
            conn_finish(c, STATUS_SERVER_BUSY, "HELO answered 421");
        } else {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "HELO answered %d", code);
        }
        break;
    case SMTP_AWAIT_AUTH_REPLY: on_auth_reply(c, code); break;
    case SMTP_AWAIT_MAIL_REPLY: on_mail_reply(c, code); break;
    case SMTP_AWAIT_RSET_REPLY:
        if (code == 421)
            conn_finish(c, STATUS_SERVER_BUSY, "RSET answered 421");
        else
            after_cleartext_ehlo(c);
        break;
    case SMTP_AWAIT_STARTTLS_REPLY: {
        if (!conn_records_facts(c)) {
            /* the injection connection: the probe recorded the reply */
            if (code == 220)
                conn_start_tls(c);
            else
                conn_injection_over(c);
            break;
        }
        conn_reply_store(c, F_STARTTLS_REPLY, REPLY_FIRST);
        if (code == 220) {
            conn_start_tls(c);
        } else {
            rec_set_bool(&c->rec, F_STARTTLS_OK, false);
            if (code == 421)
                conn_finish(c, STATUS_SERVER_BUSY, "STARTTLS answered 421");
            else
                conn_quit(c, "QUIT\r\n", STATUS_STARTTLS_REFUSED);
        }
        break;
    }
    }
}

void smtp_line(struct conn *c, const char *line, size_t len)
{
    int code;
    bool last;
    const char *text;
    size_t tlen;
    if (c->phase == PHASE_AWAIT_INJECTED_REPLY) {
        downgrade_injected_line(c, line, len);
        return;
    }
    if (reply_smtp_line(line, len, &code, &last, &text, &tlen) < 0) {
        if (c->phase == SMTP_AWAIT_GREETING && records_cleartext(c))
            rec_set_text(&c->rec, F_BANNER, line, len);
        conn_finish(c, STATUS_PROTOCOL_ERROR, "not an SMTP reply line");
        return;
    }
    if (c->reply_lines > 0 && code != c->reply_code) {
        conn_finish(c, STATUS_PROTOCOL_ERROR, "reply code changed from %d to %d mid-reply", c->reply_code,
                    code);
        return;
    }
    c->reply_code = code;
    /* EHLO: every line after the first is one extension (RFC 5321 4.1.1.1) */
    if (c->phase == SMTP_AWAIT_EHLO_REPLY && code == 250 && c->reply_lines > 0) {
        struct caps_seen seen = {0};
        reply_smtp_ehlo_ext(records_cleartext(c) ? &c->rec : NULL, c->is_tls, text, tlen, &seen);
        if (seen.starttls && !c->is_tls)
            c->flags |= SMTP_HAS_STARTTLS;
        if (seen.password_mech && !c->is_tls)
            c->flags |= SMTP_PASSWORD_MECH;
    }
    conn_reply_add(c, line, len);
    if (last)
        on_reply(c, code);
}

/* The reply in progress will never be complete: keep what arrived. */
void smtp_cut(struct conn *c)
{
    switch ((enum smtp_phase)c->phase) {
    case SMTP_AWAIT_GREETING:
        if (records_cleartext(c))
            conn_store_partial(c, F_BANNER, true);
        break;
    case SMTP_AWAIT_EHLO_REPLY:
        if (c->reply_lines > 1 && records_cleartext(c))
            conn_store_partial(c, c->is_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS, false);
        break;
    case SMTP_AWAIT_AUTH_REPLY: conn_store_partial(c, F_AUTH_PROBE_REPLY, true); break;
    case SMTP_AWAIT_STARTTLS_REPLY:
        if (!conn_records_facts(c))
            break;
        if (c->reply_lines == 0)
            conn_store_partial(c, F_STARTTLS_REPLY, false);
        else
            conn_reply_store(c, F_STARTTLS_REPLY, REPLY_FIRST);
        break;
    case SMTP_AWAIT_HELO_REPLY:
    case SMTP_AWAIT_MAIL_REPLY:
    case SMTP_AWAIT_RSET_REPLY: break;
    }
}

const struct proto_ops smtp_ops = {
    .name = "smtp",
    .on_start = smtp_start,
    .on_line = smtp_line,
    .on_tls_up = smtp_tls_up,
    .phase_name = smtp_phase_name,
    .on_cut = smtp_cut,
};
