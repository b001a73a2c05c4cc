/*
 * summary.h - what a scan did, live and at the end.
 *
 * Counts every emitted record by status and port; prints a status line on
 * stderr every second (when stderr is a terminal, or with --status) and a
 * summary at the end (unless --quiet); writes the same summary as JSON to
 * --metadata FILE. It also answers the questions asked around a scan:
 * how many probes the command line asks for (summary_plan), how long that
 * takes, and, at the end, whether the scan is complete (exit status 0) or
 * not (3, with a last stderr line saying why and how to --resume).
 */
#ifndef MAILTLS_SUMMARY_H
#define MAILTLS_SUMMARY_H

#include <stdint.h>

#include "../output/record.h"
#include "../targets/target.h"
#include "engine.h"
#include "feed.h"
#include "options.h"

/* Exit statuses of mailtls-scan (README "Exit status", --help). */
enum summary_exit {
    SUMMARY_EXIT_COMPLETE = 0,   /* every target has its final record */
    SUMMARY_EXIT_FATAL = 1,      /* fatal I/O or resource error */
    SUMMARY_EXIT_USAGE = 2,      /* bad option or unusable file named on the command line */
    SUMMARY_EXIT_INCOMPLETE = 3, /* interrupted, malformed lines skipped, names unresolved */
};

struct summary;

struct summary *summary_new(const struct options *o, int argc, char **argv);
void summary_count(struct summary *s, const struct record *r);
/* Records of one status counted so far. */
uint64_t summary_records_of(const struct summary *s, enum rec_status st);

/* What the status line shows besides the record counters. */
struct summary_live {
    uint64_t open;    /* connections open now (probes and TLS tests) */
    uint64_t queued;  /* probes taken from the input, not yet connected */
    uint64_t skipped; /* targets --resume found done: they count as progress */
    bool input_read;  /* no more targets to read */
};
/* The number of records the scan will write, when known before it starts
 * (summary_plan); 0 = unknown. Gives the status line its ETA from the
 * start; without it the ETA appears once the input is read. */
void summary_set_total(struct summary *s, uint64_t records);
void summary_status_line(struct summary *s, uint64_t now_ms, const struct summary_live *l);

void summary_finish(struct summary *s, const struct engine_stats *es, const struct tgt_counts *tc,
                    const struct feed *f);
int summary_write_json(const struct summary *s, const char *path);
void summary_free(struct summary *s);

/* How many (target, port) records the command line asks for. Known only
 * when every target is an argument (no -i, no stdin), with --mx off, and
 * host names only without --resolver (then each name is one record per
 * port; resolved, it may have any number of addresses). Sharding is taken
 * into account exactly; blocklisted targets are included (they get records
 * without a connection). Returns false when unknown. */
bool summary_plan(const struct options *o, const struct tgt_port *ports, size_t n_ports, uint64_t *targets,
                  uint64_t *records);
/* The line printed before a scan of more than 1,000,000 probes:
 * "16,777,216 targets x 7 ports = 117,440,512 probes, at --rate 1000 at
 * least 1.4 days (...)". */
void summary_plan_line(char *buf, size_t len, uint64_t targets, size_t n_ports, uint64_t records,
                       double rate);
/* "42 seconds", "17 minutes", "3.5 hours", "12.1 days" */
void summary_format_duration(double secs, char *buf, size_t len);
/* argv as one shell-quoted command line, with " --resume" appended unless
 * it is there already. malloc'd; NULL on OOM. */
char *summary_resume_command(int argc, char *const *argv);

/* How the scan ended, for summary_exit_status. */
struct summary_end {
    int signal;            /* SIGINT/SIGTERM that stopped it, 0 = none */
    bool input_read;       /* every input line was read */
    uint64_t malformed;    /* input lines skipped */
    uint64_t unresolved;   /* records of host names given without --resolver */
    bool output_is_stdout; /* -o - : no file to --resume from */
    bool input_is_stdin;   /* targets came from stdin: resume needs them again */
    bool input_is_tty;     /* ... typed at the terminal */
    int argc;
    char *const *argv;
};
/* SUMMARY_EXIT_COMPLETE, or SUMMARY_EXIT_INCOMPLETE after printing one stderr line that
 * says why (every reason, "; "-separated) and, after an interruption, the
 * command that continues the scan, or why there is none. */
int summary_exit_status(const struct summary *s, const struct summary_end *e);

#endif
