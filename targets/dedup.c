/*
 * dedup.c - target keys and the key set (see dedup.h).
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../output/lib/hash.h"
#include "../output/lib/kset.h"
#include "addr.h"

/* splitmix64's finaliser: every input bit reaches every output bit. */
#define mix hash_mix64

/* Two independent 64-bit lanes over the canonical bytes. */
static struct tgt_key hash128(const unsigned char *p, size_t n)
{
    uint64_t a = UINT64_C(0x9e3779b97f4a7c15) ^ n, b = UINT64_C(0xc2b2ae3d27d4eb4f) + n;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a = mix(a ^ w) * UINT64_C(0xff51afd7ed558ccd);
        b = mix(b + w) ^ (b >> 17);
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    a = mix(a ^ w ^ (uint64_t)(n - i) << 56);
    b = mix(b + w + ((uint64_t)(n - i) << 48));
    return (struct tgt_key){.hi = mix(a ^ (b >> 1)), .lo = mix(b ^ (a << 1))};
}

struct tgt_key tgt_key(const struct tgt_keyspec *k)
{
    unsigned char buf[40 + 256];
    size_t n = 0, alen = k->family ? tgt_addr_len(k->family) : 0;
    size_t nlen = k->name ? k->name_len : 0;
    unsigned char addr[16] = {0};

    int family = k->family;
    unsigned prefix_len = k->prefix_len;
    if (alen)
        memcpy(addr, k->addr, alen);
    /* One address that embeds an IPv4 one (mapped, compatible, 6to4,
     * NAT64) is that IPv4 address, as for the blocklist and --per-subnet;
     * normalised before anything is hashed, so dedup and resume agree. */
    unsigned char v4[4];
    if (family == AF_INET6 && prefix_len == 128 && tgt_addr_v4_in_v6(addr, v4)) {
        memset(addr, 0, sizeof addr);
        memcpy(addr, v4, 4);
        family = AF_INET;
        prefix_len = 32;
    }
    buf[n++] = (unsigned char)k->kind;
    buf[n++] = (unsigned char)(family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0);
    memcpy(buf + n, addr, 16);
    n += 16;
    buf[n++] = (unsigned char)(family ? prefix_len : 0);
    buf[n++] = (unsigned char)(k->port >> 8);
    buf[n++] = (unsigned char)k->port;
    buf[n++] = (unsigned char)(k->proto + 1);
    buf[n++] = (unsigned char)(k->mode + 1);
    if (nlen > 255)
        nlen = 255;
    buf[n++] = (unsigned char)nlen;
    /* Host names are case-insensitive; one trailing dot is not part of the
     * name (the parser removed it already). */
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)k->name[i];
        buf[n++] = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
    }
    return hash128(buf, n);
}

struct tgt_set {
    struct kset set; /* of struct tgt_key; {0,0} = empty */
};

/* {0,0} marks an empty slot, so the one key equal to it moves next door. */
static struct tgt_key not_empty(struct tgt_key k)
{
    if (!k.hi && !k.lo)
        k.lo = 1;
    return k;
}

/* Keys are hashes already: the slot is the low bits of lo. */
static uint64_t key_slot(const void *key)
{
    struct tgt_key k;
    memcpy(&k, key, sizeof k);
    return k.lo;
}

struct tgt_set *tgt_set_new(size_t max_keys)
{
    struct tgt_set *s = calloc(1, sizeof *s);
    /* 70 % load: linear probing stays short (about 2 probes on a hit) */
    if (s)
        kset_init(&s->set, sizeof(struct tgt_key), key_slot, 1024, 70, max_keys);
    return s;
}

void tgt_set_free(struct tgt_set *s)
{
    if (!s)
        return;
    kset_free(&s->set);
    free(s);
}

int tgt_set_add(struct tgt_set *s, struct tgt_key k)
{
    k = not_empty(k);
    switch (kset_add(&s->set, &k)) {
    case KSET_FOUND: return 0;
    case KSET_ADDED: return 1;
    case KSET_FULL: break;
    }
    return -1;
}

bool tgt_set_has(const struct tgt_set *s, struct tgt_key k)
{
    if (!s)
        return false;
    k = not_empty(k);
    return kset_has(&s->set, &k);
}

size_t tgt_set_count(const struct tgt_set *s)
{
    return s ? s->set.n : 0;
}

size_t tgt_set_bytes(const struct tgt_set *s)
{
    return s ? kset_bytes(&s->set) : 0;
}
