/* https_resp.c - one HTTP/1.1 response, bounded (see https_resp.h). */
#include "https_resp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *http_res_name(enum http_res v)
{
    switch (v) {
    case HTTP_MORE: return "incomplete";
    case HTTP_DONE: return "done";
    case HTTP_BAD: return "malformed";
    case HTTP_TOO_BIG: return "too big";
    }
    return "?";
}

/* End of the line starting at p (the LF), or NULL. */
static const unsigned char *line_end(const unsigned char *p, const unsigned char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

/* [b, e) of a header line without its CR. */
static void trim(const unsigned char **b, const unsigned char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

static bool name_is(const unsigned char *b, const unsigned char *colon, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(colon - b) == n && strncasecmp((const char *)b, name, n) == 0;
}

/* Decimal number of at most 18 digits in [b, e); -1 otherwise. */
static long long decimal(const unsigned char *b, const unsigned char *e, int base)
{
    long long v = 0;
    if (b == e || e - b > 15)
        return -1;
    for (; b < e; b++) {
        int d = isdigit(*b) ? *b - '0' : (base == 16 && isxdigit(*b)) ? tolower(*b) - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * base + d;
    }
    return v;
}

struct head {
    long long content_length; /* -1 = none */
    bool chunked;
};

static enum http_res read_head(const unsigned char *buf, const unsigned char *hend, struct http_resp *r,
                               struct head *h)
{
    const unsigned char *p = buf, *nl = line_end(p, hend);
    /* "HTTP/1.x SSS reason" */
    if (!nl || nl - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit(p[7]) || p[8] != ' ' ||
        !isdigit(p[9]) || !isdigit(p[10]) || !isdigit(p[11]) ||
        (nl - p > 12 && p[12] != ' ' && p[12] != '\r'))
        return HTTP_BAD;
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->status < 100)
        return HTTP_BAD;
    for (p = nl + 1; p < hend; p = nl + 1) {
        nl = line_end(p, hend);
        if (!nl)
            return HTTP_BAD;
        const unsigned char *e = nl;
        if (e > p && e[-1] == '\r')
            e--;
        if (e == p)
            break; /* the empty line */
        if (*p == ' ' || *p == '\t')
            return HTTP_BAD; /* obsolete folding */
        const unsigned char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return HTTP_BAD;
        const unsigned char *vb = colon + 1, *ve = e;
        trim(&vb, &ve);
        if (name_is(p, colon, "Content-Length")) {
            long long v = decimal(vb, ve, 10);
            if (v < 0 || (h->content_length >= 0 && h->content_length != v))
                return HTTP_BAD;
            h->content_length = v;
        } else if (name_is(p, colon, "Transfer-Encoding")) {
            if ((size_t)(ve - vb) != 7 || strncasecmp((const char *)vb, "chunked", 7) != 0)
                return HTTP_BAD; /* only chunked is understood */
            h->chunked = true;
        } else if (name_is(p, colon, "Content-Type")) {
            snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)(ve - vb), (const char *)vb);
            const unsigned char *semi = memchr(vb, ';', (size_t)(ve - vb));
            const unsigned char *te = semi ? semi : ve;
            trim(&vb, &te);
            r->text_plain = te - vb == 10 && strncasecmp((const char *)vb, "text/plain", 10) == 0;
        } else if (name_is(p, colon, "Location")) {
            r->has_location = true;
        }
    }
    return HTTP_DONE;
}

/* Decodes a chunked body from [p, end) into body. */
static enum http_res dechunk(const unsigned char *p, const unsigned char *end, bool eof, struct http_resp *r,
                             unsigned char *body, size_t cap)
{
    for (;;) {
        const unsigned char *nl = line_end(p, end);
        if (!nl)
            return eof ? HTTP_BAD : (end - p > 64 ? HTTP_BAD : HTTP_MORE);
        const unsigned char *se = nl;
        const unsigned char *semi = memchr(p, ';', (size_t)(nl - p));
        if (semi)
            se = semi;
        const unsigned char *sb = p;
        trim(&sb, &se);
        long long n = decimal(sb, se, 16);
        if (n < 0)
            return HTTP_BAD;
        p = nl + 1;
        if (n == 0) {
            /* trailers up to the empty line */
            for (;;) {
                nl = line_end(p, end);
                if (!nl)
                    return eof ? HTTP_BAD : HTTP_MORE;
                bool empty = nl == p || (nl == p + 1 && *p == '\r');
                p = nl + 1;
                if (empty)
                    return HTTP_DONE;
            }
        }
        if ((unsigned long long)n > cap - r->body_len)
            return HTTP_TOO_BIG;
        if ((unsigned long long)(end - p) < (unsigned long long)n + 1)
            return eof ? HTTP_BAD : HTTP_MORE;
        memcpy(body + r->body_len, p, (size_t)n);
        r->body_len += (size_t)n;
        p += n;
        if (*p == '\r')
            p++;
        if (p >= end)
            return eof ? HTTP_BAD : HTTP_MORE;
        if (*p != '\n')
            return HTTP_BAD;
        p++;
    }
}

enum http_res http_parse(const unsigned char *buf, size_t len, bool eof, struct http_resp *r,
                         unsigned char *body, size_t cap)
{
    memset(r, 0, sizeof *r);
    const unsigned char *end = buf + len, *p = buf, *hend = NULL;
    /* the head ends at the first empty line */
    while (p < end) {
        const unsigned char *nl = line_end(p, end);
        if (!nl)
            break;
        if (nl == p || (nl == p + 1 && *p == '\r')) {
            hend = nl + 1;
            break;
        }
        p = nl + 1;
    }
    if (!hend) {
        if (len > HTTP_HEAD_MAX)
            return HTTP_TOO_BIG;
        return eof ? HTTP_BAD : HTTP_MORE;
    }
    if (hend - buf > HTTP_HEAD_MAX)
        return HTTP_TOO_BIG;
    struct head h = {-1, false};
    enum http_res v = read_head(buf, hend, r, &h);
    if (v != HTTP_DONE)
        return v;
    if (h.chunked)
        return dechunk(hend, end, eof, r, body, cap);
    size_t have = (size_t)(end - hend);
    if (h.content_length >= 0) {
        if ((unsigned long long)h.content_length > cap)
            return HTTP_TOO_BIG;
        if (have < (size_t)h.content_length)
            return eof ? HTTP_BAD : HTTP_MORE;
        have = (size_t)h.content_length;
    } else {
        if (have > cap)
            return HTTP_TOO_BIG;
        if (!eof)
            return HTTP_MORE; /* the body ends with the connection */
    }
    memcpy(body, hend, have);
    r->body_len = have;
    return HTTP_DONE;
}
