/*
 * inputs.h - notices when the files given to mailtls-stats are not shards
 * of one scan.
 *
 * Shards of one scan (--shards N --shard I, or a scan split by target
 * lists) hold disjoint (address, port) keys, and summing them is the
 * point. Two scans of the same hosts (yesterday and today) hold the same
 * keys, and their sum counts every host twice: that is mailtls-diff's
 * job. The records carry no scan id, so the keys tell: a key already seen
 * in an earlier file is counted as repeated. mailtls-stats keeps summing
 * (a re-scan of a few hosts appended as its own file is legitimate) and
 * prints a note with the number.
 *
 * Memory: the first INPUTS_MAX_KEYS distinct keys are remembered (about
 * 24 MB at most); later new keys are not, which can only undercount.
 * Domain records (no port) and `duplicate` records are not keys.
 */
#ifndef MAILTLS_STATS_INPUTS_H
#define MAILTLS_STATS_INPUTS_H

#include <stdint.h>

#include "../../output/lib/kset.h"
#include "../../output/record.h"

#define INPUTS_MAX_KEYS (1u << 20)

struct inputs {
    struct kset keys; /* key hash -> index of the file that last had it */
    uint32_t file;    /* 1-based index of the file being read */
    uint64_t repeated;
};

void inputs_init(struct inputs *in);
/* Call before reading each file. */
void inputs_next_file(struct inputs *in);
void inputs_add(struct inputs *in, const struct record *r);
void inputs_free(struct inputs *in);

#endif
