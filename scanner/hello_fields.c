/*
 * hello_fields.c - the record fields of a raw TLS enumeration (he_write in
 * hello_enum.h): versions, the suite objects, groups, the single facts,
 * the weak list and the grade. The rules are in scanner/TLS-ENUM.md.
 */
#include <stdio.h>
#include <string.h>

#include "hello_enum.h"
#include "iana_suites.h"

/* weak items, in output order */
enum {
    WK_SSL2 = 1 << 0,
    WK_SSL3 = 1 << 1,
    WK_TLS10 = 1 << 2,
    WK_TLS11 = 1 << 3,
    WK_NULL = 1 << 4,
    WK_ANON = 1 << 5,
    WK_EXPORT = 1 << 6,
    WK_RC4 = 1 << 7,
    WK_DES = 1 << 8,
    WK_3DES = 1 << 9,
    WK_MD5 = 1 << 10,
};
static const char *const weak_name[] = {"SSLv2",  "SSLv3", "TLSv1", "TLSv1.1", "NULL", "anonymous",
                                        "export", "RC4",   "DES",   "3DES",    "MD5"};

static uint32_t suite_weak(uint16_t code)
{
    const struct iana_suite *s = iana_suite_find(code);
    uint32_t w = 0;
    if (!s)
        return 0;
    if (s->flags & IS_NULL)
        w |= WK_NULL;
    if (s->flags & IS_ANON)
        w |= WK_ANON;
    if (s->flags & (IS_EXPORT | IS_RC2))
        w |= WK_EXPORT;
    if (s->flags & IS_RC4)
        w |= WK_RC4;
    if (s->flags & IS_DES)
        w |= WK_DES;
    if (s->flags & IS_3DES)
        w |= WK_3DES;
    if (s->flags & IS_MD5)
        w |= WK_MD5;
    return w;
}

static uint32_t weak_bits(const struct he_state *s)
{
    uint32_t w = 0;
    if (s->sslv2 == 1)
        w |= WK_SSL2;
    if (s->accepted & 1u)
        w |= WK_SSL3;
    if (s->accepted & 2u)
        w |= WK_TLS10;
    if (s->accepted & 4u)
        w |= WK_TLS11;
    for (int v = 0; v < HE_NVER; v++)
        for (size_t i = 0; i < s->n_found[v]; i++)
            w |= suite_weak(s->found[v][i]);
    return w;
}

/* Grade (TLS-ENUM.md): the worst rule that applies. */
static char grade(const struct he_state *s, uint32_t w, int dh)
{
    if (w & (WK_SSL2 | WK_NULL | WK_ANON | WK_EXPORT | WK_DES) || (dh && dh < 1024))
        return 'F';
    bool modern = s->accepted & (1u << 3 | 1u << 4);
    if (w & (WK_SSL3 | WK_RC4 | WK_3DES | WK_MD5) || (dh && dh < 2048) || !modern)
        return 'C';
    if (w & (WK_TLS10 | WK_TLS11))
        return 'B';
    return 'A';
}

/* {"TLSv1.2":["A","B"],...}: IANA names, or OpenSSL's where it has one.
 * Returns the length, or 0 when cap is too small (never a cut object). */
static size_t suites_json(const struct he_state *s, bool openssl, char *out, size_t cap)
{
    size_t used = 0;
    int n;
#define PUT(...)                                                                                             \
    do {                                                                                                     \
        n = snprintf(out + used, cap - used, __VA_ARGS__);                                                   \
        if (n < 0 || (size_t)n >= cap - used)                                                                \
            return 0;                                                                                        \
        used += (size_t)n;                                                                                   \
    } while (0)
    PUT("{");
    bool first_ver = true;
    for (int v = 0; v < HE_NVER; v++) {
        if (s->n_found[v] == 0)
            continue;
        PUT("%s\"%s\":[", first_ver ? "" : ",", he_ver_name[v]);
        first_ver = false;
        for (size_t i = 0; i < s->n_found[v]; i++) {
            const struct iana_suite *st = iana_suite_find(s->found[v][i]);
            const char *name = st ? (openssl && st->openssl ? st->openssl : st->name) : "unknown";
            PUT("%s\"%s\"", i ? "," : "", name);
        }
        PUT("]");
    }
    PUT("}");
#undef PUT
    return used;
}

static void set_tri(struct record *r, enum rec_field f, int8_t v)
{
    if (v >= 0)
        rec_set_bool(r, f, v == 1);
}

static void write_lists(struct he_state *s, struct record *r)
{
    char buf[16384];
    size_t n = suites_json(s, false, buf, sizeof buf);
    if (n)
        rec_set_text(r, F_TLS_CIPHERS, buf, n);
    else
        rec_mark_truncated(r, F_TLS_CIPHERS);
    n = suites_json(s, true, buf, sizeof buf);
    if (n)
        rec_set_text(r, F_TLS_CIPHERS_OPENSSL, buf, n);
    else
        rec_mark_truncated(r, F_TLS_CIPHERS_OPENSSL);
    for (int v = HE_NVER - 1; v >= 0; v--)
        if (s->server_order[v] >= 0) {
            rec_set_bool(r, F_TLS_SERVER_ORDER, s->server_order[v] == 1);
            break;
        }
    rec_list_init(r, F_TLS_GROUPS);
    bool pq = false;
    for (size_t i = 0; i < s->n_groups; i++) {
        const struct iana_group *g = iana_group_find(s->groups[i]);
        char unk[16];
        snprintf(unk, sizeof unk, "0x%04x", s->groups[i]);
        const char *name = g ? g->name : unk;
        rec_list_add(r, F_TLS_GROUPS, name, strlen(name));
        pq |= g && g->pq_hybrid;
    }
    rec_set_bool(r, F_TLS_PQ_HYBRID, pq);
}

void he_write(struct he_state *s, struct record *r)
{
    rec_list_init(r, F_TLS_VERSIONS_TESTED);
    rec_list_init(r, F_TLS_VERSIONS);
    for (int v = 1; v < HE_NVER; v++) { /* TLS only: SSLv2/SSLv3 have their own fields */
        if (s->tested >> v & 1u)
            rec_list_add(r, F_TLS_VERSIONS_TESTED, he_ver_name[v], strlen(he_ver_name[v]));
        if (s->accepted >> v & 1u)
            rec_list_add(r, F_TLS_VERSIONS, he_ver_name[v], strlen(he_ver_name[v]));
    }
    set_tri(r, F_SSLV2, s->sslv2);
    if (s->tested & 1u)
        rec_set_bool(r, F_SSLV3, s->accepted & 1u);
    if (s->ciphers)
        write_lists(s, r);
    set_tri(r, F_TLS_FALLBACK_SCSV, s->fallback);
    set_tri(r, F_TLS_SECURE_RENEGOTIATION, s->reneg);
    set_tri(r, F_TLS_COMPRESSION, s->compression);
    set_tri(r, F_TLS_HEARTBEAT, s->heartbeat);
    int dh = s->dh_bits;
    /* the main probe's own DHE group counts too */
    size_t glen;
    const unsigned char *g = rec_has(r, F_TLS_GROUP) ? rec_text(r, F_TLS_GROUP, &glen) : NULL;
    char gbuf[32];
    int bits;
    if (g && glen < sizeof gbuf) {
        memcpy(gbuf, g, glen);
        gbuf[glen] = 0;
        if (sscanf(gbuf, "DHE-%d", &bits) == 1 && bits > 0 && (dh == 0 || bits < dh))
            dh = bits;
    }
    if (dh)
        rec_set_int(r, F_TLS_DH_BITS, dh);
    uint32_t w = weak_bits(s);
    rec_list_init(r, F_TLS_WEAK);
    for (size_t i = 0; i < sizeof weak_name / sizeof weak_name[0]; i++)
        if (w >> i & 1u)
            rec_list_add(r, F_TLS_WEAK, weak_name[i], strlen(weak_name[i]));
    if (dh && dh < 2048) {
        char buf[24];
        int n = snprintf(buf, sizeof buf, "DH-%d", dh);
        rec_list_add(r, F_TLS_WEAK, buf, (size_t)n);
    }
    bool complete = s->complete && s->sslv2 >= 0 && s->tested == (1u << HE_NVER) - 1;
    if (s->ciphers && complete) {
        char gr = grade(s, w, dh);
        rec_set_text(r, F_TLS_GRADE, &gr, 1);
    }
}
