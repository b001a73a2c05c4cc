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
 * JSON (inside the quotes of a JSON string). The output is always valid
 * UTF-8 and never holds NUL, neither raw nor as \u0000, so DuckDB,
 * PostgreSQL jsonb, pandas, jq and sqlite load it unchanged:
 *   `"` -> \"   `\` -> \\   LF -> \n   CR -> \r   TAB -> \t
 *   other bytes 0x01-0x1f and 0x7f -> \u00XX
 *   well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
 *   is copied unchanged, noncharacters (U+FFFE, U+FDD0...) included: they
 *   are Unicode scalar values and every consumer above accepts them;
 *   NUL -> U+FFFD (PostgreSQL refuses U+0000 in text and jsonb);
 *   each maximal subpart of an ill-formed sequence -> one U+FFFD (the
 *   Unicode "substitution of maximal subparts" practice, Unicode 15 ch. 3
 *   "U+FFFD Substitution of Maximal Subparts", which is also what Python's
 *   bytes.decode("utf-8", "replace") and the WHATWG decoder do): a cut-off
 *   but so far valid prefix such as E2 82 is one U+FFFD, a byte that can
 *   never start or continue a sequence (80-BF alone, C0, C1, F5-FF, or the
 *   A0 after ED) is one U+FFFD each.
 * This loses bytes: out_json_is_lossy() says whether it did, and the writer
 * then keeps the exact bytes in a sibling `<field>_b64` (out_base64()).
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

#define OUT_JSON_ESCAPE_MAX(len) ((len)*6)
#define OUT_BASE64_LEN(len) (((len) + 2) / 3 * 4)
#define OUT_CSV_ESCAPE_MAX(len) ((len)*4 + 2)

size_t out_json_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len);
/* True when out_json_escape() replaces anything in src by U+FFFD (a NUL or
 * ill-formed UTF-8), i.e. when the JSON text alone does not give back the
 * bytes. */
bool out_json_is_lossy(const unsigned char *src, size_t len);

/* Standard base64 (RFC 4648 section 4, `+` `/`, `=` padding, no line
 * breaks) of len bytes into dst; returns OUT_BASE64_LEN(len) and, like the
 * escapers, writes at most dstcap bytes. */
size_t out_base64(char *dst, size_t dstcap, const unsigned char *src, size_t len);
/* Strict inverse of out_base64: len must be a multiple of 4, padding only
 * at the end, unused bits zero. dst needs len / 4 * 3 bytes. Returns the
 * decoded length, or -1 when src is not canonical base64. */
long out_base64_decode(unsigned char *dst, const char *src, size_t len);
size_t out_csv_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len, bool is_list_item);

/* Decodes one escaped text value or one list item (quotes already removed
 * and "" already undoubled). dst needs room for len bytes: decoding never
 * grows. Returns the decoded length, or -1 on a malformed escape (a lone
 * backslash, bad hex, unknown letter, or \e not alone). */
long out_csv_unescape(unsigned char *dst, const char *src, size_t len);

/* Length of the well-formed UTF-8 sequence at s (1-4), or 0 when the byte
 * at s does not start one within the n bytes available. ASCII gives 1. */
size_t out_utf8_seq_len(const unsigned char *s, size_t n);
/* Length of the maximal subpart at s when out_utf8_seq_len(s, n) is 0: the
 * longest prefix of s that starts a well-formed sequence (1-3), at least 1.
 * The JSON escaper replaces exactly these bytes by one U+FFFD. */
size_t out_utf8_bad_len(const unsigned char *s, size_t n);

#endif
