/*
 * summary.h - what a scan did, live and at the end.
 *
 * Counts every emitted record by status and port; prints a status line on
 * stderr every second (when stderr is a terminal, or with --status) and a
 * summary at the end (unless --quiet); writes the same summary as JSON to
 * --metadata FILE.
 */
#ifndef MAILTLS_SUMMARY_H
#define MAILTLS_SUMMARY_H

#include <stdint.h>

#include "../output/record.h"
#include "../targets/target.h"
#include "engine.h"
#include "feed.h"
#include "options.h"

struct summary;

struct summary *summary_new(const struct options *o, int argc, char **argv);
void summary_count(struct summary *s, const struct record *r);
/* in_flight: probes started and not yet recorded; input_read: no more
 * targets to read (then the ETA is the in-flight work at the current rate). */
void summary_status_line(struct summary *s, uint64_t now_ms, uint64_t in_flight, bool input_read);
void summary_finish(struct summary *s, const struct engine_stats *es, const struct tgt_counts *tc,
                    const struct feed *f);
int summary_write_json(const struct summary *s, const char *path);
void summary_free(struct summary *s);

#endif
