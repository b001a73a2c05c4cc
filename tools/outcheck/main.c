/* main.c - mailtls-outcheck: dispatch to a subcommand (see outcheck.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcheck.h"

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  mailtls-outcheck hostile [--csv] [--gzip] OUT MANIFEST\n"
               "  mailtls-outcheck stream [--rate N] [--interval-ms N] [--background] [--csv] [--gzip] OUT\n"
               "  mailtls-outcheck generate [--count N] [--seed N] [--csv] [--gzip] OUT\n"
               "  mailtls-outcheck geo [--country DB] [--asn DB] IP...\n");
}

int oc_parse_out_option(int argc, char **argv, int i, struct out_options *o)
{
    if (strcmp(argv[i], "--csv") == 0) {
        o->format = OUT_CSV;
        return 1;
    }
    if (strcmp(argv[i], "--json") == 0) {
        o->format = OUT_JSON;
        return 1;
    }
    if (strcmp(argv[i], "--gzip") == 0) {
        o->gzip = true;
        return 1;
    }
    if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc) {
        o->flush_interval_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
        return 2;
    }
    return 0;
}

unsigned long long oc_rand(unsigned long long *state)
{
    unsigned long long x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "hostile") == 0)
        return hostile_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "stream") == 0)
        return stream_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "generate") == 0)
        return generate_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "geo") == 0)
        return geo_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
