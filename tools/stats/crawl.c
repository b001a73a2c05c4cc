/* crawl.c - rebuilds the crawler's view of a record; see crawl.h. */
#include "crawl.h"

#include <string.h>

struct out {
    char *buf;
    size_t len;
};

/* Appends lower-cased bytes, silently cut at CRAWL_MAX_BYTES (the cut only
 * matters for records that are themselves truncated). */
static void put(struct out *o, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n && o->len < CRAWL_MAX_BYTES; i++) {
        unsigned char c = s[i];
        o->buf[o->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static int proto_of(const struct record *r)
{
    if (rec_has(r, F_PROTOCOL)) {
        size_t n;
        const unsigned char *p = rec_text(r, F_PROTOCOL, &n);
        if (n == 4 && memcmp(p, "smtp", 4) == 0)
            return 's';
        if (n == 4 && memcmp(p, "imap", 4) == 0)
            return 'i';
        if (n == 4 && memcmp(p, "pop3", 4) == 0)
            return 'p';
    }
    switch (rec_has(r, F_PORT) ? rec_int(r, F_PORT) : 0) {
    case 143:
    case 993: return 'i';
    case 110:
    case 995: return 'p';
    default: return 's';
    }
}

size_t crawl_text(const struct record *r, char *buf)
{
    struct out o = {buf, 0};
    if (!rec_has(r, F_BANNER))
        return 0;
    size_t n;
    const unsigned char *b = rec_text(r, F_BANNER, &n);
    put(&o, b, n);
    if (n && b[n - 1] != '\n')
        puts_(&o, "\r\n");
    enum rec_field caps = F_CAPS_BEFORE_TLS;
    if (!rec_has(r, caps) && rec_has(r, F_CAPS_AFTER_TLS))
        caps = F_CAPS_AFTER_TLS;
    if (!rec_has(r, caps))
        return o.len;
    int proto = proto_of(r);
    uint16_t cur = 0;
    const unsigned char *item;
    size_t len;
    uint16_t count = r->span[caps].len, k = 0;
    if (proto == 'i')
        puts_(&o, "* capability");
    else if (proto == 'p')
        puts_(&o, "+ok\r\n");
    while (rec_list_next(r, caps, &cur, &item, &len)) {
        k++;
        if (proto == 's') {
            puts_(&o, k == count ? "250 " : "250-");
            put(&o, item, len);
            puts_(&o, "\r\n");
        } else if (proto == 'i') {
            puts_(&o, " ");
            put(&o, item, len);
        } else {
            put(&o, item, len);
            puts_(&o, "\r\n");
        }
    }
    if (proto == 'i')
        puts_(&o, "\r\n");
    else if (proto == 'p')
        puts_(&o, ".\r\n");
    return o.len;
}
