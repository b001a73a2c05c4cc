/*
 * The event log: DIR/events.jsonl, one JSON object per line.
 *
 * Crash safety: each line is built in memory and handed to the kernel with
 * one write(2) on an O_APPEND descriptor, so lines of this server and of
 * `mailtls-selftest report` (another process) never interleave, and a
 * crash of the server loses nothing already written. Durability against
 * power loss: fdatasync at most once a second while lines were written
 * (the loop calls evlog_sync) and at exit, so at most the last second is
 * lost; the loop never waits on the disk per line. A reader skips a last
 * line without its LF (a write cut by a full disk).
 *
 * Fields (in this order): ts (UTC, ms), conn (id, unique per server run
 * with the start time), proto, client_ip, server_port, session ("" while
 * unknown), case, scenario, phase ("attack", or "learn" for two_phase's
 * first connection), tls, event, starttls_advertised, mechanism (null
 * unless an auth event), detail (null or a word). Never a user name,
 * never a password: the session id is the only part of a user name kept.
 */
#include "selftest.h"

#include "../../output/escape.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static bool is_dirty;

static const char *const event_names[] = {
#define X(id, name) [EV_##id] = name,
    ST_EVENTS(X)
#undef X
};

int evlog_open(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/events.jsonl", dir);
    log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", ST_PROG, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A JSON string value, or null for NULL. */
static size_t put_str(char *buf, size_t cap, size_t n, const char *s)
{
    if (n >= cap)
        return n;
    if (!s)
        return n + (size_t)snprintf(buf + n, cap - n, "null");
    size_t len = strnlen(s, 256);
    char esc[OUT_JSON_ESCAPE_MAX(256)];
    size_t elen = out_json_escape(esc, sizeof(esc), (const unsigned char *)s, len);
    return n + (size_t)snprintf(buf + n, cap - n, "\"%.*s\"", (int)elen, esc);
}

size_t evlog_format(char *buf, size_t cap, const struct st_evctx *e, enum st_event ev, const char *mechanism,
                    const char *detail)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = (size_t)snprintf(buf, cap,
                                "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"conn\":%llu,\"proto\":",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, ts.tv_nsec / 1000000, (unsigned long long)e->conn_id);
    n = put_str(buf, cap, n, e->proto);
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, ",\"client_ip\":");
    n = put_str(buf, cap, n, e->client_ip);
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, ",\"server_port\":%u,\"session\":", e->server_port);
    n = put_str(buf, cap, n, e->session ? e->session : "");
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0,
                          ",\"case\":\"%s\",\"scenario\":\"%s\",\"phase\":\"%s\",\"tls\":%s,\"event\":\"%s\","
                          "\"starttls_advertised\":%s,\"mechanism\":",
                          st_case_name(e->kase), st_scenario_name(e->scenario),
                          e->is_attack ? "attack" : "learn", e->is_tls ? "true" : "false", event_names[ev],
                          e->starttls_advertised ? "true" : "false");
    n = put_str(buf, cap, n, mechanism);
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, ",\"detail\":");
    n = put_str(buf, cap, n, detail);
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "}\n");
    return n < cap ? n : cap;
}

void evlog_write(const struct st_evctx *e, enum st_event ev, const char *mechanism, const char *detail)
{
    char line[2048];
    size_t n = evlog_format(line, sizeof(line), e, ev, mechanism, detail);
    if (log_fd < 0 || n == 0 || line[n - 1] != '\n')
        return;
    ssize_t w;
    do
        w = write(log_fd, line, n);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)n)
        fprintf(stderr, "%s: event log write failed: %s\n", ST_PROG, w < 0 ? strerror(errno) : "short write");
    is_dirty = true;
}

void evlog_sync(void)
{
    if (log_fd >= 0 && is_dirty) {
        fdatasync(log_fd);
        is_dirty = false;
    }
}

void evlog_close(void)
{
    evlog_sync();
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
}
