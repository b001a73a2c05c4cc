/*
 * fuzz_escape.c - the JSON and CSV escapers of output/escape.h.
 *
 * The input is one raw value. Checked for each escaper: the documented
 * maximum holds, a too-small buffer gets the same prefix and the same full
 * length without being overrun, the output contains no raw control byte
 * and no invalid UTF-8. CSV decodes back to the input exactly (by
 * out_csv_unescape after undoubling quotes). JSON never holds NUL (raw or
 * \u0000), is decoded by a small decoder of the documented escapes written
 * here and must equal the input with NUL and each maximal ill-formed
 * subpart replaced by U+FFFD (fz_json_text, an independent reference);
 * out_json_is_lossy agrees with that reference, and the base64 that the
 * writer would add decodes (independent decoder) to the input exactly. out_utf8_seq_len is compared
 * with an independent decoder at every offset, and out_csv_unescape is also
 * fed the raw input as hostile escaped text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/escape.h"
#include "fuzz_check.h"

static int hex_digit(char c, bool lower_only, bool upper_only)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (!upper_only && c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (!lower_only && c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Checks an escaped JSON string body and decodes it into dst (room for
 * len bytes: decoding never grows). Returns the decoded length. */
static size_t json_decode(unsigned char *dst, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '"');
        if (c >= 0x80) {
            size_t n = fz_utf8_len(u + i, len - i);
            FUZZ_CHECK(n >= 2);
            memcpy(dst + o, u + i, n);
            o += n;
            i += n;
            continue;
        }
        if (c != '\\') {
            dst[o++] = c;
            i++;
            continue;
        }
        FUZZ_CHECK(i + 1 < len);
        char e = s[i + 1];
        const char *simple = strchr("\"\\nrt", e);
        if (e != '\0' && simple) {
            static const unsigned char raw[] = {'"', '\\', '\n', '\r', '\t'};
            dst[o++] = raw[simple - "\"\\nrt"];
            i += 2;
            continue;
        }
        /* \u00XX only, for control bytes other than NUL and the short ones. */
        FUZZ_CHECK(e == 'u' && i + 5 < len && s[i + 2] == '0' && s[i + 3] == '0');
        int h = hex_digit(s[i + 4], true, false), l = hex_digit(s[i + 5], true, false);
        FUZZ_CHECK(h >= 0 && l >= 0);
        unsigned char b = (unsigned char)(h << 4 | l);
        FUZZ_CHECK((b > 0 && b < 0x20) || b == 0x7f);
        FUZZ_CHECK(b != '\n' && b != '\r' && b != '\t');
        dst[o++] = b;
        i += 6;
    }
    return o;
}

/* Checks a CSV-escaped body, undoubles its quotes into dst and returns the
 * new length. */
static size_t csv_check_undouble(char *dst, const char *s, size_t len, bool is_item)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
        FUZZ_CHECK(!(is_item && c == '|'));
        if (c >= 0x80) {
            size_t n = fz_utf8_len(u + i, len - i);
            FUZZ_CHECK(n >= 2);
            memcpy(dst + o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        if (c == '"') {
            FUZZ_CHECK(i + 1 < len && s[i + 1] == '"');
            dst[o++] = '"';
            i += 2;
            continue;
        }
        if (c == '\\') {
            /* Only \\, \xHH (upper-case) and, alone, \e. */
            FUZZ_CHECK(i + 1 < len);
            if (s[i + 1] == 'x') {
                FUZZ_CHECK(i + 3 < len);
                FUZZ_CHECK(hex_digit(s[i + 2], false, true) >= 0);
                FUZZ_CHECK(hex_digit(s[i + 3], false, true) >= 0);
                memcpy(dst + o, s + i, 4);
                o += 4;
                i += 4;
                continue;
            }
            FUZZ_CHECK(s[i + 1] == '\\' || (s[i + 1] == 'e' && is_item && len == 2));
            memcpy(dst + o, s + i, 2);
            o += 2;
            i += 2;
            continue;
        }
        dst[o++] = (char)c;
        i++;
    }
    return o;
}

typedef size_t (*escape_fn)(char *dst, size_t cap, const unsigned char *src, size_t len, bool is_item);

static size_t json_adapter(char *dst, size_t cap, const unsigned char *src, size_t len, bool item)
{
    (void)item;
    return out_json_escape(dst, cap, src, len);
}

/* Escapes into an exact-size buffer of max bytes, then into one of half the
 * needed size: same length reported, same prefix, no overrun (ASan). */
static char *escape_checked(escape_fn fn, const unsigned char *src, size_t len, bool item, size_t max,
                            size_t *out_len)
{
    char *full = malloc(max ? max : 1);
    FUZZ_CHECK(full != NULL);
    size_t n = fn(full, max, src, len, item);
    FUZZ_CHECK(n <= max);
    size_t small_cap = n / 2;
    char *small = malloc(small_cap ? small_cap : 1);
    FUZZ_CHECK(small != NULL);
    FUZZ_CHECK(fn(small, small_cap, src, len, item) == n);
    FUZZ_CHECK(memcmp(small, full, small_cap) == 0);
    free(small);
    *out_len = n;
    return full;
}

/* The JSON text, and the base64 the writer adds when it lost bytes. */
static void check_json(const uint8_t *data, size_t size)
{
    size_t n;
    char *json = escape_checked(json_adapter, data, size, false, OUT_JSON_ESCAPE_MAX(size), &n);
    unsigned char *back = malloc(n ? n : 1);
    unsigned char *want = malloc(3 * size + 1);
    FUZZ_CHECK(back != NULL && want != NULL);
    size_t m = json_decode(back, json, n);
    int lossy;
    size_t want_len = fz_json_text(want, data, size, &lossy);
    FUZZ_CHECK(m == want_len && memcmp(back, want, m) == 0);
    FUZZ_CHECK(out_json_is_lossy(data, size) == (lossy != 0));
    FUZZ_CHECK(!lossy ? m == size && memcmp(back, data, size) == 0 : 1);
    free(json);

    size_t b64_len = OUT_BASE64_LEN(size);
    char *b64 = malloc(b64_len ? b64_len : 1);
    FUZZ_CHECK(b64 != NULL);
    FUZZ_CHECK(out_base64(b64, b64_len, data, size) == b64_len);
    if (b64_len)
        FUZZ_CHECK(out_base64(b64, b64_len / 2, data, size) == b64_len);
    unsigned char *raw = malloc(b64_len / 4 * 3 + 1);
    FUZZ_CHECK(raw != NULL);
    long got = fz_base64_decode(raw, b64, b64_len);
    FUZZ_CHECK(got == (long)size && memcmp(raw, data, size) == 0);
    got = out_base64_decode(raw, b64, b64_len);
    FUZZ_CHECK(got == (long)size && memcmp(raw, data, size) == 0);
    /* Hostile base64 text: the strict decoder agrees with the reference. */
    size_t hostile = size / 4 * 4;
    long a = out_base64_decode(raw, (const char *)data, hostile);
    if (a >= 0) {
        unsigned char *ref = malloc(hostile / 4 * 3 + 1);
        FUZZ_CHECK(ref != NULL);
        FUZZ_CHECK(fz_base64_decode(ref, (const char *)data, hostile) == a);
        FUZZ_CHECK(memcmp(ref, raw, (size_t)a) == 0);
        free(ref);
    }
    free(raw);
    free(b64);
    free(want);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        size_t n = out_utf8_seq_len(data + i, size - i);
        FUZZ_CHECK(n == fz_utf8_len(data + i, size - i));
    }

    unsigned char *back = malloc(size ? size : 1);
    FUZZ_CHECK(back != NULL);

    size_t n;
    check_json(data, size);
    for (size_t i = 0; i < size; i++)
        if (!out_utf8_seq_len(data + i, size - i))
            FUZZ_CHECK(out_utf8_bad_len(data + i, size - i) == fz_utf8_subpart(data + i, size - i));

    for (int item = 0; item <= 1; item++) {
        char *csv = escape_checked(out_csv_escape, data, size, item, OUT_CSV_ESCAPE_MAX(size), &n);
        char *plain = malloc(n ? n : 1);
        FUZZ_CHECK(plain != NULL);
        size_t plain_len = csv_check_undouble(plain, csv, n, item);
        unsigned char *dec = malloc(plain_len ? plain_len : 1);
        FUZZ_CHECK(dec != NULL);
        long got = out_csv_unescape(dec, plain, plain_len);
        FUZZ_CHECK(got >= 0 && (size_t)got == size && memcmp(dec, data, size) == 0);
        free(dec);
        free(plain);
        free(csv);
    }

    /* Hostile escaped text: never writes more than len bytes. */
    long got = out_csv_unescape(back, (const char *)data, size);
    FUZZ_CHECK(got >= -1 && got <= (long)size);

    free(back);
    return 0;
}
