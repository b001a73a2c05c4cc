/*
 * main.c - mailtls-report SCAN [--compare OLD] -o report.html: one
 * self-contained HTML page (inline CSS, inline SVG charts, a tiny inline
 * sort script, no URL at all) describing a scan.
 *
 * One streaming pass over SCAN feeds the aggregate (agg.h, which includes
 * mailtls-stats' own counters); --compare runs the mailtls-diff engine
 * over OLD and SCAN (compare.h); render.h writes the page.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"
#include "agg.h"
#include "compare.h"
#include "render.h"

struct opts {
    const char *out, *compare, *title;
    size_t max_hosts, top;
    int expiry_days;
    bool skip_bad;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: mailtls-report [OPTIONS] SCAN\n"
               "Writes one self-contained HTML report (charts, tables, host lists) of a scan.\n"
               "\n"
               "Input:\n"
               "  SCAN                  scan output: NDJSON or CSV, plain or gzip ('-' = stdin)\n"
               "  --compare OLD         add \"what got worse\" since the older scan OLD (the\n"
               "                        severity table of mailtls-diff)\n"
               "  --skip-bad            skip lines that do not parse instead of failing\n"
               "\n"
               "Output:\n"
               "  -o, --output FILE     the HTML file ('-' = stdout) (default: -)\n"
               "  --title TEXT          page title (default: mailtls report)\n"
               "  --max-hosts N         hosts listed per finding, 0-100000 (default: 20)\n"
               "  --top N               rows per top-N chart and table (default: 10)\n"
               "  --expiry-days N       certificates expiring within N days are a finding\n"
               "                        (default: 14)\n"
               "\n"
               "Program:\n"
               "  -h, --help            this help\n"
               "  -V, --version         print the version and exit\n"
               "\n"
               "Examples:\n"
               "  mailtls-report scan.json.gz -o report.html\n"
               "      the report of one scan\n"
               "  mailtls-report today.csv.gz --compare yesterday.csv.gz -o report.html\n"
               "      the same with the hosts that got worse since yesterday\n"
               "\n"
               "Exit status:\n"
               "  0  report written\n"
               "  1  an input could not be read or the report not written\n"
               "  2  usage error\n");
}

static int fail(const char *msg, const char *arg)
{
    fprintf(stderr, "mailtls-report: %s%s%s\nTry 'mailtls-report --help'.\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return -1;
}

static int number(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    enum { O_COMPARE = 256, O_TITLE, O_MAX_HOSTS, O_TOP, O_EXPIRY, O_SKIP };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},    {"compare", required_argument, NULL, O_COMPARE},
        {"title", required_argument, NULL, O_TITLE}, {"max-hosts", required_argument, NULL, O_MAX_HOSTS},
        {"top", required_argument, NULL, O_TOP},     {"expiry-days", required_argument, NULL, O_EXPIRY},
        {"skip-bad", no_argument, NULL, O_SKIP},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    *o = (struct opts){.out = "-", .title = "mailtls report", .max_hosts = 20, .top = 10, .expiry_days = 14};
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; break;
        case O_COMPARE: o->compare = optarg; break;
        case O_TITLE: o->title = optarg; break;
        case O_MAX_HOSTS:
            if (number(optarg, 0, 100000, &v) < 0)
                return fail("--max-hosts must be 0..100000", optarg);
            o->max_hosts = (size_t)v;
            break;
        case O_TOP:
            if (number(optarg, 1, 100, &v) < 0)
                return fail("--top must be 1..100", optarg);
            o->top = (size_t)v;
            break;
        case O_EXPIRY:
            if (number(optarg, 0, 3650, &v) < 0)
                return fail("--expiry-days must be 0..3650", optarg);
            o->expiry_days = (int)v;
            break;
        case O_SKIP: o->skip_bad = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("mailtls-report %s\n", MAILTLS_VERSION); exit(0);
        case ':': return fail("option needs a value", argv[optind - 1]);
        default: return fail("unknown option", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return fail("expected one scan file", NULL);
    return 0;
}

/* The one streaming pass. */
static int read_scan(struct agg *a, const char *path, bool skip_bad, long long *bad)
{
    char err[600];
    struct reader *rd = reader_open(path, NULL, err, sizeof err);
    struct record *r = malloc(sizeof *r);
    int rc = rd && r ? 0 : -1;
    if (!rd)
        fprintf(stderr, "mailtls-report: %s\n", err);
    while (rc == 0) {
        enum reader_result got = reader_next(rd, r, err, sizeof err);
        if (got == READER_END)
            break;
        if (got == READER_RECORD) {
            agg_add(a, r);
        } else if (got == READER_BAD_LINE && skip_bad) {
            (*bad)++;
        } else {
            fprintf(stderr, "mailtls-report: %s\n", err);
            rc = -1;
        }
    }
    if (rd)
        reader_close(rd);
    free(r);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    static struct agg a;
    static struct cmp c;
    if (agg_init(&a, o.max_hosts, o.expiry_days) < 0) {
        fprintf(stderr, "mailtls-report: out of memory\n");
        return 1;
    }
    struct page_info info = {
        .title = o.title, .scan_path = argv[optind], .old_path = o.compare, .top = o.top};
    int rc = read_scan(&a, argv[optind], o.skip_bad, &info.bad_lines);
    char err[600];
    if (rc == 0 && o.compare &&
        cmp_run(&c, o.compare, argv[optind], o.max_hosts, o.expiry_days, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-report: --compare: %s\n", err);
        rc = -1;
    }
    FILE *f = NULL;
    if (rc == 0) {
        f = strcmp(o.out, "-") == 0 ? stdout : fopen(o.out, "w");
        if (!f) {
            perror(o.out);
            rc = -1;
        }
    }
    if (rc == 0) {
        agg_sort_groups(&a);
        render_page(f, &a, o.compare ? &c : NULL, &info);
        if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
            perror(o.out);
            rc = -1;
        }
    }
    if (o.compare)
        cmp_free(&c);
    agg_free(&a);
    return rc == 0 ? 0 : 1;
}
