/*
 * addr.c - address literals and CIDR arithmetic (see addr.h).
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int tgt_addr_parse(const char *s, size_t len, unsigned char addr[16])
{
    char buf[TGT_ADDR_TEXT_MAX];

    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(addr, 0, 16);
    /* inet_pton never touches the network: it only reads the literal. */
    if (memchr(buf, ':', len)) {
        if (inet_pton(AF_INET6, buf, addr) == 1)
            return AF_INET6;
        return 0;
    }
    if (inet_pton(AF_INET, buf, addr) == 1)
        return AF_INET;
    return 0;
}

void tgt_addr_mask(int family, unsigned char addr[16], unsigned prefix_len)
{
    size_t bytes = tgt_addr_len(family);

    for (size_t i = 0; i < bytes; i++) {
        unsigned bit = (unsigned)i * 8;
        if (bit >= prefix_len)
            addr[i] = 0;
        else if (prefix_len - bit < 8)
            addr[i] &= (unsigned char)(0xffu << (8 - (prefix_len - bit)));
    }
    for (size_t i = bytes; i < 16; i++)
        addr[i] = 0;
}

void tgt_addr_add(int family, const unsigned char base[16], uint32_t offset, unsigned char out[16])
{
    size_t bytes = tgt_addr_len(family);
    unsigned carry = 0;

    memcpy(out, base, 16);
    /* Add from the last byte up; carries stop inside the host part because
     * the base has every host bit clear and offset < 2^host_bits. */
    for (size_t i = bytes; i-- > 0;) {
        unsigned sum = out[i] + (offset & 0xffu) + carry;
        out[i] = (unsigned char)sum;
        carry = sum >> 8;
        offset >>= 8;
        if (offset == 0 && carry == 0)
            break;
    }
}

/* Parses a decimal prefix length: digits only, at most 3 of them. */
static int parse_prefix_len(const char *s, size_t len, unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int tgt_cidr_parse(const char *s, size_t len, int *family, unsigned char addr[16], unsigned *prefix_len,
                   char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    unsigned plen;
    int fam;

    fam = tgt_addr_parse(s, alen, addr);
    if (fam == 0) {
        snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address", (int)(alen > 64 ? 64 : alen), s);
        return -1;
    }
    if (!slash) {
        plen = fam == AF_INET ? 32 : 128;
    } else {
        const char *p = slash + 1;
        size_t plen_len = len - alen - 1;
        if (parse_prefix_len(p, plen_len, &plen) < 0) {
            snprintf(err, errlen, "prefix length '%.*s' is not a number",
                     (int)(plen_len > 16 ? 16 : plen_len), p);
            return -1;
        }
        if (plen > (fam == AF_INET ? 32u : 128u)) {
            snprintf(err, errlen, "prefix length /%u is longer than %s allows", plen,
                     fam == AF_INET ? "IPv4 (32)" : "IPv6 (128)");
            return -1;
        }
    }
    /* Host bits below the prefix are accepted and cleared, like ZMap and
     * most routers do: "10.1.2.3/8" means 10.0.0.0/8. */
    tgt_addr_mask(fam, addr, plen);
    *family = fam;
    *prefix_len = plen;
    return 0;
}

bool tgt_addr_v4_in_v6(const unsigned char a6[16], unsigned char v4[4])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const unsigned char zero[12];
    const unsigned char *at = NULL;

    if (memcmp(a6, mapped, 12) == 0 || memcmp(a6, nat64, 12) == 0)
        at = a6 + 12;
    else if (memcmp(a6, zero, 12) == 0)
        /* IPv4-compatible; :: and ::1 are the IPv6 unspecified/loopback */
        at = (a6[12] | a6[13] | a6[14]) == 0 && a6[15] <= 1 ? NULL : a6 + 12;
    else if (a6[0] == 0x20 && a6[1] == 0x02)
        at = a6 + 2;
    if (!at)
        return false;
    if (v4)
        memcpy(v4, at, 4);
    return true;
}

bool tgt_addr_embedded_v4(const struct sockaddr_storage *a, struct in_addr *v4)
{
    unsigned char b[4];

    if (a->ss_family != AF_INET6 ||
        !tgt_addr_v4_in_v6(((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr, b))
        return false;
    if (v4)
        memcpy(&v4->s_addr, b, 4);
    return true;
}
