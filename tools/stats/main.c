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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"
#include "domains.h"
#include "inputs.h"
#include "product.h"
#include "report.h"
#include "shodan.h"
#include "stats.h"

#define MAX_WARNINGS 10
#define MAX_SHODAN_FILES 16

struct opts {
    enum report_format format;
    size_t top;
    int n_shodan, n_queries;
    const char *shodan[MAX_SHODAN_FILES];
    const char *queries[MAX_SHODAN_FILES];
    bool skip_bad;
};

/* Layout parsed by the man-page generator (issue 16): keep it. */
static const char help_text[] =
    "Usage: mailtls-stats [OPTIONS] FILE...\n"
    "Summarises mailtls-scan outputs: ports, indicators, facets, domains, Shodan.\n"
    "\n"
    "Input:\n"
    "  FILE...                    NDJSON or CSV output of mailtls-scan, plain or\n"
    "                             gzip; - is stdin. Several files are summed (shards\n"
    "                             of one scan); a note on stderr says when they\n"
    "                             repeat (address, port) keys: separate scans\n"
    "  -k, --skip-bad             warn about, count and skip malformed lines and a\n"
    "                             cut-off gzip tail instead of stopping\n"
    "\n"
    "Output:\n"
    "  -f, --format FMT           table, csv or json (default: table)\n"
    "  -t, --top N                values listed per facet, 1..10000 (default: 10)\n"
    "\n"
    "Comparison with Shodan:\n"
    "  -s, --compare-shodan FILE  Shodan numbers to compare with, plain or gzip: a\n"
    "                             file {\"results\": {NAME: {\"query\", \"total\",\n"
    "                             \"facets\"}}}, or a raw /shodan/host/count answer\n"
    "                             (then give its query with --shodan-query);\n"
    "                             repeatable, at most 16\n"
    "      --shodan-query QUERY   the query of the next raw answer, in order;\n"
    "                             filters port: product: country: asn: org:\n"
    "                             has_ssl: ssl.version: ssl.cert.expired:,\n"
    "                             \"phrases\", -negation\n"
    "\n"
    "Other:\n"
    "  -r, --rules                print the product detection rules and exit\n"
    "  -h, --help                 print this help and exit\n"
    "  -V, --version              print the version and exit\n"
    "\n"
    "Examples:\n"
    "  mailtls-stats scan.json.gz\n"
    "      per-port table, indicators, facets (and domains for an --mx scan)\n"
    "  mailtls-stats --format json shard-*.csv.gz\n"
    "      the shards of one scan, summed, as one JSON object\n"
    "  mailtls-stats -s count.json --shodan-query 'port:25 has_ssl:false' scan.csv\n"
    "      compare with a saved answer of Shodan's /shodan/host/count\n"
    "\n"
    "Exit status:\n"
    "  0  report printed\n"
    "  1  a file could not be read or held a malformed line (without --skip-bad),\n"
    "     or the report could not be written\n"
    "  2  usage error: unknown option or bad value, no FILE\n";

static void usage_error(const char *msg)
{
    if (msg)
        fprintf(stderr, "mailtls-stats: %s\n", msg);
    fprintf(stderr, "Try 'mailtls-stats --help'.\n");
}

/* 0 to run, 1 when --help, -V or --rules already printed, -1 on a usage
 * error (message printed). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"top", required_argument, NULL, 't'},
        {"compare-shodan", required_argument, NULL, 's'},
        {"shodan-query", required_argument, NULL, 'Q'},
        {"skip-bad", no_argument, NULL, 'k'},
        {"rules", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct opts){.format = REPORT_TABLE, .top = 10};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:t:s:krhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "table") == 0) {
                o->format = REPORT_TABLE;
            } else if (strcmp(optarg, "csv") == 0) {
                o->format = REPORT_CSV;
            } else if (strcmp(optarg, "json") == 0) {
                o->format = REPORT_JSON;
            } else {
                usage_error("--format must be table, csv or json");
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
        case 's':
        case 'Q':
            if ((c == 's' ? o->n_shodan : o->n_queries) >= MAX_SHODAN_FILES) {
                usage_error(c == 's' ? "at most 16 --compare-shodan files" : "at most 16 --shodan-query");
                return -1;
            }
            if (c == 's')
                o->shodan[o->n_shodan++] = optarg;
            else
                o->queries[o->n_queries++] = optarg;
            break;
        case 'k': o->skip_bad = true; break;
        case 'r': product_print_rules(); return 1;
        case 'h': fputs(help_text, stdout); return 1;
        case 'V': printf("mailtls-stats %s\n", MAILTLS_VERSION); return 1;
        default:
            fprintf(stderr, "mailtls-stats: %s '%s'\n",
                    optopt && strchr("ftsQ", optopt) ? "missing argument for" : "unknown option",
                    argv[optind - 1]);
            usage_error(NULL);
            return -1;
        }
    }
    if (optind >= argc) {
        usage_error("no FILE given (- reads stdin)");
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

struct sinks {
    struct stats *s;
    struct inputs *in;
    struct domains *dom;
};

static int read_file(struct sinks *k, const struct opts *o, struct record *r, const char *path)
{
    struct stats *s = k->s;
    char err[512];
    struct reader *rd = reader_open(path, NULL, err, sizeof err);
    if (!rd) {
        fprintf(stderr, "mailtls-stats: %s\n", err);
        return -1;
    }
    if (k->in)
        inputs_next_file(k->in);
    int rc = 0;
    for (;;) {
        enum reader_result got = reader_next(rd, r, err, sizeof err);
        if (got == READER_END)
            break;
        if (got == READER_RECORD) {
            stats_add(s, r);
            if (k->in)
                inputs_add(k->in, r);
            domains_add(k->dom, r);
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

/* Raw answers take the --shodan-query values in order. */
static int load_shodan(struct stats *s, const struct opts *o)
{
    int next_query = 0;
    char err[512];
    for (int i = 0; i < o->n_shodan; i++) {
        const char *q = next_query < o->n_queries ? o->queries[next_query] : NULL;
        bool used;
        int rc = shodan_load(s, o->shodan[i], q, &used, err, sizeof err);
        next_query += used;
        if (rc < 0) {
            fprintf(stderr, "mailtls-stats: %s\n", err);
            return -1;
        }
    }
    if (next_query < o->n_queries) {
        fprintf(stderr, "mailtls-stats: --shodan-query '%s' has no raw answer to go with\n",
                o->queries[next_query]);
        return -1;
    }
    return 0;
}

static void note_repeats(const struct inputs *in, int files)
{
    if (files < 2 || in->repeated == 0)
        return;
    fprintf(stderr,
            "mailtls-stats: note: %" PRIu64 " (address, port) keys appear in more than one of the %d files:\n"
            "  they look like separate scans of the same hosts, not shards of one scan; the counts\n"
            "  below add them up (mailtls-diff compares two scans)\n",
            in->repeated, files);
}

int main(int argc, char **argv)
{
    struct opts o;
    int p = parse_opts(argc, argv, &o);
    if (p != 0)
        return p > 0 ? 0 : 2;
    static struct stats s;
    static struct inputs in;
    struct domains *dom = domains_new();
    if (stats_init(&s) < 0 || !dom) {
        fprintf(stderr, "mailtls-stats: out of memory\n");
        return 1;
    }
    inputs_init(&in);
    int rc = load_shodan(&s, &o) < 0 ? 1 : 0;
    static struct record r;
    /* one file cannot repeat keys across files: no key set then */
    struct sinks k = {&s, argc - optind > 1 ? &in : NULL, dom};
    for (int i = optind; i < argc && rc == 0; i++)
        if (read_file(&k, &o, &r, argv[i]) < 0)
            rc = 1;
    if (rc == 0) {
        s.input_files = (uint64_t)(argc - optind);
        s.repeated_keys = in.repeated;
        note_repeats(&in, argc - optind);
        struct report *rep = report_new(stdout, o.format);
        if (!rep) {
            rc = 1;
        } else {
            stats_report(&s, rep, o.top);
            domains_report(dom, rep);
            if (report_finish(rep) < 0) {
                perror("mailtls-stats: stdout");
                rc = 1;
            }
        }
    }
    inputs_free(&in);
    domains_free(dom);
    stats_free(&s);
    return rc;
}
