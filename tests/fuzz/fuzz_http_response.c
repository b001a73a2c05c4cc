/*
 * fuzz_http_response.c - scanner/https_resp.c (the MTA-STS fetch's reader).
 *
 * The first byte holds the body cap's choice and whether the peer closed;
 * the rest is what the server sent. Checked: the verdict is one of the
 * four; on DONE the status is 100-999 and the body fits the cap; parsing
 * is deterministic (same verdict, status, type and body twice); the first
 * half of the bytes, not closed, on an exact-size heap copy, reads as one
 * of the four verdicts without reading past its bytes (ASan).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/https_resp.h"
#include "fuzz_check.h"

static unsigned char body[65536], body2[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t caps[] = {0, 1, 16, 1024, 65536};
    size_t cap = caps[data[0] % 5];
    bool eof = data[0] & 0x80;
    const unsigned char *msg = data + 1;
    size_t len = size - 1;
    struct http_resp r, r2;
    enum http_res v = http_parse(msg, len, eof, &r, body, cap);
    FUZZ_CHECK(v == HTTP_MORE || v == HTTP_DONE || v == HTTP_BAD || v == HTTP_TOO_BIG);
    FUZZ_CHECK(strlen(r.content_type) < sizeof r.content_type);
    enum http_res v2 = http_parse(msg, len, eof, &r2, body2, cap);
    FUZZ_CHECK(v2 == v);
    if (v == HTTP_DONE) {
        FUZZ_CHECK(r.status >= 100 && r.status <= 999);
        FUZZ_CHECK(r.body_len <= cap);
        FUZZ_CHECK(r2.body_len == r.body_len && memcmp(body, body2, r.body_len) == 0);
        FUZZ_CHECK(r2.status == r.status && r2.text_plain == r.text_plain);
    }
    /* a prefix of the bytes, not closed */
    if (len > 1) {
        size_t cut = len / 2;
        unsigned char *copy = malloc(cut);
        memcpy(copy, msg, cut);
        enum http_res vp = http_parse(copy, cut, false, &r2, body2, cap);
        FUZZ_CHECK(vp == HTTP_MORE || vp == HTTP_DONE || vp == HTTP_BAD || vp == HTTP_TOO_BIG);
        free(copy);
    }
    return 0;
}
