/*
 * shodan.h - reads a file of Shodan search results to compare against:
 *
 *   {"results": {"<check name>": {"query": "port:587 ...", "total": 882407,
 *                "facets": {"country": [{"value": "US", "count": 1234}]}}}}
 *
 * Each entry becomes a check (check.h) whose query is evaluated over the
 * records, so the match is by query (port and terms), never by name.
 * Facet values may be strings or numbers; facets mailtls does not know
 * (facet.h) are skipped with a warning. The file may be gzip; at most
 * SHODAN_MAX_BYTES, STATS_MAX_CHECKS entries, CHECK_MAX_FACETS facets of
 * CHECK_MAX_FACET_VALUES values per entry.
 */
#ifndef MAILTLS_STATS_SHODAN_H
#define MAILTLS_STATS_SHODAN_H

#include <stddef.h>

#include "stats.h"

#define SHODAN_MAX_BYTES (16 * 1024 * 1024)

int shodan_load(struct stats *s, const char *path, char *err, size_t errlen);

#endif
