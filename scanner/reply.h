/*
 * reply.h - framing and parsing of server replies, as pure functions.
 *
 * Framing (reply_lines_next) finds one complete line in a byte buffer; the
 * parsers give meaning to one line. Nothing here touches a socket, so
 * tests/unit/test_reply.c can feed every reply split at every byte.
 */
#ifndef MAILTLS_REPLY_H
#define MAILTLS_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "../output/record.h"

/* Finds the first line in buf. Returns the bytes it occupies including the
 * LF (and CR before it), or 0 when no LF is there yet. *line_len excludes
 * the terminator, so the terminator is the (return - *line_len) bytes after
 * the line: "\r\n" or a bare "\n", exactly as received. */
size_t reply_lines_next(const unsigned char *buf, size_t len, size_t *line_len);

/* Appends one framed line and its line end (term_len 2: CRLF, 1: LF, as
 * reply_lines_next found it) to buf[used..cap); returns the new used. What does
 * not fit is dropped and sets *cut. The bytes kept are exactly the bytes
 * received: no line end is invented or normalised. */
size_t reply_append(char *buf, size_t cap, size_t used, const char *line, size_t len, size_t term_len,
                    bool *cut);

/* SMTP reply line: "250-text", "250 text" or "250". Returns 0 with code,
 * is_last and the text after the separator, or -1 when not a reply line. */
int reply_smtp_line(const char *line, size_t len, int *code, bool *is_last, const char **text,
                    size_t *text_len);

/* What the capability parsers learned from the server's whole reply. The
 * verdicts (starttls_offered, plaintext_auth_before_tls) are computed from
 * these, never from the stored lists: those are capped, a reply is not. */
struct caps_seen {
    bool starttls;      /* STARTTLS (SMTP, IMAP) or STLS (POP3) */
    bool logindisabled; /* IMAP LOGINDISABLED */
    bool user;          /* POP3 USER */
    bool password_mech; /* PLAIN or LOGIN among the SASL mechanisms */
};

/* One EHLO extension line's text (without the code), e.g. "AUTH PLAIN LOGIN".
 * Adds the line to the caps list and SASL mechanisms to the auth list of r
 * (r may be NULL: facts only); notes what it saw in *seen. */
void reply_smtp_ehlo_ext(struct record *r, bool after_tls, const char *text, size_t len,
                         struct caps_seen *seen);

/* Space-separated SASL mechanisms ("PLAIN LOGIN") into the auth list of
 * that side of TLS (r may be NULL); notes password mechanisms in *seen. */
void reply_mechanisms(struct record *r, bool after_tls, const char *list, size_t len, struct caps_seen *seen);

/* IMAP: space-separated capability atoms ("IMAP4rev1 STARTTLS AUTH=PLAIN").
 * Adds each to caps, AUTH=X mechanisms to auth (r may be NULL); notes
 * STARTTLS, LOGINDISABLED and password mechanisms in *seen. */
void reply_imap_caps(struct record *r, bool after_tls, const char *s, size_t len, struct caps_seen *seen);
/* Finds "[CAPABILITY ...]" in a status line; returns the inside or NULL. */
const char *reply_imap_capability_code(const char *line, size_t len, size_t *out_len);
/* "* CAPABILITY a b c": returns pointer to "a b c" or NULL. */
const char *reply_imap_capability_untagged(const char *line, size_t len, size_t *out_len);
/* A line ending in "{n}" or "{n+}" (an IMAP or ManageSieve literal): returns
 * n, or -1 when it is not a literal. */
long reply_literal_len(const char *line, size_t len);
/* Tagged status: line starts with "tag "; returns "OK"/"NO"/"BAD" kind
 * (1/2/3) and the rest, or 0 when the line is not for this tag. */
int reply_imap_tagged(const char *line, size_t len, const char *tag, const char **rest, size_t *rest_len);

/* POP3 CAPA list line ("STLS", "USER", "SASL PLAIN LOGIN"); r may be NULL. */
void reply_pop3_capa(struct record *r, bool after_tls, const char *line, size_t len, struct caps_seen *seen);
/* "+OK ..." -> 1, "-ERR ..." -> -1, anything else 0. */
int reply_pop3_status(const char *line, size_t len);

/* All capabilities of one side of TLS are known: makes the caps and auth
 * lists of that side present (empty when nothing was offered). */
void reply_caps_complete(struct record *r, bool after_tls);

/* Case-insensitive search for needle in a length-bounded haystack. */
bool reply_text_contains(const char *hay, size_t len, const char *needle);

#endif
