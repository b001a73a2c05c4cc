/* summary.c - counters, the live status line and the end-of-scan summary. */
#include "summary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT_SLOTS 32

struct summary {
    bool live;  /* status line on stderr */
    bool quiet;
    time_t started, ended;
    uint64_t start_ms, last_line_ms, last_done;
    uint64_t records, starttls_ok, starttls_offered;
    uint64_t by_status[STATUS_COUNT];
    struct {
        uint16_t port;
        uint64_t n;
    } by_port[PORT_SLOTS];
    const struct engine_stats *es;
    struct tgt_counts tc;
    uint64_t malformed, blocklisted, unresolved;
    char *command; /* argv joined, for the metadata */
};

struct summary *summary_new(const struct options *o, int argc, char **argv)
{
    struct summary *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->quiet = o->quiet;
    s->live = !o->quiet && (o->status_line || isatty(STDERR_FILENO));
    s->started = time(NULL);
    s->start_ms = now_ms();
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    s->command = calloc(1, len);
    if (!s->command) {
        free(s);
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s->command, " ");
        strcat(s->command, argv[i]);
    }
    return s;
}

void summary_count(struct summary *s, const struct record *r)
{
    s->records++;
    size_t len;
    const unsigned char *st = rec_text(r, F_STATUS, &len);
    for (int i = 0; i < STATUS_COUNT; i++) {
        const char *name = rec_status_name((enum rec_status)i);
        if (strlen(name) == len && memcmp(name, st, len) == 0) {
            s->by_status[i]++;
            break;
        }
    }
    if (rec_has(r, F_STARTTLS_OK) && rec_int(r, F_STARTTLS_OK))
        s->starttls_ok++;
    if (rec_has(r, F_STARTTLS_OFFERED) && rec_int(r, F_STARTTLS_OFFERED))
        s->starttls_offered++;
    uint16_t port = (uint16_t)rec_int(r, F_PORT);
    for (int i = 0; i < PORT_SLOTS; i++) {
        if (s->by_port[i].n == 0)
            s->by_port[i].port = port;
        if (s->by_port[i].port == port) {
            s->by_port[i].n++;
            break;
        }
    }
}

void summary_status_line(struct summary *s, uint64_t now, uint64_t in_flight, bool input_read)
{
    if (!s->live || now - s->last_line_ms < 1000)
        return;
    double dt = (double)(now - s->last_line_ms) / 1000.0;
    double rate = s->last_line_ms ? (double)(s->records - s->last_done) / dt : 0;
    s->last_line_ms = now;
    s->last_done = s->records;
    double share = s->records ? 100.0 * (double)s->starttls_offered / (double)s->records : 0;
    char eta[32] = "-";
    if (input_read && rate > 0)
        snprintf(eta, sizeof eta, "%.0fs", (double)in_flight / rate);
    fprintf(stderr, "\r%6.0fs  done %llu  in flight %llu  %.0f/s  ETA %s  STARTTLS offered %.1f%%   ",
            (double)(now - s->start_ms) / 1000.0, (unsigned long long)s->records,
            (unsigned long long)in_flight, rate, eta, share);
}

void summary_finish(struct summary *s, const struct engine_stats *es, const struct tgt_counts *tc,
                    const struct feed *f)
{
    s->ended = time(NULL);
    s->es = es;
    s->tc = *tc;
    s->malformed = f->malformed;
    s->blocklisted = f->blocklisted_records;
    s->unresolved = f->unresolved_records;
    if (s->live)
        fputc('\n', stderr);
    if (s->quiet)
        return;
    double secs = (double)(now_ms() - s->start_ms) / 1000.0;
    fprintf(stderr, "mailtls-scan: %llu records in %.1f s (%.0f/s); %llu lines read, %llu malformed, %llu blocklisted\n",
            (unsigned long long)s->records, secs, secs > 0 ? (double)s->records / secs : 0,
            (unsigned long long)tc->lines, (unsigned long long)s->malformed, (unsigned long long)s->blocklisted);
    fprintf(stderr, "mailtls-scan: status");
    for (int i = 0; i < STATUS_COUNT; i++)
        if (s->by_status[i])
            fprintf(stderr, " %s=%llu", rec_status_name((enum rec_status)i), (unsigned long long)s->by_status[i]);
    fprintf(stderr, "; starttls_ok=%llu\n", (unsigned long long)s->starttls_ok);
}

static void json_str(FILE *f, const char *str)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void iso_time(char *buf, size_t len, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int summary_write_json(const struct summary *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "mailtls-scan: --metadata %s: %s\n", path, strerror(errno));
        return -1;
    }
    char t0[32], t1[32];
    iso_time(t0, sizeof t0, s->started);
    iso_time(t1, sizeof t1, s->ended);
    fprintf(f, "{\"version\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"command\":", MAILTLS_VERSION, t0, t1);
    json_str(f, s->command);
    fprintf(f, ",\"records\":%llu,\"lines_read\":%llu,\"malformed\":%llu,\"blocklisted\":%llu,"
               "\"other_shard\":%llu,\"unresolved\":%llu,\"starttls_offered\":%llu,\"starttls_ok\":%llu,\"status\":{",
            (unsigned long long)s->records, (unsigned long long)s->tc.lines, (unsigned long long)s->malformed,
            (unsigned long long)s->blocklisted, (unsigned long long)s->tc.other_shard,
            (unsigned long long)s->unresolved, (unsigned long long)s->starttls_offered,
            (unsigned long long)s->starttls_ok);
    bool first = true;
    for (int i = 0; i < STATUS_COUNT; i++) {
        if (!s->by_status[i])
            continue;
        fprintf(f, "%s\"%s\":%llu", first ? "" : ",", rec_status_name((enum rec_status)i),
                (unsigned long long)s->by_status[i]);
        first = false;
    }
    fprintf(f, "},\"ports\":{");
    first = true;
    for (int i = 0; i < PORT_SLOTS && s->by_port[i].n; i++) {
        fprintf(f, "%s\"%u\":%llu", first ? "" : ",", s->by_port[i].port, (unsigned long long)s->by_port[i].n);
        first = false;
    }
    fprintf(f, "}}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "mailtls-scan: --metadata %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

void summary_free(struct summary *s)
{
    if (!s)
        return;
    free(s->command);
    free(s);
}
