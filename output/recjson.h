/*
 * recjson.h - the one shape an RT_JSON field holds (record.h): an object
 * whose members are arrays of names, `{"TLSv1.2":["TLS_A","TLS_B"]}`,
 * written without spaces; keys and names are 1 to 80 bytes of
 * [A-Za-z0-9_.+-] (cipher suite and version names). The writers emit the
 * bytes as they are only after recjson_ok; the reader rebuilds the text
 * from a parsed object, so hostile input can never inject JSON.
 */
#ifndef MAILTLS_OUT_RECJSON_H
#define MAILTLS_OUT_RECJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

#define RECJSON_NAME_MAX 80

/* The second shape (dane_records): an array of flat objects (rows),
 * `[{"mx":"mx1.example","usage":3,"usable":true}]`, no spaces; keys as
 * above, values a string of 0 to RECJSON_VALUE_MAX name bytes, a
 * non-negative integer (1 to 18 digits, no leading zero) or true/false.
 * recjson_ok and recjson_from_doc accept either shape (both are JSON that
 * cannot carry an escape); the first byte tells which. */
#define RECJSON_VALUE_MAX 255

bool recjson_ok(const unsigned char *s, size_t n);
/* The canonical text of object token tok (that shape only) into out.
 * Returns its length, or -1 when tok is not that shape or out is short. */
long recjson_from_doc(const struct json_doc *d, int tok, unsigned char *out, size_t cap);

#endif
