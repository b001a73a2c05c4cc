/*
 * test_verify_cache.c - the chain-verdict cache (scanner/verify_cache.c):
 * keys tell chains apart by content and order; a verdict is served only
 * while every certificate's validity reads as it did when it was stored
 * (a certificate expiring or becoming valid ends the entry), never after
 * VCACHE_TTL_S; a colliding chain replaces the entry; 0 slots = no cache.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "../../scanner/verify_cache.h"
#include "check.h"

static EVP_PKEY *key;

/* A self-signed certificate valid from now+nb to now+na seconds. */
static X509 *make_cert(const char *cn, long nb, long na)
{
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), nb);
    X509_gmtime_adj(X509_getm_notAfter(c), na);
    X509_set_pubkey(c, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                               -1, 0);
    X509_set_issuer_name(c, X509_get_subject_name(c));
    X509_sign(c, key, EVP_sha256());
    return c;
}

static STACK_OF(X509) * chain_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *s = sk_X509_new_null();
    sk_X509_push(s, a);
    if (b)
        sk_X509_push(s, b);
    return s;
}

static void check_keys(struct vcache *vc, X509 *a, X509 *b)
{
    struct vcache_key k1, k2, k3, k4;
    STACK_OF(X509) *ab = chain_of(a, b), *ba = chain_of(b, a), *a1 = chain_of(a, NULL);
    CHECK(vcache_key(vc, ab, &k1));
    CHECK(vcache_key(vc, ab, &k2));
    CHECK(memcmp(k1.d, k2.d, sizeof k1.d) == 0); /* same chain, same key */
    CHECK(vcache_key(vc, ba, &k3));
    CHECK(memcmp(k1.d, k3.d, sizeof k1.d) != 0); /* order counts */
    CHECK(vcache_key(vc, a1, &k4));
    CHECK(memcmp(k1.d, k4.d, sizeof k1.d) != 0); /* a prefix is another chain */
    STACK_OF(X509) *empty = sk_X509_new_null();
    CHECK(!vcache_key(vc, empty, &k4)); /* nothing to key: never cached */
    CHECK(!vcache_key(NULL, ab, &k4));  /* no cache */
    sk_X509_free(empty);
    sk_X509_free(ab);
    sk_X509_free(ba);
    sk_X509_free(a1);
}

/* Stored at `now`, looked up at now + dt: served or not. */
static bool served(X509 *x, long dt, int *verdict)
{
    struct vcache *vc = vcache_new(16);
    STACK_OF(X509) *s = chain_of(x, NULL);
    struct vcache_key k;
    int64_t now = (int64_t)time(NULL);
    bool ok = vcache_key(vc, s, &k);
    vcache_store(vc, &k, s, now, 18);
    ok = ok && vcache_lookup(vc, &k, now + dt, verdict);
    sk_X509_free(s);
    vcache_free(vc);
    return ok;
}

static void check_windows(void)
{
    int v = -1;
    X509 *current = make_cert("current", -3600, 100000);
    CHECK(served(current, 0, &v) && v == 18);
    CHECK(served(current, VCACHE_TTL_S - 1, &v));
    CHECK(!served(current, VCACHE_TTL_S + 1, &v)); /* the TTL bounds every entry */
    CHECK(!served(current, -5, &v));               /* a clock that went back */
    X509 *expiring = make_cert("expiring", -3600, 100);
    CHECK(served(expiring, 50, &v));
    CHECK(!served(expiring, 101, &v)); /* expired since: verify again */
    X509 *early = make_cert("early", 200, 100000);
    CHECK(served(early, 100, &v));
    CHECK(!served(early, 201, &v)); /* valid since: verify again */
    X509 *expired = make_cert("expired", -7200, -3600);
    CHECK(served(expired, VCACHE_TTL_S - 1, &v)); /* stays expired */
    X509_free(current);
    X509_free(expiring);
    X509_free(early);
    X509_free(expired);
}

static void check_replace_and_off(X509 *a, X509 *b)
{
    struct vcache *vc = vcache_new(1); /* one slot: every chain collides */
    STACK_OF(X509) *sa = chain_of(a, NULL), *sb = chain_of(b, NULL);
    struct vcache_key ka, kb;
    int64_t now = (int64_t)time(NULL);
    int v = -1;
    CHECK(vcache_key(vc, sa, &ka) && vcache_key(vc, sb, &kb));
    CHECK(!vcache_lookup(vc, &ka, now, &v)); /* empty */
    vcache_store(vc, &ka, sa, now, 0);
    CHECK(vcache_lookup(vc, &ka, now, &v) && v == 0);
    CHECK(!vcache_lookup(vc, &kb, now, &v)); /* another chain, same slot: no false hit */
    vcache_store(vc, &kb, sb, now, 21);
    CHECK(vcache_lookup(vc, &kb, now, &v) && v == 21);
    CHECK(!vcache_lookup(vc, &ka, now, &v)); /* replaced */
    CHECK(vcache_new(0) == NULL);
    CHECK(!vcache_lookup(NULL, &ka, now, &v));
    vcache_store(NULL, &ka, sa, now, 0); /* no cache: a no-op */
    sk_X509_free(sa);
    sk_X509_free(sb);
    vcache_free(vc);
}

int main(void)
{
    key = EVP_EC_gen("P-256");
    X509 *a = make_cert("a", -60, 86400), *b = make_cert("b", -60, 86400);
    struct vcache *vc = vcache_new(4096);
    CHECK(vc != NULL);
    check_keys(vc, a, b);
    check_windows();
    check_replace_and_off(a, b);
    vcache_free(vc);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(key);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
