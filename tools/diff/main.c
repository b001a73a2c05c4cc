/*
 * main.c - mailtls-diff OLD NEW: what changed between two scans, and
 * whether anything got worse (exit 1), for a cron job to act on.
 *
 * Parse the options, run the engine (engine.h: both files sorted by key in
 * bounded memory, then merged), print each changed key as it comes
 * (print.h). The severity table is in rules.c and the README.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "print.h"

#define DIFF_EXIT_SAME 0
#define DIFF_EXIT_WORSE 1
#define DIFF_EXIT_USAGE 2

struct opts {
    struct diff_opts d;
    enum print_format fmt;
    bool quiet;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: mailtls-diff [OPTIONS] OLD NEW\n"
               "Compares two mailtls scans and reports per host what got worse or better.\n"
               "\n"
               "Input:\n"
               "  OLD, NEW              scan outputs: NDJSON or CSV, plain or gzip ('-' = stdin\n"
               "                        for one of them); records match by (ip, port), --mx\n"
               "                        domain records by domain name\n"
               "  --ports LIST          compare only these ports, e.g. 25,587 (default: all)\n"
               "  --skip-bad            skip lines that do not parse instead of failing\n"
               "\n"
               "Rules:\n"
               "  --expiry-days N       a certificate this close to expiry is worse\n"
               "                        (default: 14)\n"
               "  --ignore FIELD,...    fields to leave out, from: status, starttls_offered,\n"
               "                        starttls_ok, plaintext_auth_before_tls, auth_probe,\n"
               "                        tls_version, tls_versions, tls_grade, cert_trusted,\n"
               "                        cert_hostname_match, cert_days_left, cert_sha256,\n"
               "                        banner, mx, dane, mta_sts, policy_breaks_delivery,\n"
               "                        starttls_injection\n"
               "\n"
               "Output:\n"
               "  -f, --format FORMAT   table, json (NDJSON, one object per host) or csv (one\n"
               "                        row per change) (default: table)\n"
               "  -q, --quiet           no summary line at the end\n"
               "\n"
               "Resources:\n"
               "  --mem-mb N            sort buffer in MiB, 1-4096 (default: 32)\n"
               "  --tmpdir DIR          where sorted runs are spilled (default: $TMPDIR or /tmp)\n"
               "\n"
               "Program:\n"
               "  -h, --help            this help\n"
               "  -V, --version         print the version and exit\n"
               "\n"
               "Examples:\n"
               "  mailtls-diff yesterday.csv.gz today.csv.gz || page-oncall\n"
               "      exit 1 (page) when any host got worse since yesterday\n"
               "  mailtls-diff --format json --ports 25 old.json new.json\n"
               "      one JSON object per changed host on port 25\n"
               "\n"
               "Exit status:\n"
               "  0  nothing got worse\n"
               "  1  at least one host got worse\n"
               "  2  usage error, or an input could not be read\n");
}

static int fail(const char *msg, const char *arg)
{
    fprintf(stderr, "mailtls-diff: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "Try 'mailtls-diff --help'.\n");
    return -1;
}

static int parse_ignore(struct opts *o, const char *list)
{
    while (*list) {
        size_t n = strcspn(list, ",");
        int f = rules_field_lookup(list, n);
        if (f < 0)
            return fail("--ignore: unknown field", list);
        o->d.rules.ignore |= (uint64_t)1 << f;
        list += n + (list[n] == ',');
    }
    return 0;
}

static int parse_ports(struct opts *o, const char *list)
{
    while (*list) {
        char *end;
        long p = strtol(list, &end, 10);
        if (end == list || (*end && *end != ',') || p < 1 || p > 65535 || o->d.n_ports == DIFF_MAX_PORTS)
            return fail("--ports: expected up to 64 ports 1-65535, comma-separated", list);
        o->d.ports[o->d.n_ports++] = (uint16_t)p;
        list = *end ? end + 1 : end;
    }
    return o->d.n_ports ? 0 : fail("--ports: empty list", NULL);
}

static int parse_long(const char *s, long lo, long hi, long *out)
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
    enum { O_PORTS = 256, O_SKIP, O_EXPIRY, O_IGNORE, O_MEM, O_TMP };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"ports", required_argument, NULL, O_PORTS},
        {"skip-bad", no_argument, NULL, O_SKIP},
        {"expiry-days", required_argument, NULL, O_EXPIRY},
        {"ignore", required_argument, NULL, O_IGNORE},
        {"mem-mb", required_argument, NULL, O_MEM},
        {"tmpdir", required_argument, NULL, O_TMP},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *tmp = getenv("TMPDIR");
    *o = (struct opts){.fmt = PRINT_TABLE};
    o->d.rules.expiry_days = 14;
    o->d.mem_bytes = (size_t)32 << 20;
    o->d.tmpdir = tmp && *tmp ? tmp : "/tmp";
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "table") == 0)
                o->fmt = PRINT_TABLE;
            else if (strcmp(optarg, "json") == 0)
                o->fmt = PRINT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                o->fmt = PRINT_CSV;
            else
                return fail("--format must be table, json or csv", optarg);
            break;
        case 'q': o->quiet = true; break;
        case O_PORTS:
            if (parse_ports(o, optarg) < 0)
                return -1;
            break;
        case O_SKIP: o->d.skip_bad = true; break;
        case O_EXPIRY:
            if (parse_long(optarg, 0, 3650, &v) < 0)
                return fail("--expiry-days must be 0..3650", optarg);
            o->d.rules.expiry_days = (int)v;
            break;
        case O_IGNORE:
            if (parse_ignore(o, optarg) < 0)
                return -1;
            break;
        case O_MEM:
            /* xsort keeps 32-bit offsets into its run buffer (3/4 of this) */
            if (parse_long(optarg, 1, 4096, &v) < 0)
                return fail("--mem-mb must be 1..4096", optarg);
            o->d.mem_bytes = (size_t)v << 20;
            break;
        case O_TMP: o->d.tmpdir = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("mailtls-diff %s\n", MAILTLS_VERSION); exit(0);
        case ':': return fail("option needs a value", argv[optind - 1]);
        default: return fail("unknown option", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return fail("expected two files, OLD and NEW", NULL);
    if (strcmp(argv[optind], "-") == 0 && strcmp(argv[optind + 1], "-") == 0)
        return fail("only one of OLD and NEW can be stdin", NULL);
    return 0;
}

static int emit(void *ctx, const struct diff_result *res)
{
    const struct opts *o = ctx;
    print_result(stdout, o->fmt, res);
    return ferror(stdout) ? -1 : 0;
}

int main(int argc, char **argv)
{
    static struct opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return DIFF_EXIT_USAGE;
    struct diff_counts cnt;
    char err[600];
    print_header(stdout, o.fmt);
    if (diff_files(argv[optind], argv[optind + 1], &o.d, emit, &o, &cnt, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-diff: %s\n", err);
        return DIFF_EXIT_USAGE;
    }
    for (int i = 0; i < 2; i++)
        if (cnt.bad_lines[i])
            fprintf(stderr, "mailtls-diff: warning: %s: %llu bad lines skipped\n", argv[optind + i],
                    (unsigned long long)cnt.bad_lines[i]);
    if (!o.quiet)
        print_summary(o.fmt == PRINT_TABLE ? stdout : stderr, &cnt);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("mailtls-diff: stdout");
        return DIFF_EXIT_USAGE;
    }
    return cnt.by_sev[SEV_WORSE] ? DIFF_EXIT_WORSE : DIFF_EXIT_SAME;
}
