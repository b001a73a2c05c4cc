/*
 * csv.h - records as RFC 4180 CSV rows.
 *
 * The header row holds the field names of rec_fields[] in table order.
 * Each record is exactly one physical line ending in CRLF (escape.h keeps
 * CR and LF out of values). Text and list fields are always double-quoted
 * and escaped per escape.h; list items are joined by `|`. Ints are bare
 * digits, bools are true/false, and an unset field is an empty unquoted
 * field, so null ("") differs from the empty string ("\"\"").
 */
#ifndef MAILTLS_CSV_H
#define MAILTLS_CSV_H

#include "outbuf.h"
#include "record.h"

void csv_append_header(struct outbuf *b);
/* On overflow b->overflow is set and the caller rolls back. */
void csv_append_record(struct outbuf *b, const struct record *r);

#endif
