/* verify_cache.c - remembered chain verdicts (see verify_cache.h). */
#include "verify_cache.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vcache_entry {
    struct vcache_key key;
    int64_t valid_from, valid_until; /* valid_until 0: empty slot */
    int verdict;
};

struct vcache {
    uint32_t slots;             /* power of two */
    struct vcache_entry *table; /* calloc'd on first store */
    EVP_MD *sha256;             /* fetched once: an implicit fetch per digest costs locks */
    EVP_MD_CTX *outer;
};

struct vcache *vcache_new(uint32_t slots)
{
    if (slots == 0)
        return NULL;
    struct vcache *vc = calloc(1, sizeof *vc);
    if (!vc)
        return NULL;
    vc->slots = 1;
    while (vc->slots * 2 <= slots && vc->slots < (1u << 30))
        vc->slots *= 2;
    vc->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    vc->outer = EVP_MD_CTX_new();
    if (!vc->sha256 || !vc->outer) {
        vcache_free(vc);
        return NULL;
    }
    return vc;
}

void vcache_free(struct vcache *vc)
{
    if (!vc)
        return;
    EVP_MD_CTX_free(vc->outer);
    EVP_MD_free(vc->sha256);
    free(vc->table);
    free(vc);
}

/* SHA-256 over the SHA-256 of each certificate: the order counts, and a
 * certificate boundary cannot be shifted to make two chains collide. */
bool vcache_key(struct vcache *vc, STACK_OF(X509) * chain, struct vcache_key *key)
{
    int n = chain ? sk_X509_num(chain) : 0;
    if (!vc || n == 0 || !EVP_DigestInit_ex(vc->outer, vc->sha256, NULL))
        return false;
    for (int i = 0; i < n; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (!X509_digest(sk_X509_value(chain, i), vc->sha256, md, &len) ||
            !EVP_DigestUpdate(vc->outer, md, len))
            return false;
    }
    unsigned int len = 0;
    return EVP_DigestFinal_ex(vc->outer, key->d, &len) && len == sizeof key->d;
}

static struct vcache_entry *slot_of(const struct vcache *vc, const struct vcache_key *key)
{
    uint32_t h;
    memcpy(&h, key->d, sizeof h);
    return &vc->table[h & (vc->slots - 1)];
}

bool vcache_lookup(struct vcache *vc, const struct vcache_key *key, int64_t now, int *verdict)
{
    if (!vc)
        return false;
    struct vcache_entry *e = vc->table ? slot_of(vc, key) : NULL;
    if (e && e->valid_until != 0 && memcmp(e->key.d, key->d, sizeof key->d) == 0 && now >= e->valid_from &&
        now <= e->valid_until) {
        *verdict = e->verdict;
        return true;
    }
    return false;
}

static bool time_of(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return false;
    *out = (int64_t)timegm(&tm);
    return true;
}

void vcache_store(struct vcache *vc, const struct vcache_key *key, STACK_OF(X509) * chain, int64_t now,
                  int verdict)
{
    if (!vc)
        return;
    if (!vc->table && !(vc->table = calloc(vc->slots, sizeof *vc->table)))
        return;
    /* Until the first validity boundary ahead of now (with a second to
     * spare either way of OpenSSL's comparison): up to then every
     * certificate is as expired, current or not yet valid as it was now.
     * Expired certificates stay expired; a clock going back misses. */
    int64_t until = now + VCACHE_TTL_S;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        int64_t nb, na;
        if (!time_of(X509_get0_notBefore(x), &nb) || !time_of(X509_get0_notAfter(x), &na))
            return; /* unparsable times: always verify */
        if (nb > now && nb - 2 < until)
            until = nb - 2;
        if (na >= now && na - 1 < until)
            until = na - 1;
    }
    if (until < now)
        return;
    struct vcache_entry *e = slot_of(vc, key);
    e->key = *key;
    e->valid_from = now;
    e->valid_until = until;
    e->verdict = verdict;
}
