/*
 * test_tgt_reader_poll.c - the line reader over descriptors that block: a
 * terminal (a pty) and a FIFO-like pipe, neither O_NONBLOCK. With no line
 * typed the reader must say WAIT instead of sitting in read(2), where a
 * Ctrl-C could not reach the event loop; a typed line comes out, Ctrl-D
 * (or the writer's close) is the end. alarm() turns a blocked read into a
 * failure instead of a hung test.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../../targets/reader.h"
#include "check.h"

static struct tgt_reader rd;

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_tgt_reader_poll: FAIL: the reader blocked in read(2)\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

static enum tgt_read next(const char **line, size_t *len)
{
    int errnum = 0;
    alarm(3);
    enum tgt_read r = tgt_reader_next(&rd, line, len, &errnum);
    alarm(0);
    return r;
}

/* Polls the reader until it gives something other than WAIT (the typed
 * bytes take a moment to cross the line discipline). */
static enum tgt_read next_ready(const char **line, size_t *len)
{
    enum tgt_read r = TGT_READ_WAIT;
    for (int i = 0; i < 200 && r == TGT_READ_WAIT; i++) {
        r = next(line, len);
        if (r == TGT_READ_WAIT)
            usleep(5000);
    }
    return r;
}

static void test_terminal(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        perror("posix_openpt");
        failed++;
        return;
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    CHECK(!(fcntl(slave, F_GETFL) & O_NONBLOCK));
    tgt_reader_init(&rd, slave);
    const char *line;
    size_t len;
    CHECK(next(&line, &len) == TGT_READ_WAIT); /* nothing typed */
    CHECK(write(master, "127.0.0.1\n", 10) == 10);
    CHECK(next_ready(&line, &len) == TGT_READ_LINE && len == 9 && memcmp(line, "127.0.0.1", 9) == 0);
    CHECK(write(master, "10.0", 4) == 4); /* half a line: canonical mode holds it */
    CHECK(next(&line, &len) == TGT_READ_WAIT);
    CHECK(write(master, ".0.1\n\x04", 6) == 6); /* the rest, then Ctrl-D */
    CHECK(next_ready(&line, &len) == TGT_READ_LINE && len == 8 && memcmp(line, "10.0.0.1", 8) == 0);
    CHECK(next_ready(&line, &len) == TGT_READ_EOF);
    CHECK(!(fcntl(slave, F_GETFL) & O_NONBLOCK)); /* the terminal was never switched */
    close(slave);
    close(master);
}

static void test_blocking_pipe(void)
{
    int p[2];
    if (pipe(p) < 0) {
        perror("pipe");
        failed++;
        return;
    }
    tgt_reader_init(&rd, p[0]);
    const char *line;
    size_t len;
    CHECK(next(&line, &len) == TGT_READ_WAIT);
    CHECK(write(p[1], "a\nb", 3) == 3);
    CHECK(next(&line, &len) == TGT_READ_LINE && len == 1 && line[0] == 'a');
    CHECK(next(&line, &len) == TGT_READ_WAIT); /* "b" has no newline yet */
    close(p[1]);
    CHECK(next(&line, &len) == TGT_READ_LINE && len == 1 && line[0] == 'b');
    CHECK(next(&line, &len) == TGT_READ_EOF);
    close(p[0]);
}

/* A regular file is never polled and reads as before. */
static void test_file(void)
{
    char path[] = "/tmp/mailtls-reader-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "x\ny\n", 4) == 4 && lseek(fd, 0, SEEK_SET) == 0);
    tgt_reader_init(&rd, fd);
    const char *line;
    size_t len;
    CHECK(next(&line, &len) == TGT_READ_LINE && line[0] == 'x');
    CHECK(next(&line, &len) == TGT_READ_LINE && line[0] == 'y');
    CHECK(next(&line, &len) == TGT_READ_EOF);
    close(fd);
    unlink(path);
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    test_terminal();
    test_blocking_pipe();
    test_file();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
