/*
 * sink.h - the file end of a writer: a descriptor, optionally gzip.
 *
 * sink_write() hands the bytes to the kernel before it returns (retrying
 * partial writes and EINTR, waiting out EAGAIN on a non-blocking stdout).
 * With gzip, each sink_write() call produces one complete gzip member
 * (RFC 1952 allows concatenated members; zcat and Python's gzip read them
 * as one stream), so whatever was written survives a SIGKILL intact.
 *
 * Errors are sticky: after the first failure every call returns -1 and
 * sink_error() keeps the first message, "<path>: <strerror>".
 *
 * A sink_write() that fails part-way on a regular file (full disk, quota,
 * RLIMIT_FSIZE) is cut off again with ftruncate: the file keeps exactly
 * the bytes of the calls that succeeded, so it ends on a record boundary
 * (a writer hands whole records) and on a complete gzip member. For a file
 * sink_open() opened, a full disk's message also says how to continue
 * (--resume). A pipe cannot be cut: it fails only when its reader is gone.
 */
#ifndef MAILTLS_SINK_H
#define MAILTLS_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct sink;

/* path "-" or NULL = stdout (never closed by sink_close). Returns NULL and
 * fills err on failure. */
/* append: add to an existing file (--resume) instead of truncating it;
 * *was_empty (may be NULL) tells whether the file held anything before. */
struct sink *sink_open(const char *path, bool use_gzip, bool append, bool *was_empty, char *err,
                       size_t errlen);
int sink_write(struct sink *s, const void *data, size_t len);
/* Writes an empty gzip member if none was written (so the file is valid
 * gzip), closes the descriptor, frees s. Returns -1 on any error, with the
 * message copied to err. */
int sink_close(struct sink *s, char *err, size_t errlen);
const char *sink_error(const struct sink *s);

#endif
