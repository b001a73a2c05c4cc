/*
 * blocklist.h - which addresses may be probed.
 *
 * A set of CIDR rules, each BLOCK or ALLOW, for IPv4 and IPv6. The answer
 * for an address comes from the longest prefix that contains it; at equal
 * length BLOCK wins. An address no rule covers is allowed, unless an
 * allowlist was loaded: then only what an ALLOW rule covers is probed.
 *
 * So an allowlist entry 10.1.0.0/16 opens that part of the default-blocked
 * 10.0.0.0/8 (scanning your own network), while an allowlist 0.0.0.0/0
 * leaves the more specific default blocks in force.
 *
 * Lookups use a flat sorted array of disjoint intervals built from the
 * rules (one binary search, no per-address state); it is rebuilt on the
 * first lookup after a change.
 */
#ifndef MAILTLS_TGT_BLOCKLIST_H
#define MAILTLS_TGT_BLOCKLIST_H

#include <stdbool.h>
#include <stddef.h>

enum tgt_bl_rule { TGT_BL_BLOCK, TGT_BL_ALLOW };

struct tgt_blocklist;

/* An empty set: everything allowed. NULL on OOM. */
struct tgt_blocklist *tgt_bl_new(void);
void tgt_bl_free(struct tgt_blocklist *bl);

/* addr in network byte order; bits after prefix_len are ignored. Adding an
 * ALLOW rule turns on allowlist mode. Returns 0, or -1 on OOM or a bad
 * family/length. */
int tgt_bl_add(struct tgt_blocklist *bl, int family, const unsigned char addr[16], unsigned prefix_len,
               enum tgt_bl_rule rule);
/* "10.0.0.0/8", "2001:db8::/32" or a bare address. Returns 0, or -1 with err. */
int tgt_bl_add_text(struct tgt_blocklist *bl, const char *s, size_t len, enum tgt_bl_rule rule, char *err,
                    size_t errlen);
/* The built-in list of IANA special-purpose ranges (blocklist_default.c). */
int tgt_bl_add_defaults(struct tgt_blocklist *bl);
/* A ZMap-format file: one CIDR or address per line, '#' starts a comment
 * (also after an entry), blank lines ignored. Loading an ALLOW file turns on
 * allowlist mode even when the file is empty (then nothing is probed).
 * Returns 0, or -1 with err = "path: strerror" or "path:line: reason". */
int tgt_bl_load_file(struct tgt_blocklist *bl, const char *path, enum tgt_bl_rule rule, char *err,
                     size_t errlen);

/* true if addr (AF_INET: 4 bytes, AF_INET6: 16) must not be probed.
 * An IPv6 address that embeds an IPv4 one (IPv4-mapped, IPv4-compatible,
 * 6to4, NAT64 64:ff9b::/96: tgt_addr_v4_in_v6) is judged as that IPv4
 * address, whatever the lists loaded; an IPv6 BLOCK rule covering the
 * IPv6 form blocks it as well, an IPv6 ALLOW rule alone does not open it.
 * Not const: it may rebuild the lookup table; a failed rebuild (OOM)
 * answers true, because failing closed sends nothing. */
bool tgt_bl_is_blocked(struct tgt_blocklist *bl, int family, const unsigned char *addr);
bool tgt_bl_has_allowlist(const struct tgt_blocklist *bl);

#endif
