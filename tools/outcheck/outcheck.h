/*
 * outcheck.h - subcommands of mailtls-outcheck, the output test helper.
 *
 * It drives the output library the way the scanner does, so the loopback
 * tests can check the files from outside (Python's json, csv and gzip,
 * zcat, sqlite3) and the benchmark has a large realistic input:
 *   hostile   fixed and seeded-random hostile records, plus a hex manifest
 *   stream    writes records continuously until killed (SIGKILL test)
 *   generate  N synthetic scan results (for mailtls-stats tests/benchmarks)
 *   geo       enriches addresses from .mmdb files and prints the fields
 * Each returns the process exit status.
 */
#ifndef MAILTLS_OUTCHECK_H
#define MAILTLS_OUTCHECK_H

#include <stdbool.h>

#include "../../output/writer.h"

int hostile_main(int argc, char **argv);
int stream_main(int argc, char **argv);
int generate_main(int argc, char **argv);
int geo_main(int argc, char **argv);

/* Shared option parsing: --json/--csv/--gzip/--interval-ms. Returns the
 * number of argv entries consumed at i (0 when argv[i] is not one). */
int oc_parse_out_option(int argc, char **argv, int i, struct out_options *o);
/* Simple deterministic PRNG (xorshift64*), so runs are reproducible. */
unsigned long long oc_rand(unsigned long long *state);

#endif
