/*
 * xsort.h - external merge sort of packed snaps (snap.h) in bounded memory.
 *
 * Snaps are added one at a time into a run buffer of mem_bytes; a full
 * buffer is sorted (snap_cmp_packed) and written as one run to a temporary
 * file (created in tmpdir and unlinked at once, so nothing is left behind
 * even after a kill). xsort_finish() writes the last run; xsort_next() then
 * merges the runs, each read through its own window of
 * min(64 KiB, mem_bytes / runs) bytes. Memory is mem_bytes while adding and
 * at most mem_bytes plus a few KiB per run while merging, whatever the
 * input size; disk use is the packed size of the input (a few hundred bytes
 * per record). Runs number about packed input / (3/4 mem_bytes): ~10 for
 * 2M records at the default 32 MiB. The merge picks the smallest run head
 * by a linear scan, cheap at that count; a tiny budget over a huge input
 * (thousands of runs) is slow and its windows (>= 8 KiB each) exceed the
 * budget.
 */
#ifndef MAILTLS_DIFF_XSORT_H
#define MAILTLS_DIFF_XSORT_H

#include <stddef.h>
#include <stdint.h>

struct xsort;

struct xsort *xsort_new(size_t mem_bytes, const char *tmpdir, char *err, size_t errlen);
/* Copies one packed snap (len bytes, <= SNAP_PACKED_MAX). -1 on a write error. */
int xsort_add(struct xsort *x, const unsigned char *packed, size_t len, char *err, size_t errlen);
/* No more adds; prepares the merge. */
int xsort_finish(struct xsort *x, char *err, size_t errlen);
/* The next snap in order: 1 with *packed valid until the next call, 0 at
 * the end, -1 on a read error. */
int xsort_next(struct xsort *x, const unsigned char **packed, size_t *len, char *err, size_t errlen);
uint64_t xsort_records(const struct xsort *x);
size_t xsort_runs(const struct xsort *x);
uint64_t xsort_spilled_bytes(const struct xsort *x);
void xsort_free(struct xsort *x);

#endif
