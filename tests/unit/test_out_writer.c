/*
 * test_out_writer.c - escapers and writers on hostile records.
 *
 * Exact expected escapes for each class of awkward byte, a seeded random
 * round trip through both escapers, then whole records through the JSON
 * and CSV writers, plain and gzip, into temporary files: the bytes on disk,
 * the flush schedule, gzip member boundaries and write errors (/dev/full).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../output/escape.h"
#include "../../output/ndjson.h"
#include "../../output/outbuf.h"
#include "../../output/record.h"
#include "../../output/writer.h"

static int failures;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

static char tmpdir[] = "/tmp/test_out_writer.XXXXXX";

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static size_t json_esc(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = out_json_escape(dst, cap, (const unsigned char *)src, len);
    if (n < cap)
        dst[n] = '\0';
    return n;
}

static size_t csv_esc(char *dst, size_t cap, const char *src, size_t len, bool item)
{
    size_t n = out_csv_escape(dst, cap, (const unsigned char *)src, len, item);
    if (n < cap)
        dst[n] = '\0';
    return n;
}

#define JSON_IS(in, want)                                                                                    \
    do {                                                                                                     \
        char out_[256];                                                                                      \
        json_esc(out_, sizeof out_, in, sizeof(in) - 1);                                                     \
        if (strcmp(out_, want) != 0) {                                                                       \
            fprintf(stderr, "%s:%d: json escape: got [%s] want [%s]\n", __FILE__, __LINE__, out_, want);     \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

#define CSV_IS(in, item, want)                                                                               \
    do {                                                                                                     \
        char out_[256];                                                                                      \
        csv_esc(out_, sizeof out_, in, sizeof(in) - 1, item);                                                \
        if (strcmp(out_, want) != 0) {                                                                       \
            fprintf(stderr, "%s:%d: csv escape: got [%s] want [%s]\n", __FILE__, __LINE__, out_, want);      \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

#define FFFD "\xef\xbf\xbd"

static void test_json_escape_cases(void)
{
    JSON_IS("plain text", "plain text");
    JSON_IS("a\"b\\c", "a\\\"b\\\\c");
    JSON_IS("\r\n\t", "\\r\\n\\t");
    /* control bytes escaped, except NUL: PostgreSQL refuses \u0000 */
    JSON_IS("\x01\x08\x0c\x1f\x7f", "\\u0001\\u0008\\u000c\\u001f\\u007f");
    JSON_IS("x\0y", "x" FFFD "y");
    JSON_IS("\0\0", FFFD FFFD);
    /* valid UTF-8 is kept as is: 2, 3 and 4 bytes, noncharacters too */
    JSON_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    JSON_IS("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf"); /* U+FFFF, U+10FFFF */
    JSON_IS(FFFD, FFFD); /* a real U+FFFD from the server */
    /* Latin-1: each lone high byte is one U+FFFD */
    JSON_IS("Gr\xfc\xdf"
            "e aus K\xf6ln",
            "Gr" FFFD FFFD "e aus K" FFFD "ln");
    /* maximal subparts: a byte that cannot lead or continue is one U+FFFD */
    JSON_IS("\xc0\xaf\xc0\x80", FFFD FFFD FFFD FFFD); /* overlong "/" and NUL */
    JSON_IS("\xc1\xbf", FFFD FFFD);
    JSON_IS("\xe0\x80\xaf", FFFD FFFD FFFD);                            /* 3-byte overlong */
    JSON_IS("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);                   /* 4-byte overlong */
    JSON_IS("\xed\xa0\x80", FFFD FFFD FFFD);                            /* CESU-8 / UTF-8 encoded surrogate */
    JSON_IS("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD); /* CESU-8 pair */
    JSON_IS("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);                   /* > U+10FFFF */
    JSON_IS("\x80\xbf\xfe\xff\xf5\xf8\xfc", FFFD FFFD FFFD FFFD FFFD FFFD FFFD);
    /* a cut-off but valid prefix is one U+FFFD, whatever its length */
    JSON_IS("\xe2\x82"
            "A",
            FFFD "A");
    JSON_IS("\xe2\x82", FFFD);
    JSON_IS("\xf0\x9f\x98", FFFD);
    JSON_IS("\xf0\x9f\x98"
            "\xf0\x9f\x98\x80",
            FFFD "\xf0\x9f\x98\x80");
    JSON_IS("\xc3", FFFD);
    JSON_IS("\xc3\xc3\xa9", FFFD "\xc3\xa9");
    JSON_IS("", "");
}

static void test_json_lossy_and_base64(void)
{
    static const struct {
        const char *in;
        size_t len;
        bool lossy;
    } cases[] = {
        {"plain", 5, false},
        {"\r\n\x01\x7f", 4, false},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80", 10, false},
        {"a\0b", 3, true},
        {"Gr\xfc\xdf"
         "e",
         5, true},
        {"\xed\xa0\x80", 3, true},
        {"\xe2\x82", 2, true},
        {"", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(out_json_is_lossy((const unsigned char *)cases[i].in, cases[i].len) == cases[i].lossy);

    /* RFC 4648 section 10 test vectors */
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char out[16] = "";
        size_t n = out_base64(out, sizeof out, (const unsigned char *)vec[i][0], strlen(vec[i][0]));
        CHECK(n == strlen(vec[i][1]) && n == OUT_BASE64_LEN(strlen(vec[i][0])));
        CHECK(memcmp(out, vec[i][1], n) == 0);
        unsigned char back[16];
        CHECK(out_base64_decode(back, vec[i][1], n) == (long)strlen(vec[i][0]));
        CHECK(memcmp(back, vec[i][0], strlen(vec[i][0])) == 0);
    }
    char two[2] = {'#', '#'};
    CHECK(out_base64(two, 1, (const unsigned char *)"foo", 3) == 4 && two[1] == '#');
    unsigned char back[16];
    CHECK(out_base64_decode(back, "Zg=", 3) == -1);  /* not a multiple of 4 */
    CHECK(out_base64_decode(back, "Zh==", 4) == -1); /* non-zero hidden bits */
    CHECK(out_base64_decode(back, "Z===", 4) == -1);
    CHECK(out_base64_decode(back, "Zg==Zg==", 8) == -1); /* padding inside */
    CHECK(out_base64_decode(back, "Zm9-", 4) == -1);     /* base64url is not ours */
    CHECK(out_base64_decode(back, "AP/+", 4) == 3 && memcmp(back, "\x00\xff\xfe", 3) == 0);
}

static void test_csv_escape_cases(void)
{
    CSV_IS("plain, text", false, "plain, text");
    CSV_IS("say \"hi\"", false, "say \"\"hi\"\"");
    CSV_IS("a\\b", false, "a\\\\b");
    CSV_IS("l1\r\nl2", false, "l1\\x0D\\x0Al2");
    CSV_IS("\0\x7f\t", false, "\\x00\\x7F\\x09");
    CSV_IS("caf\xc3\xa9", false, "caf\xc3\xa9");
    CSV_IS("\xc0\xaf\xed\xa0\x80\xff", false, "\\xC0\\xAF\\xED\\xA0\\x80\\xFF");
    CSV_IS("a|b", false, "a|b");
    CSV_IS("a|b", true, "a\\x7Cb");
    CSV_IS("", true, "\\e");
    CSV_IS("", false, "");
}

static void test_csv_unescape_errors(void)
{
    unsigned char out[16];
    CHECK(out_csv_unescape(out, "\\", 1) == -1);
    CHECK(out_csv_unescape(out, "\\x4", 3) == -1);
    CHECK(out_csv_unescape(out, "\\xZZ", 4) == -1);
    CHECK(out_csv_unescape(out, "\\q", 2) == -1);
    CHECK(out_csv_unescape(out, "a\\e", 3) == -1);
    CHECK(out_csv_unescape(out, "\\e", 2) == 0);
    CHECK(out_csv_unescape(out, "\\x41\\\\", 6) == 2 && memcmp(out, "A\\", 2) == 0);
}

/* Minimal decoder for the escaper's own output: the short escapes and
 * \u00XX, everything else literal. */
static long json_unescape(unsigned char *dst, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            dst[o++] = (unsigned char)s[i];
            continue;
        }
        if (++i >= len)
            return -1;
        switch (s[i]) {
        case '"': dst[o++] = '"'; break;
        case '\\': dst[o++] = '\\'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            if (i + 4 >= len)
                return -1;
            char hex[5] = {s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0};
            unsigned v = (unsigned)strtoul(hex, NULL, 16);
            i += 4;
            if (v == 0 || v >= 0x80)
                return -1; /* never \u0000, never a surrogate */
            dst[o++] = (unsigned char)v;
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

/* Python's bytes.decode("utf-8", "replace") on a lone byte that is not
 * UTF-8, written apart from escape.c for the random test: one U+FFFD per
 * maximal subpart. Returns the subpart length at s. */
static size_t ref_subpart(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
    if (c == 0xe0)
        lo = 0xa0;
    if (c == 0xed)
        hi = 0x9f;
    if (c == 0xf0)
        lo = 0x90;
    if (c == 0xf4)
        hi = 0x8f;
    if (!need || n < 2 || s[1] < lo || s[1] > hi)
        return 1;
    size_t k = 2;
    while (k < need && k < n && (s[k] & 0xc0) == 0x80)
        k++;
    return k;
}

static void test_random_round_trip(void)
{
    unsigned seed = 12345;
    unsigned char in[64];
    char esc[OUT_JSON_ESCAPE_MAX(64) + 1];
    unsigned char back[3 * 64];
    unsigned char want[3 * 64];
    char b64[OUT_BASE64_LEN(64)];
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 64);
        for (size_t i = 0; i < len; i++) {
            /* Bias towards the interesting bytes. */
            int k = rand_r(&seed) % 4;
            in[i] = k == 0   ? (unsigned char)(rand_r(&seed) % 0x20)
                    : k == 1 ? (unsigned char)(0x80 + rand_r(&seed) % 0x80)
                             : (unsigned char)(rand_r(&seed) % 256);
        }
        size_t n = out_json_escape(esc, sizeof esc, in, len);
        CHECK(n <= OUT_JSON_ESCAPE_MAX(len));
        /* Output must be valid UTF-8 without raw control bytes. */
        for (size_t i = 0; i < n;) {
            size_t k = out_utf8_seq_len((unsigned char *)esc + i, n - i);
            if (k == 0 || (unsigned char)esc[i] < 0x20 || esc[i] == 0x7f) {
                CHECK(!"json output not clean UTF-8");
                break;
            }
            i += k;
        }
        CHECK(memchr(esc, '\0', n) == NULL);
        long m = json_unescape(back, esc, n);
        /* the text is the input with NUL and bad subparts as U+FFFD */
        size_t w = 0;
        bool lossy = false;
        for (size_t i = 0; i < len;) {
            size_t k = in[i] ? out_utf8_seq_len(in + i, len - i) : 0;
            if (k) {
                memcpy(want + w, in + i, k);
                w += k;
                i += k;
                continue;
            }
            memcpy(want + w, FFFD, 3);
            w += 3;
            i += in[i] ? ref_subpart(in + i, len - i) : 1;
            lossy = true;
        }
        CHECK(m == (long)w && memcmp(back, want, w) == 0);
        CHECK(out_json_is_lossy(in, len) == lossy);
        /* and the base64 the writer adds then gives the bytes back */
        size_t bn = out_base64(b64, sizeof b64, in, len);
        CHECK(out_base64_decode(back, b64, bn) == (long)len && memcmp(back, in, len) == 0);

        for (int item = 0; item < 2; item++) {
            n = out_csv_escape(esc, sizeof esc, in, len, item);
            CHECK(n <= OUT_CSV_ESCAPE_MAX(len));
            /* Undo the RFC 4180 quote doubling, as a CSV reader would. */
            char undoubled[sizeof esc];
            size_t u = 0;
            for (size_t i = 0; i < n; i++) {
                CHECK((unsigned char)esc[i] >= 0x20 && esc[i] != 0x7f);
                CHECK(!(item && esc[i] == '|'));
                undoubled[u++] = esc[i];
                if (esc[i] == '"') {
                    CHECK(i + 1 < n && esc[i + 1] == '"');
                    i++;
                }
            }
            m = out_csv_unescape(back, undoubled, u);
            CHECK(m == (long)len && memcmp(back, in, len) == 0);
        }
        if (failures > 20)
            return;
    }
}

static void test_escape_short_buffer(void)
{
    char dst[4] = {'#', '#', '#', '#'};
    size_t n = out_json_escape(dst, 2, (const unsigned char *)"\n\n", 2);
    CHECK(n == 4);
    CHECK(dst[2] == '#'); /* never writes past dstcap */
    n = out_csv_escape(dst, 0, (const unsigned char *)"\x01", 1, false);
    CHECK(n == 4);
}

/* The hostile record every writer test uses. */
static const char hostile_banner[] = "220 mx \"quoted\", comma\r\n220-\0nul\x7f\x01 bs\\ "
                                     "caf\xc3\xa9 bad\xff\xc0\xaf\xed\xa0\x80\xe2\x82|pipe\r\n";

static void fill_hostile(struct record *r)
{
    rec_reset(r);
    rec_set_str(r, F_IP, "192.0.2.1");
    rec_set_int(r, F_PORT, 25);
    rec_set_str(r, F_PROTOCOL, "smtp");
    rec_set_text(r, F_BANNER, hostile_banner, sizeof hostile_banner - 1);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "AUTH PLAIN|LOGIN", 16);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "", 0);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "X\\\"Y\n", 5);
    rec_set_bool(r, F_STARTTLS_OFFERED, true);
    rec_set_bool(r, F_STARTTLS_OK, false);
    rec_list_init(r, F_AUTH_BEFORE_TLS);
    rec_set_str(r, F_TLS_VERSION, "");
    rec_set_int(r, F_TIME_MS, INT64_MIN);
    rec_set_int(r, F_ASN, INT64_MAX);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Reads a gzip file through zlib (which concatenates members). */
static char *slurp_gz(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    int got;
    while ((got = gzread(g, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    CHECK(got == 0);
    gzclose(g);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Counts complete gzip members in a buffer; -1 if any is damaged. */
static int count_members(const unsigned char *p, size_t len)
{
    int members = 0;
    unsigned char out[65536];
    while (len > 0) {
        z_stream z = {0};
        if (inflateInit2(&z, 15 + 16) != Z_OK)
            return -1;
        z.next_in = (Bytef *)p;
        z.avail_in = (uInt)len;
        int rc;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            rc = inflate(&z, Z_NO_FLUSH);
        } while (rc == Z_OK);
        size_t used = len - z.avail_in;
        inflateEnd(&z);
        if (rc != Z_STREAM_END)
            return -1;
        members++;
        p += used;
        len -= used;
    }
    return members;
}

static const char *json_field(const char *line, const char *name, char *buf, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(line, key);
    if (!p)
        return NULL;
    p += strlen(key);
    /* Values here are scanned up to the next `,"name":` at depth 0. */
    size_t n = 0;
    int depth = 0;
    bool in_str = false;
    for (; *p && n + 1 < cap; p++) {
        if (in_str) {
            if (*p == '\\') {
                buf[n++] = *p++;
            } else if (*p == '"') {
                in_str = false;
            }
        } else if (*p == '"') {
            in_str = true;
        } else if (*p == '[') {
            depth++;
        } else if (*p == ']') {
            depth--;
        } else if ((*p == ',' || *p == '}') && depth == 0) {
            break;
        }
        buf[n++] = *p;
    }
    buf[n] = '\0';
    return buf;
}

static void check_json_line(const char *line)
{
    char v[512];
    CHECK(strncmp(line, "{\"ip\":\"192.0.2.1\",\"port\":25,\"host\":null,", 40) == 0);
    CHECK(json_field(line, "banner", v, sizeof v) &&
          strcmp(v, "\"220 mx \\\"quoted\\\", comma\\r\\n220-" FFFD "nul\\u007f\\u0001 bs\\\\ "
                    "caf\xc3\xa9 bad" FFFD FFFD FFFD FFFD FFFD FFFD FFFD "|pipe\\r\\n\"") == 0);
    /* the exact bytes, since the text lost some */
    CHECK(json_field(line, "banner_b64", v, sizeof v) != NULL);
    unsigned char raw[sizeof hostile_banner];
    size_t vlen = strlen(v);
    CHECK(vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"');
    CHECK(out_base64_decode(raw, v + 1, vlen - 2) == (long)sizeof hostile_banner - 1);
    CHECK(memcmp(raw, hostile_banner, sizeof hostile_banner - 1) == 0);
    CHECK(strstr(line, "\"caps_before_tls_b64\"") == NULL); /* nothing replaced there */
    CHECK(strstr(line, "\"ip_b64\"") == NULL);
    CHECK(strstr(line, "\\u0000") == NULL && strstr(line, "\\udc") == NULL);
    CHECK(json_field(line, "caps_before_tls", v, sizeof v) &&
          strcmp(v, "[\"AUTH PLAIN|LOGIN\",\"\",\"X\\\\\\\"Y\\n\"]") == 0);
    CHECK(json_field(line, "starttls_offered", v, sizeof v) && strcmp(v, "true") == 0);
    CHECK(json_field(line, "starttls_ok", v, sizeof v) && strcmp(v, "false") == 0);
    CHECK(json_field(line, "auth_before_tls", v, sizeof v) && strcmp(v, "[]") == 0);
    CHECK(json_field(line, "tls_version", v, sizeof v) && strcmp(v, "\"\"") == 0);
    CHECK(json_field(line, "tls_cipher", v, sizeof v) && strcmp(v, "null") == 0);
    CHECK(json_field(line, "time_ms", v, sizeof v) && strcmp(v, "-9223372036854775808") == 0);
    CHECK(json_field(line, "asn", v, sizeof v) && strcmp(v, "9223372036854775807") == 0);
    CHECK(json_field(line, "truncated", v, sizeof v) && strcmp(v, "null") == 0);
    /* every field, in table order */
    const char *p = line;
    for (int f = 0; f < F_COUNT; f++) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\":", rec_fields[f].name);
        const char *q = strstr(p, key);
        CHECK(q != NULL);
        if (q)
            p = q;
    }
    /* exactly one newline, at the end; no raw control bytes; valid UTF-8 */
    size_t len = strlen(line);
    CHECK(len > 0 && line[len - 1] == '\n');
    for (size_t i = 0; i + 1 < len; i++)
        CHECK((unsigned char)line[i] >= 0x20 && line[i] != 0x7f);
    for (size_t i = 0; i < len;) {
        size_t k = out_utf8_seq_len((const unsigned char *)line + i, len - i);
        CHECK(k > 0);
        i += k ? k : 1;
    }
}

static void check_csv_line(const char *line)
{
    /* Built from the table, so fields added to record.h keep this valid:
     * every field not set by fill_hostile() is an empty (null) cell. */
    static const struct {
        enum rec_field f;
        const char *cell;
    } cells[] = {
        {F_IP, "\"192.0.2.1\""},
        {F_PORT, "25"},
        {F_PROTOCOL, "\"smtp\""},
        {F_BANNER, "\"220 mx \"\"quoted\"\", comma\\x0D\\x0A220-\\x00nul\\x7F\\x01 bs\\\\ "
                   "caf\xc3\xa9 bad\\xFF\\xC0\\xAF\\xED\\xA0\\x80\\xE2\\x82|pipe\\x0D\\x0A\""},
        {F_CAPS_BEFORE_TLS, "\"AUTH PLAIN\\x7CLOGIN|\\e|X\\\\\"\"Y\\x0A\""},
        {F_STARTTLS_OFFERED, "true"},
        {F_STARTTLS_OK, "false"},
        {F_AUTH_BEFORE_TLS, "\"\""},
        {F_TLS_VERSION, "\"\""},
        {F_TIME_MS, "-9223372036854775808"},
        {F_ASN, "9223372036854775807"},
    };
    char want[4096] = "";
    for (int f = 0; f < F_COUNT; f++) {
        if (f)
            strcat(want, ",");
        for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++)
            if (cells[i].f == (enum rec_field)f)
                strcat(want, cells[i].cell);
    }
    strcat(want, "\r\n");
    CHECK(strcmp(line, want) == 0);
    if (strcmp(line, want) != 0)
        fprintf(stderr, "got  %s\nwant %s\n", line, want);
    /* F_COUNT - 1 separators outside quotes, exactly one line */
    int commas = 0;
    bool in_q = false;
    size_t len = strlen(line);
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '"')
            in_q = !in_q;
        else if (line[i] == ',' && !in_q)
            commas++;
        CHECK(line[i] != '\n' || i == len - 1);
    }
    CHECK(commas == F_COUNT - 1);
    CHECK(len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n');
}

static void write_one(const char *path, enum out_format fmt, bool gz, const struct record *r, int count)
{
    char err[256];
    struct out_options o = {.format = fmt, .gzip = gz};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    for (int i = 0; i < count; i++)
        CHECK(out_write(w, r) == 0);
    CHECK(out_close(w) == 0);
}

static void test_writers(void)
{
    static struct record r;
    fill_hostile(&r);
    char p_json[256], p_csv[256], p_jgz[256], p_cgz[256];
    tmp_path(p_json, sizeof p_json, "a.json");
    tmp_path(p_csv, sizeof p_csv, "a.csv");
    tmp_path(p_jgz, sizeof p_jgz, "a.json.gz");
    tmp_path(p_cgz, sizeof p_cgz, "a.csv.plain");
    write_one(p_json, OUT_JSON, false, &r, 1);
    write_one(p_csv, OUT_CSV, false, &r, 1);
    write_one(p_jgz, OUT_JSON, false, &r, 1); /* gzip chosen by the .gz suffix */
    write_one(p_cgz, OUT_CSV, true, &r, 1);   /* gzip chosen by the option */

    size_t n1, n2, n3, n4;
    char *json = slurp(p_json, &n1);
    char *csv = slurp(p_csv, &n2);
    CHECK(json && csv);
    if (!json || !csv)
        return;
    CHECK(strchr(json, '\n') == json + n1 - 1);
    check_json_line(json);

    /* CSV: the header, then one record line */
    char *nl = strstr(csv, "\r\n");
    CHECK(nl != NULL);
    CHECK(strncmp(csv, "ip,port,host,protocol,", 22) == 0);
    CHECK(nl && strncmp(nl - 9, "truncated\r\n", 11) == 0);
    if (nl)
        check_csv_line(nl + 2);

    char *jgz = slurp_gz(p_jgz, &n3);
    char *cgz = slurp_gz(p_cgz, &n4);
    CHECK(jgz && n3 == n1 && memcmp(jgz, json, n1) == 0);
    CHECK(cgz && n4 == n2 && memcmp(cgz, csv, n2) == 0);
    size_t raw_len;
    char *raw = slurp(p_cgz, &raw_len);
    CHECK(raw && raw_len > 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b);
    free(raw);
    free(json);
    free(csv);
    free(jgz);
    free(cgz);
}

/* A list with items that lost bytes: `<field>_b64` is an array as long as
 * the list, null where an item came through intact; a text field that lost
 * nothing has no sibling. */
static void test_json_b64_siblings(void)
{
    static struct record r;
    rec_reset(&r);
    rec_set_str(&r, F_IP, "192.0.2.9");
    rec_set_text(&r, F_STARTTLS_REPLY, "220 Gr\xfc\xdf\0", 9);
    rec_set_str(&r, F_ERROR, "caf\xc3\xa9");
    rec_list_add(&r, F_CAPS_AFTER_TLS, "ok", 2);
    rec_list_add(&r, F_CAPS_AFTER_TLS, "\xff", 1);
    rec_list_add(&r, F_CAPS_AFTER_TLS, "a\0", 2);
    rec_list_add(&r, F_AUTH_AFTER_TLS, "PLAIN", 5);
    struct outbuf b;
    CHECK(outbuf_init(&b, 1 << 16) == 0);
    ndjson_append(&b, &r);
    CHECK(!b.overflow);
    outbuf_append_byte(&b, '\0');
    const char *line = (const char *)b.data;
    CHECK(strstr(line, "\"starttls_reply\":\"220 Gr" FFFD FFFD FFFD
                       "\",\"starttls_reply_b64\":\"MjIwIEdy/N8A\",") != NULL);
    CHECK(strstr(line, "\"error\":\"caf\xc3\xa9\",\"phase\":null,") != NULL);
    CHECK(strstr(line,
                 "\"caps_after_tls\":[\"ok\",\"" FFFD "\",\"a" FFFD "\"],"
                 "\"caps_after_tls_b64\":[null,\"/w==\",\"YQA=\"],\"auth_after_tls\":[\"PLAIN\"],") != NULL);
    CHECK(strstr(line, "auth_after_tls_b64") == NULL);
    outbuf_free(&b);
}

static void test_truncated_field(void)
{
    static struct record r;
    rec_reset(&r);
    char big[600];
    memset(big, 'A', sizeof big);
    rec_set_text(&r, F_BANNER, big, sizeof big); /* cap 512 */
    rec_set_str(&r, F_COUNTRY, "DEU");           /* cap 2 */
    char path[256];
    tmp_path(path, sizeof path, "trunc.json");
    write_one(path, OUT_JSON, false, &r, 1);
    size_t n;
    char *line = slurp(path, &n);
    char v[700];
    CHECK(line && json_field(line, "truncated", v, sizeof v) && strcmp(v, "[\"banner\",\"country\"]") == 0);
    CHECK(line && json_field(line, "country", v, sizeof v) && strcmp(v, "\"DE\"") == 0);
    free(line);

    /* A name the scanner stored itself is not repeated. */
    rec_list_add(&r, F_TRUNCATED, "country", 7);
    tmp_path(path, sizeof path, "trunc.csv");
    write_one(path, OUT_CSV, false, &r, 1);
    line = slurp(path, &n);
    CHECK(line && strstr(line, ",\"country|banner\"\r\n") != NULL);
    free(line);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_flush_schedule(void)
{
    static struct record r;
    fill_hostile(&r);
    for (int gz = 0; gz < 2; gz++) {
        char path[256], err[256];
        tmp_path(path, sizeof path, gz ? "tick.json.gz" : "tick.json");
        struct out_options o = {.format = OUT_JSON, .flush_interval_ms = 500};
        struct out_writer *w = out_open(path, &o, err, sizeof err);
        CHECK(w != NULL);
        if (!w)
            return;
        CHECK(out_tick(w, 10000) == 0);
        CHECK(out_write(w, &r) == 0);
        CHECK(out_tick(w, 10499) == 0);
        CHECK(file_size(path) == 0); /* no flush per record or before the interval */
        CHECK(out_tick(w, 10500) == 0);
        off_t after_first = file_size(path);
        CHECK(after_first > 0);
        CHECK(out_write(w, &r) == 0);
        CHECK(out_tick(w, 10600) == 0);
        CHECK(file_size(path) == after_first);
        CHECK(out_tick(w, 11000) == 0);
        CHECK(file_size(path) > after_first);
        CHECK(out_tick(w, 12000) == 0); /* nothing pending: no empty member */
        off_t after_second = file_size(path);
        CHECK(out_close(w) == 0);
        CHECK(file_size(path) == after_second);
        if (gz) {
            size_t n;
            char *raw = slurp(path, &n);
            CHECK(raw && count_members((unsigned char *)raw, n) == 2);
            free(raw);
        }
    }
}

static void test_size_flush_and_members(void)
{
    /* Without ticks, the buffer still reaches the file past its threshold. */
    static struct record r;
    fill_hostile(&r);
    char path[256], err[256];
    tmp_path(path, sizeof path, "big.json.gz");
    struct out_options o = {.format = OUT_JSON};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    int i;
    for (i = 0; i < 5000 && file_size(path) == 0; i++)
        CHECK(out_write(w, &r) == 0);
    CHECK(i < 5000);
    CHECK(out_write(w, &r) == 0); /* this one goes into the member written at close */
    i++;
    CHECK(out_close(w) == 0);
    size_t n, plain_len;
    char *raw = slurp(path, &n);
    CHECK(raw && count_members((unsigned char *)raw, n) == 2);
    char *plain = slurp_gz(path, &plain_len);
    int lines = 0;
    for (size_t k = 0; plain && k < plain_len; k++)
        lines += plain[k] == '\n';
    CHECK(lines == i);
    free(raw);
    free(plain);

    /* An empty gzip output is still a valid gzip file. */
    tmp_path(path, sizeof path, "empty.json.gz");
    w = out_open(path, &o, err, sizeof err);
    CHECK(w && out_close(w) == 0);
    raw = slurp(path, &n);
    CHECK(raw && n > 0 && count_members((unsigned char *)raw, n) == 1);
    free(raw);
}

static void test_errors(void)
{
    static struct record r;
    fill_hostile(&r);
    char err[256];
    struct out_options o = {.format = OUT_JSON};

    struct out_writer *w = out_open("/nonexistent-dir/x.json", &o, err, sizeof err);
    CHECK(w == NULL);
    CHECK(strstr(err, "/nonexistent-dir/x.json: No such file or directory") != NULL);

    /* Error at close: the message survives the writer. */
    for (int gz = 0; gz < 2; gz++) {
        o.gzip = gz;
        w = out_open("/dev/full", &o, err, sizeof err);
        CHECK(w != NULL);
        if (!w)
            return;
        CHECK(out_write(w, &r) == 0);
        CHECK(out_close(w) == -1);
        CHECK(out_error(NULL) && strcmp(out_error(NULL), "/dev/full: No space left on device") == 0);
    }

    /* Error at a tick, then sticky. */
    o.gzip = false;
    w = out_open("/dev/full", &o, err, sizeof err);
    CHECK(w && out_error(w) == NULL);
    if (!w)
        return;
    CHECK(out_write(w, &r) == 0);
    CHECK(out_tick(w, 0) == 0);
    CHECK(out_tick(w, 1000) == -1);
    CHECK(out_error(w) && strcmp(out_error(w), "/dev/full: No space left on device") == 0);
    CHECK(out_write(w, &r) == -1);
    CHECK(out_tick(w, 5000) == -1);
    CHECK(out_close(w) == -1);

    /* Error from the size threshold inside out_write. */
    w = out_open("/dev/full", &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    int i, rc = 0;
    for (i = 0; i < 5000 && rc == 0; i++)
        rc = out_write(w, &r);
    CHECK(rc == -1 && i < 5000);
    CHECK(out_error(w) && strstr(out_error(w), "/dev/full") != NULL);
    CHECK(out_close(w) == -1);

    /* A successful close clears the previous close error. */
    char path[256];
    tmp_path(path, sizeof path, "ok.json");
    w = out_open(path, &o, err, sizeof err);
    CHECK(w && out_close(w) == 0 && out_error(NULL) == NULL);
}

static void test_epipe(void)
{
    /* A reader that went away: EPIPE must come back as an error, not a
     * signal (the scanner ignores SIGPIPE; so do we here). */
    int fds[2];
    CHECK(pipe(fds) == 0);
    signal(SIGPIPE, SIG_IGN);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[1]);
    char err[256];
    struct out_options o = {.format = OUT_CSV};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    close(fds[0]);
    close(fds[1]);
    if (!w)
        return;
    CHECK(out_close(w) == -1);
    CHECK(out_error(NULL) && strstr(out_error(NULL), "Broken pipe") != NULL);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_json_escape_cases();
    test_json_lossy_and_base64();
    test_json_b64_siblings();
    test_csv_escape_cases();
    test_csv_unescape_errors();
    test_escape_short_buffer();
    test_random_round_trip();
    test_writers();
    test_truncated_field();
    test_flush_schedule();
    test_size_flush_and_members();
    test_errors();
    test_epipe();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_out_writer: all checks passed\n");
    return 0;
}
