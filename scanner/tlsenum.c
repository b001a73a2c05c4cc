/*
 * tlsenum.c - TLS version and cipher-suite enumeration (--tls-versions,
 * --ciphers) and certificate saving (--save-certs). Method, fields and
 * grade rule: scanner/TLS-ENUM.md.
 *
 * Each held target walks a small state machine, one test handshake at a
 * time:
 *
 *   TE_VERSION v   pin min=max=v, offer every suite OpenSSL can (security
 *                  level 0). Accepted -> v is in tls_versions; with
 *                  --ciphers the chosen suite is the server's first choice
 *                  and TE_SUITES v follows. Refused (tls-failed) -> v is
 *                  tested and absent.
 *   TE_SUITES v    offer everything minus the suites already chosen; the
 *                  chosen one is appended. Refused -> the list of v is
 *                  complete. (The usual n+1 handshakes.)
 *   TE_ORDER       at the highest version with two suites or more, offer
 *                  the first two in reverse order: the server keeps its
 *                  first choice -> it enforces its own order.
 *
 * Any other outcome (refused connection, timeout, STARTTLS refused, reset
 * before TLS, a handshake reset mid-way with no TLS alert either way, and
 * a refusal of the version the main probe completed) proves nothing about
 * the offer: the same
 * test is retried once, then the point is recorded as undecided in
 * tls_enum_incomplete and the version is left out of tls_versions_tested -
 * never "not accepted".
 * SSLv2/SSLv3 and suites OpenSSL 3.0 cannot send (export, RC4, DES, ...)
 * are never tested.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certsave.h"
#include "tls.h"
#include "tlsalert.h"
#include "tlssuites.h"

#define TE_MAX_SUITES 64  /* accepted suites kept per version */
#define TE_MAX_ATTEMPTS 2 /* a test with an inconclusive outcome runs twice */
#define TE_NONE UINT32_MAX

enum te_step { TE_VERSION, TE_SUITES, TE_ORDER, TE_DONE };

struct te_target {
    struct record rec;
    struct job job;     /* the main probe's job: address, port, name */
    uint32_t ip;        /* its address entry */
    uint32_t wait_next; /* next target in the address's wait FIFO */
    uint32_t seq;       /* bumped per launch; job.test carries it */
    uint32_t weak;      /* W_* bits seen */
    int min_dh_bits;    /* smallest DHE group accepted (<= 1.2); 0 = none */
    bool in_use, in_flight, setup_failed;
    uint8_t step, ver, attempt;
    uint8_t tested, accepted; /* bit per version */
    int8_t order;             /* -1 undecided, 0 client order, 1 server order */
    int8_t order_ver;         /* version the order test ran at */
    bool complete;            /* nothing undecided (for the grade) */
    uint8_t n_suites[TE_NVER];
    uint16_t suites[TE_NVER][TE_MAX_SUITES]; /* indexes into tlssuites_all */
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

/* ---- the state machine ----------------------------------------------- */

static void note_incomplete(struct te_target *tg, const char *what, const char *why)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "%s: %s", what, why);
    rec_list_add(&tg->rec, F_TLS_ENUM_INCOMPLETE, buf,
                 n > 0 && (size_t)n < sizeof buf ? (size_t)n : strlen(buf));
    tg->complete = false;
}

static int highest_ordered_version(const struct te_target *tg)
{
    for (int v = TE_NVER - 1; v >= 0; v--)
        if (tg->n_suites[v] >= 2)
            return v;
    return -1;
}

/* Moves the cursor to the next test that must run; TE_DONE when none. */
static void advance(struct tls_enum *t, struct te_target *tg)
{
    for (;;) {
        switch ((enum te_step)tg->step) {
        case TE_VERSION:
            if (tg->ver >= TE_NVER) {
                tg->step = t->o.ciphers ? TE_ORDER : TE_DONE;
                continue;
            }
            /* versions only: the main probe's own version needs no test */
            if (!t->o.ciphers && (tg->accepted >> tg->ver & 1u)) {
                tg->ver++;
                continue;
            }
            return;
        case TE_SUITES: {
            int v = tg->ver;
            if (tg->n_suites[v] >= tlssuites_offerable[v]) {
                tg->step = TE_VERSION; /* every suite we can offer was chosen */
                tg->ver++;
                continue;
            }
            if (tg->n_suites[v] >= TE_MAX_SUITES) {
                note_incomplete(tg, tlssuites_ver_name[v], "more suites than kept");
                tg->step = TE_VERSION;
                tg->ver++;
                continue;
            }
            return;
        }
        case TE_ORDER:
            if (tg->order_ver >= 0) { /* ran (or gave up) already */
                tg->step = TE_DONE;
                continue;
            }
            tg->order_ver = (int8_t)highest_ordered_version(tg);
            if (tg->order_ver < 0) {
                tg->step = TE_DONE;
                continue;
            }
            return;
        case TE_DONE: return;
        }
    }
}

static void finish_target(struct tls_enum *t, struct te_target *tg);

/* Queues the target's next test or emits it when there is none. */
static void schedule(struct tls_enum *t, struct te_target *tg)
{
    tg->attempt = 0;
    advance(t, tg);
    if (tg->step == TE_DONE)
        finish_target(t, tg);
    else
        target_wait(t, tg);
}

static void add_weak_name(struct record *r, const char *s)
{
    rec_list_add(r, F_TLS_WEAK, s, strlen(s));
}

/* Grade (TLS-ENUM.md): F, C, B or A from the worst thing accepted. */
static char grade(const struct te_target *tg)
{
    if (tg->weak & (W_NULL | W_ANON | W_EXPORT | W_DES) || (tg->min_dh_bits && tg->min_dh_bits < 1024))
        return 'F';
    bool modern = tg->accepted & (1u << 2 | 1u << 3);
    if (tg->weak & (W_RC4 | W_3DES | W_MD5) || (tg->min_dh_bits && tg->min_dh_bits < 2048) || !modern)
        return 'C';
    if (tg->weak & (W_TLS10 | W_TLS11))
        return 'B';
    return 'A';
}

static void write_fields(struct tls_enum *t, struct te_target *tg)
{
    struct record *r = &tg->rec;
    rec_list_init(r, F_TLS_VERSIONS_TESTED);
    rec_list_init(r, F_TLS_VERSIONS);
    for (int v = 0; v < TE_NVER; v++) {
        if (tg->tested >> v & 1u)
            rec_list_add(r, F_TLS_VERSIONS_TESTED, tlssuites_ver_name[v], strlen(tlssuites_ver_name[v]));
        if (tg->accepted >> v & 1u)
            rec_list_add(r, F_TLS_VERSIONS, tlssuites_ver_name[v], strlen(tlssuites_ver_name[v]));
    }
    if (tg->accepted & 1u)
        tg->weak |= W_TLS10;
    if (tg->accepted & 2u)
        tg->weak |= W_TLS11;
    if (t->o.ciphers) {
        rec_list_init(r, F_TLS_CIPHERS);
        for (int v = 0; v < TE_NVER; v++)
            for (int i = 0; i < tg->n_suites[v]; i++) {
                char buf[96];
                int n = snprintf(buf, sizeof buf, "%s:%s", tlssuites_ver_name[v],
                                 SSL_CIPHER_get_name(tlssuites_all[tg->suites[v][i]]));
                rec_list_add(r, F_TLS_CIPHERS, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
            }
        if (tg->order >= 0)
            rec_set_bool(r, F_TLS_SERVER_ORDER, tg->order == 1);
    }
    rec_list_init(r, F_TLS_WEAK);
    for (size_t i = 0; i < N_WEAK; i++)
        if (tg->weak >> i & 1u)
            add_weak_name(r, tlssuites_weak_name[i]);
    if (tg->min_dh_bits && tg->min_dh_bits < 2048) {
        char buf[24];
        snprintf(buf, sizeof buf, "DH-%d", tg->min_dh_bits);
        add_weak_name(r, buf);
    }
    for (int v = 0; v < TE_NVER; v++)
        if (!(tg->tested >> v & 1u))
            tg->complete = false;
    if (t->o.ciphers && tg->complete) {
        char g = grade(tg);
        rec_set_text(r, F_TLS_GRADE, &g, 1);
    }
}

static void finish_target(struct tls_enum *t, struct te_target *tg)
{
    write_fields(t, tg);
    if (t->emit(t->emit_ctx, &tg->rec) < 0)
        t->failed = -1;
    tg->in_use = false;
    ip_release(t, tg->ip);
    t->free_slots[t->free_n++] = (uint32_t)(tg - t->slots);
    t->held--;
}

/* What the outcome of a chosen suite teaches: weak bits and DH size. */
static void note_handshake(struct te_target *tg, SSL *ssl, const SSL_CIPHER *c)
{
    tg->weak |= tlssuites_weak_bits(c);
    char group[48];
    int bits;
    tls_group_name(ssl, group, sizeof group);
    if (sscanf(group, "DHE-%d", &bits) == 1 && bits > 0 && (tg->min_dh_bits == 0 || bits < tg->min_dh_bits))
        tg->min_dh_bits = bits;
}

/* ---- public interface ------------------------------------------------- */

struct tls_enum *tls_enum_new(const struct tls_enum_opts *o, int (*emit)(void *, struct record *),
                              void *emit_ctx, char *err, size_t errlen)
{
    if (tlssuites_load(err, errlen) < 0)
        return NULL;
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
    free(t->slots);
    free(t->free_slots);
    free(t->ips);
    free(t->free_ips);
    kset_free(&t->by_addr);
    free(t);
}

static int version_index(const char *name, size_t len)
{
    for (int v = 0; v < TE_NVER; v++)
        if (strlen(tlssuites_ver_name[v]) == len && memcmp(tlssuites_ver_name[v], name, len) == 0)
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
    memcpy(&tg->rec, r, sizeof *r);
    tg->job = *j;
    tg->job.kind = JOB_TLS_TEST;
    tg->job.owner = tg;
    tg->in_use = true;
    tg->in_flight = tg->setup_failed = false;
    tg->step = TE_VERSION;
    tg->ver = 0;
    tg->tested = tg->accepted = 0;
    tg->weak = 0;
    tg->min_dh_bits = 0;
    tg->order = -1;
    tg->order_ver = -1;
    tg->complete = true;
    memset(tg->n_suites, 0, sizeof tg->n_suites);
    /* the probe's own handshake proves its version */
    size_t len;
    const unsigned char *vs = rec_text(r, F_TLS_VERSION, &len);
    int v = version_index((const char *)vs, len);
    if (v >= 0)
        tg->tested = tg->accepted = (uint8_t)(1u << v);
    size_t glen;
    const unsigned char *gs = rec_has(r, F_TLS_GROUP) ? rec_text(r, F_TLS_GROUP, &glen) : NULL;
    char gbuf[32];
    int bits;
    if (gs && glen < sizeof gbuf) {
        memcpy(gbuf, gs, glen);
        gbuf[glen] = 0;
        if (sscanf(gbuf, "DHE-%d", &bits) == 1 && bits > 0)
            tg->min_dh_bits = bits;
    }
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
    tg->setup_failed = false;
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

/* "ALL:COMPLEMENTOFALL:!A:!B...:@SECLEVEL=0" or "TLS_X:TLS_Y" without
 * the suites already chosen at version v. */
static bool remaining_list(const struct te_target *tg, int v, char *buf, size_t len)
{
    size_t used = 0;
    int n;
    if (v == TE_TLS13) {
        for (size_t i = 0; i < N_SUITES13; i++) {
            bool chosen = false;
            for (int k = 0; k < tg->n_suites[v]; k++)
                chosen |= strcmp(SSL_CIPHER_get_name(tlssuites_all[tg->suites[v][k]]), tlssuites_13[i]) == 0;
            if (chosen)
                continue;
            n = snprintf(buf + used, len - used, "%s%s", used ? ":" : "", tlssuites_13[i]);
            if (n < 0 || (size_t)n >= len - used)
                return false;
            used += (size_t)n;
        }
        return used > 0;
    }
    n = snprintf(buf, len, "%s", ALL_12);
    used = (size_t)n;
    for (int k = 0; k < tg->n_suites[v]; k++) {
        n = snprintf(buf + used, len - used, ":!%s", SSL_CIPHER_get_name(tlssuites_all[tg->suites[v][k]]));
        if (n < 0 || (size_t)n >= len - used)
            return false;
        used += (size_t)n;
    }
    n = snprintf(buf + used, len - used, "%s", SECLEVEL0);
    return n > 0 && (size_t)n < len - used;
}

void tls_enum_setup(void *arg, const struct job *j, SSL *ssl)
{
    struct tls_enum *t = arg;
    struct te_target *tg = target_of(t, j);
    if (!tg)
        return;
    tlsalert_watch(ssl);
    char list[4096];
    int v = tg->step == TE_ORDER ? tg->order_ver : tg->ver;
    bool ok = SSL_set_min_proto_version(ssl, tlssuites_ver_code[v]) &&
              SSL_set_max_proto_version(ssl, tlssuites_ver_code[v]);
    SSL_set_security_level(ssl, 0);
    if (tg->step == TE_ORDER) {
        const char *first = SSL_CIPHER_get_name(tlssuites_all[tg->suites[v][0]]);
        const char *second = SSL_CIPHER_get_name(tlssuites_all[tg->suites[v][1]]);
        if (v == TE_TLS13) {
            snprintf(list, sizeof list, "%s:%s", second, first);
            ok = ok && SSL_set_ciphersuites(ssl, list);
        } else {
            snprintf(list, sizeof list, "%s:%s%s", second, first, SECLEVEL0);
            ok = ok && SSL_set_cipher_list(ssl, list);
        }
    } else if (v == TE_TLS13) {
        ok = ok && remaining_list(tg, v, list, sizeof list) && SSL_set_ciphersuites(ssl, list);
    } else {
        ok = ok && remaining_list(tg, v, list, sizeof list) && SSL_set_cipher_list(ssl, list);
    }
    if (!ok) {
        /* never let a test run with an offer other than the intended one */
        tg->setup_failed = true;
        SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
        SSL_set_max_proto_version(ssl, TLS1_VERSION);
    }
    ERR_clear_error();
}

/* An outcome that says nothing about the offer, twice: give up this test. */
static void give_up(struct te_target *tg, const char *why)
{
    char what[40];
    switch ((enum te_step)tg->step) {
    case TE_VERSION:
        note_incomplete(tg, tlssuites_ver_name[tg->ver], why);
        tg->ver++;
        break;
    case TE_SUITES:
        snprintf(what, sizeof what, "%s suites", tlssuites_ver_name[tg->ver]);
        note_incomplete(tg, what, why);
        tg->step = TE_VERSION;
        tg->ver++;
        break;
    case TE_ORDER: note_incomplete(tg, "server order", why); break; /* order_ver >= 0: advance() ends */
    case TE_DONE: break;
    }
}

static void add_suite(struct te_target *tg, int v, const SSL_CIPHER *c)
{
    int idx = tlssuites_index(c);
    for (int k = 0; k < tg->n_suites[v]; k++)
        if (tg->suites[v][k] == idx) {
            /* the server chose a suite we no longer offered: stop here */
            note_incomplete(tg, tlssuites_ver_name[v], "server chose a suite not offered");
            tg->step = TE_VERSION;
            tg->ver++;
            return;
        }
    if (idx < 0 || tg->n_suites[v] >= TE_MAX_SUITES) {
        note_incomplete(tg, tlssuites_ver_name[v],
                        idx < 0 ? "unknown suite chosen" : "more suites than kept");
        tg->step = TE_VERSION;
        tg->ver++;
        return;
    }
    tg->suites[v][tg->n_suites[v]++] = (uint16_t)idx;
}

static void interrupted(struct te_target *tg)
{
    if (tg->step != TE_DONE)
        note_incomplete(tg, "enumeration", "interrupted");
    tg->step = TE_DONE;
}

void tls_enum_done(void *arg, const struct job *j, SSL *ssl, bool ok, enum rec_status status,
                   const char *error)
{
    struct tls_enum *t = arg;
    struct te_target *tg = target_of(t, j);
    if (!tg)
        return;
    tg->in_flight = false;
    struct te_ip *e = &t->ips[tg->ip];
    e->in_flight--;
    ip_maybe_ready(t, tg->ip);

    const SSL_CIPHER *chosen = ok && ssl ? SSL_get_current_cipher(ssl) : NULL;
    if (ok && ssl && SSL_version(ssl) != tlssuites_ver_code[tg->step == TE_ORDER ? tg->order_ver : tg->ver])
        ok = false, status = STATUS_LOCAL_ERROR; /* cannot happen with min = max */
    if (tg->setup_failed) {
        ok = false;
        status = STATUS_LOCAL_ERROR;
        tg->attempt = TE_MAX_ATTEMPTS; /* no point retrying */
    }
    if (status == STATUS_INTERRUPTED) {
        interrupted(tg);
        finish_target(t, tg);
        return;
    }
    /* a chain over the memory caps (tls.h) says nothing about the offer */
    bool inconclusive = !ok && tls_limit_hit(ssl);
    if (!ok && status == STATUS_TLS_FAILED && !tg->setup_failed && !inconclusive) {
        bool alert = tlsalert_exchanged(ssl);
        /* hanging up after the ClientHello is how some servers refuse (Dovecot
         * sends no alert); a reset or another socket error is the network */
        bool eof = !alert && error && strstr(error, "closed");
        if (!alert && !eof) {
            status = STATUS_RESET;
        } else if (tg->step == TE_VERSION && (tg->accepted >> tg->ver & 1u)) {
            /* the main probe completed this version: a refusal contradicts it */
            if (eof)
                status = STATUS_CLOSED;
            inconclusive = true;
        }
    }
    if (ok && chosen) {
        if (t->o.save_certs)
            certsave_chain_seen(ssl);
        note_handshake(tg, ssl, chosen);
        int v = tg->ver;
        switch ((enum te_step)tg->step) {
        case TE_VERSION:
            tg->tested |= (uint8_t)(1u << v);
            tg->accepted |= (uint8_t)(1u << v);
            if (t->o.ciphers) {
                add_suite(tg, v, chosen);
                if (tg->step == TE_VERSION && tg->ver == v)
                    tg->step = TE_SUITES;
            } else {
                tg->ver++;
            }
            break;
        case TE_SUITES: add_suite(tg, v, chosen); break;
        case TE_ORDER: {
            int idx = tlssuites_index(chosen);
            int ov = tg->order_ver;
            if (idx == tg->suites[ov][0])
                tg->order = 1;
            else if (idx == tg->suites[ov][1])
                tg->order = 0;
            break;
        }
        case TE_DONE: break;
        }
        schedule(t, tg);
        return;
    }
    if (status == STATUS_TLS_FAILED && !tg->setup_failed && !inconclusive) {
        /* the server turned this offer down */
        switch ((enum te_step)tg->step) {
        case TE_VERSION:
            tg->tested |= (uint8_t)(1u << tg->ver);
            tg->ver++;
            break;
        case TE_SUITES:
            tg->step = TE_VERSION;
            tg->ver++;
            break;
        case TE_ORDER: note_incomplete(tg, "server order", "offer of two accepted suites refused"); break;
        case TE_DONE: break;
        }
        schedule(t, tg);
        return;
    }
    /* inconclusive: same test once more, then give up on it */
    if (++tg->attempt < TE_MAX_ATTEMPTS) {
        target_wait(t, tg);
        return;
    }
    give_up(tg, rec_status_name(status));
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
        interrupted(tg);
        finish_target(t, tg);
    }
    t->ready_head = t->ready_tail = TE_NONE;
    return t->failed;
}
