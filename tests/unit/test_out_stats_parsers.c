/*
 * test_out_stats_parsers.c - the readers inside mailtls-stats: the JSON
 * tokenizer and string decoder, the Shodan query language (filters
 * has_ssl, ssl.version, ssl.cert.expired included), the bounded
 * tally, the CSV record reader, crawler text and product rules.
 *
 * Unit tests link only mt_output, so the tool's sources are compiled into
 * this program directly (they have no main and no other dependencies).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/escape.h"
#include "../../output/json.h"
#include "../../output/reader.h"
#include "../../tools/stats/crawl.c"
#include "../../tools/stats/product.c"
#include "../../tools/stats/query.c"
#include "../../tools/stats/tally.c"

static int failures;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

static struct json_tok toks[4096];

static int parse(const char *s, size_t len, char *err)
{
    struct json_doc d = {.toks = toks, .cap = 4096};
    return json_parse(&d, s, len, err, 128);
}

static void test_json_valid(void)
{
    const char *ok[] = {"0",
                        "-0",
                        "1.5e-3",
                        "-12E+2",
                        "true",
                        "false",
                        "null",
                        "\"\"",
                        "[]",
                        "{}",
                        " [1, 2 ,3] ",
                        "{\"a\":{\"b\":[null,true,\"x\"]}}",
                        "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
                        "\"\\u0000\\uffff\"",
                        "\"caf\xc3\xa9\""};
    char err[128];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = parse(ok[i], strlen(ok[i]), err);
        if (rc != 0)
            fprintf(stderr, "should parse: %s (%s)\n", ok[i], err);
        CHECK(rc == 0);
    }
    /* structure and lookup */
    const char *s = "{\"a\":1,\"b\":[\"x\",{\"c\":2}],\"d\":\"e\"}";
    struct json_doc d = {.toks = toks, .cap = 4096};
    CHECK(json_parse(&d, s, strlen(s), err, sizeof err) == 0);
    CHECK(d.toks[0].type == JSON_OBJECT && d.toks[0].count == 3);
    int b = json_get(&d, 0, "b");
    CHECK(b > 0 && d.toks[b].type == JSON_ARRAY && d.toks[b].count == 2);
    int dd = json_get(&d, 0, "d");
    unsigned char out[16];
    CHECK(dd > 0 && json_string(&d, dd, out, sizeof out) == 1 && out[0] == 'e');
    CHECK(json_get(&d, 0, "zz") == -1);
    int64_t v;
    CHECK(json_int(&d, json_get(&d, 0, "a"), &v) == 0 && v == 1);
}

static void test_json_invalid(void)
{
    const char *bad[] = {
        "",        "{",        "[1,]",  "{\"a\"}",    "{\"a\":1,}",  "01",        "1.",    "-",         "tru",
        "\"\\x\"", "\"a\nb\"", "[1] x", "{\"a\":1}}", "\"abc",       "[1 2]",     "{1:2}", "\"\\u12\"", "+1",
        ".5",      "1e",       "nul",   "[\"a\",",    "\"\\u00zz\"", "{\"a\" 1}", "\x01"};
    char err[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], strlen(bad[i]), err);
        if (rc == 0)
            fprintf(stderr, "should fail: %s\n", bad[i]);
        CHECK(rc == -1);
        CHECK(strncmp(err, "column ", 7) == 0);
    }
    /* depth: 32 nested arrays parse, 33 do not */
    char deep[80];
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    CHECK(parse(deep + 1, 64, err) == 0);
    CHECK(parse(deep, 66, err) == -1 && strstr(err, "nesting too deep"));
    /* token cap */
    struct json_tok few[3];
    struct json_doc d = {.toks = few, .cap = 3};
    CHECK(json_parse(&d, "[1,2,3]", 7, err, sizeof err) == -1 && strstr(err, "too many values"));
    /* a NUL inside the buffer is a raw control byte, not an end */
    CHECK(parse("\"a\0b\"", 5, err) == -1);
}

static long decode(const char *js, unsigned char *out, size_t cap)
{
    char err[128];
    struct json_doc d = {.toks = toks, .cap = 4096};
    if (json_parse(&d, js, strlen(js), err, sizeof err) != 0)
        return -2;
    return json_string(&d, 0, out, cap);
}

static void test_json_strings(void)
{
    unsigned char o[64];
    CHECK(decode("\"\\u00e9\"", o, sizeof o) == 2 && memcmp(o, "\xc3\xa9", 2) == 0);
    CHECK(decode("\"\\u20ac\"", o, sizeof o) == 3 && memcmp(o, "\xe2\x82\xac", 3) == 0);
    CHECK(decode("\"\\ud83d\\ude00\"", o, sizeof o) == 4 && memcmp(o, "\xf0\x9f\x98\x80", 4) == 0);
    CHECK(decode("\"\\udcff\\udc80x\"", o, sizeof o) == 3 && memcmp(o, "\xff\x80x", 3) == 0);
    CHECK(decode("\"\\u0000\"", o, sizeof o) == 1 && o[0] == 0);
    CHECK(decode("\"\\ud800\"", o, sizeof o) == -1); /* lone high surrogate */
    CHECK(decode("\"\\ud800x\"", o, sizeof o) == -1);
    CHECK(decode("\"\\udc00\"", o, sizeof o) == -1); /* lone low, not a byte escape */
    CHECK(decode("\"\\ud800\\u0041\"", o, sizeof o) == -1);
    CHECK(decode("\"abcdef\"", o, 3) == -1); /* does not fit */

    /* random bytes: writer's escape, then this decoder, give them back
     * (the exact bytes of a lossy text are in its _b64 sibling instead) */
    unsigned seed = 7;
    unsigned char in[100], back[300];
    char js[OUT_JSON_ESCAPE_MAX(100) + 3];
    for (int round = 0; round < 50000; round++) {
        size_t n = (size_t)(rand_r(&seed) % 100);
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rand_r(&seed);
        js[0] = '"';
        size_t m = out_json_escape(js + 1, sizeof js - 2, in, n);
        js[m + 1] = '"';
        char err[128];
        struct json_doc d = {.toks = toks, .cap = 4096};
        CHECK(json_parse(&d, js, m + 2, err, sizeof err) == 0);
        long k = json_string(&d, 0, back, sizeof back);
        if (out_json_is_lossy(in, n))
            CHECK(k >= 0 && memchr(back, 0, (size_t)k) == NULL);
        else
            CHECK(k == (long)n && memcmp(back, in, n) == 0);
        if (failures > 10)
            return;
    }
}

static void test_json_ints(void)
{
    struct {
        const char *s;
        int ok;
        int64_t v;
    } c[] = {{"9223372036854775807", 1, INT64_MAX},
             {"-9223372036854775808", 1, INT64_MIN},
             {"9223372036854775808", 0, 0},
             {"1.5", 0, 0},
             {"1e3", 0, 0},
             {"\"1\"", 0, 0}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char err[128];
        struct json_doc d = {.toks = toks, .cap = 4096};
        CHECK(json_parse(&d, c[i].s, strlen(c[i].s), err, sizeof err) == 0);
        int64_t v = 0;
        int rc = json_int(&d, 0, &v);
        CHECK(c[i].ok ? rc == 0 && v == c[i].v : rc == -1);
    }
}

static void test_json_mutations(void)
{
    /* Any byte soup must give 0 or -1, never a crash (ASan/UBSan run). */
    const char *seed_doc =
        "{\"ip\":\"1.2.3.4\",\"port\":25,\"caps\":[\"A\",\"B\\u00e9\"],\"x\":null,\"t\":true}";
    size_t n = strlen(seed_doc);
    char buf[128];
    unsigned seed = 99;
    for (int round = 0; round < 200000; round++) {
        memcpy(buf, seed_doc, n);
        size_t len = n;
        int edits = 1 + rand_r(&seed) % 4;
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(rand_r(&seed) % len);
            switch (rand_r(&seed) % 3) {
            case 0: buf[at] = (char)rand_r(&seed); break;
            case 1: len = at; break;
            default: buf[at] = "{}[]\",:\\"[rand_r(&seed) % 8]; break;
            }
            if (len == 0)
                break;
        }
        char err[128];
        struct json_doc d = {.toks = toks, .cap = 4096};
        if (json_parse(&d, buf, len, err, sizeof err) == 0 && d.toks[0].type == JSON_OBJECT) {
            unsigned char out[128];
            for (uint32_t i = 0; i < d.n; i++)
                if (d.toks[i].type == JSON_STRING)
                    (void)json_string(&d, (int)i, out, sizeof out);
        }
    }
}

static bool q_match(const char *query, const char *text, int64_t port)
{
    char err[128];
    struct query *q = query_compile(query, err, sizeof err);
    if (!q) {
        fprintf(stderr, "compile failed: %s: %s\n", query, err);
        failures++;
        return false;
    }
    struct query_subject s = {.text = text,
                              .text_len = strlen(text),
                              .port = port,
                              .asn = 64500,
                              .country = "DE",
                              .org = "Test Org",
                              .product = "Postfix"};
    bool m = query_match(q, &s);
    query_free(q);
    return m;
}

static void test_query(void)
{
    const char *smtp = "220 mx esmtp postfix\r\n250-pipelining\r\n250-auth plain login\r\n250 starttls\r\n";
    const char *q587 = "port:587 (\"250-AUTH\" OR \"AUTH\") (PLAIN OR LOGIN)";
    CHECK(q_match(q587, smtp, 587));
    CHECK(!q_match(q587, smtp, 25));
    CHECK(!q_match(q587, "220 x\r\n250 auth ntlm\r\n", 587));
    CHECK(!q_match(q587, "220 x\r\n250 auth plaintext-forbidden\r\n", 587)); /* word boundary */
    CHECK(q_match(q587, "220 x\r\n250 auth=plain\r\n", 587));
    const char *q143 = "port:143 (\"AUTH=PLAIN\" OR \"AUTH=LOGIN\") -LOGINDISABLED";
    CHECK(q_match(q143, "* capability imap4rev1 auth=plain", 143));
    CHECK(!q_match(q143, "* capability imap4rev1 auth=plain logindisabled", 143));
    CHECK(q_match("port:110 USER", "+ok\r\nuser\r\n.\r\n", 110));
    CHECK(!q_match("port:110 USER", "+ok\r\nusers\r\n", 110));
    /* precedence: OR binds looser than juxtaposition */
    CHECK(q_match("a OR b c", "a", 1));
    CHECK(!q_match("a OR b c", "b", 1));
    CHECK(q_match("(a OR b) c", "b c", 1));
    CHECK(q_match("a AND NOT b", "a", 1) && !q_match("a AND NOT b", "a b", 1));
    CHECK(q_match("-(a OR b)", "c", 1) && !q_match("-(a OR b)", "b", 1));
    CHECK(q_match("\"x y\"", "ax yb", 1) && !q_match("\"x y\"", "x  y", 1));
    CHECK(q_match("country:de asn:AS64500 org:\"test org\" product:postfix", "", 1));
    CHECK(!q_match("country:US", "", 1));
    CHECK(q_match("or", "or", 1)); /* lower case "or" is a word */

    const char *bad[] = {"(a", "\"a", "foo:bar", "port:x", ")", "a OR", "-", "port:", "a)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128];
        struct query *q = query_compile(bad[i], err, sizeof err);
        if (q)
            fprintf(stderr, "should not compile: %s\n", bad[i]);
        CHECK(q == NULL && strncmp(err, "query column", 12) == 0);
        query_free(q);
    }
    char big[QUERY_MAX_NODES * 4 + 8];
    size_t k = 0;
    for (int i = 0; i < QUERY_MAX_NODES + 5; i++) {
        big[k++] = 'a';
        big[k++] = ' ';
    }
    big[k] = '\0';
    char err[128];
    CHECK(query_compile(big, err, sizeof err) == NULL && strstr(err, "too complex"));

    struct query *q = query_compile("port:25 OR port:587 STARTTLS -port:465", err, sizeof err);
    int64_t ports[4];
    CHECK(q && query_ports(q, ports, 4) == 2 && ports[0] == 25 && ports[1] == 587);
    static const char *const st[] = {"starttls", NULL};
    CHECK(q && query_has_term(q, st));
    query_free(q);
}

/* A TLS subject: versions as stats.c builds them, a certificate that
 * has or has not expired. */
static bool f_match(const char *query, bool has_ssl, const char *versions, bool has_cert, bool expired)
{
    char err[128];
    struct query *q = query_compile(query, err, sizeof err);
    if (!q) {
        fprintf(stderr, "compile failed: %s: %s\n", query, err);
        failures++;
        return false;
    }
    const char *text = "220 mx.example esmtp microsoft esmtp mail service\r\n250 starttls\r\n";
    struct query_subject s = {.text = text,
                              .text_len = strlen(text),
                              .port = 25,
                              .asn = -1,
                              .product = "Microsoft Exchange",
                              .has_ssl = has_ssl,
                              .ssl_versions = versions,
                              .has_cert = has_cert,
                              .cert_expired = expired};
    bool m = query_match(q, &s);
    query_free(q);
    return m;
}

static void test_query_filters(void)
{
    /* has_ssl */
    CHECK(f_match("has_ssl:true", true, "tlsv1.2", true, false));
    CHECK(!f_match("has_ssl:true", false, NULL, false, false));
    CHECK(f_match("port:25 has_ssl:false", false, "", false, false));
    CHECK(f_match("has_ssl:TRUE", true, "tlsv1.3", true, false)); /* value case */
    CHECK(f_match("-has_ssl:true", false, NULL, false, false));
    /* ssl.version: any of the versions, any case, tlsv1.0 = tlsv1 */
    CHECK(f_match("ssl.version:tlsv1", true, "tlsv1 tlsv1.2", true, false));
    CHECK(f_match("ssl.version:TLSv1.0", true, "tlsv1 tlsv1.2", true, false));
    CHECK(f_match("ssl.version:tlsv1.2", true, "tlsv1 tlsv1.2", true, false));
    CHECK(!f_match("ssl.version:tlsv1.1", true, "tlsv1 tlsv1.2", true, false));
    CHECK(!f_match("ssl.version:tlsv1", true, "tlsv1.2 tlsv1.3", true, false)); /* no prefix match */
    CHECK(!f_match("ssl.version:tlsv1.3", true, NULL, true, false));
    CHECK(f_match("port:25 -ssl.version:tlsv1 -ssl.version:tlsv1.1", true, "tlsv1.2 tlsv1.3", true, false));
    CHECK(f_match("ssl.version:\"tlsv1.3\"", true, "tlsv1.3", true, false)); /* quoted value */
    /* ssl.cert.expired: only records with a certificate match either way */
    CHECK(f_match("ssl.cert.expired:true", true, "tlsv1.2", true, true));
    CHECK(!f_match("ssl.cert.expired:true", true, "tlsv1.2", true, false));
    CHECK(f_match("ssl.cert.expired:false", true, "tlsv1.2", true, false));
    CHECK(!f_match("ssl.cert.expired:false", false, NULL, false, false));
    CHECK(!f_match("ssl.cert.expired:true", false, NULL, false, false));
    /* product with a quoted phrase, negation, combinations */
    CHECK(f_match("product:\"Microsoft Exchange\" STARTTLS", true, "tlsv1.2", true, false));
    CHECK(f_match("product:\"microsoft exchange\"", true, "tlsv1.2", true, false));
    CHECK(!f_match("-product:\"Microsoft Exchange\"", true, "tlsv1.2", true, false));
    CHECK(f_match("\"microsoft esmtp\" -\"exim\" has_ssl:true", true, "tlsv1.2", true, false));
    CHECK(f_match("port:25 (ssl.version:tlsv1 OR ssl.cert.expired:true)", true, "tlsv1.2", true, true));
    CHECK(!f_match("port:25 (ssl.version:tlsv1 OR ssl.cert.expired:true)", true, "tlsv1.2", true, false));
    CHECK(f_match("NOT has_ssl:false port:25", true, "tlsv1.2", true, false));
    /* Shodan's product names carry the daemon */
    CHECK(f_match("product:\"Microsoft Exchange smtpd\"", true, "tlsv1.2", true, false));
    CHECK(f_match("product:\"microsoft exchange SMTPD\"", true, "tlsv1.2", true, false));
    CHECK(!f_match("product:\"Microsoft Exchange mail\"", true, "tlsv1.2", true, false));
    CHECK(!f_match("product:\"Postfix smtpd\"", true, "tlsv1.2", true, false));
    char p1[] = "Dovecot imapd", p2[] = "smtpd", p3[] = "Postfix";
    CHECK(query_product_canon(p1, strlen(p1)) == 7 && strcmp(p1, "Dovecot") == 0);
    CHECK(query_product_canon(p2, strlen(p2)) == 5 && strcmp(p2, "smtpd") == 0); /* a lone word stays */
    CHECK(query_product_canon(p3, strlen(p3)) == 7 && strcmp(p3, "Postfix") == 0);
    /* malformed filter values */
    const char *bad[] = {"has_ssl:maybe",       "ssl.cert.expired:", "ssl.version:",
                         "ssl.version:\"tlsv1", "ssl.cipher:rc4",    "has_ssl:\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128];
        struct query *q = query_compile(bad[i], err, sizeof err);
        if (q)
            fprintf(stderr, "should not compile: %s\n", bad[i]);
        CHECK(q == NULL && strncmp(err, "query column", 12) == 0);
        query_free(q);
    }
    /* the unknown-filter message names the ones that exist */
    char err[256];
    CHECK(query_compile("vuln:CVE-2014-0160", err, sizeof err) == NULL && strstr(err, "ssl.cert.expired"));
}

static void test_tally(void)
{
    struct tally *t = tally_new(3);
    CHECK(t != NULL);
    if (!t)
        return;
    tally_add(t, "b", 1, 5);
    tally_add(t, "a", 1, 5);
    tally_add(t, "c", 1, 1);
    tally_add(t, "d", 1, 2); /* past max_keys: (other) */
    tally_add(t, "e", 1, 2);
    tally_add(t, "a", 1, 1);
    struct tally_entry e[8];
    size_t n = tally_top(t, e, 8);
    CHECK(n == 4);
    CHECK(!strcmp(e[0].key, "a") && e[0].count == 6);
    CHECK(!strcmp(e[1].key, "b") && e[1].count == 5);
    CHECK(!strcmp(e[2].key, TALLY_OTHER) && e[2].count == 4);
    CHECK(!strcmp(e[3].key, "c") && e[3].count == 1);
    CHECK(tally_get(t, "zz") == 0 && tally_get(t, TALLY_OTHER) == 4);
    CHECK(tally_top(t, e, 2) == 2);
    tally_free(t);
}

static void test_csv_reader(void)
{
    struct reader *in = reader_new_lines();
    static struct record r;
    char err[256];
    const char *hdr = "port,ip,unknown_col,caps_before_tls,starttls_ok,banner,country";
    CHECK(reader_csv_header(in, hdr, strlen(hdr), err, sizeof err) == 0);
    const char *line =
        "25,\"1.2.3.4\",\"ignored\",\"A\\x7CB|\\e|C\\\\\",true,\"say \"\"hi\"\"\\x0D\\x0A\\xFF\",";
    CHECK(reader_csv_line(in, &r, line, strlen(line), err, sizeof err) == 0);
    CHECK(rec_int(&r, F_PORT) == 25 && rec_has(&r, F_STARTTLS_OK) && rec_int(&r, F_STARTTLS_OK) == 1);
    CHECK(!rec_has(&r, F_COUNTRY));
    size_t n;
    const unsigned char *b = rec_text(&r, F_BANNER, &n);
    CHECK(n == 11 && memcmp(b, "say \"hi\"\r\n\xff", 11) == 0);
    uint16_t cur = 0;
    const unsigned char *it;
    const char *want[] = {"A|B", "", "C\\"};
    for (int i = 0; i < 3; i++) {
        CHECK(rec_list_next(&r, F_CAPS_BEFORE_TLS, &cur, &it, &n) == 1);
        CHECK(n == strlen(want[i]) && memcmp(it, want[i], n) == 0);
    }
    CHECK(rec_list_next(&r, F_CAPS_BEFORE_TLS, &cur, &it, &n) == 0);
    line = "25,\"\",,\"\",,\"\",\"\"";
    CHECK(reader_csv_line(in, &r, line, strlen(line), err, sizeof err) == 0);
    CHECK(rec_has(&r, F_IP) && rec_has(&r, F_COUNTRY) && !rec_has(&r, F_STARTTLS_OK));
    CHECK(rec_has(&r, F_CAPS_BEFORE_TLS) && r.span[F_CAPS_BEFORE_TLS].len == 0); /* [] */

    const char *bad[] = {"x,\"a\",,,,,", "25,\"a\",,,maybe,,", "25,\"\\q\",,,,,", "25,\"a\"b,,,,,",
                         "25,\"a,,,,,",  "25,a\"b,,,,,",       "25,,,,,,,",       "25,,,,,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = reader_csv_line(in, &r, bad[i], strlen(bad[i]), err, sizeof err);
        if (rc == 0)
            fprintf(stderr, "csv should fail: %s\n", bad[i]);
        CHECK(rc == -1);
    }
    reader_close(in);
}

static void test_crawl_and_product(void)
{
    static struct record r;
    char text[CRAWL_MAX_BYTES];
    rec_reset(&r);
    rec_set_str(&r, F_PROTOCOL, "smtp");
    rec_set_str(&r, F_BANNER, "220 mx.example ESMTP Postfix\r\n");
    rec_list_add(&r, F_CAPS_BEFORE_TLS, "PIPELINING", 10);
    rec_list_add(&r, F_CAPS_BEFORE_TLS, "AUTH PLAIN", 10);
    size_t n = crawl_text(&r, text);
    const char *want = "220 mx.example esmtp postfix\r\n250-pipelining\r\n250 auth plain\r\n";
    CHECK(n == strlen(want) && memcmp(text, want, n) == 0);
    CHECK(!strcmp(product_detect(text, n), "Postfix"));

    rec_reset(&r);
    rec_set_int(&r, F_PORT, 143);
    rec_set_str(&r, F_BANNER, "* OK ready");
    rec_list_add(&r, F_CAPS_BEFORE_TLS, "IMAP4rev1", 9);
    rec_list_add(&r, F_CAPS_BEFORE_TLS, "STARTTLS", 8);
    n = crawl_text(&r, text);
    want = "* ok ready\r\n* capability imap4rev1 starttls\r\n";
    CHECK(n == strlen(want) && memcmp(text, want, n) == 0);
    CHECK(!strcmp(product_detect(text, n), "unknown"));

    rec_reset(&r);
    CHECK(crawl_text(&r, text) == 0 && product_detect(text, 0) == NULL);

    /* first rule in table order wins, wherever it sits in the text */
    const char *z = "220 postfix esmtp ... zimbra";
    CHECK(!strcmp(product_detect(z, strlen(z)), "Zimbra"));
    const char *ex = "220 host microsoft esmtp mail service ready";
    CHECK(!strcmp(product_detect(ex, strlen(ex)), "Microsoft Exchange"));
    const char *c = "+ok hello there.\r\n";
    CHECK(!strcmp(product_detect(c, strlen(c)), "Courier"));
}

int main(void)
{
    test_json_valid();
    test_json_invalid();
    test_json_strings();
    test_json_ints();
    test_json_mutations();
    test_query();
    test_query_filters();
    test_tally();
    test_csv_reader();
    test_crawl_and_product();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_out_stats_parsers: all checks passed\n");
    return 0;
}
