/*
 * The stats line: one JSON object per line on stdout, summed over workers.
 *
 * Invariant a benchmark can check: accepted == sum(ended) + active, and on
 * the final line active == 0 (sessions still open at stop are counted as
 * "open_at_stop"). Connections refused before a session existed (capacity,
 * non-loopback) are in rejected_* and not in accepted.
 */
#include "farm.h"

#include <stdio.h>
#include <sys/resource.h>

static const char *const end_names[END__COUNT] = {
#define X(id, name) [END_##id] = name,
    FARM_ENDS(X)
#undef X
};

const char *end_name(enum sess_end e)
{
    return (unsigned)e < END__COUNT ? end_names[e] : "?";
}

#define LOAD(p) atomic_load_explicit(&(p), memory_order_relaxed)

static uint64_t sum(struct farm_stats *const *w, unsigned n, size_t offset)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += LOAD(*(_Atomic uint64_t *)(void *)((char *)w[i] + offset));
    return total;
}

#define SUM(field) sum(per_worker, n_workers, offsetof(struct farm_stats, field))
#define SUM_AT(array, i)                                                                                     \
    sum(per_worker, n_workers, offsetof(struct farm_stats, array) + (i) * sizeof(_Atomic uint64_t))

void stats_print(FILE *out, const struct farm_config *cfg, const struct listen_set *set,
                 struct farm_stats *const *per_worker, unsigned n_workers, uint64_t uptime_ms, bool is_final)
{
    uint64_t accepted = 0, ended_total = 0;
    for (unsigned p = 0; p < PROFILE__COUNT; p++)
        accepted += SUM_AT(accepted_by_profile, p);
    fprintf(out, "{\"type\":\"stats\",\"final\":%s,\"uptime_ms\":%llu,\"threads\":%u,\"seed\":%llu",
            is_final ? "true" : "false", (unsigned long long)uptime_ms, cfg->threads,
            (unsigned long long)cfg->seed);
    fprintf(out, ",\"accepted\":%llu,\"ended\":{", (unsigned long long)accepted);
    for (unsigned e = 0; e < END__COUNT; e++) {
        uint64_t v = SUM_AT(ended, e);
        ended_total += v;
        fprintf(out, "%s\"%s\":%llu", e ? "," : "", end_name((enum sess_end)e), (unsigned long long)v);
    }
    fprintf(out, "},\"ended_total\":%llu,\"active\":%llu", (unsigned long long)ended_total,
            (unsigned long long)(accepted - ended_total));
    fprintf(out,
            ",\"rejected_full\":%llu,\"rejected_nonlocal\":%llu,\"tls_handshakes\":%llu,"
            "\"tls_handshakes_legacy\":%llu,\"starttls_go_ahead\":%llu,"
            "\"auth_creds_plaintext\":%llu,\"auth_creds_tls\":%llu,"
            "\"plaintext_after_starttls_bytes\":%llu",
            (unsigned long long)SUM(rejected_full), (unsigned long long)SUM(rejected_nonlocal),
            (unsigned long long)SUM(tls_handshakes), (unsigned long long)SUM(tls_handshakes_legacy),
            (unsigned long long)SUM(starttls_go_ahead), (unsigned long long)SUM(auth_creds_plaintext),
            (unsigned long long)SUM(auth_creds_tls), (unsigned long long)SUM(plaintext_after_starttls));
    /* Process CPU (all threads), so a benchmark gets CPU per session. */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        fprintf(
            out, ",\"cpu_user_ms\":%llu,\"cpu_sys_ms\":%llu",
            (unsigned long long)ru.ru_utime.tv_sec * 1000 + (unsigned long long)ru.ru_utime.tv_usec / 1000,
            (unsigned long long)ru.ru_stime.tv_sec * 1000 + (unsigned long long)ru.ru_stime.tv_usec / 1000);
    fputs(",\"ports\":{", out);
    for (unsigned i = 0; i < set->n; i++)
        fprintf(out, "%s\"%s/%u\":%llu", i ? "," : "", set->spec[i].kind, set->spec[i].port,
                (unsigned long long)SUM_AT(accepted_by_listener, i));
    fputs("},\"profiles\":{", out);
    for (unsigned p = 0; p < PROFILE__COUNT; p++)
        fprintf(out, "%s\"%s\":%llu", p ? "," : "", profile_name((enum profile)p),
                (unsigned long long)SUM_AT(accepted_by_profile, p));
    fputs("}}\n", out);
    fflush(out);
}
