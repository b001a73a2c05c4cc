/*
 * mailtls-dnsbench - lookups per second through c-ares (scanner/dns.c)
 * against a resolver on loopback.
 *
 *   mailtls-dnsbench --resolver 127.0.0.1:PORT --names FILE [--type a|aaaa|mx]
 *                    [--queries N] [--concurrency N] [--rate N] [--timeout-ms MS]
 *
 * Sends N queries (cycling through the names of FILE, one per line) with at
 * most --concurrency unanswered, from one thread and one epoll loop wired
 * exactly like the scanner's (socket-state callback -> epoll, ares_timeout
 * bounding the wait). Prints one line: queries, answers by outcome, wall
 * time, lookups per second, and this process's CPU seconds (so the rate per
 * core is visible). It never starts a server: tools/dnsbench/run_unbound.py
 * starts unbound on loopback with a test zone and runs it.
 */
#include <ares.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../../output/lib/now.h"
#include "../../scanner/dns.h"

#define NAMES_MAX 1000000
#define NAME_LEN 256

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench {
    struct dns *dns;
    int epfd;
    char (*names)[NAME_LEN];
    size_t n_names, next_name;
    uint64_t to_send, sent, done, ok, nodata, nxdomain, timeout, other;
    int type;
};

static int watch(void *ctx, int fd, uint32_t events)
{
    struct bench *b = ctx;
    if (events == 0)
        return epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void top_up(struct bench *b);

static void answered(void *arg, int status, const unsigned char *abuf, int alen)
{
    struct bench *b = arg;
    (void)abuf;
    (void)alen;
    b->done++;
    switch (status) {
    case ARES_SUCCESS: b->ok++; break;
    case ARES_ENODATA: b->nodata++; break;
    case ARES_ENOTFOUND: b->nxdomain++; break;
    case ARES_ETIMEOUT: b->timeout++; break;
    default: b->other++; break;
    }
    top_up(b);
}

static void top_up(struct bench *b)
{
    while (b->sent < b->to_send && dns_queue_room(b->dns) > 0) {
        const char *name = b->names[b->next_name];
        b->next_name = (b->next_name + 1) % b->n_names;
        if (dns_query(b->dns, name, b->type, answered, b) < 0)
            break;
        b->sent++;
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: mailtls-dnsbench --resolver IP[:PORT] --names FILE [--type a|aaaa|mx] [--queries N]\n"
            "                        [--concurrency N] [--rate N] [--timeout-ms MS]\n");
}

int main(int argc, char **argv)
{
    const char *resolver = NULL, *names_path = NULL, *type = "a";
    unsigned long long queries = 200000;
    unsigned long concurrency = 500, timeout_ms = 2000;
    double rate = 0;
    static const struct option longs[] = {{"resolver", required_argument, NULL, 'r'},
                                          {"names", required_argument, NULL, 'n'},
                                          {"type", required_argument, NULL, 't'},
                                          {"queries", required_argument, NULL, 'q'},
                                          {"concurrency", required_argument, NULL, 'c'},
                                          {"rate", required_argument, NULL, 'R'},
                                          {"timeout-ms", required_argument, NULL, 'T'},
                                          {"help", no_argument, NULL, 'h'},
                                          {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'r': resolver = optarg; break;
        case 'n': names_path = optarg; break;
        case 't': type = optarg; break;
        case 'q': queries = strtoull(optarg, NULL, 10); break;
        case 'c': concurrency = strtoul(optarg, NULL, 10); break;
        case 'R': rate = strtod(optarg, NULL); break;
        case 'T': timeout_ms = strtoul(optarg, NULL, 10); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!resolver || !names_path || queries == 0 || concurrency == 0 || concurrency > 100000) {
        usage();
        return 2;
    }
    struct bench b;
    memset(&b, 0, sizeof b);
    b.type = strcmp(type, "mx") == 0 ? 15 : strcmp(type, "aaaa") == 0 ? 28 : 1;
    b.to_send = queries;
    b.names = calloc(NAMES_MAX, NAME_LEN);
    FILE *f = fopen(names_path, "r");
    if (!b.names || !f) {
        fprintf(stderr, "mailtls-dnsbench: %s: %s\n", names_path, strerror(errno));
        return 2;
    }
    char line[NAME_LEN + 2];
    while (b.n_names < NAMES_MAX && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0])
            snprintf(b.names[b.n_names++], NAME_LEN, "%.255s", line);
    }
    fclose(f);
    if (b.n_names == 0) {
        fprintf(stderr, "mailtls-dnsbench: %s holds no names\n", names_path);
        return 2;
    }
    char err[256];
    struct dns_config cfg = {.servers = {resolver},
                             .n_servers = 1,
                             .concurrency = (uint32_t)concurrency,
                             .rate = rate,
                             .timeout_ms = (uint32_t)timeout_ms,
                             .retries = 1,
                             .queue_max = (uint32_t)concurrency * 2};
    b.dns = dns_new(&cfg, err, sizeof err);
    if (!b.dns) {
        fprintf(stderr, "mailtls-dnsbench: %s\n", err);
        return 2;
    }
    b.epfd = epoll_create1(EPOLL_CLOEXEC);
    dns_set_watch(b.dns, watch, &b);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = mono_s();
    top_up(&b);
    struct epoll_event evs[64];
    while (b.done < b.to_send) {
        uint64_t now = now_ms();
        dns_pump(b.dns, now);
        uint64_t until = dns_next_deadline(b.dns, now);
        int wait = until == 0 ? 1000 : until > now ? (int)(until - now) : 0;
        int n = epoll_wait(b.epfd, evs, 64, wait);
        now = now_ms();
        for (int i = 0; i < n; i++)
            dns_on_fd(b.dns, evs[i].data.fd, evs[i].events, now);
        dns_on_timer(b.dns, now);
        top_up(&b);
    }
    double secs = mono_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu =
        (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
        (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
            1e6;
    printf("queries=%llu ok=%llu nodata=%llu nxdomain=%llu timeout=%llu other=%llu seconds=%.3f "
           "lookups_per_s=%.0f cpu_s=%.3f lookups_per_cpu_s=%.0f concurrency=%lu type=%s\n",
           (unsigned long long)b.done, (unsigned long long)b.ok, (unsigned long long)b.nodata,
           (unsigned long long)b.nxdomain, (unsigned long long)b.timeout, (unsigned long long)b.other, secs,
           (double)b.done / secs, cpu, cpu > 0 ? (double)b.done / cpu : 0.0, concurrency, type);
    dns_free(b.dns);
    close(b.epfd);
    free(b.names);
    return b.timeout + b.other > 0 ? 1 : 0;
}
