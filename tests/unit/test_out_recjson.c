/*
 * test_out_recjson.c - the RT_JSON fields (tls_ciphers, tls_ciphers_openssl):
 * the shape check (output/recjson.c), the writers (an object in NDJSON,
 * one JSON-text cell in CSV, null for anything else), the reader (rebuilds
 * the text, refuses other shapes), and the record's never-cut rule; the
 * second shape, rows (dane_records), the same way.
 */
#include <stdio.h>
#include <string.h>

#include "../../output/csv.h"
#include "../../output/ndjson.h"
#include "../../output/outbuf.h"
#include "../../output/reader.h"
#include "../../output/recjson.h"
#include "../../output/record.h"
#include "check.h"

#define OK(s) recjson_ok((const unsigned char *)(s), strlen(s))

static void test_shape(void)
{
    CHECK(OK("{}"));
    CHECK(OK("{\"TLSv1.2\":[\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\",\"AES128-SHA\"]}"));
    CHECK(OK("{\"TLSv1\":[],\"TLSv1.3\":[\"TLS_AES_128_GCM_SHA256\"]}"));
    CHECK(!OK(""));
    CHECK(!OK("{"));
    CHECK(!OK("["));
    CHECK(!OK("{\"a\":[\"b\"]}x"));
    CHECK(!OK("{\"a\": [\"b\"]}"));    /* no spaces */
    CHECK(!OK("{\"a\":[\"b\\\"\"]}")); /* no escapes */
    CHECK(!OK("{\"a\":[\"\"]}"));      /* no empty names */
    CHECK(!OK("{\"a\":[\"b\",]}"));
    CHECK(!OK("{\"a\":\"b\"}"));
    CHECK(!OK("{\"a\":[\"b\"],}"));
    CHECK(!OK("{\"</script>\":[]}"));
    char longname[200];
    memset(longname, 'A', sizeof longname);
    snprintf(longname, sizeof longname, "{\"%.*s\":[]}", RECJSON_NAME_MAX + 1,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
             "AAAAA");
    CHECK(!OK(longname));
}

static struct record rec, back;

static void test_round_trip(void)
{
    static const char obj[] = "{\"TLSv1\":[\"TLS_RSA_WITH_RC4_128_SHA\"],\"TLSv1.2\":[\"TLS_A\",\"TLS_B\"]}";
    rec_reset(&rec);
    rec_set_str(&rec, F_IP, "192.0.2.1");
    rec_set_int(&rec, F_PORT, 25);
    rec_set_text(&rec, F_TLS_CIPHERS, obj, strlen(obj));
    struct outbuf ob;
    CHECK(outbuf_init(&ob, 1 << 20) == 0);
    ndjson_append(&ob, &rec);
    CHECK(strstr((const char *)ob.data, "\"tls_ciphers\":{\"TLSv1\":[\"TLS_RSA_WITH_RC4_128_SHA\"]") != NULL);
    struct reader *rd = reader_new_lines();
    char err[256];
    size_t n = ob.len;
    while (n && ob.data[n - 1] == '\n')
        n--;
    CHECK(reader_json_line(rd, &back, (const char *)ob.data, n, err, sizeof err) == 0);
    size_t len;
    const unsigned char *t = rec_has(&back, F_TLS_CIPHERS) ? rec_text(&back, F_TLS_CIPHERS, &len) : NULL;
    CHECK(t && len == strlen(obj) && memcmp(t, obj, len) == 0);
    /* CSV: one quoted cell holding the JSON text, read back the same */
    outbuf_reset(&ob);
    csv_append_header(&ob);
    size_t head = ob.len;
    csv_append_record(&ob, &rec);
    CHECK(strstr((const char *)ob.data + head, "\"{\"\"TLSv1\"\":[\"\"TLS_RSA_WITH_RC4_128_SHA\"\"]") !=
          NULL);
    size_t h = head;
    while (h && (ob.data[h - 1] == '\n' || ob.data[h - 1] == '\r'))
        h--;
    size_t end = ob.len;
    while (end > head && (ob.data[end - 1] == '\n' || ob.data[end - 1] == '\r'))
        end--;
    CHECK(reader_csv_header(rd, (const char *)ob.data, h, err, sizeof err) == 0);
    CHECK(reader_csv_line(rd, &back, (const char *)ob.data + head, end - head, err, sizeof err) == 0);
    t = rec_has(&back, F_TLS_CIPHERS) ? rec_text(&back, F_TLS_CIPHERS, &len) : NULL;
    CHECK(t && len == strlen(obj) && memcmp(t, obj, len) == 0);
    /* the reader refuses another shape: a string, or names with escapes */
    static const char bad1[] = "{\"ip\":\"192.0.2.1\",\"tls_ciphers\":\"x\"}";
    CHECK(reader_json_line(rd, &back, bad1, sizeof bad1 - 1, err, sizeof err) == -1);
    static const char bad2[] = "{\"ip\":\"192.0.2.1\",\"tls_ciphers\":{\"a\":[\"\\u0041\"]}}";
    CHECK(reader_json_line(rd, &back, bad2, sizeof bad2 - 1, err, sizeof err) == -1);
    static const char good[] = "{\"ip\":\"192.0.2.1\",\"tls_ciphers\":{ \"a\" : [ \"b\" , \"c\" ] }}";
    CHECK(reader_json_line(rd, &back, good, sizeof good - 1, err, sizeof err) == 0);
    t = rec_has(&back, F_TLS_CIPHERS) ? rec_text(&back, F_TLS_CIPHERS, &len) : NULL;
    CHECK(t && len == 15 && memcmp(t, "{\"a\":[\"b\",\"c\"]}", 15) == 0); /* rebuilt without spaces */
    /* a stored value of another shape is written as null, never as is */
    rec_set_text(&rec, F_TLS_CIPHERS, "{\"a\":[1]}", 9);
    outbuf_reset(&ob);
    ndjson_append(&ob, &rec);
    CHECK(strstr((const char *)ob.data, "\"tls_ciphers\":null") != NULL);
    reader_close(rd);
    outbuf_free(&ob);
}

static void test_never_cut(void)
{
    static char big[20000];
    rec_reset(&rec);
    size_t cap = rec_fields[F_TLS_CIPHERS].cap;
    memset(big, 'A', sizeof big);
    rec_set_text(&rec, F_TLS_CIPHERS, "{}", 2);
    CHECK(rec_has(&rec, F_TLS_CIPHERS));
    rec_set_text(&rec, F_TLS_CIPHERS, big, cap + 1); /* over the cap: left out, marked */
    CHECK(!rec_has(&rec, F_TLS_CIPHERS) && (rec.truncated >> F_TLS_CIPHERS & 1u));
    rec_reset(&rec);
    rec_set_text(&rec, F_TLS_CIPHERS, big, cap); /* at the cap: kept whole */
    size_t len;
    CHECK(rec_has(&rec, F_TLS_CIPHERS) && rec_text(&rec, F_TLS_CIPHERS, &len) && len == cap);
    CHECK(rec_fields[F_TLS_CIPHERS].cap + rec_fields[F_TLS_CIPHERS_OPENSSL].cap + 4096 <= REC_ARENA_BYTES);
}

/* dane_records: an array of flat objects with string, integer and
 * boolean values */
static void test_rows_shape(void)
{
    CHECK(OK("[]"));
    CHECK(OK("[{}]"));
    CHECK(OK("[{\"mx\":\"mx1.example\",\"usage\":3,\"data\":\"\",\"usable\":true},{\"x\":0,\"y\":false}]"));
    CHECK(!OK("[{\"a\":01}]")); /* leading zero */
    CHECK(!OK("[{\"a\":-1}]")); /* non-negative only */
    CHECK(!OK("[{\"a\":1.5}]"));
    CHECK(!OK("[{\"a\":1234567890123456789}]")); /* 19 digits */
    CHECK(!OK("[{\"a\":null}]"));
    CHECK(!OK("[{\"a\":[\"b\"]}]")); /* flat only */
    CHECK(!OK("[{\"a\":{}}]"));
    CHECK(!OK("[{\"a\":\"b c\"}]")); /* name bytes only */
    CHECK(!OK("[{\"a\":\"\\u0022\"}]"));
    CHECK(!OK("[{\"a\":tru}]"));
    CHECK(!OK("[{\"a\":true}"));
    CHECK(!OK("[{\"a\":true},]"));
    CHECK(!OK("[{\"a\":true}]]"));
    CHECK(!OK("[\"a\"]"));
    CHECK(!OK("[{\"\":1}]"));
    CHECK(!OK("[{\"a\" :1}]"));
    char v[400];
    snprintf(v, sizeof v, "[{\"a\":\"%0*d\"}]", RECJSON_VALUE_MAX, 0);
    CHECK(OK(v));
    snprintf(v, sizeof v, "[{\"a\":\"%0*d\"}]", RECJSON_VALUE_MAX + 1, 0);
    CHECK(!OK(v));
}

static void test_rows_round_trip(void)
{
    static const char rows[] = "[{\"mx\":\"mx1.pol.test\",\"usage\":3,\"selector\":1,\"mtype\":1,"
                               "\"data\":\"e3ab\",\"data_len\":32,\"dnssec\":\"secure\",\"usable\":true},"
                               "{\"mx\":\"mx2\",\"usage\":0,\"usable\":false}]";
    rec_reset(&rec);
    rec_set_str(&rec, F_DOMAIN, "pol.test");
    rec_set_text(&rec, F_DANE_RECORDS, rows, strlen(rows));
    struct outbuf ob;
    CHECK(outbuf_init(&ob, 1 << 20) == 0);
    ndjson_append(&ob, &rec);
    CHECK(strstr((const char *)ob.data, "\"dane_records\":[{\"mx\":\"mx1.pol.test\",\"usage\":3,") != NULL);
    struct reader *rd = reader_new_lines();
    char err[256];
    size_t n = ob.len, len;
    while (n && ob.data[n - 1] == '\n')
        n--;
    CHECK(reader_json_line(rd, &back, (const char *)ob.data, n, err, sizeof err) == 0);
    const unsigned char *t = rec_has(&back, F_DANE_RECORDS) ? rec_text(&back, F_DANE_RECORDS, &len) : NULL;
    CHECK(t && len == strlen(rows) && memcmp(t, rows, len) == 0);
    /* CSV: one cell of JSON text */
    outbuf_reset(&ob);
    csv_append_header(&ob);
    size_t head = ob.len;
    csv_append_record(&ob, &rec);
    CHECK(strstr((const char *)ob.data + head, "\"[{\"\"mx\"\":\"\"mx1.pol.test\"\",") != NULL);
    size_t h = head, end = ob.len;
    while (h && (ob.data[h - 1] == '\n' || ob.data[h - 1] == '\r'))
        h--;
    while (end > head && (ob.data[end - 1] == '\n' || ob.data[end - 1] == '\r'))
        end--;
    CHECK(reader_csv_header(rd, (const char *)ob.data, h, err, sizeof err) == 0);
    CHECK(reader_csv_line(rd, &back, (const char *)ob.data + head, end - head, err, sizeof err) == 0);
    t = rec_has(&back, F_DANE_RECORDS) ? rec_text(&back, F_DANE_RECORDS, &len) : NULL;
    CHECK(t && len == strlen(rows) && memcmp(t, rows, len) == 0);
    /* the reader rebuilds without spaces and refuses other values */
    static const char sp[] = "{\"domain\":\"x\",\"dane_records\":[ { \"a\" : 7 , \"b\" : false } ]}";
    CHECK(reader_json_line(rd, &back, sp, sizeof sp - 1, err, sizeof err) == 0);
    t = rec_has(&back, F_DANE_RECORDS) ? rec_text(&back, F_DANE_RECORDS, &len) : NULL;
    CHECK(t && len == 19 && memcmp(t, "[{\"a\":7,\"b\":false}]", 19) == 0);
    static const char *bad[] = {
        "{\"domain\":\"x\",\"dane_records\":[{\"a\":-7}]}",
        "{\"domain\":\"x\",\"dane_records\":[{\"a\":null}]}",
        "{\"domain\":\"x\",\"dane_records\":[{\"a\":\"\\u003c\"}]}",
        "{\"domain\":\"x\",\"dane_records\":[{\"a\":[1]}]}",
        "{\"domain\":\"x\",\"dane_records\":[\"mx 3 1 1\"]}",
        "{\"domain\":\"x\",\"dane_records\":[{\"a\":1e3}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(reader_json_line(rd, &back, bad[i], strlen(bad[i]), err, sizeof err) == -1);
    /* too long: left out (never cut into invalid JSON), marked truncated */
    static char big[9000];
    memset(big, 'A', sizeof big);
    rec_set_int(&rec, F_MTA_STS_MAX_AGE, 86400); /* bit 64 or above of the 128-bit masks */
    rec_set_text(&rec, F_DANE_RECORDS, big, rec_fields[F_DANE_RECORDS].cap + 1);
    CHECK(!rec_has(&rec, F_DANE_RECORDS) && (rec.truncated >> F_DANE_RECORDS & 1u));
    CHECK(F_MTA_STS_MAX_AGE >= 64 && rec_has(&rec, F_MTA_STS_MAX_AGE)); /* other fields kept */
    /* the same for a field past bit 63 */
    rec_set_text(&rec, F_TLS_CIPHERS_OPENSSL, "{}", 2);
    rec_set_text(&rec, F_TLS_CIPHERS_OPENSSL, big, rec_fields[F_TLS_CIPHERS_OPENSSL].cap + 1);
    CHECK(!rec_has(&rec, F_TLS_CIPHERS_OPENSSL));
    reader_close(rd);
    outbuf_free(&ob);
}

int main(void)
{
    test_shape();
    test_rows_shape();
    test_rows_round_trip();
    test_round_trip();
    test_never_cut();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
