/*
 * recin.h - turns one line of mailtls output (NDJSON or CSV, as written by
 * output/) back into a struct record.
 *
 * Fields are matched by name against rec_fields[]; unknown names and
 * columns are ignored, so newer files still load. Values are cut to the
 * field caps like any record. A malformed line gives -1 and a message
 * ("column N: ..." or "field x: ..."); the caller adds file and line.
 */
#ifndef MAILTLS_STATS_RECIN_H
#define MAILTLS_STATS_RECIN_H

#include <stddef.h>

#include "../../output/record.h"

struct recin;

struct recin *recin_new(void);
void recin_free(struct recin *in);
int recin_json(struct recin *in, struct record *r, const char *line, size_t len, char *err, size_t errlen);
/* The first line of each CSV file: learns the column order. */
int recin_csv_header(struct recin *in, const char *line, size_t len, char *err, size_t errlen);
int recin_csv(struct recin *in, struct record *r, const char *line, size_t len, char *err, size_t errlen);

#endif
