/*
 * geo.c - `outcheck geo`: enriches each address given on the command line
 * and prints one NDJSON record per address (the normal writer, to stdout),
 * so a test can check country/asn/as_org with the same JSON reader as
 * everything else.
 */
#include <stdio.h>
#include <string.h>

#include "../../output/geoip.h"
#include "outcheck.h"

int geo_main(int argc, char **argv)
{
    const char *country = NULL, *asn = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            break;
        if (strcmp(argv[i], "--country") == 0) {
            country = argv[i + 1];
        } else if (strcmp(argv[i], "--asn") == 0) {
            asn = argv[i + 1];
        } else {
            fprintf(stderr, "geo: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: mailtls-outcheck geo [--country DB] [--asn DB] IP...\n");
        return 2;
    }
    char err[512];
    struct geo_db *g = geo_open(country, asn, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct out_options o = {.format = OUT_JSON};
    struct out_writer *w = out_open("-", &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        geo_close(g);
        return 1;
    }
    static struct record r;
    int rc = 0;
    for (; i < argc && rc == 0; i++) {
        rec_reset(&r);
        rec_set_str(&r, F_IP, argv[i]);
        geo_enrich(g, &r);
        rc = out_write(w, &r);
    }
    if (out_close(w) < 0) {
        fprintf(stderr, "%s\n", out_error(NULL));
        rc = -1;
    }
    geo_close(g);
    return rc < 0 ? 1 : 0;
}
