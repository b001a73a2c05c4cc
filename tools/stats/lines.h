/*
 * lines.h - reads a plain or gzip file (zlib's gzread handles both, and
 * concatenated gzip members) as lines of at most LINES_MAX_BYTES.
 *
 * The returned line excludes "\n" and a "\r" before it, points into the
 * reader's buffer and stays valid until the next call. A longer line, a
 * read error or a damaged gzip stream is an error with the line number.
 */
#ifndef MAILTLS_STATS_LINES_H
#define MAILTLS_STATS_LINES_H

#include <stddef.h>

#define LINES_MAX_BYTES (1024 * 1024)

struct lines;

struct lines *lines_open(const char *path, char *err, size_t errlen);
/* Returns 1 with a line, 0 at the end, -1 on error (message in err,
 * "<path>:<line>: <what>"). */
int lines_next(struct lines *l, char **line, size_t *len, char *err, size_t errlen);
/* Number of the line last returned (1-based). */
long lines_number(const struct lines *l);
/* Peeks at the first non-empty byte of the file without consuming it;
 * returns it, or -1 for an empty file or an error. */
int lines_first_byte(struct lines *l);
void lines_close(struct lines *l);

#endif
