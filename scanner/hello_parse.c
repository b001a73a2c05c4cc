/*
 * hello_parse.c - the server's answer to a raw ClientHello, read
 * incrementally (hello_parse.h). Three layers, each with its own bounded
 * counter: records (5-byte header, length <= 2^14 + 2048), handshake
 * messages spread over records (4-byte header, 24-bit length), and the
 * ServerHello body, collected whole (<= HP_MSG_CAP) and parsed with every
 * inner length checked against the bytes that enclose it. The Certificate
 * message, when hp_want_certs asked for it, is collected whole into a
 * buffer of its announced length (<= HP_CERT_MAX), allocated only then.
 */
#include "hello_parse.h"

#include <stdlib.h>
#include <string.h>

#include "iana_suites.h"

#define REC_MAX (16384 + 2048)
#define SKE_PREFIX 3 /* DHE: length of p and its first byte; ECDHE: curve type and name */

enum { ST_START, ST_HDR, ST_BODY, ST_SSL2_HDR, ST_SSL2_BODY };

/* SHA-256 of "HelloRetryRequest": the random of every HRR (RFC 8446 4.1.3) */
static const unsigned char hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

void hp_init(struct hello_parser *p, unsigned want)
{
    memset(p, 0, sizeof *p);
    p->want = want;
}

static void finish(struct hello_parser *p)
{
    p->done = true;
}

static void bad(struct hello_parser *p, const char *why)
{
    memset(&p->r, 0, sizeof p->r);
    p->r.kind = HP_BAD;
    p->r.why = why;
    p->done = true;
}

static unsigned get16(const uint8_t *b)
{
    return (unsigned)b[0] << 8 | b[1];
}

/* One extension of a ServerHello or HRR. */
static void hello_ext(struct hello_parser *p, unsigned type, const uint8_t *d, size_t n, bool hrr)
{
    switch (type) {
    case 0x002b: /* supported_versions: the selected version */
        if (n == 2)
            p->r.version = (uint16_t)get16(d);
        break;
    case 0x0033: /* key_share: HRR names a group; ServerHello a group and a key */
        if (n >= 2 && (hrr || n >= 4))
            p->r.group = (uint16_t)get16(d);
        break;
    case 0xff01: p->r.reneg_ext = true; break;
    case 0x000f: p->r.heartbeat_ext = true; break;
    default: break;
    }
}

static void parse_server_hello(struct hello_parser *p)
{
    const uint8_t *m = p->msg;
    size_t n = p->msg_len, at = 0;
    if (n < 2 + 32 + 1)
        return bad(p, "ServerHello too short");
    p->r.version = (uint16_t)get16(m);
    bool hrr = memcmp(m + 2, hrr_random, 32) == 0;
    at = 34;
    size_t sid = m[at++];
    if (sid > 32 || at + sid + 3 > n)
        return bad(p, "ServerHello session id");
    at += sid;
    p->r.suite = (uint16_t)get16(m + at);
    p->r.compression = m[at + 2];
    at += 3;
    if (at < n) {
        if (at + 2 > n)
            return bad(p, "ServerHello extensions length");
        size_t elen = get16(m + at);
        at += 2;
        if (at + elen != n)
            return bad(p, "ServerHello extensions length");
        while (at < n) {
            if (at + 4 > n)
                return bad(p, "ServerHello extension header");
            unsigned type = get16(m + at);
            size_t len = get16(m + at + 2);
            at += 4;
            if (at + len > n)
                return bad(p, "ServerHello extension length");
            hello_ext(p, type, m + at, len, hrr);
            at += len;
        }
    }
    p->r.kind = hrr ? HP_HRR : HP_SERVER_HELLO;
    const struct iana_suite *s = iana_suite_find(p->r.suite);
    bool tls12 = !hrr && p->r.version < 0x0304;
    p->ske_wanted = (p->want & HP_WANT_SKE) && tls12 && s && (s->flags & (KX_DHE | KX_ECDHE));
    /* the Certificate is in cleartext up to TLS 1.2 (SSLv3 included) */
    p->cert_wanted = tls12 && p->r.version >= 0x0300 && (p->cert_kinds & iana_suite_cert_kind(s));
    if (p->ske_wanted || p->cert_wanted)
        p->hello_done = true;
    else
        finish(p);
}

static void parse_ske(struct hello_parser *p)
{
    const uint8_t *m = p->msg;
    const struct iana_suite *s = iana_suite_find(p->r.suite);
    p->r.ske_seen = true;
    if (s && (s->flags & KX_DHE) && p->msg_len >= 3) {
        unsigned plen = get16(m);
        unsigned top = m[2], lead = 8;
        while (top) {
            top >>= 1;
            lead--;
        }
        /* bits of p: its bytes minus the leading zero bits of the first one */
        if (plen > 0 && plen <= 2048)
            p->r.dh_bits = (uint16_t)(plen * 8 - (m[2] ? lead : 8));
    } else if (s && (s->flags & KX_ECDHE) && p->msg_len >= 3 && m[0] == 3) {
        p->r.group = (uint16_t)get16(m + 1);
    }
    finish(p);
}

/* A whole handshake message (or its collected prefix) is in msg. */
static void handshake_message(struct hello_parser *p)
{
    if (!p->hello_done) {
        if (p->hs_type != 2)
            return bad(p, "first handshake message is not a ServerHello");
        parse_server_hello(p);
        return;
    }
    if (p->hs_type == 12) {
        parse_ske(p);
    } else if (p->hs_type == 11) {
        if (p->cert_on && p->cert_len == p->msg_total)
            p->r.cert_kind = (uint8_t)iana_suite_cert_kind(iana_suite_find(p->r.suite));
        p->cert_on = false;
        if (!p->ske_wanted)
            finish(p);
    } else {
        finish(p); /* certificate request, hello done...: no ServerKeyExchange */
    }
}

/* The header of a Certificate message the caller wants: its buffer. */
static void cert_start(struct hello_parser *p)
{
    if (!p->cert_wanted || p->cert || p->msg_total == 0 || p->msg_total > HP_CERT_MAX)
        return;
    p->cert = malloc(p->msg_total);
    p->cert_len = 0;
    p->cert_on = p->cert != NULL;
}

/* Handshake bytes of the current record. */
static size_t handshake_bytes(struct hello_parser *p, const unsigned char *d, size_t n)
{
    size_t used = 0;
    while (used < n && !p->done) {
        if (p->hs_len < 4) {
            p->hs[p->hs_len++] = d[used++];
            if (p->hs_len < 4)
                continue;
            p->hs_type = p->hs[0];
            p->msg_total = (uint32_t)p->hs[1] << 16 | (uint32_t)p->hs[2] << 8 | p->hs[3];
            p->msg_left = p->msg_total;
            p->msg_len = 0;
            if (!p->hello_done && p->msg_total > HP_MSG_CAP)
                return bad(p, "ServerHello too long"), used;
            if (p->hello_done && p->hs_type == 11)
                cert_start(p);
        }
        size_t keep = p->hello_done ? (p->hs_type == 12 ? SKE_PREFIX : 0) : HP_MSG_CAP;
        size_t take = n - used < p->msg_left ? n - used : p->msg_left;
        for (size_t i = 0; i < take && p->msg_len < keep; i++)
            p->msg[p->msg_len++] = d[used + i];
        if (p->cert_on) { /* take <= msg_left: never past the announced length */
            memcpy(p->cert + p->cert_len, d + used, take);
            p->cert_len += (uint32_t)take;
        }
        used += take;
        p->msg_left -= (uint32_t)take;
        bool prefix_full = p->hello_done && p->hs_type == 12 && p->msg_len >= SKE_PREFIX;
        if (p->msg_left == 0 || prefix_full) {
            handshake_message(p);
            p->hs_len = 0;
        }
    }
    return used;
}

static size_t alert_bytes(struct hello_parser *p, const unsigned char *d, size_t n)
{
    size_t used = 0;
    while (used < n && p->alert_len < 2)
        p->alert[p->alert_len++] = d[used++];
    if (p->alert_len == 2) {
        if (p->hello_done) { /* after the ServerHello: keep it, no ServerKeyExchange */
            finish(p);
            return used;
        }
        p->r.kind = HP_ALERT;
        p->r.alert_level = p->alert[0];
        p->r.alert_desc = p->alert[1];
        finish(p);
    }
    return used;
}

static size_t record_header(struct hello_parser *p, const unsigned char *d, size_t n)
{
    size_t used = 0;
    while (used < n && p->hdr_len < 5)
        p->hdr[p->hdr_len++] = d[used++];
    if (p->hdr_len < 5)
        return used;
    p->hdr_len = 0;
    p->rec_type = p->hdr[0];
    p->rec_left = get16(p->hdr + 3);
    if (p->hdr[1] != 3 || p->rec_left > REC_MAX)
        return bad(p, "not a TLS record"), used;
    if (p->rec_type != 21 && p->rec_type != 22) {
        if (p->hello_done)
            finish(p); /* change_cipher_spec or data: no ServerKeyExchange */
        else
            bad(p, "unexpected TLS record type");
        return used;
    }
    if (p->rec_type == 21 && p->hs_len > 0 && !p->hello_done)
        return bad(p, "alert inside a handshake message"), used;
    p->state = ST_BODY;
    return used;
}

static size_t ssl2_bytes(struct hello_parser *p, const unsigned char *d, size_t n)
{
    size_t used = 0;
    while (used < n && p->msg_len < 11 && p->rec_left > 0) {
        p->msg[p->msg_len++] = d[used++];
        p->rec_left--;
    }
    if (p->msg_len > 0 && p->msg[0] != 4) {
        p->r.kind = HP_SSL2; /* ERROR or anything else: SSLv2 spoken, nothing chosen */
        finish(p);
        return used;
    }
    if (p->msg_len == 11) {
        p->r.kind = HP_SSL2;
        p->r.version = (uint16_t)get16(p->msg + 3);
        p->r.ssl2_ciphers = (uint16_t)(get16(p->msg + 7) / 3);
        finish(p);
    } else if (p->rec_left == 0) {
        bad(p, "SSLv2 SERVER-HELLO too short");
    }
    return used;
}

bool hp_feed(struct hello_parser *p, const unsigned char *d, size_t n)
{
    if (p->done)
        return true;
    p->total += (uint32_t)(n < HP_TOTAL_MAX_BYTES ? n : HP_TOTAL_MAX_BYTES);
    while (n > 0 && !p->done) {
        size_t used = 0;
        switch (p->state) {
        case ST_START:
            if (d[0] == 21 || d[0] == 22)
                p->state = ST_HDR;
            else if (d[0] & 0x80)
                p->state = ST_SSL2_HDR;
            else
                bad(p, "not TLS");
            continue;
        case ST_SSL2_HDR:
            p->hdr[p->hdr_len++] = d[0];
            used = 1;
            if (p->hdr_len == 2) {
                p->rec_left = (uint32_t)(p->hdr[0] & 0x7f) << 8 | p->hdr[1];
                p->hdr_len = 0;
                p->state = ST_SSL2_BODY;
            }
            break;
        case ST_HDR: used = record_header(p, d, n); break;
        case ST_BODY: {
            size_t take = n < p->rec_left ? n : p->rec_left;
            used = p->rec_type == 21 ? alert_bytes(p, d, take) : handshake_bytes(p, d, take);
            p->rec_left -= (uint32_t)used;
            if (p->rec_left == 0)
                p->state = ST_HDR;
            break;
        }
        case ST_SSL2_BODY: used = ssl2_bytes(p, d, n); break;
        }
        if (p->hello_done && p->total >= HP_TOTAL_MAX_BYTES)
            finish(p);
        d += used;
        n -= used;
    }
    return p->done;
}

void hp_eof(struct hello_parser *p)
{
    if (!p->done && p->hello_done)
        finish(p);
}

void hp_want_certs(struct hello_parser *p, unsigned kinds)
{
    p->cert_kinds = (uint8_t)kinds;
}

void hp_release(struct hello_parser *p)
{
    free(p->cert);
    p->cert = NULL;
    p->cert_len = 0;
    p->cert_on = false;
}

static size_t get24(const uint8_t *b)
{
    return (size_t)b[0] << 16 | (size_t)b[1] << 8 | b[2];
}

bool hp_cert_next(const uint8_t *m, size_t n, size_t *at, const uint8_t **der, size_t *len)
{
    if (n < 3 || get24(m) != n - 3)
        return false; /* the list must fill the message exactly */
    size_t i = *at < 3 ? 3 : *at;
    if (i + 3 > n)
        return false;
    size_t l = get24(m + i);
    if (l == 0 || l > n - i - 3)
        return false;
    *der = m + i + 3;
    *len = l;
    *at = i + 3 + l;
    return true;
}
