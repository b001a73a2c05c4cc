/*
 * json.h - a compact, bounded JSON parser (output/reader.c, mailtls-stats).
 *
 * json_parse() checks the whole text against RFC 8259 and records each
 * value as a token in the caller's array: no allocation, recursion depth
 * capped at JSON_MAX_DEPTH, at most doc->cap tokens. Strings stay escaped
 * in the source; json_string() decodes one on demand, turning the writer's
 * \udcXX escapes (lone low surrogates U+DC80-U+DCFF) back into the raw
 * byte XX, as Python's "surrogateescape" does.
 *
 * Token layout: a value's subtree follows it in the array; tok.next is the
 * index just past that subtree, so siblings are reached in O(1). An
 * object's children alternate key (string), value.
 */
#ifndef MAILTLS_OUT_JSON_H
#define MAILTLS_OUT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_tok {
    enum json_type type;
    uint32_t start; /* string: first byte inside the quotes */
    uint32_t len;   /* string: bytes inside the quotes; number: its text */
    uint32_t next;  /* index after this value's subtree */
    uint32_t count; /* array: items; object: members */
};

struct json_doc {
    const char *src;
    struct json_tok *toks;
    uint32_t n;   /* tokens used */
    uint32_t cap; /* tokens available */
};

/* Parses src[0..len) (one value, surrounding whitespace allowed). Returns
 * 0, or -1 with err = "column N: what". The text must outlive the doc. */
int json_parse(struct json_doc *d, const char *src, size_t len, char *err, size_t errlen);

/* Index of key's value inside object token obj, or -1. */
int json_get(const struct json_doc *d, int obj, const char *key);
/* Compares an object key (string token) with a NUL-free name, unescaped
 * keys only (ours never need escapes). */
bool json_key_is(const struct json_doc *d, int tok, const char *name, size_t name_len);

/* Decodes string token tok into dst (cap bytes). Returns the length, or -1
 * when it does not fit or holds a surrogate that is neither a valid pair
 * nor a \udc80-\udcff byte escape. Decoding never grows: cap >= tok.len
 * always suffices. */
long json_string(const struct json_doc *d, int tok, unsigned char *dst, size_t cap);
/* Integer value of a number token without fraction or exponent. */
int json_int(const struct json_doc *d, int tok, int64_t *v);

#endif
