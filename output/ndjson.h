/*
 * ndjson.h - one record as one line of JSON.
 *
 * The object has every field of rec_fields[], in table order: text as a
 * string (escaped per escape.h), lists as arrays of strings, ints as
 * numbers, bools as true/false, unset fields as null. The line ends in
 * "\n" and contains no other newline, and is valid UTF-8 without NUL.
 * A text or list field whose JSON text had to replace bytes by U+FFFD
 * (escape.h) is followed by `<field>_b64`: the exact bytes in base64 for
 * text; for a list an array of the same length, a base64 string for each
 * item that lost bytes and null for the others. The key is absent when
 * nothing was replaced.
 */
#ifndef MAILTLS_NDJSON_H
#define MAILTLS_NDJSON_H

#include "outbuf.h"
#include "record.h"

/* Appends the line to b. On overflow b->overflow is set and the caller
 * rolls back to the length it saved. */
void ndjson_append(struct outbuf *b, const struct record *r);

#endif
