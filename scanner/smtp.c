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
 *
 *   phase                      on the complete reply
 *   SMTP_AWAIT_GREETING        220 -> EHLO; 421/4xx -> server-busy; 554/5xx -> rejected
 *   SMTP_AWAIT_EHLO_REPLY      250 -> extensions; 5xx -> HELO; 421 -> server-busy
 *   SMTP_AWAIT_HELO_REPLY      250 -> no extensions, QUIT
 *   SMTP_AWAIT_AUTH_REPLY      classify (auth_probe), then STARTTLS or QUIT
 *   SMTP_AWAIT_STARTTLS_REPLY  220 -> TLS handshake; else starttls-refused
 *   (TLS up)                   EHLO again -> SMTP_AWAIT_EHLO_REPLY -> QUIT
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "reply.h"

enum smtp_phase {
    SMTP_AWAIT_GREETING = PHASE_PROTO,
    SMTP_AWAIT_EHLO_REPLY,
    SMTP_AWAIT_HELO_REPLY,
    SMTP_AWAIT_AUTH_REPLY,
    SMTP_AWAIT_STARTTLS_REPLY,
};

/* bits of conn.flags */
#define SMTP_HAS_STARTTLS 0x01
#define SMTP_AUTH_CANCELLED 0x02

static const char *smtp_phase_name(int phase)
{
    switch ((enum smtp_phase)phase) {
    case SMTP_AWAIT_GREETING: return "await-greeting";
    case SMTP_AWAIT_EHLO_REPLY: return "await-ehlo-reply";
    case SMTP_AWAIT_HELO_REPLY: return "await-helo-reply";
    case SMTP_AWAIT_AUTH_REPLY: return "await-auth-reply";
    case SMTP_AWAIT_STARTTLS_REPLY: return "await-starttls-reply";
    }
    return "?";
}

/* "\0mailtls-probe\0not-a-real-password" in base64: an obviously fake
 * credential; see README "--probe-auth". */
#define FAKE_AUTH_PLAIN "AUTH PLAIN AG1haWx0bHMtcHJvYmUAbm90LWEtcmVhbC1wYXNzd29yZA==\r\n"

static void smtp_start(struct conn *c)
{
    conn_expect(c, SMTP_AWAIT_GREETING);
}

static void send_ehlo(struct conn *c)
{
    conn_sendf(c, "EHLO %s\r\n", conn_ehlo_name(c));
    conn_expect(c, SMTP_AWAIT_EHLO_REPLY);
}

static void smtp_tls_up(struct conn *c)
{
    send_ehlo(c);
}

/* After the cleartext EHLO (and the optional AUTH probe): upgrade or leave. */
static void after_cleartext_ehlo(struct conn *c)
{
    if (!(c->flags & SMTP_HAS_STARTTLS)) {
        conn_quit(c, "QUIT\r\n", STATUS_OK);
        return;
    }
    conn_send(c, "STARTTLS\r\n", 10);
    conn_expect(c, SMTP_AWAIT_STARTTLS_REPLY);
}

static void ehlo_done(struct conn *c)
{
    struct record *r = &c->rec;
    caps_complete(r, c->is_tls);
    if (c->is_tls) {
        conn_quit(c, "QUIT\r\n", STATUS_OK);
        return;
    }
    bool starttls = c->flags & SMTP_HAS_STARTTLS;
    rec_set_bool(r, F_STARTTLS_OFFERED, starttls);
    rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, password_mechanism_before_tls(r));
    if (conn_probe_auth(c) && c->job.port.mode == TLS_MODE_STARTTLS) {
        conn_send(c, FAKE_AUTH_PLAIN, sizeof FAKE_AUTH_PLAIN - 1);
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
        conn_send(c, "*\r\n", 3);
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
    rec_set_text(&c->rec, F_AUTH_PROBE_REPLY, c->reply, c->reply_len >= 2 ? c->reply_len - 2u : 0);
    if (code == 421) {
        conn_finish(c, STATUS_SERVER_BUSY, "421 after AUTH");
        return;
    }
    after_cleartext_ehlo(c);
}

/* One complete reply (the last line has arrived). */
static void on_reply(struct conn *c, int code)
{
    switch ((enum smtp_phase)c->phase) {
    case SMTP_AWAIT_GREETING:
        rec_set_text(&c->rec, F_BANNER, c->reply, c->reply_len);
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
            conn_finish(c, STATUS_SERVER_BUSY, "EHLO answered 421");
        else if (code / 100 == 5 && !c->is_tls) {
            conn_sendf(c, "HELO %s\r\n", conn_ehlo_name(c));
            conn_expect(c, SMTP_AWAIT_HELO_REPLY);
        } else
            conn_finish(c, STATUS_PROTOCOL_ERROR, "EHLO answered %d", code);
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
    case SMTP_AWAIT_AUTH_REPLY:
        on_auth_reply(c, code);
        break;
    case SMTP_AWAIT_STARTTLS_REPLY: {
        size_t first = c->reply_len >= 2 ? c->reply_len - 2u : 0;
        const char *crlf = memchr(c->reply, '\r', first);
        rec_set_text(&c->rec, F_STARTTLS_REPLY, c->reply, crlf ? (size_t)(crlf - c->reply) : first);
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

static void smtp_line(struct conn *c, const char *line, size_t len)
{
    int code;
    bool last;
    const char *text;
    size_t tlen;
    if (smtp_parse_line(line, len, &code, &last, &text, &tlen) < 0) {
        if (c->phase == SMTP_AWAIT_GREETING)
            rec_set_text(&c->rec, F_BANNER, line, len);
        conn_finish(c, STATUS_PROTOCOL_ERROR, "not an SMTP reply line");
        return;
    }
    if (c->reply_lines > 0 && code != c->reply_code) {
        conn_finish(c, STATUS_PROTOCOL_ERROR, "reply code changed from %d to %d mid-reply",
                    c->reply_code, code);
        return;
    }
    c->reply_code = code;
    /* EHLO: every line after the first is one extension (RFC 5321 4.1.1.1) */
    if (c->phase == SMTP_AWAIT_EHLO_REPLY && code == 250 && c->reply_lines > 0) {
        bool starttls = false;
        smtp_ehlo_ext(&c->rec, c->is_tls, text, tlen, &starttls);
        if (starttls && !c->is_tls)
            c->flags |= SMTP_HAS_STARTTLS;
    }
    conn_reply_add(c, line, len);
    if (last)
        on_reply(c, code);
}

const struct proto_ops smtp_ops = {
    .name = "smtp",
    .on_start = smtp_start,
    .on_line = smtp_line,
    .on_tls_up = smtp_tls_up,
    .phase_name = smtp_phase_name,
};
