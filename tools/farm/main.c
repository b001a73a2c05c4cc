/*
 * mailtls-farm: parse, validate, build, run.
 *
 * The main thread never serves connections: it opens the listeners, starts
 * the workers, then waits for SIGTERM/SIGINT (printing the stats line every
 * --stats-interval seconds meanwhile). On the signal it stops the workers,
 * joins them and prints the final stats line, so the numbers are complete.
 */
#include "farm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX 64

static int validate(struct farm_config *cfg)
{
    char err[160];
    if (profile_mix_parse(cfg->profiles, &cfg->mix, err, sizeof(err)) != 0) {
        fprintf(stderr, "mailtls-farm: --profiles: %s\n", err);
        return -1;
    }
    if (cfg->threads < 1 || cfg->threads > THREADS_MAX) {
        fprintf(stderr, "mailtls-farm: --threads must be 1..%d\n", THREADS_MAX);
        return -1;
    }
    if (cfg->idle_ms == 0 || cfg->max_session_ms == 0 || cfg->max_sessions == 0 || cfg->backlog == 0) {
        fprintf(stderr, "mailtls-farm: --idle-ms, --max-session-ms, --max-sessions and "
                        "--backlog must be positive\n");
        return -1;
    }
    /* SO_REUSEPORT would let one port be bound twice, silently. */
    struct listen_set set;
    listen_specs_from_config(cfg, &set);
    for (unsigned i = 0; i < set.n; i++) {
        for (unsigned j = 0; j < i; j++) {
            if (set.spec[i].port && set.spec[i].port == set.spec[j].port) {
                fprintf(stderr, "mailtls-farm: port %u given twice (%s, %s)\n", set.spec[i].port,
                        set.spec[j].kind, set.spec[i].kind);
                return -1;
            }
        }
    }
    if (cfg->list_profiles > (1u << 24)) {
        fprintf(stderr, "mailtls-farm: --list-profiles at most 16777216\n");
        return -1;
    }
    return 0;
}

static int print_profile(const struct farm_config *cfg)
{
    uint64_t key;
    if (profile_key_from_text(cfg->print_profile, &key) != 0) {
        fprintf(stderr, "mailtls-farm: --print-profile: not an address: %s\n", cfg->print_profile);
        return 2;
    }
    printf("%s\n", profile_name(profile_pick(&cfg->mix, cfg->seed, key)));
    return 0;
}

static int list_profiles(const struct farm_config *cfg)
{
    struct in_addr base;
    if (inet_pton(AF_INET, cfg->base, &base) != 1) {
        fprintf(stderr, "mailtls-farm: --base: not an IPv4 address: %s\n", cfg->base);
        return 2;
    }
    uint32_t a = ntohl(base.s_addr);
    for (uint32_t i = 0; i < cfg->list_profiles; i++, a++) {
        enum profile p = profile_pick(&cfg->mix, cfg->seed, profile_key_v4(a));
        printf("%u.%u.%u.%u %s\n", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, profile_name(p));
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static void announce(const struct farm_config *cfg, const struct listen_set *set)
{
    fprintf(stderr, "mailtls-farm: pid %ld, %u thread(s), bind %s:", (long)getpid(), cfg->threads, cfg->bind);
    for (unsigned i = 0; i < set->n; i++)
        fprintf(stderr, " %s/%u", set->spec[i].kind, set->spec[i].port);
    fputc('\n', stderr);
}

/* Blocks until SIGTERM/SIGINT, printing interval stats meanwhile. */
static void wait_for_stop(const struct farm_config *cfg, const struct listen_set *set,
                          struct farm_stats *const *stats, unsigned n, uint64_t start_ms)
{
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    uint64_t next_ms = start_ms + (uint64_t)cfg->stats_interval_s * 1000;
    for (;;) {
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        int sig = sigtimedwait(&stop_set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return;
        uint64_t now = farm_now_ms();
        if (cfg->stats_interval_s && now >= next_ms) {
            stats_print(stdout, cfg, set, stats, n, now - start_ms, false);
            next_ms = now + (uint64_t)cfg->stats_interval_s * 1000;
        }
    }
}

static int run(const struct farm_config *cfg)
{
    static struct listen_set set;
    static int fds[THREADS_MAX][LISTENERS_MAX];
    struct shared sh = {.cfg = cfg, .listeners = &set};
    struct worker *workers = NULL;
    pthread_t tids[THREADS_MAX];
    struct farm_stats *stats[THREADS_MAX];
    unsigned n_open = 0, n_init = 0, n_started = 0;
    int rc = 1;

    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL); /* inherited by the workers */

    listen_specs_from_config(cfg, &set);
    if (set.n == 0) {
        fprintf(stderr, "mailtls-farm: no ports configured\n");
        return 2;
    }
    listen_raise_nofile(cfg->max_sessions + set.n * cfg->threads + 64);
    listen_check_somaxconn(cfg->backlog);
    if (tlsctx_init(cfg->cert, cfg->key, &sh.tls_modern, &sh.tls_legacy) != 0)
        return 1;
    for (; n_open < cfg->threads; n_open++)
        if (listen_open_all(cfg, &set, fds[n_open]) != 0)
            goto out;
    workers = calloc(cfg->threads, sizeof(*workers));
    if (!workers)
        goto out;
    for (; n_init < cfg->threads; n_init++) {
        if (worker_init(&workers[n_init], n_init, &sh, fds[n_init]) != 0) {
            fprintf(stderr, "mailtls-farm: worker set-up failed: %s\n", strerror(errno));
            worker_free(&workers[n_init]);
            goto out;
        }
        stats[n_init] = &workers[n_init].stats;
    }
    uint64_t start_ms = farm_now_ms();
    for (; n_started < cfg->threads; n_started++) {
        int err = pthread_create(&tids[n_started], NULL, worker_main, &workers[n_started]);
        if (err) {
            fprintf(stderr, "mailtls-farm: pthread_create: %s\n", strerror(err));
            goto stop;
        }
    }
    if (cfg->ready_file && listen_write_ready_file(cfg->ready_file, cfg, &set) != 0)
        goto stop;
    announce(cfg, &set);
    wait_for_stop(cfg, &set, stats, n_init, start_ms);
    rc = 0;
stop:
    atomic_store(&sh.stop, true);
    for (unsigned t = 0; t < n_started; t++) {
        uint64_t one = 1;
        if (write(workers[t].wake_fd, &one, sizeof(one)) < 0) {
            /* the worker also wakes within a second on its own */
        }
    }
    for (unsigned t = 0; t < n_started; t++)
        pthread_join(tids[t], NULL);
    stats_print(stdout, cfg, &set, stats, n_init, farm_now_ms() - start_ms, true);
    if (cfg->ready_file)
        unlink(cfg->ready_file);
out:
    for (unsigned t = 0; t < n_open; t++)
        for (unsigned i = 0; i < set.n; i++)
            close(fds[t][i]);
    for (unsigned t = 0; t < n_init; t++)
        worker_free(&workers[t]);
    free(workers);
    SSL_CTX_free(sh.tls_modern);
    SSL_CTX_free(sh.tls_legacy);
    return rc;
}

int main(int argc, char **argv)
{
    struct farm_config cfg;
    int rc;
    if (opts_parse(argc, argv, &cfg) != 0) {
        fprintf(stderr, "try 'mailtls-farm --help'\n");
        opts_free(&cfg);
        return 2;
    }
    if (cfg.help) {
        opts_usage(stdout);
        rc = 0;
    } else if (cfg.version) {
        printf("mailtls-farm %s\n", MAILTLS_VERSION);
        rc = 0;
    } else if (validate(&cfg) != 0) {
        rc = 2;
    } else if (cfg.dump_config) {
        opts_dump(stdout, &cfg);
        rc = 0;
    } else if (cfg.print_profile) {
        rc = print_profile(&cfg);
    } else if (cfg.list_profiles) {
        rc = list_profiles(&cfg);
    } else {
        rc = run(&cfg);
    }
    opts_free(&cfg);
    return rc;
}
