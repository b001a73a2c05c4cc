/*
 * test_tgt_input.c - input that used to be misread (issue 18, item 9):
 * control bytes, ambiguous IPv6-with-port lines (each refused with
 * file:line through the source), the duplicate check of the source, and
 * the 128-bit key set behind it.
 */
#include "../../targets/dedup.h"
#include "../../targets/target.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_tgt_input.XXXXXX";

/* Malformed, and the reason holds `needle`. */
static bool refused(const char *s, size_t len, const char *needle)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];
    int rc = tgt_parse_line(s, len, &l, err, sizeof err);

    if (rc != -1 || !strstr(err, needle)) {
        fprintf(stderr, "  '%.*s': rc %d, reason '%s', wanted '%s'\n", (int)len, s, rc, rc < 0 ? err : "",
                needle);
        return false;
    }
    return true;
}

static bool accepted(const char *s, enum tgt_kind kind)
{
    struct tgt_line l;
    char err[TGT_ERR_MAX];
    int rc = tgt_parse_line(s, strlen(s), &l, err, sizeof err);

    if (rc != 1 || l.kind != kind) {
        fprintf(stderr, "  '%s': rc %d (%s)\n", s, rc, err);
        return false;
    }
    return true;
}

static void test_control_bytes(void)
{
    char line[32];

    CHECK(refused("127.0.0.3\0.5", 12, "control byte 0x00 (NUL) at column 10"));
    CHECK(refused("\0", 1, "0x00 (NUL)"));
    CHECK(refused("mail.example.com\0", 17, "NUL"));
    CHECK(refused("192.0.2.7 # a comment\0 too", 26, "NUL"));
    CHECK(refused("192.0.2.7,mx.example.com,t\0g", 28, "NUL"));
    /* every control byte but TAB, and DEL */
    for (int c = 1; c < 0x20; c++) {
        if (c == '\t')
            continue;
        int n = snprintf(line, sizeof line, "192.0.2.7%cx", c);
        char want[16];
        snprintf(want, sizeof want, "0x%02X", c);
        CHECK(refused(line, (size_t)n, want));
    }
    CHECK(refused("192.0.2.7\x7f", 10, "0x7F (DEL)"));
    CHECK(refused("192.0.2.7\r# x", 13, "0x0D (CR) at column 10"));
    CHECK(refused("192.0.2.7\r\r", 11, "0x0D (CR)"));
    /* TAB is a blank; one CR at the end is the CRLF ending */
    CHECK(accepted("\t192.0.2.7\t# tab", TGT_ADDR));
    CHECK(accepted("192.0.2.7\r", TGT_ADDR));
    CHECK(accepted("192.0.2.7,mx.example.com\t,\ttag\r", TGT_ADDR));
    /* bytes >= 0x80 are not control bytes: fine in a comment */
    CHECK(accepted("192.0.2.7 # Gr\xc3\xbc\xc3\x9f"
                   "e",
                   TGT_ADDR));
}

static void test_ambiguous_v6(void)
{
    CHECK(refused("::1:993", 7,
                  "'::1:993' is ambiguous: use [::1]:993 for port 993, or [::1:993] for the address"));
    CHECK(refused("2001:db8::1:25", 14, "use [2001:db8::1]:25"));
    CHECK(refused("fe80::10:587", 12, "use [fe80::10]:587"));
    CHECK(refused("1:2:3:4:5:6::7:465", 18, "use [1:2:3:4:5:6::7]:465"));
    CHECK(refused("::1:110", 7, "ambiguous"));
    CHECK(refused("::1:143", 7, "ambiguous"));
    CHECK(refused("::1:995", 7, "ambiguous"));
    CHECK(refused("::1:10025/smtp", 14, "use [::1]:10025/smtp"));
    CHECK(refused("::1/smtp", 8, "written [ADDR]:PORT/PROTO"));
    CHECK(refused("::1:993,mx.example.com", 22, "field 1 (ip): '::1:993' is ambiguous"));
    /* not ambiguous */
    CHECK(accepted("2001:db8::25", TGT_ADDR)); /* "2001:db8:" is no address */
    CHECK(accepted("::993", TGT_ADDR));
    CHECK(accepted("2001:db8::1:8080", TGT_ADDR));      /* not a mail port */
    CHECK(accepted("2001:db8:0:0:0:0:1:25", TGT_ADDR)); /* no "::" */
    CHECK(accepted("[::1]:993", TGT_ADDR));
    CHECK(accepted("[::1:993]", TGT_ADDR));
    CHECK(accepted("[2001:db8::1:25]", TGT_ADDR));
    CHECK(accepted("::ffff:192.0.2.25", TGT_ADDR));
    CHECK(accepted("2001:db8::1:0/120", TGT_PREFIX));
    CHECK(accepted("2001:db8::1:25/128", TGT_PREFIX)); /* a prefix is never ADDR:PORT */
}

static const char *write_file(const char *name, const char *content, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(content, 1, len, f) != len) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return path;
}

static struct tgt_source *source(uint32_t shards, uint32_t shard, size_t dedup_max)
{
    struct tgt_source_opts o = {
        .seed = 3, .shards = shards, .shard = shard, .no_default_blocklist = true, .dedup_max = dedup_max};
    return tgt_source_new(&o);
}

/* Every refused line comes back as MALFORMED with "path:N: ". */
static void test_file_line(void)
{
    static const char text[] = "192.0.2.1\n127.0.0.3\0.5\n::1:993\r\n192.0.2.2\r\nx\ty\n192.0.2.3\x1b\n";
    const char *path = write_file("bad.txt", text, sizeof text - 1);
    struct tgt_source *s = source(1, 0, 0);
    struct tgt_item it;
    char err[TGT_ERR_MAX + 64], want[400];
    int items = 0, bad = 0;
    const int bad_lines[] = {2, 3, 5, 6};

    CHECK(s && tgt_source_add_file(s, path, err, sizeof err) == 0);
    for (;;) {
        enum tgt_next r = tgt_source_next(s, &it, err, sizeof err);
        if (r == TGT_NEXT_END)
            break;
        if (r == TGT_NEXT_ITEM) {
            items++;
            continue;
        }
        CHECK(r == TGT_NEXT_MALFORMED);
        if (r != TGT_NEXT_MALFORMED || bad >= 4)
            break;
        snprintf(want, sizeof want, "%s:%d: ", path, bad_lines[bad]);
        CHECK(strncmp(err, want, strlen(want)) == 0);
        bad++;
    }
    CHECK(items == 2 && bad == 4);
    tgt_source_free(s);
}

/* Reads every item; returns the number, fills dup[] with the flags. */
static int drain(struct tgt_source *s, bool *dup, int cap)
{
    struct tgt_item it;
    char err[TGT_ERR_MAX + 64];
    int n = 0;
    for (;;) {
        enum tgt_next r = tgt_source_next(s, &it, err, sizeof err);
        if (r == TGT_NEXT_END)
            return n;
        if (r != TGT_NEXT_ITEM)
            continue;
        if (n < cap)
            dup[n] = it.duplicate;
        CHECK(!(it.duplicate && it.blocklisted));
        n++;
    }
}

static void test_duplicates(void)
{
    static const char text[] = "192.0.2.1\n"
                               "192.0.2.1\n"                 /* dup */
                               "192.0.2.1 # comment\n"       /* dup */
                               "192.0.2.1,,tag-a\n"          /* dup: the tag is not part of it */
                               "192.0.2.1:25\n"              /* other port spec: own target */
                               "192.0.2.1:25\n"              /* dup */
                               "192.0.2.1:25/smtps\n"        /* other protocol */
                               "192.0.2.1,mx.example.com\n"  /* with an SNI name */
                               "192.0.2.1,MX.Example.COM.\n" /* dup: case, trailing dot */
                               "mx.example.com\n"            /* a name: own target */
                               "mx.example.com\n"            /* dup */
                               "[::1]:993\n"
                               "[0:0::1]:993\n" /* dup: same address */
                               "10.0.0.0/31\n"  /* 2 items */
                               "10.0.0.1/31\n"  /* same prefix: 2 dup items */
                               "192.0.2.9:25\n"
                               "[::ffff:192.0.2.9]:25\n"; /* dup: the embedded IPv4 address */
    static const bool want[] = {0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1};
    const char *path = write_file("dup.txt", text, sizeof text - 1);
    bool dup[32];
    char err[TGT_ERR_MAX];
    struct tgt_source *s = source(1, 0, 0);
    struct tgt_counts c;

    CHECK(s && tgt_source_add_file(s, path, err, sizeof err) == 0);
    int n = drain(s, dup, 32);
    CHECK(n == (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++)
        if (dup[i] != want[i]) {
            fprintf(stderr, "  item %d: duplicate %d, want %d\n", i, dup[i], want[i]);
            CHECK(dup[i] == want[i]);
        }
    tgt_source_counts(s, &c);
    CHECK(c.duplicates == 10 && c.items == 19 && c.dedup_full == 0);
    tgt_source_free(s);

    /* shards: the check runs before sharding, so the shards together flag
     * exactly the lines one process flags */
    uint64_t dups = 0, items = 0;
    for (uint32_t k = 0; k < 3; k++) {
        s = source(3, k, 0);
        CHECK(s && tgt_source_add_file(s, path, err, sizeof err) == 0);
        drain(s, dup, 32);
        tgt_source_counts(s, &c);
        dups += c.duplicates;
        items += c.items;
        tgt_source_free(s);
    }
    CHECK(dups == 10 && items == 19);

    /* a full set stops checking and says so */
    s = source(1, 0, 2);
    CHECK(s && tgt_source_add_file(s, path, err, sizeof err) == 0);
    drain(s, dup, 32);
    tgt_source_counts(s, &c);
    CHECK(c.dedup_full > 0 && c.duplicates < 10);
    tgt_source_free(s);
}

static void test_set(void)
{
    struct tgt_set *s = tgt_set_new(200000);
    unsigned char a[16] = {192, 0, 2, 0};
    int fails = 0;

    CHECK(s != NULL);
    for (uint32_t i = 0; i < 200000; i++) {
        memcpy(a + 4, &i, 4);
        struct tgt_keyspec k = {.kind = TGT_KEY_TARGET,
                                .family = AF_INET6,
                                .addr = a,
                                .prefix_len = 128,
                                .port = 25,
                                .proto = 0,
                                .mode = 0};
        fails += tgt_set_add(s, tgt_key(&k)) != 1;
    }
    CHECK(fails == 0 && tgt_set_count(s) == 200000);
    fails = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        memcpy(a + 4, &i, 4);
        struct tgt_keyspec k = {.kind = TGT_KEY_TARGET,
                                .family = AF_INET6,
                                .addr = a,
                                .prefix_len = 128,
                                .port = 25,
                                .proto = 0,
                                .mode = 0};
        fails += !tgt_set_has(s, tgt_key(&k)) || tgt_set_add(s, tgt_key(&k)) != 0;
        k.port = 26;
        fails += tgt_set_has(s, tgt_key(&k));
    }
    CHECK(fails == 0);
    /* full: the next new key is refused, known keys still answer */
    struct tgt_keyspec k = {.kind = TGT_KEY_DOMAIN, .name = "x.test", .name_len = 6};
    CHECK(tgt_set_add(s, tgt_key(&k)) == -1 && !tgt_set_has(s, tgt_key(&k)));
    /* 70 % load: 200000 keys fit in 2^19 slots of 16 bytes */
    CHECK(tgt_set_bytes(s) == ((size_t)1 << 19) * 16);
    tgt_set_free(s);

    /* kinds, names and case */
    struct tgt_keyspec d1 = {.kind = TGT_KEY_DOMAIN, .name = "Example.COM", .name_len = 11};
    struct tgt_keyspec d2 = {.kind = TGT_KEY_DOMAIN, .name = "example.com", .name_len = 11};
    struct tgt_keyspec t2 = {.kind = TGT_KEY_TARGET, .name = "example.com", .name_len = 11};
    struct tgt_key k1 = tgt_key(&d1), k2 = tgt_key(&d2), k3 = tgt_key(&t2);
    CHECK(k1.hi == k2.hi && k1.lo == k2.lo);
    CHECK(k1.hi != k3.hi || k1.lo != k3.lo);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_control_bytes();
    test_ambiguous_v6();
    test_file_line();
    test_duplicates();
    test_set();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
