/* options.c - the option table, its parser, --help and --schema. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../output/record.h"
#include "../output/schema_sql.h"
#include "conn.h"
#include "proto.h"

enum opt_type { OT_STR, OT_LIST, OT_RESOLVER, OT_U32, OT_U64, OT_SECONDS, OT_RATE, OT_FLAG, OT_SHARD };

/* --help sections, in the order printed. A row that names none is Misc
 * (zero), so a row appended without a group still shows up. */
enum opt_group { OG_MISC, OG_TARGETS, OG_PORTS, OG_SPEED, OG_TLS, OG_DNS, OG_OUTPUT, OG_RESUME, OG_COUNT };
static const char *const group_names[OG_COUNT] = {
    [OG_TARGETS] = "Targets",
    [OG_PORTS] = "Ports and protocols",
    [OG_SPEED] = "Speed and politeness",
    [OG_TLS] = "TLS",
    [OG_DNS] = "DNS",
    [OG_OUTPUT] = "Output",
    [OG_RESUME] = "Resume and shards",
    [OG_MISC] = "Misc",
};
static const enum opt_group group_order[OG_COUNT] = {OG_TARGETS, OG_PORTS,  OG_SPEED,  OG_TLS,
                                                     OG_DNS,     OG_OUTPUT, OG_RESUME, OG_MISC};

struct opt_def {
    const char *name;
    int short_flag; /* 0 = long only */
    enum opt_type type;
    size_t offset;
    const char *arg;  /* placeholder in --help */
    const char *dflt; /* applied before parsing; NULL = none */
    double min, max;  /* numeric range */
    const char *help;
    enum opt_group group; /* last, so rows without one default to Misc */
};

#define OFF(f) offsetof(struct options, f)

/* A row written without its group (the last field) lands in Misc instead
 * of failing a -Werror build: choose a group for a new row. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct opt_def opt_table[] = {
    {"ports", 'p', OT_STR, OFF(ports), "LIST", "25,465,587,143,993,110,995", 0, 0,
     "ports to probe: standard ports (protocol inferred) or PORT/PROTO, PROTO a name from the protocol list "
     "below",
     OG_PORTS},
    {"input", 'i', OT_LIST, OFF(inputs), "FILE", NULL, 0, 0,
     "read targets from FILE, one per line ('-' = stdin; repeatable). Without targets or -i, stdin is read",
     OG_TARGETS},
    {"output", 'o', OT_STR, OFF(output), "FILE", "-", 0, 0,
     "write records to FILE ('-' = stdout); a name ending in .gz is gzip-compressed", OG_OUTPUT},
    {"format", 'f', OT_STR, OFF(format), "json|csv", "json", 0, 0,
     "record format: NDJSON or CSV with a header row", OG_OUTPUT},
    {"gzip", 0, OT_FLAG, OFF(gzip), NULL, NULL, 0, 0, "gzip the output whatever its name", OG_OUTPUT},
    {"concurrency", 'c', OT_U32, OFF(concurrency), "N", "1000", 1, 1000000, "probes in flight at most",
     OG_SPEED},
    {"threads", 0, OT_U32, OFF(threads), "N", NULL, 1, OPT_MAX_THREADS,
     "event loops, one per thread, sharing the target stream and the output (default: number of cores, at "
     "most 64)",
     OG_SPEED},
    {"rate", 0, OT_RATE, OFF(rate), "N", "1000", 0, 10000000,
     "new connections per second at most (0 = no limit)", OG_SPEED},
    {"per-subnet", 0, OT_U32, OFF(per_subnet), "N", "32", 0, 1000000,
     "probes in flight at most per /24 (IPv4) or /48 (IPv6): mail servers answer bursts with 421 (0 = no "
     "cap)",
     OG_SPEED},
    {"connect-timeout", 0, OT_SECONDS, OFF(connect_timeout_s), "S", "10", 0.001, 3600,
     "seconds to wait for a TCP connect", OG_SPEED},
    {"read-timeout", 0, OT_SECONDS, OFF(read_timeout_s), "S", "15", 0.001, 3600,
     "seconds to wait for each complete reply and for the TLS handshake", OG_SPEED},
    {"timeout", 0, OT_SECONDS, OFF(total_timeout_s), "S", "60", 0.001, 86400,
     "seconds a whole probe may take", OG_SPEED},
    {"grace", 0, OT_SECONDS, OFF(grace_s), "S", "2", 0, 600,
     "after SIGINT/SIGTERM, seconds in-flight probes may still finish before they are recorded as "
     "interrupted",
     OG_SPEED},
    {"ehlo-name", 0, OT_STR, OFF(ehlo_name), "NAME", NULL, 0, 0,
     "name sent in EHLO/HELO (default: this machine's host name); make it one that identifies your scan",
     OG_PORTS},
    {"probe-auth", 0, OT_FLAG, OFF(probe_auth), NULL, NULL, 0, 0,
     "on STARTTLS ports, before TLS, try one obviously fake credential to learn whether a cleartext password "
     "would be evaluated",
     OG_PORTS},
    {"downgrade-checks", 0, OT_FLAG, OFF(downgrade_checks), NULL, NULL, 0, 0,
     "on STARTTLS ports: test STARTTLS command injection (a NOOP in the STARTTLS segment) and whether the "
     "server requires TLS (SMTP: MAIL FROM:<> then RSET)",
     OG_TLS},
    {"ca-file", 0, OT_STR, OFF(ca_file), "FILE", NULL, 0, 0,
     "PEM trust anchors for cert_trusted instead of the system store", OG_TLS},
    {"verify-cache", 0, OT_U32, OFF(verify_cache), "N", "4096", 0, 1048576,
     "certificate chains whose verification verdict each event loop remembers, so a chain many addresses "
     "share is verified once (0 = verify on every handshake; DANE handshakes always verify)",
     OG_TLS},
    {"seed", 0, OT_U64, OFF(seed), "N", "0", 0, 0,
     "seed of the pseudo-random order of address ranges (same seed = same order)", OG_RESUME},
    {"shards", 0, OT_U32, OFF(shards), "N", "1", 1, 65535, "split the input into N disjoint parts",
     OG_RESUME},
    {"shard", 0, OT_SHARD, OFF(shard), "I|auto", "0", 0, 65534,
     "which part this run scans (0-based, < --shards); auto: from JOB_COMPLETION_INDEX (Kubernetes Indexed "
     "Job) or SLURM_ARRAY_TASK_ID (Slurm job array)",
     OG_RESUME},
    {"blocklist", 0, OT_STR, OFF(blocklist), "FILE", NULL, 0, 0,
     "never connect to these CIDR ranges (ZMap format)", OG_TARGETS},
    {"allowlist", 0, OT_STR, OFF(allowlist), "FILE", NULL, 0, 0,
     "connect only to these CIDR ranges (ZMap format)", OG_TARGETS},
    {"no-default-blocklist", 0, OT_FLAG, OFF(no_default_blocklist), NULL, NULL, 0, 0,
     "do not apply the built-in IANA special-purpose blocklist", OG_TARGETS},
    {"tls-versions", 0, OT_FLAG, OFF(tls_versions), NULL, NULL, 0, 0,
     "after a probe that reached TLS, test which of SSLv2, SSLv3 and TLS 1.0-1.3 the server accepts, with "
     "raw ClientHellos (about 6 more connections per target)",
     OG_TLS},
    {"ciphers", 0, OT_FLAG, OFF(ciphers), NULL, NULL, 0, 0,
     "list every accepted IANA cipher suite per version in the server's order, the groups, and grade them "
     "(implies --tls-versions; raw hellos of up to 64 suites, about accepted + 6 connections per version)",
     OG_TLS},
    {"save-certs", 0, OT_STR, OFF(save_certs), "DIR", NULL, 0, 0,
     "write each distinct certificate servers send to DIR/<sha256>.pem", OG_TLS},
    {"per-ip", 0, OT_U32, OFF(per_ip), "N", "1", 1, 64,
     "enumeration handshakes in flight at once per IP address, across all its ports", OG_SPEED},
    {"resolver", 0, OT_RESOLVER, OFF(resolvers), "IP[:PORT]", NULL, 0, 0,
     "DNS server for host-name and --mx targets (repeatable, up to 8; [IPv6]:PORT). Without it names are not "
     "resolved: /etc/resolv.conf and the system resolver are never used",
     OG_DNS},
    {"mx", 0, OT_FLAG, OFF(mx), NULL, NULL, 0, 0,
     "name targets are mail domains: probe every MX exchanger (no MX: the domain itself; null MX: no-mail), "
     "each (address, port) once; one domain record per domain (needs --resolver)",
     OG_DNS},
    {"policy", 0, OT_FLAG, OFF(policy), NULL, NULL, 0, 0,
     "with --mx: DNSSEC verdicts (AD bit of a validating --resolver), DANE TLSA, MTA-STS and TLS-RPT TXT "
     "records in the domain record",
     OG_DNS},
    {"mta-sts-port", 0, OT_U32, OFF(mta_sts_port), "N", "443", 1, 65535,
     "--policy: port of the MTA-STS policy host (443 as RFC 8461 says; another only for tests)", OG_DNS},
    {"dns-concurrency", 0, OT_U32, OFF(dns_concurrency), "N", "500", 1, 100000,
     "DNS queries in flight at most", OG_DNS},
    {"dns-rate", 0, OT_RATE, OFF(dns_rate), "N", "5000", 0, 10000000,
     "new DNS queries per second at most (0 = no limit)", OG_DNS},
    {"dns-timeout", 0, OT_SECONDS, OFF(dns_timeout_s), "S", "2", 0.01, 60,
     "seconds to wait for a DNS answer; c-ares doubles it on each retry", OG_DNS},
    {"dns-retries", 0, OT_U32, OFF(dns_retries), "N", "2", 0, 10, "DNS query attempts after the first",
     OG_DNS},
    {"geoip", 0, OT_STR, OFF(geoip), "FILE", NULL, 0, 0,
     "MaxMind-format country or city database (GeoLite2-Country/City, DB-IP): fills `country`", OG_OUTPUT},
    {"asn", 0, OT_STR, OFF(asn), "FILE", NULL, 0, 0,
     "MaxMind-format ASN database (GeoLite2-ASN): fills `asn` and `as_org`", OG_OUTPUT},
    {"resume", 0, OT_FLAG, OFF(resume), NULL, NULL, 0, 0,
     "continue the scan whose output is -o FILE: keep its finished records, redo interrupted ones, append "
     "the rest",
     OG_RESUME},
    {"metadata", 0, OT_STR, OFF(metadata), "FILE", NULL, 0, 0,
     "write the end-of-scan summary as JSON to FILE", OG_OUTPUT},
    {"status", 0, OT_FLAG, OFF(status_line), NULL, NULL, 0, 0,
     "live status line on stderr even when it is not a terminal", OG_OUTPUT},
    {"quiet", 'q', OT_FLAG, OFF(quiet), NULL, NULL, 0, 0,
     "no status line and no summary on stderr (errors still go there)", OG_OUTPUT},
    {"schema", 0, OT_FLAG, OFF(schema), NULL, NULL, 0, 0,
     "print every record field with its type and meaning, then exit; with --format sql-postgres, "
     "sql-duckdb or sql-sqlite: a CREATE TABLE and loaders for the CSV/NDJSON (README \"Analysing "
     "results\")",
     OG_OUTPUT},
    {"debug", 0, OT_FLAG, OFF(debug), NULL, NULL, 0, 0,
     "trace every probe's phase transitions on stderr (target, protocol, phase, event); for a few targets",
     OG_MISC},
};
#pragma GCC diagnostic pop
#define N_OPTS (sizeof opt_table / sizeof opt_table[0])

uint32_t options_default_threads(long cores)
{
    if (cores < 1)
        return 1; /* sysconf failed: one loop always works */
    return cores > OPT_MAX_THREADS ? OPT_MAX_THREADS : (uint32_t)cores;
}

#define HELP_WIDTH 80 /* every --help line fits a terminal (tests/loopback/test_help.py) */
#define HELP_COL 30   /* option descriptions start in this column */

/* Prints `text` word by word from column `at` (where the cursor is),
 * breaking before HELP_WIDTH and indenting continuation lines by
 * `indent`, then ends the line. A word wider than a line gets its own. */
static void wrap(FILE *f, int at, int indent, const char *text)
{
    bool line_empty = true;
    for (const char *p = text; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        if (!line_empty && at + 1 + (int)n > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            at = indent;
            line_empty = true;
        }
        at += fprintf(f, "%s%.*s", line_empty ? "" : " ", (int)n, p);
        line_empty = false;
        p += n;
    }
    fputc('\n', f);
}

/* "  -p, --ports LIST" then the help and default, wrapped at HELP_COL. */
static void print_option(FILE *f, const char *flags, const char *help, const char *dflt)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s%s%s", help, dflt ? " (default: " : "", dflt ? dflt : "",
             dflt ? ")" : "");
    int at = fprintf(f, "  %s", flags);
    if (at + 2 > HELP_COL) {
        fputc('\n', f);
        at = 0;
    }
    fprintf(f, "%*s", HELP_COL - at, "");
    wrap(f, HELP_COL, HELP_COL, text);
}

static void print_group(FILE *f, enum opt_group g)
{
    fprintf(f, "\n%s:\n", group_names[g]);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt_def *d = &opt_table[i];
        if (d->group != g)
            continue;
        char flags[64];
        if (d->short_flag)
            snprintf(flags, sizeof flags, "-%c, --%s%s%s", d->short_flag, d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        else
            snprintf(flags, sizeof flags, "    --%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        print_option(f, flags, d->help, d->dflt);
    }
    if (g == OG_MISC) {
        print_option(f, "-h, --help", "print this help and exit", NULL);
        print_option(f, "-V, --version", "print the version and licence and exit", NULL);
    }
}

static void print_ports(char *buf, size_t cap, const uint16_t *ports)
{
    size_t len = strlen(buf);
    for (int i = 0; i < MT_PROTO_PORTS_MAX && ports[i] && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%u", i ? ", " : "", (unsigned)ports[i]);
}

/* From the protocol table (output/mt_proto.h): one entry per protocol. */
static void print_protocols(FILE *f)
{
    fprintf(f, "\nProtocols (PROTO names; a bare standard port means its protocol):\n");
    for (int i = 0; i < MT_PROTO_COUNT; i++) {
        const struct mt_proto_info *p = mt_proto_info((enum mt_proto)i);
        char line[256];
        snprintf(line, sizeof line, "%s, standard ports ", p->starttls_cmd);
        print_ports(line, sizeof line, p->starttls_ports);
        if (p->implicit_name) {
            size_t len = strlen(line);
            snprintf(line + len, sizeof line - len, "; %s implicit TLS ", p->implicit_name);
            print_ports(line, sizeof line, p->implicit_ports);
        }
        wrap(f, fprintf(f, "  %-7s ", p->name), 10, line);
    }
}

/* The five most common jobs: a command, then what it does. */
static const char *const help_examples[][2] = {
    {"mailtls-scan -p 25 --debug 192.0.2.25,mx.example.org",
     "one host by hand, like openssl s_client -starttls smtp, with a trace of every step"},
    {"mailtls-scan --ehlo-name scan.example.org -i ips.txt -o scan.json.gz",
     "a list of IPs, every standard mail port, gzip NDJSON"},
    {"mailtls-scan -p 25,587 --rate 200 -f csv -o net.csv 198.51.100.0/22",
     "a CIDR range at 200 new connections per second, CSV"},
    {"mailtls-scan --mx --resolver 127.0.0.1:53 -i domains.txt -o mx.json.gz",
     "a million mail domains: MX, then every exchanger's addresses, through YOUR resolver"},
    {"mailtls-scan --ciphers --save-certs certs/ -p 25,465,993 192.0.2.25",
     "enumerate one host: TLS versions, cipher suites and grade, certificates saved"},
};

static const char *const help_exit[][2] = {
    {"0", "every target has its final record"},
    {"1", "fatal I/O or resource error during the scan (output write failed, out of memory)"},
    {"2", "usage error, nothing scanned: bad option or port list, an input, list, database or output "
          "file that cannot be opened"},
    {"3", "the scan ended but is incomplete: interrupted (SIGINT/SIGTERM), malformed input lines "
          "skipped, or host names not resolved for lack of --resolver; the last stderr line says why and, "
          "after an interruption, gives the --resume command that continues"},
};

/* The layout every mailtls program shares (tools/mkman.py turns it into
 * the man page): Usage, one sentence, sections, Examples, Exit status. */
static void usage(FILE *f)
{
    fprintf(f, "Usage: mailtls-scan [OPTIONS] [TARGET...]\n"
               "Probes mail servers' STARTTLS and TLS: one record per (target, port).\n\n");
    wrap(f, 0, 0,
         "TARGET: IP, IP:PORT, [IPv6]:PORT, IP:PORT/PROTO, CIDR, or any of these followed by ,NAME (the "
         "name used for SNI and certificate checks); a host name or, with --mx, a mail domain. Without "
         "targets or -i, targets are read from stdin; from a terminal, mailtls-scan says so on stderr and "
         "reads until Ctrl-D (Ctrl-C stops, exit status 3).");
    for (int i = 0; i < OG_COUNT; i++)
        print_group(f, group_order[i]);
    print_protocols(f);
    fprintf(f, "\nExamples:\n");
    for (size_t i = 0; i < sizeof help_examples / sizeof help_examples[0]; i++) {
        wrap(f, fprintf(f, "  "), 6, help_examples[i][0]);
        wrap(f, fprintf(f, "      "), 6, help_examples[i][1]);
    }
    fprintf(f, "\nExit status:\n");
    for (size_t i = 0; i < sizeof help_exit / sizeof help_exit[0]; i++)
        wrap(f, fprintf(f, "  %s  ", help_exit[i][0]), 5, help_exit[i][1]);
}

static void print_schema(void)
{
    static const char *const type_names[] = {"string", "array", "integer", "boolean", "object"};
    for (int i = 0; i < F_COUNT; i++)
        printf("%-28s %-8s %s\n", rec_fields[i].name, type_names[rec_fields[i].type], rec_fields[i].doc);
    /* indented: a note, not a field (tests/loopback/test_docs.py) */
    printf("\n  <field>_b64: in NDJSON, right after a string or array field whose text had bytes replaced\n"
           "  by U+FFFD (NUL, invalid UTF-8): the exact bytes in base64; for an array, one base64 string\n"
           "  per replaced item and null for the others. Absent when nothing was replaced.\n");
    printf("\nstatus values:");
    for (int s = 0; s < STATUS_COUNT; s++)
        printf(" %s", rec_status_name((enum rec_status)s));
    printf("\n");
}

/* --shard auto: the index a cluster scheduler gives each copy of one job,
 * in this order of precedence (README "Running on a cluster"). */
static const char *const shard_env[] = {"JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"};

static int set_shard(struct options *o, const struct opt_def *d, const char *v)
{
    o->shard_from = NULL;
    if (strcmp(v, "auto") == 0) {
        for (size_t i = 0; i < sizeof shard_env / sizeof shard_env[0] && !o->shard_from; i++) {
            v = getenv(shard_env[i]);
            if (v && *v)
                o->shard_from = shard_env[i];
        }
        if (!o->shard_from) {
            fprintf(stderr,
                    "mailtls-scan: --shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) "
                    "nor SLURM_ARRAY_TASK_ID (Slurm job array) is set\n");
            return -1;
        }
    }
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || v[0] < '0' || v[0] > '9' || x > (unsigned long)d->max) {
        fprintf(stderr, "mailtls-scan: --shard: %s%s'%s' must be an integer between 0 and %g or auto\n",
                o->shard_from ? o->shard_from : "", o->shard_from ? "=" : "", v, d->max);
        return -1;
    }
    o->shard = (uint32_t)x;
    return 0;
}

static int set_value(struct options *o, const struct opt_def *d, const char *v)
{
    char *base = (char *)o + d->offset;
    char *end;
    switch (d->type) {
    case OT_STR: *(const char **)base = v; return 0;
    case OT_LIST:
        if (o->n_inputs >= OPT_MAX_INPUTS) {
            fprintf(stderr, "mailtls-scan: --%s: at most %d files\n", d->name, OPT_MAX_INPUTS);
            return -1;
        }
        o->inputs[o->n_inputs++] = v;
        return 0;
    case OT_RESOLVER:
        if (o->n_resolvers >= OPT_MAX_RESOLVERS) {
            fprintf(stderr, "mailtls-scan: --%s: at most %d servers\n", d->name, OPT_MAX_RESOLVERS);
            return -1;
        }
        o->resolvers[o->n_resolvers++] = v;
        return 0;
    case OT_FLAG: *(bool *)base = true; return 0;
    case OT_SHARD: return set_shard(o, d, v);
    case OT_U64: {
        errno = 0;
        unsigned long long x = strtoull(v, &end, 0);
        if (errno || *end || !*v || v[0] == '-') {
            fprintf(stderr, "mailtls-scan: --%s: '%s' is not a non-negative integer\n", d->name, v);
            return -1;
        }
        *(uint64_t *)base = x;
        return 0;
    }
    case OT_U32:
    case OT_SECONDS:
    case OT_RATE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || *end || !*v || !isfinite(x) || x < d->min || x > d->max ||
            (d->type == OT_U32 && x != floor(x))) {
            fprintf(stderr, "mailtls-scan: --%s: '%s' must be %s between %g and %g\n", d->name, v,
                    d->type == OT_U32 ? "an integer" : "a number", d->min, d->max);
            return -1;
        }
        if (d->type == OT_U32)
            *(uint32_t *)base = (uint32_t)x;
        else
            *(double *)base = x;
        return 0;
    }
    }
    return -1;
}

int options_parse(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    if (proto_check() < 0) /* a row without complete callbacks: refuse to start */
        return -1;
    for (size_t i = 0; i < N_OPTS; i++)
        if (opt_table[i].dflt && set_value(o, &opt_table[i], opt_table[i].dflt) < 0)
            return -1;

    struct option longs[N_OPTS + 3];
    char shorts[2 * N_OPTS + 8];
    size_t ns = 0;
    for (size_t i = 0; i < N_OPTS; i++) {
        longs[i] =
            (struct option){opt_table[i].name, opt_table[i].type == OT_FLAG ? no_argument : required_argument,
                            NULL, (int)(256 + i)};
        if (opt_table[i].short_flag) {
            shorts[ns++] = (char)opt_table[i].short_flag;
            if (opt_table[i].type != OT_FLAG)
                shorts[ns++] = ':';
        }
    }
    longs[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    longs[N_OPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    longs[N_OPTS + 2] = (struct option){0, 0, 0, 0};
    shorts[ns++] = 'h';
    shorts[ns++] = 'V';
    shorts[ns] = 0;

    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 1;
        }
        if (ch == 'V') {
            printf("mailtls-scan %s\n%s\n", MAILTLS_VERSION, MAILTLS_LICENSE_LINE);
            return 1;
        }
        if (ch == '?' || ch == ':') {
            fprintf(stderr, "mailtls-scan: %s '%s' (see --help)\n",
                    ch == ':' ? "missing argument for" : "unknown option", argv[optind - 1]);
            return -1;
        }
        const struct opt_def *d = NULL;
        if (ch >= 256)
            d = &opt_table[ch - 256];
        else
            for (size_t i = 0; i < N_OPTS; i++)
                if (opt_table[i].short_flag == ch)
                    d = &opt_table[i];
        if (!d || set_value(o, d, optarg) < 0)
            return -1;
    }
    if (o->threads == 0)
        o->threads = options_default_threads(sysconf(_SC_NPROCESSORS_ONLN));
    o->targets = argv + optind;
    o->n_targets = argc - optind;

    if (o->schema) {
        enum schema_sql_dialect dialect;
        if (strncmp(o->format, "sql-", 4) != 0) {
            print_schema();
        } else if (schema_sql_dialect(o->format, &dialect) < 0) {
            fprintf(stderr,
                    "mailtls-scan: --schema --format: '%s' is not sql-postgres, sql-duckdb or sql-sqlite\n",
                    o->format);
            return -1;
        } else if (schema_sql_print(stdout, dialect) < 0) {
            perror("mailtls-scan: stdout");
            return -1;
        }
        return 1;
    }
    if (o->mx && o->n_resolvers == 0) {
        fprintf(stderr,
                "mailtls-scan: --mx needs --resolver IP[:PORT] (the system resolver is never used)\n");
        return -1;
    }
    if (o->policy && !o->mx) {
        fprintf(stderr, "mailtls-scan: --policy needs --mx (it describes mail domains)\n");
        return -1;
    }
    if (o->resume && (!o->output || strcmp(o->output, "-") == 0)) {
        fprintf(stderr, "mailtls-scan: --resume needs the earlier scan's output file as -o FILE\n");
        return -1;
    }
    if (o->shard >= o->shards) {
        fprintf(stderr, "mailtls-scan: --shard %s%s%s%u must be smaller than --shards %u\n",
                o->shard_from ? "auto: " : "", o->shard_from ? o->shard_from : "", o->shard_from ? "=" : "",
                o->shard, o->shards);
        return -1;
    }
    if (strcmp(o->format, "json") != 0 && strcmp(o->format, "csv") != 0) {
        fprintf(stderr, "mailtls-scan: --format: '%s' is neither json nor csv\n", o->format);
        return -1;
    }
    conn_trace_enable(o->debug); /* process-wide, like the option itself */
    return 0;
}
