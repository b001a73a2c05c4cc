/*
 * escape.h - the byte-exact escapers used by the JSON and CSV writers.
 *
 * Pure functions: no allocation, no state. Each writes the escaped form of
 * `len` raw bytes into the caller's buffer `dst` of `dstcap` bytes and
 * returns the full escaped length. When that length exceeds dstcap, only the
 * first dstcap bytes were written (the output is unusable) and the caller
 * retries with a bigger buffer; sizing dst with the _MAX macros below makes
 * this impossible. Nothing is NUL-terminated.
 *
 * JSON (inside the quotes of a JSON string):
 *   `"` -> \"   `\` -> \\   LF -> \n   CR -> \r   TAB -> \t
 *   other bytes 0x00-0x1f and 0x7f -> \u00XX
 *   well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
 *   is copied unchanged;
 *   every other byte 0x80-0xff -> \udcXX (XX = the byte, lower-case hex),
 *   one escape per byte. This is Python's "surrogateescape" convention:
 *   json.loads(line)[k].encode("utf-8", "surrogateescape") gives back the
 *   original bytes exactly.
 *
 * CSV (inside the double quotes of an RFC 4180 field):
 *   `"` -> ""   `\` -> \\
 *   bytes 0x00-0x1f (CR and LF included, so one record = one physical
 *   line) and 0x7f -> \xHH (upper-case hex)
 *   well-formed UTF-8 is copied unchanged; every other byte 0x80-0xff ->
 *   \xHH
 *   list items only: `|` -> \x7C (so a list splits on raw `|`), and an
 *   empty item is written as \e (so [] and [""] differ).
 * out_csv_unescape() reverses this after the CSV layer removed the quotes.
 */
#ifndef MAILTLS_ESCAPE_H
#define MAILTLS_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#define OUT_JSON_ESCAPE_MAX(len) ((len) * 6)
#define OUT_CSV_ESCAPE_MAX(len) ((len) * 4 + 2)

size_t out_json_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len);
size_t out_csv_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len,
                      bool is_list_item);

/* Decodes one escaped text value or one list item (quotes already removed
 * and "" already undoubled). dst needs room for len bytes: decoding never
 * grows. Returns the decoded length, or -1 on a malformed escape (a lone
 * backslash, bad hex, unknown letter, or \e not alone). */
long out_csv_unescape(unsigned char *dst, const char *src, size_t len);

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when the byte
 * at s does not start one within the n bytes available. ASCII gives 1. */
size_t out_utf8_seq_len(const unsigned char *s, size_t n);

#endif
