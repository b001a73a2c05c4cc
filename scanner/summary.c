/* summary.c - counters, the live status line and the end-of-scan summary. */
#include "summary.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One counter per possible port: IP:PORT targets may name any port, not
 * only the 64 of --ports. 512 KiB of address space; only the pages of
 * ports actually seen are ever touched. */
#define PORT_COUNT 65536

struct summary {
    bool live; /* status line on stderr */
    bool quiet;
    time_t started, ended;
    uint64_t start_ms, last_line_ms, last_done;
    uint64_t total; /* records the scan will write; 0 = unknown */
    uint64_t records, starttls_ok, starttls_offered;
    uint64_t by_status[STATUS_COUNT];
    uint64_t *by_port; /* [PORT_COUNT] */
    uint64_t no_port;  /* records without a port: --mx domain records */
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
    s->by_port = calloc(PORT_COUNT, sizeof *s->by_port);
    if (!s->command || !s->by_port) {
        summary_free(s);
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
    if (rec_has(r, F_PORT))
        s->by_port[(uint16_t)rec_int(r, F_PORT)]++;
    else
        s->no_port++;
}

uint64_t summary_records_of(const struct summary *s, enum rec_status st)
{
    return s->by_status[st];
}

void summary_set_total(struct summary *s, uint64_t records)
{
    s->total = records;
}

/* "45s", "12m05s", "3h07m", "2d04h" */
static void eta_text(double secs, char *buf, size_t len)
{
    uint64_t t = secs < 1e12 ? (uint64_t)(secs + 0.5) : UINT64_C(1000000000000); /* no overflowing cast */
    if (t < 60)
        snprintf(buf, len, "%llus", (unsigned long long)t);
    else if (t < 3600)
        snprintf(buf, len, "%llum%02llus", (unsigned long long)(t / 60), (unsigned long long)(t % 60));
    else if (t < 86400)
        snprintf(buf, len, "%lluh%02llum", (unsigned long long)(t / 3600), (unsigned long long)(t / 60 % 60));
    else
        snprintf(buf, len, "%llud%02lluh", (unsigned long long)(t / 86400),
                 (unsigned long long)(t / 3600 % 24));
}

/* Work left, in records: from the known total, or once the input is read,
 * what is open or queued. false when it cannot be known yet. */
static bool records_left(const struct summary *s, const struct summary_live *l, uint64_t *left)
{
    uint64_t done = s->records + l->skipped;
    if (s->total) {
        *left = s->total > done ? s->total - done : 0;
        return true;
    }
    if (l->input_read) {
        *left = l->open + l->queued;
        return true;
    }
    return false;
}

void summary_status_line(struct summary *s, uint64_t now, const struct summary_live *l)
{
    if (!s->live || now - s->last_line_ms < 1000)
        return;
    double dt = (double)(now - s->last_line_ms) / 1000.0;
    double rate = s->last_line_ms ? (double)(s->records - s->last_done) / dt : 0;
    s->last_line_ms = now;
    s->last_done = s->records;
    double share = s->records ? 100.0 * (double)s->starttls_offered / (double)s->records : 0;
    /* the ETA uses the rate since the start: the last second alone jumps
     * with every burst of timeouts */
    double elapsed = (double)(now - s->start_ms) / 1000.0;
    double avg = elapsed > 0 ? (double)s->records / elapsed : 0;
    char eta[32] = "-", of[40] = "";
    uint64_t left;
    if (records_left(s, l, &left) && (avg > 0 || left == 0))
        eta_text(left ? (double)left / avg : 0, eta, sizeof eta);
    if (s->total)
        snprintf(of, sizeof of, " of %llu", (unsigned long long)s->total);
    fprintf(stderr,
            "\r%6.0fs  done %llu%s  in flight %llu  queued %llu  %.0f/s  ETA %s  STARTTLS offered %.1f%%   ",
            elapsed, (unsigned long long)(s->records + l->skipped), of, (unsigned long long)l->open,
            (unsigned long long)l->queued, rate, eta, share);
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
    fprintf(
        stderr,
        "mailtls-scan: %llu records in %.1f s (%.0f/s); %llu lines read, %llu malformed, %llu blocklisted\n",
        (unsigned long long)s->records, secs, secs > 0 ? (double)s->records / secs : 0,
        (unsigned long long)tc->lines, (unsigned long long)s->malformed, (unsigned long long)s->blocklisted);
    fprintf(stderr, "mailtls-scan: status");
    for (int i = 0; i < STATUS_COUNT; i++)
        if (s->by_status[i])
            fprintf(stderr, " %s=%llu", rec_status_name((enum rec_status)i),
                    (unsigned long long)s->by_status[i]);
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
    fprintf(f,
            ",\"records\":%llu,\"lines_read\":%llu,\"malformed\":%llu,\"blocklisted\":%llu,"
            "\"other_shard\":%llu,\"unresolved\":%llu,\"starttls_offered\":%llu,\"starttls_ok\":%llu,"
            "\"status\":{",
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
    for (uint32_t port = 0; port < PORT_COUNT; port++) {
        if (!s->by_port[port])
            continue;
        fprintf(f, "%s\"%u\":%llu", first ? "" : ",", port, (unsigned long long)s->by_port[port]);
        first = false;
    }
    fprintf(f, "},\"no_port\":%llu", (unsigned long long)s->no_port);
    if (s->es)
        fprintf(f, ",\"verify_cache\":{\"hits\":%llu,\"misses\":%llu}",
                (unsigned long long)s->es->verify_cache_hits, (unsigned long long)s->es->verify_cache_misses);
    fprintf(f, "}\n");
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
    free(s->by_port);
    free(s);
}

/* How many of the sequence numbers [0, x) belong to shard `shard` of
 * `shards` (targets/source.c numbers items k = 0, 1, ... and keeps those
 * with k % shards == shard). */
static uint64_t shard_share(uint64_t x, uint32_t shards, uint32_t shard)
{
    return x > shard ? (x - shard - 1) / shards + 1 : 0;
}

bool summary_plan(const struct options *o, const struct tgt_port *ports, size_t n_ports, uint64_t *targets,
                  uint64_t *records)
{
    if (o->n_inputs > 0 || o->n_targets == 0 || o->mx)
        return false;
    uint32_t shards = o->shards ? o->shards : 1;
    uint64_t seq = 0; /* items numbered so far, all shards */
    *targets = *records = 0;
    for (int i = 0; i < o->n_targets; i++) {
        const char *arg = o->targets[i];
        struct tgt_line line;
        char why[TGT_ERR_MAX];
        if (strcmp(arg, "-") == 0)
            return false; /* stdin */
        if (tgt_parse_line(arg, strlen(arg), &line, why, sizeof why) <= 0)
            continue; /* blank, comment or malformed: no record */
        uint64_t items = 1;
        if (line.kind == TGT_PREFIX)
            items = UINT64_C(1) << ((line.family == AF_INET ? 32u : 128u) - line.prefix_len);
        else if (line.kind == TGT_NAME && o->n_resolvers > 0)
            return false; /* any number of addresses */
        uint64_t mine = shard_share(seq + items, shards, o->shard) - shard_share(seq, shards, o->shard);
        seq += items;
        *targets += mine;
        *records += mine * (line.port ? 1 : n_ports);
    }
    return true;
}

void summary_format_duration(double secs, char *buf, size_t len)
{
    if (secs < 90)
        snprintf(buf, len, "%.0f seconds", secs);
    else if (secs < 90 * 60)
        snprintf(buf, len, "%.0f minutes", secs / 60);
    else if (secs < 48 * 3600)
        snprintf(buf, len, "%.1f hours", secs / 3600);
    else
        snprintf(buf, len, "%.1f days", secs / 86400);
}

/* 117440512 -> "117,440,512" */
static void with_commas(uint64_t n, char *buf, size_t len)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < nd && o + 2 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
}

void summary_plan_line(char *buf, size_t len, uint64_t targets, size_t n_ports, uint64_t records, double rate)
{
    char t[32], r[32], took[80] = "";
    with_commas(targets, t, sizeof t);
    with_commas(records, r, sizeof r);
    if (rate > 0) {
        char d[32];
        summary_format_duration((double)records / rate, d, sizeof d);
        /* --rate bounds new connections; -c and slow servers can only slow it more */
        snprintf(took, sizeof took, "at --rate %g at least %s", rate, d);
    } else {
        snprintf(took, sizeof took, "with no --rate limit");
    }
    snprintf(buf, len, "%s targets x %zu port%s = %s probes, %s (Ctrl-C stops, --resume continues)", t,
             n_ports, n_ports == 1 ? "" : "s", r, took);
}

/* Bytes a shell takes literally outside quotes. */
static bool shell_safe(const char *a)
{
    if (!*a)
        return false;
    for (; *a; a++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-", *a))
            return false;
    return true;
}

/* Appends one argument, single-quoted unless it is safe as it is; a quote
 * inside becomes '\'' (close, escaped quote, reopen). */
static char *quote_into(char *p, const char *a)
{
    if (shell_safe(a))
        return stpcpy(p, a);
    *p++ = '\'';
    for (; *a; a++)
        p = *a == '\'' ? stpcpy(p, "'\\''") : (*p = *a, p + 1);
    *p++ = '\'';
    return p;
}

char *summary_resume_command(int argc, char *const *argv)
{
    size_t len = sizeof " --resume";
    bool has_resume = false, is_options = true; /* after "--" only targets follow */
    for (int i = 0; i < argc; i++) {
        len += 4 * strlen(argv[i]) + 3; /* worst case: every byte a quote */
        is_options = is_options && strcmp(argv[i], "--") != 0;
        has_resume = has_resume || (is_options && strcmp(argv[i], "--resume") == 0);
    }
    char *cmd = malloc(len), *p = cmd;
    if (!cmd)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i)
            *p++ = ' ';
        if (!has_resume && strcmp(argv[i], "--") == 0) {
            p = stpcpy(p, "--resume "); /* after "--" it would be a target */
            has_resume = true;
        }
        p = quote_into(p, argv[i]);
    }
    if (!has_resume)
        p = stpcpy(p, " --resume");
    *p = 0;
    return cmd;
}

/* After an interruption: the command that continues, or why there is none. */
static void print_resume_hint(FILE *f, const struct summary_end *e)
{
    if (e->output_is_stdout) {
        fprintf(f, "; no --resume: the records went to stdout (use -o FILE to be able to continue a scan)");
        return;
    }
    char *cmd = summary_resume_command(e->argc, e->argv);
    if (!cmd)
        return;
    fprintf(f, "; continue with: %s", cmd);
    if (e->input_is_tty)
        fprintf(f, "  (and type the targets again: those done are skipped)");
    else if (e->input_is_stdin)
        fprintf(f, "  (with the same targets on stdin)");
    free(cmd);
}

int summary_exit_status(const struct summary *s, const struct summary_end *e)
{
    /* a signal that came after the last target was read and recorded
     * changed nothing: every target has its final record */
    bool interrupted = e->signal && (!e->input_read || s->by_status[STATUS_INTERRUPTED] > 0);
    if (!interrupted && !e->malformed && !e->unresolved)
        return SUMMARY_EXIT_COMPLETE;
    const char *sep = "";
    fprintf(stderr, "mailtls-scan: incomplete scan (exit status 3): ");
    if (interrupted) {
        fprintf(stderr, "interrupted by %s", e->signal == SIGTERM ? "SIGTERM" : "SIGINT");
        if (s->by_status[STATUS_INTERRUPTED])
            fprintf(stderr, ", %llu probes recorded as `interrupted`",
                    (unsigned long long)s->by_status[STATUS_INTERRUPTED]);
        if (!e->input_read)
            fprintf(stderr, ", targets not yet read have no record");
        sep = "; ";
    }
    if (e->malformed) {
        fprintf(stderr, "%s%llu malformed input lines skipped", sep, (unsigned long long)e->malformed);
        sep = "; ";
    }
    if (e->unresolved)
        fprintf(stderr, "%s%llu records of host names not resolved (no --resolver given)", sep,
                (unsigned long long)e->unresolved);
    if (interrupted)
        print_resume_hint(stderr, e);
    fputc('\n', stderr);
    return SUMMARY_EXIT_INCOMPLETE;
}
