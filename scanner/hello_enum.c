/*
 * hello_enum.c - the raw enumeration's method (hello_enum.h): which
 * ClientHello each step sends and what each answer teaches. The record
 * fields are written by hello_fields.c.
 */
#include "hello_enum.h"

#include <stdio.h>
#include <string.h>

#include "hello.h"
#include "iana_suites.h"

const char *const he_ver_name[HE_NVER] = {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
static const uint16_t ver_code[HE_NVER] = {HELLO_SSL3, HELLO_TLS10, HELLO_TLS11, HELLO_TLS12, HELLO_TLS13};

/* Candidates: codes, most likely first (so that a typical server's suites
 * fall in the first chunks), and the groups offered. */
static uint16_t cand12[512], cand13[32], cand3[512];
static size_t n_cand12, n_cand13, n_cand3;
static uint16_t groups12[64], groups13[64], curves12[64];
static size_t n_groups12, n_groups13, n_curves12;

/* 0: usual suites; 1: static DH/ECDH, export, NULL, anon; 2: needing a
 * shared secret (PSK, SRP, KRB5, ECCPWD). */
static int tier(const struct iana_suite *s)
{
    if (s->flags & NEEDS_CREDS)
        return 2;
    if ((s->flags & (IS_EXPORT | IS_NULL | IS_ANON)) || strstr(s->name, "_DH_DSS_") ||
        strstr(s->name, "_DH_RSA_") || strstr(s->name, "_ECDH_ECDSA_") || strstr(s->name, "_ECDH_RSA_") ||
        strstr(s->name, "GOST"))
        return 1;
    return 0;
}

/* A suite SSLv3 can negotiate: no SHA-2 MAC, no AEAD. */
static bool ssl3_able(const struct iana_suite *s)
{
    size_t n = strlen(s->name);
    return !strstr(s->name, "GCM") && !strstr(s->name, "CCM") && !strstr(s->name, "CHACHA20") &&
           !(n > 6 && (strcmp(s->name + n - 6, "SHA256") == 0 || strcmp(s->name + n - 6, "SHA384") == 0));
}

void he_init_tables(void)
{
    if (n_cand12)
        return;
    for (int t = 0; t < 3; t++)
        for (size_t i = iana_suites_n; i-- > 0;) { /* newest codepoints first */
            const struct iana_suite *s = &iana_suites[i];
            if (!(s->flags & IS_TLS13) && tier(s) == t && n_cand12 < 512)
                cand12[n_cand12++] = s->code;
            if (!(s->flags & IS_TLS13) && tier(s) == t && ssl3_able(s) && n_cand3 < 512)
                cand3[n_cand3++] = s->code;
        }
    static const uint16_t first13[] = {0x1302, 0x1303, 0x1301, 0x1304, 0x1305};
    for (size_t i = 0; i < 5; i++)
        cand13[n_cand13++] = first13[i];
    for (size_t i = 0; i < iana_suites_n; i++)
        if ((iana_suites[i].flags & IS_TLS13) && iana_suites[i].code >> 8 != 0x13 && n_cand13 < 32)
            cand13[n_cand13++] = iana_suites[i].code;
    /* usual groups first: some servers only look at the first few */
    static const uint16_t usual[] = {0x001d, 0x0017, 0x0018, 0x0019, 0x001e};
    for (size_t i = 0; i < 5; i++)
        groups12[n_groups12++] = groups13[n_groups13++] = curves12[n_curves12++] = usual[i];
    for (size_t i = 0; i < iana_groups_n; i++) {
        const struct iana_group *g = &iana_groups[i];
        if (g->code == 0x001d || (g->code >= 0x0017 && g->code <= 0x0019) || g->code == 0x001e)
            continue;
        if (!g->legacy && n_groups13 < 64)
            groups13[n_groups13++] = g->code;
        if (!g->pq_hybrid && n_groups12 < 64)
            groups12[n_groups12++] = g->code;
        if (g->code < 0x0100 && !g->pq_hybrid && n_curves12 < 64)
            curves12[n_curves12++] = g->code;
    }
}

void he_release(struct he_state *s)
{
    hp_release(&s->hp);
}

void he_start(struct he_state *s, bool ciphers, int main_ver)
{
    he_release(s);
    memset(s, 0, sizeof *s);
    s->ciphers = ciphers;
    s->main_ver = (int8_t)main_ver;
    s->sslv2 = s->fallback = s->reneg = s->compression = s->heartbeat = -1;
    memset(s->server_order, -1, sizeof s->server_order);
    s->complete = true;
    s->step = HE_SSL2;
    if (main_ver >= 0)
        s->tested = s->accepted = (uint8_t)(1u << main_ver);
}

static void note(struct he_state *s, struct record *r, const char *what, const char *why)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "%s: %s", what, why);
    rec_list_add(r, F_TLS_ENUM_INCOMPLETE, buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : strlen(buf));
    s->complete = false;
}

static bool has(const uint16_t *v, size_t n, uint16_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static const uint16_t *cands(int v, size_t *n)
{
    *n = v == HE_V13 ? n_cand13 : v == 0 ? n_cand3 : n_cand12;
    return v == HE_V13 ? cand13 : v == 0 ? cand3 : cand12;
}

/* The chunk's suites not found yet, into s->offer. */
static size_t chunk_offer(struct he_state *s)
{
    size_t n;
    const uint16_t *c = cands(s->ver, &n);
    s->n_offer = 0;
    for (size_t i = (size_t)s->chunk * HE_CHUNK; i < n && i < ((size_t)s->chunk + 1) * HE_CHUNK; i++)
        if (!has(s->found[s->ver], s->n_found[s->ver], c[i]))
            s->offer[s->n_offer++] = c[i];
    return s->n_offer;
}

static int n_versions(const struct he_state *s)
{
    return __builtin_popcount(s->accepted);
}

static void version_done(struct he_state *s, bool tested)
{
    if (tested)
        s->tested |= (uint8_t)(1u << s->ver);
    s->ver++;
    s->chunk = 0;
}

static int ecdhe_found12(const struct he_state *s, uint16_t *out)
{
    int n = 0;
    for (size_t i = 0; i < s->n_found[3]; i++) {
        const struct iana_suite *st = iana_suite_find(s->found[3][i]);
        if (st && (st->flags & KX_ECDHE) && n < HE_MAX_OFFER)
            out[n++] = s->found[3][i];
    }
    return n;
}

/* Groups still to offer: the list minus those found. */
static void groups_offer(struct he_state *s, const uint16_t *list, size_t n)
{
    s->n_offer = 0;
    for (size_t i = 0; i < n && s->n_offer < HE_MAX_OFFER; i++)
        if (!has(s->groups, s->n_groups, list[i]))
            s->offer[s->n_offer++] = list[i];
}

static void suites_done(struct he_state *s, struct record *r, bool tested);

bool he_next(struct he_state *s, struct record *r)
{
    for (;;) {
        switch ((enum he_step)s->step) {
        case HE_SSL2: return true;
        case HE_SUITES: {
            if (s->ver >= HE_NVER) {
                s->step = s->ciphers ? HE_ORDER_REV : HE_FALLBACK;
                s->ver = 0;
                continue;
            }
            if (!s->ciphers && ((s->accepted >> s->ver & 1u) || s->n_found[s->ver] > 0)) {
                version_done(s, true);
                continue;
            }
            size_t n;
            cands(s->ver, &n);
            while ((size_t)s->chunk * HE_CHUNK < n && chunk_offer(s) == 0)
                s->chunk++;
            if ((size_t)s->chunk * HE_CHUNK >= n || s->n_found[s->ver] >= HE_MAX_FOUND) {
                if (s->n_found[s->ver] >= HE_MAX_FOUND)
                    note(s, r, he_ver_name[s->ver], "more suites than kept");
                suites_done(s, r, true);
                continue;
            }
            return true;
        }
        case HE_ORDER_REV:
            if (s->ver >= HE_NVER) {
                s->step = HE_GROUPS13;
                continue;
            }
            if (s->n_found[s->ver] < 2) {
                s->ver++;
                continue;
            }
            return true;
        case HE_ORDER_FWD:
        case HE_ORDER_RANK: return true;
        case HE_GROUPS13:
            groups_offer(s, groups13, n_groups13);
            if (!(s->accepted >> HE_V13 & 1u) || s->n_found[HE_V13] == 0 || s->n_offer == 0) {
                s->step = HE_GROUPS12;
                continue;
            }
            return true;
        case HE_GROUPS12: {
            uint16_t tmp[HE_MAX_OFFER];
            groups_offer(s, curves12, n_curves12);
            if (ecdhe_found12(s, tmp) == 0 || s->n_offer == 0) {
                s->step = HE_FALLBACK;
                continue;
            }
            return true;
        }
        case HE_FALLBACK:
            if (n_versions(s) < 2) {
                s->step = HE_DONE;
                continue;
            }
            return true;
        case HE_DONE: return false;
        }
    }
}

/* The second-highest accepted TLS version (the one a fallback would try). */
static int fallback_version(const struct he_state *s)
{
    int seen = 0;
    for (int v = HE_NVER - 1; v >= 0; v--)
        if ((s->accepted >> v & 1u) && ++seen == 2)
            return v;
    return -1;
}

size_t he_hello(struct he_state *s, const char *sni, const unsigned char random[32], unsigned char *out,
                size_t cap)
{
    struct hello_spec h = {.sni = sni, .heartbeat = true, .deflate = true};
    unsigned want = HP_WANT_SKE;
    uint16_t suites[HE_MAX_OFFER];
    size_t n_suites = 0;
    int v = s->ver;
    s->hello_sent = true;
    he_release(s);
    switch ((enum he_step)s->step) {
    case HE_SSL2: hp_init(&s->hp, 0); return hello_build_ssl2(random, out, cap);
    case HE_SUITES: chunk_offer(s); break;
    case HE_ORDER_REV:
    case HE_ORDER_FWD:
    case HE_ORDER_RANK:
        s->n_offer = 0;
        if (s->step == HE_ORDER_REV && s->loser[v])
            s->offer[s->n_offer++] = s->loser[v];
        for (size_t i = 0; i < s->n_found[v]; i++) {
            size_t k = s->step == HE_ORDER_REV ? s->n_found[v] - 1 - i : i;
            uint16_t c = s->found[v][k];
            if (s->step == HE_ORDER_REV ? c != s->loser[v] : !has(s->ranked, s->n_ranked, c))
                s->offer[s->n_offer++] = c;
        }
        break;
    case HE_GROUPS13:
        v = HE_V13;
        groups_offer(s, groups13, n_groups13);
        memcpy(suites, s->found[HE_V13], s->n_found[HE_V13] * sizeof suites[0]);
        n_suites = s->n_found[HE_V13];
        break;
    case HE_GROUPS12:
        v = 3;
        groups_offer(s, curves12, n_curves12);
        n_suites = (size_t)ecdhe_found12(s, suites);
        break;
    case HE_FALLBACK:
        v = fallback_version(s);
        if (v < 0)
            return 0;
        h.fallback_scsv = true;
        if (s->n_found[v]) {
            memcpy(suites, s->found[v], s->n_found[v] * sizeof suites[0]);
            n_suites = s->n_found[v];
        } else { /* versions only, main probe's version: its first chunk */
            size_t n;
            const uint16_t *c = cands(v, &n);
            n_suites = n < HE_CHUNK ? n : HE_CHUNK;
            memcpy(suites, c, n_suites * sizeof suites[0]);
        }
        break;
    case HE_DONE: return 0;
    }
    if (s->step == HE_GROUPS13 || s->step == HE_GROUPS12) {
        h.groups = s->offer;
        h.n_groups = s->n_offer;
        h.suites = suites;
        h.n_suites = n_suites;
    } else {
        if (s->step != HE_FALLBACK) {
            h.suites = s->offer;
            h.n_suites = s->n_offer;
        } else {
            h.suites = suites;
            h.n_suites = n_suites;
        }
        h.groups = v == HE_V13 ? groups13 : groups12;
        h.n_groups = v == 0 ? 0 : v == HE_V13 ? n_groups13 : n_groups12;
    }
    h.version = ver_code[v];
    if (v == HE_V13) {
        h.deflate = false; /* TLS 1.3 forbids anything but null */
        want = 0;
    }
    hp_init(&s->hp, want);
    if (v != HE_V13)
        hp_want_certs(&s->hp, s->cert_kinds);
    return hello_build(&h, random, out, cap);
}

bool he_bytes(struct he_state *s, const unsigned char *d, size_t n, bool eof)
{
    if (eof) {
        hp_eof(&s->hp);
        return s->hp.r.kind != HP_NONE;
    }
    return hp_feed(&s->hp, d, n);
}

/* What every ServerHello of TLS <= 1.2 shows besides the suite. */
static void learn(struct he_state *s, const struct hello_result *a)
{
    if (a->kind != HP_SERVER_HELLO || a->version < HELLO_SSL3 || a->version > HELLO_TLS12)
        return;
    if (s->reneg < 1)
        s->reneg = a->reneg_ext;
    if (s->compression < 1)
        s->compression = a->compression != 0;
    if (s->heartbeat < 1)
        s->heartbeat = a->heartbeat_ext;
    if (a->dh_bits && (!s->dh_bits || a->dh_bits < s->dh_bits))
        s->dh_bits = a->dh_bits;
}

static bool chose_offered(const struct he_state *s, const struct hello_result *a, int v)
{
    return (a->kind == HP_SERVER_HELLO || a->kind == HP_HRR) && a->version == ver_code[v] &&
           has(s->offer, s->n_offer, a->suite);
}

static void suites_done(struct he_state *s, struct record *r, bool tested)
{
    if (tested && s->ciphers && s->main_ver == s->ver && s->n_found[s->ver] == 0)
        note(s, r, he_ver_name[s->ver], s->last_close ? "closed" : "refused by alert");
    version_done(s, tested);
}

static bool answer_suites(struct he_state *s, struct record *r, const struct hello_result *a)
{
    int v = s->ver;
    if (a->kind == HP_SERVER_HELLO || a->kind == HP_HRR) {
        if (a->version != ver_code[v]) { /* the server went to another version: not this one */
            if (s->n_found[v] > 0)
                note(s, r, he_ver_name[v], "server changed version");
            suites_done(s, r, s->n_found[v] == 0);
            return true;
        }
        s->accepted |= (uint8_t)(1u << v);
        if (!has(s->offer, s->n_offer, a->suite)) {
            note(s, r, he_ver_name[v], "server chose a suite not offered");
            version_done(s, false);
            return true;
        }
        if (s->n_found[v] == 0)
            s->first_chunk[v] = s->chunk;
        else if (s->chunk != s->first_chunk[v])
            s->multi_chunk[v] = true;
        /* offered when the previous suite was picked: the server passed it over */
        if (s->n_found[v] > 0 && s->chunk == s->last_chunk[v] && !s->loser[v])
            s->loser[v] = a->suite;
        s->last_chunk[v] = s->chunk;
        s->found[v][s->n_found[v]++] = a->suite;
        if (!s->ciphers)
            version_done(s, true);
        return true;
    }
    if (a->kind == HP_ALERT) {
        s->last_close = false;
        /* protocol_version: not this version at all. SSLv3: servers
         * without it often say handshake_failure instead; the first chunk
         * holds every usual SSLv3 suite, so a refusal there ends it */
        if (a->alert_desc == 70 || (v == 0 && s->chunk == 0 && s->n_found[0] == 0))
            suites_done(s, r, true);
        else /* handshake_failure and the like: nothing in this chunk */
            s->chunk++;
        return true;
    }
    if (v == 0) { /* an SSLv3 hello answered with something else: no SSLv3 */
        version_done(s, true);
        return true;
    }
    return false;
}

static void next_order_version(struct he_state *s)
{
    s->ver++;
    s->n_ranked = 0;
    s->step = HE_ORDER_REV;
}

/* The ranked list is complete but for one suite: append it, replace found. */
static void finish_rank(struct he_state *s)
{
    int v = s->ver;
    for (size_t i = 0; i < s->n_found[v] && s->n_ranked < s->n_found[v]; i++)
        if (!has(s->ranked, s->n_ranked, s->found[v][i]))
            s->ranked[s->n_ranked++] = s->found[v][i];
    memcpy(s->found[v], s->ranked, s->n_ranked * sizeof s->ranked[0]);
    next_order_version(s);
}

/* The discovery chunk a candidate suite of version v was offered in. */
static int cand_chunk(int v, uint16_t code)
{
    size_t n;
    const uint16_t *c = cands(v, &n);
    for (size_t i = 0; i < n; i++)
        if (c[i] == code)
            return (int)(i / HE_CHUNK);
    return -1;
}

/* Every suite not ranked yet was found in one chunk: within a chunk the
 * discovery order is the server's (each pick its best of what was left),
 * so no connection is needed to rank them. */
static bool rest_in_one_chunk(const struct he_state *s)
{
    int v = s->ver, chunk = -2;
    for (size_t i = 0; i < s->n_found[v]; i++) {
        if (has(s->ranked, s->n_ranked, s->found[v][i]))
            continue;
        int c = cand_chunk(v, s->found[v][i]);
        if (chunk != -2 && c != chunk)
            return false;
        chunk = c;
    }
    return true;
}

static void start_rank(struct he_state *s, uint16_t top)
{
    int v = s->ver;
    s->server_order[v] = 1;
    s->ranked[0] = top;
    s->n_ranked = 1;
    /* found in one chunk: each pick was the server's best of what was left */
    if (!s->multi_chunk[v] && top == s->found[v][0])
        next_order_version(s);
    else if (rest_in_one_chunk(s))
        finish_rank(s);
    else
        s->step = HE_ORDER_RANK;
}

static bool answer_order(struct he_state *s, struct record *r, const struct hello_result *a)
{
    int v = s->ver;
    if (!chose_offered(s, a, v)) {
        if (a->kind == HP_BAD)
            return false;
        char what[32];
        snprintf(what, sizeof what, "%s order", he_ver_name[v]);
        note(s, r, what, a->kind == HP_ALERT ? "offer of accepted suites refused" : "unexpected answer");
        next_order_version(s);
        return true;
    }
    uint16_t p = a->suite;
    if (s->step == HE_ORDER_REV && s->loser[v]) {
        if (p == s->loser[v]) { /* under server order the loser is never chosen first */
            s->server_order[v] = 0;
            next_order_version(s);
        } else {
            start_rank(s, p);
        }
    } else if (s->step == HE_ORDER_REV) {
        if (p == s->offer[0]) /* the first offered: either rule explains it */
            s->step = HE_ORDER_FWD;
        else
            start_rank(s, p);
    } else if (s->step == HE_ORDER_FWD) {
        if (p == s->offer[0]) { /* the first offered both times: the client's order rules */
            s->server_order[v] = 0;
            next_order_version(s);
        } else {
            start_rank(s, p);
        }
    } else {
        s->ranked[s->n_ranked++] = p;
        if (s->n_ranked + 1u >= s->n_found[v] || rest_in_one_chunk(s))
            finish_rank(s);
    }
    return true;
}

static bool answer_groups(struct he_state *s, struct record *r, const struct hello_result *a)
{
    bool t13 = s->step == HE_GROUPS13;
    enum he_step next = t13 ? HE_GROUPS12 : HE_FALLBACK;
    bool chose =
        (a->kind == HP_HRR || a->kind == HP_SERVER_HELLO) && a->group && has(s->offer, s->n_offer, a->group);
    if (chose && s->n_groups < HE_MAX_GROUPS) {
        s->groups[s->n_groups++] = a->group;
        return true;
    }
    if (a->kind == HP_BAD)
        return false;
    if (a->kind != HP_ALERT && !(a->kind == HP_SERVER_HELLO && !t13 && a->group == 0))
        note(s, r, "groups", "unexpected answer");
    s->step = next;
    return true;
}

bool he_answer(struct he_state *s, struct record *r)
{
    const struct hello_result *a = &s->hp.r;
    bool ok = true;
    learn(s, a);
    switch ((enum he_step)s->step) {
    case HE_SSL2:
        s->sslv2 = a->kind == HP_SSL2 && a->ssl2_ciphers > 0;
        s->step = HE_SUITES;
        s->ver = s->chunk = 0;
        break;
    case HE_SUITES: ok = answer_suites(s, r, a); break;
    case HE_ORDER_REV:
    case HE_ORDER_FWD:
    case HE_ORDER_RANK: ok = answer_order(s, r, a); break;
    case HE_GROUPS13:
    case HE_GROUPS12: ok = answer_groups(s, r, a); break;
    case HE_FALLBACK:
        if (a->kind == HP_BAD)
            return false;
        if (a->kind == HP_ALERT && a->alert_desc == 86)
            s->fallback = 1;
        else if (a->kind == HP_SERVER_HELLO)
            s->fallback = 0;
        else
            note(s, r, "fallback", "refused without inappropriate_fallback");
        s->step = HE_DONE;
        break;
    case HE_DONE: break;
    }
    if (ok) {
        s->attempt = 0;
        s->hello_sent = false;
    }
    return ok;
}

bool he_no_answer(struct he_state *s, struct record *r, enum rec_status status)
{
    /* a hang-up right after the ClientHello is how some servers refuse
     * (and how many treat an SSLv2 or SSLv3 hello): a reset counts only
     * for those two; anything else proves nothing */
    bool legacy = s->step == HE_SSL2 || (s->step == HE_SUITES && s->ver == 0);
    if (!s->hello_sent || !(status == STATUS_CLOSED || (status == STATUS_RESET && legacy)))
        return false;
    s->hello_sent = false;
    s->attempt = 0;
    switch ((enum he_step)s->step) {
    case HE_SSL2:
        s->sslv2 = 0;
        s->step = HE_SUITES;
        s->ver = s->chunk = 0;
        break;
    case HE_SUITES:
        s->last_close = true;
        if (s->ver == 0)
            version_done(s, true);
        else
            s->chunk++;
        break;
    case HE_ORDER_REV:
    case HE_ORDER_FWD:
    case HE_ORDER_RANK: {
        char what[32];
        snprintf(what, sizeof what, "%s order", he_ver_name[s->ver]);
        note(s, r, what, "closed");
        next_order_version(s);
        break;
    }
    case HE_GROUPS13: s->step = HE_GROUPS12; break;
    case HE_GROUPS12: s->step = HE_FALLBACK; break;
    case HE_FALLBACK:
        /* the same offer without the SCSV was accepted: hanging up on it
         * is the refusal (Dovecot hangs up instead of sending the alert) */
        s->fallback = 1;
        s->step = HE_DONE;
        break;
    case HE_DONE: break;
    }
    return true;
}

bool he_retry(struct he_state *s, struct record *r, const char *why)
{
    s->hello_sent = false;
    if (++s->attempt < 2)
        return true;
    s->attempt = 0;
    char what[32];
    switch ((enum he_step)s->step) {
    case HE_SSL2:
        note(s, r, "SSLv2", why);
        s->step = HE_SUITES;
        s->ver = s->chunk = 0;
        break;
    case HE_SUITES:
        snprintf(what, sizeof what, "%s%s", he_ver_name[s->ver], s->n_found[s->ver] ? " suites" : "");
        note(s, r, what, why);
        version_done(s, false);
        break;
    case HE_ORDER_REV:
    case HE_ORDER_FWD:
    case HE_ORDER_RANK:
        snprintf(what, sizeof what, "%s order", he_ver_name[s->ver]);
        note(s, r, what, why);
        next_order_version(s);
        break;
    case HE_GROUPS13:
    case HE_GROUPS12:
        note(s, r, "groups", why);
        s->step = s->step == HE_GROUPS13 ? HE_GROUPS12 : HE_FALLBACK;
        break;
    case HE_FALLBACK:
        note(s, r, "fallback", why);
        s->step = HE_DONE;
        break;
    case HE_DONE: break;
    }
    return false;
}

void he_interrupt(struct he_state *s, struct record *r)
{
    if (s->step != HE_DONE)
        note(s, r, "enumeration", "interrupted");
    s->step = HE_DONE;
}
