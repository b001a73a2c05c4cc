/*
 * test_hello.c - the raw ClientHello builder and the answer parser
 * (scanner/hello.c, hello_parse.c, iana_suites.c) against a real peer:
 * OpenSSL's server side, fed our bytes through memory BIOs. What it answers
 * is parsed in pieces of every size from 1 byte up, and must name a suite
 * we offered, the version we pinned, the DHE prime size it was configured
 * with, the curve, and a HelloRetryRequest for TLS 1.3's empty key_share.
 */
#include <openssl/bio.h>
#include <openssl/dh.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/hello.h"
#include "../../scanner/hello_enum.h"
#include "../../scanner/hello_parse.h"
#include "../../scanner/iana_suites.h"
#include "check.h"

static EVP_PKEY *key;
static X509 *cert;

static void make_cert(void)
{
    key = EVP_RSA_gen(2048);
    cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"t",
                               -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
}

struct srv {
    const char *ciphers; /* TLS <= 1.2 list, or NULL */
    const char *suites13;
    const char *groups;
    int min, max;
    bool server_order;
};

/* HELLO_SEED_DIR=dir: every server answer becomes a seed of the fuzz
 * target (tests/fuzz/corpus/hello: options byte, chunk size, answer). */
static void save_seed(const unsigned char *d, size_t n)
{
    static int seq;
    const char *dir = getenv("HELLO_SEED_DIR");
    if (!dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/openssl-%02d", dir, seq++);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fputc(1, f);
    fputc(7, f);
    fwrite(d, 1, n, f);
    fclose(f);
}

/* Runs one server-side handshake step on our ClientHello; returns the
 * server's bytes in out. */
static size_t serve(const struct srv *s, const unsigned char *hello, size_t len, unsigned char *out,
                    size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, s->min);
    SSL_CTX_set_max_proto_version(ctx, s->max);
    SSL_CTX_set_dh_auto(ctx, 1);
    if (s->ciphers)
        SSL_CTX_set_cipher_list(ctx, s->ciphers);
    if (s->suites13)
        SSL_CTX_set_ciphersuites(ctx, s->suites13);
    if (s->groups)
        SSL_CTX_set1_groups_list(ctx, s->groups);
    if (s->server_order)
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL *ssl = SSL_new(ctx);
    BIO *in = BIO_new(BIO_s_mem()), *wr = BIO_new(BIO_s_mem());
    BIO_write(in, hello, (int)len);
    SSL_set_bio(ssl, in, wr);
    SSL_accept(ssl);
    int n = BIO_read(wr, out, (int)cap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    if (n > 0)
        save_seed(out, (size_t)n);
    return n > 0 ? (size_t)n : 0;
}

/* Parses buf in pieces of `step` bytes; every step size must agree. */
static struct hello_result parse(const unsigned char *buf, size_t n, unsigned want)
{
    struct hello_result first = {0};
    for (size_t step = 1; step <= n + 1; step = step < 8 ? step + 1 : step * 3) {
        struct hello_parser p;
        hp_init(&p, want);
        bool done = false;
        for (size_t at = 0; at < n && !done; at += step)
            done = hp_feed(&p, buf + at, n - at < step ? n - at : step);
        if (!done)
            hp_eof(&p);
        if (step == 1)
            first = p.r;
        CHECK(p.r.kind == first.kind && p.r.suite == first.suite && p.r.version == first.version &&
              p.r.dh_bits == first.dh_bits && p.r.group == first.group);
    }
    return first;
}

static const unsigned char rnd[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint16_t groups[] = {0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100, 0x0101};

static struct hello_result ask(const struct srv *s, uint16_t version, const uint16_t *suites, size_t n,
                               unsigned want)
{
    unsigned char hello[HELLO_MAX_BYTES], out[65536];
    struct hello_spec sp = {.version = version,
                            .suites = suites,
                            .n_suites = n,
                            .groups = groups,
                            .n_groups = sizeof groups / sizeof groups[0],
                            .sni = "mail.example"};
    size_t len = hello_build(&sp, rnd, hello, sizeof hello);
    CHECK(len > 0 && hello[0] == 0x16 && (size_t)(hello[3] << 8 | hello[4]) == len - 5);
    size_t got = serve(s, hello, len, out, sizeof out);
    return parse(out, got, want);
}

static void test_versions(void)
{
    /* every suite OpenSSL can offer, from the table */
    uint16_t all[512];
    size_t n = 0;
    for (size_t i = 0; i < iana_suites_n; i++)
        if (!(iana_suites[i].flags & IS_TLS13) && n < 512)
            all[n++] = iana_suites[i].code;
    static const int vers[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION};
    struct srv s = {.ciphers = "ECDHE-RSA-AES128-SHA:AES256-SHA:@SECLEVEL=0",
                    .min = TLS1_VERSION,
                    .max = TLS1_2_VERSION,
                    .server_order = true};
    for (size_t v = 0; v < 3; v++) {
        /* at most 64 per hello: the server must pick among those */
        struct hello_result r = ask(&s, (uint16_t)vers[v], all, 64, 0);
        CHECK(r.kind == HP_SERVER_HELLO && r.version == vers[v]);
        CHECK(r.suite == 0x0035 || r.suite == 0xC013);
        CHECK(r.reneg_ext);
        r = ask(&s, (uint16_t)vers[v], all, n, 0);
        CHECK(r.kind == HP_SERVER_HELLO && r.suite == 0xC013); /* server order: its first */
    }
    /* a suite the server does not have: handshake_failure alert */
    uint16_t only[] = {0x009C};
    struct hello_result r = ask(&s, HELLO_TLS12, only, 1, 0);
    CHECK(r.kind == HP_ALERT && r.alert_level == 2 && r.alert_desc == 40);
    /* a version the server does not have */
    struct srv s12 = {.ciphers = "AES256-SHA", .min = TLS1_2_VERSION, .max = TLS1_2_VERSION};
    r = ask(&s12, HELLO_TLS10, all, n, 0);
    CHECK(r.kind == HP_ALERT && r.alert_desc == 70);
}

static void test_ske(void)
{
    uint16_t dhe[] = {0x0033}, ecdhe[] = {0xC013};
    struct srv s = {.ciphers = "DHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
                    .min = TLS1_2_VERSION,
                    .max = TLS1_2_VERSION,
                    .groups = "P-384:P-256"};
    struct hello_result r = ask(&s, HELLO_TLS12, dhe, 1, HP_WANT_SKE);
    CHECK(r.kind == HP_SERVER_HELLO && r.suite == 0x0033 && r.ske_seen);
    CHECK(r.dh_bits == 2048); /* dh_auto with a 2048-bit RSA key */
    r = ask(&s, HELLO_TLS12, ecdhe, 1, HP_WANT_SKE);
    CHECK(r.kind == HP_SERVER_HELLO && r.ske_seen && (r.group == 0x0017 || r.group == 0x0018));
    r = ask(&s, HELLO_TLS12, dhe, 1, 0);
    CHECK(r.kind == HP_SERVER_HELLO && !r.ske_seen && r.dh_bits == 0);
}

/* Parses buf in pieces of `step` bytes wanting the Certificate of kinds;
 * returns the result and the captured chain's first DER (der, der_len)
 * and the number of certificates in it. */
static struct hello_result parse_certs(const unsigned char *buf, size_t n, unsigned want, unsigned kinds,
                                       size_t step, unsigned char *der, size_t *der_len, int *n_certs)
{
    struct hello_parser p;
    hp_init(&p, want);
    hp_want_certs(&p, kinds);
    bool done = false;
    for (size_t at = 0; at < n && !done; at += step)
        done = hp_feed(&p, buf + at, n - at < step ? n - at : step);
    if (!done)
        hp_eof(&p);
    *n_certs = 0;
    *der_len = 0;
    size_t at = 0, len;
    const uint8_t *d;
    while (p.r.cert_kind && hp_cert_next(p.cert, p.cert_len, &at, &d, &len)) {
        if ((*n_certs)++ == 0 && len <= 4096) {
            memcpy(der, d, len);
            *der_len = len;
        }
    }
    struct hello_result r = p.r;
    hp_release(&p);
    CHECK(p.cert == NULL);
    return r;
}

static void test_cert_capture(void)
{
    unsigned char hello[HELLO_MAX_BYTES], out[65536], der[4096], *mine = NULL;
    int mine_len = i2d_X509(cert, &mine);
    struct srv s = {
        .ciphers = "ECDHE-RSA-AES128-SHA:AES128-SHA", .min = TLS1_2_VERSION, .max = TLS1_2_VERSION};
    uint16_t suites[][1] = {{0xC013}, {0x002F}};
    for (int k = 0; k < 2; k++) {
        struct hello_spec sp = {.version = HELLO_TLS12,
                                .suites = suites[k],
                                .n_suites = 1,
                                .groups = groups,
                                .n_groups = sizeof groups / sizeof groups[0]};
        size_t len = hello_build(&sp, rnd, hello, sizeof hello);
        size_t got = serve(&s, hello, len, out, sizeof out);
        for (size_t step = 1; step <= got; step = step < 8 ? step + 1 : step * 5) {
            size_t dl;
            int nc;
            struct hello_result r = parse_certs(out, got, HP_WANT_SKE, IS_CERT_RSA, step, der, &dl, &nc);
            CHECK(r.kind == HP_SERVER_HELLO && r.cert_kind == IS_CERT_RSA && nc == 1);
            CHECK(dl == (size_t)mine_len && memcmp(der, mine, dl) == 0);
            CHECK(r.ske_seen == (k == 0)); /* ECDHE reads on to ServerKeyExchange, static RSA stops */
            /* an RSA suite when only EC chains are wanted: nothing kept */
            r = parse_certs(out, got, HP_WANT_SKE, IS_CERT_EC, step, der, &dl, &nc);
            CHECK(r.kind == HP_SERVER_HELLO && r.cert_kind == 0 && nc == 0);
        }
        /* the peer closes inside the Certificate: nothing captured */
        size_t dl;
        int nc;
        struct hello_result r = parse_certs(out, got / 2, 0, IS_CERT_RSA, 7, der, &dl, &nc);
        CHECK(r.kind == HP_SERVER_HELLO && r.cert_kind == 0 && nc == 0);
    }
    OPENSSL_free(mine);
    /* certificate_list lengths that do not fit */
    static const uint8_t bad1[] = {0, 0, 5, 0, 0, 3, 1, 2, 3};    /* list says 5, has 6 */
    static const uint8_t bad2[] = {0, 0, 6, 0, 0, 4, 1, 2, 3, 4}; /* entry runs past the end */
    static const uint8_t good[] = {0, 0, 8, 0, 0, 1, 9, 0, 0, 1, 8};
    size_t at = 0, len;
    const uint8_t *d;
    CHECK(!hp_cert_next(bad1, sizeof bad1, &at, &d, &len));
    at = 0;
    CHECK(!hp_cert_next(bad2, sizeof bad2, &at, &d, &len));
    at = 0;
    CHECK(hp_cert_next(good, 10, &at, &d, &len) == false); /* cut short: list length wrong */
    CHECK(hp_cert_next(good, sizeof good, &at, &d, &len) && len == 1 && d[0] == 9);
    CHECK(hp_cert_next(good, sizeof good, &at, &d, &len) && len == 1 && d[0] == 8);
    CHECK(!hp_cert_next(good, sizeof good, &at, &d, &len));
    /* suite to certificate kind */
    CHECK(iana_suite_cert_kind(iana_suite_find(0xC02B)) == IS_CERT_EC);  /* ECDHE_ECDSA */
    CHECK(iana_suite_cert_kind(iana_suite_find(0xC02F)) == IS_CERT_RSA); /* ECDHE_RSA */
    CHECK(iana_suite_cert_kind(iana_suite_find(0x002F)) == IS_CERT_RSA); /* RSA */
    CHECK(iana_suite_cert_kind(iana_suite_find(0x0032)) == IS_CERT_DSA); /* DHE_DSS */
    CHECK(iana_suite_cert_kind(iana_suite_find(0xC00E)) == IS_CERT_EC);  /* ECDH_RSA: an EC key */
    CHECK(iana_suite_cert_kind(iana_suite_find(0x0034)) == 0);           /* DH_anon */
    CHECK(iana_suite_cert_kind(iana_suite_find(0x1301)) == 0);           /* TLS 1.3 */
    CHECK(iana_suite_cert_kind(iana_suite_find(0x00AC)) == 0);           /* RSA_PSK */
}

/* A whole --ciphers enumeration (hello_enum.c) against an in-memory OpenSSL
 * server; counts the connections of the order steps. */
static int enumerate(const struct srv *srv, struct he_state *s, int *order_conns)
{
    static struct record rec;
    static unsigned char hello[HELLO_MAX_BYTES], out[65536];
    rec_reset(&rec);
    he_init_tables();
    he_start(s, true, -1);
    int conns = 0;
    *order_conns = 0;
    while (conns < 1000 && he_next(s, &rec)) {
        uint8_t step = s->step;
        size_t len = he_hello(s, NULL, rnd, hello, sizeof hello);
        size_t got = len ? serve(srv, hello, len, out, sizeof out) : 0;
        conns++;
        *order_conns += step >= HE_ORDER_REV && step <= HE_ORDER_RANK;
        bool done = got && he_bytes(s, out, got, false);
        if (!done)
            done = he_bytes(s, NULL, 0, true);
        bool ok = done ? he_answer(s, &rec) : he_no_answer(s, &rec, STATUS_CLOSED);
        if (!ok)
            he_retry(s, &rec, "test");
    }
    he_release(s);
    return conns;
}

static void test_enum_order(void)
{
    static struct he_state s;
    static const uint16_t want[] = {0xC02F, 0xC030, 0x002F, 0x0035};
    const char *list = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA:AES256-SHA";
    struct srv client = {.ciphers = list, .min = TLS1_2_VERSION, .max = TLS1_2_VERSION};
    int order_conns;
    enumerate(&client, &s, &order_conns);
    CHECK(s.n_found[3] == 4 && s.server_order[3] == 0);
    CHECK(order_conns == 1); /* a loser offered first decides in one connection */
    /* the server's order, the reverse of the candidates' (newest first) */
    struct srv server = {.ciphers =
                             "AES256-SHA:AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256",
                         .min = TLS1_2_VERSION,
                         .max = TLS1_2_VERSION,
                         .server_order = true};
    enumerate(&server, &s, &order_conns);
    CHECK(s.n_found[3] == 4 && s.server_order[3] == 1);
    CHECK(s.found[3][0] == want[3] && s.found[3][1] == want[2] && s.found[3][2] == want[1] &&
          s.found[3][3] == want[0]);
    /* found in two chunks (ECDHE ones first): the loser-first test names the top (AES256-SHA),
     * one more ranks AES128-SHA; the rest is one chunk's discovery order: 2, not 3 */
    CHECK(order_conns == 2);
    struct srv one = server;
    one.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";
    enumerate(&one, &s, &order_conns);
    CHECK(s.n_found[3] == 2 && s.server_order[3] == 1 && s.found[3][0] == want[1]);
    CHECK(order_conns == 1); /* found in one chunk: discovery is already the ranking */
}

static void test_tls13(void)
{
    uint16_t s13[] = {0x1301, 0x1302, 0x1303, 0x1304, 0x1305};
    struct srv s = {.suites13 = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
                    .min = TLS1_3_VERSION,
                    .max = TLS1_3_VERSION,
                    .groups = "P-384:X25519",
                    .server_order = true};
    struct hello_result r = ask(&s, HELLO_TLS13, s13, 5, 0);
    CHECK(r.kind == HP_HRR && r.version == HELLO_TLS13 && r.suite == 0x1302);
    CHECK(r.group == 0x0018); /* the server's first group (it prefers its own order) */
    uint16_t none[] = {0x1304};
    r = ask(&s, HELLO_TLS13, none, 1, 0);
    CHECK(r.kind == HP_ALERT && r.alert_desc == 40);
    /* TLS 1.2-only server offered TLS 1.3 only: protocol_version alert */
    struct srv s12 = {.ciphers = "AES256-SHA", .min = TLS1_2_VERSION, .max = TLS1_2_VERSION};
    r = ask(&s12, HELLO_TLS13, s13, 5, 0);
    CHECK(r.kind == HP_ALERT);
}

static void test_hostile(void)
{
    /* truncated, oversized and garbage answers never crash and never pass */
    static const unsigned char junk[] = "220 mail.example ESMTP\r\n";
    CHECK(parse(junk, sizeof junk - 1, 0).kind == HP_BAD);
    unsigned char big[] = {0x16, 0x03, 0x03, 0x00, 0x09, 0x02, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0};
    CHECK(parse(big, sizeof big, 0).kind == HP_BAD); /* ServerHello > HP_MSG_CAP */
    unsigned char ssl2[] = {0x80, 0x0d, 0x04, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x00, 0x10};
    struct hello_result r = parse(ssl2, sizeof ssl2, 0);
    CHECK(r.kind == HP_SSL2 && r.ssl2_ciphers == 2 && r.version == 2);
    unsigned char sh_short[] = {0x16, 0x03, 0x03, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00};
    CHECK(parse(sh_short, sizeof sh_short, 0).kind == HP_BAD);
    unsigned char ssl2hello[256];
    CHECK(hello_build_ssl2(rnd, ssl2hello, sizeof ssl2hello) == 2 + 9 + 21 + 16);
    CHECK(hello_build_ssl2(rnd, ssl2hello, 10) == 0);
    uint16_t s = 0x002f;
    struct hello_spec sp = {.version = HELLO_TLS12, .suites = &s, .n_suites = 1};
    CHECK(hello_build(&sp, rnd, ssl2hello, 40) == 0); /* does not fit: nothing, not a short record */
}

static void test_table(void)
{
    for (size_t i = 1; i < iana_suites_n; i++)
        CHECK(iana_suites[i - 1].code < iana_suites[i].code);
    CHECK(iana_suites_n > 300);
    const struct iana_suite *s = iana_suite_find(0x0005);
    CHECK(s && strcmp(s->name, "TLS_RSA_WITH_RC4_128_SHA") == 0 && (s->flags & IS_RC4));
    s = iana_suite_find(0xC02F);
    CHECK(s && s->openssl && strcmp(s->openssl, "ECDHE-RSA-AES128-GCM-SHA256") == 0 && (s->flags & KX_ECDHE));
    CHECK(iana_suite_find(0x00FF) == NULL && iana_suite_find(0x5600) == NULL);
    /* every OpenSSL name in the table is one OpenSSL itself gives that codepoint */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    for (size_t i = 0; i < iana_suites_n; i++) {
        unsigned char cs[2] = {(unsigned char)(iana_suites[i].code >> 8), (unsigned char)iana_suites[i].code};
        const SSL_CIPHER *c = SSL_CIPHER_find(ssl, cs);
        if (iana_suites[i].openssl)
            CHECK(c && strcmp(SSL_CIPHER_get_name(c), iana_suites[i].openssl) == 0);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    const struct iana_group *g = iana_group_find(0x11EC);
    CHECK(g && g->pq_hybrid && strcmp(g->name, "X25519MLKEM768") == 0);
}

int main(void)
{
    make_cert();
    test_table();
    test_versions();
    test_ske();
    test_cert_capture();
    test_enum_order();
    test_tls13();
    test_hostile();
    X509_free(cert);
    EVP_PKEY_free(key);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
