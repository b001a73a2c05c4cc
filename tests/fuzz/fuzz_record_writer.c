/*
 * fuzz_record_writer.c - records built from fuzz input, written as NDJSON
 * and CSV, then parsed back.
 *
 * The input is a little program of record operations (set text, add list
 * item, init list, set int, set bool, set status), each taking its value
 * bytes from the input, so values hold NUL, control bytes, invalid UTF-8,
 * quotes, backslashes and '|'. After it runs:
 *  - the record itself is checked: arena bound, caps, stored text and list
 *    items are prefixes of what was set (cut only with the truncated bit);
 *  - ndjson_append and csv_append_record format it into memory and a
 *    parser here reads every field back and compares it with what the
 *    writers are meant to show (recview: the record plus the synthesized
 *    `truncated` names);
 *  - the record also goes through out_write to /dev/null, in both formats.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/csv.h"
#include "../../output/escape.h"
#include "../../output/ndjson.h"
#include "../../output/outbuf.h"
#include "../../output/recjson.h"
#include "../../output/record.h"
#include "../../output/recview.h"
#include "../../output/writer.h"
#include "fuzz_check.h"

#define MAX_ITEMS_TRACKED 64

static struct record rec;

/* What the program last set, per field, pointing into the fuzz input. */
static struct {
    const unsigned char *text;
    size_t text_len;
    size_t adds;
    const unsigned char *item[MAX_ITEMS_TRACKED];
    size_t item_len[MAX_ITEMS_TRACKED];
} shadow[F_COUNT];

static enum rec_field pick(enum rec_type type, unsigned char sel)
{
    enum rec_field of_type[F_COUNT];
    int n = 0;
    for (int f = 0; f < F_COUNT; f++)
        if (rec_fields[f].type == type)
            of_type[n++] = (enum rec_field)f;
    return of_type[sel % n];
}

static void run_program(const uint8_t *p, size_t size)
{
    size_t i = 0;
    while (i + 2 <= size) {
        unsigned char op = p[i], sel = p[i + 1];
        i += 2;
        /* Value length: one byte, or two when the op's top bit is set. */
        size_t len = i < size ? p[i++] : 0;
        if ((op & 0x80) && i < size)
            len = len << 8 | p[i++];
        len &= 0x7ff;
        if (len > size - i)
            len = size - i;
        const unsigned char *v = p + i;
        i += len;
        enum rec_field f;
        int64_t num = 0;
        for (size_t k = 0; k < len && k < 8; k++)
            num = (int64_t)((uint64_t)num << 8 | v[k]);
        switch (op % 6) {
        case 0:
            /* op bit 6: the RT_JSON fields, with whatever bytes */
            f = pick(op & 0x40 ? RT_JSON : RT_TEXT, sel);
            rec_set_text(&rec, f, v, len);
            shadow[f].text = v;
            shadow[f].text_len = len;
            break;
        case 1:
            f = pick(RT_LIST, sel);
            if (!rec_has(&rec, f))
                shadow[f].adds = 0;
            rec_list_add(&rec, f, v, len);
            if (shadow[f].adds < MAX_ITEMS_TRACKED) {
                shadow[f].item[shadow[f].adds] = v;
                shadow[f].item_len[shadow[f].adds] = len;
            }
            shadow[f].adds++;
            break;
        case 2:
            f = pick(RT_LIST, sel);
            if (!rec_has(&rec, f))
                shadow[f].adds = 0;
            rec_list_init(&rec, f);
            break;
        case 3: rec_set_int(&rec, pick(RT_INT, sel), num); break;
        case 4: rec_set_bool(&rec, pick(RT_BOOL, sel), num & 1); break;
        case 5:
            rec_set_status(&rec, (enum rec_status)(sel % STATUS_COUNT));
            shadow[F_STATUS].text = NULL;
            break;
        }
    }
}

/* The shape check and the reader's rebuild agree: a value recjson_ok
 * accepts (either shape) parses as JSON and is rebuilt byte for byte. */
static void check_rebuild(const unsigned char *s, size_t n)
{
    static struct json_tok toks[8192];
    static unsigned char out[20000];
    struct json_doc d = {.toks = toks, .cap = sizeof toks / sizeof toks[0]};
    char err[64];
    FUZZ_CHECK(json_parse(&d, (const char *)s, n, err, sizeof err) == 0);
    long m = recjson_from_doc(&d, 0, out, sizeof out);
    FUZZ_CHECK(m == (long)n && memcmp(out, s, n) == 0);
}

static bool truncated(enum rec_field f)
{
    return (rec.truncated >> f) & 1u;
}

static void check_record(void)
{
    FUZZ_CHECK(rec.arena_used <= REC_ARENA_BYTES);
    for (int fi = 0; fi < F_COUNT; fi++) {
        enum rec_field f = (enum rec_field)fi;
        if (!rec_has(&rec, f))
            continue;
        const unsigned char *s;
        size_t len;
        if (rec_fields[f].type == RT_JSON) {
            /* never cut: stored whole or not at all */
            s = rec_text(&rec, f, &len);
            FUZZ_CHECK(len <= rec_fields[f].cap && s + len <= rec.arena + REC_ARENA_BYTES);
            FUZZ_CHECK(shadow[f].text && len == shadow[f].text_len && memcmp(s, shadow[f].text, len) == 0);
        } else if (rec_fields[f].type == RT_TEXT) {
            s = rec_text(&rec, f, &len);
            FUZZ_CHECK(len <= rec_fields[f].cap);
            /* An empty value may point past arena_used: replacing the
             * newest value gives its bytes back, and an empty value set
             * after it kept the old end as its offset. */
            FUZZ_CHECK(s >= rec.arena && s + len <= rec.arena + REC_ARENA_BYTES);
            FUZZ_CHECK(len == 0 || s + len <= rec.arena + rec.arena_used);
            if (f == F_STATUS && shadow[f].text == NULL)
                continue; /* set by rec_set_status, not from the input */
            if (shadow[f].text) {
                FUZZ_CHECK(len <= shadow[f].text_len && memcmp(s, shadow[f].text, len) == 0);
                FUZZ_CHECK(len == shadow[f].text_len || truncated(f));
            }
        } else if (rec_fields[f].type == RT_LIST) {
            uint16_t cur = 0;
            size_t n = 0;
            while (rec_list_next(&rec, f, &cur, &s, &len)) {
                FUZZ_CHECK(n < rec_fields[f].max_items);
                FUZZ_CHECK(len <= rec_fields[f].cap);
                FUZZ_CHECK(s >= rec.arena && s + len <= rec.arena + rec.arena_used);
                /* Items are kept in order; an item that did not fit is
                 * dropped whole, so stored item n may be a later add. */
                n++;
            }
            FUZZ_CHECK(n <= shadow[f].adds);
            FUZZ_CHECK(n == shadow[f].adds || truncated(f));
            if (n == shadow[f].adds && n <= MAX_ITEMS_TRACKED) {
                cur = 0;
                for (size_t k = 0; rec_list_next(&rec, f, &cur, &s, &len); k++) {
                    FUZZ_CHECK(len <= shadow[f].item_len[k]);
                    FUZZ_CHECK(memcmp(s, shadow[f].item[k], len) == 0);
                    FUZZ_CHECK(len == shadow[f].item_len[k] || truncated(f));
                }
            }
        }
    }
}

/* ---- NDJSON read-back ------------------------------------------------- */

struct cursor {
    const char *p, *end;
};

static void expect(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    FUZZ_CHECK((size_t)(c->end - c->p) >= n && memcmp(c->p, lit, n) == 0);
    c->p += n;
}

static bool take(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, lit, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Reads one JSON string and compares its decoded bytes with the text the
 * writer must show for the raw bytes raw (fz_json_text: NUL and ill-formed
 * UTF-8 replaced by U+FFFD). Returns whether bytes were replaced. */
static bool json_string_equals(struct cursor *c, const unsigned char *raw, size_t raw_len)
{
    unsigned char *want = malloc(3 * raw_len + 1);
    FUZZ_CHECK(want != NULL);
    int lossy;
    size_t want_len = fz_json_text(want, raw, raw_len, &lossy);
    expect(c, "\"");
    size_t o = 0;
    for (;;) {
        FUZZ_CHECK(c->p < c->end);
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            break;
        }
        FUZZ_CHECK(ch >= 0x20 && ch != 0x7f);
        unsigned char b;
        if (ch == '\\') {
            FUZZ_CHECK(c->end - c->p >= 2);
            char e = c->p[1];
            if (e == 'u') {
                /* \u00XX for control bytes; never \u0000, never a surrogate */
                FUZZ_CHECK(c->end - c->p >= 6);
                int h = hexv(c->p[4]), l = hexv(c->p[5]);
                FUZZ_CHECK(h >= 0 && l >= 0);
                FUZZ_CHECK(c->p[2] == '0' && c->p[3] == '0');
                b = (unsigned char)(h << 4 | l);
                FUZZ_CHECK(b != 0);
                c->p += 6;
            } else {
                const char *esc = "\"\\nrt", *rawc = "\"\\\n\r\t";
                const char *hit = e ? strchr(esc, e) : NULL;
                FUZZ_CHECK(hit != NULL);
                b = (unsigned char)rawc[hit - esc];
                c->p += 2;
            }
            FUZZ_CHECK(o < want_len && want[o] == b);
            o++;
            continue;
        }
        size_t n = ch < 0x80 ? 1 : fz_utf8_len((const unsigned char *)c->p, (size_t)(c->end - c->p));
        FUZZ_CHECK(n >= 1);
        FUZZ_CHECK(o + n <= want_len && memcmp(want + o, c->p, n) == 0);
        o += n;
        c->p += n;
    }
    FUZZ_CHECK(o == want_len);
    free(want);
    return lossy != 0;
}

/* Reads one base64 JSON string and checks it decodes to raw exactly. */
static void json_base64_equals(struct cursor *c, const unsigned char *raw, size_t raw_len)
{
    expect(c, "\"");
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"')
        c->p++;
    size_t len = (size_t)(c->p - start);
    expect(c, "\"");
    unsigned char *dec = malloc(len / 4 * 3 + 1);
    FUZZ_CHECK(dec != NULL);
    long got = fz_base64_decode(dec, start, len);
    FUZZ_CHECK(got == (long)raw_len && memcmp(dec, raw, raw_len) == 0);
    free(dec);
}

static bool b64_key(struct cursor *c, enum rec_field f)
{
    char key[64];
    snprintf(key, sizeof key, ",\"%s_b64\":", rec_fields[f].name);
    return take(c, key);
}

/* After a text or list value: `<field>_b64` must be there exactly when
 * something was replaced, and give back the stored bytes. */
static void check_b64_sibling(struct cursor *c, enum rec_field f, bool lossy)
{
    bool present = b64_key(c, f);
    FUZZ_CHECK(present == lossy);
    if (!present)
        return;
    const unsigned char *s;
    size_t slen;
    if (rec_fields[f].type == RT_TEXT) {
        s = rec_text(&rec, f, &slen);
        json_base64_equals(c, s, slen);
        return;
    }
    struct recview_cursor rc = {0};
    expect(c, "[");
    for (int n = 0; recview_list_next(&rec, f, &rc, &s, &slen); n++) {
        if (n)
            expect(c, ",");
        if (out_json_is_lossy(s, slen))
            json_base64_equals(c, s, slen);
        else
            expect(c, "null");
    }
    expect(c, "]");
}

static void json_int_equals(struct cursor *c, int64_t want)
{
    char tmp[32];
    size_t n = 0;
    while (c->p < c->end && n < sizeof tmp - 1 && (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')))
        tmp[n++] = *c->p++;
    tmp[n] = '\0';
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(strtoll(tmp, NULL, 10) == want);
}

static void check_json(const char *line, size_t len)
{
    struct cursor c = {line, line + len};
    FUZZ_CHECK(len >= 1 && line[len - 1] == '\n' && memchr(line, '\n', len - 1) == NULL);
    /* What PostgreSQL, DuckDB and pandas need: valid UTF-8, no NUL at all. */
    FUZZ_CHECK(memchr(line, '\0', len) == NULL);
    for (size_t i = 0; i < len;) {
        size_t n = fz_utf8_len((const unsigned char *)line + i, len - i);
        FUZZ_CHECK(n >= 1);
        i += n;
    }
    c.end--;
    for (int fi = 0; fi < F_COUNT; fi++) {
        enum rec_field f = (enum rec_field)fi;
        expect(&c, fi ? "," : "{");
        expect(&c, "\"");
        expect(&c, rec_fields[f].name);
        expect(&c, "\":");
        if (!recview_has(&rec, f)) {
            expect(&c, "null");
            continue;
        }
        const unsigned char *s;
        size_t slen;
        switch (rec_fields[f].type) {
        case RT_TEXT:
            s = rec_text(&rec, f, &slen);
            check_b64_sibling(&c, f, json_string_equals(&c, s, slen));
            break;
        case RT_LIST: {
            struct recview_cursor rc = {0};
            bool lossy = false;
            expect(&c, "[");
            for (int n = 0; recview_list_next(&rec, f, &rc, &s, &slen); n++) {
                if (n)
                    expect(&c, ",");
                lossy |= json_string_equals(&c, s, slen);
            }
            expect(&c, "]");
            check_b64_sibling(&c, f, lossy);
            break;
        }
        case RT_INT: json_int_equals(&c, rec_int(&rec, f)); break;
        case RT_BOOL: expect(&c, rec_int(&rec, f) ? "true" : "false"); break;
        case RT_JSON: {
            /* as stored when it has the one allowed shape, else null */
            s = rec_text(&rec, f, &slen);
            bool ok = recjson_ok(s, slen);
            FUZZ_CHECK(!ok || ((size_t)(c.end - c.p) >= slen && memcmp(c.p, s, slen) == 0));
            if (ok)
                check_rebuild(s, slen);
            if (ok)
                c.p += slen;
            else
                expect(&c, "null");
            break;
        }
        }
    }
    expect(&c, "}");
    FUZZ_CHECK(c.p == c.end);
}

/* ---- CSV read-back ---------------------------------------------------- */

/* Reads a quoted CSV field body up to the closing quote, undoubling "". */
static size_t csv_quoted(struct cursor *c, char *out)
{
    size_t o = 0;
    expect(c, "\"");
    for (;;) {
        FUZZ_CHECK(c->p < c->end);
        unsigned char ch = (unsigned char)*c->p;
        FUZZ_CHECK(ch >= 0x20 && ch != 0x7f);
        if (ch == '"') {
            if (c->end - c->p >= 2 && c->p[1] == '"') {
                out[o++] = '"';
                c->p += 2;
                continue;
            }
            c->p++;
            return o;
        }
        out[o++] = (char)ch;
        c->p++;
    }
}

static void csv_value_equals(const char *esc, size_t len, const unsigned char *want, size_t want_len)
{
    unsigned char *dec = malloc(len ? len : 1);
    FUZZ_CHECK(dec != NULL);
    long got = out_csv_unescape(dec, esc, len);
    FUZZ_CHECK(got >= 0 && (size_t)got == want_len && memcmp(dec, want, want_len) == 0);
    free(dec);
}

static void check_csv(const char *line, size_t len, char *scratch)
{
    struct cursor c = {line, line + len};
    FUZZ_CHECK(len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n');
    for (size_t i = 0; i + 2 < len; i++)
        FUZZ_CHECK(line[i] != '\r' && line[i] != '\n');
    c.end -= 2;
    for (int fi = 0; fi < F_COUNT; fi++) {
        enum rec_field f = (enum rec_field)fi;
        if (fi)
            expect(&c, ",");
        if (!recview_has(&rec, f)) {
            FUZZ_CHECK(c.p == c.end || *c.p == ',');
            continue;
        }
        const unsigned char *s;
        size_t slen;
        switch (rec_fields[f].type) {
        case RT_TEXT:
        case RT_JSON: {
            size_t n = csv_quoted(&c, scratch);
            s = rec_text(&rec, f, &slen);
            csv_value_equals(scratch, n, s, slen);
            break;
        }
        case RT_LIST: {
            size_t n = csv_quoted(&c, scratch);
            struct recview_cursor rc = {0};
            const char *item = scratch, *end = scratch + n;
            int count = 0;
            while (recview_list_next(&rec, f, &rc, &s, &slen)) {
                FUZZ_CHECK(item <= end);
                const char *bar = memchr(item, '|', (size_t)(end - item));
                const char *item_end = bar ? bar : end;
                csv_value_equals(item, (size_t)(item_end - item), s, slen);
                item = item_end + 1;
                count++;
            }
            /* All items consumed: an empty list is "", [""] is "\e". */
            FUZZ_CHECK(count == 0 ? n == 0 : item == end + 1);
            break;
        }
        case RT_INT: {
            char tmp[32];
            size_t n = 0;
            while (c.p < c.end && *c.p != ',' && n < sizeof tmp - 1)
                tmp[n++] = *c.p++;
            tmp[n] = '\0';
            FUZZ_CHECK(n > 0);
            FUZZ_CHECK(strtoll(tmp, NULL, 10) == rec_int(&rec, f));
            break;
        }
        case RT_BOOL: FUZZ_CHECK(take(&c, rec_int(&rec, f) ? "true" : "false")); break;
        }
    }
    FUZZ_CHECK(c.p == c.end);
}

/* ---- driver ----------------------------------------------------------- */

static struct outbuf buf;
static struct out_writer *w_json, *w_csv;
static char *scratch;

static void init_once(void)
{
    if (buf.data)
        return;
    FUZZ_CHECK(outbuf_init(&buf, 256 * 1024) == 0);
    scratch = malloc(256 * 1024);
    FUZZ_CHECK(scratch != NULL);
    char err[256];
    struct out_options o = {.format = OUT_JSON};
    w_json = out_open("/dev/null", &o, err, sizeof err);
    o.format = OUT_CSV;
    w_csv = out_open("/dev/null", &o, err, sizeof err);
    FUZZ_CHECK(w_json && w_csv);

    /* The header row once: the field names in table order, CRLF. */
    csv_append_header(&buf);
    FUZZ_CHECK(!buf.overflow);
    struct cursor c = {(const char *)buf.data, (const char *)buf.data + buf.len};
    for (int f = 0; f < F_COUNT; f++) {
        if (f)
            expect(&c, ",");
        expect(&c, rec_fields[f].name);
    }
    expect(&c, "\r\n");
    FUZZ_CHECK(c.p == c.end);
    outbuf_reset(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    rec_reset(&rec);
    memset(shadow, 0, sizeof shadow);
    run_program(data, size);
    check_record();

    outbuf_reset(&buf);
    ndjson_append(&buf, &rec);
    FUZZ_CHECK(!buf.overflow);
    check_json((const char *)buf.data, buf.len);

    outbuf_reset(&buf);
    csv_append_record(&buf, &rec);
    FUZZ_CHECK(!buf.overflow);
    check_csv((const char *)buf.data, buf.len, scratch);

    FUZZ_CHECK(out_write(w_json, &rec) == 0);
    FUZZ_CHECK(out_write(w_csv, &rec) == 0);
    return 0;
}
