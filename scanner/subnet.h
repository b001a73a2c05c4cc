/*
 * subnet.h - how many probes are in flight per /24 (IPv4) or /48 (IPv6).
 *
 * Mail servers answer 421 to bursts from one client, and a /24 is often
 * one provider's cluster: --per-subnet caps simultaneous connections per
 * subnet. The table is sized once for the pool (at most one entry per conn
 * in flight), open addressing with backward-shift deletion, so it never
 * grows and never fills with tombstones. With --threads every loop shares
 * one table, so the cap holds for the whole scan; a mutex guards it
 * (uncontended in a single loop: two lock pairs per probe).
 */
#ifndef MAILTLS_SUBNET_H
#define MAILTLS_SUBNET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../output/lib/kset.h"

struct subnet_table {
    pthread_mutex_t lock;
    struct kset counts; /* subnet key (uint64_t, never 0) -> probes in flight (uint32_t) */
};

int subnet_init(struct subnet_table *t, uint32_t max_in_flight);
void subnet_free(struct subnet_table *t);
/* The subnet of an address: nonzero key for AF_INET/AF_INET6. An IPv6
 * address embedding an IPv4 one (tgt_addr_embedded_v4) gets that IPv4
 * address's /24 key. */
uint64_t subnet_key(const struct sockaddr_storage *addr);
/* Counts one more probe in key's subnet if it has fewer than cap. */
bool subnet_acquire(struct subnet_table *t, uint64_t key, uint32_t cap);
void subnet_release(struct subnet_table *t, uint64_t key);

#endif
