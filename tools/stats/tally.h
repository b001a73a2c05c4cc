/*
 * tally.h - counts per distinct value (a facet), with a hard cap.
 *
 * Open addressing over a table sized at creation for max_keys values;
 * keys are copied into one arena of TALLY_KEY_AVG_BYTES per key. Once
 * max_keys distinct values (or the arena) are used up, further new values
 * are counted under "(other)", so memory stays bounded whatever the input
 * holds.
 */
#ifndef MAILTLS_STATS_TALLY_H
#define MAILTLS_STATS_TALLY_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_KEY_AVG_BYTES 40
#define TALLY_OTHER "(other)"

struct tally_entry {
    const char *key;
    uint64_t count;
};

struct tally;

struct tally *tally_new(size_t max_keys);
void tally_free(struct tally *t);
/* Adds n to key (len bytes, need not be NUL-terminated). */
void tally_add(struct tally *t, const char *key, size_t len, uint64_t n);
uint64_t tally_get(const struct tally *t, const char *key);
/* Fills out with up to max entries, highest count first (ties: key order).
 * Returns how many. */
size_t tally_top(const struct tally *t, struct tally_entry *out, size_t max);
size_t tally_distinct(const struct tally *t);

#endif
