/* json.c - validating tokenizer and string decoder; see json.h. */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct json_doc *d;
    const char *s;
    size_t len;
    size_t pos;
    const char *why;
};

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int new_tok(struct parser *p, enum json_type t)
{
    if (p->d->n >= p->d->cap) {
        p->why = "too many values";
        return -1;
    }
    int i = (int)p->d->n++;
    p->d->toks[i] = (struct json_tok){.type = t, .start = (uint32_t)p->pos};
    return i;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 for bytes that may appear unescaped inside a string and need no
 * attention: everything but '"', '\\' and control bytes. A table keeps
 * the scan loop to one load and one branch per byte. */
static unsigned char plain_byte[256];

static void init_plain_bytes(void)
{
    for (int c = 0x20; c < 256; c++)
        plain_byte[c] = c != '"' && c != '\\';
}

static int parse_string(struct parser *p)
{
    int t = new_tok(p, JSON_STRING);
    if (t < 0)
        return -1;
    size_t i = ++p->pos; /* past the opening quote */
    for (;;) {
        /* Scan a run of ordinary bytes quickly. */
        while (i < p->len && plain_byte[(unsigned char)p->s[i]])
            i++;
        if (i >= p->len) {
            p->pos = i;
            p->why = "unterminated string";
            return -1;
        }
        char c = p->s[i];
        if (c == '"')
            break;
        if (c != '\\') {
            p->pos = i;
            p->why = "raw control byte in string";
            return -1;
        }
        if (i + 1 >= p->len) {
            p->pos = i;
            p->why = "unterminated string";
            return -1;
        }
        char e = p->s[i + 1];
        if (e == 'u') {
            if (i + 5 >= p->len || !is_hex(p->s[i + 2]) || !is_hex(p->s[i + 3]) || !is_hex(p->s[i + 4]) ||
                !is_hex(p->s[i + 5])) {
                p->pos = i;
                p->why = "bad \\u escape";
                return -1;
            }
            i += 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            i += 2;
        } else {
            p->pos = i;
            p->why = "bad escape";
            return -1;
        }
    }
    p->d->toks[t].start = (uint32_t)(p->pos);
    p->d->toks[t].len = (uint32_t)(i - p->pos);
    p->d->toks[t].next = (uint32_t)t + 1;
    p->pos = i + 1;
    return t;
}

static int parse_number(struct parser *p)
{
    int t = new_tok(p, JSON_NUMBER);
    if (t < 0)
        return -1;
    size_t i = p->pos;
    const char *s = p->s;
    if (i < p->len && s[i] == '-')
        i++;
    if (i < p->len && s[i] == '0') {
        i++;
    } else if (i < p->len && s[i] >= '1' && s[i] <= '9') {
        while (i < p->len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        p->why = "bad number";
        return -1;
    }
    if (i < p->len && s[i] == '.') {
        size_t d0 = ++i;
        while (i < p->len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d0) {
            p->pos = i;
            p->why = "bad number";
            return -1;
        }
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d0 = i;
        while (i < p->len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d0) {
            p->pos = i;
            p->why = "bad number";
            return -1;
        }
    }
    p->d->toks[t].len = (uint32_t)(i - p->pos);
    p->d->toks[t].next = (uint32_t)t + 1;
    p->pos = i;
    return t;
}

static int parse_value(struct parser *p, int depth);

static int parse_container(struct parser *p, int depth, bool is_object)
{
    if (depth >= JSON_MAX_DEPTH) {
        p->why = "nesting too deep";
        return -1;
    }
    int t = new_tok(p, is_object ? JSON_OBJECT : JSON_ARRAY);
    if (t < 0)
        return -1;
    char close = is_object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    uint32_t count = 0;
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (is_object) {
                if (p->pos >= p->len || p->s[p->pos] != '"') {
                    p->why = "expected a string key";
                    return -1;
                }
                if (parse_string(p) < 0)
                    return -1;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':') {
                    p->why = "expected ':'";
                    return -1;
                }
                p->pos++;
            }
            if (parse_value(p, depth + 1) < 0)
                return -1;
            count++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            p->why = is_object ? "expected ',' or '}'" : "expected ',' or ']'";
            return -1;
        }
    }
    p->d->toks[t].count = count;
    p->d->toks[t].next = p->d->n;
    return t;
}

static int parse_literal(struct parser *p, const char *word, enum json_type type)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        p->why = "unexpected character";
        return -1;
    }
    int t = new_tok(p, type);
    if (t < 0)
        return -1;
    p->d->toks[t].len = (uint32_t)n;
    p->d->toks[t].next = (uint32_t)t + 1;
    p->pos += n;
    return t;
}

static int parse_value(struct parser *p, int depth)
{
    skip_ws(p);
    if (p->pos >= p->len) {
        p->why = "unexpected end of input";
        return -1;
    }
    switch (p->s[p->pos]) {
    case '{': return parse_container(p, depth, true);
    case '[': return parse_container(p, depth, false);
    case '"': return parse_string(p);
    case 't': return parse_literal(p, "true", JSON_TRUE);
    case 'f': return parse_literal(p, "false", JSON_FALSE);
    case 'n': return parse_literal(p, "null", JSON_NULL);
    default: return parse_number(p);
    }
}

int json_parse(struct json_doc *d, const char *src, size_t len, char *err, size_t errlen)
{
    if (len > UINT32_MAX - 1) {
        snprintf(err, errlen, "document too large");
        return -1;
    }
    if (!plain_byte['a'])
        init_plain_bytes();
    struct parser p = {.d = d, .s = src, .len = len};
    d->src = src;
    d->n = 0;
    if (parse_value(&p, 0) >= 0) {
        skip_ws(&p);
        if (p.pos == len)
            return 0;
        p.why = "trailing data after the value";
    }
    snprintf(err, errlen, "column %zu: %s", p.pos + 1, p.why);
    return -1;
}

bool json_key_is(const struct json_doc *d, int tok, const char *name, size_t name_len)
{
    const struct json_tok *t = &d->toks[tok];
    return t->type == JSON_STRING && t->len == name_len && memcmp(d->src + t->start, name, name_len) == 0;
}

int json_get(const struct json_doc *d, int obj, const char *key)
{
    const struct json_tok *o = &d->toks[obj];
    if (o->type != JSON_OBJECT)
        return -1;
    size_t klen = strlen(key);
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t m = 0; m < o->count; m++) {
        uint32_t v = d->toks[i].next;
        if (json_key_is(d, (int)i, key, klen))
            return (int)v;
        i = d->toks[v].next;
    }
    return -1;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

long json_string(const struct json_doc *d, int tok, unsigned char *dst, size_t cap)
{
    const struct json_tok *t = &d->toks[tok];
    if (t->type != JSON_STRING)
        return -1;
    const char *s = d->src + t->start, *end = s + t->len;
    size_t o = 0;
    while (s < end) {
        const char *bs = memchr(s, '\\', (size_t)(end - s));
        size_t run = bs ? (size_t)(bs - s) : (size_t)(end - s);
        if (run > cap - o)
            return -1;
        memcpy(dst + o, s, run);
        o += run;
        s += run;
        if (s >= end)
            break;
        /* The tokenizer already checked every escape's shape. */
        char e = s[1];
        unsigned char tmp[4];
        size_t n = 1;
        switch (e) {
        case 'b': tmp[0] = '\b'; break;
        case 'f': tmp[0] = '\f'; break;
        case 'n': tmp[0] = '\n'; break;
        case 'r': tmp[0] = '\r'; break;
        case 't': tmp[0] = '\t'; break;
        case 'u': break;
        default: tmp[0] = (unsigned char)e; break;
        }
        if (e != 'u') {
            s += 2;
        } else {
            unsigned cp = hex4(s + 2);
            s += 6;
            if (cp >= 0xdc80 && cp <= 0xdcff) {
                tmp[0] = (unsigned char)(cp & 0xff); /* surrogateescape byte */
            } else if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
                    return -1;
                unsigned lo = hex4(s + 2);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                s += 6;
                n = put_utf8(tmp, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            } else {
                n = put_utf8(tmp, cp);
            }
        }
        if (n > cap - o)
            return -1;
        memcpy(dst + o, tmp, n);
        o += n;
    }
    return (long)o;
}

int json_int(const struct json_doc *d, int tok, int64_t *v)
{
    const struct json_tok *t = &d->toks[tok];
    if (t->type != JSON_NUMBER || t->len > 20)
        return -1;
    char buf[24];
    memcpy(buf, d->src + t->start, t->len);
    buf[t->len] = '\0';
    if (strpbrk(buf, ".eE"))
        return -1;
    errno = 0;
    char *endp;
    long long x = strtoll(buf, &endp, 10);
    if (errno || *endp)
        return -1;
    *v = x;
    return 0;
}
