/* lines.c - bounded line reader over gzread; see lines.h. */
#include "lines.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LINES_BUF_BYTES (LINES_MAX_BYTES + 64 * 1024)

struct lines {
    gzFile g;
    const char *path;
    char *buf;
    size_t start, end; /* unread bytes are buf[start..end) */
    long lineno;
    bool eof;
};

struct lines *lines_open(const char *path, char *err, size_t errlen)
{
    struct lines *l = calloc(1, sizeof *l);
    if (l)
        l->buf = malloc(LINES_BUF_BYTES);
    if (!l || !l->buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (l)
            free(l);
        return NULL;
    }
    l->path = path;
    l->g = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    if (!l->g) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        free(l->buf);
        free(l);
        return NULL;
    }
    gzbuffer(l->g, 256 * 1024);
    return l;
}

/* zlib's gzerror() prefixes the path itself; the caller adds it with the
 * line number, so drop zlib's copy. */
static const char *gz_message(struct lines *l)
{
    int zerr;
    const char *msg = gzerror(l->g, &zerr);
    size_t n = strlen(l->path);
    if (strncmp(msg, l->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        msg += n + 2;
    return zerr == Z_ERRNO ? strerror(errno) : msg;
}

/* Moves unread bytes to the front and reads more. Returns -1 on error. */
static int fill(struct lines *l, char *err, size_t errlen)
{
    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
    }
    if (l->end == LINES_BUF_BYTES || l->eof)
        return 0;
    int n = gzread(l->g, l->buf + l->end, (unsigned)(LINES_BUF_BYTES - l->end));
    if (n < 0) {
        snprintf(err, errlen, "%s:%ld: %s", l->path, l->lineno + 1, gz_message(l));
        return -1;
    }
    if (n == 0) {
        /* gzread returns 0 both at a clean end and at a truncated member;
         * only gzerror tells them apart. */
        int zerr;
        gzerror(l->g, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            snprintf(err, errlen, "%s:%ld: %s", l->path, l->lineno + 1, gz_message(l));
            return -1;
        }
        l->eof = true;
    }
    l->end += (size_t)n;
    return 0;
}

int lines_next(struct lines *l, char **line, size_t *len, char *err, size_t errlen)
{
    size_t scanned = 0;
    for (;;) {
        char *p = l->buf + l->start;
        size_t avail = l->end - l->start;
        char *nl = avail > scanned ? memchr(p + scanned, '\n', avail - scanned) : NULL;
        if (nl || (l->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            if (n > LINES_MAX_BYTES) {
                snprintf(err, errlen, "%s:%ld: line longer than %d bytes", l->path, l->lineno + 1,
                         LINES_MAX_BYTES);
                return -1;
            }
            l->start += n + (nl ? 1 : 0);
            l->lineno++;
            if (n > 0 && p[n - 1] == '\r')
                n--;
            *line = p;
            *len = n;
            return 1;
        }
        if (l->eof)
            return 0;
        scanned = avail;
        if (avail > LINES_MAX_BYTES) {
            snprintf(err, errlen, "%s:%ld: line longer than %d bytes", l->path, l->lineno + 1,
                     LINES_MAX_BYTES);
            return -1;
        }
        if (fill(l, err, errlen) < 0)
            return -1;
    }
}

long lines_number(const struct lines *l)
{
    return l->lineno;
}

int lines_first_byte(struct lines *l)
{
    char err[16];
    for (;;) {
        for (size_t i = l->start; i < l->end; i++) {
            char c = l->buf[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
                return (unsigned char)c;
        }
        if (l->eof || l->end == LINES_BUF_BYTES)
            return -1;
        if (fill(l, err, sizeof err) < 0)
            return -1;
    }
}

void lines_close(struct lines *l)
{
    gzclose(l->g);
    free(l->buf);
    free(l);
}
