/* escape.c - JSON and CSV escaping of raw server bytes; see escape.h. */
#include "escape.h"

#include <stdint.h>

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* How far the bytes at s follow the RFC 3629 table: returns the number of
 * bytes (at most n) that form a well-formed sequence or a prefix of one,
 * and sets *need to the full length that the lead byte asks for (0 when
 * it can lead nothing). */
static size_t utf8_scan(const unsigned char *s, size_t n, size_t *need)
{
    unsigned char c = s[0];
    *need = 0;
    if (c < 0x80) {
        *need = 1;
        return 1;
    }
    /* Second-byte bounds per RFC 3629 table: they exclude overlongs (E0,
     * F0), UTF-16 surrogates (ED) and code points past U+10FFFF (F4). */
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        *need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        *need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        *need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 1;
    }
    if (n < 2 || s[1] < lo || s[1] > hi)
        return 1;
    size_t i = 2;
    while (i < *need && i < n && s[i] >= 0x80 && s[i] <= 0xbf)
        i++;
    return i;
}

size_t out_utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t need;
    size_t got = utf8_scan(s, n, &need);
    return need && got == need ? need : 0;
}

size_t out_utf8_bad_len(const unsigned char *s, size_t n)
{
    size_t need;
    return utf8_scan(s, n, &need);
}

/* Appends bytes to dst while counting the full length past dstcap. */
static void put(char *dst, size_t dstcap, size_t *pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*pos)++)
        if (*pos < dstcap)
            dst[*pos] = s[i];
}

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char replacement[3] = {'\xef', '\xbf', '\xbd'};

size_t out_json_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len)
{
    size_t pos = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = src[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            /* Fast path: a run of printable ASCII. */
            size_t j = i + 1;
            while (j < len && src[j] >= 0x20 && src[j] < 0x7f && src[j] != '"' && src[j] != '\\')
                j++;
            put(dst, dstcap, &pos, (const char *)src + i, j - i);
            i = j;
            continue;
        }
        char esc[6] = {'\\', 'u', '0', '0', hex_lower[c >> 4], hex_lower[c & 15]};
        switch (c) {
        case '"':
            put(dst, dstcap, &pos, "\\\"", 2);
            i++;
            continue;
        case '\\':
            put(dst, dstcap, &pos, "\\\\", 2);
            i++;
            continue;
        case '\n':
            put(dst, dstcap, &pos, "\\n", 2);
            i++;
            continue;
        case '\r':
            put(dst, dstcap, &pos, "\\r", 2);
            i++;
            continue;
        case '\t':
            put(dst, dstcap, &pos, "\\t", 2);
            i++;
            continue;
        /* PostgreSQL refuses U+0000 in text and jsonb, raw or escaped. */
        case '\0':
            put(dst, dstcap, &pos, replacement, 3);
            i++;
            continue;
        default: break;
        }
        if (c < 0x80) {
            put(dst, dstcap, &pos, esc, 6);
            i++;
            continue;
        }
        size_t n = out_utf8_seq_len(src + i, len - i);
        if (n) {
            put(dst, dstcap, &pos, (const char *)src + i, n);
            i += n;
        } else {
            put(dst, dstcap, &pos, replacement, 3);
            i += out_utf8_bad_len(src + i, len - i);
        }
    }
    return pos;
}

bool out_json_is_lossy(const unsigned char *src, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (src[i] == 0)
            return true;
        if (src[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = out_utf8_seq_len(src + i, len - i);
        if (!n)
            return true;
        i += n;
    }
    return false;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t out_base64(char *dst, size_t dstcap, const unsigned char *src, size_t len)
{
    size_t pos = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)src[i] << 16;
        if (left > 1)
            v |= (uint32_t)src[i + 1] << 8;
        if (left > 2)
            v |= src[i + 2];
        char quad[4] = {b64_alphabet[v >> 18], b64_alphabet[(v >> 12) & 63],
                        left > 1 ? b64_alphabet[(v >> 6) & 63] : '=', left > 2 ? b64_alphabet[v & 63] : '='};
        put(dst, dstcap, &pos, quad, 4);
    }
    return pos;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long out_base64_decode(unsigned char *dst, const char *src, size_t len)
{
    if (len % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last ? (src[i + 3] == '=') + (src[i + 2] == '=' && src[i + 3] == '=') : 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k >= 4 - pad ? 0 : b64_value(src[i + k]);
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        /* Canonical form only: the bits that padding hides must be zero. */
        if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
            return -1;
        dst[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            dst[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            dst[o++] = (unsigned char)v;
    }
    return (long)o;
}

size_t out_csv_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len, bool is_list_item)
{
    size_t pos = 0;
    if (is_list_item && len == 0) {
        put(dst, dstcap, &pos, "\\e", 2);
        return pos;
    }
    size_t i = 0;
    while (i < len) {
        unsigned char c = src[i];
        if (c == '"') {
            put(dst, dstcap, &pos, "\"\"", 2);
            i++;
            continue;
        }
        if (c == '\\') {
            put(dst, dstcap, &pos, "\\\\", 2);
            i++;
            continue;
        }
        size_t n =
            c < 0x20 || c == 0x7f || (c == '|' && is_list_item) ? 0 : out_utf8_seq_len(src + i, len - i);
        if (n) {
            put(dst, dstcap, &pos, (const char *)src + i, n);
            i += n;
        } else {
            char esc[4] = {'\\', 'x', hex_upper[c >> 4], hex_upper[c & 15]};
            put(dst, dstcap, &pos, esc, 4);
            i++;
        }
    }
    return pos;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long out_csv_unescape(unsigned char *dst, const char *src, size_t len)
{
    if (len == 2 && src[0] == '\\' && src[1] == 'e')
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] != '\\') {
            dst[o++] = (unsigned char)src[i];
            continue;
        }
        if (i + 1 < len && src[i + 1] == '\\') {
            dst[o++] = '\\';
            i++;
            continue;
        }
        if (i + 3 < len && src[i + 1] == 'x') {
            int h = hex_value(src[i + 2]), l = hex_value(src[i + 3]);
            if (h < 0 || l < 0)
                return -1;
            dst[o++] = (unsigned char)(h << 4 | l);
            i += 3;
            continue;
        }
        return -1;
    }
    return (long)o;
}
