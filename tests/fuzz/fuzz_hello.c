/*
 * fuzz_hello.c - the raw TLS answer parser (scanner/hello_parse.c) and the
 * ClientHello builder (scanner/hello.c).
 *
 * Input: byte 0 = options (bit 0: want ServerKeyExchange; bits 1-3: the
 * IS_CERT_* kinds whose Certificate is captured), byte 1 = chunk
 * size for the second pass, the rest = what a server sent. Checked: the
 * result does not depend on how the bytes are split (whole vs chunks), the
 * kind is in range, HP_BAD carries a reason and nothing else, a finished
 * parser ignores more input; a captured Certificate is the same both ways,
 * its certificate_list walk stays inside it and each entry goes through
 * d2i_X509 as certsave.c does; the builder, given suites taken from the
 * input, writes a record whose length fields agree with what it returns.
 */
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/hello.h"
#include "../../scanner/hello_parse.h"
#include "../../scanner/iana_suites.h"
#include "fuzz_check.h"

struct capture {
    uint8_t *cert;
    uint32_t len;
};

/* What certsave_tls_message does with a captured Certificate. */
static void walk_certs(const uint8_t *m, size_t n)
{
    size_t at = 0, len, prev = 0;
    const uint8_t *der;
    for (int i = 0; i < 16 && hp_cert_next(m, n, &at, &der, &len); i++) {
        FUZZ_CHECK(der >= m + 3 && der + len <= m + n && at > prev && at <= n);
        prev = at;
        const unsigned char *q = der;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        FUZZ_CHECK(q >= der && q <= der + len);
        X509_free(x);
    }
}

static struct hello_result run(const uint8_t *d, size_t n, unsigned want, unsigned kinds, size_t step,
                               struct capture *cap)
{
    struct hello_parser p;
    hp_init(&p, want);
    hp_want_certs(&p, kinds);
    bool done = false;
    for (size_t at = 0; at < n && !done; at += step)
        done = hp_feed(&p, d + at, n - at < step ? n - at : step);
    if (!done)
        hp_eof(&p);
    if (done) {
        struct hello_result before = p.r;
        hp_feed(&p, d, n);
        FUZZ_CHECK(memcmp(&before, &p.r, sizeof before) == 0);
    }
    FUZZ_CHECK(p.r.cert_kind == 0 || (p.cert && (p.r.cert_kind & kinds) && p.cert_len <= HP_CERT_MAX));
    cap->len = p.r.cert_kind ? p.cert_len : 0;
    cap->cert = NULL;
    if (cap->len) { /* the parser's buffer, handed over */
        cap->cert = p.cert;
        p.cert = NULL;
    }
    hp_release(&p);
    return p.r;
}

static void check_builder(const uint8_t *d, size_t n)
{
    uint16_t suites[300];
    size_t ns = 0;
    for (size_t i = 0; i + 1 < n && ns < 300; i += 2)
        suites[ns++] = (uint16_t)(d[i] << 8 | d[i + 1]);
    if (ns == 0)
        return;
    static const uint16_t versions[] = {HELLO_SSL3, HELLO_TLS10, HELLO_TLS11, HELLO_TLS12, HELLO_TLS13};
    unsigned char out[HELLO_MAX_BYTES];
    struct hello_spec s = {.version = versions[d[0] % 5],
                           .suites = suites,
                           .n_suites = ns,
                           .groups = suites,
                           .n_groups = ns < 64 ? ns : 64,
                           .sni = (d[0] & 8) ? "mx.example" : NULL,
                           .fallback_scsv = d[0] & 16,
                           .deflate = d[0] & 32,
                           .heartbeat = d[0] & 64,
                           .key_share = (d[0] & 128) ? 0x001d : 0};
    size_t len = hello_build(&s, (const unsigned char *)"0123456789abcdef0123456789abcdef", out, sizeof out);
    if (len == 0)
        return;
    FUZZ_CHECK(len >= 9 && out[0] == 0x16 && out[5] == 1);
    FUZZ_CHECK((size_t)(out[3] << 8 | out[4]) == len - 5);
    FUZZ_CHECK(((size_t)out[6] << 16 | (size_t)out[7] << 8 | out[8]) == len - 9);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned want = data[0] & 1 ? HP_WANT_SKE : 0;
    unsigned kinds = (data[0] >> 1) & (IS_CERT_RSA | IS_CERT_EC | IS_CERT_DSA);
    size_t step = data[1] ? data[1] : 1;
    const uint8_t *d = data + 2;
    size_t n = size - 2;
    struct capture cw, cp;
    struct hello_result whole = run(d, n, want, kinds, n ? n : 1, &cw);
    struct hello_result parts = run(d, n, want, kinds, step, &cp);
    FUZZ_CHECK(whole.cert_kind == parts.cert_kind && cw.len == cp.len &&
               (cw.len == 0 || memcmp(cw.cert, cp.cert, cw.len) == 0));
    if (cw.len)
        walk_certs(cw.cert, cw.len);
    free(cw.cert);
    free(cp.cert);
    FUZZ_CHECK(whole.kind <= HP_BAD);
    FUZZ_CHECK(whole.kind == parts.kind && whole.version == parts.version && whole.suite == parts.suite &&
               whole.group == parts.group && whole.dh_bits == parts.dh_bits &&
               whole.compression == parts.compression && whole.alert_desc == parts.alert_desc &&
               whole.reneg_ext == parts.reneg_ext && whole.heartbeat_ext == parts.heartbeat_ext &&
               whole.ske_seen == parts.ske_seen && whole.ssl2_ciphers == parts.ssl2_ciphers);
    FUZZ_CHECK((whole.kind == HP_BAD) == (whole.why != NULL));
    if (whole.kind == HP_BAD)
        FUZZ_CHECK(whole.suite == 0 && whole.version == 0);
    check_builder(d, n);
    return 0;
}
