/*
 * addr.h - address and CIDR helpers shared by the line parser, the
 * blocklist and the source. Pure functions on network-byte-order arrays;
 * nothing here resolves a name (inet_pton only).
 */
#ifndef MAILTLS_TGT_ADDR_H
#define MAILTLS_TGT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text form we accept for an address ("ffff:...:255.255.255.255"). */
#define TGT_ADDR_TEXT_MAX 64

/* Parses an IPv4 or IPv6 literal of exactly len bytes (no brackets, no
 * scope id). Returns the family (AF_INET/AF_INET6) or 0 if it is neither. */
int tgt_addr_parse(const char *s, size_t len, unsigned char addr[16]);

/* Parses "ADDR" or "ADDR/LEN". A bare address gets the full length (32 or
 * 128). Host bits below the prefix are cleared, not rejected. Returns 0, or
 * -1 with err saying why. */
int tgt_cidr_parse(const char *s, size_t len, int *family, unsigned char addr[16],
                   unsigned *prefix_len, char *err, size_t errlen);

/* Clears every bit after the first prefix_len bits. */
void tgt_addr_mask(int family, unsigned char addr[16], unsigned prefix_len);

/* out = base + offset, where offset counts host addresses (offset < 2^32,
 * so only the low 4 bytes can change for any prefix we expand). */
void tgt_addr_add(int family, const unsigned char base[16], uint32_t offset, unsigned char out[16]);

static inline size_t tgt_addr_len(int family) { return family == AF_INET ? 4 : 16; }

#endif
