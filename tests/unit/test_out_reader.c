/*
 * test_out_reader.c - output/reader.h, the one reader of mailtls output:
 * records written by output/writer.h come back byte for byte (NDJSON and
 * CSV, plain and gzip, concatenated gzip members), `<field>_b64` twins win
 * over the U+FFFD text, old files' \udcXX escapes still decode, domain
 * records (port null) load, and a torn end is an error unless
 * torn_tail_ok, which cuts it cleanly.
 */
#include "../../output/reader.h"
#include "../../output/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_out_reader.XXXXXX";
static struct record rec, got;

static const char *path_of(const char *name)
{
    static char path[2][256];
    static int slot;
    slot ^= 1;
    snprintf(path[slot], sizeof path[slot], "%s/%s", tmpdir, name);
    return path[slot];
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

static bool text_is(const struct record *r, enum rec_field f, const void *want, size_t n)
{
    size_t len;
    const unsigned char *t = rec_has(r, f) ? rec_text(r, f, &len) : NULL;
    return t && len == n && memcmp(t, want, n) == 0;
}

static bool item_is(const struct record *r, enum rec_field f, int idx, const void *want, size_t n)
{
    uint16_t cur = 0;
    const unsigned char *item;
    size_t len;
    for (int i = 0; rec_list_next(r, f, &cur, &item, &len); i++)
        if (i == idx)
            return len == n && memcmp(item, want, n) == 0;
    return false;
}

/* A record with bytes no JSON string holds as they are. */
static void fill(struct record *r, int i)
{
    char ip[32];
    static const unsigned char banner[] = "220 Gr\xfc\xdf"
                                          "e\x00 aus K\xf6ln\r\n";
    snprintf(ip, sizeof ip, "192.0.2.%d", i);
    rec_reset(r);
    rec_set_str(r, F_IP, ip);
    rec_set_int(r, F_PORT, 25);
    rec_set_str(r, F_PROTOCOL, "smtp");
    rec_set_str(r, F_TLS_MODE, "starttls");
    rec_set_status(r, STATUS_OK);
    rec_set_text(r, F_BANNER, banner, sizeof banner - 1);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "SIZE", 4);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "X-\xff\x00|,\"", 7);
    rec_set_bool(r, F_STARTTLS_OFFERED, true);
}

static bool same(const struct record *a, const struct record *b)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (rec_has(a, f) != rec_has(b, f))
            return false;
        if (!rec_has(a, f))
            continue;
        if (rec_fields[f].type == RT_TEXT || rec_fields[f].type == RT_JSON) {
            size_t n;
            const unsigned char *t = rec_text(a, f, &n);
            if (!text_is(b, f, t, n))
                return false;
        } else if (rec_fields[f].type == RT_LIST) {
            uint16_t cur = 0;
            const unsigned char *item;
            size_t n;
            for (int i = 0; rec_list_next(a, f, &cur, &item, &n); i++)
                if (!item_is(b, f, i, item, n))
                    return false;
        } else if (rec_int(a, f) != rec_int(b, f)) {
            return false;
        }
    }
    return true;
}

static int write_records(const char *path, enum out_format fmt, bool gz, bool append, int from, int n)
{
    char err[256];
    struct out_options o = {.format = fmt, .gzip = gz, .append = append};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = from; i < from + n; i++) {
        fill(&rec, i);
        if (out_write(w, &rec) < 0)
            return -1;
    }
    return out_close(w);
}

/* Reads path; every record must equal fill(i) in order. Returns the count. */
static int read_all(const char *path, bool torn_ok, enum reader_result *last)
{
    char err[512];
    struct reader_opts ro = {.torn_tail_ok = torn_ok};
    struct reader *rd = reader_open(path, &ro, err, sizeof err);
    int n = 0;
    if (!rd)
        return -1;
    for (;;) {
        enum reader_result r = reader_next(rd, &got, err, sizeof err);
        *last = r;
        if (r != READER_RECORD)
            break;
        fill(&rec, n + 1);
        CHECK(same(&rec, &got));
        n++;
    }
    reader_close(rd);
    return n;
}

static void test_roundtrip(void)
{
    static const struct {
        const char *name;
        enum out_format fmt;
        bool gz;
    } cases[] = {{"a.json", OUT_JSON, false},
                 {"a.json.gz", OUT_JSON, true},
                 {"a.csv", OUT_CSV, false},
                 {"a.csv.gz", OUT_CSV, true}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = path_of(cases[c].name);
        enum reader_result last;
        /* two writers appending: gzip files get two members */
        CHECK(write_records(p, cases[c].fmt, cases[c].gz, false, 1, 3) == 0);
        CHECK(write_records(p, cases[c].fmt, cases[c].gz, true, 4, 2) == 0);
        CHECK(read_all(p, false, &last) == 5 && last == READER_END);

        struct reader *rd = reader_open(p, NULL, (char[64]){0}, 64);
        CHECK(rd && reader_next(rd, &got, (char[256]){0}, 256) == READER_RECORD);
        CHECK(reader_is_csv(rd) == (cases[c].fmt == OUT_CSV) && reader_is_gzip(rd) == cases[c].gz);
        reader_close(rd);
    }
}

static void test_torn(void)
{
    const char *p = path_of("torn.json.gz");
    enum reader_result last;
    CHECK(write_records(p, OUT_JSON, true, false, 1, 3) == 0);
    CHECK(write_records(p, OUT_JSON, true, true, 4, 3) == 0);
    /* cut the second member short, as SIGKILL leaves it */
    FILE *f = fopen(p, "rb");
    char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    write_text(p, buf, n - 12);
    CHECK(read_all(p, false, &last) >= 3 && last == READER_ERROR);
    CHECK(read_all(p, true, &last) >= 3 && last == READER_END);
    struct reader_opts ro = {.torn_tail_ok = true};
    struct reader *rd = reader_open(p, &ro, buf, 256);
    while (rd && reader_next(rd, &got, buf, 256) == READER_RECORD)
        ;
    CHECK(rd && reader_torn(rd));
    reader_close(rd);

    /* a plain file whose last line has no newline */
    static const char part[] = "{\"ip\":\"192.0.2.1\",\"port\":25}\n{\"ip\":\"192.0.2.2\",\"po";
    p = path_of("torn.json");
    write_text(p, part, sizeof part - 1);
    int records = 0;
    rd = reader_open(p, &ro, buf, 256);
    while (rd && reader_next(rd, &got, buf, 256) == READER_RECORD)
        records++;
    CHECK(records == 1 && reader_torn(rd));
    reader_close(rd);
    rd = reader_open(p, NULL, buf, 256);
    CHECK(rd && reader_next(rd, &got, buf, 256) == READER_RECORD);
    CHECK(reader_next(rd, &got, buf, 256) == READER_BAD_LINE && strstr(buf, "torn.json:2: "));
    reader_close(rd);
}

static void test_b64_and_old_escapes(void)
{
    /* the banner "220 Gr\xfc\xdf" + "e" and a list with one replaced item;
     * the _b64 twin may stand before or after its field */
    static const char text[] =
        "{\"ip\":\"192.0.2.9\",\"port\":25,\"banner_b64\":\"MjIwIEdy/N9lAA==\",\"banner\":\"220 "
        "Gr\xef\xbf\xbd\xef\xbf\xbd"
        "e\xef\xbf\xbd\",\"caps_before_tls\":[\"SIZE\",\"X-\xef\xbf\xbd\"],"
        "\"caps_before_tls_b64\":[null,\"WC3/\"],\"status\":\"ok\",\"future_field\":{\"a\":[1]}}\n"
        /* the old writer: \udcXX for a raw byte, \u0000 for NUL */
        "{\"ip\":\"192.0.2.10\",\"port\":25,\"banner\":\"220 Gr\\udcfc\\udcdfe\\u0000\",\"status\":\"ok\"}\n"
        /* a --mx domain record */
        "{\"ip\":null,\"port\":null,\"domain\":\"example.test\",\"mx\":[\"10 mx.example.test 192.0.2.25\"],"
        "\"status\":\"resolved\"}\n"
        /* a broken twin is a bad line, not silently the text */
        "{\"ip\":\"192.0.2.11\",\"port\":25,\"banner\":\"x\",\"banner_b64\":\"!!!!\"}\n";
    const char *p = path_of("b64.json");
    char err[256];
    write_text(p, text, sizeof text - 1);
    struct reader *rd = reader_open(p, NULL, err, sizeof err);
    CHECK(rd != NULL);
    if (!rd)
        return;
    CHECK(reader_next(rd, &got, err, sizeof err) == READER_RECORD);
    CHECK(text_is(&got, F_BANNER,
                  "220 Gr\xfc\xdf"
                  "e\x00",
                  10));
    CHECK(item_is(&got, F_CAPS_BEFORE_TLS, 0, "SIZE", 4) && item_is(&got, F_CAPS_BEFORE_TLS, 1, "X-\xff", 3));
    CHECK(reader_next(rd, &got, err, sizeof err) == READER_RECORD);
    CHECK(text_is(&got, F_BANNER,
                  "220 Gr\xfc\xdf"
                  "e\x00",
                  10));
    CHECK(reader_next(rd, &got, err, sizeof err) == READER_RECORD);
    CHECK(!rec_has(&got, F_PORT) && text_is(&got, F_DOMAIN, "example.test", 12));
    CHECK(reader_next(rd, &got, err, sizeof err) == READER_BAD_LINE && strstr(err, "b64.json:4: "));
    CHECK(reader_next(rd, &got, err, sizeof err) == READER_END);
    size_t n;
    CHECK(reader_field("banner", 6) == F_BANNER && reader_field("banner_b64", 10) == -1);
    CHECK(reader_line(rd, &n) != NULL);
    reader_close(rd);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_roundtrip();
    test_torn();
    test_b64_and_old_escapes();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
