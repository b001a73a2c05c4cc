/*
 * recjson.c - check and rebuild the RT_JSON shape (recjson.h).
 */
#include "recjson.h"

#include <string.h>

static bool name_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

/* A quoted name at s[*at]; advances past it. */
static bool quoted_name(const unsigned char *s, size_t n, size_t *at)
{
    size_t i = *at;
    if (i >= n || s[i] != '"')
        return false;
    size_t start = ++i;
    while (i < n && name_byte(s[i]))
        i++;
    if (i == start || i - start > RECJSON_NAME_MAX || i >= n || s[i] != '"')
        return false;
    *at = i + 1;
    return true;
}

static bool byte_is(const unsigned char *s, size_t n, size_t *at, unsigned char c)
{
    if (*at >= n || s[*at] != c)
        return false;
    (*at)++;
    return true;
}

bool recjson_ok(const unsigned char *s, size_t n)
{
    size_t at = 0;
    if (!byte_is(s, n, &at, '{'))
        return false;
    if (byte_is(s, n, &at, '}'))
        return at == n;
    for (;;) {
        if (!quoted_name(s, n, &at) || !byte_is(s, n, &at, ':') || !byte_is(s, n, &at, '['))
            return false;
        if (!byte_is(s, n, &at, ']')) {
            for (;;) {
                if (!quoted_name(s, n, &at))
                    return false;
                if (byte_is(s, n, &at, ']'))
                    break;
                if (!byte_is(s, n, &at, ','))
                    return false;
            }
        }
        if (byte_is(s, n, &at, '}'))
            return at == n;
        if (!byte_is(s, n, &at, ','))
            return false;
    }
}

/* Appends a string token, quoted, if it is a valid name. */
static bool put_name(const struct json_doc *d, int tok, unsigned char *out, size_t cap, size_t *used)
{
    const struct json_tok *t = &d->toks[tok];
    if (t->type != JSON_STRING || t->len == 0 || t->len > RECJSON_NAME_MAX || *used + t->len + 2 > cap)
        return false;
    const unsigned char *p = (const unsigned char *)d->src + t->start;
    for (uint32_t i = 0; i < t->len; i++)
        if (!name_byte(p[i]))
            return false; /* also refuses every escape: a backslash is not a name byte */
    out[(*used)++] = '"';
    memcpy(out + *used, p, t->len);
    *used += t->len;
    out[(*used)++] = '"';
    return true;
}

static bool put_byte(unsigned char *out, size_t cap, size_t *used, unsigned char c)
{
    if (*used >= cap)
        return false;
    out[(*used)++] = c;
    return true;
}

long recjson_from_doc(const struct json_doc *d, int tok, unsigned char *out, size_t cap)
{
    const struct json_tok *o = &d->toks[tok];
    size_t used = 0;
    if (o->type != JSON_OBJECT || !put_byte(out, cap, &used, '{'))
        return -1;
    uint32_t k = (uint32_t)tok + 1;
    for (uint32_t m = 0; m < o->count; m++) {
        uint32_t v = d->toks[k].next;
        const struct json_tok *a = &d->toks[v];
        if ((m && !put_byte(out, cap, &used, ',')) || !put_name(d, (int)k, out, cap, &used) ||
            !put_byte(out, cap, &used, ':') || a->type != JSON_ARRAY || !put_byte(out, cap, &used, '['))
            return -1;
        uint32_t i = v + 1;
        for (uint32_t j = 0; j < a->count; j++) {
            if ((j && !put_byte(out, cap, &used, ',')) || !put_name(d, (int)i, out, cap, &used))
                return -1;
            i = d->toks[i].next;
        }
        if (!put_byte(out, cap, &used, ']'))
            return -1;
        k = a->next;
    }
    if (!put_byte(out, cap, &used, '}'))
        return -1;
    return (long)used;
}
