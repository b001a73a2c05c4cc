/*
 * fuzz_output_reader.c - output/reader.c's line decoders (NDJSON with
 * `_b64` twins and old \udcXX escapes, CSV header and rows) and base64.
 *
 * Input: first byte even = one NDJSON line (the rest); odd = CSV, the rest
 * split at the first '\n' into header and row. Checked: results are 0 or
 * -1, err is a terminated string, decoding is deterministic, and a record
 * that decoded is written again by the project's writer (ndjson.c, and
 * csv.c after a header of every field) and decodes back to the same
 * values byte for byte (F_TRUNCATED aside: it is rebuilt by the writer).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/csv.h"
#include "../../output/ndjson.h"
#include "../../output/outbuf.h"
#include "../../output/reader.h"
#include "fuzz_check.h"

static struct record a, b;

static bool same_field(const struct record *x, const struct record *y, enum rec_field f)
{
    if (rec_has(x, f) != rec_has(y, f))
        return false;
    if (!rec_has(x, f))
        return true;
    switch (rec_fields[f].type) {
    case RT_TEXT:
    case RT_JSON: {
        size_t n, m;
        const unsigned char *s = rec_text(x, f, &n), *t = rec_text(y, f, &m);
        return n == m && memcmp(s, t, n) == 0;
    }
    case RT_LIST: {
        uint16_t cx = 0, cy = 0;
        const unsigned char *s, *t;
        size_t n, m;
        for (;;) {
            int gx = rec_list_next(x, f, &cx, &s, &n), gy = rec_list_next(y, f, &cy, &t, &m);
            if (gx != gy)
                return false;
            if (!gx)
                return true;
            if (n != m || memcmp(s, t, n) != 0)
                return false;
        }
    }
    case RT_INT:
    case RT_BOOL: return rec_int(x, f) == rec_int(y, f);
    }
    return false;
}

static void check_same(const struct record *x, const struct record *y)
{
    for (int f = 0; f < F_COUNT; f++)
        if (f != F_TRUNCATED)
            FUZZ_CHECK(same_field(x, y, (enum rec_field)f));
}

static void check_err(const char *err, size_t cap)
{
    FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
}

static void json_case(struct reader *rd, const char *s, size_t len, struct outbuf *ob)
{
    char err[256], err2[256];
    int rc = reader_json_line(rd, &a, s, len, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    int rc2 = reader_json_line(rd, &b, s, len, err2, sizeof err2);
    FUZZ_CHECK(rc2 == rc);
    if (rc < 0) {
        check_err(err, sizeof err);
        FUZZ_CHECK(strcmp(err, err2) == 0);
        return;
    }
    check_same(&a, &b);
    outbuf_reset(ob);
    ndjson_append(ob, &a);
    if (ob->overflow)
        return;
    size_t n = ob->len;
    while (n > 0 && ob->data[n - 1] == '\n')
        n--;
    FUZZ_CHECK(reader_json_line(rd, &b, (const char *)ob->data, n, err, sizeof err) == 0);
    check_same(&a, &b);
}

static void csv_case(struct reader *rd, const char *s, size_t len, struct outbuf *ob)
{
    char err[256];
    const char *nl = memchr(s, '\n', len);
    size_t hlen = nl ? (size_t)(nl - s) : len;
    if (reader_csv_header(rd, s, hlen, err, sizeof err) < 0) {
        check_err(err, sizeof err);
        return;
    }
    if (!nl)
        return;
    int rc = reader_csv_line(rd, &a, nl + 1, len - hlen - 1, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        check_err(err, sizeof err);
        return;
    }
    /* written again under the writer's own header */
    outbuf_reset(ob);
    csv_append_header(ob);
    size_t head = ob->len;
    csv_append_record(ob, &a);
    if (ob->overflow)
        return;
    size_t end = ob->len;
    while (end > head && (ob->data[end - 1] == '\n' || ob->data[end - 1] == '\r'))
        end--;
    size_t h = head;
    while (h > 0 && (ob->data[h - 1] == '\n' || ob->data[h - 1] == '\r'))
        h--;
    FUZZ_CHECK(reader_csv_header(rd, (const char *)ob->data, h, err, sizeof err) == 0);
    FUZZ_CHECK(reader_csv_line(rd, &b, (const char *)ob->data + head, end - head, err, sizeof err) == 0);
    check_same(&a, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct reader *rd;
    static struct outbuf ob;
    if (!rd) {
        rd = reader_new_lines();
        FUZZ_CHECK(rd != NULL && outbuf_init(&ob, 1 << 20) == 0);
    }
    if (size == 0)
        return 0;
    if (size > 65536)
        size = 65536;
    if (data[0] % 2 == 0)
        json_case(rd, (const char *)data + 1, size - 1, &ob);
    else
        csv_case(rd, (const char *)data + 1, size - 1, &ob);
    return 0;
}
