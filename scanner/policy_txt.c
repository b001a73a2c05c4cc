/* policy_txt.c - MTA-STS and TLS-RPT TXT records (see policy_txt.h). */
#include "policy_txt.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* The next ';'-separated field of *p, white space trimmed: [*b, *e). */
static bool next_field(const char **p, const char **b, const char **e)
{
    const char *s = *p;
    if (!*s)
        return false;
    while (is_wsp(*s))
        s++;
    const char *end = strchr(s, ';');
    if (!end)
        end = s + strlen(s);
    *p = *end ? end + 1 : end;
    const char *t = end;
    while (t > s && is_wsp(t[-1]))
        t--;
    *b = s;
    *e = t;
    return true;
}

static bool field_is(const char *b, const char *e, const char *key, const char **val)
{
    size_t k = strlen(key);
    if ((size_t)(e - b) < k || memcmp(b, key, k) != 0)
        return false;
    *val = b + k;
    return true;
}

enum ptxt_res ptxt_sts(const char *txt, char *id, size_t idcap)
{
    const char *p = txt, *b, *e, *v;
    if (idcap)
        id[0] = 0;
    /* the version comes first, exactly (RFC 8461 3.1: case-sensitive) */
    if (strncmp(txt, "v=STSv1", 7) != 0 || (txt[7] && txt[7] != ';' && !is_wsp(txt[7])))
        return PTXT_OTHER;
    next_field(&p, &b, &e);
    if (e - b != 7)
        return PTXT_BAD; /* "v=STSv1 x" */
    bool have_id = false;
    while (next_field(&p, &b, &e)) {
        if (b == e)
            continue; /* the optional trailing ';' */
        if (!field_is(b, e, "id=", &v))
            continue; /* extension fields are allowed */
        size_t n = (size_t)(e - v);
        if (have_id || n < 1 || n > PTXT_STS_ID_MAX)
            return PTXT_BAD;
        for (const char *c = v; c < e; c++)
            if (!isalnum((unsigned char)*c))
                return PTXT_BAD;
        if (idcap)
            snprintf(id, idcap, "%.*s", (int)n, v);
        have_id = true;
    }
    return have_id ? PTXT_OK : PTXT_BAD;
}

/* One rua item: mailto:x or https://x (RFC 8460 3). */
static bool rua_item_ok(const char *b, const char *e)
{
    while (b < e && is_wsp(*b))
        b++;
    while (e > b && is_wsp(e[-1]))
        e--;
    size_t n = (size_t)(e - b);
    if (n > 7 && strncasecmp(b, "mailto:", 7) == 0)
        return memchr(b, '@', n) != NULL;
    return n > 8 && strncasecmp(b, "https://", 8) == 0;
}

enum ptxt_res ptxt_tlsrpt(const char *txt, char *rua, size_t ruacap)
{
    const char *p = txt, *b, *e, *v;
    if (ruacap)
        rua[0] = 0;
    if (strncmp(txt, "v=TLSRPTv1", 10) != 0 || (txt[10] && txt[10] != ';' && !is_wsp(txt[10])))
        return PTXT_OTHER;
    next_field(&p, &b, &e);
    if (e - b != 10)
        return PTXT_BAD;
    bool have_rua = false;
    while (next_field(&p, &b, &e)) {
        if (b == e || !field_is(b, e, "rua=", &v))
            continue;
        if (have_rua || v == e)
            return PTXT_BAD;
        for (const char *s = v; s < e;) {
            const char *c = memchr(s, ',', (size_t)(e - s));
            const char *ie = c ? c : e;
            if (!rua_item_ok(s, ie))
                return PTXT_BAD;
            s = c ? c + 1 : e;
            if (c && s == e)
                return PTXT_BAD; /* trailing comma */
        }
        if (ruacap)
            snprintf(rua, ruacap, "%.*s", (int)(e - v), v);
        have_rua = true;
    }
    return have_rua ? PTXT_OK : PTXT_BAD;
}
