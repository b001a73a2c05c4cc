/*
 * reader.c - bounded line reader (see reader.h).
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A terminal is never switched to O_NONBLOCK (the shell shares it and would
 * keep the flag after we exit), nor is a FIFO given with -i: such an fd is
 * asked first whether a line is there (a terminal in canonical mode is
 * readable only once a whole line or Ctrl-D was typed). Regular files
 * never block; nonblocking fds say EAGAIN themselves. */
static bool must_poll(int fd)
{
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    return fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && flags >= 0 && !(flags & O_NONBLOCK);
}

/* True when read(2) would block. */
static bool would_block(const struct tgt_reader *r)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

void tgt_reader_init(struct tgt_reader *r, int fd)
{
    r->fd = fd;
    r->is_eof = false;
    r->is_skipping = false;
    r->start = 0;
    r->len = 0;
    r->lineno = 0;
    r->is_polled = must_poll(fd);
}

/* One read into the free tail of buf; the only place EINTR/EAGAIN appear.
 * Returns 1 data, 0 eof, -2 would block, -1 error (errno kept in *errnum). */
static int fill(struct tgt_reader *r, int *errnum)
{
    ssize_t got;

    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len);
        r->start = 0;
    }
    for (;;) {
        if (r->is_polled && would_block(r))
            return -2;
        got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got > 0) {
            r->len += (size_t)got;
            return 1;
        }
        if (got == 0) {
            r->is_eof = true;
            return 0;
        }
        if (errno == EINTR && !r->is_polled)
            continue;
        if (errno == EINTR) /* Ctrl-C at the terminal: let the caller see its stop */
            return -2;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        *errnum = errno;
        return -1;
    }
}

/* Hands out the n bytes at start as line number lineno + 1 and consumes
 * them plus `extra` (the newline). The length check happens here, after the
 * CR is dropped, so a CRLF line may hold exactly TGT_LINE_MAX bytes. */
static enum tgt_read emit(struct tgt_reader *r, size_t n, size_t extra, const char **line, size_t *len)
{
    const char *p = r->buf + r->start;

    r->start += n + extra;
    r->len -= n + extra;
    r->lineno++;
    /* Windows files: drop the CR of a CRLF ending. */
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n > TGT_LINE_MAX)
        return TGT_READ_TOO_LONG;
    *line = p;
    *len = n;
    return TGT_READ_LINE;
}

enum tgt_read tgt_reader_next(struct tgt_reader *r, const char **line, size_t *len, int *errnum)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->len);

        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->start));
            if (r->is_skipping) {
                /* The end of a line already reported as too long. */
                r->is_skipping = false;
                r->start += n + 1;
                r->len -= n + 1;
                continue;
            }
            return emit(r, n, 1, line, len);
        }
        if (r->is_skipping) {
            r->start = 0;
            r->len = 0;
        } else if (r->len > TGT_LINE_MAX + 1) {
            /* Too long whatever follows (one byte of slack for a CR). */
            r->lineno++;
            r->is_skipping = true;
            r->start = 0;
            r->len = 0;
            return TGT_READ_TOO_LONG;
        }
        if (r->is_eof) {
            if (r->len > 0)
                return emit(r, r->len, 0, line, len);
            r->is_skipping = false;
            return TGT_READ_EOF;
        }
        switch (fill(r, errnum)) {
        case 1:
        case 0: break;
        case -2: return TGT_READ_WAIT;
        default: return TGT_READ_ERROR;
        }
    }
}
