/*
 * resolve.c - names and mail domains -> jobs and records (see resolve.h).
 *
 * Three kinds of state:
 *
 *  - entries: the cache. One per (kind, name), kind ADDR (A + AAAA, both
 *    asked at once) or MX. An entry is PENDING while its queries are out,
 *    then holds its answer. Tasks reference entries (refs); an entry nobody
 *    references sits in its kind's LRU list and is evicted from the tail
 *    when the kind is at its cap, or ignored once older than
 *    RESOLVE_CACHE_AGE_MS. Thousands of domains sharing an exchanger thus
 *    trigger one A and one AAAA query for it.
 *  - tasks: one per input name/domain in resolution, from a fixed pool.
 *    A task has slots (the name itself, or one per exchanger); each slot
 *    waiting for a PENDING entry is linked into that entry's waiter list,
 *    so an answer wakes exactly the tasks that need it. When the last
 *    slot is answered the task joins the done queue, and resolve_next turns
 *    it into records and jobs, one at a time (a cursor over slot, address
 *    and port), before the slot returns to the pool.
 *  - seen (MX mode): an open-addressing hash set of (address, port) pairs
 *    already handed out, so each is probed once per scan.
 *
 * This file holds the cache, the tasks and the seen set; resolve_out.c
 * turns finished tasks into records and jobs (it calls into this file,
 * never the other way round); resolve_int.h is what the two share.
 */
#include "resolve_int.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../output/lib/hash.h"
#include "../targets/target.h"
#include "job.h"

/* ---- statuses -------------------------------------------------------- */

enum rec_status resolve_status_of(enum rres res)
{
    switch (res) {
    case R_OK: return STATUS_RESOLVED;
    case R_NXDOMAIN: return STATUS_DNS_NXDOMAIN;
    case R_NODATA: return STATUS_DNS_NO_ADDRESS;
    case R_SERVFAIL: return STATUS_DNS_SERVFAIL;
    case R_TIMEOUT: return STATUS_DNS_TIMEOUT;
    case R_NULLMX: return STATUS_NO_MAIL;
    case R_PENDING:
    case R_ERROR: return STATUS_DNS_ERROR;
    }
    return STATUS_DNS_ERROR;
}

enum rres resolve_rres_of(int code)
{
    switch (code) {
    case ARES_SUCCESS: return R_OK;
    case ARES_ENOTFOUND: return R_NXDOMAIN;
    case ARES_ENODATA: return R_NODATA;
    case ARES_ESERVFAIL: return R_SERVFAIL;
    case ARES_ETIMEOUT: return R_TIMEOUT;
    default: return R_ERROR; /* REFUSED, FORMERR, connection refused, bad answer... */
    }
}

/* Which failure speaks loudest when a name has no address at all. */
static int fail_rank(enum rres r)
{
    switch (r) {
    case R_NXDOMAIN: return 5;
    case R_TIMEOUT: return 4;
    case R_SERVFAIL: return 3;
    case R_ERROR: return 2;
    case R_NODATA: return 1;
    case R_OK:
    case R_NULLMX:
    case R_PENDING: return 0;
    }
    return 0;
}

/* ---- the cache ------------------------------------------------------- */

static uint32_t name_hash(int kind, const char *s)
{
    return hash_fnv1a32(HASH_FNV32_INIT ^ (uint32_t)kind, s, strlen(s));
}

static void lru_unlink(struct resolver *r, struct entry *e)
{
    if (!e->in_lru)
        return;
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        r->lru_head[e->kind] = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        r->lru_tail[e->kind] = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
    e->in_lru = false;
}

static void lru_push(struct resolver *r, struct entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = r->lru_head[e->kind];
    if (e->lru_next)
        e->lru_next->lru_prev = e;
    else
        r->lru_tail[e->kind] = e;
    r->lru_head[e->kind] = e;
    e->in_lru = true;
}

static void entry_destroy(struct resolver *r, struct entry *e)
{
    struct entry **pp = &r->buckets[e->hash & (r->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(r, e);
    r->count[e->kind]--;
    free(e->mx);
    free(e);
}

static void entry_ref(struct resolver *r, struct entry *e)
{
    if (e->refs++ == 0)
        lru_unlink(r, e);
}

static void entry_unref(struct resolver *r, struct entry *e)
{
    if (--e->refs == 0 && e->res != R_PENDING)
        lru_push(r, e);
}

static void on_a(void *arg, int status, const unsigned char *abuf, int alen);
static void on_aaaa(void *arg, int status, const unsigned char *abuf, int alen);
static void on_mx(void *arg, int status, const unsigned char *abuf, int alen);

/* The entry for (kind, name): cached, or new and its queries queued. */
static struct entry *entry_get(struct resolver *r, int kind, const char *name)
{
    uint32_t h = name_hash(kind, name);
    struct entry *e = r->buckets[h & (r->n_buckets - 1)];
    for (; e; e = e->hnext)
        if (e->hash == h && e->kind == kind && strcmp(e->name, name) == 0)
            break;
    if (e && e->refs == 0 && e->res != R_PENDING && r->now_ms - e->done_ms > RESOLVE_CACHE_AGE_MS) {
        entry_destroy(r, e);
        e = NULL;
    }
    if (e) {
        r->stats.cache_hits++;
        return e;
    }
    r->stats.cache_misses++;
    uint32_t cap = kind == E_MX ? r->cfg.mx_cache_max : r->cfg.addr_cache_max;
    while (r->count[kind] >= cap && r->lru_tail[kind])
        entry_destroy(r, r->lru_tail[kind]);
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->r = r;
    e->kind = (uint8_t)kind;
    e->hash = h;
    e->res = R_PENDING;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->hnext = r->buckets[h & (r->n_buckets - 1)];
    r->buckets[h & (r->n_buckets - 1)] = e;
    r->count[kind]++;
    /* the dns queue is sized for every task's worst case: these never fail */
    if (kind == E_MX) {
        e->pending = 1;
        if (dns_query(r->dns, e->name, T_MX, on_mx, e) < 0) {
            e->pending = 0;
            e->code_a = ARES_ENOMEM;
            e->res = R_ERROR;
        }
    } else {
        e->pending = 2;
        if (dns_query(r->dns, e->name, T_A, on_a, e) < 0 ||
            dns_query(r->dns, e->name, T_AAAA, on_aaaa, e) < 0) {
            e->pending = 0;
            e->code_a = e->code_b = ARES_ENOMEM;
            e->res = R_ERROR;
        }
    }
    if (e->res != R_PENDING)
        e->done_ms = r->now_ms;
    return e;
}

static void task_step(struct resolver *r, struct task *t);

/* The entry is answered: decide its result, wake the slots waiting on it. */
static void entry_done(struct resolver *r, struct entry *e)
{
    e->done_ms = r->now_ms;
    struct slot *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        struct slot *next = w->next_waiter;
        w->next_waiter = NULL;
        struct task *t = w->t;
        if (--t->outstanding == 0)
            task_step(r, t);
        w = next;
    }
}

/* Parses an A or AAAA answer into e->addrs (at most RESOLVE_ADDR_PER_FAMILY
 * per family; more sets e->truncated). Returns the c-ares status. */
static int parse_addrs(struct entry *e, int family, const unsigned char *abuf, int alen)
{
    struct ares_addrttl t4[RESOLVE_ADDR_PER_FAMILY + 1];
    struct ares_addr6ttl t6[RESOLVE_ADDR_PER_FAMILY + 1];
    int n = RESOLVE_ADDR_PER_FAMILY + 1;
    int code = family == AF_INET ? ares_parse_a_reply(abuf, alen, NULL, t4, &n)
                                 : ares_parse_aaaa_reply(abuf, alen, NULL, t6, &n);
    if (code != ARES_SUCCESS)
        return code;
    if (n > RESOLVE_ADDR_PER_FAMILY) {
        n = RESOLVE_ADDR_PER_FAMILY;
        e->truncated = 1;
    }
    for (int i = 0; i < n; i++) {
        struct raddr *a = &e->addrs[e->n4 + e->n6];
        a->family = family;
        if (family == AF_INET) {
            memcpy(a->a, &t4[i].ipaddr, 4);
            e->n4++;
        } else {
            memcpy(a->a, &t6[i].ip6addr, 16);
            e->n6++;
        }
    }
    return n == 0 ? ARES_ENODATA : ARES_SUCCESS;
}

static void addr_answer(struct entry *e, int family, int status, const unsigned char *abuf, int alen)
{
    struct resolver *r = e->r;
    int code = status == ARES_SUCCESS ? parse_addrs(e, family, abuf, alen) : status;
    if (family == AF_INET)
        e->code_a = code;
    else
        e->code_b = code;
    if (--e->pending > 0)
        return;
    if (e->n4 + e->n6 > 0) {
        e->res = R_OK;
    } else {
        enum rres ra = resolve_rres_of(e->code_a), rb = resolve_rres_of(e->code_b);
        e->res = (uint8_t)(fail_rank(ra) >= fail_rank(rb) ? ra : rb);
        if (e->res == R_OK) /* answered, yet no usable address */
            e->res = R_NODATA;
    }
    entry_done(r, e);
}

static void on_a(void *arg, int status, const unsigned char *abuf, int alen)
{
    addr_answer(arg, AF_INET, status, abuf, alen);
}

static void on_aaaa(void *arg, int status, const unsigned char *abuf, int alen)
{
    addr_answer(arg, AF_INET6, status, abuf, alen);
}

static int mx_cmp(const void *a, const void *b)
{
    const struct mx_item *x = a, *y = b;
    if (x->pref != y->pref)
        return x->pref < y->pref ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void on_mx(void *arg, int status, const unsigned char *abuf, int alen)
{
    struct entry *e = arg;
    int code = status;
    if (status == ARES_SUCCESS) {
        struct ares_mx_reply *mx = NULL;
        code = ares_parse_mx_reply(abuf, alen, &mx);
        if (code == ARES_SUCCESS) {
            size_t n = 0, cap = 4 * RESOLVE_MX_MAX; /* sorted below, then cut */
            for (struct ares_mx_reply *m = mx; m; m = m->next)
                n++;
            if (n > cap) {
                n = cap;
                e->truncated = 1;
            }
            e->mx = n ? calloc(n, sizeof *e->mx) : NULL;
            if (n && !e->mx) {
                code = ARES_ENOMEM;
            } else {
                size_t i = 0;
                for (struct ares_mx_reply *m = mx; m && i < n; m = m->next, i++) {
                    e->mx[i].pref = m->priority;
                    /* lower case: DNS names compare case-insensitively */
                    size_t k = 0;
                    for (; m->host[k] && k < TGT_NAME_MAX; k++)
                        e->mx[i].name[k] = (char)tolower((unsigned char)m->host[k]);
                    e->mx[i].name[k] = 0;
                    if (k > 0 && e->mx[i].name[k - 1] == '.')
                        e->mx[i].name[k - 1] = 0;
                }
                qsort(e->mx, n, sizeof *e->mx, mx_cmp);
                e->n_mx = (uint8_t)n;
                if (n == 0)
                    code = ARES_ENODATA;
            }
            ares_free_data(mx);
        }
    }
    e->code_a = code;
    e->pending = 0;
    e->res = (uint8_t)resolve_rres_of(code);
    if (e->res == R_OK) {
        bool any_real = false;
        for (int i = 0; i < e->n_mx; i++)
            if (e->mx[i].name[0])
                any_real = true;
        if (!any_real)
            e->res = R_NULLMX; /* RFC 7505: the only MX is "." */
    }
    entry_done(e->r, e);
}

/* ---- tasks ----------------------------------------------------------- */

/* Links slot s to the entry for (kind, name). 0, or -1 when out of memory. */
static int subscribe(struct resolver *r, struct task *t, struct slot *s, int kind, const char *name)
{
    struct entry *e = entry_get(r, kind, name);
    s->t = t;
    s->e = e;
    if (!e) {
        s->fail = R_ERROR;
        return -1;
    }
    entry_ref(r, e);
    if (e->res == R_PENDING) {
        s->next_waiter = e->waiters;
        e->waiters = s;
        t->outstanding++;
    }
    return 0;
}

static void task_done(struct resolver *r, struct task *t)
{
    t->phase = TP_DONE;
    bool any = false;
    int worst = -1;
    enum rres why = R_NODATA;
    if (t->is_mx && !t->mx) {
        why = R_ERROR; /* out of memory for the MX entry */
    } else if (t->is_mx && t->mx->res != R_OK && t->mx->res != R_NODATA) {
        why = (enum rres)t->mx->res; /* the MX lookup itself failed, or null MX */
    } else {
        for (int i = 0; i < t->n_slots; i++) {
            struct slot *s = &t->slots[i];
            enum rres res = s->e ? (enum rres)s->e->res : (enum rres)s->fail;
            if (res == R_OK) {
                any = true;
                continue;
            }
            /* an exchanger that does not exist only means "no address" for
             * the domain; the name itself not existing is NXDOMAIN */
            if (t->is_mx && !s->implicit && res == R_NXDOMAIN)
                res = R_NODATA;
            if (fail_rank(res) > worst) {
                worst = fail_rank(res);
                why = res;
            }
        }
    }
    t->res = (uint8_t)(any ? R_OK : why);
    if (!any)
        r->stats.failed++;
    t->next = NULL;
    if (r->done_tail)
        r->done_tail->next = t;
    else
        r->done_head = t;
    r->done_tail = t;
}

/* The policy lookups of a task are all answered (policy.h: wake). */
static void policy_wake(void *ctx)
{
    struct task *t = ctx;
    struct resolver *r = t->mx->r;
    if (--t->outstanding == 0)
        task_step(r, t);
}

/* --policy: TLSA and A (for the verdict) of every exchanger followed. */
static void policy_add_exchangers(struct task *t)
{
    if (!t->pol)
        return;
    for (int i = 0; i < t->n_slots; i++)
        if (t->slots[i].e && pol_add_mx(t->pol, t->slots[i].name))
            t->outstanding++;
}

/* Called whenever a task has no lookup outstanding. */
static void task_step(struct resolver *r, struct task *t)
{
    if (t->phase != TP_MX) {
        task_done(r, t);
        return;
    }
    struct entry *mx = t->mx;
    t->phase = TP_ADDR;
    if (mx->res == R_NODATA) {
        /* RFC 5321 5.1: no MX, the domain itself is the exchanger */
        struct slot *s = &t->slots[t->n_slots++];
        s->name = t->name;
        s->implicit = true;
        subscribe(r, t, s, E_ADDR, t->name);
    } else if (mx->res == R_OK) {
        for (int i = 0; i < mx->n_mx; i++) {
            const struct mx_item *m = &mx->mx[i];
            if (!m->name[0])
                continue; /* a "." among real exchangers: RFC 7505 says ignore it */
            bool dup = false;
            for (int k = 0; k < t->n_slots; k++)
                if (strcmp(t->slots[k].name, m->name) == 0)
                    dup = true;
            if (dup)
                continue;
            if (t->n_slots == RESOLVE_MX_MAX) {
                t->mx_truncated = true;
                break;
            }
            struct slot *s = &t->slots[t->n_slots++];
            s->name = m->name;
            s->pref = m->pref;
            char checked[TGT_NAME_MAX + 1], err[TGT_ERR_MAX];
            if (tgt_name_check(m->name, strlen(m->name), checked, err, sizeof err) < 0) {
                s->e = NULL;
                s->t = t;
                s->fail = R_ERROR; /* not a host name we would send as SNI */
                continue;
            }
            subscribe(r, t, s, E_ADDR, m->name);
        }
        if (mx->truncated)
            t->mx_truncated = true;
    }
    policy_add_exchangers(t);
    if (t->outstanding == 0)
        task_done(r, t);
}

void resolve_task_release(struct resolver *r, struct task *t)
{
    for (int i = 0; i < t->n_slots; i++)
        if (t->slots[i].e)
            entry_unref(r, t->slots[i].e);
    if (t->mx)
        entry_unref(r, t->mx);
    t->phase = TP_FREE;
    t->next = r->free_tasks;
    r->free_tasks = t;
    r->active--;
}

/* ---- the seen set ---------------------------------------------------- */

static uint64_t seen_hash(const void *key)
{
    uint64_t h = hash_fnv1a64(key, sizeof(struct seen_key));
    return (uint32_t)(h ^ (h >> 32));
}

void resolve_seen_init(struct resolver *r)
{
    kset_init(&r->seen, sizeof(struct seen_key), seen_hash, 4096, 50, RESOLVE_SEEN_MAX);
}

/* true when (addr, port) was handed out before; remembers it otherwise. */
void resolve_pw_key(const struct raddr *a, uint16_t port, struct pw_key *k)
{
    memset(k, 0, sizeof *k);
    k->family = a->family == AF_INET ? 4 : 6;
    k->port[0] = (uint8_t)(port >> 8);
    k->port[1] = (uint8_t)port;
    memcpy(k->a, a->a, a->family == AF_INET ? 4 : 16);
}

bool resolve_seen_check(struct resolver *r, const struct raddr *a, uint16_t port)
{
    struct seen_key k;
    memset(&k, 0, sizeof k);
    k.family = a->family == AF_INET ? 4 : 6; /* never 0: no key is all zero */
    k.port[0] = (uint8_t)(port >> 8);
    k.port[1] = (uint8_t)port;
    memcpy(k.a, a->a, a->family == AF_INET ? 4 : 16);
    switch (kset_add(&r->seen, &k)) {
    case KSET_FOUND: return true;
    case KSET_ADDED: return false;
    case KSET_FULL: break;
    }
    r->stats.seen_full++;
    if (!r->seen_warned) {
        fprintf(stderr,
                "mailtls-scan: more than %u distinct (address, port) pairs: later ones may be probed twice\n",
                (unsigned)r->seen.n);
        r->seen_warned = true;
    }
    return false;
}

/* ---- the outside ----------------------------------------------------- */

uint32_t resolve_dns_queue_max(const struct resolve_config *cfg)
{
    /* worst case: every task waits for an MX query, or for A and AAAA of
     * each of its exchangers, none of them shared */
    uint32_t n = cfg->tasks_max * (RESOLVE_MX_MAX + 1) * 2 + 16;
    /* --policy: 3 per domain and 2 per exchanger, each maybe asked twice */
    if (cfg->policy)
        n += cfg->tasks_max * (3 + 2 * RESOLVE_MX_MAX) * 2;
    return n;
}

struct resolver *resolve_new(const struct resolve_config *cfg, struct dns *dns, struct tgt_source *src,
                             char *err, size_t errlen)
{
    struct resolver *r = calloc(1, sizeof *r);
    if (!r)
        goto oom;
    r->cfg = *cfg;
    resolve_seen_init(r);
    pw_init(&r->pw);
    if (r->cfg.tasks_max < 1)
        r->cfg.tasks_max = 1;
    r->dns = dns;
    r->src = src;
    uint64_t most = (uint64_t)r->cfg.addr_cache_max + r->cfg.mx_cache_max +
                    (uint64_t)r->cfg.tasks_max * (RESOLVE_MX_MAX + 1);
    r->n_buckets = 1024;
    while (r->n_buckets < most && r->n_buckets < (1u << 24))
        r->n_buckets <<= 1;
    r->buckets = calloc(r->n_buckets, sizeof *r->buckets);
    r->tasks = calloc(r->cfg.tasks_max, sizeof *r->tasks);
    if (r->cfg.policy && r->cfg.mx_mode)
        r->pols = calloc(r->cfg.tasks_max, sizeof *r->pols);
    if (!r->buckets || !r->tasks || (r->cfg.policy && r->cfg.mx_mode && !r->pols))
        goto oom;
    for (uint32_t i = r->cfg.tasks_max; i-- > 0;) {
        r->tasks[i].next = r->free_tasks;
        r->free_tasks = &r->tasks[i];
    }
    return r;
oom:
    snprintf(err, errlen, "out of memory for the resolver");
    resolve_free(r);
    return NULL;
}

void resolve_free(struct resolver *r)
{
    if (!r)
        return;
    if (r->buckets) {
        for (uint32_t i = 0; i < r->n_buckets; i++) {
            struct entry *e = r->buckets[i];
            while (e) {
                struct entry *n = e->hnext;
                free(e->mx);
                free(e);
                e = n;
            }
        }
    }
    free(r->buckets);
    free(r->tasks);
    free(r->pols);
    pw_free(&r->pw);
    kset_free(&r->seen);
    free(r);
}

bool resolve_full(const struct resolver *r)
{
    return r->free_tasks == NULL;
}

bool resolve_busy(const struct resolver *r)
{
    return r->active > 0;
}

int resolve_start(struct resolver *r, const struct tgt_line *l, const struct tgt_port *ports, size_t n_ports,
                  uint64_t now_ms)
{
    struct task *t = r->free_tasks;
    if (!t)
        return -1;
    r->free_tasks = t->next;
    r->active++;
    r->now_ms = now_ms;
    memset(t, 0, sizeof *t);
    size_t k = 0;
    for (; l->name[k] && k < TGT_NAME_MAX; k++)
        t->name[k] = (char)tolower((unsigned char)l->name[k]);
    t->name[k] = 0;
    if (n_ports == 1) {
        t->own_port = ports[0];
        t->ports = &t->own_port;
    } else {
        t->ports = ports;
    }
    t->n_ports = n_ports;
    if (r->cfg.mx_mode) {
        r->stats.domains++;
        t->is_mx = true;
        t->phase = TP_MX;
        struct entry *e = entry_get(r, E_MX, t->name);
        t->mx_slot.t = t;
        t->mx_slot.e = e;
        if (!e) { /* out of memory: the domain still gets its answer */
            task_done(r, t);
            return 0;
        }
        t->mx = e;
        entry_ref(r, e);
        if (e->res == R_PENDING) {
            t->mx_slot.next_waiter = e->waiters;
            e->waiters = &t->mx_slot;
            t->outstanding++;
        }
        if (r->pols) {
            t->pol = &r->pols[t - r->tasks];
            if (pol_begin(t->pol, r->dns, r->cfg.https, t->name, policy_wake, t) > 0)
                t->outstanding++;
        }
    } else {
        r->stats.names++;
        t->phase = TP_ADDR;
        struct slot *s = &t->slots[t->n_slots++];
        s->name = t->name;
        subscribe(r, t, s, E_ADDR, t->name);
    }
    if (t->outstanding == 0)
        task_step(r, t);
    return 0;
}

const struct resolve_stats *resolve_stats(const struct resolver *r)
{
    return &r->stats;
}
