/*
 * test_out_queue.c - the output queue (outq.h), the background writer and
 * a write that fails part-way.
 *
 *  - outq alone, with a write function the test opens and closes like a
 *    gate: pushes never wait for it, buffers come out whole and in order,
 *    congestion turns on above high water and off only at half of it, and
 *    a failed write is sticky.
 *  - out_* with background on a pipe nobody reads: out_write/out_tick stay
 *    fast, backpressure turns on, and once a reader drains the pipe every
 *    record arrives, in order.
 *  - a file that stops growing (RLIMIT_FSIZE stands in for a full disk):
 *    NDJSON, CSV and gzip, with and without background: the file ends on a
 *    record boundary / complete gzip member and the error names the path.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../output/outq.h"
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

static char tmpdir[] = "/tmp/test_out_queue.XXXXXX";

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- outq with a gated write function -------------------------------- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int permits; /* writes allowed to finish; -1 = any number */
    int done;    /* writes finished */
    int fail_at; /* this write (1-based) fails; 0 = none */
    unsigned char out[65536];
    size_t out_len;
};

static int gated_write(void *ctx, const unsigned char *data, size_t len)
{
    struct gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    while (g->permits == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    if (g->permits > 0)
        g->permits--;
    int rc = 0;
    if (g->fail_at && g->done + 1 == g->fail_at) {
        rc = -1;
    } else if (g->out_len + len <= sizeof g->out) {
        memcpy(g->out + g->out_len, data, len);
        g->out_len += len;
    }
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static void gate_allow(struct gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    g->permits = n < 0 ? -1 : g->permits + n;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_done(struct gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->done < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Fills the current buffer with len bytes of `c` and pushes it. */
static int push_bytes(struct outq *q, unsigned char c, size_t len)
{
    unsigned char tmp[1024];
    memset(tmp, c, sizeof tmp);
    struct outbuf *b = outq_current(q);
    CHECK(b->len == 0);
    outbuf_append(b, tmp, len);
    return outq_push(q);
}

/* Waits (bounded) until the backlog is at most n bytes. */
static void wait_backlog(struct outq *q, size_t n)
{
    for (int i = 0; i < 2000 && outq_backlog(q) > n; i++)
        usleep(1000);
}

static void test_queue_backpressure(void)
{
    static struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct outq *q = outq_new(1024, 4096, gated_write, &g);
    CHECK(q != NULL);
    if (!q)
        return;
    const atomic_bool *congested = outq_congestion(q);
    CHECK(!atomic_load(congested));
    CHECK(outq_push(q) == 0); /* an empty buffer is not queued */
    CHECK(outq_backlog(q) == 0);

    /* The writer is stuck in the first write; pushes still return at once. */
    uint64_t t0 = mono_ms();
    for (int i = 0; i < 4; i++)
        CHECK(push_bytes(q, (unsigned char)('a' + i), 1000) == 0);
    CHECK(outq_backlog(q) == 4000);
    CHECK(!atomic_load(congested)); /* 4000 <= 4096 */
    CHECK(push_bytes(q, 'e', 1000) == 0);
    CHECK(outq_backlog(q) == 5000);
    CHECK(atomic_load(congested)); /* above high water */
    CHECK(mono_ms() - t0 < 500);   /* nobody waited for the writer */

    /* Hysteresis: one buffer written leaves 4000, still above half. */
    gate_allow(&g, 1);
    gate_wait_done(&g, 1);
    wait_backlog(q, 4000);
    CHECK(outq_backlog(q) == 4000);
    CHECK(atomic_load(congested));
    /* two more: 2000 <= 2048 ends it */
    gate_allow(&g, 2);
    gate_wait_done(&g, 3);
    wait_backlog(q, 2000);
    CHECK(outq_backlog(q) == 2000);
    CHECK(!atomic_load(congested));

    gate_allow(&g, -1);
    outq_drain(q);
    CHECK(outq_backlog(q) == 0);
    CHECK(g.out_len == 5000);
    for (size_t i = 0; i < g.out_len; i++)
        if (g.out[i] != (unsigned char)('a' + i / 1000)) {
            CHECK(!"buffers written whole and in push order");
            break;
        }

    /* A failed write is sticky: later buffers are dropped, pushes fail. */
    g.fail_at = g.done + 1;
    size_t before = g.out_len;
    CHECK(push_bytes(q, 'x', 100) == 0); /* taken; its write fails */
    gate_wait_done(&g, g.fail_at);
    wait_backlog(q, 0);
    CHECK(outq_failed(q));
    CHECK(push_bytes(q, 'y', 100) == -1);
    CHECK(outq_current(q)->len == 0); /* the refused buffer is emptied */
    CHECK(outq_close(q) == -1);
    CHECK(g.out_len == before);
}

/* ---- the background writer on a pipe nobody reads --------------------- */

static void fill_record(struct record *r, int seq)
{
    rec_reset(r);
    rec_set_str(r, F_IP, "127.0.0.1");
    rec_set_int(r, F_PORT, 25);
    rec_set_str(r, F_PROTOCOL, "smtp");
    rec_set_str(r, F_TLS_MODE, "starttls");
    rec_set_status(r, STATUS_OK);
    rec_set_str(r, F_BANNER, "220 mx.example.test ESMTP a banner of some length to make records larger\r\n");
    /* 64 hex digits that do not repeat: gzip output grows too */
    char hex[65];
    uint64_t x = (uint64_t)seq * 0x9e3779b97f4a7c15ull + 1;
    for (int k = 0; k < 64; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hex[k] = "0123456789abcdef"[x & 15];
    }
    hex[64] = '\0';
    rec_set_str(r, F_CERT_SHA256, hex);
    rec_set_int(r, F_TIME_MS, seq);
}

struct reader {
    int fd;
    char *data;
    size_t len, cap;
};

static void *read_all(void *arg)
{
    struct reader *rd = arg;
    for (;;) {
        if (rd->len == rd->cap) {
            rd->cap = rd->cap ? rd->cap * 2 : 1 << 20;
            rd->data = realloc(rd->data, rd->cap);
        }
        ssize_t n = read(rd->fd, rd->data + rd->len, rd->cap - rd->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        rd->len += (size_t)n;
    }
    return NULL;
}

/* Lines of NDJSON whose time_ms are 0..n-1 in order. */
static bool lines_in_order(const char *p, size_t len, int n)
{
    int seq = 0;
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        const char *t = strstr(p, "\"time_ms\":");
        if (!t || t > nl || atoi(t + 10) != seq)
            return false;
        seq++;
        p = nl + 1;
    }
    return seq == n;
}

static void test_background_pipe(void)
{
    enum { N = 3000 };
    int fds[2];
    CHECK(pipe(fds) == 0);
    char path[64], err[256];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[1]);
    struct out_options o = {.format = OUT_JSON, .background = true, .queue_bytes = 64 * 1024};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    close(fds[1]); /* the writer has its own descriptor */
    if (!w)
        return;
    const atomic_bool *bp = out_backpressure(w);
    CHECK(bp != NULL && !atomic_load(bp));
    static struct record r;
    uint64_t worst = 0, t = 0;
    bool saw_backpressure = false;
    CHECK(out_tick(w, t) == 0);
    for (int i = 0; i < N; i++) {
        fill_record(&r, i);
        uint64_t t0 = mono_ms();
        CHECK(out_write(w, &r) == 0);
        if (i % 100 == 99)
            CHECK(out_tick(w, t += 1000) == 0); /* every call a flush */
        uint64_t took = mono_ms() - t0;
        worst = took > worst ? took : worst;
        saw_backpressure |= atomic_load(bp);
    }
    /* ~600 KB handed over, a 64 KiB pipe that nobody reads */
    CHECK(worst < 200);
    CHECK(saw_backpressure && atomic_load(bp));
    struct reader rd = {.fd = fds[0]};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, read_all, &rd) == 0);
    out_sync(w);
    CHECK(!atomic_load(bp));
    CHECK(out_close(w) == 0);
    pthread_join(th, NULL);
    close(fds[0]);
    CHECK(lines_in_order(rd.data, rd.len, N));
    free(rd.data);
}

/* ---- a file that cannot grow ----------------------------------------- */

#define FSIZE_LIMIT 100000

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(4 * FSIZE_LIMIT + 1);
    *len = fread(buf, 1, 4 * FSIZE_LIMIT, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Inflates concatenated gzip members; false if any is damaged or cut. */
static bool gunzip_all(const unsigned char *p, size_t len, char *out, size_t cap, size_t *out_len)
{
    *out_len = 0;
    while (len > 0) {
        z_stream z = {0};
        if (inflateInit2(&z, 15 + 16) != Z_OK)
            return false;
        z.next_in = (Bytef *)p;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)out + *out_len;
        z.avail_out = (uInt)(cap - *out_len);
        int rc = inflate(&z, Z_FINISH);
        size_t used = len - z.avail_in;
        *out_len = cap - z.avail_out;
        inflateEnd(&z);
        if (rc != Z_STREAM_END)
            return false;
        p += used;
        len -= used;
    }
    return true;
}

/* Each line is one whole record: NDJSON {..}, CSV 8 or more fields. */
static bool whole_records(const char *p, size_t len, bool csv, int *lines)
{
    *lines = 0;
    if (len == 0)
        return true;
    if (p[len - 1] != '\n')
        return false;
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        if (csv ? n < 2 || p[n - 1] != '\r' : n < 2 || p[0] != '{' || p[n - 1] != '}')
            return false;
        (*lines)++;
        p = nl + 1;
    }
    return true;
}

/* In the child: writes records until the file cannot grow. 0 = all good. */
static int full_file_case(const char *name, enum out_format fmt, bool gz, bool background)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s-%d", tmpdir, name, background);
    struct out_options o = {.format = fmt, .gzip = gz, .background = background};
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return 1;
    static struct record r;
    int i, rc = 0;
    uint64_t t = 0;
    out_tick(w, t);
    for (i = 0; i < 20000 && rc == 0; i++) {
        fill_record(&r, i);
        rc = out_write(w, &r);
        if (rc == 0 && i % 40 == 39)
            rc = out_tick(w, t += 1000);
        if (background && i % 40 == 39)
            out_sync(w); /* let the failure show while the loop runs */
    }
    CHECK(rc == -1);
    CHECK(out_close(w) == -1);
    const char *msg = out_error(NULL);
    CHECK(msg && strstr(msg, path) && strstr(msg, strerror(EFBIG)) && strstr(msg, "--resume"));
    size_t len;
    char *raw = slurp(path, &len);
    CHECK(raw && len > 1000 && len <= FSIZE_LIMIT);
    if (!raw)
        return 1;
    static char plain[64 * FSIZE_LIMIT];
    size_t plen = len;
    const char *text = raw;
    if (gz) {
        CHECK(gunzip_all((unsigned char *)raw, len, plain, sizeof plain, &plen));
        text = plain;
    }
    int lines = 0;
    bool whole = whole_records(text, plen, fmt == OUT_CSV, &lines);
    if (!whole)
        fprintf(stderr, "%s: the file does not end on a record boundary\n", path);
    CHECK(whole);
    CHECK(lines > 10 && lines < i);
    free(raw);
    return 0;
}

static void test_full_file(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN); /* then write(2) fails with EFBIG, as on a full disk */
        struct rlimit rl = {FSIZE_LIMIT, FSIZE_LIMIT};
        setrlimit(RLIMIT_FSIZE, &rl);
        for (int bg = 0; bg < 2; bg++) {
            full_file_case("full.json", OUT_JSON, false, bg);
            full_file_case("full.csv", OUT_CSV, false, bg);
            full_file_case("full.json.gz", OUT_JSON, true, bg);
        }
        _exit(failures ? 1 : 0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    test_queue_backpressure();
    test_background_pipe();
    test_full_file();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_out_queue: all checks passed\n");
    return 0;
}
