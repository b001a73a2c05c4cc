/*
 * test_out_ahead.c - records formatted ahead (out_format, on several
 * threads at once) and appended under a lock (out_write_formatted) give
 * the same file, byte for byte, as out_write of the same records, in JSON
 * and CSV, plain and gzip, with the background writer thread; a record
 * that does not fit the caller's buffer is flagged, never cut.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../output/outbuf.h"
#include "../../output/record.h"
#include "../../output/writer.h"
#include "check.h"

#define N_RECORDS 3000
#define N_THREADS 4

static char tmpdir[] = "/tmp/test_out_ahead.XXXXXX";

/* Record i: varied sizes and awkward bytes, so records cross the writer's
 * 256 KiB flush threshold at different offsets. */
static void fill(struct record *r, int i)
{
    char ip[32], banner[600];
    rec_reset(r);
    snprintf(ip, sizeof ip, "192.0.2.%d", i % 250 + 1);
    rec_set_str(r, F_IP, ip);
    rec_set_int(r, F_PORT, 25 + i % 3);
    rec_set_str(r, F_PROTOCOL, "smtp");
    int n = snprintf(banner, sizeof banner, "220 mx%d \"q\", c\r\n\x01\xff", i);
    for (int k = 0; k < i % 7 * 60 && n < (int)sizeof banner - 1; k++)
        banner[n++] = (char)('a' + (i + k) % 26);
    rec_set_text(r, F_BANNER, banner, (size_t)n);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "AUTH PLAIN|LOGIN", 16);
    rec_set_bool(r, F_STARTTLS_OK, i % 2);
    rec_set_int(r, F_TIME_MS, i);
    rec_set_status(r, i % 5 ? STATUS_OK : STATUS_READ_TIMEOUT);
}

static char *slurp(const char *path, size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    gzFile f = gzopen(path, "rb"); /* reads plain files as they are */
    if (!f || !buf) {
        free(buf);
        return NULL;
    }
    for (;;) {
        if (cap - n < 65536)
            buf = realloc(buf, cap *= 2);
        int got = gzread(f, buf + n, 65536);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    gzclose(f);
    *len = n;
    return buf;
}

/* The reference: every record through out_write, in order. */
static void write_plain(const char *path, const struct out_options *o)
{
    char err[256];
    struct out_writer *w = out_open(path, o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    struct record *r = malloc(sizeof *r);
    for (int i = 0; i < N_RECORDS; i++) {
        fill(r, i);
        CHECK(out_write(w, r) == 0);
    }
    CHECK(out_close(w) == 0);
    free(r);
}

/* Threads format ahead and append in turn (a ticket per record keeps the
 * reference's order, so the files must be equal). */
struct ahead_run {
    struct out_writer *w;
    pthread_mutex_t mu;
    pthread_cond_t turn;
    int next; /* the record whose bytes go in next */
    int errors;
};

struct ahead_thread {
    struct ahead_run *run;
    int first; /* records first, first + N_THREADS, ... */
};

static void *format_ahead(void *arg)
{
    struct ahead_thread *t = arg;
    struct ahead_run *run = t->run;
    struct record *r = malloc(sizeof *r);
    struct outbuf b;
    if (!r || outbuf_init(&b, 64 * 1024) < 0) {
        free(r);
        return NULL;
    }
    for (int i = t->first; i < N_RECORDS; i += N_THREADS) {
        fill(r, i);
        outbuf_reset(&b);
        out_format(run->w, r, &b); /* no lock: other threads append meanwhile */
        pthread_mutex_lock(&run->mu);
        while (run->next != i)
            pthread_cond_wait(&run->turn, &run->mu);
        if (b.overflow || out_write_formatted(run->w, b.data, b.len) < 0)
            run->errors++;
        run->next++;
        pthread_cond_broadcast(&run->turn);
        pthread_mutex_unlock(&run->mu);
    }
    outbuf_free(&b);
    free(r);
    return NULL;
}

static void write_ahead(const char *path, const struct out_options *o)
{
    char err[256];
    struct ahead_run run = {.w = out_open(path, o, err, sizeof err)};
    CHECK(run.w != NULL);
    if (!run.w)
        return;
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.turn, NULL);
    pthread_t tid[N_THREADS];
    struct ahead_thread t[N_THREADS];
    for (int k = 0; k < N_THREADS; k++) {
        t[k] = (struct ahead_thread){.run = &run, .first = k};
        CHECK(pthread_create(&tid[k], NULL, format_ahead, &t[k]) == 0);
    }
    for (int k = 0; k < N_THREADS; k++)
        pthread_join(tid[k], NULL);
    CHECK(run.next == N_RECORDS);
    CHECK(run.errors == 0);
    CHECK(out_close(run.w) == 0);
    pthread_cond_destroy(&run.turn);
    pthread_mutex_destroy(&run.mu);
}

static void test_same_bytes(enum out_format fmt, bool gzip)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/ref-%d-%d", tmpdir, (int)fmt, gzip);
    snprintf(b, sizeof b, "%s/ahead-%d-%d", tmpdir, (int)fmt, gzip);
    struct out_options o = {.format = fmt, .gzip = gzip, .background = true};
    write_plain(a, &o);
    write_ahead(b, &o);
    size_t la = 0, lb = 0;
    char *da = slurp(a, &la), *db = slurp(b, &lb);
    CHECK(da && db);
    CHECK(la > 256 * 1024 * 2); /* several flushes happened */
    CHECK(la == lb && da && db && memcmp(da, db, la) == 0);
    /* one line per record (CSV: plus its header) */
    size_t lines = 0;
    for (size_t i = 0; da && i < la; i++)
        lines += da[i] == '\n';
    CHECK(lines == N_RECORDS + (fmt == OUT_CSV ? 1 : 0));
    free(da);
    free(db);
    unlink(a);
    unlink(b);
}

/* A buffer too small for the record: flagged, so the caller uses
 * out_write; nothing half-formatted would be appended. */
static void test_overflow_flagged(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/small", tmpdir);
    struct out_writer *w = out_open(path, NULL, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    struct record *r = malloc(sizeof *r);
    fill(r, 6);
    struct outbuf b;
    CHECK(outbuf_init(&b, 64) == 0);
    out_format(w, r, &b);
    CHECK(b.overflow);
    outbuf_free(&b);
    CHECK(outbuf_init(&b, 64 * 1024) == 0);
    out_format(w, r, &b);
    CHECK(!b.overflow && b.len > 64 && b.data[b.len - 1] == '\n');
    CHECK(out_write_formatted(w, b.data, b.len) == 0);
    CHECK(out_close(w) == 0);
    size_t len = 0;
    char *d = slurp(path, &len);
    CHECK(d && len == b.len && memcmp(d, b.data, len) == 0);
    free(d);
    outbuf_free(&b);
    free(r);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_same_bytes(OUT_JSON, false);
    test_same_bytes(OUT_CSV, false);
    test_same_bytes(OUT_JSON, true);
    test_same_bytes(OUT_CSV, true);
    test_overflow_flagged();
    rmdir(tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
