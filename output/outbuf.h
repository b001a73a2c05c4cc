/*
 * outbuf.h - a byte buffer with a hard maximum, for formatting output.
 *
 * The buffer is allocated once (outbuf_init) and never grows past `max`.
 * Appends that do not fit set `overflow` and write nothing, so a caller can
 * format a whole record with unchecked appends, test `overflow` once, and
 * roll back with outbuf_truncate() to the length it saved before.
 */
#ifndef MAILTLS_OUTBUF_H
#define MAILTLS_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbuf {
    unsigned char *data;
    size_t len;
    size_t max;
    bool overflow;
};

/* Allocates max bytes. Returns 0, or -1 when out of memory. */
int outbuf_init(struct outbuf *b, size_t max);
void outbuf_free(struct outbuf *b);
/* Empties the buffer and clears overflow. */
void outbuf_reset(struct outbuf *b);
/* Cuts back to len (<= current length) and clears overflow. */
void outbuf_truncate(struct outbuf *b, size_t len);
size_t outbuf_room(const struct outbuf *b);

void outbuf_append(struct outbuf *b, const void *data, size_t len);
void outbuf_append_str(struct outbuf *b, const char *s);
void outbuf_append_byte(struct outbuf *b, unsigned char c);
void outbuf_append_i64(struct outbuf *b, int64_t v);

#endif
