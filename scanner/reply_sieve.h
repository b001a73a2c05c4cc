/*
 * reply_sieve.h - ManageSieve (RFC 5804) server lines, as pure functions:
 * the parser half of sieve.c, kept apart so that tests/fuzz/fuzz_reply.c
 * and the unit tests reach it without a connection.
 */
#ifndef MAILTLS_REPLY_SIEVE_H
#define MAILTLS_REPLY_SIEVE_H

#include <stdbool.h>
#include <stddef.h>

#include "reply.h"

enum reply_sieve_kind { SIEVE_LINE_OTHER, SIEVE_LINE_OK, SIEVE_LINE_NO, SIEVE_LINE_BYE };

/* "OK", "NO" or "BYE" (any case), alone or followed by a space or a
 * response code "(": the end of a response; anything else is OTHER. */
enum reply_sieve_kind reply_sieve_status(const char *line, size_t len);

/* One capability line, `"NAME"` or `"NAME" "value"` (RFC 5804 1.7). Adds
 * the line as received to the caps list of that side of TLS, and for
 * "SASL" each mechanism of the value to the auth list (r may be NULL:
 * facts only); notes STARTTLS and password mechanisms in *seen. Returns
 * false, adding nothing, when the line is not a capability line. */
bool reply_sieve_cap(struct record *r, bool after_tls, const char *line, size_t len, struct caps_seen *seen);

/* The quoted string at the start of s (after optional spaces), unescaped
 * into out (cut at cap-1 bytes, NUL-terminated); *used gets the bytes of
 * s it took. Returns its length, or -1 when s does not start with a
 * complete quoted string. */
long reply_sieve_quoted(const char *s, size_t len, char *out, size_t cap, size_t *used);

#endif
