/*
 * test_tgt_source.c - the target stream: files, argv, stdin as a pipe,
 * malformed lines with their line numbers, long lines, missing final
 * newline, unreadable inputs, blocklist flags and counters.
 */
#include "../../targets/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_tgt_source.XXXXXX";

static const char *path_of(const char *name)
{
    static char path[4][256];
    static int slot;

    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof path[slot], "%s/%s", tmpdir, name);
    return path[slot];
}

static const char *write_file(const char *name, const char *content, size_t len)
{
    const char *path = path_of(name);
    FILE *f = fopen(path, "w");

    if (!f || fwrite(content, 1, len, f) != len) {
        perror(path);
        exit(2);
    }
    fclose(f);
    return path;
}

static bool addr_is(const struct tgt_item *it, const char *text)
{
    unsigned char want[16] = {0};
    int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

    return inet_pton(fam, text, want) == 1 && it->line.kind == TGT_ADDR && it->line.family == fam &&
           memcmp(it->line.addr, want, 16) == 0;
}

static struct tgt_source *new_source(bool no_default)
{
    struct tgt_source_opts opts = {.seed = 1, .shards = 1, .shard = 0, .no_default_blocklist = no_default};
    return tgt_source_new(&opts);
}

static void test_file(void)
{
    static const char content[] = "# targets\n"                         /* 1 */
                                  "192.0.2.1\n"                         /* 2 */
                                  "\n"                                  /* 3 */
                                  "bad_name!\n"                         /* 4 */
                                  "10.0.0.0/30:25\n"                    /* 5 malformed */
                                  "10.0.0.0/30\n"                       /* 6 */
                                  "mail.example.com:587\r\n"            /* 7 */
                                  "127.0.0.1,localhost.,t,10025/smtp\n" /* 8 */
                                  "2001:db8::1";                        /* 9, no final newline */
    const char *path = write_file("a.txt", content, sizeof content - 1);
    struct tgt_source *s = new_source(false);
    struct tgt_item it;
    char err[TGT_ERR_MAX], want[400];
    struct tgt_counts c;
    bool seen[4] = {false};

    CHECK(tgt_source_add_file(s, path, err, sizeof err) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "192.0.2.1"));
    snprintf(want, sizeof want, "%s:2", path);
    CHECK(strcmp(it.origin, want) == 0);
    CHECK(it.blocklisted); /* TEST-NET-1 is in the built-in list */
    CHECK(tgt_source_fd(s) == -1);

    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED);
    snprintf(want, sizeof want, "%s:4: ", path);
    CHECK(strncmp(err, want, strlen(want)) == 0 && strstr(err, "not allowed"));
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED);
    snprintf(want, sizeof want, "%s:5: ", path);
    CHECK(strncmp(err, want, strlen(want)) == 0);

    for (int i = 0; i < 4; i++) {
        CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM);
        CHECK(it.line.kind == TGT_ADDR && it.line.family == AF_INET && it.line.prefix_len == 32 &&
              it.blocklisted);
        CHECK(it.line.addr[0] == 10 && it.line.addr[1] == 0 && it.line.addr[2] == 0 && it.line.addr[3] < 4);
        if (it.line.addr[3] < 4)
            seen[it.line.addr[3]] = true;
        snprintf(want, sizeof want, "%s:6", path);
        CHECK(strcmp(it.origin, want) == 0);
    }
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);

    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM);
    CHECK(it.line.kind == TGT_NAME && strcmp(it.line.name, "mail.example.com") == 0 && it.line.port == 587 &&
          !it.blocklisted);

    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM);
    CHECK(addr_is(&it, "127.0.0.1") && !it.blocklisted && strcmp(it.line.name, "localhost") == 0 &&
          strcmp(it.line.tag, "t") == 0 && it.line.port == 10025 && it.line.has_proto &&
          it.line.proto.proto == PROTO_SMTP);

    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "2001:db8::1"));
    snprintf(want, sizeof want, "%s:9", path);
    CHECK(strcmp(it.origin, want) == 0 && it.blocklisted);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);

    tgt_source_counts(s, &c);
    CHECK(c.lines == 9 && c.malformed == 2 && c.items == 8 && c.blocklisted == 6 && c.other_shard == 0);
    tgt_source_free(s);

    /* Without the built-in list nothing is flagged. */
    s = new_source(true);
    CHECK(tgt_source_add_file(s, path, err, sizeof err) == 0);
    int items = 0, flagged = 0;
    enum tgt_next r;
    while ((r = tgt_source_next(s, &it, err, sizeof err)) != TGT_NEXT_END) {
        if (r == TGT_NEXT_ITEM) {
            items++;
            flagged += it.blocklisted;
        }
    }
    CHECK(items == 8 && flagged == 0);
    tgt_source_free(s);
}

static void test_args_and_order(void)
{
    const char *path = write_file("b.txt", "127.0.0.3\n", 10);
    struct tgt_source *s = new_source(false);
    struct tgt_item it;
    char err[TGT_ERR_MAX];

    CHECK(tgt_source_add_arg(s, "127.0.0.1", err, sizeof err) == 0);
    CHECK(tgt_source_add_file(s, path, err, sizeof err) == 0);
    CHECK(tgt_source_add_arg(s, "nope..example", err, sizeof err) == 0);
    CHECK(tgt_source_add_arg(s, "[::1]:465", err, sizeof err) == 0);
    CHECK(tgt_source_add_arg(s, "   ", err, sizeof err) == 0);

    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.1") &&
          strcmp(it.origin, "arg 1") == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.3"));
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED && strncmp(err, "arg 2: ", 7) == 0 &&
          strstr(err, "empty label"));
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "::1") &&
          it.line.port == 465 && strcmp(it.origin, "arg 3") == 0 && !it.blocklisted);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);
    struct tgt_counts c;
    tgt_source_counts(s, &c);
    CHECK(c.lines == 5 && c.items == 3 && c.malformed == 1);
    tgt_source_free(s);
}

static void test_unreadable(void)
{
    struct tgt_source *s = new_source(false);
    char err[TGT_ERR_MAX], want[300];
    const char *missing = path_of("missing.txt");

    CHECK(tgt_source_add_file(s, missing, err, sizeof err) == -1);
    snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
    CHECK(strcmp(err, want) == 0);
    CHECK(tgt_source_add_file(s, tmpdir, err, sizeof err) == -1 && strstr(err, tmpdir) &&
          strstr(err, strerror(EISDIR)));
    if (geteuid() != 0) {
        /* root reads mode-000 files, so this case only means something as a user. */
        const char *p = write_file("secret.txt", "127.0.0.1\n", 10);
        chmod(p, 0);
        CHECK(tgt_source_add_file(s, p, err, sizeof err) == -1 && strstr(err, strerror(EACCES)));
    }
    CHECK(tgt_source_add_file(s, "-", err, sizeof err) == 0);
    CHECK(tgt_source_add_file(s, "-", err, sizeof err) == -1 && strstr(err, "twice"));
    tgt_source_free(s);

    /* A read error mid-stream is ERROR naming the input. /proc/self/mem
     * opens fine but reading offset 0 (never mapped) fails with EIO. */
    s = new_source(false);
    if (tgt_source_add_file(s, "/proc/self/mem", err, sizeof err) == 0) {
        struct tgt_item it;
        CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ERROR &&
              strncmp(err, "/proc/self/mem: ", 16) == 0);
        CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);
    }
    tgt_source_free(s);
}

static void test_long_lines(void)
{
    size_t cap = 40000, n = 0;
    char *buf = malloc(cap);
    struct tgt_source *s;
    struct tgt_item it;
    char err[TGT_ERR_MAX], want[300];
    const char *path;

    /* 1: a comment of exactly 4096 bytes (fine); 2: 4097 bytes (too long);
     * 3: an address; 4: 20000 bytes spanning several reads; 5: an address;
     * 6: 4096 bytes + CRLF (fine); 7: 5000 bytes without a final newline. */
    buf[n++] = '#';
    memset(buf + n, 'x', 4095), n += 4095;
    buf[n++] = '\n';
    buf[n++] = '#';
    memset(buf + n, 'y', 4096), n += 4096;
    buf[n++] = '\n';
    memcpy(buf + n, "127.0.0.7\n", 10), n += 10;
    memset(buf + n, 'z', 20000), n += 20000;
    buf[n++] = '\n';
    memcpy(buf + n, "127.0.0.8\n", 10), n += 10;
    buf[n++] = '#';
    memset(buf + n, 'w', 4095), n += 4095;
    buf[n++] = '\r';
    buf[n++] = '\n';
    memset(buf + n, 'v', 5000), n += 5000;
    path = write_file("long.txt", buf, n);

    s = new_source(false);
    CHECK(tgt_source_add_file(s, path, err, sizeof err) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED);
    snprintf(want, sizeof want, "%s:2: line longer than 4096 bytes", path);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.7"));
    snprintf(want, sizeof want, "%s:3", path);
    CHECK(strcmp(it.origin, want) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED);
    snprintf(want, sizeof want, "%s:4: ", path);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.8"));
    snprintf(want, sizeof want, "%s:5", path);
    CHECK(strcmp(it.origin, want) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED);
    snprintf(want, sizeof want, "%s:7: ", path);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);
    struct tgt_counts c;
    tgt_source_counts(s, &c);
    CHECK(c.lines == 7 && c.malformed == 3 && c.items == 2);
    tgt_source_free(s);
    free(buf);
}

/* stdin as a pipe: WAIT while no complete line, then the lines, the last
 * one without a newline, then END; O_NONBLOCK is restored afterwards. */
static void test_stdin_pipe(void)
{
    int saved = dup(STDIN_FILENO), p[2];
    struct tgt_source *s = new_source(false);
    struct tgt_item it;
    char err[TGT_ERR_MAX];

    if (saved < 0 || pipe(p) < 0 || dup2(p[0], STDIN_FILENO) < 0) {
        perror("pipe");
        exit(2);
    }
    close(p[0]);
    CHECK(tgt_source_add_arg(s, "127.0.0.9", err, sizeof err) == 0);
    CHECK(tgt_source_add_arg(s, "-", err, sizeof err) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.9"));
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_WAIT);
    CHECK(tgt_source_fd(s) == STDIN_FILENO);
    CHECK(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);
    CHECK(write(p[1], "127.0.0.", 8) == 8);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_WAIT);
    CHECK(write(p[1], "5\nbad..name\n127.0", 17) == 17);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.5") &&
          strcmp(it.origin, "-:1") == 0);
    CHECK(tgt_source_fd(s) == -1);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_MALFORMED && strncmp(err, "-:2: ", 5) == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_WAIT);
    CHECK(write(p[1], ".0.6", 4) == 4);
    close(p[1]);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && addr_is(&it, "127.0.0.6") &&
          strcmp(it.origin, "-:3") == 0);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_END);
    tgt_source_free(s);
    CHECK(!(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK));
    dup2(saved, STDIN_FILENO);
    close(saved);
}

static void test_lists(void)
{
    struct tgt_source *s = new_source(false);
    struct tgt_item it;
    char err[TGT_ERR_MAX];
    const char *allow = write_file("allow.txt", "127.0.0.0/24 # loopback only\n::1\n", 33);
    const char *block = write_file("block.txt", "127.0.0.128/25\n", 15);
    const char *bad = write_file("bad.txt", "127.0.0.1\n127.0.0.300\n", 22);
    unsigned char a[16] = {127, 0, 0, 1};

    CHECK(tgt_source_load_allowlist(s, allow, err, sizeof err) == 0);
    CHECK(tgt_source_load_blocklist(s, block, err, sizeof err) == 0);
    CHECK(tgt_source_load_blocklist(s, bad, err, sizeof err) == -1 && strstr(err, "bad.txt:2: "));
    CHECK(tgt_source_load_allowlist(s, path_of("none.txt"), err, sizeof err) == -1 &&
          strstr(err, strerror(ENOENT)));
    CHECK(!tgt_source_is_blocked(s, AF_INET, a));
    a[3] = 200;
    CHECK(tgt_source_is_blocked(s, AF_INET, a));
    a[0] = 8;
    CHECK(tgt_source_is_blocked(s, AF_INET, a)); /* not allowlisted */

    tgt_source_add_arg(s, "127.0.0.1", err, sizeof err);
    tgt_source_add_arg(s, "127.0.0.129", err, sizeof err);
    tgt_source_add_arg(s, "127.0.1.1", err, sizeof err);
    tgt_source_add_arg(s, "mail.example.com", err, sizeof err);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && !it.blocklisted);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && it.blocklisted);
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && it.blocklisted);
    /* Names are checked by the caller after resolution. */
    CHECK(tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && it.line.kind == TGT_NAME &&
          !it.blocklisted);
    struct tgt_counts c;
    tgt_source_counts(s, &c);
    CHECK(c.items == 4 && c.blocklisted == 2);
    tgt_source_free(s);
}

/* A whole prefix comes out once each, not in address order, and the same
 * seed gives the same order. */
static void test_prefix_order(void)
{
    struct tgt_source_opts opts = {.seed = 99, .shards = 1};
    uint8_t order[2][256];
    char err[TGT_ERR_MAX];

    for (int run = 0; run < 2; run++) {
        struct tgt_source *s = tgt_source_new(&opts);
        struct tgt_item it;
        bool seen[256] = {false};
        int n = 0, dup = 0;
        tgt_source_add_arg(s, "127.1.2.0/24", err, sizeof err);
        while (tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM && n < 256) {
            uint8_t last = it.line.addr[3];
            dup += seen[last];
            seen[last] = true;
            order[run][n++] = last;
            CHECK(it.line.addr[0] == 127 && it.line.addr[1] == 1 && it.line.addr[2] == 2);
        }
        CHECK(n == 256 && dup == 0);
        tgt_source_free(s);
    }
    CHECK(memcmp(order[0], order[1], 256) == 0);
    int sequential = 0;
    for (int i = 1; i < 256; i++)
        sequential += order[0][i] == (uint8_t)(order[0][i - 1] + 1);
    CHECK(sequential < 10);

    /* An IPv6 /120 expands in its last byte only. */
    struct tgt_source *s = tgt_source_new(&opts);
    struct tgt_item it;
    int n = 0;
    bool ok = true;
    unsigned char base[16];
    inet_pton(AF_INET6, "2001:db8:ffff::ff00", base);
    tgt_source_add_arg(s, "2001:db8:ffff::ff00/120", err, sizeof err);
    while (tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM) {
        n++;
        ok = ok && memcmp(it.line.addr, base, 15) == 0 && it.line.prefix_len == 128 && it.blocklisted;
    }
    CHECK(n == 256 && ok);
    tgt_source_free(s);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_file();
    test_args_and_order();
    test_unreadable();
    test_long_lines();
    test_stdin_pipe();
    test_lists();
    test_prefix_order();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
