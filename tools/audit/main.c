/*
 * main.c - mailtls-audit: read Postfix and Dovecot configurations the way
 * the servers do, report TLS and AUTH weaknesses with file and line, and
 * (--live) check the declared local listeners against a real scan.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exim.h"
#include "live.h"
#include "tools.h"

#define EXIT_OK 0
#define EXIT_HIGH 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: mailtls-audit [OPTIONS]\n"
    "Audit the TLS and AUTH settings of Postfix, Dovecot and Exim configurations.\n"
    "\n"
    "Configuration:\n"
    "  --postfix DIR         directory holding main.cf and master.cf\n"
    "                        (default: /etc/postfix, when neither --postfix nor\n"
    "                        --dovecot is given)\n"
    "  --dovecot FILE        top Dovecot configuration file\n"
    "                        (default: /etc/dovecot/dovecot.conf, likewise)\n"
    "  --exim FILE           Exim configuration file (main section and\n"
    "                        authenticators; read as a file only)\n"
    "  --no-tools            parse the files even when postconf/doveconf are on\n"
    "                        PATH (default: use them when found)\n"
    "\n"
    "Live check:\n"
    "  --live                scan the declared listeners on loopback and compare\n"
    "                        each with the configuration's verdict\n"
    "  --live-timeout SEC    budget of one probe in seconds (default: 10)\n"
    "  --live-records FILE   also write the scan records (NDJSON, as mailtls-scan)\n"
    "\n"
    "Output:\n"
    "  --format FMT          text or json (NDJSON) (default: text)\n"
    "  -o, --output FILE     write the report to FILE (default: stdout)\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Examples:\n"
    "  mailtls-audit\n"
    "      audit /etc/postfix and /etc/dovecot/dovecot.conf\n"
    "  mailtls-audit --postfix /etc/postfix --live --format json\n"
    "      audit Postfix, scan its local listeners, print NDJSON\n"
    "\n"
    "Exit status:\n"
    "  0  no high-severity finding (and every live check agrees)\n"
    "  1  at least one high-severity finding or live mismatch\n"
    "  2  usage error or unreadable configuration\n";

struct audit_opts {
    const char *postfix, *dovecot, *exim, *output, *records;
    bool json, live, no_tools;
    double live_timeout_s;
};

static int parse_args(int argc, char **argv, struct audit_opts *o)
{
    enum { O_POSTFIX = 256, O_DOVECOT, O_EXIM, O_LIVE, O_FORMAT, O_NO_TOOLS, O_LIVE_TIMEOUT, O_LIVE_RECORDS };
    static const struct option longopts[] = {{"postfix", required_argument, NULL, O_POSTFIX},
                                             {"dovecot", required_argument, NULL, O_DOVECOT},
                                             {"exim", required_argument, NULL, O_EXIM},
                                             {"no-tools", no_argument, NULL, O_NO_TOOLS},
                                             {"live", no_argument, NULL, O_LIVE},
                                             {"live-timeout", required_argument, NULL, O_LIVE_TIMEOUT},
                                             {"live-records", required_argument, NULL, O_LIVE_RECORDS},
                                             {"format", required_argument, NULL, O_FORMAT},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->live_timeout_s = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case O_POSTFIX: o->postfix = optarg; break;
        case O_DOVECOT: o->dovecot = optarg; break;
        case O_EXIM: o->exim = optarg; break;
        case O_NO_TOOLS: o->no_tools = true; break;
        case O_LIVE: o->live = true; break;
        case O_LIVE_TIMEOUT:
            o->live_timeout_s = strtod(optarg, &end);
            if (*end || !(o->live_timeout_s >= 0.5 && o->live_timeout_s <= 300)) {
                fprintf(stderr, "mailtls-audit: --live-timeout: want seconds in 0.5..300\n");
                return -1;
            }
            break;
        case O_LIVE_RECORDS: o->records = optarg; break;
        case O_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
                fprintf(stderr, "mailtls-audit: --format: text or json\n");
                return -1;
            }
            o->json = strcmp(optarg, "json") == 0;
            break;
        case 'o': o->output = optarg; break;
        case 'h': fputs(usage_text, stdout); return 1;
        case 'V': printf("mailtls-audit %s\n", MAILTLS_VERSION); return 1;
        default: fprintf(stderr, "Try 'mailtls-audit --help'.\n"); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mailtls-audit: unexpected argument '%s'\nTry 'mailtls-audit --help'.\n",
                argv[optind]);
        return -1;
    }
    if (!o->postfix && !o->dovecot && !o->exim) {
        struct stat st;
        if (stat("/etc/postfix/main.cf", &st) == 0)
            o->postfix = "/etc/postfix";
        if (stat("/etc/dovecot/dovecot.conf", &st) == 0)
            o->dovecot = "/etc/dovecot/dovecot.conf";
        if (!o->postfix && !o->dovecot && !o->exim) {
            fprintf(stderr,
                    "mailtls-audit: neither /etc/postfix/main.cf nor /etc/dovecot/dovecot.conf exists; "
                    "name one with --postfix or --dovecot\n");
            return -1;
        }
    }
    return 0;
}

/* Everything one run holds (large: on the heap). */
struct audit {
    struct pf_conf pf;
    struct dc_conf dc;
    struct ex_conf ex;
    struct aud_findings fs;
    struct aud_listeners ls;
    struct aud_live live[AUD_LISTENERS_MAX];
    struct aud_source src[3];
    size_t n_src, n_live;
    char notes[2][300];
};

static int load_postfix(struct audit *a, const struct audit_opts *o)
{
    char err[300];
    pf_init(&a->pf, o->postfix);
    if (pf_load_files(&a->pf, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-audit: --postfix: %s\n", err);
        return -1;
    }
    const char *via = "files";
    if (o->no_tools)
        snprintf(a->notes[0], sizeof a->notes[0], "--no-tools");
    else if (!tool_on_path("postconf"))
        snprintf(a->notes[0], sizeof a->notes[0], "postconf not on PATH");
    else if (pf_from_postconf(&a->pf, err, sizeof err) < 0)
        snprintf(a->notes[0], sizeof a->notes[0], "postconf failed: %.200s", err);
    else
        via = "postconf";
    a->src[a->n_src++] = (struct aud_source){.product = "postfix",
                                             .path = o->postfix,
                                             .via = via,
                                             .note = a->notes[0][0] ? a->notes[0] : NULL,
                                             .warnings = a->pf.st.warnings,
                                             .first_warning = a->pf.st.first_warning};
    pf_check(&a->pf, &a->fs, o->live ? &a->ls : NULL);
    return 0;
}

static int load_dovecot(struct audit *a, const struct audit_opts *o)
{
    char err[300];
    dc_init(&a->dc, o->dovecot);
    if (dc_load_files(&a->dc, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-audit: --dovecot: %s\n", err);
        return -1;
    }
    const char *via = "files";
    if (o->no_tools)
        snprintf(a->notes[1], sizeof a->notes[1], "--no-tools");
    else if (!tool_on_path("doveconf"))
        snprintf(a->notes[1], sizeof a->notes[1], "doveconf not on PATH");
    else if (dc_from_doveconf(&a->dc, err, sizeof err) < 0)
        snprintf(a->notes[1], sizeof a->notes[1], "doveconf failed: %.200s", err);
    else
        via = "doveconf";
    a->src[a->n_src++] = (struct aud_source){.product = "dovecot",
                                             .path = o->dovecot,
                                             .via = via,
                                             .note = a->notes[1][0] ? a->notes[1] : NULL,
                                             .warnings = a->dc.st.warnings,
                                             .first_warning = a->dc.st.first_warning};
    dc_check(&a->dc, &a->fs, o->live ? &a->ls : NULL);
    return 0;
}

static int load_exim(struct audit *a, const struct audit_opts *o)
{
    char err[300];
    ex_init(&a->ex, o->exim);
    if (ex_load_file(&a->ex, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-audit: --exim: %s\n", err);
        return -1;
    }
    a->src[a->n_src++] = (struct aud_source){.product = "exim",
                                             .path = o->exim,
                                             .via = "files",
                                             .note = "exim -bP is not used",
                                             .warnings = a->ex.st.warnings,
                                             .first_warning = a->ex.st.first_warning};
    ex_check(&a->ex, &a->fs);
    return 0;
}

int main(int argc, char **argv)
{
    struct audit_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    struct audit *a = calloc(1, sizeof *a);
    if (!a) {
        fprintf(stderr, "mailtls-audit: out of memory\n");
        return EXIT_USAGE;
    }
    int status = EXIT_USAGE;
    FILE *out = stdout;
    if ((o.postfix && load_postfix(a, &o) < 0) || (o.dovecot && load_dovecot(a, &o) < 0) ||
        (o.exim && load_exim(a, &o) < 0))
        goto done;
    if (o.live) {
        char err[256];
        int n =
            live_run(&a->ls, &(struct live_opts){.timeout_s = o.live_timeout_s, .records_path = o.records},
                     a->live, AUD_LISTENERS_MAX, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "mailtls-audit: --live: %s\n", err);
            goto done;
        }
        a->n_live = (size_t)n;
    }
    if (o.output && !(out = fopen(o.output, "w"))) {
        perror(o.output);
        out = stdout;
        goto done;
    }
    if (o.json)
        report_json(out, a->src, a->n_src, &a->fs, a->live, a->n_live);
    else
        report_text(out, a->src, a->n_src, &a->fs, a->live, a->n_live);
    status = aud_findings_any(&a->fs, SEV_HIGH) ? EXIT_HIGH : EXIT_OK;
    for (size_t i = 0; i < a->n_live; i++)
        if (!a->live[i].agree && strcmp(a->live[i].live_verdict, "not-scanned") != 0)
            status = EXIT_HIGH;
    if (out != stdout && fclose(out) != 0) {
        perror(o.output);
        status = EXIT_USAGE;
    }
done:
    pf_free(&a->pf);
    dc_free(&a->dc);
    ex_free(&a->ex);
    aud_findings_free(&a->fs);
    free(a);
    return status;
}
