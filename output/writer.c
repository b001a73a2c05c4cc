/*
 * writer.c - out_* API of writer.h: formats records into one bounded
 * buffer and hands it to the sink every flush interval or when it passes
 * OUT_FLUSH_BYTES, whichever comes first. No flush per record: the
 * scanner's loop calls out_tick() and the buffer absorbs bursts. With
 * background, "hands it to the sink" means to the queue (outq.h) whose
 * thread calls the sink; the buffer being filled is then the queue's.
 */
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "ndjson.h"
#include "outbuf.h"
#include "outq.h"
#include "sink.h"

#define OUT_FLUSH_BYTES (256 * 1024)
/* Room past the flush threshold for one whole record: a full 6 KiB arena
 * escapes to at most 36 KiB, so 1 MiB never overflows in practice. */
#define OUT_BUF_BYTES (1024 * 1024)
#define OUT_DEFAULT_INTERVAL_MS 1000
/* Backlog at which a background writer asks for backpressure: a few
 * seconds of records at a fast scan's rate, so a reader's short pause
 * does not slow the scan, and a long one costs little memory. */
#define OUT_DEFAULT_QUEUE_BYTES (2 * 1024 * 1024)
#define OUT_ERR_BYTES 1200

struct out_writer {
    struct sink *sink;
    struct outbuf own;  /* the buffer without background */
    struct outbuf *buf; /* &own, or the queue's current buffer */
    struct outq *q;     /* background only */
    enum out_format format;
    uint64_t interval_ms;
    uint64_t last_flush_ms;
    bool has_ticked;
    char err[OUT_ERR_BYTES];
};

/* out_close() frees the writer, so its error outlives it here. */
static _Thread_local char close_err[OUT_ERR_BYTES];

static int write_to_sink(void *sink, const unsigned char *data, size_t len)
{
    return sink_write(sink, data, len);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct out_writer *out_open(const char *path, const struct out_options *opts, char *err, size_t errlen)
{
    static const struct out_options defaults = {.format = OUT_JSON};
    if (!opts)
        opts = &defaults;
    bool use_gzip = opts->gzip || (path && ends_with(path, ".gz"));
    struct out_writer *w = calloc(1, sizeof *w);
    if (!w || (!opts->background && outbuf_init(&w->own, OUT_BUF_BYTES) < 0)) {
        snprintf(err, errlen, "%s: out of memory", path ? path : "stdout");
        free(w);
        return NULL;
    }
    w->buf = &w->own;
    w->format = opts->format;
    w->interval_ms = opts->flush_interval_ms ? opts->flush_interval_ms : OUT_DEFAULT_INTERVAL_MS;
    bool was_empty = true;
    w->sink = sink_open(path, use_gzip, opts->append, &was_empty, err, errlen);
    if (!w->sink) {
        outbuf_free(&w->own);
        free(w);
        return NULL;
    }
    if (opts->background) {
        size_t high = opts->queue_bytes ? opts->queue_bytes : OUT_DEFAULT_QUEUE_BYTES;
        w->q = outq_new(OUT_BUF_BYTES, high, write_to_sink, w->sink);
        if (!w->q) {
            snprintf(err, errlen, "%s: cannot start the output thread", path ? path : "stdout");
            sink_close(w->sink, NULL, 0);
            free(w);
            return NULL;
        }
        w->buf = outq_current(w->q);
    }
    if (w->format == OUT_CSV && was_empty) /* appending: the header is there already */
        csv_append_header(w->buf);
    return w;
}

/* The sink's error (or the queue's) becomes the writer's, for good. */
static int failed(struct out_writer *w)
{
    if (!w->err[0]) {
        /* the sink sets its message before the queue sees the failure */
        const char *e = sink_error(w->sink);
        snprintf(w->err, sizeof w->err, "%s", e ? e : "output: out of memory");
    }
    return -1;
}

/* Background: the queue's failure shows at the next call of any kind. */
static bool has_failed(struct out_writer *w)
{
    if (!w->err[0] && w->q && outq_failed(w->q))
        failed(w);
    return w->err[0] != 0;
}

static int flush(struct out_writer *w)
{
    if (has_failed(w))
        return -1;
    if (w->buf->len == 0)
        return 0;
    if (w->q) {
        if (outq_push(w->q) < 0)
            return failed(w);
        w->buf = outq_current(w->q);
        return 0;
    }
    if (sink_write(w->sink, w->buf->data, w->buf->len) < 0)
        return failed(w);
    outbuf_reset(w->buf);
    return 0;
}

/* Only w->format is read: any thread may format for one writer. */
static void format_into(const struct out_writer *w, struct outbuf *b, const struct record *r)
{
    switch (w->format) {
    case OUT_JSON: ndjson_append(b, r); break;
    case OUT_CSV: csv_append_record(b, r); break;
    }
}

/* Appends one whole record, by formatting r or copying bytes formatted
 * ahead (r NULL); a record never straddles two flushes. */
static int append_record(struct out_writer *w, const struct record *r, const unsigned char *data, size_t len)
{
    if (has_failed(w))
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t mark = w->buf->len;
        if (r)
            format_into(w, w->buf, r);
        else
            outbuf_append(w->buf, data, len);
        if (!w->buf->overflow)
            break;
        outbuf_truncate(w->buf, attempt == 0 ? mark : 0);
        if (attempt == 1) {
            snprintf(w->err, sizeof w->err, "record larger than the %d-byte output buffer", OUT_BUF_BYTES);
            return -1;
        }
        if (flush(w) < 0)
            return -1;
    }
    if (w->buf->len >= OUT_FLUSH_BYTES)
        return flush(w);
    return 0;
}

int out_write(struct out_writer *w, const struct record *r)
{
    return append_record(w, r, NULL, 0);
}

void out_format(const struct out_writer *w, const struct record *r, struct outbuf *b)
{
    format_into(w, b, r);
}

int out_write_formatted(struct out_writer *w, const unsigned char *data, size_t len)
{
    return append_record(w, NULL, data, len);
}

int out_tick(struct out_writer *w, uint64_t now_ms)
{
    if (has_failed(w))
        return -1;
    if (!w->has_ticked) {
        /* The first tick only starts the clock: the caller's epoch is
         * unknown, and the first interval begins when ticking begins. */
        w->has_ticked = true;
        w->last_flush_ms = now_ms;
        return 0;
    }
    if (now_ms - w->last_flush_ms < w->interval_ms)
        return 0;
    /* Background, and the writer is still busy with earlier buffers (a
     * stalled reader): this buffer could not reach the file sooner anyway.
     * Keep filling it (the size threshold still hands it over), so a long
     * stall queues a few large buffers instead of one small one a second;
     * the next tick tries again. */
    if (w->q && outq_backlog(w->q) > 0)
        return 0;
    w->last_flush_ms = now_ms;
    return flush(w);
}

int out_close(struct out_writer *w)
{
    int rc = flush(w);
    if (w->q) {
        if (outq_close(w->q) < 0 && rc == 0)
            rc = failed(w);
        w->q = NULL;
    }
    char sink_err[OUT_ERR_BYTES];
    if (sink_close(w->sink, sink_err, sizeof sink_err) < 0 && rc == 0) {
        snprintf(w->err, sizeof w->err, "%s", sink_err);
        rc = -1;
    }
    if (rc < 0)
        snprintf(close_err, sizeof close_err, "%s", w->err);
    else
        close_err[0] = '\0';
    outbuf_free(&w->own);
    free(w);
    return rc;
}

const char *out_error(const struct out_writer *w)
{
    if (!w)
        return close_err[0] ? close_err : NULL;
    return w->err[0] ? w->err : NULL;
}

const atomic_bool *out_backpressure(struct out_writer *w)
{
    return w->q ? outq_congestion(w->q) : NULL;
}

void out_sync(struct out_writer *w)
{
    if (w->q)
        outq_drain(w->q);
}
