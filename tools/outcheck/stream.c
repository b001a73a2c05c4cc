/*
 * stream.c - `outcheck stream`: writes records at a steady rate through
 * the writer, calling out_tick() as the scanner's loop would, until it is
 * killed (or --seconds runs out). Every 100 ms it prints
 * "<records handed to out_write> <monotonic ms>" on stdout, so a test that
 * SIGKILLs it knows what must have reached the file.
 * Record n has time_ms = n and ip 10.a.b.c derived from n.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../output/lib/now.h"
#include "outcheck.h"

static void fill(struct record *r, uint64_t n)
{
    char ip[32], banner[96];
    rec_reset(r);
    snprintf(ip, sizeof ip, "10.%u.%u.%u", (unsigned)(n >> 16) & 255, (unsigned)(n >> 8) & 255,
             (unsigned)n & 255);
    rec_set_str(r, F_IP, ip);
    rec_set_int(r, F_PORT, 25);
    rec_set_str(r, F_PROTOCOL, "smtp");
    snprintf(banner, sizeof banner, "220 mx%llu.example ESMTP \"stream\"\r\n", (unsigned long long)n);
    rec_set_str(r, F_BANNER, banner);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "STARTTLS", 8);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "AUTH PLAIN LOGIN", 16);
    rec_set_int(r, F_TIME_MS, (int64_t)n);
}

int stream_main(int argc, char **argv)
{
    struct out_options o = {.format = OUT_JSON};
    unsigned rate = 2000, seconds = 60;
    const char *path = NULL;
    for (int i = 1; i < argc;) {
        int used = oc_parse_out_option(argc, argv, i, &o);
        if (used) {
            i += used;
        } else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
            rate = (unsigned)strtoul(argv[i + 1], NULL, 10);
            i += 2;
        } else if (strcmp(argv[i], "--background") == 0) { /* the scanner's way: a writer thread */
            o.background = true;
            i++;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = (unsigned)strtoul(argv[i + 1], NULL, 10);
            i += 2;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i++];
        } else {
            fprintf(stderr, "stream: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!path || rate == 0) {
        fprintf(
            stderr,
            "usage: mailtls-outcheck stream [--rate N] [--seconds N] [--background] [--csv] [--gzip] OUT\n");
        return 2;
    }
    char err[512];
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static struct record r;
    uint64_t start = now_ms(), next_report = start, written = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        uint64_t t = now_ms();
        if (t - start >= (uint64_t)seconds * 1000)
            break;
        uint64_t due = (t - start) * rate / 1000;
        for (; written < due; written++) {
            fill(&r, written);
            if (out_write(w, &r) < 0) {
                fprintf(stderr, "%s\n", out_error(w));
                return 1;
            }
        }
        if (out_tick(w, t) < 0) {
            fprintf(stderr, "%s\n", out_error(w));
            return 1;
        }
        if (t >= next_report) {
            printf("%llu %llu\n", (unsigned long long)written, (unsigned long long)t);
            next_report += 100;
        }
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    if (out_close(w) < 0) {
        fprintf(stderr, "%s\n", out_error(NULL));
        return 1;
    }
    return 0;
}
