/*
 * engine.h - diff two scans in bounded memory (the core of mailtls-diff,
 * also used by mailtls-report --compare).
 *
 * Each input is read once with the one output reader (output/reader.h:
 * NDJSON or CSV, gzip or not), every record reduced to a snap (snap.h)
 * and fed to an external sort (xsort.h); then both sorted streams are
 * merged by key and each key goes through the severity table (rules.h).
 * emit() is called in key order for every key that is new, gone or
 * differs; the result and its snaps are valid during the call only.
 * A key seen twice in one file counts once (the first record wins).
 *
 * Memory: one reader (~3.5 MiB) while loading, plus mem_bytes per input
 * being sorted (the old input's buffer is freed before the new one is
 * read), plus one read window per run while merging (xsort.h).
 */
#ifndef MAILTLS_DIFF_ENGINE_H
#define MAILTLS_DIFF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define DIFF_MAX_PORTS 64

struct diff_opts {
    struct rules_opts rules;
    int n_ports; /* 0 = every port */
    uint16_t ports[DIFF_MAX_PORTS];
    size_t mem_bytes;
    const char *tmpdir;
    bool skip_bad; /* count and skip lines that do not parse */
};

struct diff_counts {
    uint64_t records[2]; /* old, new: records kept (after --ports) */
    uint64_t dups[2];    /* keys seen again in the same file */
    uint64_t bad_lines[2];
    uint64_t by_sev[SEV_WORSE + 1]; /* keys per severity */
    size_t runs[2];
    uint64_t spilled_bytes[2];
};

/* Returns 0 to go on, -1 to stop (then diff_files returns -1 too). */
typedef int (*diff_emit_fn)(void *ctx, const struct diff_result *res);

/* 0 when both files were compared to the end; -1 with err on a read or
 * temporary-file error, or when emit stopped. */
int diff_files(const char *old_path, const char *new_path, const struct diff_opts *o, diff_emit_fn emit,
               void *ctx, struct diff_counts *cnt, char *err, size_t errlen);

#endif
