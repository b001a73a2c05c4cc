/*
 * reader.h - bounded line reader over a file descriptor.
 *
 * Reads with read(2) into a fixed buffer inside the struct (no heap, no
 * growth). A line is at most TGT_LINE_MAX bytes, not counting the "\n" or
 * "\r\n" that ends it. A longer line is reported once, as TOO_LONG with its
 * line number, as soon as TGT_LINE_MAX + 1 bytes have arrived without a
 * newline; the rest of it is then discarded up to its newline. A final
 * line without a newline at end of file is still returned.
 *
 * On a nonblocking fd, EAGAIN gives WAIT: call again when the fd is
 * readable. EINTR is retried here, never seen by the caller.
 *
 * A terminal or FIFO that is not O_NONBLOCK (checked at init; a terminal
 * must not be switched, the shell shares it) is read without blocking all
 * the same: the reader polls it first and gives WAIT while no line has
 * been typed, and an EINTR there is WAIT too, so a Ctrl-C reaches the
 * caller's event loop instead of leaving it stuck in read(2).
 */
#ifndef MAILTLS_TGT_READER_H
#define MAILTLS_TGT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TGT_LINE_MAX 4096

enum tgt_read {
    TGT_READ_LINE,     /* *line, *len set; valid until the next call */
    TGT_READ_TOO_LONG, /* line number r->lineno was longer than TGT_LINE_MAX */
    TGT_READ_WAIT,     /* nonblocking fd has no complete line yet */
    TGT_READ_EOF,      /* everything returned; keeps returning EOF */
    TGT_READ_ERROR,    /* read(2) failed; *errnum holds errno */
};

struct tgt_reader {
    int fd;
    bool is_eof;
    bool is_skipping; /* inside an over-long line, dropping bytes */
    bool is_polled;   /* blocking terminal or FIFO: poll before each read */
    size_t start;     /* first unconsumed byte in buf */
    size_t len;       /* unconsumed bytes */
    uint64_t lineno;  /* number of the line last returned (1-based) */
    char buf[2 * TGT_LINE_MAX];
};

/* The reader does not own fd: the caller closes it. */
void tgt_reader_init(struct tgt_reader *r, int fd);
enum tgt_read tgt_reader_next(struct tgt_reader *r, const char **line, size_t *len, int *errnum);

#endif
