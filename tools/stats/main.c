/*
 * main.c - mailtls-stats: Shodan-style counts over mailtls output.
 *
 * Reads NDJSON or CSV files (plain or gzip; the format is chosen per file
 * by its first byte: '{' is JSON), aggregates them (stats.h) and prints
 * the summary, per-port table, indicators, facets and, with
 * --compare-shodan, the comparison with Shodan's numbers (report.h).
 * A malformed line stops the run with "<file>:<line>: <what>" unless
 * --skip-bad is given, which counts and skips such lines (and a cut-off
 * gzip tail, as a SIGKILLed scan leaves) with a warning.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"
#include "product.h"
#include "report.h"
#include "shodan.h"
#include "stats.h"

#define MAX_WARNINGS 10

struct opts {
    enum report_format format;
    size_t top;
    const char *shodan;
    bool skip_bad;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mailtls-stats [--format table|csv|json] [--top N] [--compare-shodan FILE]\n"
               "                     [--skip-bad] [--rules] FILE...   (FILE may be '-', plain or .gz)\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"top", required_argument, NULL, 't'},
        {"compare-shodan", required_argument, NULL, 's'},
        {"skip-bad", no_argument, NULL, 'k'},
        {"rules", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct opts){.format = REPORT_TABLE, .top = 10};
    int c;
    while ((c = getopt_long(argc, argv, "f:t:s:krh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "table") == 0) {
                o->format = REPORT_TABLE;
            } else if (strcmp(optarg, "csv") == 0) {
                o->format = REPORT_CSV;
            } else if (strcmp(optarg, "json") == 0) {
                o->format = REPORT_JSON;
            } else {
                fprintf(stderr, "mailtls-stats: --format must be table, csv or json\n");
                return -1;
            }
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > REPORT_MAX_ROWS) {
                fprintf(stderr, "mailtls-stats: --top must be 1..%d\n", REPORT_MAX_ROWS);
                return -1;
            }
            o->top = (size_t)n;
            break;
        }
        case 's': o->shodan = optarg; break;
        case 'k': o->skip_bad = true; break;
        case 'r': product_print_rules(); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Reports a bad line; returns -1 when the run must stop. */
static int bad_line(struct stats *s, const struct opts *o, const char *path, long line, const char *why)
{
    if (!o->skip_bad) {
        fprintf(stderr, "mailtls-stats: %s:%ld: %s\n", path, line, why);
        return -1;
    }
    if (s->bad_lines++ < MAX_WARNINGS)
        fprintf(stderr, "mailtls-stats: warning: %s:%ld: %s (skipped)\n", path, line, why);
    return 0;
}

static int read_file(struct stats *s, const struct opts *o, struct record *r, const char *path)
{
    char err[512];
    struct reader *rd = reader_open(path, NULL, err, sizeof err);
    if (!rd) {
        fprintf(stderr, "mailtls-stats: %s\n", err);
        return -1;
    }
    int rc = 0;
    for (;;) {
        enum reader_result got = reader_next(rd, r, err, sizeof err);
        if (got == READER_END)
            break;
        if (got == READER_RECORD) {
            stats_add(s, r);
            continue;
        }
        if (got == READER_BAD_LINE) {
            /* err is "path:N: why"; bad_line wants the parts */
            const char *why = err;
            size_t n = strlen(path);
            if (strncmp(err, path, n) == 0 && err[n] == ':') {
                why = strchr(err + n + 1, ':');
                why = why ? why + 2 : err;
            }
            if (bad_line(s, o, path, reader_line_number(rd), why) < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        /* A damaged or cut gzip tail: data before it was counted. A bad
         * CSV header stops the run even with --skip-bad (nothing after it
         * could be read). */
        size_t hlen;
        bool no_header = reader_is_csv(rd) && !reader_header(rd, &hlen);
        if (o->skip_bad && !no_header) {
            s->bad_lines++;
            fprintf(stderr, "mailtls-stats: warning: %s (rest of file skipped)\n", err);
        } else {
            fprintf(stderr, "mailtls-stats: %s\n", err);
            rc = -1;
        }
        break;
    }
    reader_close(rd);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    static struct stats s;
    if (stats_init(&s) < 0) {
        fprintf(stderr, "mailtls-stats: out of memory\n");
        return 1;
    }
    char err[512];
    if (o.shodan && shodan_load(&s, o.shodan, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-stats: %s\n", err);
        stats_free(&s);
        return 1;
    }
    static struct record r;
    int rc = 0;
    for (int i = optind; i < argc && rc == 0; i++)
        if (read_file(&s, &o, &r, argv[i]) < 0)
            rc = 1;
    if (rc == 0) {
        struct report *rep = report_new(stdout, o.format);
        if (!rep) {
            rc = 1;
        } else {
            stats_report(&s, rep, o.top);
            if (report_finish(rep) < 0) {
                perror("mailtls-stats: stdout");
                rc = 1;
            }
        }
    }
    stats_free(&s);
    return rc;
}
