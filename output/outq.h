/*
 * outq.h - finished output on its way to a slow file: a FIFO of filled
 * buffers and one thread that writes them, so whoever fills the buffers
 * (the scanner's event loops) never waits for a disk or a pipe's reader.
 *
 * Bounded by backpressure, never by dropping: outq_push() always takes the
 * buffer. Once more than high_water bytes wait to be written, the
 * congestion flag turns true, and it stays true until the backlog has
 * fallen to half of high_water. The producer is expected to stop making
 * new output while it is set (the scanner stops launching probes; those in
 * flight still finish and push their records), so the backlog stays under
 * high_water + what was already under way + one buffer.
 *
 * The first failed write is sticky: later buffers are dropped unwritten
 * and outq_push() returns -1. Buffers are written whole, in push order,
 * by one call of the write function each.
 *
 * One producer at a time (callers on several threads serialise around
 * outq_current/outq_push); the flag and outq_failed() may be read from
 * any thread.
 */
#ifndef MAILTLS_OUTQ_H
#define MAILTLS_OUTQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "outbuf.h"

/* Writes len bytes; 0, or -1 (then the queue fails for good). */
typedef int (*outq_write_fn)(void *ctx, const unsigned char *data, size_t len);

struct outq;

/* buf_max: capacity of each buffer. Starts the writer thread. NULL when
 * out of memory or no thread could be started. */
struct outq *outq_new(size_t buf_max, size_t high_water, outq_write_fn write, void *ctx);
/* The buffer being filled. */
struct outbuf *outq_current(struct outq *q);
/* Hands the current buffer, if not empty, to the writer thread and starts
 * a new one. 0, or -1 when a write failed (sticky) or memory ran out. */
int outq_push(struct outq *q);
/* Set while the backlog is above high water (see above). */
const atomic_bool *outq_congestion(struct outq *q);
/* Bytes pushed and not yet written. */
size_t outq_backlog(struct outq *q);
bool outq_failed(struct outq *q);
/* Blocks until everything pushed so far was written (or dropped after a
 * failure). For tests and for a caller that must know the file is whole. */
void outq_drain(struct outq *q);
/* Pushes the current buffer, waits for the writer, stops it and frees the
 * queue. -1 if any write failed. */
int outq_close(struct outq *q);

#endif
