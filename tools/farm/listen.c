/*
 * Listening sockets and process limits.
 *
 * Every worker thread gets its own socket for every configured port, all
 * bound with SO_REUSEPORT so that the kernel spreads new connections over
 * the threads. Port 0 means "any free port": the first socket picks it, the
 * others then bind the same number, and the ready file tells scripts which.
 *
 * Loopback only. --bind accepts 0.0.0.0, 127.x.y.z or ::1, nothing else.
 * A 0.0.0.0 bind (needed to answer on every 127.x.y.z) is additionally tied
 * to the "lo" device with SO_BINDTODEVICE when allowed, and loop.c resets
 * any accepted connection whose local or peer address is not loopback.
 */
#include "farm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void add_specs(struct listen_set *set, const struct port_list *pl, enum farm_proto proto,
                      bool is_implicit, const char *kind)
{
    for (unsigned i = 0; i < pl->n && set->n < LISTENERS_MAX; i++) {
        struct listen_spec *sp = &set->spec[set->n++];
        sp->proto = proto;
        sp->is_implicit = is_implicit;
        sp->port = pl->port[i];
        sp->kind = kind;
    }
}

void listen_specs_from_config(const struct farm_config *cfg, struct listen_set *set)
{
    memset(set, 0, sizeof(*set));
    for (int p = 0; p < FARM_PROTO_COUNT; p++) {
        add_specs(set, &cfg->ports[p][0], (enum farm_proto)p, false, farm_protos[p].name);
        add_specs(set, &cfg->ports[p][1], (enum farm_proto)p, true, farm_protos[p].implicit_name);
    }
}

bool listen_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

/* Fills ss from --bind; refuses any address that is not loopback or 0.0.0.0. */
static int bind_addr(const char *text, uint16_t port, struct sockaddr_storage *ss, socklen_t *len,
                     bool *is_wildcard)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof(*sin);
        *is_wildcard = sin->sin_addr.s_addr == htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof(*sin6);
        *is_wildcard = false;
    } else {
        return -1;
    }
    if (!*is_wildcard && !listen_is_loopback(ss))
        return -1;
    return 0;
}

static int open_one(const struct farm_config *cfg, struct listen_spec *sp)
{
    struct sockaddr_storage ss;
    socklen_t len;
    bool is_wildcard;
    static bool has_warned_device;
    if (bind_addr(cfg->bind, sp->port, &ss, &len, &is_wildcard) != 0) {
        fprintf(stderr, "mailtls-farm: --bind %s: only 0.0.0.0, 127.0.0.0/8 or ::1 allowed\n", cfg->bind);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "mailtls-farm: socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        fprintf(stderr, "mailtls-farm: SO_REUSEPORT: %s\n", strerror(errno));
        goto fail;
    }
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    /* Inherited by accepted sockets: replies and the close_notify after
     * them leave at once, without a setsockopt per connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (is_wildcard && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0 && !has_warned_device) {
        int err = errno;
        has_warned_device = true;
        fprintf(stderr,
                "mailtls-farm: warning: SO_BINDTODEVICE lo: %s; relying on the accept-time "
                "loopback check only\n",
                strerror(err));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "mailtls-farm: bind %s port %u (%s): %s\n", cfg->bind, sp->port, sp->kind,
                strerror(errno));
        goto fail;
    }
    if (listen(fd, (int)(cfg->backlog > 65535 ? 65535 : cfg->backlog)) != 0) {
        fprintf(stderr, "mailtls-farm: listen: %s\n", strerror(errno));
        goto fail;
    }
    if (sp->port == 0) {
        struct sockaddr_storage got;
        socklen_t got_len = sizeof(got);
        if (getsockname(fd, (struct sockaddr *)&got, &got_len) != 0)
            goto fail;
        sp->port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&got)->sin_port
                                                  : ((struct sockaddr_in6 *)(void *)&got)->sin6_port);
    }
    return fd;
fail:
    close(fd);
    return -1;
}

int listen_open_all(const struct farm_config *cfg, struct listen_set *set, int *fds)
{
    for (unsigned i = 0; i < set->n; i++) {
        fds[i] = open_one(cfg, &set->spec[i]);
        if (fds[i] < 0) {
            while (i--)
                close(fds[i]);
            return -1;
        }
    }
    return 0;
}

void listen_raise_nofile(uint32_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        fprintf(stderr,
                "mailtls-farm: warning: RLIMIT_NOFILE is %llu, below the %u descriptors "
                "--max-sessions needs; sessions beyond it are refused at accept\n",
                (unsigned long long)rl.rlim_cur, want);
}

void listen_check_somaxconn(uint32_t backlog)
{
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    unsigned long v = 0;
    if (!f)
        return;
    if (fscanf(f, "%lu", &v) == 1 && v < backlog)
        fprintf(stderr,
                "mailtls-farm: warning: net.core.somaxconn is %lu, so the listen backlog is "
                "%lu, not %u; bursts above it are dropped and clients retry after 1 s\n",
                v, v, backlog);
    fclose(f);
}

int listen_write_ready_file(const char *path, const struct farm_config *cfg, const struct listen_set *set)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mailtls-farm: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "{\"pid\":%ld,\"bind\":\"%s\",\"threads\":%u,\"seed\":%llu,\"listeners\":[", (long)getpid(),
            cfg->bind, cfg->threads, (unsigned long long)cfg->seed);
    for (unsigned i = 0; i < set->n; i++)
        fprintf(f, "%s{\"kind\":\"%s\",\"port\":%u}", i ? "," : "", set->spec[i].kind, set->spec[i].port);
    fputs("]", f);
    for (unsigned k = 0; k < 2 * FARM_PROTO_COUNT; k++) {
        const char *kind = k % 2 ? farm_protos[k / 2].implicit_name : farm_protos[k / 2].name;
        fprintf(f, ",\"%s\":[", kind);
        unsigned n = 0;
        for (unsigned i = 0; i < set->n; i++)
            if (strcmp(set->spec[i].kind, kind) == 0)
                fprintf(f, "%s%u", n++ ? "," : "", set->spec[i].port);
        fputs("]", f);
    }
    fputs("}\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "mailtls-farm: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
