/*
 * test_tgt_blocklist.c - longest-prefix BLOCK/ALLOW rules, the built-in
 * list, and ZMap-format files.
 */
#include "../../targets/addr.h"
#include "../../targets/blocklist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static bool blocked(struct tgt_blocklist *bl, const char *text)
{
    unsigned char a[16] = {0};
    int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

    if (inet_pton(fam, text, a) != 1) {
        fprintf(stderr, "bad test address %s\n", text);
        exit(2);
    }
    return tgt_bl_is_blocked(bl, fam, a);
}

static void add(struct tgt_blocklist *bl, const char *cidr, enum tgt_bl_rule rule)
{
    char err[256];

    if (tgt_bl_add_text(bl, cidr, strlen(cidr), rule, err, sizeof err) != 0) {
        fprintf(stderr, "add %s: %s\n", cidr, err);
        exit(2);
    }
}

static void test_defaults(void)
{
    struct tgt_blocklist *bl = tgt_bl_new();

    CHECK(bl && tgt_bl_add_defaults(bl) == 0);
    CHECK(!tgt_bl_has_allowlist(bl));
    /* Loopback stays allowed. */
    CHECK(!blocked(bl, "127.0.0.1"));
    CHECK(!blocked(bl, "127.255.255.254"));
    CHECK(!blocked(bl, "::1"));
    /* Each IPv4 entry, at its edges. */
    CHECK(blocked(bl, "0.0.0.0") && blocked(bl, "0.255.255.255") && !blocked(bl, "1.0.0.0"));
    CHECK(!blocked(bl, "9.255.255.255") && blocked(bl, "10.0.0.0") && blocked(bl, "10.255.255.255") &&
          !blocked(bl, "11.0.0.0"));
    CHECK(!blocked(bl, "100.63.255.255") && blocked(bl, "100.64.0.0") && blocked(bl, "100.127.255.255") &&
          !blocked(bl, "100.128.0.0"));
    CHECK(blocked(bl, "169.254.1.1") && !blocked(bl, "169.253.255.255") && !blocked(bl, "169.255.0.0"));
    CHECK(!blocked(bl, "172.15.255.255") && blocked(bl, "172.16.0.0") && blocked(bl, "172.31.255.255") &&
          !blocked(bl, "172.32.0.0"));
    CHECK(blocked(bl, "192.0.0.8") && blocked(bl, "192.0.2.7") && !blocked(bl, "192.0.1.1") &&
          !blocked(bl, "192.0.3.0"));
    CHECK(blocked(bl, "192.88.99.1") && blocked(bl, "192.168.1.1") && !blocked(bl, "192.169.0.0"));
    CHECK(blocked(bl, "198.18.0.0") && blocked(bl, "198.19.255.255") && !blocked(bl, "198.20.0.0") &&
          !blocked(bl, "198.17.255.255"));
    CHECK(blocked(bl, "198.51.100.200") && blocked(bl, "203.0.113.9") && !blocked(bl, "203.0.114.0"));
    CHECK(!blocked(bl, "223.255.255.255") && blocked(bl, "224.0.0.1") && blocked(bl, "239.255.255.255") &&
          blocked(bl, "240.0.0.1") && blocked(bl, "255.255.255.254") && blocked(bl, "255.255.255.255"));
    CHECK(!blocked(bl, "8.8.8.8") && !blocked(bl, "1.1.1.1") && !blocked(bl, "193.0.0.1"));
    /* IPv6. */
    /* ::2 is the IPv4-compatible form of 0.0.0.2 ("this network") */
    CHECK(blocked(bl, "::") && blocked(bl, "::2") && !blocked(bl, "::8.8.8.8") && blocked(bl, "::10.1.2.3"));
    CHECK(blocked(bl, "::ffff:8.8.8.8") && blocked(bl, "64:ff9b::808:808") && blocked(bl, "64:ff9b:1::1"));
    CHECK(blocked(bl, "100::1") && !blocked(bl, "100:0:0:1::1"));
    CHECK(blocked(bl, "2001::1") && blocked(bl, "2001:1ff:ffff::1") && !blocked(bl, "2001:200::1"));
    CHECK(blocked(bl, "2001:db8::25") && blocked(bl, "2002:c000:0204::1") && blocked(bl, "3fff::1") &&
          blocked(bl, "5f00::1"));
    CHECK(blocked(bl, "fc00::1") && blocked(bl, "fdff::1") && blocked(bl, "fe80::1") &&
          blocked(bl, "febf::1") && blocked(bl, "fec0::1") && blocked(bl, "ff02::1") &&
          blocked(bl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(!blocked(bl, "2606:4700::1111") && !blocked(bl, "2a00:1450::1"));
    tgt_bl_free(bl);
}

static void test_longest_prefix(void)
{
    struct tgt_blocklist *bl = tgt_bl_new();

    CHECK(!blocked(bl, "10.1.2.3")); /* empty: everything allowed */
    add(bl, "10.0.0.0/8", TGT_BL_BLOCK);
    CHECK(blocked(bl, "10.1.2.3"));
    add(bl, "10.1.0.0/16", TGT_BL_ALLOW);
    CHECK(tgt_bl_has_allowlist(bl));
    CHECK(!blocked(bl, "10.1.2.3") && blocked(bl, "10.2.0.0") && blocked(bl, "10.0.255.255"));
    /* Allowlist mode: what no rule covers is blocked. */
    CHECK(blocked(bl, "8.8.8.8") && blocked(bl, "2001:4860::1"));
    add(bl, "10.1.2.0/24", TGT_BL_BLOCK);
    CHECK(blocked(bl, "10.1.2.3") && !blocked(bl, "10.1.3.3") && !blocked(bl, "10.1.1.255"));
    add(bl, "10.1.2.3/32", TGT_BL_ALLOW);
    CHECK(!blocked(bl, "10.1.2.3") && blocked(bl, "10.1.2.2") && blocked(bl, "10.1.2.4"));
    /* Equal prefix: BLOCK wins, in either order of adding. */
    add(bl, "10.1.5.0/24", TGT_BL_ALLOW);
    add(bl, "10.1.5.0/24", TGT_BL_BLOCK);
    add(bl, "10.1.6.0/24", TGT_BL_BLOCK);
    add(bl, "10.1.6.0/24", TGT_BL_ALLOW);
    CHECK(blocked(bl, "10.1.5.5") && blocked(bl, "10.1.6.6") && !blocked(bl, "10.1.7.7"));
    /* Host bits are masked. */
    add(bl, "172.16.99.99/12", TGT_BL_ALLOW);
    CHECK(!blocked(bl, "172.31.0.1") && blocked(bl, "172.32.0.1"));
    tgt_bl_free(bl);

    /* The top of the address space (overflow of hi + 1). */
    bl = tgt_bl_new();
    add(bl, "::/0", TGT_BL_BLOCK);
    add(bl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TGT_BL_ALLOW);
    add(bl, "0.0.0.0/0", TGT_BL_ALLOW);
    add(bl, "255.255.255.255", TGT_BL_BLOCK);
    add(bl, "0.0.0.0", TGT_BL_BLOCK);
    CHECK(!blocked(bl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(blocked(bl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") && blocked(bl, "::"));
    CHECK(blocked(bl, "255.255.255.255") && !blocked(bl, "255.255.255.254") && blocked(bl, "0.0.0.0") &&
          !blocked(bl, "0.0.0.1") && !blocked(bl, "128.0.0.0"));
    tgt_bl_free(bl);

    /* Bad input to tgt_bl_add. */
    bl = tgt_bl_new();
    {
        unsigned char a[16] = {0};
        char err[128];
        CHECK(tgt_bl_add(bl, AF_INET, a, 33, TGT_BL_BLOCK) == -1);
        CHECK(tgt_bl_add(bl, 12345, a, 8, TGT_BL_BLOCK) == -1);
        CHECK(tgt_bl_add_text(bl, "10.0.0.0/40", 11, TGT_BL_BLOCK, err, sizeof err) == -1 &&
              strstr(err, "/40"));
        CHECK(tgt_bl_add_text(bl, "example.com", 11, TGT_BL_BLOCK, err, sizeof err) == -1 &&
              strstr(err, "example.com"));
        CHECK(tgt_bl_is_blocked(bl, 12345, a)); /* unknown family: fail closed */
    }
    tgt_bl_free(bl);
}

/* The embedded IPv4 address of each IPv6 form, and the forms left alone. */
static void test_embedded_decode(void)
{
    static const struct {
        const char *v6, *v4; /* v4 NULL: nothing embedded */
    } cases[] = {
        {"::ffff:127.0.0.2", "127.0.0.2"},
        {"::ffff:0:0", "0.0.0.0"},
        {"::ffff:ffff:ffff", "255.255.255.255"},
        {"::127.0.0.2", "127.0.0.2"},
        {"::2", "0.0.0.2"},
        {"::0.1.0.0", "0.1.0.0"},
        {"::", NULL},
        {"::1", NULL},
        {"2002:7f00:2::", "127.0.0.2"},
        {"2002:7f00:0002:1234:5678::9", "127.0.0.2"},
        {"2002:c000:0204::1", "192.0.2.4"},
        {"64:ff9b::7f00:2", "127.0.0.2"},
        {"64:ff9b::10.0.0.1", "10.0.0.1"},
        /* local-use NAT64: the prefix length is the operator's choice */
        {"64:ff9b:1::7f00:2", NULL},
        {"64:ff9b:0:0:1::7f00:2", NULL},
        {"::fffe:127.0.0.2", NULL},
        {"::1:ffff:127.0.0.2", NULL},
        {"2003:7f00:2::", NULL},
        {"2001:0:7f00:2::", NULL}, /* Teredo */
        {"2606:4700::1111", NULL},
        {"fe80::ffff:127.0.0.2", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char a6[16], got[4] = {0}, want[4] = {0};
        CHECK(inet_pton(AF_INET6, cases[i].v6, a6) == 1);
        bool has = tgt_addr_v4_in_v6(a6, got);
        if (cases[i].v4)
            CHECK(inet_pton(AF_INET, cases[i].v4, want) == 1);
        if (has != (cases[i].v4 != NULL) || (has && memcmp(got, want, 4) != 0)) {
            fprintf(stderr, "FAIL: %s -> %s\n", cases[i].v6, cases[i].v4 ? cases[i].v4 : "none");
            CHECK(false);
        }
        /* the sockaddr wrapper agrees */
        struct sockaddr_storage ss = {0};
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        struct in_addr v4;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, a6, 16);
        CHECK(tgt_addr_embedded_v4(&ss, &v4) == has);
        CHECK(!has || memcmp(&v4.s_addr, want, 4) == 0);
        CHECK(tgt_addr_v4_in_v6(a6, NULL) == has);
    }
    /* an AF_INET sockaddr embeds nothing */
    struct sockaddr_storage ss = {0};
    ss.ss_family = AF_INET;
    CHECK(!tgt_addr_embedded_v4(&ss, NULL));
}

/* The IPv6 spellings of a blocked IPv4 host are blocked under every
 * combination of lists (issue 18 item 5): --no-default-blocklist with a
 * blocklist entry, defaults plus a blocklist, an allowlist with or without
 * defaults. */
static void test_embedded_blocked(void)
{
    static const char *const spell_blocked[] = {"::ffff:127.0.0.2", "::127.0.0.2",
                                                "2002:7f00:2::", "2002:7f00:2:ffff::1", "64:ff9b::7f00:2"};
    static const char *const spell_free[] = {"::ffff:127.0.0.3", "::127.0.0.3",
                                             "2002:7f00:3::", "64:ff9b::7f00:3"};
    for (int defaults = 0; defaults < 2; defaults++)
        for (int allow = 0; allow < 3; allow++) {
            struct tgt_blocklist *bl = tgt_bl_new();
            if (defaults)
                CHECK(tgt_bl_add_defaults(bl) == 0);
            add(bl, "127.0.0.2/32", TGT_BL_BLOCK);
            if (allow == 1)
                add(bl, "127.0.0.0/8", TGT_BL_ALLOW);
            if (allow == 2) /* an allowlist naming the IPv6 forms opens nothing more */
                add(bl, "::/0", TGT_BL_ALLOW);
            CHECK(blocked(bl, "127.0.0.2"));
            for (size_t i = 0; i < sizeof spell_blocked / sizeof *spell_blocked; i++)
                if (!blocked(bl, spell_blocked[i])) {
                    fprintf(stderr, "FAIL: %s allowed (defaults %d, allow %d)\n", spell_blocked[i], defaults,
                            allow);
                    CHECK(false);
                }
            for (size_t i = 0; i < sizeof spell_free / sizeof *spell_free; i++) {
                /* the defaults block the IPv6 prefixes themselves; the
                 * ::/0 allowlist allows no IPv4 host */
                bool want = (defaults && i != 1) || allow == 2;
                if (blocked(bl, spell_free[i]) != want) {
                    fprintf(stderr, "FAIL: %s blocked=%d (defaults %d, allow %d)\n", spell_free[i], !want,
                            defaults, allow);
                    CHECK(false);
                }
            }
            /* the loopback ::1 and ordinary IPv6 are not IPv4 spellings */
            CHECK(blocked(bl, "::1") == (allow == 1));
            CHECK(blocked(bl, "2606:4700::1111") == (allow == 1));
            tgt_bl_free(bl);
        }
    /* an IPv4 blocklist entry wider than a host, and the allowlist side:
     * a mapped address outside the allowlist is blocked like its IPv4 */
    struct tgt_blocklist *bl = tgt_bl_new();
    add(bl, "10.0.0.0/8", TGT_BL_BLOCK);
    add(bl, "10.1.0.0/16", TGT_BL_ALLOW);
    CHECK(blocked(bl, "::ffff:10.2.3.4") && !blocked(bl, "::ffff:10.1.3.4"));
    CHECK(blocked(bl, "2002:a02:304::") && !blocked(bl, "2002:a01:304::"));
    CHECK(blocked(bl, "::ffff:8.8.8.8")); /* allowlist mode: not allowed */
    /* an IPv6 BLOCK rule on the spelling itself still holds */
    add(bl, "2002:a01::/32", TGT_BL_BLOCK);
    CHECK(blocked(bl, "2002:a01:304::") && !blocked(bl, "::ffff:10.1.3.4"));
    tgt_bl_free(bl);
}

/* Random nested rules in a small corner of the space, checked against a
 * linear longest-prefix scan. */
static void test_against_naive(void)
{
    struct rule {
        uint32_t net;
        unsigned len;
        enum tgt_bl_rule rule;
    } rules[300];
    unsigned seed = 12345;
    int mismatches = 0;

    for (int round = 0; round < 20; round++) {
        struct tgt_blocklist *bl = tgt_bl_new();
        int n = 5 + round * 14;
        bool allow_mode = false;

        for (int i = 0; i < n; i++) {
            unsigned char a[16] = {0};
            seed = seed * 1103515245u + 12345u;
            rules[i].len = 16 + (seed >> 16) % 17;
            seed = seed * 1103515245u + 12345u;
            uint32_t host = (seed >> 8) & 0xffffu;
            uint32_t mask = rules[i].len == 0 ? 0 : 0xffffffffu << (32 - rules[i].len);
            rules[i].net = (0x0a000000u | host) & mask;
            rules[i].rule = (seed >> 5) % 3 == 0 ? TGT_BL_ALLOW : TGT_BL_BLOCK;
            allow_mode |= rules[i].rule == TGT_BL_ALLOW;
            uint32_t be = htonl(rules[i].net);
            memcpy(a, &be, 4);
            CHECK(tgt_bl_add(bl, AF_INET, a, rules[i].len, rules[i].rule) == 0);
        }
        for (uint32_t host = 0; host < 0x10000u + 16; host += 1) {
            uint32_t addr = 0x0a000000u + host;
            int best_len = -1;
            bool want;
            unsigned char a[16] = {0};
            for (int i = 0; i < n; i++) {
                uint32_t mask = rules[i].len == 0 ? 0 : 0xffffffffu << (32 - rules[i].len);
                if ((addr & mask) != rules[i].net)
                    continue;
                if ((int)rules[i].len > best_len) {
                    best_len = (int)rules[i].len;
                    want = rules[i].rule == TGT_BL_BLOCK;
                } else if ((int)rules[i].len == best_len && rules[i].rule == TGT_BL_BLOCK) {
                    want = true;
                }
            }
            if (best_len < 0)
                want = allow_mode;
            uint32_t be = htonl(addr);
            memcpy(a, &be, 4);
            if (tgt_bl_is_blocked(bl, AF_INET, a) != want)
                mismatches++;
        }
        tgt_bl_free(bl);
    }
    CHECK(mismatches == 0);
}

static char tmpdir[] = "/tmp/test_tgt_blocklist.XXXXXX";

static const char *write_file(const char *name, const char *content)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_files(void)
{
    struct tgt_blocklist *bl = tgt_bl_new();
    char err[512];
    const char *path;

    path = write_file("block.txt", "# ZMap-style blocklist\n"
                                   "\n"
                                   "198.51.100.0/24   # trailing comment\n"
                                   "  192.0.2.7\r\n"
                                   "\t2001:db8:1::/48\n"
                                   "203.0.113.0/24"); /* no final newline */
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_BLOCK, err, sizeof err) == 0);
    CHECK(!tgt_bl_has_allowlist(bl));
    CHECK(blocked(bl, "198.51.100.9") && blocked(bl, "192.0.2.7") && !blocked(bl, "192.0.2.8") &&
          blocked(bl, "2001:db8:1:ffff::1") && !blocked(bl, "2001:db8:2::1") && blocked(bl, "203.0.113.255"));

    path = write_file("bad.txt", "10.0.0.0/8\n# fine\n10.0.0.0/99\n");
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_BLOCK, err, sizeof err) == -1);
    CHECK(strstr(err, "bad.txt:3: ") && strstr(err, "/99"));
    path = write_file("bad2.txt", "mail.example.com\n");
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_BLOCK, err, sizeof err) == -1 && strstr(err, "bad2.txt:1: "));
    path = write_file("bad3.txt", "10.0.0.1 10.0.0.2\n");
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_BLOCK, err, sizeof err) == -1 && strstr(err, "bad3.txt:1: "));

    CHECK(tgt_bl_load_file(bl, "/nonexistent/zmap-blocklist", TGT_BL_BLOCK, err, sizeof err) == -1 &&
          strcmp(err, "/nonexistent/zmap-blocklist: No such file or directory") == 0);
    tgt_bl_free(bl);

    /* An empty allowlist file allows nothing. */
    bl = tgt_bl_new();
    path = write_file("empty-allow.txt", "# nothing\n\n");
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_ALLOW, err, sizeof err) == 0);
    CHECK(tgt_bl_has_allowlist(bl) && blocked(bl, "127.0.0.1") && blocked(bl, "::1"));
    tgt_bl_free(bl);

    bl = tgt_bl_new();
    tgt_bl_add_defaults(bl);
    path = write_file("allow.txt", "127.0.0.0/8\n10.9.0.0/16 # our own network\n");
    CHECK(tgt_bl_load_file(bl, path, TGT_BL_ALLOW, err, sizeof err) == 0);
    CHECK(!blocked(bl, "127.0.0.2") && !blocked(bl, "10.9.8.7") && blocked(bl, "10.8.0.1") &&
          blocked(bl, "8.8.8.8") && blocked(bl, "::1"));
    tgt_bl_free(bl);

    /* A long line is an error with its line number, not a crash. */
    {
        char *big = malloc(10000);
        memset(big, ' ', 9999);
        big[0] = '1';
        big[9998] = '\n';
        big[9999] = '\0';
        bl = tgt_bl_new();
        path = write_file("long.txt", "10.0.0.0/8\n");
        FILE *f = fopen(path, "a");
        fputs(big, f);
        fclose(f);
        CHECK(tgt_bl_load_file(bl, path, TGT_BL_BLOCK, err, sizeof err) == -1 &&
              strstr(err, "long.txt:2: ") && strstr(err, "longer than"));
        tgt_bl_free(bl);
        free(big);
    }
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_defaults();
    test_longest_prefix();
    test_embedded_decode();
    test_embedded_blocked();
    test_against_naive();
    test_files();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
