/*
 * blocklist_default.c - the built-in blocklist: special-purpose ranges that
 * are private, reserved, documentation-only, multicast or otherwise not
 * globally reachable unicast. Sources: IANA IPv4 and IPv6 Special-Purpose
 * Address Registries (RFC 6890 and updates), the IPv4 and IPv6 multicast
 * registries. README-targets.md lists each entry and why.
 *
 * Loopback (127.0.0.0/8, ::1) is deliberately absent: probing yourself
 * harms nobody and every test runs against loopback.
 */
#include "blocklist.h"

#include <string.h>

static const char *const default_ranges[] = {
    /* IPv4 */
    "0.0.0.0/8",          /* "this network", RFC 791 */
    "10.0.0.0/8",         /* private, RFC 1918 */
    "100.64.0.0/10",      /* shared address space (CGN), RFC 6598 */
    "169.254.0.0/16",     /* link local, RFC 3927 */
    "172.16.0.0/12",      /* private, RFC 1918 */
    "192.0.0.0/24",       /* IETF protocol assignments, RFC 6890 */
    "192.0.2.0/24",       /* TEST-NET-1 documentation, RFC 5737 */
    "192.88.99.0/24",     /* deprecated 6to4 relay anycast, RFC 7526 */
    "192.168.0.0/16",     /* private, RFC 1918 */
    "198.18.0.0/15",      /* benchmarking, RFC 2544 */
    "198.51.100.0/24",    /* TEST-NET-2 documentation, RFC 5737 */
    "203.0.113.0/24",     /* TEST-NET-3 documentation, RFC 5737 */
    "224.0.0.0/4",        /* multicast, RFC 5771 */
    "240.0.0.0/4",        /* reserved, RFC 1112 */
    "255.255.255.255/32", /* limited broadcast, RFC 919 */
    /* IPv6 */
    "::/128",         /* unspecified, RFC 4291 */
    "::ffff:0:0/96",  /* IPv4-mapped: would reach IPv4 hosts around the IPv4 list */
    "64:ff9b::/96",   /* NAT64 well-known prefix, RFC 6052: same reason */
    "64:ff9b:1::/48", /* local-use NAT64, RFC 8215 */
    "100::/64",       /* discard-only, RFC 6666 */
    "2001::/23",      /* IETF protocol assignments (Teredo, ORCHID...), RFC 2928 */
    "2001:db8::/32",  /* documentation, RFC 3849 */
    "2002::/16",      /* 6to4, RFC 3056: embeds IPv4 addresses */
    "3fff::/20",      /* documentation, RFC 9637 */
    "5f00::/16",      /* SRv6 SIDs, RFC 9602 */
    "fc00::/7",       /* unique local, RFC 4193 */
    "fe80::/10",      /* link local, RFC 4291 */
    "fec0::/10",      /* deprecated site local, RFC 3879 */
    "ff00::/8",       /* multicast, RFC 4291 */
};

int tgt_bl_add_defaults(struct tgt_blocklist *bl)
{
    char err[128];

    for (size_t i = 0; i < sizeof default_ranges / sizeof default_ranges[0]; i++)
        if (tgt_bl_add_text(bl, default_ranges[i], strlen(default_ranges[i]), TGT_BL_BLOCK, err, sizeof err) <
            0)
            return -1;
    return 0;
}
