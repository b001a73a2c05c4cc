/* xsort.c - runs sorted in memory, spilled, merged; see xsort.h. */
#include "xsort.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap.h"

#define XSORT_WINDOW_MAX (64 * 1024)
#define XSORT_WINDOW_MIN (2 * SNAP_PACKED_MAX)
#define XSORT_WRITE_BUF (256 * 1024)

struct run {
    off_t pos, end;     /* file bytes not yet read */
    unsigned char *buf; /* window */
    size_t start, fill; /* unread window bytes are buf[start..fill) */
    size_t cap;
    const unsigned char *head; /* current snap, or NULL when done */
    size_t head_len;
};

struct xsort {
    int fd;
    unsigned char *buf; /* run buffer while adding */
    size_t buf_cap, buf_used;
    uint32_t *offs; /* snap offsets in buf */
    size_t n_offs, offs_cap;
    size_t mem_bytes;
    off_t file_end;
    struct run *runs;
    size_t n_runs, runs_cap;
    struct run *last; /* run whose head xsort_next returned last */
    uint64_t records;
    uint64_t spilled;
};

struct xsort *xsort_new(size_t mem_bytes, const char *tmpdir, char *err, size_t errlen)
{
    struct xsort *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->fd = -1;
    x->mem_bytes = mem_bytes;
    /* about 3/4 for the snaps, 1/4 for their offsets (snaps are >= 40 bytes) */
    x->buf_cap = mem_bytes / 4 * 3;
    x->offs_cap = mem_bytes / 4 / sizeof *x->offs;
    x->buf = malloc(x->buf_cap);
    x->offs = malloc(x->offs_cap * sizeof *x->offs);
    char path[4096];
    snprintf(path, sizeof path, "%s/mailtls-diff-XXXXXX", tmpdir);
    if (x->buf && x->offs)
        x->fd = mkstemp(path);
    if (x->fd < 0) {
        snprintf(err, errlen, "%s: %s", x->buf && x->offs ? path : "memory",
                 x->buf && x->offs ? strerror(errno) : "out of memory");
        xsort_free(x);
        return NULL;
    }
    unlink(path);
    return x;
}

static int cmp_offs(const void *a, const void *b, void *ctx)
{
    const unsigned char *buf = ctx;
    return snap_cmp_packed(buf + *(const uint32_t *)a, buf + *(const uint32_t *)b);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spill(struct xsort *x, char *err, size_t errlen)
{
    if (x->n_offs == 0)
        return 0;
    if (x->n_runs == x->runs_cap) {
        size_t cap = x->runs_cap ? x->runs_cap * 2 : 16;
        struct run *r = realloc(x->runs, cap * sizeof *r);
        if (!r) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        x->runs = r;
        x->runs_cap = cap;
    }
    qsort_r(x->offs, x->n_offs, sizeof *x->offs, cmp_offs, x->buf);
    static unsigned char out[XSORT_WRITE_BUF];
    size_t used = 0;
    off_t start = x->file_end;
    for (size_t i = 0; i < x->n_offs; i++) {
        const unsigned char *p = x->buf + x->offs[i];
        size_t n = (size_t)(p[0] | p[1] << 8);
        if (used + n > sizeof out) {
            if (write_all(x->fd, out, used) < 0)
                goto fail;
            used = 0;
        }
        memcpy(out + used, p, n);
        used += n;
        x->file_end += (off_t)n;
    }
    if (write_all(x->fd, out, used) < 0)
        goto fail;
    x->runs[x->n_runs++] = (struct run){.pos = start, .end = x->file_end};
    x->spilled += (uint64_t)(x->file_end - start);
    x->n_offs = 0;
    x->buf_used = 0;
    return 0;
fail:
    snprintf(err, errlen, "temporary file: %s", strerror(errno));
    return -1;
}

int xsort_add(struct xsort *x, const unsigned char *packed, size_t len, char *err, size_t errlen)
{
    if (x->buf_used + len > x->buf_cap || x->n_offs == x->offs_cap)
        if (spill(x, err, errlen) < 0)
            return -1;
    memcpy(x->buf + x->buf_used, packed, len);
    x->offs[x->n_offs++] = (uint32_t)x->buf_used;
    x->buf_used += len;
    x->records++;
    return 0;
}

/* Makes r->head the next snap of the run, or NULL at its end. */
static int run_advance(struct xsort *x, struct run *r, char *err, size_t errlen)
{
    for (;;) {
        size_t avail = r->fill - r->start;
        if (avail >= 2) {
            const unsigned char *p = r->buf + r->start;
            size_t n = (size_t)(p[0] | p[1] << 8);
            if (n < 6 || n > SNAP_PACKED_MAX) {
                snprintf(err, errlen, "temporary file: damaged run");
                return -1;
            }
            if (avail >= n) {
                r->head = p;
                r->head_len = n;
                r->start += n;
                return 0;
            }
        }
        if (r->pos == r->end) {
            if (avail) {
                snprintf(err, errlen, "temporary file: damaged run");
                return -1;
            }
            r->head = NULL;
            return 0;
        }
        memmove(r->buf, r->buf + r->start, avail);
        r->start = 0;
        r->fill = avail;
        size_t want = r->cap - avail;
        if ((off_t)want > r->end - r->pos)
            want = (size_t)(r->end - r->pos);
        ssize_t got = pread(x->fd, r->buf + r->fill, want, r->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(err, errlen, "temporary file: %s", got < 0 ? strerror(errno) : "short read");
            return -1;
        }
        r->fill += (size_t)got;
        r->pos += got;
    }
}

int xsort_finish(struct xsort *x, char *err, size_t errlen)
{
    if (spill(x, err, errlen) < 0)
        return -1;
    free(x->buf);
    free(x->offs);
    x->buf = NULL;
    x->offs = NULL;
    size_t win = x->n_runs ? x->mem_bytes / x->n_runs : XSORT_WINDOW_MAX;
    win = win > XSORT_WINDOW_MAX ? XSORT_WINDOW_MAX : win < XSORT_WINDOW_MIN ? XSORT_WINDOW_MIN : win;
    for (size_t i = 0; i < x->n_runs; i++) {
        struct run *r = &x->runs[i];
        r->cap = win;
        r->buf = malloc(win);
        if (!r->buf) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (run_advance(x, r, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int xsort_next(struct xsort *x, const unsigned char **packed, size_t *len, char *err, size_t errlen)
{
    /* A linear pick over the run heads: runs are few (input size divided
     * by the memory budget), so a heap would not pay for itself. The head
     * returned last is advanced first, so the caller's pointer stays
     * valid until this call. */
    if (x->last && run_advance(x, x->last, err, errlen) < 0)
        return -1;
    x->last = NULL;
    struct run *best = NULL;
    for (size_t i = 0; i < x->n_runs; i++) {
        struct run *r = &x->runs[i];
        if (r->head && (!best || snap_cmp_packed(r->head, best->head) < 0))
            best = r;
    }
    if (!best)
        return 0;
    *packed = best->head;
    *len = best->head_len;
    x->last = best;
    return 1;
}

uint64_t xsort_records(const struct xsort *x)
{
    return x->records;
}

size_t xsort_runs(const struct xsort *x)
{
    return x->n_runs;
}

uint64_t xsort_spilled_bytes(const struct xsort *x)
{
    return x->spilled;
}

void xsort_free(struct xsort *x)
{
    if (!x)
        return;
    if (x->fd >= 0)
        close(x->fd);
    for (size_t i = 0; i < x->n_runs; i++)
        free(x->runs[i].buf);
    free(x->runs);
    free(x->buf);
    free(x->offs);
    free(x);
}
