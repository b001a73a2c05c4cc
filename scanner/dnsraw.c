/* dnsraw.c - DNS queries with DO, bounded answer reader (see dnsraw.h). */
#include "dnsraw.h"

#include <string.h>

#define HDR_LEN 12
#define EDNS_UDP_SIZE 1232 /* the DNS flag day 2020 size: no IP fragments */

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Encodes a dotted name ("a.b" or "a.b.") as labels; -1 on an empty
 * label, a label over 63 bytes or a name over 255 bytes. */
static int put_name(unsigned char *out, size_t cap, const char *name)
{
    size_t o = 0, n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && name[j] != '.')
            j++;
        size_t l = j - i;
        if (l == 0 || l > 63 || o + 1 + l + 1 > cap || o + 1 + l + 1 > 255)
            return -1;
        out[o++] = (uint8_t)l;
        memcpy(out + o, name + i, l);
        o += l;
        i = j + 1;
        if (j < n && j + 1 == n)
            return -1; /* "a..": the loop's n already dropped one dot */
    }
    if (o + 1 > cap)
        return -1;
    out[o++] = 0;
    return (int)o;
}

int dnsraw_build(unsigned char *buf, size_t cap, const char *name, uint16_t type, bool cd)
{
    if (cap < HDR_LEN)
        return -1;
    memset(buf, 0, HDR_LEN);
    /* id 0: ares_send writes its own random id */
    buf[2] = 0x01;                              /* RD */
    buf[3] = (uint8_t)(0x20 | (cd ? 0x10 : 0)); /* AD: "tell me" (RFC 6840 5.7); CD */
    put16(buf + 4, 1);                          /* QDCOUNT */
    put16(buf + 10, 1);                         /* ARCOUNT: the OPT record */
    int nl = put_name(buf + HDR_LEN, cap - HDR_LEN, name);
    if (nl < 0)
        return -1;
    size_t o = HDR_LEN + (size_t)nl;
    if (o + 4 + 11 > cap)
        return -1;
    put16(buf + o, type);
    put16(buf + o + 2, 1); /* IN */
    o += 4;
    buf[o] = 0; /* OPT owner: the root */
    put16(buf + o + 1, DNSRAW_T_OPT);
    put16(buf + o + 3, EDNS_UDP_SIZE);
    buf[o + 5] = 0;             /* extended rcode */
    buf[o + 6] = 0;             /* EDNS version */
    put16(buf + o + 7, 0x8000); /* DO */
    put16(buf + o + 9, 0);      /* no options */
    return (int)(o + 11);
}

/* Offset just past the name at off (which may end in a pointer), or 0 when
 * the name runs past the message or is malformed. */
static size_t skip_name(const unsigned char *msg, size_t len, size_t off)
{
    size_t total = 0;
    while (off < len) {
        uint8_t l = msg[off];
        if ((l & 0xC0) == 0xC0)
            return off + 2 <= len ? off + 2 : 0;
        if (l & 0xC0)
            return 0; /* 0x40/0x80: extended label types, never valid here */
        if (l == 0)
            return off + 1;
        total += (size_t)l + 1;
        if (total > 255)
            return 0;
        off += (size_t)l + 1;
    }
    return 0;
}

int dnsraw_parse(const unsigned char *msg, size_t len, uint16_t type, struct dnsraw_header *h,
                 dnsraw_rr_fn fn, void *arg)
{
    memset(h, 0, sizeof *h);
    if (len < HDR_LEN)
        return -1;
    h->qr = (msg[2] & 0x80) != 0;
    h->tc = (msg[2] & 0x02) != 0;
    h->ad = (msg[3] & 0x20) != 0;
    h->cd = (msg[3] & 0x10) != 0;
    h->rcode = msg[3] & 0x0F;
    h->qdcount = get16(msg + 4);
    h->ancount = get16(msg + 6);
    size_t off = HDR_LEN;
    for (uint16_t i = 0; i < h->qdcount; i++) {
        off = skip_name(msg, len, off);
        if (!off || off + 4 > len)
            return -1;
        off += 4;
    }
    for (uint16_t i = 0; i < h->ancount; i++) {
        off = skip_name(msg, len, off);
        if (!off || off + 10 > len)
            return -1;
        uint16_t t = get16(msg + off), cls = get16(msg + off + 2), rdlen = get16(msg + off + 8);
        off += 10;
        if (rdlen > len - off)
            return -1;
        /* CNAMEs of the chain and the RRSIGs are skipped; the chain's end
         * carries the asked type */
        if (t == type && cls == 1) {
            h->matched++;
            if (fn)
                fn(arg, msg + off, rdlen);
        }
        off += rdlen;
    }
    return 0;
}

int dnsraw_tlsa(const unsigned char *rdata, uint16_t rdlen, struct dnsraw_tlsa *t)
{
    if (rdlen < 3)
        return -1;
    t->usage = rdata[0];
    t->selector = rdata[1];
    t->mtype = rdata[2];
    t->data_len = (uint16_t)(rdlen - 3);
    t->data = rdata + 3;
    return 0;
}

int dnsraw_txt(const unsigned char *rdata, uint16_t rdlen, char *out, size_t outcap)
{
    size_t o = 0, full = 0, off = 0;
    while (off < rdlen) {
        size_t l = rdata[off++];
        if (l > (size_t)rdlen - off)
            return -1;
        for (size_t k = 0; k < l; k++, full++) {
            if (outcap && o + 1 < outcap)
                out[o++] = rdata[off + k] ? (char)rdata[off + k] : '?';
        }
        off += l;
    }
    if (outcap)
        out[o] = 0;
    return (int)full;
}
