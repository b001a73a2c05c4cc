/*
 * The server loop: one thread, one epoll set, nonblocking sockets.
 *
 * Accepting is where the limits apply, in this order: a free slot of the
 * --max-conns array, an entry in the per-address table, the address's
 * token bucket (--ip-rate per second, bursts of --ip-burst) and its
 * open-connection cap (--max-conns-per-ip). A connection over a limit is
 * closed at once (SMTP gets a 421 line first, best effort).
 *
 * Then the case: the mode armed for the client address (mode.c), else the
 * mode armed for the session that last logged in from that address, else
 * the serve defaults (--case, --scenario). two_phase: the first connection
 * after arming is served normally (the client learns the server), later
 * ones are attacked. guided: the Nth connection since arming plays case
 * (N-1) mod 5 of baseline, t1, t2, t3, t4 (two_phase: each case takes two
 * connections, a normal one, then the attacked one).
 *
 * Deadlines: once a second the loop walks the open connections (at most
 * --max-conns, 256 by default: cheaper than keeping a heap for this) and
 * closes those idle for --idle-timeout, in a handshake for longer than
 * --handshake-timeout, or open for longer than --session-timeout.
 */
#include "selftest.h"

#include "../../output/lib/now.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { KIND_LISTENER = 1, KIND_CONN = 2 };

struct listener_obj {
    int kind; /* first field, like struct conn */
    unsigned idx;
};

struct server {
    struct st_config *cfg;
    int epfd;
    SSL_CTX *tls;
    struct conn *conns;
    struct conn *dead;
    uint32_t n_open;
    uint32_t n_ready;
    uint64_t next_id;
    struct listener_obj lobj[ST_LISTEN_MAX];
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

SSL_CTX *server_tls(struct server *sv)
{
    return sv->tls;
}

int server_epfd(struct server *sv)
{
    return sv->epfd;
}

const struct st_config *server_cfg(struct server *sv)
{
    return sv->cfg;
}

void server_mark_ready(struct server *sv, struct conn *c)
{
    if (!c->is_ready) {
        c->is_ready = true;
        sv->n_ready++;
    }
}

static const struct {
    const char *kind;
    enum st_proto proto;
    bool is_implicit;
} kinds[] = {
    {"smtp", ST_SMTP, false}, {"submission", ST_SMTP, false}, {"smtps", ST_SMTP, true},
    {"imap", ST_IMAP, false}, {"imaps", ST_IMAP, true},       {"pop3", ST_POP3, false},
    {"pop3s", ST_POP3, true},
};

int serve_parse_listen(const char *spec, struct st_listen *l)
{
    const char *c1 = strchr(spec, ':');
    const char *c2 = strrchr(spec, ':');
    if (!c1 || c1 == c2)
        return -1;
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    size_t klen = (size_t)(c1 - spec);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strlen(kinds[i].kind) == klen && strncmp(spec, kinds[i].kind, klen) == 0) {
            l->kind = kinds[i].kind;
            l->proto = kinds[i].proto;
            l->is_implicit = kinds[i].is_implicit;
        }
    }
    const char *a = c1 + 1;
    size_t alen = (size_t)(c2 - a);
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
    }
    char *end;
    unsigned long port = strtoul(c2 + 1, &end, 10);
    if (!l->kind || alen == 0 || alen >= sizeof(l->addr) || *end || end == c2 + 1 || port > 65535)
        return -1;
    memcpy(l->addr, a, alen);
    l->port = (uint16_t)port;
    return 0;
}

static int open_listener(struct st_listen *l)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, l->addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(l->port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, l->addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(l->port);
        sl = sizeof(*s6);
    } else {
        fprintf(stderr, "%s: --listen %s: not an IP address\n", ST_PROG, l->addr);
        return -1;
    }
    int one = 1;
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(l->fd, (struct sockaddr *)&ss, sl) != 0 || listen(l->fd, 128) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&ss, &sl) != 0) {
        fprintf(stderr, "%s: --listen %s:%s:%u: %s\n", ST_PROG, l->kind, l->addr, l->port, strerror(errno));
        return -1;
    }
    l->port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
    return 0;
}

/* "kind addr port" per listener, written once all are bound (tests wait
 * for it to learn the ports of --listen ...:0). */
static int write_ready_file(const struct st_config *cfg)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->ready_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    for (unsigned i = 0; i < cfg->n_lst; i++)
        fprintf(f, "%s %s %u\n", cfg->lst[i].kind, cfg->lst[i].addr, cfg->lst[i].port);
    if (fclose(f) != 0 || rename(tmp, cfg->ready_file) != 0)
        return -1;
    return 0;
}

static void peer_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)cap);
    } else if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, (socklen_t)cap);
    } else {
        inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)cap);
    }
}

/* Over a limit: a best-effort 421 for SMTP, then close. */
static void refuse(int fd, const struct st_listen *l)
{
    static const char busy[] = "421 4.7.0 selftest.example too many connections, try later\r\n";
    if (l->proto == ST_SMTP && !l->is_implicit)
        (void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

/* Which case and phase this connection plays (see the header comment). */
static void pick_case(const struct st_config *cfg, struct conn *c)
{
    struct st_mode m;
    memset(&m, 0, sizeof(m));
    char skey[8 + ST_SESSION_MAX + 1];
    snprintf(skey, sizeof(skey), "session-%s", c->ipe->session);
    if (mode_read(cfg->state_dir, c->client_ip, &m) != 1 &&
        (!c->ipe->session[0] || mode_read(cfg->state_dir, skey, &m) != 1)) {
        m.kase = cfg->default_case;
        m.scenario = cfg->default_scenario;
        m.armed_ns = 0;
    }
    if (c->ipe->armed_ns != m.armed_ns) {
        c->ipe->armed_ns = m.armed_ns;
        c->ipe->n_conns = 0;
    }
    uint32_t n = ++c->ipe->n_conns;
    bool is_two = m.scenario == SCEN_TWO_PHASE;
    c->ev.scenario = m.scenario;
    if (m.kase == CASE_GUIDED) {
        c->ev.kase = (enum st_case)((is_two ? (n - 1) / 2 : n - 1) % CASE__COUNT);
        c->ev.is_attack = !is_two || (n - 1) % 2 == 1;
    } else {
        c->ev.kase = m.kase;
        c->ev.is_attack = !is_two || n >= 2;
    }
    snprintf(c->session, sizeof(c->session), "%s", m.session[0] ? m.session : c->ipe->session);
}

static const char *const proto_names[] = {[ST_SMTP] = "smtp", [ST_IMAP] = "imap", [ST_POP3] = "pop3"};

static void accept_one(struct server *sv, unsigned li)
{
    const struct st_config *cfg = sv->cfg;
    const struct st_listen *l = &cfg->lst[li];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct conn *c = NULL;
    for (uint32_t i = 0; i < cfg->max_conns && !c; i++)
        if (!sv->conns[i].in_use)
            c = &sv->conns[i];
    char ip[INET6_ADDRSTRLEN] = "";
    peer_text(&ss, ip, sizeof(ip));
    uint64_t now = now_ms();
    struct ip_entry *ipe = c ? iptab_get(ip, now, cfg->ip_rate, cfg->ip_burst) : NULL;
    if (ipe) {
        ipe->last_ms = now;
        rate_refill(&ipe->rate, now);
    }
    if (!ipe || ipe->n_active >= cfg->max_conns_per_ip || !rate_take(&ipe->rate)) {
        refuse(fd, l);
        return;
    }
    memset(c, 0, offsetof(struct conn, rx));
    c->kind = KIND_CONN;
    c->in_use = true;
    c->fd = fd;
    c->lst = l;
    c->ipe = ipe;
    c->proto = l->proto;
    c->is_implicit = l->is_implicit;
    c->is_t3_drop = cfg->is_t3_drop;
    c->start_ms = c->last_ms = now;
    snprintf(c->client_ip, sizeof(c->client_ip), "%s", ip);
    c->ev.conn_id = ++sv->next_id;
    c->ev.proto = proto_names[l->proto];
    c->ev.client_ip = c->client_ip;
    c->ev.server_port = l->port;
    c->ev.session = c->session;
    c->ev.is_tls = false;
    pick_case(cfg, c);
    ipe->n_active++;
    sv->n_open++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->events = EPOLLIN;
    if (epoll_ctl(sv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        conn_close(sv, c, "io_error", false);
        return;
    }
    conn_start(sv, c);
}

/* Called by conn_close: the slot is given back after the event batch. */
void server_conn_closed(struct server *sv, struct conn *c)
{
    sv->n_open--;
    c->ipe->n_active--;
    c->next_dead = sv->dead;
    sv->dead = c;
}

static void check_deadlines(struct server *sv, uint64_t now)
{
    const struct st_config *cfg = sv->cfg;
    for (uint32_t i = 0; i < cfg->max_conns; i++) {
        struct conn *c = &sv->conns[i];
        if (!c->in_use || c->is_dead)
            continue;
        bool is_hs = c->phase == PH_HANDSHAKE || c->phase == PH_AWAIT_HELLO;
        if (now - c->last_ms > cfg->idle_s * 1000ull)
            conn_close(sv, c, "idle_timeout", false);
        else if (is_hs && now - c->last_ms > cfg->handshake_s * 1000ull)
            conn_close(sv, c, "handshake_timeout", false);
        else if (now - c->start_ms > cfg->session_s * 1000ull)
            conn_close(sv, c, "session_timeout", false);
    }
}

static void free_dead(struct server *sv)
{
    while (sv->dead) {
        struct conn *c = sv->dead;
        sv->dead = c->next_dead;
        if (c->is_ready)
            sv->n_ready--;
        c->is_ready = false;
        c->in_use = false;
    }
}

static void run_ready(struct server *sv)
{
    for (uint32_t i = 0; i < sv->cfg->max_conns && sv->n_ready; i++) {
        struct conn *c = &sv->conns[i];
        if (c->in_use && c->is_ready && !c->is_dead) {
            c->is_ready = false;
            sv->n_ready--;
            conn_run(sv, c, 0);
        }
    }
}

/* Every open connection is one descriptor: make sure --max-conns of them
 * fit, so accept() can never fail with EMFILE (a level-triggered listener
 * would then spin). */
static int fit_nofile(uint32_t max_conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_conns + ST_LISTEN_MAX + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want) {
        fprintf(stderr, "%s: --max-conns %u needs %llu descriptors; the limit is %llu\n", ST_PROG, max_conns,
                (unsigned long long)want, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static int setup(struct server *sv)
{
    struct st_config *cfg = sv->cfg;
    if (fit_nofile(cfg->max_conns) != 0)
        return -1;
    sv->tls = tls_ctx_new(cfg->cert, cfg->key);
    sv->conns = calloc(cfg->max_conns, sizeof(*sv->conns));
    sv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!sv->tls || !sv->conns || sv->epfd < 0 || evlog_open(cfg->state_dir) != 0)
        return -1;
    for (unsigned i = 0; i < cfg->n_lst; i++) {
        if (open_listener(&cfg->lst[i]) != 0)
            return -1;
        sv->lobj[i].kind = KIND_LISTENER;
        sv->lobj[i].idx = i;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sv->lobj[i]};
        if (epoll_ctl(sv->epfd, EPOLL_CTL_ADD, cfg->lst[i].fd, &ev) != 0)
            return -1;
    }
    if (cfg->ready_file && write_ready_file(cfg) != 0) {
        fprintf(stderr, "%s: --ready-file %s: %s\n", ST_PROG, cfg->ready_file, strerror(errno));
        return -1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int serve_run(struct st_config *cfg)
{
    struct server sv = {.cfg = cfg, .epfd = -1};
    /* Connection ids stay unique across restarts on the same log. */
    sv.next_id = (uint64_t)time(NULL) * 1000000ull;
    int rc = setup(&sv) == 0 ? 0 : 1;
    uint64_t last_tick = now_ms();
    while (rc == 0 && !stop_flag) {
        struct epoll_event evs[64];
        int n = epoll_wait(sv.epfd, evs, 64, sv.n_ready ? 0 : 250);
        if (n < 0 && errno != EINTR) {
            rc = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == KIND_LISTENER) {
                accept_one(&sv, ((struct listener_obj *)evs[i].data.ptr)->idx);
            } else {
                struct conn *c = evs[i].data.ptr;
                if (c->in_use && !c->is_dead)
                    conn_run(&sv, c, evs[i].events);
            }
        }
        run_ready(&sv);
        uint64_t now = now_ms();
        if (now - last_tick >= 1000) {
            last_tick = now;
            check_deadlines(&sv, now);
            evlog_sync();
        }
        free_dead(&sv);
    }
    for (uint32_t i = 0; sv.conns && i < cfg->max_conns; i++)
        if (sv.conns[i].in_use && !sv.conns[i].is_dead)
            conn_close(&sv, &sv.conns[i], "server_stopped", false);
    evlog_close();
    free(sv.conns);
    SSL_CTX_free(sv.tls);
    if (sv.epfd >= 0)
        close(sv.epfd);
    for (unsigned i = 0; i < cfg->n_lst; i++)
        if (cfg->lst[i].fd >= 0)
            close(cfg->lst[i].fd);
    return rc;
}
