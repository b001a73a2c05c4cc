/* domains.c - per-domain roll-up of --mx scans; see domains.h. */
#include "domains.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/lib/hash.h"
#include "../../output/lib/kset.h"

#define MAX_STATUSES 24

/* What the probe records of one address showed; "NOT_" bits are set by
 * any record that breaks an "every record" property. */
enum host_bits {
    H_ANSWERED = 1,
    H_NOT_TLS = 2,
    H_NOT_OFFERED = 4,
    H_PLAIN_AUTH = 8,
    H_CERT_BAD = 16,
};

struct domain {
    uint32_t first; /* index of its first address hash in addrs */
    uint16_t n;     /* addresses */
};

struct domains {
    bool active; /* a domain record was seen: track probe records from now */
    uint64_t records, not_rolled_up;
    int n_status;
    char status[MAX_STATUSES][24];
    uint64_t status_count[MAX_STATUSES];
    struct domain *dom;
    size_t n_dom, cap_dom;
    uint64_t *addrs;
    size_t n_addrs, cap_addrs;
    struct kset hosts; /* address hash -> enum host_bits */
};

static uint64_t key_hash(const void *key)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    return hash_mix64(k);
}

/* 64-bit hash of an address text; never 0 (kset's empty key). */
static uint64_t addr_key(const unsigned char *ip, size_t n)
{
    return hash_fnv1a64(ip, n) | 1;
}

struct domains *domains_new(void)
{
    struct domains *d = calloc(1, sizeof *d);
    if (d)
        kset_init_map(&d->hosts, sizeof(uint64_t), 1, key_hash, 1024, 50, DOMAINS_MAX_HOSTS);
    return d;
}

void domains_free(struct domains *d)
{
    if (!d)
        return;
    kset_free(&d->hosts);
    free(d->dom);
    free(d->addrs);
    free(d);
}

static bool text_is(const struct record *r, enum rec_field f, const char *s)
{
    size_t n;
    if (!rec_has(r, f))
        return false;
    const unsigned char *t = rec_text(r, f, &n);
    return n == strlen(s) && memcmp(t, s, n) == 0;
}

static bool is_true(const struct record *r, enum rec_field f)
{
    return rec_has(r, f) && rec_int(r, f) != 0;
}

static void count_status(struct domains *d, const struct record *r)
{
    size_t n = 0;
    const unsigned char *s = rec_has(r, F_STATUS) ? rec_text(r, F_STATUS, &n) : (const unsigned char *)"";
    if (n >= sizeof d->status[0])
        n = sizeof d->status[0] - 1;
    for (int i = 0; i < d->n_status; i++)
        if (strlen(d->status[i]) == n && memcmp(d->status[i], s, n) == 0) {
            d->status_count[i]++;
            return;
        }
    if (d->n_status == MAX_STATUSES)
        return;
    memcpy(d->status[d->n_status], s, n);
    d->status[d->n_status][n] = '\0';
    d->status_count[d->n_status++] = 1;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem, size_t max)
{
    if (need <= *cap)
        return true;
    if (need > max)
        return false;
    size_t c = *cap ? *cap * 2 : 1024;
    while (c < need)
        c *= 2;
    if (c > max)
        c = max;
    void *q = realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

/* "PREF EXCHANGER RESULT": the RESULT when it is an address, else NULL. */
static const unsigned char *mx_address(const unsigned char *item, size_t n, size_t *len)
{
    const unsigned char *sp = memrchr(item, ' ', n);
    if (!sp || sp + 1 == item + n)
        return NULL;
    *len = (size_t)(item + n - (sp + 1));
    if (*len >= 4 && memcmp(sp + 1, "dns-", 4) == 0)
        return NULL;
    return sp + 1;
}

static void add_domain(struct domains *d, const struct record *r)
{
    d->active = true;
    d->records++;
    count_status(d, r);
    if (!text_is(r, F_STATUS, "resolved"))
        return;
    if (!grow((void **)&d->dom, &d->cap_dom, d->n_dom + 1, sizeof *d->dom, DOMAINS_MAX)) {
        d->not_rolled_up++;
        return;
    }
    struct domain *dm = &d->dom[d->n_dom];
    dm->first = (uint32_t)d->n_addrs;
    dm->n = 0;
    const unsigned char *item;
    size_t n;
    for (uint16_t cur = 0; rec_list_next(r, F_MX, &cur, &item, &n);) {
        size_t alen;
        const unsigned char *a = mx_address(item, n, &alen);
        if (!a)
            continue;
        if (!grow((void **)&d->addrs, &d->cap_addrs, d->n_addrs + 1, sizeof *d->addrs, DOMAINS_MAX_ADDRS)) {
            d->n_addrs = dm->first; /* drop the half-added domain */
            d->not_rolled_up++;
            return;
        }
        d->addrs[d->n_addrs++] = addr_key(a, alen);
        dm->n++;
    }
    if (dm->n)
        d->n_dom++;
}

static void add_probe(struct domains *d, const struct record *r)
{
    size_t n;
    const unsigned char *ip = rec_text(r, F_IP, &n);
    uint64_t key = addr_key(ip, n);
    enum kset_add how;
    uint8_t *bits = kset_put(&d->hosts, &key, &how);
    if (!bits) {
        d->not_rolled_up++;
        return;
    }
    bool tls = rec_has(r, F_TLS_VERSION);
    bool implicit = text_is(r, F_TLS_MODE, "implicit");
    if (rec_has(r, F_BANNER) || tls)
        *bits |= H_ANSWERED;
    if (!tls || (!implicit && !is_true(r, F_STARTTLS_OK)))
        *bits |= H_NOT_TLS;
    if (!implicit && !is_true(r, F_STARTTLS_OFFERED))
        *bits |= H_NOT_OFFERED;
    if (is_true(r, F_PLAINTEXT_AUTH_BEFORE_TLS))
        *bits |= H_PLAIN_AUTH;
    if (tls && !(is_true(r, F_CERT_TRUSTED) && is_true(r, F_CERT_HOSTNAME_MATCH)))
        *bits |= H_CERT_BAD;
}

void domains_add(struct domains *d, const struct record *r)
{
    if (text_is(r, F_STATUS, "duplicate"))
        return;
    if (!rec_has(r, F_PORT) && rec_has(r, F_DOMAIN))
        add_domain(d, r);
    else if (d->active && rec_has(r, F_PORT) && rec_has(r, F_IP))
        add_probe(d, r);
}

enum { R_ALL_ANSWERED, R_ALL_OFFERED, R_ALL_TLS, R_ALL_CERT, R_ANY_PLAIN, R_NONE_ANSWERED, R_COUNT };

static const char *const roll_names[R_COUNT] = {
    [R_ALL_ANSWERED] = "resolved_every_mx_answered",  [R_ALL_OFFERED] = "resolved_every_mx_starttls_offered",
    [R_ALL_TLS] = "resolved_every_mx_tls_ok",         [R_ALL_CERT] = "resolved_every_mx_cert_valid",
    [R_ANY_PLAIN] = "resolved_any_mx_plaintext_auth", [R_NONE_ANSWERED] = "resolved_no_mx_answered",
};

static void roll_one(const struct domains *d, const struct domain *dm, uint64_t *out)
{
    bool all_answered = true, all_offered = true, all_tls = true, all_cert = true, any_plain = false,
         any_answered = false;
    for (uint32_t i = 0; i < dm->n; i++) {
        const uint8_t *b = kset_get(&d->hosts, &d->addrs[dm->first + i]);
        uint8_t bits = b ? *b : (uint8_t)(H_NOT_TLS | H_NOT_OFFERED | H_CERT_BAD);
        bool answered = bits & H_ANSWERED;
        any_answered |= answered;
        all_answered &= answered;
        all_offered &= answered && !(bits & H_NOT_OFFERED);
        all_tls &= answered && !(bits & H_NOT_TLS);
        all_cert &= answered && !(bits & (H_NOT_TLS | H_CERT_BAD));
        any_plain |= (bits & H_PLAIN_AUTH) != 0;
    }
    out[R_ALL_ANSWERED] += all_answered;
    out[R_ALL_OFFERED] += all_offered;
    out[R_ALL_TLS] += all_tls;
    out[R_ALL_CERT] += all_cert;
    out[R_ANY_PLAIN] += any_plain;
    out[R_NONE_ANSWERED] += !any_answered;
}

static void row(struct report *rep, const char *name, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    const char *cells[] = {name, num};
    report_row(rep, cells);
}

void domains_report(struct domains *d, struct report *rep)
{
    if (!d->records)
        return;
    static const char *const cols[] = {"metric", "value"};
    static const bool num[] = {0, 1};
    report_begin(rep, "domains", 2, cols, num);
    row(rep, "domains", d->records);
    for (int i = 0; i < d->n_status; i++) {
        char name[40];
        snprintf(name, sizeof name, "status_%s", d->status[i]);
        row(rep, name, d->status_count[i]);
    }
    uint64_t roll[R_COUNT] = {0};
    for (size_t i = 0; i < d->n_dom; i++)
        roll_one(d, &d->dom[i], roll);
    for (int k = 0; k < R_COUNT; k++)
        row(rep, roll_names[k], roll[k]);
    if (d->not_rolled_up)
        row(rep, "not_rolled_up", d->not_rolled_up);
    report_end(rep);
}
