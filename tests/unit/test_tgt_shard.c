/*
 * test_tgt_shard.c - --shards N --shard I: shards are pairwise disjoint and
 * together give back the whole input, for an input mixing addresses,
 * prefixes and names.
 */
#include "../../targets/target.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const input[] = {
    "198.51.100.7",
    "10.0.0.0/24",
    "mail.example.com",
    "2001:db8::/120",
    "127.0.0.1:25",
    "[::1]:993",
    "example.org",
    "192.168.0.0/30",
    "203.0.113.0/28",
    "# a comment",
    "",
    "not a target",
    "127.0.0.2/31",
    ",mx.example.net,t1",
    "172.16.0.0/20",
};
/* 1 + 256 + 1 + 256 + 1 + 1 + 1 + 4 + 16 + 2 + 1 + 4096 */
#define TOTAL 4636

/* One item as text: "kind addr-or-name port". */
static void item_key(const struct tgt_item *it, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "";

    if (it->line.kind == TGT_ADDR)
        inet_ntop(it->line.family, it->line.addr, a, sizeof a);
    snprintf(buf, len, "%d %s %s %u", (int)it->line.kind, a, it->line.name, (unsigned)it->line.port);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one shard; returns the number of items, keys appended to keys[]. */
static size_t run_shard(uint32_t shards, uint32_t shard, uint64_t seed, char **keys,
                        struct tgt_counts *counts)
{
    struct tgt_source_opts opts = {.seed = seed, .shards = shards, .shard = shard};
    struct tgt_source *s = tgt_source_new(&opts);
    struct tgt_item it;
    char err[TGT_ERR_MAX];
    size_t n = 0;
    enum tgt_next r;

    for (size_t i = 0; i < sizeof input / sizeof input[0]; i++)
        tgt_source_add_arg(s, input[i], err, sizeof err);
    while ((r = tgt_source_next(s, &it, err, sizeof err)) != TGT_NEXT_END) {
        if (r == TGT_NEXT_MALFORMED)
            continue;
        if (r != TGT_NEXT_ITEM)
            break;
        char buf[400];
        item_key(&it, buf, sizeof buf);
        keys[n++] = strdup(buf);
        if (n > TOTAL)
            break;
    }
    tgt_source_counts(s, counts);
    tgt_source_free(s);
    return n;
}

static void test_partition(uint32_t shards, uint64_t seed, char **whole)
{
    char **all = calloc(TOTAL + 8, sizeof *all);
    size_t total = 0;
    bool counts_ok = true;

    for (uint32_t i = 0; i < shards; i++) {
        struct tgt_counts c;
        size_t n = run_shard(shards, i, seed, all + total, &c);
        /* Round-robin: each shard gets within one of TOTAL / shards. */
        if (n < TOTAL / shards || n > TOTAL / shards + 1)
            counts_ok = false;
        if (c.items != n || c.other_shard != TOTAL - n || c.malformed != 1)
            counts_ok = false;
        total += n;
        if (total > TOTAL)
            break;
    }
    CHECK(counts_ok);
    CHECK(total == TOTAL);
    qsort(all, total, sizeof *all, cmp_str);
    /* Sorted union == sorted whole input, which has no duplicates: so the
     * shards are pairwise disjoint and cover everything. */
    bool same = total == TOTAL;
    for (size_t i = 0; same && i < TOTAL; i++)
        same = strcmp(all[i], whole[i]) == 0;
    CHECK(same);
    for (size_t i = 0; i < total; i++)
        free(all[i]);
    free(all);
}

int main(void)
{
    char **whole = calloc(TOTAL + 8, sizeof *whole);
    struct tgt_counts c;
    size_t n = run_shard(1, 0, 7, whole, &c);
    static const uint32_t shard_counts[] = {1, 2, 3, 7};

    CHECK(n == TOTAL && c.items == TOTAL && c.other_shard == 0 && c.malformed == 1);
    qsort(whole, n, sizeof *whole, cmp_str);
    for (size_t i = 1; i < n; i++)
        CHECK(strcmp(whole[i - 1], whole[i]) != 0); /* the input has no duplicates */
    for (size_t i = 0; i < sizeof shard_counts / sizeof shard_counts[0]; i++) {
        test_partition(shard_counts[i], 7, whole);
        test_partition(shard_counts[i], 123456789, whole);
    }
    /* Invalid shard options are refused. */
    {
        struct tgt_source_opts bad = {.shards = 0, .shard = 0};
        CHECK(tgt_source_new(&bad) == NULL);
        bad.shards = 3;
        bad.shard = 3;
        CHECK(tgt_source_new(&bad) == NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(whole[i]);
    free(whole);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
