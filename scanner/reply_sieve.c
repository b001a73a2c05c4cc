/* reply_sieve.c - ManageSieve server lines (see reply_sieve.h). */
#include "reply_sieve.h"

#include <string.h>
#include <strings.h>

static bool word_is(const char *line, size_t len, const char *word)
{
    size_t wl = strlen(word);
    if (len < wl || strncasecmp(line, word, wl) != 0)
        return false;
    return len == wl || line[wl] == ' ' || line[wl] == '(';
}

enum reply_sieve_kind reply_sieve_status(const char *line, size_t len)
{
    if (word_is(line, len, "OK"))
        return SIEVE_LINE_OK;
    if (word_is(line, len, "NO"))
        return SIEVE_LINE_NO;
    if (word_is(line, len, "BYE"))
        return SIEVE_LINE_BYE;
    return SIEVE_LINE_OTHER;
}

long reply_sieve_quoted(const char *s, size_t len, char *out, size_t cap, size_t *used)
{
    size_t i = 0, n = 0;
    while (i < len && s[i] == ' ')
        i++;
    if (i >= len || s[i] != '"' || cap == 0)
        return -1;
    for (i++; i < len; i++) {
        char ch = s[i];
        if (ch == '"') {
            out[n < cap ? n : cap - 1] = '\0';
            *used = i + 1;
            return (long)(n < cap ? n : cap - 1);
        }
        if (ch == '\\') { /* only the quoted-specials \" and \\ (RFC 5804 4) */
            if (++i >= len || (s[i] != '"' && s[i] != '\\'))
                return -1;
            ch = s[i];
        }
        if (n + 1 < cap)
            out[n] = ch;
        n++;
    }
    return -1;
}

bool reply_sieve_cap(struct record *r, bool after_tls, const char *line, size_t len, struct caps_seen *seen)
{
    char name[64], value[512];
    size_t used, used2;
    long nlen = reply_sieve_quoted(line, len, name, sizeof name, &used);
    if (nlen < 0)
        return false;
    if (r)
        rec_list_add(r, after_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS, line, len);
    long vlen = reply_sieve_quoted(line + used, len - used, value, sizeof value, &used2);
    if (strcasecmp(name, "STARTTLS") == 0)
        seen->starttls = true;
    else if (strcasecmp(name, "SASL") == 0 && vlen > 0)
        reply_mechanisms(r, after_tls, value, (size_t)vlen, seen);
    return true;
}
