/*
 * downgrade_parse.h - the server bytes behind --downgrade-checks and
 * starttls_masked, as pure functions (tests/unit/test_downgrade.c and the
 * `reply` fuzz target reach them without a connection).
 */
#ifndef MAILTLS_DOWNGRADE_PARSE_H
#define MAILTLS_DOWNGRADE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "../output/mt_proto.h"

/* The tag of the IMAP command injected after STARTTLS ("a NOOP"); never
 * one of the probe's own tags (m1, m2, ...). */
#define DOWNGRADE_IMAP_TAG "a"

/* The command injected in the same segment as STARTTLS, CRLF included. */
const char *downgrade_injected_cmd(enum mt_proto p);

/* A line that arrived inside TLS before we sent anything: true when it
 * ends a reply to the injected command (SMTP/LMTP: the last line of a
 * reply; IMAP: the injected tag's completion; POP3: +OK/-ERR; ManageSieve:
 * OK/NO/BYE); false for a line that does not (an SMTP continuation, an
 * IMAP untagged line, noise). */
bool downgrade_parse_answer(enum mt_proto p, const char *line, size_t len);

/* A capability token that looks like STARTTLS or STLS masked by a
 * middlebox: X-STARTTLS, XSTARTTLS, X-STLS, XSTLS; or the length of
 * STARTTLS/STLS with each byte either X or the original letter (one X at
 * least: STARTXXX, XXXXXXXX); or that length and mostly X's (Cisco's
 * XXXXXXXA). Case-insensitive. */
bool downgrade_parse_masked(const char *tok, size_t len);

/* A capability as stored in the caps list (an EHLO or CAPA line, an IMAP
 * atom, a ManageSieve `"NAME" "value"` line): its first token, without
 * quotes, when downgrade_parse_masked says it is masked; else NULL. */
const char *downgrade_parse_masked_item(const char *item, size_t len, size_t *tok_len);

#endif
