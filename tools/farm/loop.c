/*
 * The per-thread event loop.
 *
 * Each worker owns an epoll instance, one listening socket per configured
 * port (SO_REUSEPORT siblings of the other workers' sockets), its sessions
 * and a min-heap of their deadlines. Workers share only the read-only
 * config, the SSL_CTXs and the count of open sessions.
 *
 * One turn of the loop:
 *   1. run sessions that yielded in the previous turn (ready list);
 *   2. epoll_wait, bounded by the earliest deadline;
 *   3. dispatch events: accept on listeners, sess_run on sessions;
 *   4. expire deadlines from the heap top;
 *   5. recycle the session structs closed during this turn.
 *
 * Heap keys are lazy: activity only updates s->last_ms. When a key comes
 * due, the real deadline is recomputed; if it moved later the session is
 * re-keyed, otherwise it has expired. So commands never touch the heap and
 * no tick walks all sessions.
 */
#include "farm.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256
#define ACCEPTS_PER_EVENT 64

uint64_t farm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int worker_init(struct worker *w, unsigned id, struct shared *sh, const int *listen_fds)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->sh = sh;
    w->wake_kind = OBJ_WAKEUP;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (w->epfd < 0 || w->wake_fd < 0 ||
        heap_init(&w->timers, sh->cfg->max_sessions, offsetof(struct sess, heap_key),
                  offsetof(struct sess, heap_idx)) < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake_kind};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) != 0)
        return -1;
    for (unsigned i = 0; i < sh->listeners->n; i++) {
        struct listener *l = &w->lst[w->n_lst++];
        l->kind = OBJ_LISTENER;
        l->fd = listen_fds[i];
        l->spec_idx = i;
        ev.events = EPOLLIN;
        ev.data.ptr = l;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0)
            return -1;
    }
    return 0;
}

static struct sess *sess_alloc(struct worker *w)
{
    struct sess *s = w->free_list;
    if (s) {
        w->free_list = s->next;
        /* rx and tx contents are dead; only the header needs clearing */
        memset(s, 0, offsetof(struct sess, rx));
        return s;
    }
    return calloc(1, sizeof(*s));
}

/* Under EMFILE the listener stays readable forever: drop one connection
 * using the spare descriptor so the loop does not spin. */
static void shed_one(struct worker *w, int listen_fd)
{
    if (w->reserve_fd < 0)
        return;
    close(w->reserve_fd);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        STAT_INC(&w->stats, rejected_full);
    }
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static bool take_slot(struct shared *sh)
{
    unsigned n = atomic_fetch_add_explicit(&sh->active_sessions, 1, memory_order_relaxed);
    if (n < sh->cfg->max_sessions)
        return true;
    atomic_fetch_sub_explicit(&sh->active_sessions, 1, memory_order_relaxed);
    return false;
}

static void accept_one(struct worker *w, const struct listener *l, int fd,
                       const struct sockaddr_storage *peer)
{
    struct shared *sh = w->sh;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0 || !listen_is_loopback(&local) ||
        !listen_is_loopback(peer)) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fd);
        STAT_INC(&w->stats, rejected_nonlocal);
        return;
    }
    if (!take_slot(sh)) {
        close(fd);
        STAT_INC(&w->stats, rejected_full);
        return;
    }
    struct sess *s = sess_alloc(w);
    if (!s) {
        close(fd);
        atomic_fetch_sub_explicit(&sh->active_sessions, 1, memory_order_relaxed);
        STAT_INC(&w->stats, rejected_full);
        return;
    }
    const struct listen_spec *sp = &sh->listeners->spec[l->spec_idx];
    s->kind = OBJ_SESSION;
    s->w = w;
    s->fd = fd;
    s->heap_idx = UINT32_MAX;
    s->listener_idx = l->spec_idx;
    s->proto = sp->proto;
    s->is_implicit = sp->is_implicit;
    if (local.ss_family == AF_INET) {
        s->addr4 = ntohl(((struct sockaddr_in *)(void *)&local)->sin_addr.s_addr);
        s->key = profile_key_v4(s->addr4);
    } else {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)(void *)&local)->sin6_addr;
        s->key = profile_key_v6(a6);
        if (IN6_IS_ADDR_V4MAPPED(a6))
            s->addr4 = (uint32_t)s->key;
    }
    s->profile = profile_pick(&sh->cfg->mix, sh->cfg->seed, s->key);
    s->start_ms = s->last_ms = w->now_ms;
    /* TCP_NODELAY comes from the listener (listen.c): Linux copies it to
     * every accepted socket, one setsockopt per session less. */
    STAT_INC(&w->stats, accepted_by_listener[l->spec_idx]);
    STAT_INC(&w->stats, accepted_by_profile[s->profile]);
    sess_start(s);
}

static void on_listener(struct worker *w, const struct listener *l)
{
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(w, l, fd, &peer);
            continue;
        }
        int err = errno;
        if (err == EINTR || err == ECONNABORTED)
            continue;
        if (err == EMFILE || err == ENFILE) {
            shed_one(w, l->fd);
            continue;
        }
        return; /* EAGAIN, or another worker took it */
    }
}

static void run_ready(struct worker *w)
{
    struct sess *s = w->ready_list;
    w->ready_list = NULL;
    while (s) {
        struct sess *next = s->ready_next;
        s->is_ready_queued = false;
        s->ready_next = NULL;
        sess_run(s, 0);
        s = next;
    }
}

static void run_timers(struct worker *w)
{
    struct sess *s;
    while ((s = heap_top(&w->timers)) && s->heap_key <= w->now_ms) {
        uint64_t d = sess_deadline(s);
        if (d <= w->now_ms) {
            sess_on_deadline(s);
            if (s->is_dead)
                continue;
            d = sess_deadline(s);
            if (d <= w->now_ms)
                d = w->now_ms + 1; /* never spin on one session */
        }
        s->heap_key = d;
        heap_set(&w->timers, s);
    }
}

static void recycle_dead(struct worker *w)
{
    struct sess *s = w->dead_list, *keep = NULL;
    while (s) {
        struct sess *next = s->next;
        if (s->is_ready_queued) { /* still referenced by the ready list */
            s->next = keep;
            keep = s;
        } else {
            s->next = w->free_list;
            w->free_list = s;
        }
        s = next;
    }
    w->dead_list = keep;
}

static int wait_timeout_ms(const struct worker *w)
{
    if (w->ready_list)
        return 0;
    const struct sess *top = heap_top(&w->timers);
    if (!top)
        return 1000;
    if (top->heap_key <= w->now_ms)
        return 0;
    uint64_t ms = top->heap_key - w->now_ms;
    return ms > 1000 ? 1000 : (int)ms;
}

static void free_list(struct sess *s)
{
    while (s) {
        struct sess *next = s->next;
        free(s);
        s = next;
    }
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[EVENTS_PER_WAIT];
    while (!atomic_load_explicit(&w->sh->stop, memory_order_relaxed)) {
        w->now_ms = farm_now_ms();
        run_ready(w);
        int n = epoll_wait(w->epfd, evs, EVENTS_PER_WAIT, wait_timeout_ms(w));
        w->now_ms = farm_now_ms();
        for (int i = 0; i < n; i++) {
            enum obj_kind kind = *(enum obj_kind *)evs[i].data.ptr;
            switch (kind) {
            case OBJ_LISTENER: on_listener(w, evs[i].data.ptr); break;
            case OBJ_SESSION: sess_run(evs[i].data.ptr, evs[i].events); break;
            case OBJ_WAKEUP: {
                uint64_t v;
                if (read(w->wake_fd, &v, sizeof(v)) < 0) {
                    /* nothing to do: the stop flag is what matters */
                }
                break;
            }
            }
        }
        run_timers(w);
        recycle_dead(w);
    }
    /* Stopping: whatever is still open is counted, then closed. */
    struct sess *s;
    while ((s = heap_top(&w->timers)))
        sess_end(s, END_SHUTDOWN, false);
    w->ready_list = NULL;
    free_list(w->dead_list);
    free_list(w->free_list);
    w->dead_list = w->free_list = NULL;
    return NULL;
}

void worker_free(struct worker *w)
{
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    heap_free(&w->timers);
}
