/*
 * resume.h - --resume: continue an interrupted or killed scan from its
 * output, so that both runs together hold every (target, port) once.
 *
 * resume_prepare() reads the earlier output (NDJSON or CSV, gzip or not),
 * keeps every complete record whose status is not `interrupted`, rewrites
 * the file with exactly those (a killed scan's torn last line or gzip
 * member is dropped), and remembers their (ip or host, port) keys. The
 * scan then appends to the file and skips every key already done.
 */
#ifndef MAILTLS_RESUME_H
#define MAILTLS_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../output/record.h"

struct resume_set;

/* Returns NULL with err set on failure. *kept = records carried over,
 * *redo = interrupted records dropped (their targets run again). */
struct resume_set *resume_prepare(const char *path, bool csv, char *err, size_t errlen, uint64_t *kept,
                                  uint64_t *redo);
/* Whether (ip text or host name, port) was finished in the earlier run. */
bool resume_done(const struct resume_set *s, const char *key, size_t key_len, unsigned port);
/* The same question for a record about to be written (uses ip, else host). */
bool resume_done_record(const struct resume_set *s, const struct record *r);
void resume_free(struct resume_set *s);

#endif
