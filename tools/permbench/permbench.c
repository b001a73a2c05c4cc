/*
 * permbench.c - how fast targets are generated, without probing anything.
 *
 *   mailtls-permbench [PREFIX] [SEED]      (default 10.0.0.0/8, seed 1)
 *
 * Two timings over the same prefix: the bare permutation walk (tgt_perm),
 * and the whole source path an engine sees (line parse, permutation,
 * sharding bookkeeping, address arithmetic and a blocklist lookup per
 * address, built-in list on). No sockets: nothing leaves the process.
 */
#include "../../targets/permute.h"
#include "../../targets/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *prefix = argc > 1 ? argv[1] : "10.0.0.0/8";
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    struct tgt_line line;
    char err[TGT_ERR_MAX];
    struct tgt_perm perm;
    uint64_t idx, n = 0, sum = 0;
    double t0, t1;

    if (tgt_parse_line(prefix, strlen(prefix), &line, err, sizeof err) != 1 || line.kind != TGT_PREFIX) {
        fprintf(stderr, "mailtls-permbench: '%s' is not a prefix%s%s\n", prefix, err[0] ? ": " : "", err);
        return 2;
    }
    unsigned host_bits = (line.family == AF_INET ? 32u : 128u) - line.prefix_len;

    t0 = now_s();
    tgt_perm_init(&perm, UINT64_C(1) << host_bits, seed);
    while (tgt_perm_next(&perm, &idx)) {
        sum += idx;
        n++;
    }
    t1 = now_s();
    /* Each index once: the sum is n(n-1)/2 (mod 2^64). */
    bool is_complete = n == perm.n && sum == (n % 2 ? (n - 1) / 2 * n : n / 2 * (n - 1));
    printf("permutation: %llu indices in %.3f s = %.1f M addresses/s (%s)\n", (unsigned long long)n, t1 - t0,
           (double)n / (t1 - t0) / 1e6, is_complete ? "every index once" : "INCOMPLETE");

    struct tgt_source_opts opts = {.seed = seed, .shards = 1, .shard = 0};
    struct tgt_source *s = tgt_source_new(&opts);
    struct tgt_item it;
    uint64_t blocked = 0;

    if (!s || tgt_source_add_arg(s, prefix, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-permbench: cannot set up the source\n");
        return 1;
    }
    n = 0;
    t0 = now_s();
    while (tgt_source_next(s, &it, err, sizeof err) == TGT_NEXT_ITEM) {
        blocked += it.blocklisted;
        n++;
    }
    t1 = now_s();
    printf("source:      %llu items in %.3f s = %.1f M items/s (%llu blocklisted)\n", (unsigned long long)n,
           t1 - t0, (double)n / (t1 - t0) / 1e6, (unsigned long long)blocked);
    tgt_source_free(s);
    return is_complete ? 0 : 1;
}
