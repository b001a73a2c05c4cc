/*
 * fuzz_dns_answer.c - scanner/dnsraw.c (raw DNS answers) and
 * scanner/policy_txt.c (the MTA-STS and TLS-RPT TXT records in them).
 *
 * The first byte picks the asked type (A, MX, TXT, TLSA, CNAME); the rest
 * is an answer message. Checked: every record handed to the callback lies
 * inside the message and their count is `matched`, at most ancount; TLSA
 * data lies inside its record; the joined TXT length is the sum of its
 * strings and the copy is terminated, NUL-free and a prefix of them; the
 * TXT parsers' outputs are terminated and within their caps, an STS id is
 * 1-32 letters and digits. The message's tail is also used as a name for
 * dnsraw_build, whose query must parse back with one question.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../scanner/dnsraw.h"
#include "../../scanner/policy_txt.h"
#include "fuzz_check.h"

struct ctx {
    const unsigned char *msg;
    size_t len;
    unsigned n;
    uint16_t type;
};

static void check_txt(const unsigned char *rd, uint16_t rdlen)
{
    char out[96], id[PTXT_STS_ID_MAX + 1], rua[64];
    int full = dnsraw_txt(rd, rdlen, out, sizeof out);
    if (full < 0)
        return;
    size_t sum = 0, off = 0;
    while (off < rdlen) {
        sum += rd[off];
        off += 1u + rd[off];
    }
    FUZZ_CHECK((size_t)full == sum);
    size_t n = strlen(out);
    FUZZ_CHECK(n == (sum < sizeof out ? sum : sizeof out - 1));
    enum ptxt_res r = ptxt_sts(out, id, sizeof id);
    FUZZ_CHECK(strlen(id) <= PTXT_STS_ID_MAX);
    if (r == PTXT_OK) {
        FUZZ_CHECK(id[0] != 0);
        for (const char *c = id; *c; c++)
            FUZZ_CHECK(isalnum((unsigned char)*c));
    } else {
        FUZZ_CHECK(id[0] == 0 || r == PTXT_BAD);
    }
    r = ptxt_tlsrpt(out, rua, sizeof rua);
    FUZZ_CHECK(strlen(rua) < sizeof rua);
    if (r != PTXT_OK)
        FUZZ_CHECK(rua[0] == 0 || r == PTXT_BAD);
}

static void on_rr(void *arg, const unsigned char *rd, uint16_t rdlen)
{
    struct ctx *c = arg;
    FUZZ_CHECK(rd >= c->msg && rd + rdlen <= c->msg + c->len);
    c->n++;
    if (c->type == DNSRAW_T_TLSA) {
        struct dnsraw_tlsa t;
        if (dnsraw_tlsa(rd, rdlen, &t) == 0)
            FUZZ_CHECK(t.data == rd + 3 && t.data_len + 3u == rdlen);
        else
            FUZZ_CHECK(rdlen < 3);
    }
    if (c->type == DNSRAW_T_TXT)
        check_txt(rd, rdlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {DNSRAW_T_A, DNSRAW_T_MX, DNSRAW_T_TXT, DNSRAW_T_TLSA, DNSRAW_T_CNAME};
    if (size < 1)
        return 0;
    struct ctx c = {data + 1, size - 1, 0, types[data[0] % 5]};
    struct dnsraw_header h;
    int rc = dnsraw_parse(c.msg, c.len, c.type, &h, on_rr, &c);
    FUZZ_CHECK(c.n == h.matched && h.matched <= h.ancount);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(h.rcode < 16);
    /* the TXT parsers on the whole input as text */
    check_txt(c.msg, (uint16_t)(c.len > 300 ? 300 : c.len));

    char name[300];
    size_t n = c.len < sizeof name - 1 ? c.len : sizeof name - 1;
    memcpy(name, c.msg, n);
    name[n] = 0;
    unsigned char q[DNSRAW_QUERY_MAX];
    int ql = dnsraw_build(q, sizeof q, name, c.type, data[0] & 0x80);
    if (ql > 0) {
        FUZZ_CHECK((size_t)ql <= sizeof q);
        struct dnsraw_header qh;
        FUZZ_CHECK(dnsraw_parse(q, (size_t)ql, c.type, &qh, NULL, NULL) == 0);
        FUZZ_CHECK(qh.qdcount == 1 && qh.ancount == 0 && qh.ad && qh.cd == ((data[0] & 0x80) != 0));
    }
    return 0;
}
