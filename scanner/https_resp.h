/*
 * https_resp.h - a bounded reader of one HTTP/1.1 response (the MTA-STS
 * policy fetch, https.h). Pure: bytes in, verdict out, no allocation.
 *
 * The head (status line and headers) may be at most HTTP_HEAD_MAX bytes;
 * the body at most the caller's cap (MTA-STS: 64 KiB). Bodies framed by
 * Content-Length, by chunked transfer coding (chunk extensions and
 * trailers skipped) or by the end of the connection are understood.
 * Header lines end in CRLF or LF; obsolete line folding is refused.
 */
#ifndef MAILTLS_HTTPS_RESP_H
#define MAILTLS_HTTPS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 8192

enum http_res {
    HTTP_MORE,    /* not complete yet */
    HTTP_DONE,    /* complete: the fields below are valid */
    HTTP_BAD,     /* not an HTTP/1.x response, or broken framing */
    HTTP_TOO_BIG, /* head or body over its cap */
};

struct http_resp {
    int status;            /* 100-999 */
    bool text_plain;       /* Content-Type is text/plain (parameters allowed) */
    bool has_location;     /* a redirect target was given */
    char content_type[64]; /* as sent, cut; "" when absent */
    size_t body_len;       /* bytes written to body */
};

/* Reads the bytes received so far (eof: the peer closed). The body goes
 * into body (cap bytes at most). */
enum http_res http_parse(const unsigned char *buf, size_t len, bool eof, struct http_resp *r,
                         unsigned char *body, size_t cap);
const char *http_res_name(enum http_res v);

#endif
