/*
 * downgrade.h - the per-server downgrade checks the protocol files share
 * (--downgrade-checks; starttls_masked always).
 *
 * STARTTLS command injection (CVE-2011-0411 class), on a connection of its
 * own after the probe (conn.h, conn_await_injected): the protocol's
 * STARTTLS goes out with one harmless command (NOOP, IMAP "a NOOP") in the
 * same send, hence the same TCP segment. A correct server drops what it
 * buffered before TLS (RFC 3207 4.2); a vulnerable one answers it inside
 * TLS, before we say anything there. So once TLS is up we wait, silent,
 * for that answer. Why not on the probe's own connection: Dovecot hands
 * the pipelined bytes to its TLS layer and the handshake fails ("wrong
 * version number"), which would cost every TLS fact of the record. The
 * injected bytes never reach our TLS session: conn.c drops every cleartext
 * byte still buffered, received or unsent, at the switch.
 *
 * The protocol files call in here; this file calls conn.h, never back.
 */
#ifndef MAILTLS_DOWNGRADE_H
#define MAILTLS_DOWNGRADE_H

#include <stdbool.h>
#include <stddef.h>

struct conn;
struct record;

/* Sends the protocol's STARTTLS command (cmd, CRLF included), followed in
 * the same send by the injected command on the injection connection. */
void downgrade_send_starttls(struct conn *c, const char *cmd);

/* TLS is up after STARTTLS (ManageSieve: and its capabilities re-sent).
 * On the injection connection: starts the silent wait (or ends the
 * connection when the verdict is in already) and returns true. On the
 * probe's own connection returns false: the protocol goes on. */
bool downgrade_after_tls(struct conn *c);

/* A line in PHASE_AWAIT_INJECTED_REPLY: the end of an answer to the
 * injected command makes starttls_injection true and ends the injection
 * connection; other lines are dropped. */
void downgrade_injected_line(struct conn *c, const char *line, size_t len);

/* ManageSieve re-sends its capabilities after TLS unasked; a status line
 * before any capability line is the answer to the injected command: the
 * protocol reports it here. Returns true when the line was that answer. */
bool downgrade_answered_early(struct conn *c, bool is_status);

/* starttls_masked: the first cleartext capability that looks like a
 * masked STARTTLS/STLS (downgrade_parse.h); called once the cleartext caps
 * list is complete. No traffic: computed on every probe. */
void downgrade_masked_caps(struct record *r);

/* starttls_required from what the cleartext side showed (IMAP, POP3):
 * the --probe-auth verdict when there is one (tls-required: true,
 * cleartext-evaluated: false), else whether any password login was
 * offered before TLS. Only with --downgrade-checks. */
void downgrade_required_from_login(struct conn *c, bool password_offered);

#endif
