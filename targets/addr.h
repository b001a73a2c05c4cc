/*
 * addr.h - address and CIDR helpers shared by the line parser, the
 * blocklist and the source. Pure functions on network-byte-order arrays;
 * nothing here resolves a name (inet_pton only).
 */
#ifndef MAILTLS_TGT_ADDR_H
#define MAILTLS_TGT_ADDR_H

#include <netinet/in.h>
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
int tgt_cidr_parse(const char *s, size_t len, int *family, unsigned char addr[16], unsigned *prefix_len,
                   char *err, size_t errlen);

/* Clears every bit after the first prefix_len bits. */
void tgt_addr_mask(int family, unsigned char addr[16], unsigned prefix_len);

/* out = base + offset, where offset counts host addresses (offset < 2^32,
 * so only the low 4 bytes can change for any prefix we expand). */
void tgt_addr_add(int family, const unsigned char base[16], uint32_t offset, unsigned char out[16]);

/* The IPv4 address an IPv6 address carries inside it, for the forms that
 * deliver packets to that IPv4 host (or one a gateway picks from it):
 *   ::ffff:0:0/96   IPv4-mapped (RFC 4291): a dual-stack socket connects
 *                   to the IPv4 address itself           -> last 32 bits
 *   ::/96           IPv4-compatible (deprecated, RFC 4291), except :: and
 *                   ::1                                  -> last 32 bits
 *   2002::/16       6to4 (RFC 3056)                      -> bits 16..47
 *   64:ff9b::/96    NAT64 well-known prefix (RFC 6052)   -> last 32 bits
 * 64:ff9b:1::/48 (local-use NAT64, RFC 8215) is NOT decoded: its operator
 * picks a prefix length of /48 to /96, so where the IPv4 address sits is
 * not knowable from the address; the default blocklist blocks all of it.
 * Teredo (2001::/32) embeds an obfuscated client address, not the host's,
 * and is not decoded either.
 * Every blocklist/allowlist/per-subnet/dedup decision about an IPv6 address
 * uses this, so a blocked IPv4 host cannot be reached through its IPv6
 * spellings. v4 may be NULL. */
bool tgt_addr_v4_in_v6(const unsigned char a6[16], unsigned char v4[4]);
/* The same for a sockaddr: true only for AF_INET6 with an embedded IPv4
 * address (then *v4 holds it, network byte order). */
bool tgt_addr_embedded_v4(const struct sockaddr_storage *a, struct in_addr *v4);

static inline size_t tgt_addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

#endif
