/*
 * writer.h - streams finished records to a file or stdout as NDJSON or CSV,
 * optionally gzip-compressed.
 *
 * Contract:
 *  - out_open() opens path ("-" or NULL = stdout). gzip is used when
 *    opts->gzip is set or the path ends in ".gz".
 *  - out_write() appends one record. It never blocks the caller on flushing
 *    more than one buffer's worth; data reaches the file at least every
 *    flush interval (out_tick) so that a SIGKILL loses at most the last
 *    second: for gzip, each flush ends a complete gzip member, so zcat of a
 *    killed scan's file recovers every record flushed before the kill.
 *  - Every write error (full disk, closed pipe) is reported: the function
 *    returns -1 and out_error() names the path and the errno text. The
 *    caller stops the scan with a non-zero exit.
 *  - out_close() flushes, ends the gzip stream, closes, and reports errors.
 *    It frees the writer in every case; after it returned -1, out_error(NULL)
 *    gives the message (per thread, until the next out_close()).
 *  - No flush per record: records collect in one 1 MiB buffer that is
 *    written when it passes 256 KiB or when out_tick() finds the interval
 *    passed (the first out_tick() only starts the clock).
 *  - opts may be NULL (NDJSON, no gzip, 1000 ms). One writer is not
 *    thread-safe: callers on several threads serialise around it.
 *  - opts->background: the buffers are written by a thread of the writer's
 *    own (output/outq.h), so out_write/out_tick never wait for the disk or
 *    a pipe's reader. A write error then shows at a later call. The
 *    backlog is bounded by backpressure, never by dropping records: while
 *    more than queue_bytes wait, out_backpressure() reads true and the
 *    caller should stop producing new records (the scanner launches no
 *    new probe but finishes those in flight).
 *  - A failed write (full disk) leaves a regular file ending on a record
 *    boundary and, with gzip, on a complete member: the partial write is
 *    cut off again (sink.h). The error names the path once per writer.
 * Formats and escaping: output/SCHEMA-OUTPUT.md.
 */
#ifndef MAILTLS_WRITER_H
#define MAILTLS_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbuf.h"
#include "record.h"

enum out_format { OUT_JSON, OUT_CSV };

struct out_options {
    enum out_format format;
    bool gzip;
    unsigned flush_interval_ms; /* 0 = default 1000 */
    bool append;                /* add to the file (--resume); CSV header only if it is empty */
    bool background;            /* write on a thread of the writer's own (see above) */
    size_t queue_bytes;         /* background: backpressure above this backlog; 0 = default 2 MiB */
};

struct out_writer;

struct out_writer *out_open(const char *path, const struct out_options *opts, char *err, size_t errlen);
int out_write(struct out_writer *w, const struct record *r);
/* Call periodically with a monotonic clock; flushes when the interval passed. */
int out_tick(struct out_writer *w, uint64_t now_ms);
int out_close(struct out_writer *w);
const char *out_error(const struct out_writer *w);
/* Formatting ahead, for callers that serialise out_write under a lock of
 * their own: out_format() appends r to b exactly as out_write() would
 * format it, reading nothing of the writer but its fixed format, so any
 * thread may call it at any time (with its own b) while another writes.
 * out_write_formatted() then appends those bytes: one or more whole
 * records, as out_write() would have. b->overflow set: the record did not
 * fit b; use out_write() instead. */
void out_format(const struct out_writer *w, const struct record *r, struct outbuf *b);
int out_write_formatted(struct out_writer *w, const unsigned char *data, size_t len);
/* background: true while the backlog is above queue_bytes (readable from
 * any thread without a lock). NULL for a writer without background. */
const atomic_bool *out_backpressure(struct out_writer *w);
/* background: waits until every record handed over so far is written. */
void out_sync(struct out_writer *w);

#endif
