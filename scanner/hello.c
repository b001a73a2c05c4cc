/*
 * hello.c - ClientHello builder (hello.h). Writes into the caller's
 * buffer through a small cursor that refuses to run past its end, so a
 * spec too large for cap yields 0, never a short record.
 */
#include "hello.h"

#include <string.h>

struct hb {
    unsigned char *p;
    size_t len, cap;
    bool bad;
};

static void put8(struct hb *b, unsigned v)
{
    if (b->len + 1 > b->cap) {
        b->bad = true;
        return;
    }
    b->p[b->len++] = (unsigned char)v;
}

static void put16(struct hb *b, unsigned v)
{
    put8(b, v >> 8 & 0xff);
    put8(b, v & 0xff);
}

static void put(struct hb *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->bad = true;
        return;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* Opens a length field of `bytes` (2 or 3); close_len fills it in. */
static size_t open_len(struct hb *b, int bytes)
{
    size_t at = b->len;
    for (int i = 0; i < bytes; i++)
        put8(b, 0);
    return at;
}

static void close_len(struct hb *b, size_t at, int bytes)
{
    if (b->bad)
        return;
    size_t n = b->len - at - (size_t)bytes;
    for (int i = bytes - 1; i >= 0; i--, n >>= 8)
        b->p[at + (size_t)i] = (unsigned char)(n & 0xff);
}

/* Signature schemes a server may sign with (TLS 1.2/1.3): the usual ones
 * first, then the legacy SHA-1, SHA-224 and MD5 pairs. */
static const uint16_t sig_algs[] = {
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x081a, 0x081b,
    0x081c, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602, 0x0203, 0x0201, 0x0202,
};

static void ext_sni(struct hb *b, const char *sni)
{
    size_t n = strlen(sni);
    if (n == 0 || n > 255)
        return;
    put16(b, 0x0000);
    put16(b, (unsigned)n + 5);
    put16(b, (unsigned)n + 3);
    put8(b, 0); /* host_name */
    put16(b, (unsigned)n);
    put(b, sni, n);
}

static void ext_list16(struct hb *b, unsigned type, const uint16_t *v, size_t n)
{
    put16(b, type);
    put16(b, (unsigned)(2 * n + 2));
    put16(b, (unsigned)(2 * n));
    for (size_t i = 0; i < n; i++)
        put16(b, v[i]);
}

static void extensions(struct hb *b, const struct hello_spec *s, const unsigned char random[32])
{
    size_t at = open_len(b, 2);
    if (s->sni)
        ext_sni(b, s->sni);
    if (s->n_groups) {
        ext_list16(b, 0x000a, s->groups, s->n_groups);
        put16(b, 0x000b); /* ec_point_formats: uncompressed and both compressed */
        put16(b, 4);
        put8(b, 3);
        put8(b, 0);
        put8(b, 1);
        put8(b, 2);
    }
    if (s->version >= HELLO_TLS12)
        ext_list16(b, 0x000d, sig_algs, sizeof sig_algs / sizeof sig_algs[0]);
    if (s->heartbeat) {
        put16(b, 0x000f);
        put16(b, 1);
        put8(b, 1); /* peer_allowed_to_send */
    }
    if (s->version < HELLO_TLS13) {
        put16(b, 0xff01); /* renegotiation_info, empty: a first handshake */
        put16(b, 1);
        put8(b, 0);
    } else {
        put16(b, 0x002b); /* supported_versions: 1.3 only */
        put16(b, 3);
        put8(b, 2);
        put16(b, HELLO_TLS13);
        put16(b, 0x002d); /* psk_key_exchange_modes: psk_dhe_ke (some servers want it) */
        put16(b, 2);
        put8(b, 1);
        put8(b, 1);
        put16(b, 0x0033); /* key_share */
        size_t ks = open_len(b, 2);
        size_t list = open_len(b, 2);
        if (s->key_share == 0x001d) {
            put16(b, 0x001d);
            put16(b, 32);
            put(b, random, 32);
        }
        close_len(b, list, 2);
        close_len(b, ks, 2);
    }
    close_len(b, at, 2);
}

size_t hello_build(const struct hello_spec *s, const unsigned char random[32], unsigned char *out, size_t cap)
{
    if (s->version < HELLO_SSL3 || s->version > HELLO_TLS13 || s->n_suites == 0 || s->n_suites > 512 ||
        s->n_groups > 128)
        return 0;
    struct hb b = {.p = out, .cap = cap};
    put8(&b, 0x16);
    put16(&b, s->version == HELLO_SSL3 ? HELLO_SSL3 : HELLO_TLS10);
    size_t rec = open_len(&b, 2);
    put8(&b, 1); /* client_hello */
    size_t hs = open_len(&b, 3);
    put16(&b, s->version == HELLO_TLS13 ? HELLO_TLS12 : s->version);
    put(&b, random, 32);
    if (s->version == HELLO_TLS13) { /* a session id, as middlebox-compatible clients send */
        put8(&b, 32);
        put(&b, random, 32);
    } else {
        put8(&b, 0);
    }
    size_t cs = open_len(&b, 2);
    for (size_t i = 0; i < s->n_suites; i++)
        put16(&b, s->suites[i]);
    if (s->version == HELLO_SSL3)
        put16(&b, HELLO_SCSV_RENEG); /* SSLv3 has no extensions: signal instead */
    if (s->fallback_scsv)
        put16(&b, HELLO_SCSV_FALLBACK);
    close_len(&b, cs, 2);
    if (s->deflate) {
        put8(&b, 2);
        put8(&b, 1);
        put8(&b, 0);
    } else {
        put8(&b, 1);
        put8(&b, 0);
    }
    if (s->version > HELLO_SSL3)
        extensions(&b, s, random);
    close_len(&b, hs, 3);
    close_len(&b, rec, 2);
    if (b.bad || b.len - 5 > 16384)
        return 0;
    return b.len;
}

/* The seven SSLv2 cipher kinds (RC4, RC2, IDEA, DES, 3DES and exports). */
static const unsigned char ssl2_kinds[] = {
    0x01, 0x00, 0x80, 0x02, 0x00, 0x80, 0x03, 0x00, 0x80, 0x04, 0x00,
    0x80, 0x05, 0x00, 0x80, 0x06, 0x00, 0x40, 0x07, 0x00, 0xc0,
};

size_t hello_build_ssl2(const unsigned char challenge[16], unsigned char *out, size_t cap)
{
    size_t body = 9 + sizeof ssl2_kinds + 16;
    if (cap < body + 2)
        return 0;
    struct hb b = {.p = out, .cap = cap};
    put16(&b, 0x8000 | (unsigned)body);
    put8(&b, 1);       /* CLIENT-HELLO */
    put16(&b, 0x0002); /* SSL 2.0 */
    put16(&b, sizeof ssl2_kinds);
    put16(&b, 0);  /* session id */
    put16(&b, 16); /* challenge */
    put(&b, ssl2_kinds, sizeof ssl2_kinds);
    put(&b, challenge, 16);
    return b.bad ? 0 : b.len;
}
