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

/* A quoted value at s[*at]: 0 to RECJSON_VALUE_MAX name bytes. */
static bool quoted_value(const unsigned char *s, size_t n, size_t *at)
{
    size_t i = *at;
    if (i >= n || s[i] != '"')
        return false;
    size_t start = ++i;
    while (i < n && name_byte(s[i]))
        i++;
    if (i - start > RECJSON_VALUE_MAX || i >= n || s[i] != '"')
        return false;
    *at = i + 1;
    return true;
}

/* A non-negative integer without leading zeros, at most 18 digits. */
static bool digits_ok(const unsigned char *s, size_t n)
{
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool scalar(const unsigned char *s, size_t n, size_t *at)
{
    size_t i = *at;
    if (i < n && s[i] == '"')
        return quoted_value(s, n, at);
    if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) {
        *at = i + 4;
        return true;
    }
    if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) {
        *at = i + 5;
        return true;
    }
    size_t j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9')
        j++;
    if (!digits_ok(s + i, j - i))
        return false;
    *at = j;
    return true;
}

/* [{"name":scalar,...},...] */
static bool rows_ok(const unsigned char *s, size_t n)
{
    size_t at = 0;
    if (!byte_is(s, n, &at, '['))
        return false;
    if (byte_is(s, n, &at, ']'))
        return at == n;
    for (;;) {
        if (!byte_is(s, n, &at, '{'))
            return false;
        if (!byte_is(s, n, &at, '}')) {
            for (;;) {
                if (!quoted_name(s, n, &at) || !byte_is(s, n, &at, ':') || !scalar(s, n, &at))
                    return false;
                if (byte_is(s, n, &at, '}'))
                    break;
                if (!byte_is(s, n, &at, ','))
                    return false;
            }
        }
        if (byte_is(s, n, &at, ']'))
            return at == n;
        if (!byte_is(s, n, &at, ','))
            return false;
    }
}

bool recjson_ok(const unsigned char *s, size_t n)
{
    if (n > 0 && s[0] == '[')
        return rows_ok(s, n);
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

/* Appends a scalar token (string of name bytes, integer, boolean). */
static bool put_scalar(const struct json_doc *d, int tok, unsigned char *out, size_t cap, size_t *used)
{
    const struct json_tok *t = &d->toks[tok];
    const unsigned char *p = (const unsigned char *)d->src + t->start;
    const char *lit = t->type == JSON_TRUE ? "true" : t->type == JSON_FALSE ? "false" : NULL;
    if (lit) {
        size_t l = strlen(lit);
        if (*used + l > cap)
            return false;
        memcpy(out + *used, lit, l);
        *used += l;
        return true;
    }
    if (t->type == JSON_NUMBER) {
        if (!digits_ok(p, t->len) || *used + t->len > cap)
            return false;
        memcpy(out + *used, p, t->len);
        *used += t->len;
        return true;
    }
    if (t->type != JSON_STRING || t->len > RECJSON_VALUE_MAX || *used + t->len + 2 > cap)
        return false;
    for (uint32_t i = 0; i < t->len; i++)
        if (!name_byte(p[i]))
            return false; /* no escapes either */
    out[(*used)++] = '"';
    memcpy(out + *used, p, t->len);
    *used += t->len;
    out[(*used)++] = '"';
    return true;
}

/* The array-of-rows shape (recjson.h). */
static long rows_from_doc(const struct json_doc *d, int tok, unsigned char *out, size_t cap)
{
    const struct json_tok *a = &d->toks[tok];
    size_t used = 0;
    if (!put_byte(out, cap, &used, '['))
        return -1;
    uint32_t i = (uint32_t)tok + 1;
    for (uint32_t r = 0; r < a->count; r++) {
        const struct json_tok *o = &d->toks[i];
        if ((r && !put_byte(out, cap, &used, ',')) || o->type != JSON_OBJECT ||
            !put_byte(out, cap, &used, '{'))
            return -1;
        uint32_t k = i + 1;
        for (uint32_t m = 0; m < o->count; m++) {
            uint32_t v = d->toks[k].next;
            if ((m && !put_byte(out, cap, &used, ',')) || !put_name(d, (int)k, out, cap, &used) ||
                !put_byte(out, cap, &used, ':') || !put_scalar(d, (int)v, out, cap, &used))
                return -1;
            k = d->toks[v].next;
        }
        if (!put_byte(out, cap, &used, '}'))
            return -1;
        i = o->next;
    }
    if (!put_byte(out, cap, &used, ']'))
        return -1;
    return (long)used;
}

long recjson_from_doc(const struct json_doc *d, int tok, unsigned char *out, size_t cap)
{
    const struct json_tok *o = &d->toks[tok];
    size_t used = 0;
    if (o->type == JSON_ARRAY)
        return rows_from_doc(d, tok, out, cap);
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
