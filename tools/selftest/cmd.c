/*
 * Pure parsers of what a mail client sends: the only code that reads
 * untrusted bytes before they are turned into events. No I/O, no state;
 * every output is bounded by the caller's cap and NUL-terminated.
 * tests/fuzz/fuzz_selftest_cmd.c checks these invariants.
 *
 * Passwords: the parsers that see them (AUTH PLAIN, IMAP LOGIN) copy only
 * the user name out; conn.c wipes the receive buffer after each command.
 */
#include "selftest.h"

#include <string.h>
#include <strings.h>

size_t stc_line_len(const char *buf, size_t len)
{
    const char *lf = memchr(buf, '\n', len);
    return lf ? (size_t)(lf - buf) + 1 : 0;
}

size_t stc_line_trim(const char *line, size_t len)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return len;
}

size_t stc_verb(const char *line, size_t len, char *verb, size_t cap, size_t *rest)
{
    size_t i = 0, n = 0;
    while (i < len && line[i] == ' ')
        i++;
    while (i < len && line[i] != ' ' && line[i] != '\r' && line[i] != '\n' && line[i] != '\0') {
        char ch = line[i++];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (cap && n + 1 < cap)
            verb[n++] = ch;
    }
    if (cap)
        verb[n] = '\0';
    while (i < len && line[i] == ' ')
        i++;
    *rest = i;
    return n;
}

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Lenient on padding (clients differ), strict on everything else. */
long stc_b64_decode(const char *src, size_t len, unsigned char *dst, size_t cap)
{
    size_t pad = 0;
    while (len && src[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)src[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            dst[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)n;
}

int stc_plain_user(const unsigned char *msg, size_t len, char *user, size_t cap)
{
    const unsigned char *nul1 = memchr(msg, '\0', len);
    if (!nul1 || cap == 0)
        return -1;
    const unsigned char *authcid = nul1 + 1;
    size_t left = len - (size_t)(authcid - msg);
    const unsigned char *nul2 = memchr(authcid, '\0', left);
    if (!nul2)
        return -1;
    size_t ulen = (size_t)(nul2 - authcid);
    if (ulen + 1 > cap)
        return -1;
    memcpy(user, authcid, ulen);
    user[ulen] = '\0';
    return 0;
}

static bool session_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

bool stc_session_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= ST_SESSION_MAX || !session_char(s[n]))
            return false;
    return n > 0;
}

size_t stc_session_from_user(const char *user, size_t len, char *out, size_t cap)
{
    static const char prefix[] = "test-", domain[] = "@selftest.example";
    const size_t plen = sizeof(prefix) - 1, dlen = sizeof(domain) - 1;
    if (cap)
        out[0] = '\0';
    if (len <= plen || strncasecmp(user, prefix, plen) != 0)
        return 0;
    const char *at = memchr(user, '@', len);
    size_t end = len;
    if (at) {
        end = (size_t)(at - user);
        if (len - end != dlen || strncasecmp(at, domain, dlen) != 0)
            return 0;
    }
    size_t n = end - plen;
    if (n == 0 || n > ST_SESSION_MAX || n + 1 > cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!session_char(user[plen + i]))
            return 0;
    memcpy(out, user + plen, n);
    out[n] = '\0';
    return n;
}

/* A literal announcement "{N}" or "{N+}" ending the line [0, end) (CRLF
 * excluded): returns N, or -1 when there is none or N is absurd. */
static long literal_at_end(const char *line, size_t end, bool *is_sync)
{
    if (end < 3 || line[end - 1] != '}')
        return -1;
    size_t i = end - 1;
    *is_sync = true;
    if (line[i - 1] == '+') {
        *is_sync = false;
        i--;
    }
    size_t digits_end = i;
    while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
        i--;
    if (i == 0 || line[i - 1] != '{' || i == digits_end || digits_end - i > 9)
        return -1;
    long n = 0;
    for (size_t k = i; k < digits_end; k++)
        n = n * 10 + (line[k] - '0');
    return n;
}

long stc_imap_frame(const char *buf, size_t len, size_t cap, size_t *sync_at)
{
    size_t off = 0;
    *sync_at = 0;
    for (;;) {
        size_t ll = stc_line_len(buf + off, len - off);
        if (ll == 0)
            return 0;
        size_t line_end = off + ll;
        bool is_sync = false;
        long lit = literal_at_end(buf + off, stc_line_trim(buf + off, ll), &is_sync);
        if (lit < 0)
            return (long)line_end;
        if ((size_t)lit > cap || line_end + (size_t)lit > cap)
            return -1;
        if (len - line_end < (size_t)lit) {
            if (is_sync)
                *sync_at = line_end;
            return 0;
        }
        off = line_end + (size_t)lit;
    }
}

long stc_imap_astring(const char **p, const char *end, char *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    if (cap == 0 || s >= end)
        return -1;
    if (*s == '"') {
        for (s++;; s++) {
            if (s >= end || *s == '\r' || *s == '\n')
                return -1;
            if (*s == '"')
                break;
            if (*s == '\\') {
                if (++s >= end || (*s != '"' && *s != '\\'))
                    return -1;
            }
            if (n + 1 >= cap)
                return -1;
            out[n++] = *s;
        }
        s++;
    } else if (*s == '{') {
        size_t lit = 0, digits = 0;
        for (s++; s < end && *s >= '0' && *s <= '9'; s++, digits++)
            if (digits < 9)
                lit = lit * 10 + (size_t)(*s - '0');
        if (digits == 0 || digits > 9)
            return -1;
        if (s < end && *s == '+')
            s++;
        if (end - s < 3 || s[0] != '}' || s[1] != '\r' || s[2] != '\n')
            return -1;
        s += 3;
        if ((size_t)(end - s) < lit || lit + 1 > cap)
            return -1;
        memcpy(out, s, lit);
        n = lit;
        s += lit;
    } else {
        /* atom-chars plus ']' (ASTRING-CHAR); stop at space or CRLF */
        while (s < end && *s != ' ' && *s != '\r' && *s != '\n') {
            unsigned char ch = (unsigned char)*s;
            if (ch < 0x20 || ch == 0x7f || ch == '(' || ch == ')' || ch == '{' || ch == '"' || ch == '%' ||
                ch == '*' || ch == '\\')
                return -1;
            if (n + 1 >= cap)
                return -1;
            out[n++] = *s++;
        }
        if (n == 0)
            return -1;
    }
    out[n] = '\0';
    if (s < end && *s == ' ')
        s++;
    *p = s;
    return (long)n;
}
