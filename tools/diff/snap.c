/* snap.c - a record reduced to what the diff compares; see snap.h. */
#include "snap.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../../output/lib/hash.h"
#include "../../output/reader.h"

/* Optional fields (issue 12 adds them): their id, or -1 while unknown. */
static int f_dane = -1, f_mta_sts = -1, f_breaks = -1, f_injection = -1;

void snap_init_fields(void)
{
    f_dane = reader_field("dane", 4);
    f_mta_sts = reader_field("mta_sts", 7);
    f_breaks = reader_field("policy_breaks_delivery", 22);
    f_injection = reader_field("starttls_injection", 18);
}

static void set_str(struct snap *s, enum snap_str i, const void *p, size_t n)
{
    if (n > SNAP_STR_MAX)
        n = SNAP_STR_MAX;
    memcpy(s->str[i], p, n);
    s->str[i][n] = '\0';
    s->len[i] = (uint8_t)n;
}

static void copy_text(struct snap *s, enum snap_str i, const struct record *r, int f)
{
    size_t n;
    if (f < 0 || !rec_has(r, (enum rec_field)f) || rec_fields[f].type != RT_TEXT)
        return;
    const unsigned char *t = rec_text(r, (enum rec_field)f, &n);
    /* server bytes never reach a terminal or a report raw; '?' keeps the length */
    char tmp[SNAP_STR_MAX];
    size_t k = n < sizeof tmp ? n : sizeof tmp;
    for (size_t j = 0; j < k; j++)
        tmp[j] = t[j] >= 0x20 && t[j] < 0x7f ? (char)t[j] : '?';
    set_str(s, i, tmp, k);
}

static uint8_t tri(const struct record *r, int f)
{
    if (f < 0 || !rec_has(r, (enum rec_field)f))
        return TRI_NULL;
    return rec_int(r, (enum rec_field)f) ? TRI_TRUE : TRI_FALSE;
}

/* The first line of the banner, printable, for showing what changed. */
static void banner(struct snap *s, const struct record *r)
{
    size_t n;
    if (!rec_has(r, F_BANNER))
        return;
    const unsigned char *t = rec_text(r, F_BANNER, &n);
    s->banner_hash = hash_fnv1a64(t, n) | 1;
    size_t k = 0;
    char tmp[80];
    while (k < n && k < sizeof tmp && t[k] != '\r' && t[k] != '\n') {
        tmp[k] = t[k] >= 0x20 && t[k] < 0x7f ? (char)t[k] : '?';
        k++;
    }
    set_str(s, STR_BANNER, tmp, k);
}

static void list_join(struct snap *s, enum snap_str i, const struct record *r, enum rec_field f)
{
    char tmp[SNAP_STR_MAX];
    size_t k = 0, n;
    uint16_t cur = 0;
    const unsigned char *it;
    if (!rec_has(r, f))
        return;
    while (rec_list_next(r, f, &cur, &it, &n)) {
        if (k && k < sizeof tmp)
            tmp[k++] = ',';
        for (size_t j = 0; j < n && k < sizeof tmp; j++)
            tmp[k++] = it[j] >= 0x20 && it[j] < 0x7f ? (char)it[j] : '?';
    }
    set_str(s, i, tmp, k);
}

static uint64_t list_hash(const struct record *r, enum rec_field f)
{
    uint64_t h = HASH_FNV64_INIT;
    uint16_t cur = 0;
    const unsigned char *it;
    size_t n;
    if (!rec_has(r, f))
        return 0;
    while (rec_list_next(r, f, &cur, &it, &n)) {
        h = (h ^ hash_fnv1a64(it, n)) * UINT64_C(1099511628211);
    }
    return h | 1;
}

static bool text_is(const struct record *r, enum rec_field f, const char *v)
{
    size_t n;
    const unsigned char *t = rec_text(r, f, &n);
    return rec_has(r, f) && n == strlen(v) && memcmp(t, v, n) == 0;
}

int snap_from(struct snap *s, const struct record *r)
{
    memset(s, 0, offsetof(struct snap, str));
    for (int i = 0; i < STR_COUNT; i++)
        s->str[i][0] = '\0';
    if (text_is(r, F_STATUS, "duplicate"))
        return -1;
    bool is_domain = !rec_has(r, F_PORT) && rec_has(r, F_DOMAIN);
    if (is_domain) {
        s->kind = SNAP_DOMAIN;
        copy_text(s, STR_KEY, r, F_DOMAIN);
        s->mx_hash = list_hash(r, F_MX);
    } else {
        s->kind = SNAP_PROBE;
        /* a name that did not resolve has no ip: its name is the key */
        copy_text(s, STR_KEY, r, rec_has(r, F_IP) ? F_IP : F_HOST);
        int64_t p = rec_int(r, F_PORT);
        s->port = p > 0 && p <= 65535 ? (uint16_t)p : 0;
    }
    if (s->len[STR_KEY] == 0)
        return -1;
    s->str[STR_KEY][s->len[STR_KEY]] = '\0';
    copy_text(s, STR_HOST, r, F_HOST);
    copy_text(s, STR_PROTOCOL, r, F_PROTOCOL);
    copy_text(s, STR_TLS_MODE, r, F_TLS_MODE);
    copy_text(s, STR_STATUS, r, F_STATUS);
    copy_text(s, STR_TLS_VERSION, r, F_TLS_VERSION);
    list_join(s, STR_TLS_VERSIONS, r, F_TLS_VERSIONS);
    copy_text(s, STR_GRADE, r, F_TLS_GRADE);
    copy_text(s, STR_CERT_SHA256, r, F_CERT_SHA256);
    copy_text(s, STR_VERIFY_ERROR, r, F_CERT_VERIFY_ERROR);
    copy_text(s, STR_AUTH_PROBE, r, F_AUTH_PROBE);
    copy_text(s, STR_DANE, r, f_dane);
    copy_text(s, STR_MTA_STS, r, f_mta_sts);
    banner(s, r);
    s->tri[TRI_STARTTLS_OFFERED] = tri(r, F_STARTTLS_OFFERED);
    s->tri[TRI_STARTTLS_OK] = tri(r, F_STARTTLS_OK);
    s->tri[TRI_PLAINTEXT_AUTH] = tri(r, F_PLAINTEXT_AUTH_BEFORE_TLS);
    s->tri[TRI_CERT_TRUSTED] = tri(r, F_CERT_TRUSTED);
    s->tri[TRI_HOSTNAME_MATCH] = tri(r, F_CERT_HOSTNAME_MATCH);
    s->tri[TRI_POLICY_BREAKS] = tri(r, f_breaks);
    s->tri[TRI_INJECTION] = tri(r, f_injection);
    if (rec_has(r, F_CERT_DAYS_LEFT)) {
        int64_t d = rec_int(r, F_CERT_DAYS_LEFT);
        s->has_days = true;
        s->days_left = d < -1000000 ? -1000000 : d > 1000000 ? 1000000 : (int32_t)d;
    }
    return 0;
}

static unsigned char *put(unsigned char *p, const void *v, size_t n)
{
    memcpy(p, v, n);
    return p + n;
}

size_t snap_pack(const struct snap *s, unsigned char *buf)
{
    unsigned char *p = buf + 2;
    *p++ = s->kind;
    p = put(p, &s->port, 2);
    *p++ = s->len[STR_KEY];
    p = put(p, s->str[STR_KEY], s->len[STR_KEY]);
    p = put(p, s->tri, TRI_COUNT);
    *p++ = s->has_days;
    p = put(p, &s->days_left, 4);
    p = put(p, &s->banner_hash, 8);
    p = put(p, &s->mx_hash, 8);
    for (int i = 1; i < STR_COUNT; i++) {
        *p++ = s->len[i];
        p = put(p, s->str[i], s->len[i]);
    }
    size_t n = (size_t)(p - buf);
    buf[0] = (unsigned char)(n & 0xff);
    buf[1] = (unsigned char)(n >> 8);
    return n;
}

int snap_unpack(struct snap *s, const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf + 2, *end = buf + len;
    if (len < 6)
        return -1;
    s->kind = *p++;
    memcpy(&s->port, p, 2);
    p += 2;
    for (int i = 0; i < STR_COUNT; i++) {
        if (p >= end)
            return -1;
        s->len[i] = *p++;
        if (s->len[i] > end - p)
            return -1;
        memcpy(s->str[i], p, s->len[i]);
        s->str[i][s->len[i]] = '\0';
        p += s->len[i];
        if (i == STR_KEY) { /* the fixed facts sit after the key */
            if (end - p < TRI_COUNT + 1 + 4 + 16)
                return -1;
            memcpy(s->tri, p, TRI_COUNT);
            p += TRI_COUNT;
            s->has_days = *p++ != 0;
            memcpy(&s->days_left, p, 4);
            memcpy(&s->banner_hash, p + 4, 8);
            memcpy(&s->mx_hash, p + 12, 8);
            p += 20;
        }
    }
    return p == end ? 0 : -1;
}

int snap_cmp_packed(const unsigned char *a, const unsigned char *b)
{
    if (a[2] != b[2])
        return a[2] < b[2] ? -1 : 1;
    size_t la = a[5], lb = b[5];
    int c = memcmp(a + 6, b + 6, la < lb ? la : lb);
    if (c || la != lb)
        return c ? c : la < lb ? -1 : 1;
    uint16_t pa, pb;
    memcpy(&pa, a + 3, 2);
    memcpy(&pb, b + 3, 2);
    return pa == pb ? 0 : pa < pb ? -1 : 1;
}

int snap_cmp(const struct snap *a, const struct snap *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    size_t la = a->len[STR_KEY], lb = b->len[STR_KEY];
    int c = memcmp(a->str[STR_KEY], b->str[STR_KEY], la < lb ? la : lb);
    if (c || la != lb)
        return c ? c : la < lb ? -1 : 1;
    return a->port == b->port ? 0 : a->port < b->port ? -1 : 1;
}

const char *snap_label(const struct snap *s, char *buf, size_t cap)
{
    if (s->kind == SNAP_DOMAIN)
        snprintf(buf, cap, "%s", s->str[STR_KEY]);
    else if (strchr(s->str[STR_KEY], ':'))
        snprintf(buf, cap, "[%s]:%u", s->str[STR_KEY], s->port);
    else
        snprintf(buf, cap, "%s:%u", s->str[STR_KEY], s->port);
    return buf;
}

bool snap_is_ok(const struct snap *s)
{
    return strcmp(s->str[STR_STATUS], "ok") == 0 || strcmp(s->str[STR_STATUS], "resolved") == 0;
}

bool snap_connected(const struct snap *s)
{
    static const char *const failed[] = {"refused",      "connect-timeout", "unreachable",    "connect-error",
                                         "blocklisted",  "interrupted",     "local-error",    "dns-nxdomain",
                                         "dns-servfail", "dns-timeout",     "dns-no-address", "dns-error"};
    if (s->len[STR_STATUS] == 0)
        return s->banner_hash != 0;
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++)
        if (strcmp(s->str[STR_STATUS], failed[i]) == 0)
            return false;
    return true;
}
