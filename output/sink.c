/* sink.c - write(2) loop and per-flush gzip members; see sink.h. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SINK_ZOUT_BYTES (64 * 1024)
#define SINK_PATH_MAX 1024

struct sink {
    int fd;
    bool owns_fd;
    bool regular; /* a regular file: a failed write can be cut off again */
    bool appends; /* O_APPEND: every write goes to the end whatever the offset */
    bool use_gzip;
    bool failed;
    bool wrote_member;
    z_stream z;
    char path[SINK_PATH_MAX];
    char err[SINK_PATH_MAX + 128];
    unsigned char zout[SINK_ZOUT_BYTES];
};

static void fail(struct sink *s, int errnum)
{
    if (s->failed)
        return;
    s->failed = true;
    snprintf(s->err, sizeof s->err, "%s: %s", s->path, strerror(errnum));
}

static bool is_space_error(int errnum)
{
    return errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG;
}

/* Where the next write lands, to cut a failed one off again; -1 = cannot. */
static off_t write_offset(const struct sink *s)
{
    if (!s->regular)
        return -1;
    return lseek(s->fd, 0, s->appends ? SEEK_END : SEEK_CUR);
}

/* A write failed part-way (full disk, quota, file size limit): cut the
 * file back to where that write began, so it ends on the last whole
 * record (whole gzip member) and --resume can continue it later. */
static void cut_back(struct sink *s, off_t at, int errnum)
{
    if (at < 0)
        return;
    if (ftruncate(s->fd, at) < 0) {
        int e = errno;
        snprintf(s->err, sizeof s->err, "%s: %s; the last record may be cut short (ftruncate: %s)", s->path,
                 strerror(errnum), strerror(e));
        return;
    }
    lseek(s->fd, at, SEEK_SET);
    if (s->owns_fd && is_space_error(errnum))
        snprintf(s->err, sizeof s->err,
                 "%s: %s; the file ends with the last complete record: free space, then run the same command "
                 "with --resume to continue",
                 s->path, strerror(errnum));
}

/* The one place that knows write(2)'s quirks. Returns 0 or an errno. */
static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return EIO;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            /* stdout can be a non-blocking pipe inherited from the shell. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return errno;
            continue;
        }
        return e;
    }
    return 0;
}

struct sink *sink_open(const char *path, bool use_gzip, bool append, bool *was_empty, char *err,
                       size_t errlen)
{
    bool is_stdout = path == NULL || strcmp(path, "-") == 0;
    struct sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "%s: %s", is_stdout ? "stdout" : path, strerror(ENOMEM));
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", is_stdout ? "stdout" : path);
    s->use_gzip = use_gzip;
    if (is_stdout) {
        s->fd = STDOUT_FILENO;
    } else {
        s->fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
        if (s->fd < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(s);
            return NULL;
        }
        if (was_empty)
            *was_empty = lseek(s->fd, 0, SEEK_END) <= 0;
        s->owns_fd = true;
    }
    struct stat st;
    s->regular = fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode);
    int fl = fcntl(s->fd, F_GETFL);
    s->appends = fl >= 0 && (fl & O_APPEND);
    if (use_gzip) {
        /* windowBits 15 + 16 selects the gzip wrapper. */
        int rc = deflateInit2(&s->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) {
            snprintf(err, errlen, "%s: zlib init failed (%d)", s->path, rc);
            if (s->owns_fd)
                close(s->fd);
            free(s);
            return NULL;
        }
    }
    return s;
}

/* One gzip member. 0, an errno of write(2), or -1 when zlib failed. */
static int write_member(struct sink *s, const void *data, size_t len)
{
    /* deflateReset after each member starts the next one with a fresh
     * header; the stream state is reused, so no allocation per flush. */
    s->z.next_in = (Bytef *)data;
    s->z.avail_in = (uInt)len;
    int rc;
    do {
        s->z.next_out = s->zout;
        s->z.avail_out = SINK_ZOUT_BYTES;
        rc = deflate(&s->z, Z_FINISH);
        /* With a fresh 64 KiB output buffer deflate always progresses, so
         * Z_BUF_ERROR here would mean a loop without end: treat as failure. */
        if (rc != Z_OK && rc != Z_STREAM_END) {
            snprintf(s->err, sizeof s->err, "%s: zlib deflate failed (%d)", s->path, rc);
            s->failed = true;
            return -1;
        }
        int e = write_all(s->fd, s->zout, SINK_ZOUT_BYTES - s->z.avail_out);
        if (e)
            return e; /* the caller fails and cuts the member off */
    } while (rc != Z_STREAM_END);
    deflateReset(&s->z);
    s->wrote_member = true;
    return 0;
}

int sink_write(struct sink *s, const void *data, size_t len)
{
    if (s->failed)
        return -1;
    off_t at = write_offset(s);
    int e;
    if (s->use_gzip) {
        e = write_member(s, data, len);
        if (e < 0) { /* zlib failed (message set): drop the member's start too */
            if (at >= 0 && ftruncate(s->fd, at) == 0)
                lseek(s->fd, at, SEEK_SET);
            return -1;
        }
    } else {
        e = write_all(s->fd, data, len);
    }
    if (e) {
        fail(s, e);
        cut_back(s, at, e);
        return -1;
    }
    return 0;
}

int sink_close(struct sink *s, char *err, size_t errlen)
{
    if (!s->failed && s->use_gzip && !s->wrote_member)
        sink_write(s, "", 0);
    if (s->use_gzip)
        deflateEnd(&s->z);
    /* close() can report a deferred write error (NFS, some FUSE). */
    if (s->owns_fd && close(s->fd) < 0 && errno != EINTR)
        fail(s, errno);
    int rc = s->failed ? -1 : 0;
    if (rc)
        snprintf(err, errlen, "%s", s->err);
    free(s);
    return rc;
}

const char *sink_error(const struct sink *s)
{
    return s->failed ? s->err : NULL;
}
