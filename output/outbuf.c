/* outbuf.c - fixed-maximum byte buffer; see outbuf.h. */
#include "outbuf.h"

#include <stdlib.h>
#include <string.h>

int outbuf_init(struct outbuf *b, size_t max)
{
    b->data = malloc(max ? max : 1);
    b->len = 0;
    b->max = b->data ? max : 0;
    b->overflow = false;
    return b->data ? 0 : -1;
}

void outbuf_free(struct outbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->max = 0;
}

void outbuf_reset(struct outbuf *b)
{
    b->len = 0;
    b->overflow = false;
}

void outbuf_truncate(struct outbuf *b, size_t len)
{
    if (len < b->len)
        b->len = len;
    b->overflow = false;
}

size_t outbuf_room(const struct outbuf *b)
{
    return b->max - b->len;
}

void outbuf_append(struct outbuf *b, const void *data, size_t len)
{
    if (b->overflow || len > b->max - b->len) {
        b->overflow = true;
        return;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

void outbuf_append_str(struct outbuf *b, const char *s)
{
    outbuf_append(b, s, strlen(s));
}

void outbuf_append_byte(struct outbuf *b, unsigned char c)
{
    if (b->overflow || b->len == b->max) {
        b->overflow = true;
        return;
    }
    b->data[b->len++] = c;
}

void outbuf_append_i64(struct outbuf *b, int64_t v)
{
    /* Digits are produced backwards; the magnitude is taken as unsigned so
     * INT64_MIN does not overflow. */
    char tmp[24];
    size_t n = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    outbuf_append(b, tmp + sizeof tmp - n, n);
}
