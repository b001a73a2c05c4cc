/*
 * hostile.c - `outcheck hostile`: writes hostile records with the library
 * and, beside them, a manifest that states each value's exact bytes in hex
 * (one JSON object per record; text as a hex string, lists as arrays of
 * hex strings, ints and bools as themselves, null as null). The round-trip
 * test decodes OUT with its documented unescaping and compares.
 */
#include <stdio.h>
#include <string.h>

#include "../../output/recview.h"
#include "outcheck.h"

#define HOSTILE_RANDOM_RECORDS 300

/* Each fixed case is one awkward value, set in several fields at once. */
static const struct {
    const char *bytes;
    size_t len;
} fixed_cases[] = {
#define CASE(s)                                                                                              \
    {                                                                                                        \
        s, sizeof(s) - 1                                                                                     \
    }
    CASE(""),
    CASE("plain ascii"),
    CASE("nul\0inside\0"),
    CASE("crlf\r\nsecond line\r\n"),
    CASE("lone\rcr and lone\nlf"),
    CASE("\"quotes\" and ,commas, and ;"),
    CASE("pipe|pipe||"),
    CASE("back\\slash\\\\ and \\x41 literal"),
    CASE("\\e"),
    CASE("\x01\x02\x1b[31m\x7f\x1f"),
    CASE("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf"),
    CASE("bad \xff\xfe\x80\xbf"),
    CASE("overlong \xc0\xaf \xc1\xbf \xe0\x80\xaf \xf0\x80\x80\xaf"),
    CASE("surrogate \xed\xa0\x80\xed\xbf\xbf"),
    CASE("beyond \xf4\x90\x80\x80 \xf5\x80\x80\x80"),
    CASE("truncated \xe2\x82"),
    CASE("\xf0\x9f\x98"),
    CASE("\xdc\x80 looks like an escape"),
#undef CASE
};
#define N_FIXED (sizeof fixed_cases / sizeof fixed_cases[0])

static void fill_fixed(struct record *r, size_t i)
{
    const char *b = fixed_cases[i].bytes;
    size_t n = fixed_cases[i].len;
    rec_reset(r);
    rec_set_str(r, F_IP, "192.0.2.7");
    rec_set_int(r, F_PORT, 25);
    for (int f = 0; f < F_COUNT; f++) {
        if (f == F_IP || f == F_PORT || f == F_TRUNCATED)
            continue;
        switch (rec_fields[f].type) {
        case RT_TEXT: rec_set_text(r, (enum rec_field)f, b, n); break;
        case RT_LIST:
            rec_list_add(r, (enum rec_field)f, b, n);
            rec_list_add(r, (enum rec_field)f, "", 0);
            rec_list_add(r, (enum rec_field)f, b, n);
            break;
        case RT_INT: rec_set_int(r, (enum rec_field)f, (int64_t)i * 1000 - 5000); break;
        case RT_BOOL: rec_set_bool(r, (enum rec_field)f, i & 1); break;
        case RT_JSON: break; /* scanner-made objects only (recjson.h): null here */
        }
        if (r->arena_used > REC_ARENA_BYTES - 600)
            break;
    }
}

static void random_bytes(unsigned long long *st, unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long x = oc_rand(st);
        /* Mostly the bytes that need escaping. */
        static const unsigned char pick[] = {0, '\r', '\n', '"', ',', '|', '\\', 0x7f, 'e', 'x', 'A'};
        switch (x % 4) {
        case 0: buf[i] = pick[(x >> 8) % sizeof pick]; break;
        case 1: buf[i] = (unsigned char)(0x80 + (x >> 8) % 0x80); break;
        default: buf[i] = (unsigned char)(x >> 8); break;
        }
    }
}

static void fill_random(struct record *r, unsigned long long *st)
{
    unsigned char buf[600];
    rec_reset(r);
    for (int f = 0; f < F_COUNT; f++) {
        unsigned long long x = oc_rand(st);
        if (x % 5 == 0 || f == F_TRUNCATED)
            continue; /* null */
        size_t cap = rec_fields[f].cap;
        size_t len = (size_t)((x >> 8) % (cap + 8 < sizeof buf ? cap + 8 : sizeof buf));
        switch (rec_fields[f].type) {
        case RT_TEXT:
            random_bytes(st, buf, len);
            rec_set_text(r, (enum rec_field)f, buf, len);
            break;
        case RT_LIST: {
            rec_list_init(r, (enum rec_field)f);
            int items = (int)((x >> 20) % 6);
            for (int k = 0; k < items; k++) {
                size_t il = (size_t)(oc_rand(st) % 20);
                random_bytes(st, buf, il);
                rec_list_add(r, (enum rec_field)f, buf, il);
            }
            break;
        }
        case RT_INT: rec_set_int(r, (enum rec_field)f, (int64_t)oc_rand(st)); break;
        case RT_BOOL: rec_set_bool(r, (enum rec_field)f, x & 256); break;
        case RT_JSON: break; /* null: see above */
        }
    }
}

static void hex(FILE *m, const unsigned char *s, size_t n)
{
    fputc('"', m);
    for (size_t i = 0; i < n; i++)
        fprintf(m, "%02x", s[i]);
    fputc('"', m);
}

/* The manifest reads the record through the same view the writers use, so
 * caps, arena cuts and the synthesized `truncated` list are accounted for. */
static void write_manifest(FILE *m, const struct record *r)
{
    for (int f = 0; f < F_COUNT; f++) {
        fprintf(m, "%s\"%s\":", f ? "," : "{", rec_fields[f].name);
        if (!recview_has(r, (enum rec_field)f)) {
            fputs("null", m);
            continue;
        }
        const unsigned char *s;
        size_t n;
        switch (rec_fields[f].type) {
        case RT_TEXT:
        case RT_JSON:
            s = rec_text(r, (enum rec_field)f, &n);
            hex(m, s, n);
            break;
        case RT_LIST: {
            struct recview_cursor c = {0};
            fputc('[', m);
            for (int k = 0; recview_list_next(r, (enum rec_field)f, &c, &s, &n); k++) {
                if (k)
                    fputc(',', m);
                hex(m, s, n);
            }
            fputc(']', m);
            break;
        }
        case RT_INT: fprintf(m, "%lld", (long long)rec_int(r, (enum rec_field)f)); break;
        case RT_BOOL: fputs(rec_int(r, (enum rec_field)f) ? "true" : "false", m); break;
        }
    }
    fputs("}\n", m);
}

int hostile_main(int argc, char **argv)
{
    struct out_options o = {.format = OUT_JSON};
    const char *paths[2];
    int np = 0;
    for (int i = 1; i < argc;) {
        int used = oc_parse_out_option(argc, argv, i, &o);
        if (used) {
            i += used;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "hostile: unknown option %s\n", argv[i]);
            return 2;
        } else if (np < 2) {
            paths[np++] = argv[i++];
        } else {
            fprintf(stderr, "hostile: too many arguments\n");
            return 2;
        }
    }
    if (np != 2) {
        fprintf(stderr, "usage: mailtls-outcheck hostile [--csv] [--gzip] OUT MANIFEST\n");
        return 2;
    }
    char err[512];
    struct out_writer *w = out_open(paths[0], &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    FILE *m = fopen(paths[1], "w");
    if (!m) {
        perror(paths[1]);
        out_close(w);
        return 1;
    }
    static struct record r;
    unsigned long long st = 0x9e3779b97f4a7c15ULL;
    int rc = 0;
    for (size_t i = 0; i < N_FIXED + HOSTILE_RANDOM_RECORDS && rc == 0; i++) {
        if (i < N_FIXED)
            fill_fixed(&r, i);
        else
            fill_random(&r, &st);
        write_manifest(m, &r);
        rc = out_write(w, &r);
    }
    if (rc < 0)
        fprintf(stderr, "%s\n", out_error(w));
    if (out_close(w) < 0 && rc == 0) {
        fprintf(stderr, "%s\n", out_error(NULL));
        rc = -1;
    }
    if (fclose(m) != 0) {
        perror(paths[1]);
        rc = -1;
    }
    return rc < 0 ? 1 : 0;
}
