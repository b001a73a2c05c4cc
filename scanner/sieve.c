/*
 * sieve.c - the ManageSieve probe (RFC 5804; port 4190, STARTTLS).
 *
 * The server speaks first: its greeting is the capability list, one
 * `"NAME" "value"` line each, ending with OK (NO or BYE: it turns us
 * away). "STARTTLS" says TLS is offered and "SASL" lists the mechanisms a
 * client may use right now, so the cleartext list is what a password
 * would face. Then STARTTLS; after the handshake the server re-sends its
 * capabilities unasked (RFC 5804 2.2), ending with OK; then LOGOUT.
 *
 *   phase                           on
 *   SIEVE_AWAIT_GREETING            capability lines; OK -> STARTTLS or LOGOUT;
 *                                   NO/BYE -> server-busy
 *   SIEVE_AWAIT_STARTTLS_REPLY      OK -> TLS; NO -> starttls-refused; BYE -> server-busy
 *   SIEVE_AWAIT_CAPS_AFTER_TLS      capability lines; OK -> LOGOUT
 *                                   [--downgrade-checks: first a silent wait for an
 *                                   answer to the NOOP sent with STARTTLS, downgrade.h;
 *                                   a status line before any capability is that answer]
 *
 * A value sent as a literal ({n} at the line's end) is dropped unframed
 * (conn_skip); the line naming it is kept as received.
 *
 * --probe-auth is not supported here (no AUTHENTICATE is sent; auth_probe
 * stays null): plaintext_auth_before_tls comes from the cleartext SASL list.
 */
#include <string.h>

#include "conn.h"
#include "downgrade.h"
#include "reply_sieve.h"

enum sieve_phase {
    SIEVE_AWAIT_GREETING = PHASE_PROTO,
    SIEVE_AWAIT_STARTTLS_REPLY,
    SIEVE_AWAIT_CAPS_AFTER_TLS,
};

#define SIEVE_HAS_STARTTLS 0x01
#define SIEVE_PASSWORD_MECH 0x02 /* SASL PLAIN or LOGIN in cleartext */
#define SIEVE_HAVE_CAPS 0x04     /* a capability line of the current side arrived */

#define SIEVE_LITERAL_MAX 65536

static const char *sieve_phase_name(int phase)
{
    switch ((enum sieve_phase)phase) {
    case SIEVE_AWAIT_GREETING: return "await-greeting";
    case SIEVE_AWAIT_STARTTLS_REPLY: return "await-starttls-reply";
    case SIEVE_AWAIT_CAPS_AFTER_TLS: return "await-capability";
    }
    return "?";
}

static void sieve_start(struct conn *c)
{
    conn_expect(c, SIEVE_AWAIT_GREETING);
}

static void sieve_tls_up(struct conn *c)
{
    c->flags &= ~(uint32_t)SIEVE_HAVE_CAPS;
    conn_expect(c, SIEVE_AWAIT_CAPS_AFTER_TLS);
}

static void logout(struct conn *c, enum rec_status status)
{
    conn_quit(c, "LOGOUT\r\n", status);
}

/* The record of this connection: NULL on the injection connection (the
 * probe's own connection recorded everything it would see). */
static struct record *record(struct conn *c)
{
    return conn_records_facts(c) ? &c->rec : NULL;
}

/* The capability list of the current side of TLS ended with OK. */
static void caps_done(struct conn *c)
{
    struct record *r = record(c);
    if (r)
        reply_caps_complete(r, c->is_tls);
    if (c->is_tls) {
        if (!downgrade_after_tls(c))
            logout(c, STATUS_OK);
        return;
    }
    if (r) {
        downgrade_masked_caps(r);
        /* from the whole list, not from the capped record lists */
        rec_set_bool(r, F_STARTTLS_OFFERED, c->flags & SIEVE_HAS_STARTTLS);
        rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, c->flags & SIEVE_PASSWORD_MECH);
    }
    if (!(c->flags & SIEVE_HAS_STARTTLS)) {
        logout(c, STATUS_OK);
        return;
    }
    downgrade_send_starttls(c, "STARTTLS\r\n");
    conn_expect(c, SIEVE_AWAIT_STARTTLS_REPLY);
}

/* A line of a capability list (greeting, or after TLS). */
static void on_caps_line(struct conn *c, const char *line, size_t len)
{
    enum reply_sieve_kind k = reply_sieve_status(line, len);
    bool greeting = c->phase == SIEVE_AWAIT_GREETING;
    if (c->is_tls && !(c->flags & SIEVE_HAVE_CAPS) && downgrade_answered_early(c, k != SIEVE_LINE_OTHER))
        return; /* the answer to the injected NOOP, before the capabilities */
    struct record *r = record(c);
    if (k != SIEVE_LINE_OTHER && greeting && r)
        rec_set_text(r, F_BANNER, line, len);
    if (k == SIEVE_LINE_OK) {
        caps_done(c);
        return;
    }
    if (k == SIEVE_LINE_NO || k == SIEVE_LINE_BYE) {
        conn_finish(c, STATUS_SERVER_BUSY, "%s %s", greeting ? "greeting" : "capabilities after TLS",
                    k == SIEVE_LINE_NO ? "NO" : "BYE");
        return;
    }
    struct caps_seen seen = {0};
    if (!reply_sieve_cap(r, c->is_tls, line, len, &seen)) {
        if (greeting && !(c->flags & SIEVE_HAVE_CAPS) && r)
            rec_set_text(r, F_BANNER, line, len);
        conn_finish(c, STATUS_PROTOCOL_ERROR, "not a ManageSieve capability or status line");
        return;
    }
    c->flags |= SIEVE_HAVE_CAPS;
    if (!c->is_tls) {
        if (seen.starttls)
            c->flags |= SIEVE_HAS_STARTTLS;
        if (seen.password_mech)
            c->flags |= SIEVE_PASSWORD_MECH;
    }
}

static void on_starttls_reply(struct conn *c, const char *line, size_t len)
{
    enum reply_sieve_kind k = reply_sieve_status(line, len);
    if (k == SIEVE_LINE_OTHER)
        return; /* data we did not ask for */
    if (!conn_records_facts(c)) {
        /* the injection connection: the probe recorded the reply */
        if (k == SIEVE_LINE_OK)
            conn_start_tls(c);
        else
            conn_injection_over(c);
        return;
    }
    rec_set_text(&c->rec, F_STARTTLS_REPLY, line, len);
    if (k == SIEVE_LINE_OK) {
        conn_start_tls(c);
        return;
    }
    rec_set_bool(&c->rec, F_STARTTLS_OK, false);
    if (k == SIEVE_LINE_BYE)
        conn_finish(c, STATUS_SERVER_BUSY, "STARTTLS answered BYE");
    else
        logout(c, STATUS_STARTTLS_REFUSED);
}

static void sieve_line(struct conn *c, const char *line, size_t len)
{
    if (c->phase == PHASE_AWAIT_INJECTED_REPLY) {
        downgrade_injected_line(c, line, len);
        return;
    }
    long lit = reply_literal_len(line, len);
    if (lit >= 0) {
        if (lit > SIEVE_LITERAL_MAX) {
            conn_finish(c, STATUS_PROTOCOL_ERROR, "literal of %ld bytes", lit);
            return;
        }
        conn_skip(c, (uint32_t)lit);
    }
    if (len == 0)
        return; /* the line end after a literal */
    switch ((enum sieve_phase)c->phase) {
    case SIEVE_AWAIT_GREETING:
    case SIEVE_AWAIT_CAPS_AFTER_TLS: on_caps_line(c, line, len); break;
    case SIEVE_AWAIT_STARTTLS_REPLY: on_starttls_reply(c, line, len); break;
    }
}

/* The list in progress will never be complete: keep what arrived. */
static void sieve_cut(struct conn *c)
{
    if (!conn_records_facts(c))
        return;
    switch ((enum sieve_phase)c->phase) {
    case SIEVE_AWAIT_GREETING:
    case SIEVE_AWAIT_CAPS_AFTER_TLS:
        if (c->flags & SIEVE_HAVE_CAPS)
            conn_store_partial(c, c->is_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS, false);
        else if (!c->is_tls)
            conn_store_partial(c, F_BANNER, false);
        break;
    case SIEVE_AWAIT_STARTTLS_REPLY: conn_store_partial(c, F_STARTTLS_REPLY, false); break;
    }
}

const struct proto_ops sieve_ops = {
    .name = "sieve",
    .on_start = sieve_start,
    .on_line = sieve_line,
    .on_tls_up = sieve_tls_up,
    .phase_name = sieve_phase_name,
    .on_cut = sieve_cut,
};
