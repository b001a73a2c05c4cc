/*
 * resolve_int.h - the resolver's state, shared by resolve.c (the cache,
 * the tasks, the seen set) and resolve_out.c (records and jobs out of
 * finished tasks). Not for anyone else: they see resolve.h.
 */
#ifndef MAILTLS_RESOLVE_INT_H
#define MAILTLS_RESOLVE_INT_H

#include "policy.h"
#include "policy_wait.h"
#include "resolve.h"

#include "../output/lib/kset.h"
#include "../targets/target.h"

#define T_A 1
#define T_MX 15
#define T_AAAA 28

enum ekind { E_ADDR, E_MX };

/* Result of an entry (and of a task). Order matters nowhere. */
enum rres { R_PENDING, R_OK, R_NXDOMAIN, R_NODATA, R_SERVFAIL, R_TIMEOUT, R_ERROR, R_NULLMX };

struct raddr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t a[16];
};

struct mx_item {
    uint16_t pref;
    char name[TGT_NAME_MAX + 1]; /* "" = the root (null MX) */
};

struct slot;

struct entry {
    struct entry *hnext; /* hash chain */
    struct entry *lru_prev, *lru_next;
    struct slot *waiters;
    struct resolver *r;
    uint64_t done_ms;
    uint32_t refs;
    uint32_t hash;
    uint8_t kind, res, pending, truncated;
    bool in_lru;
    int code_a, code_b; /* c-ares status of A (or MX) and AAAA */
    uint8_t n4, n6, n_mx;
    struct raddr addrs[2 * RESOLVE_ADDR_PER_FAMILY];
    struct mx_item *mx; /* MX: n_mx items, sorted by preference */
    char name[TGT_NAME_MAX + 1];
};

struct task;

struct slot {
    struct entry *e; /* NULL: invalid exchanger name (fail set) */
    struct task *t;
    struct slot *next_waiter;
    const char *name; /* exchanger (or the name itself); lives in an entry or the task */
    uint16_t pref;
    bool implicit; /* MX mode: RFC 5321 fallback to the domain itself */
    uint8_t fail;  /* enum rres when e == NULL */
};

enum tphase { TP_FREE, TP_MX, TP_ADDR, TP_DONE };

struct task {
    struct task *next; /* free list or done queue */
    uint8_t phase;
    uint8_t res;            /* R_OK, or why the task gave no address */
    bool is_mx;             /* MX mode: a mail domain, answered by a domain record */
    bool answered;          /* its domain record went out */
    bool jobs_done;         /* --policy: every job handed out; the record waits for their probes */
    struct task *wait_next; /* --policy: in the resolver's list of tasks waiting for probes */
    bool mx_truncated;
    uint16_t outstanding;
    struct entry *mx;
    struct slot mx_slot;
    uint8_t n_slots;
    struct slot slots[RESOLVE_MX_MAX];
    struct pol_task *pol; /* --policy: this task's policy lookups; NULL otherwise */
    const struct tgt_port *ports;
    size_t n_ports;
    struct tgt_port own_port;
    /* output cursor */
    uint8_t cur_slot, cur_addr;
    size_t cur_port;
    char name[TGT_NAME_MAX + 1];
};

struct seen_key {
    uint8_t family; /* 0 = empty slot */
    uint8_t port[2];
    uint8_t a[16];
};

struct resolver {
    struct resolve_config cfg;
    struct dns *dns;
    struct tgt_source *src;
    struct entry **buckets;
    uint32_t n_buckets; /* power of two */
    uint32_t count[2];
    struct entry *lru_head[2], *lru_tail[2];
    struct task *tasks;
    struct pol_task *pols; /* --policy: one per task */
    struct task *free_tasks;
    uint32_t active;
    struct task *done_head, *done_tail;
    struct kset seen;       /* of struct seen_key (resolve_out.c) */
    struct pw_table pw;     /* --policy: outcome per (address, port) (policy_wait.h) */
    struct task *wait_head; /* --policy: tasks whose record waits for probes */
    bool probe_news;        /* a probe ended since the waiting tasks were looked at */
    bool seen_warned;
    uint64_t now_ms; /* last time given by the feed; good enough for cache age */
    struct resolve_stats stats;
};

/* resolve.c */
void resolve_seen_init(struct resolver *r);
/* MX mode: true when (addr, port) was handed out before; remembers it otherwise. */
bool resolve_seen_check(struct resolver *r, const struct raddr *a, uint16_t port);
/* The policy table's key of (addr, port). */
void resolve_pw_key(const struct raddr *a, uint16_t port, struct pw_key *k);
enum rec_status resolve_status_of(enum rres res);
enum rres resolve_rres_of(int code);
/* A task whose output is all out goes back to the pool. */
void resolve_task_release(struct resolver *r, struct task *t);

#endif
