/*
 * dedup.h - 128-bit target keys and a bounded set of them.
 *
 * tgt_key() is THE function that decides when two targets are the same:
 * the input dedup (source.c: "this line names a target already read") and
 * --resume ("this target has a final record", scanner/resume.c) both use
 * it, so the two can never disagree. It hashes a canonical form (kind,
 * family, address bytes, prefix length, port, protocol, mode, lower-case
 * name) to 128 bits; two different targets share a key with probability
 * about n^2 / 2^129 (1e-24 for 10M targets).
 *
 * struct tgt_set is an open-addressing (linear probing) table of keys:
 * 16 bytes per slot, grown by doubling at 70 % load, never beyond the
 * max_keys given at creation (then add says full and the caller stops
 * deduplicating). 10M keys take 2^24 slots = 256 MiB.
 */
#ifndef MAILTLS_TGT_DEDUP_H
#define MAILTLS_TGT_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tgt_key {
    uint64_t hi, lo;
};

enum tgt_key_kind {
    TGT_KEY_TARGET, /* an address, prefix or name, with port/protocol */
    TGT_KEY_DOMAIN, /* an --mx mail domain (name only) */
};

#define TGT_KEY_ANY_PROTO (-1) /* protocol/mode taken from the port */

struct tgt_keyspec {
    enum tgt_key_kind kind;
    int family;                /* AF_INET, AF_INET6, or 0 for a name */
    const unsigned char *addr; /* 4 or 16 bytes, network order (family != 0) */
    unsigned prefix_len;       /* 32/128 for one address */
    uint16_t port;             /* 0 = every --ports entry */
    int proto, mode;           /* enum mt_proto / mt_tls_mode, or TGT_KEY_ANY_PROTO */
    const char *name;          /* SNI name, host name or domain; may be NULL */
    size_t name_len;
};

struct tgt_key tgt_key(const struct tgt_keyspec *k);

struct tgt_set;

/* max_keys bounds the memory (16 bytes / 0.7 per key, rounded up to a
 * power of two). NULL on OOM. */
struct tgt_set *tgt_set_new(size_t max_keys);
void tgt_set_free(struct tgt_set *s);
/* 1 added, 0 already there, -1 full (max_keys reached) or out of memory. */
int tgt_set_add(struct tgt_set *s, struct tgt_key k);
bool tgt_set_has(const struct tgt_set *s, struct tgt_key k);
size_t tgt_set_count(const struct tgt_set *s);
size_t tgt_set_bytes(const struct tgt_set *s); /* slot memory now held */

#endif
