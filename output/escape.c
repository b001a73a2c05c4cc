/* escape.c - JSON and CSV escaping of raw server bytes; see escape.h. */
#include "escape.h"

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

size_t out_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    /* Second-byte bounds per RFC 3629 table: they exclude overlongs (E0,
     * F0), UTF-16 surrogates (ED) and code points past U+10FFFF (F4). */
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

/* Appends bytes to dst while counting the full length past dstcap. */
static void put(char *dst, size_t dstcap, size_t *pos, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*pos)++)
        if (*pos < dstcap)
            dst[*pos] = s[i];
}

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
        case '"': put(dst, dstcap, &pos, "\\\"", 2); i++; continue;
        case '\\': put(dst, dstcap, &pos, "\\\\", 2); i++; continue;
        case '\n': put(dst, dstcap, &pos, "\\n", 2); i++; continue;
        case '\r': put(dst, dstcap, &pos, "\\r", 2); i++; continue;
        case '\t': put(dst, dstcap, &pos, "\\t", 2); i++; continue;
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
            esc[2] = 'd';
            esc[3] = 'c';
            put(dst, dstcap, &pos, esc, 6);
            i++;
        }
    }
    return pos;
}

size_t out_csv_escape(char *dst, size_t dstcap, const unsigned char *src, size_t len,
                      bool is_list_item)
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
        size_t n = c < 0x20 || c == 0x7f || (c == '|' && is_list_item)
                       ? 0
                       : out_utf8_seq_len(src + i, len - i);
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
