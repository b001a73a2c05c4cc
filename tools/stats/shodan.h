/*
 * shodan.h - reads a file of Shodan search results to compare against:
 *
 *   {"results": {"<check name>": {"query": "port:587 ...", "total": 882407,
 *                "facets": {"country": [{"value": "US", "count": 1234}]}}}}
 *
 * or a raw answer of Shodan's REST API /shodan/host/count (saved as it
 * came, e.g. with curl):
 *
 *   {"total": 882407, "facets": {"country": [{"count": 1234, "value": "US"}]},
 *    "matches": []}
 *
 * whose query, not part of the answer, is given by the caller
 * (--shodan-query); its check is named after the file.
 * Each entry becomes a check (check.h) whose query is evaluated over the
 * records, so the match is by query (port and terms), never by name.
 * Facet values may be strings, numbers or booleans; facets mailtls does not know
 * (facet.h) are skipped with a warning. The file may be gzip; at most
 * SHODAN_MAX_BYTES, STATS_MAX_CHECKS entries, CHECK_MAX_FACETS facets of
 * CHECK_MAX_FACET_VALUES values per entry.
 */
#ifndef MAILTLS_STATS_SHODAN_H
#define MAILTLS_STATS_SHODAN_H

#include <stdbool.h>
#include <stddef.h>

#include "stats.h"

#define SHODAN_MAX_BYTES (16 * 1024 * 1024)

/* query: the query for a raw answer (NULL: none given); a "results" file
 * ignores it. *query_used says whether it was taken. Returns 0, or -1
 * with a message "<path>: ..." in err. */
int shodan_load(struct stats *s, const char *path, const char *query, bool *query_used, char *err,
                size_t errlen);
/* The same over a file's bytes (label names it in messages): what the
 * fuzz target drives. */
int shodan_parse(struct stats *s, const char *text, size_t len, const char *label, const char *query,
                 bool *query_used, char *err, size_t errlen);

#endif
