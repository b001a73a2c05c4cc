/*
 * The mode store and the per-address table.
 *
 * Mode store: one small text file per client address, DIR/modes/<ip>,
 * written by `mailtls-selftest arm` (tmp file + rename, so the server never
 * reads half a file) and read by the server at each accept (a few
 * microseconds on a local disk; the store is tiny). Lines:
 *   case t1 | scenario immediate | session S | armed_ns N | expires_s N
 * An expired mode is ignored, as if the file were not there. A mode can
 * also be armed for a session (DIR/modes/session-S): it applies to the
 * connections of an address from which that session last logged in, when
 * the address has no mode of its own.
 *
 * Per-address table (server memory only): IPTAB_SLOTS entries, open
 * addressing over IPTAB_PROBE slots from the FNV-1a hash of the address
 * text; when all are taken the least recently seen idle entry is reused.
 * It holds the connection rate bucket, the open-connection count, the
 * connection count since the current mode was armed (two_phase and guided
 * count on it) and the last session that logged in from the address.
 */
#include "selftest.h"

#include "../../output/lib/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const case_names[] = {
#define X(id, name) [CASE_##id] = name,
    ST_CASES(X)
#undef X
};

const char *st_case_name(enum st_case c)
{
    return c < CASE__COUNT ? case_names[c] : "guided";
}

int st_case_parse(const char *s, bool allow_guided, enum st_case *out)
{
    for (int i = 0; i < CASE__COUNT; i++) {
        if (strcmp(s, case_names[i]) == 0) {
            *out = (enum st_case)i;
            return 0;
        }
    }
    if (allow_guided && strcmp(s, "guided") == 0) {
        *out = CASE_GUIDED;
        return 0;
    }
    return -1;
}

const char *st_scenario_name(enum st_scenario s)
{
    return s == SCEN_TWO_PHASE ? "two_phase" : "immediate";
}

int st_scenario_parse(const char *s, enum st_scenario *out)
{
    if (strcmp(s, "immediate") == 0)
        *out = SCEN_IMMEDIATE;
    else if (strcmp(s, "two_phase") == 0)
        *out = SCEN_TWO_PHASE;
    else
        return -1;
    return 0;
}

/* The key is a file name: an address (only what inet_ntop can produce) or
 * "session-" and a valid session id; the two can never collide ('s'). */
static int mode_path(char *buf, size_t cap, const char *dir, const char *ip)
{
    bool is_session = strncmp(ip, "session-", 8) == 0 && stc_session_valid(ip + 8);
    if (!is_session &&
        (!*ip || strspn(ip, "0123456789abcdefABCDEF.:") != strlen(ip) || strlen(ip) >= INET6_ADDRSTRLEN))
        return -1;
    snprintf(buf, cap, "%s/modes/%s", dir, ip);
    return 0;
}

int mode_arm(const char *dir, const char *ip, const struct st_mode *m)
{
    char path[4096], tmp[4200];
    if (mode_path(path, sizeof(path), dir, ip) != 0) {
        fprintf(stderr, "%s: not an address: %s\n", ST_PROG, ip);
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s/modes", dir);
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s: %s\n", ST_PROG, tmp, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", ST_PROG, tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "case %s\nscenario %s\nsession %s\narmed_ns %llu\nexpires_s %llu\n", st_case_name(m->kase),
            st_scenario_name(m->scenario), m->session, (unsigned long long)m->armed_ns,
            (unsigned long long)m->expires_s);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: writing %s: %s\n", ST_PROG, path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int mode_disarm(const char *dir, const char *ip)
{
    char path[4096];
    if (mode_path(path, sizeof(path), dir, ip) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int mode_read(const char *dir, const char *ip, struct st_mode *m)
{
    char path[4096], buf[512];
    if (mode_path(path, sizeof(path), dir, ip) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    memset(m, 0, sizeof(*m));
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *val = strchr(line, ' ');
        if (!val)
            return -1;
        *val++ = '\0';
        if (strcmp(line, "case") == 0 && st_case_parse(val, true, &m->kase) != 0)
            return -1;
        if (strcmp(line, "scenario") == 0 && st_scenario_parse(val, &m->scenario) != 0)
            return -1;
        if (strcmp(line, "session") == 0 && stc_session_valid(val))
            snprintf(m->session, sizeof(m->session), "%s", val);
        if (strcmp(line, "armed_ns") == 0)
            m->armed_ns = strtoull(val, NULL, 10);
        if (strcmp(line, "expires_s") == 0)
            m->expires_s = strtoull(val, NULL, 10);
    }
    return (uint64_t)time(NULL) < m->expires_s ? 1 : 0;
}

static struct ip_entry table[IPTAB_SLOTS];

struct ip_entry *iptab_get(const char *ip, uint64_t now_ms, double rate, double burst)
{
    uint64_t h = hash_fnv1a64(ip, strlen(ip));
    struct ip_entry *victim = NULL;
    for (unsigned i = 0; i < IPTAB_PROBE; i++) {
        struct ip_entry *e = &table[(h + i) % IPTAB_SLOTS];
        if (strcmp(e->ip, ip) == 0)
            return e;
        if (e->n_active == 0 && (!victim || e->last_ms < victim->last_ms))
            victim = e;
    }
    if (!victim)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    snprintf(victim->ip, sizeof(victim->ip), "%s", ip);
    victim->last_ms = now_ms;
    rate_init(&victim->rate, rate, burst, burst, now_ms);
    return victim;
}
