/*
 * test_tgt_parse.c - ports list, protocol names, one-line target parsing.
 */
#include "../../targets/target.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int parse(const char *s, struct tgt_line *l, char *err)
{
    return tgt_parse_line(s, strlen(s), l, err, TGT_ERR_MAX);
}

static bool addr_is(const struct tgt_line *l, const char *text)
{
    unsigned char want[16] = {0};
    int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

    if (inet_pton(fam, text, want) != 1)
        return false;
    return l->family == fam && memcmp(l->addr, want, fam == AF_INET ? 4 : 16) == 0;
}

/* Malformed, and the reason mentions `needle`. */
static bool bad(const char *s, const char *needle)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];
    int rc = parse(s, &l, err);

    if (rc != -1) {
        fprintf(stderr, "  '%s' was accepted (rc %d)\n", s, rc);
        return false;
    }
    if (!strstr(err, needle)) {
        fprintf(stderr, "  '%s': reason '%s' lacks '%s'\n", s, err, needle);
        return false;
    }
    return true;
}

static void test_ports(void)
{
    struct tgt_port p[16];
    size_t n = 0;
    char err[TGT_ERR_MAX];

    CHECK(tgt_port_infer(25, &p[0]) && p[0].proto == PROTO_SMTP && p[0].mode == TLS_MODE_STARTTLS &&
          p[0].port == 25);
    CHECK(tgt_port_infer(587, &p[0]) && p[0].proto == PROTO_SMTP && p[0].mode == TLS_MODE_STARTTLS);
    CHECK(tgt_port_infer(465, &p[0]) && p[0].proto == PROTO_SMTP && p[0].mode == TLS_MODE_IMPLICIT);
    CHECK(tgt_port_infer(143, &p[0]) && p[0].proto == PROTO_IMAP && p[0].mode == TLS_MODE_STARTTLS);
    CHECK(tgt_port_infer(993, &p[0]) && p[0].proto == PROTO_IMAP && p[0].mode == TLS_MODE_IMPLICIT);
    CHECK(tgt_port_infer(110, &p[0]) && p[0].proto == PROTO_POP3 && p[0].mode == TLS_MODE_STARTTLS);
    CHECK(tgt_port_infer(995, &p[0]) && p[0].proto == PROTO_POP3 && p[0].mode == TLS_MODE_IMPLICIT);
    CHECK(!tgt_port_infer(80, &p[0]));
    CHECK(!tgt_port_infer(0, &p[0]));
    CHECK(!tgt_port_infer(2525, &p[0]));

    CHECK(tgt_proto_parse("pop3s", 5, &p[0]) && p[0].proto == PROTO_POP3 && p[0].mode == TLS_MODE_IMPLICIT);
    CHECK(tgt_proto_parse("IMAP", 4, &p[0]) && p[0].proto == PROTO_IMAP);
    CHECK(tgt_proto_parse("smtpsXX", 5, &p[0]) && p[0].mode == TLS_MODE_IMPLICIT);
    CHECK(!tgt_proto_parse("smtpsXX", 7, &p[0]));
    CHECK(!tgt_proto_parse("http", 4, &p[0]));
    CHECK(!tgt_proto_parse("", 0, &p[0]));

    CHECK(tgt_parse_ports(TGT_DEFAULT_PORTS, p, 16, &n, err, sizeof err) == 0 && n == 7);
    CHECK(p[0].port == 25 && p[1].port == 465 && p[2].port == 587 && p[3].port == 143 && p[4].port == 993 &&
          p[5].port == 110 && p[6].port == 995);
    CHECK(p[1].mode == TLS_MODE_IMPLICIT && p[5].proto == PROTO_POP3);

    CHECK(tgt_parse_ports("25, 10025/smtp ,10993/imaps", p, 16, &n, err, sizeof err) == 0 && n == 3);
    CHECK(p[1].port == 10025 && p[1].proto == PROTO_SMTP && p[1].mode == TLS_MODE_STARTTLS);
    CHECK(p[2].port == 10993 && p[2].proto == PROTO_IMAP && p[2].mode == TLS_MODE_IMPLICIT);
    CHECK(tgt_parse_ports("65535/pop3", p, 16, &n, err, sizeof err) == 0 && n == 1 && p[0].port == 65535);

    CHECK(tgt_parse_ports("25,0/smtp", p, 16, &n, err, sizeof err) == -1 && strstr(err, "0/smtp"));
    CHECK(tgt_parse_ports("65536/smtp", p, 16, &n, err, sizeof err) == -1 && strstr(err, "65536"));
    CHECK(tgt_parse_ports("99999999999999999999/smtp", p, 16, &n, err, sizeof err) == -1);
    CHECK(tgt_parse_ports("25,8080", p, 16, &n, err, sizeof err) == -1 && strstr(err, "8080") &&
          strstr(err, "standard"));
    CHECK(tgt_parse_ports("25,2525/http", p, 16, &n, err, sizeof err) == -1 && strstr(err, "2525/http") &&
          strstr(err, "unknown protocol"));
    CHECK(tgt_parse_ports("25,465,25", p, 16, &n, err, sizeof err) == -1 && strstr(err, "twice"));
    CHECK(tgt_parse_ports("25,25/smtps", p, 16, &n, err, sizeof err) == -1 && strstr(err, "twice"));
    CHECK(tgt_parse_ports("25,,465", p, 16, &n, err, sizeof err) == -1 && strstr(err, "entry 2 is empty"));
    CHECK(tgt_parse_ports("", p, 16, &n, err, sizeof err) == -1 && strstr(err, "empty"));
    CHECK(tgt_parse_ports("25,", p, 16, &n, err, sizeof err) == -1);
    CHECK(tgt_parse_ports("-25", p, 16, &n, err, sizeof err) == -1 && strstr(err, "-25"));
    CHECK(tgt_parse_ports("25,465,587", p, 2, &n, err, sizeof err) == -1 && strstr(err, "587"));
    CHECK(n == 0);
}

static void test_addresses(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];

    CHECK(parse("192.0.2.7", &l, err) == 1 && l.kind == TGT_ADDR && addr_is(&l, "192.0.2.7") && l.port == 0 &&
          !l.has_proto && l.name[0] == '\0');
    CHECK(parse("  \t192.0.2.7 \r", &l, err) == 1 && addr_is(&l, "192.0.2.7"));
    CHECK(parse("192.0.2.7 # a comment", &l, err) == 1 && addr_is(&l, "192.0.2.7"));
    CHECK(parse("2001:db8::1", &l, err) == 1 && l.kind == TGT_ADDR && addr_is(&l, "2001:db8::1"));
    CHECK(parse("::1", &l, err) == 1 && addr_is(&l, "::1"));
    CHECK(parse("192.0.2.7:587", &l, err) == 1 && l.kind == TGT_ADDR && l.port == 587 && !l.has_proto);
    CHECK(parse("[2001:db8::1]:993", &l, err) == 1 && addr_is(&l, "2001:db8::1") && l.port == 993 &&
          !l.has_proto);
    CHECK(parse("[::1]", &l, err) == 1 && addr_is(&l, "::1") && l.port == 0);
    CHECK(parse("127.0.0.1:10025/smtp", &l, err) == 1 && addr_is(&l, "127.0.0.1") && l.port == 10025 &&
          l.has_proto && l.proto.proto == PROTO_SMTP && l.proto.mode == TLS_MODE_STARTTLS &&
          l.proto.port == 10025);
    CHECK(parse("[::1]:10995/pop3s", &l, err) == 1 && l.has_proto && l.proto.proto == PROTO_POP3 &&
          l.proto.mode == TLS_MODE_IMPLICIT);
    CHECK(parse("192.0.2.7:25/imaps", &l, err) == 1 && l.proto.proto == PROTO_IMAP);
}

static void test_blank(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];

    CHECK(parse("", &l, err) == 0);
    CHECK(parse("   \t  ", &l, err) == 0);
    CHECK(parse("# just a comment", &l, err) == 0);
    CHECK(parse("   # indented comment, with commas", &l, err) == 0);
    CHECK(tgt_parse_line("\r", 1, &l, err, sizeof err) == 0);
    /* len is honoured: bytes past it are not read. */
    CHECK(tgt_parse_line("192.0.2.7XYZ", 9, &l, err, sizeof err) == 1 && addr_is(&l, "192.0.2.7"));
}

static void test_prefixes(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];

    CHECK(parse("10.0.0.0/8", &l, err) == 1 && l.kind == TGT_PREFIX && l.prefix_len == 8 &&
          addr_is(&l, "10.0.0.0"));
    CHECK(parse("0.0.0.0/0", &l, err) == 1 && l.kind == TGT_PREFIX && l.prefix_len == 0);
    CHECK(parse("192.0.2.7/32", &l, err) == 1 && l.kind == TGT_PREFIX && l.prefix_len == 32 &&
          addr_is(&l, "192.0.2.7"));
    /* Host bits below the prefix are masked, not rejected. */
    CHECK(parse("10.1.2.3/8", &l, err) == 1 && addr_is(&l, "10.0.0.0"));
    CHECK(parse("192.0.2.255/25", &l, err) == 1 && addr_is(&l, "192.0.2.128"));
    CHECK(parse("2001:db8::/120", &l, err) == 1 && l.kind == TGT_PREFIX && l.prefix_len == 120 &&
          l.family == AF_INET6);
    CHECK(parse("2001:db8::ffff:ffff/96", &l, err) == 1 && addr_is(&l, "2001:db8::"));
    CHECK(parse("2001:db8::1:2:3/127", &l, err) == 1 && addr_is(&l, "2001:db8::1:2:2"));
    CHECK(parse("2001:db8::/128", &l, err) == 1 && l.prefix_len == 128);
    CHECK(bad("2001:db8::/95", "at most /96"));
    CHECK(bad("2001:db8::/64", "/64"));
    CHECK(bad("10.0.0.0/33", "/33"));
    CHECK(bad("2001:db8::/129", "/129"));
    CHECK(bad("10.0.0.0/", "not a prefix"));
    CHECK(bad("10.0.0.0/x", "not a prefix"));
    CHECK(bad("10.0.0.0/8:25", "takes no ':PORT'"));
    CHECK(bad("10.0.0/8", "not an IPv4 or IPv6 address"));
    CHECK(bad("10.0.0.0/1000", "not a number"));
    CHECK(bad("2001:db8::/1x", "not a number"));
}

static void test_csv(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];

    CHECK(parse("192.0.2.7,mail.example.com", &l, err) == 1 && l.kind == TGT_ADDR &&
          addr_is(&l, "192.0.2.7") && strcmp(l.name, "mail.example.com") == 0);
    CHECK(parse("2001:db8::25, mx.example.org. ", &l, err) == 1 && strcmp(l.name, "mx.example.org") == 0);
    CHECK(parse("192.0.2.7,mail.example.com,eu-1,587", &l, err) == 1 && l.port == 587 &&
          strcmp(l.tag, "eu-1") == 0 && !l.has_proto);
    CHECK(parse("192.0.2.7,,,2525/smtp", &l, err) == 1 && l.port == 2525 && l.has_proto &&
          l.name[0] == '\0' && l.tag[0] == '\0');
    CHECK(parse("192.0.2.7,,tagonly", &l, err) == 1 && strcmp(l.tag, "tagonly") == 0);
    CHECK(parse("192.0.2.7,", &l, err) == 1 && l.kind == TGT_ADDR && l.name[0] == '\0');
    CHECK(parse(",mail.example.com", &l, err) == 1 && l.kind == TGT_NAME &&
          strcmp(l.name, "mail.example.com") == 0);
    CHECK(parse(",mail.example.com,t,993", &l, err) == 1 && l.kind == TGT_NAME && l.port == 993);
    CHECK(parse("10.0.0.0/30,mail.example.com", &l, err) == 1 && l.kind == TGT_PREFIX &&
          strcmp(l.name, "mail.example.com") == 0);
    CHECK(bad(",,,", "neither an ip"));
    CHECK(bad("192.0.2.7,a,b,25,extra", "more than 4"));
    CHECK(bad("192.0.2.300,mail.example.com", "field 1 (ip)"));
    CHECK(bad("mail.example.com,192.0.2.7", "field 1 (ip)"));
    /* any address form may carry the name: IP:PORT[/PROTO],name and [IPv6]:PORT,name */
    CHECK(parse("192.0.2.7:25,mail.example.com", &l, err) == 1 && l.kind == TGT_ADDR && l.port == 25 &&
          strcmp(l.name, "mail.example.com") == 0);
    CHECK(parse("127.0.2.1:10025/smtp,mail.test.example", &l, err) == 1 && l.port == 10025 && l.has_proto &&
          l.proto.proto == PROTO_SMTP && strcmp(l.name, "mail.test.example") == 0);
    CHECK(parse("[2001:db8::1]:993,imap.example.org", &l, err) == 1 && l.family == AF_INET6 &&
          l.port == 993 && strcmp(l.name, "imap.example.org") == 0);
    CHECK(bad("192.0.2.7:25,mail.example.com,t,587", "already given"));
    CHECK(bad("mail.example.com:25,x.example", "not an address"));
    CHECK(bad("192.0.2.7,bad_name.example", "field 2 (domain)"));
    CHECK(bad("192.0.2.7,\"quoted.example\"", "quote"));
    CHECK(bad("192.0.2.7,a b", "blank"));
    CHECK(bad("192.0.2.7,x,t,0", "field 4 (port)"));
    CHECK(bad("192.0.2.7,x,t,8080", "standard"));
    CHECK(bad("192.0.2.7,x,t,70000/smtp", "field 4 (port)"));
    CHECK(bad("192.0.2.7,x,0123456789012345678901234567890123456789012345678901234567890123,25", "tag"));
    CHECK(bad("192.0.2.7,x,t\x01,25", "0x01"));
}

static void test_names(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];
    char longname[300];

    CHECK(parse("mail.example.com", &l, err) == 1 && l.kind == TGT_NAME &&
          strcmp(l.name, "mail.example.com") == 0 && l.family == 0);
    CHECK(parse("Mail-1.Example.COM.", &l, err) == 1 && strcmp(l.name, "Mail-1.Example.COM") == 0);
    CHECK(parse("localhost", &l, err) == 1 && l.kind == TGT_NAME);
    CHECK(parse("mail.example.com:587", &l, err) == 1 && l.kind == TGT_NAME && l.port == 587);
    CHECK(parse("mail.example.com:2525/smtp", &l, err) == 1 && l.has_proto && l.port == 2525);
    CHECK(parse("123.example.com", &l, err) == 1 && l.kind == TGT_NAME);
    CHECK(parse("xn--bcher-kva.example", &l, err) == 1);

    CHECK(bad("bad_name.example", "'_'"));
    CHECK(bad("-mail.example.com", "starts or ends with '-'"));
    CHECK(bad("mail-.example.com", "starts or ends with '-'"));
    CHECK(bad("mail..example.com", "empty label"));
    CHECK(bad(".example.com", "empty label"));
    CHECK(bad("example.com..", "empty label"));
    CHECK(bad("1.2.3", "not a valid IPv4"));
    CHECK(bad("1.2.3.256", "not a valid IPv4"));
    CHECK(bad("example.123", "all digits"));
    CHECK(bad("b\xc3\xbc"
              "cher.example",
              "non-ASCII"));
    CHECK(bad("mail.example.com:0", "bad port"));
    CHECK(bad("mail.example.com:", "bad port"));
    CHECK(bad(":25", "missing host"));
    CHECK(bad("mail.example.com:8080", "standard"));
    CHECK(bad("mail.example.com/smtp", "needs a port"));
    CHECK(bad("192.0.2.7/smtp", "needs a port"));
    CHECK(bad("mail.example.com:25/ftp", "unknown protocol"));
    CHECK(bad("a b", "blank"));
    CHECK(bad("x\x01y", "control byte"));

    /* 63-byte label ok, 64 not. */
    memset(longname, 'a', 63);
    strcpy(longname + 63, ".example");
    CHECK(parse(longname, &l, err) == 1);
    memset(longname, 'a', 64);
    strcpy(longname + 64, ".example");
    CHECK(bad(longname, "at most 63"));
    /* 253 bytes ok (plus a trailing dot), 254 not. */
    for (int i = 0; i < 253; i++)
        longname[i] = (i % 2) ? '.' : 'a';
    longname[252] = 'z';
    longname[253] = '\0';
    CHECK(parse(longname, &l, err) == 1 && strlen(l.name) == 253);
    longname[253] = '.';
    longname[254] = '\0';
    CHECK(parse(longname, &l, err) == 1 && strlen(l.name) == 253);
    longname[253] = 'z';
    CHECK(bad(longname, "at most 253"));
}

static void test_malformed(void)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];

    CHECK(bad("[2001:db8::1", "without ']'"));
    CHECK(bad("[192.0.2.7]:25", "not an IPv6"));
    CHECK(bad("[::1]25", "expected ':PORT'"));
    CHECK(bad("[::1]:", "expected ':PORT'"));
    CHECK(bad("[::1]:99999", "bad port"));
    CHECK(bad("2001:db8::1:25:xyz", "[ADDR]:PORT"));
    CHECK(bad("2001:db8:::1", "not an IPv4 or IPv6"));
    CHECK(bad("fe80::1%eth0", "not an IPv4 or IPv6"));
    CHECK(bad("192.0.2.7 192.0.2.8", "blank"));
    CHECK(bad("192.0.2.7:25:26", "[ADDR]:PORT"));
    /* A NUL inside the line is malformed, not a silent truncation. */
    CHECK(tgt_parse_line("ab\0cd.example", 13, &l, err, sizeof err) == -1 && strstr(err, "0x00"));
    /* The output is cleared on error. */
    CHECK(parse("192.0.2.7,bad_", &l, err) == -1 && l.kind == TGT_ADDR && l.family == 0);
    /* A tiny err buffer is truncated, never overrun. */
    {
        char small[8];
        memset(small, 'X', sizeof small);
        CHECK(tgt_parse_line("1.2.3", 5, &l, small, 4) == -1 && small[3] == '\0' && small[4] == 'X');
    }
}

int main(void)
{
    test_ports();
    test_addresses();
    test_blank();
    test_prefixes();
    test_csv();
    test_names();
    test_malformed();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
