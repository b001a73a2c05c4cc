/*
 * crawl.h - the text a banner crawler (Shodan) would have indexed for a
 * record, rebuilt from what mailtls stored, in lower case.
 *
 * Shodan keeps the greeting plus the reply to its capability command, so:
 *   smtp: banner, then "250-<cap>" per cleartext EHLO line ("250 " on the
 *         last)
 *   imap: banner, then "* CAPABILITY <cap> <cap> ..."
 *   pop3: banner, then "+OK", one line per CAPA entry, "."
 * Implicit-TLS ports use the capabilities seen after TLS (that is what a
 * crawler speaking TLS sees there). The protocol comes from the record's
 * `protocol` field, else from the port. Empty when there is no banner.
 */
#ifndef MAILTLS_STATS_CRAWL_H
#define MAILTLS_STATS_CRAWL_H

#include <stddef.h>

#include "../../output/record.h"

#define CRAWL_MAX_BYTES 16384

/* Writes at most CRAWL_MAX_BYTES into buf; returns the length. */
size_t crawl_text(const struct record *r, char *buf);

#endif
