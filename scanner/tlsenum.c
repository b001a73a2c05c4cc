/*
 * tlsenum.c - TLS version and cipher-suite enumeration (--tls-versions,
 * --ciphers) and certificate saving (--save-certs): the scheduling of the
 * test connections. What each test sends and what its answer teaches is
 * hello_enum.c (raw ClientHellos, no OpenSSL, no key exchange); method,
 * fields and grade rule: scanner/TLS-ENUM.md.
 *
 * Each held target runs one test at a time. A test is a JOB_TLS_TEST: the
 * protocol's cleartext dance (STARTTLS) and then, instead of a handshake,
 * the ClientHello from he_hello; the answer's bytes come back through
 * tls_enum_bytes until the parser has enough. A test that ends without an
 * answer (timeout, reset, refused) is retried once (he_retry), then the
 * point is recorded as undecided in tls_enum_incomplete.
 *
 * Scheduling: targets waiting for a test sit in a FIFO per address; an
 * address whose count of tests in flight is below --per-ip sits in one
 * ready FIFO. Every operation is O(1) apart from the address hash chain.
 * Memory is fixed at tls_enum_new: record slots, address entries, and the
 * set of certificate hashes already saved.
 */
#include "tlsenum.h"

#include "../output/lib/hash.h"
#include "../output/lib/kset.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "certsave.h"
#include "hello.h"
#include "hello_enum.h"
#include "iana_suites.h"

#define TE_NONE UINT32_MAX

struct te_target {
    struct record rec;
    struct job job;     /* the main probe's job: address, port, name */
    uint32_t ip;        /* its address entry */
    uint32_t wait_next; /* next target in the address's wait FIFO */
    uint32_t seq;       /* bumped per launch; job.test carries it */
    bool in_use, in_flight;
    struct he_state he; /* what the enumeration knows, which test is next */
};

struct te_ip {
    struct sockaddr_storage addr; /* port zeroed */
    uint32_t ready_next;
    uint32_t wait_head, wait_tail;
    uint32_t refs;      /* held targets of this address */
    uint32_t in_flight; /* tests running */
    bool queued;        /* in the ready FIFO */
};

struct tls_enum {
    struct tls_enum_opts o;
    int (*emit)(void *, struct record *);
    void *emit_ctx;
    int failed;
    uint64_t tests;

    struct te_target *slots;
    uint32_t n_slots, held;
    uint32_t *free_slots, free_n;

    struct te_ip *ips;
    uint32_t *free_ips, free_ips_n;
    struct kset by_addr; /* struct te_addr_key -> index in ips (uint32_t) */
    uint32_t ready_head, ready_tail;

    struct certsave *certs; /* --save-certs (certsave.h), or NULL */
};

/* ---- address table and queues ------------------------------------------ */

/* An address as a key of by_addr: family 4 or 6 (never all zero). */
struct te_addr_key {
    uint8_t family;
    uint8_t pad[3];
    uint8_t a[16];
};

static struct te_addr_key addr_key(const struct sockaddr_storage *a)
{
    struct te_addr_key k;
    memset(&k, 0, sizeof k);
    if (a->ss_family == AF_INET) {
        k.family = 4;
        memcpy(k.a, &((const struct sockaddr_in *)a)->sin_addr, 4);
    } else {
        k.family = 6;
        memcpy(k.a, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
    }
    return k;
}

static uint64_t addr_hash(const void *key)
{
    const struct te_addr_key *k = key;
    return hash_fnv1a32(HASH_FNV32_INIT, k->a, k->family == 4 ? 4 : 16);
}

/* The address entry of a, created with refs = 0 if needed. */
static uint32_t ip_get(struct tls_enum *t, const struct sockaddr_storage *a)
{
    struct te_addr_key k = addr_key(a);
    enum kset_add how;
    unsigned char *v = kset_put(&t->by_addr, &k, &how);
    uint32_t i;
    if (how == KSET_FOUND) {
        memcpy(&i, v, sizeof i);
        return i;
    }
    if (!v || t->free_ips_n == 0) {
        if (v)
            kset_del(&t->by_addr, &k);
        return TE_NONE; /* cannot happen: one entry per slot */
    }
    i = t->free_ips[--t->free_ips_n];
    memcpy(v, &i, sizeof i);
    struct te_ip *e = &t->ips[i];
    memset(e, 0, sizeof *e);
    e->addr = *a;
    e->wait_head = e->wait_tail = e->ready_next = TE_NONE;
    return i;
}

static void ip_release(struct tls_enum *t, uint32_t i)
{
    struct te_ip *e = &t->ips[i];
    if (--e->refs > 0 || e->queued)
        return;
    struct te_addr_key k = addr_key(&e->addr);
    kset_del(&t->by_addr, &k);
    t->free_ips[t->free_ips_n++] = i;
}

/* Puts the address in the ready FIFO if it has a waiting target and room. */
static void ip_maybe_ready(struct tls_enum *t, uint32_t i)
{
    struct te_ip *e = &t->ips[i];
    if (e->queued || e->wait_head == TE_NONE || e->in_flight >= t->o.per_ip)
        return;
    e->queued = true;
    e->ready_next = TE_NONE;
    if (t->ready_tail == TE_NONE)
        t->ready_head = i;
    else
        t->ips[t->ready_tail].ready_next = i;
    t->ready_tail = i;
}

static void target_wait(struct tls_enum *t, struct te_target *tg)
{
    uint32_t idx = (uint32_t)(tg - t->slots);
    struct te_ip *e = &t->ips[tg->ip];
    tg->wait_next = TE_NONE;
    if (e->wait_tail == TE_NONE)
        e->wait_head = idx;
    else
        t->slots[e->wait_tail].wait_next = idx;
    e->wait_tail = idx;
    ip_maybe_ready(t, tg->ip);
}

/* ---- running the tests ----------------------------------------------- */

static void finish_target(struct tls_enum *t, struct te_target *tg)
{
    he_release(&tg->he);
    he_write(&tg->he, &tg->rec);
    if (t->emit(t->emit_ctx, &tg->rec) < 0)
        t->failed = -1;
    tg->in_use = false;
    ip_release(t, tg->ip);
    t->free_slots[t->free_n++] = (uint32_t)(tg - t->slots);
    t->held--;
}

/* Queues the target's next test or emits it when there is none. */
static void schedule(struct tls_enum *t, struct te_target *tg)
{
    if (he_next(&tg->he, &tg->rec))
        target_wait(t, tg);
    else
        finish_target(t, tg);
}

/* ---- public interface ------------------------------------------------- */

struct tls_enum *tls_enum_new(const struct tls_enum_opts *o, int (*emit)(void *, struct record *),
                              void *emit_ctx, char *err, size_t errlen)
{
    he_init_tables();
    struct tls_enum *t = calloc(1, sizeof *t);
    if (!t)
        goto oom;
    t->o = *o;
    if (t->o.ciphers)
        t->o.versions = true;
    if (t->o.per_ip == 0)
        t->o.per_ip = 1;
    if (t->o.max_held == 0)
        t->o.max_held = 1;
    t->emit = emit;
    t->emit_ctx = emit_ctx;
    t->ready_head = t->ready_tail = TE_NONE;
    if (t->o.versions) {
        t->n_slots = t->o.max_held + t->o.in_flight_max;
        uint32_t nb = 1;
        while (nb < 2 * t->n_slots)
            nb <<= 1;
        /* at most n_slots addresses: never over half full, never grows */
        kset_init_map(&t->by_addr, sizeof(struct te_addr_key), sizeof(uint32_t), addr_hash, nb, 50, SIZE_MAX);
        /* calloc: pages of unused slots are never touched */
        t->slots = calloc(t->n_slots, sizeof *t->slots);
        t->free_slots = calloc(t->n_slots, sizeof *t->free_slots);
        t->ips = calloc(t->n_slots, sizeof *t->ips);
        t->free_ips = calloc(t->n_slots, sizeof *t->free_ips);
        if (!t->slots || !t->free_slots || !t->ips || !t->free_ips || kset_reserve(&t->by_addr) < 0)
            goto oom;
        for (uint32_t i = 0; i < t->n_slots; i++) {
            t->free_slots[i] = t->n_slots - 1 - i;
            t->free_ips[i] = t->n_slots - 1 - i;
        }
        t->free_n = t->free_ips_n = t->n_slots;
    }
    if (t->o.save_certs) {
        t->certs = certsave_new(t->o.save_certs, o->ssl_ctx, err, errlen);
        if (!t->certs) {
            tls_enum_free(t);
            return NULL;
        }
    }
    return t;
oom:
    snprintf(err, errlen, "out of memory for TLS enumeration");
    tls_enum_free(t);
    return NULL;
}

void tls_enum_free(struct tls_enum *t)
{
    if (!t)
        return;
    certsave_free(t->certs);
    for (uint32_t i = 0; t->slots && i < t->n_slots; i++)
        he_release(&t->slots[i].he);
    free(t->slots);
    free(t->free_slots);
    free(t->ips);
    free(t->free_ips);
    kset_free(&t->by_addr);
    free(t);
}

/* --save-certs: the certificate kinds the main probe did not see (its
 * cert_key "RSA-2048", "EC-P-256", "DSA-1024", "ED25519"...). */
static unsigned cert_kinds_unseen(const struct tls_enum *t, const struct record *r)
{
    if (!t->certs)
        return 0;
    size_t len;
    const char *k = (const char *)rec_text(r, F_CERT_KEY, &len);
    unsigned seen = 0;
    if (k && len >= 4 && memcmp(k, "RSA-", 4) == 0)
        seen = IS_CERT_RSA;
    else if (k && len >= 3 && memcmp(k, "EC-", 3) == 0)
        seen = IS_CERT_EC;
    else if (k && len >= 4 && memcmp(k, "DSA-", 4) == 0)
        seen = IS_CERT_DSA;
    return (IS_CERT_RSA | IS_CERT_EC | IS_CERT_DSA) & ~seen;
}

/* A raw answer carried the Certificate of a kind not saved yet. */
static void save_raw_certs(struct tls_enum *t, struct te_target *tg)
{
    struct hello_parser *p = &tg->he.hp;
    if (!p->r.cert_kind)
        return;
    certsave_tls_message(t->certs, p->cert, p->cert_len);
    tg->he.cert_kinds &= (uint8_t)~p->r.cert_kind;
    he_release(&tg->he);
}

static int version_index(const char *name, size_t len)
{
    for (int v = 0; v < HE_NVER; v++)
        if (strlen(he_ver_name[v]) == len && memcmp(he_ver_name[v], name, len) == 0)
            return v;
    return -1;
}

int tls_enum_offer(struct tls_enum *t, const struct job *j, struct record *r)
{
    if (!t->o.versions || !rec_has(r, F_TLS_VERSION))
        return 0;
    if (t->free_n == 0) {
        /* only if more probes finish than the reserve allows for */
        rec_list_add(r, F_TLS_ENUM_INCOMPLETE, "all: no room to hold the record", 31);
        return 0;
    }
    struct te_target *tg = &t->slots[t->free_slots[--t->free_n]];
    t->held++;
    /* the used part only: the arena's unused pages stay untouched */
    memcpy(&tg->rec, r, offsetof(struct record, arena) + r->arena_used);
    tg->job = *j;
    tg->job.kind = JOB_TLS_TEST;
    tg->job.owner = tg;
    tg->in_use = true;
    tg->in_flight = false;
    /* the probe's own handshake proves its version */
    size_t len;
    const unsigned char *vs = rec_text(r, F_TLS_VERSION, &len);
    he_start(&tg->he, t->o.ciphers, version_index((const char *)vs, len));
    tg->he.cert_kinds = (uint8_t)cert_kinds_unseen(t, r);
    struct sockaddr_storage a = j->addr;
    tg->ip = ip_get(t, &a);
    t->ips[tg->ip].refs++;
    schedule(t, tg);
    return 1;
}

bool tls_enum_next_job(struct tls_enum *t, struct job *out)
{
    if (t->ready_head == TE_NONE)
        return false;
    uint32_t i = t->ready_head;
    struct te_ip *e = &t->ips[i];
    t->ready_head = e->ready_next;
    if (t->ready_head == TE_NONE)
        t->ready_tail = TE_NONE;
    e->queued = false;
    struct te_target *tg = &t->slots[e->wait_head];
    e->wait_head = tg->wait_next;
    if (e->wait_head == TE_NONE)
        e->wait_tail = TE_NONE;
    e->in_flight++;
    tg->in_flight = true;
    tg->seq++;
    *out = tg->job;
    out->test = tg->seq;
    t->tests++;
    ip_maybe_ready(t, i);
    return true;
}

bool tls_enum_busy(const struct tls_enum *t)
{
    return t->held > 0;
}

bool tls_enum_full(const struct tls_enum *t)
{
    return t->o.versions && t->held >= t->o.max_held;
}

int tls_enum_failed(const struct tls_enum *t)
{
    return t->failed;
}

uint64_t tls_enum_tests(const struct tls_enum *t)
{
    return t->tests;
}

static struct te_target *target_of(struct tls_enum *t, const struct job *j)
{
    struct te_target *tg = j->owner;
    if (!tg || tg < t->slots || tg >= t->slots + t->n_slots || !tg->in_use || !tg->in_flight ||
        j->test != tg->seq)
        return NULL;
    return tg;
}

/* The test in flight has ended: the address may run another. */
static void test_ended(struct tls_enum *t, struct te_target *tg)
{
    tg->in_flight = false;
    t->ips[tg->ip].in_flight--;
    ip_maybe_ready(t, tg->ip);
}

static bool is_address_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

size_t tls_enum_hello(void *arg, const struct job *j, unsigned char *buf, size_t cap)
{
    struct tls_enum *t = arg;
    struct te_target *tg = target_of(t, j);
    if (!tg)
        return 0;
    /* the client random needs to be fresh, not secret: nothing is derived from it */
    unsigned char rnd[32];
    uint64_t x = hash_splitmix64((uint64_t)tg->seq << 32 ^ (uint64_t)(tg - t->slots) ^ t->tests);
    for (size_t i = 0; i < sizeof rnd; i += 8) {
        x = hash_splitmix64(x);
        memcpy(rnd + i, &x, 8);
    }
    const char *sni = j->host[0] && !is_address_literal(j->host) ? j->host : NULL;
    return he_hello(&tg->he, sni, rnd, buf, cap);
}

bool tls_enum_bytes(void *arg, const struct job *j, const unsigned char *d, size_t n, bool eof)
{
    struct tls_enum *t = arg;
    struct te_target *tg = target_of(t, j);
    if (!tg)
        return true; /* nobody waits for this answer: end the connection */
    if (!he_bytes(&tg->he, d, n, eof))
        return false;
    test_ended(t, tg);
    save_raw_certs(t, tg);
    if (he_answer(&tg->he, &tg->rec)) {
        schedule(t, tg);
    } else {
        const char *why = tg->he.hp.r.why ? tg->he.hp.r.why : "unexpected answer";
        if (he_retry(&tg->he, &tg->rec, why))
            target_wait(t, tg);
        else
            schedule(t, tg);
    }
    return true;
}

void tls_enum_setup(void *arg, const struct job *j, SSL *ssl)
{
    /* only when no ClientHello could be built (cannot happen): make sure
     * the OpenSSL handshake fails instead of testing something else */
    struct tls_enum *t = arg;
    if (target_of(t, j)) {
        SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
        SSL_set_max_proto_version(ssl, TLS1_VERSION);
    }
}

void tls_enum_done(void *arg, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                   const char *error)
{
    (void)ssl;
    (void)ok;
    (void)error;
    struct tls_enum *t = arg;
    struct te_target *tg = target_of(t, j);
    if (!tg)
        return;
    test_ended(t, tg);
    he_release(&tg->he);
    if (status == STATUS_INTERRUPTED) {
        he_interrupt(&tg->he, &tg->rec);
        finish_target(t, tg);
        return;
    }
    if (he_no_answer(&tg->he, &tg->rec, status))
        schedule(t, tg);
    else if (he_retry(&tg->he, &tg->rec, rec_status_name(status)))
        target_wait(t, tg);
    else
        schedule(t, tg);
}

int tls_enum_flush(struct tls_enum *t)
{
    if (!t)
        return 0;
    for (uint32_t i = 0; i < t->n_slots; i++) {
        struct te_target *tg = &t->slots[i];
        if (!tg->in_use)
            continue;
        he_interrupt(&tg->he, &tg->rec);
        finish_target(t, tg);
    }
    t->ready_head = t->ready_tail = TE_NONE;
    return t->failed;
}
