/*
 * test_policy_parse.c - the pure parsers behind --policy, on exact cases:
 * dnsraw.c (query with DO, answer header, TLSA, TXT, CNAME chains,
 * compression loops), policy_txt.c (MTA-STS and TLS-RPT TXT records),
 * mtasts.c (policy file, mx patterns), https_resp.c (HTTP/1.1 framing).
 * The fuzz targets check invariants on hostile input; this checks values.
 */
#include <string.h>

#include "../../scanner/dnsraw.h"
#include "../../scanner/https_resp.h"
#include "../../scanner/mtasts.h"
#include "../../scanner/policy_txt.h"
#include "check.h"

static void test_query(void)
{
    unsigned char q[DNSRAW_QUERY_MAX];
    int n = dnsraw_build(q, sizeof q, "_25._tcp.mx.example.", DNSRAW_T_TLSA, true);
    /* header 12 + name (1+3 +1+4 +1+2 +1+7 +1) 21 + type/class 4 + OPT 11 */
    CHECK(n == 12 + 21 + 4 + 11);
    CHECK(q[2] == 0x01 && q[3] == 0x30);         /* RD; AD and CD */
    CHECK(q[5] == 1 && q[7] == 0 && q[11] == 1); /* one question, one additional */
    CHECK(memcmp(q + 12,
                 "\x03_25\x04_tcp\x02mx\x07"
                 "example\x00",
                 21) == 0);
    CHECK(q[33] == 0 && q[34] == 52);   /* TLSA */
    CHECK(q[38] == 0 && q[39] == 41);   /* OPT */
    CHECK(q[44] == 0x80 && q[45] == 0); /* DO */
    CHECK(dnsraw_build(q, sizeof q, "a..b", 1, false) < 0);
    CHECK(dnsraw_build(q, sizeof q, "a.", 1, false) > 0);
    char big[80];
    memset(big, 'x', 64);
    big[64] = 0;
    CHECK(dnsraw_build(q, sizeof q, big, 1, false) < 0); /* label over 63 */
}

struct seen {
    int n;
    struct dnsraw_tlsa t[4];
    char txt[4][64];
};

static void on_tlsa(void *arg, const unsigned char *rd, uint16_t len)
{
    struct seen *s = arg;
    if (s->n < 4)
        CHECK(dnsraw_tlsa(rd, len, &s->t[s->n++]) == 0);
}

static void on_txt(void *arg, const unsigned char *rd, uint16_t len)
{
    struct seen *s = arg;
    if (s->n < 4)
        CHECK(dnsraw_txt(rd, len, s->txt[s->n++], sizeof s->txt[0]) >= 0);
}

static void test_answer(void)
{
    /* _25._tcp.mx.t TLSA: a CNAME to t.t, then the TLSA of t.t (compressed) */
    static const unsigned char a[] = {
        0x12, 0x34, 0x81, 0xa0, 0, 1,   0,   2,   0,   0,  0,   0, /* QR RD RA AD, 1 q, 2 an */
        3,    '_',  '2',  '5',  4, '_', 't', 'c', 'p', 2,  'm', 'x', 1, 't', 0,    0,
        52,   0,    1,                                                                 /* question */
        0xc0, 0x0c, 0,    5,    0, 1,   0,   0,   0,   60, 0,   4,   1, 't', 0xc0, 24, /* CNAME t.t */
        1,    't',  0xc0, 24,   0, 52,  0,   1,   0,   0,  0,   60,  0, 5,   3,    1,
        1,    0xab, 0xcd, /* TLSA 3 1 1 abcd */
    };
    struct dnsraw_header h;
    struct seen s = {0};
    CHECK(dnsraw_parse(a, sizeof a, DNSRAW_T_TLSA, &h, on_tlsa, &s) == 0);
    CHECK(h.qr && h.ad && !h.tc && h.rcode == 0 && h.ancount == 2 && h.matched == 1);
    CHECK(s.n == 1 && s.t[0].usage == 3 && s.t[0].selector == 1 && s.t[0].mtype == 1 &&
          s.t[0].data_len == 2 && s.t[0].data[0] == 0xab);
    /* cut one byte: malformed, nothing read past the end */
    memset(&s, 0, sizeof s);
    CHECK(dnsraw_parse(a, sizeof a - 1, DNSRAW_T_TLSA, &h, on_tlsa, &s) < 0 && s.n == 0);

    /* SERVFAIL without records; a pointer loop in an answer name */
    static const unsigned char sf[] = {0, 1, 0x81, 0x82, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(dnsraw_parse(sf, sizeof sf, 1, &h, NULL, NULL) == 0 && h.rcode == 2 && !h.ad);
    static const unsigned char loop[] = {0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12};
    CHECK(dnsraw_parse(loop, sizeof loop, 1, &h, NULL, NULL) < 0);

    /* TXT: two strings of one record are joined; NUL becomes '?' */
    static const unsigned char t[] = {
        0, 1,   0x81, 0x80, 0,   0,   0,   1,   0, 0,   0,   0,      /* header: one answer */
        0, 0,   16,   0,    1,   0,   0,   0,   1, 0,   13,          /* root TXT IN, rdlen 13 */
        7, 'v', '=',  'S',  'T', 'S', 'v', '1', 4, ';', 'i', 'd', 0, /* two strings */
    };
    memset(&s, 0, sizeof s);
    CHECK(dnsraw_parse(t, sizeof t, DNSRAW_T_TXT, &h, on_txt, &s) == 0 && s.n == 1);
    CHECK(strcmp(s.txt[0], "v=STSv1;id?") == 0);
}

static void test_txt_records(void)
{
    char id[PTXT_STS_ID_MAX + 1], rua[64];
    CHECK(ptxt_sts("v=STSv1; id=20240101T000000;", id, sizeof id) == PTXT_OK &&
          strcmp(id, "20240101T000000") == 0);
    CHECK(ptxt_sts("v=STSv1;id=a1;ext=x", id, sizeof id) == PTXT_OK && strcmp(id, "a1") == 0);
    CHECK(ptxt_sts("v=STSv1; id=bad-id!", id, sizeof id) == PTXT_BAD);
    CHECK(ptxt_sts("v=STSv1; id=123456789012345678901234567890123", id, sizeof id) == PTXT_BAD);
    CHECK(ptxt_sts("v=STSv1;", id, sizeof id) == PTXT_BAD);
    CHECK(ptxt_sts("v=spf1 -all", id, sizeof id) == PTXT_OTHER);
    CHECK(ptxt_sts("v=STSv10; id=x", id, sizeof id) == PTXT_OTHER);
    CHECK(ptxt_tlsrpt("v=TLSRPTv1; rua=mailto:a@b.c,https://r.example/x", rua, sizeof rua) == PTXT_OK &&
          strcmp(rua, "mailto:a@b.c,https://r.example/x") == 0);
    CHECK(ptxt_tlsrpt("v=TLSRPTv1; rua=ftp://x/", rua, sizeof rua) == PTXT_BAD);
    CHECK(ptxt_tlsrpt("v=TLSRPTv1; rua=mailto:nobody", rua, sizeof rua) == PTXT_BAD);
    CHECK(ptxt_tlsrpt("v=TLSRPTv1; rua=mailto:a@b,", rua, sizeof rua) == PTXT_BAD);
    CHECK(ptxt_tlsrpt("v=TLSRPTv1", rua, sizeof rua) == PTXT_BAD);
    CHECK(ptxt_tlsrpt("v=STSv1; id=x", rua, sizeof rua) == PTXT_OTHER);
}

static void test_sts_policy(void)
{
    struct sts_policy p;
    char err[128];
    const char *ok = "version: STSv1\r\nmode: enforce\r\nmx: Mail.Example.com\r\nmx: *.example.net\r\n"
                     "max_age: 604800\r\nfuture: thing\r\n";
    CHECK(sts_parse(ok, strlen(ok), &p, err, sizeof err) == 0);
    CHECK(p.mode == STS_ENFORCE && p.max_age == 604800 && p.n_mx == 2);
    CHECK(strcmp(p.mx[0], "mail.example.com") == 0 && strcmp(p.mx[1], "*.example.net") == 0);
    const char *none = "version: STSv1\nmode: none\nmax_age: 0\n";
    CHECK(sts_parse(none, strlen(none), &p, err, sizeof err) == 0 && p.mode == STS_NONE && p.n_mx == 0);
    const char *bad[] = {
        "mode: enforce\nmx: a\nmax_age: 1\n",                             /* no version */
        "version: STSv1\nmode: enforce\nmax_age: 1\n",                    /* no mx */
        "version: STSv1\nmode: enforce\nmx: a\nmax_age: 31557601\n",      /* max_age too big */
        "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",              /* unknown mode */
        "version: STSv1\nmode: enforce\nmx: *.*.a\nmax_age: 1\n",         /* two wildcards */
        "version: STSv1\nmode: enforce\nmode: none\nmx: a\nmax_age: 1\n", /* mode twice */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(sts_parse(bad[i], strlen(bad[i]), &p, err, sizeof err) < 0 && err[0]);
    }
    CHECK(sts_mx_match("*.example.net", "mx1.example.net"));
    CHECK(sts_mx_match("*.example.net", "MX1.Example.NET"));
    CHECK(!sts_mx_match("*.example.net", "a.b.example.net"));
    CHECK(!sts_mx_match("*.example.net", "example.net"));
    CHECK(sts_mx_match("mail.example.com", "mail.example.com"));
    CHECK(!sts_mx_match("mail.example.com", "x.mail.example.com"));
}

static void test_http(void)
{
    static unsigned char body[64];
    struct http_resp r;
    const char *cl =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello";
    CHECK(http_parse((const unsigned char *)cl, strlen(cl), false, &r, body, sizeof body) == HTTP_DONE);
    CHECK(r.status == 200 && r.text_plain && r.body_len == 5 && memcmp(body, "hello", 5) == 0);
    CHECK(http_parse((const unsigned char *)cl, strlen(cl) - 1, false, &r, body, sizeof body) == HTTP_MORE);
    CHECK(http_parse((const unsigned char *)cl, strlen(cl) - 1, true, &r, body, sizeof body) == HTTP_BAD);
    CHECK(http_parse((const unsigned char *)cl, strlen(cl), false, &r, body, 4) == HTTP_TOO_BIG);
    const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n"
                     "3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: y\r\n\r\n";
    CHECK(http_parse((const unsigned char *)ch, strlen(ch), false, &r, body, sizeof body) == HTTP_DONE);
    CHECK(!r.text_plain && r.body_len == 5 && memcmp(body, "abcde", 5) == 0);
    const char *eof = "HTTP/1.0 404 Not Found\nLocation: /x\n\nbody";
    CHECK(http_parse((const unsigned char *)eof, strlen(eof), false, &r, body, sizeof body) == HTTP_MORE);
    CHECK(http_parse((const unsigned char *)eof, strlen(eof), true, &r, body, sizeof body) == HTTP_DONE);
    CHECK(r.status == 404 && r.has_location && r.body_len == 4);
    const char *fold = "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n";
    CHECK(http_parse((const unsigned char *)fold, strlen(fold), true, &r, body, sizeof body) == HTTP_BAD);
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    CHECK(http_parse((const unsigned char *)two, strlen(two), true, &r, body, sizeof body) == HTTP_BAD);
    CHECK(http_parse((const unsigned char *)"SSH-2.0-x\r\n\r\n", 13, true, &r, body, sizeof body) ==
          HTTP_BAD);
}

int main(void)
{
    test_query();
    test_answer();
    test_txt_records();
    test_sts_policy();
    test_http();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
