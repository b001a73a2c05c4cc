/*
 * blocklist.c - longest-prefix BLOCK/ALLOW rules (see blocklist.h).
 *
 * Rules are kept as inclusive ranges [lo, hi] of 128-bit numbers (IPv4 uses
 * the low 32 bits, in its own table). CIDR ranges are either nested or
 * disjoint, so sorting by (lo ascending, hi descending) and sweeping with a
 * stack of open ranges yields disjoint intervals where the innermost
 * (longest) rule decides. That flat array is what lookups search.
 */
#include "blocklist.h"

#include "addr.h"
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__extension__ typedef unsigned __int128 u128;

struct range {
    u128 lo, hi;
    enum tgt_bl_rule rule;
};

struct table {
    struct range *rules;
    size_t nrules, cap_rules;
    struct range *flat; /* disjoint, sorted by lo */
    size_t nflat;
    bool is_dirty;
};

struct tgt_blocklist {
    struct table v4, v6;
    bool has_allowlist;
};

struct tgt_blocklist *tgt_bl_new(void)
{
    return calloc(1, sizeof(struct tgt_blocklist));
}

static void table_free(struct table *t)
{
    free(t->rules);
    free(t->flat);
}

void tgt_bl_free(struct tgt_blocklist *bl)
{
    if (!bl)
        return;
    table_free(&bl->v4);
    table_free(&bl->v6);
    free(bl);
}

static u128 to_u128(int family, const unsigned char *addr)
{
    u128 v = 0;
    size_t n = family == AF_INET ? 4 : 16;

    for (size_t i = 0; i < n; i++)
        v = (v << 8) | addr[i];
    return v;
}

int tgt_bl_add(struct tgt_blocklist *bl, int family, const unsigned char addr[16], unsigned prefix_len,
               enum tgt_bl_rule rule)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    struct table *t = family == AF_INET ? &bl->v4 : &bl->v6;
    u128 host_mask;
    struct range r;

    if ((family != AF_INET && family != AF_INET6) || prefix_len > bits)
        return -1;
    host_mask = bits - prefix_len == 128 ? ~(u128)0 : (((u128)1 << (bits - prefix_len)) - 1);
    r.lo = to_u128(family, addr) & ~host_mask;
    if (family == AF_INET)
        r.lo &= 0xffffffffu;
    r.hi = r.lo | host_mask;
    r.rule = rule;
    if (t->nrules == t->cap_rules) {
        size_t cap = t->cap_rules ? t->cap_rules * 2 : 32;
        struct range *grown = realloc(t->rules, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->rules = grown;
        t->cap_rules = cap;
    }
    t->rules[t->nrules++] = r;
    t->is_dirty = true;
    if (rule == TGT_BL_ALLOW)
        bl->has_allowlist = true;
    return 0;
}

int tgt_bl_add_text(struct tgt_blocklist *bl, const char *s, size_t len, enum tgt_bl_rule rule, char *err,
                    size_t errlen)
{
    unsigned char addr[16];
    unsigned plen;
    int family;

    if (tgt_cidr_parse(s, len, &family, addr, &plen, err, errlen) < 0)
        return -1;
    if (tgt_bl_add(bl, family, addr, plen, rule) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int tgt_bl_load_file(struct tgt_blocklist *bl, const char *path, enum tgt_bl_rule rule, char *err,
                     size_t errlen)
{
    struct tgt_reader *r = malloc(sizeof *r);
    int fd = -1, errnum = 0, rc = -1;
    const char *line;
    size_t len;
    char why[TGT_ADDR_TEXT_MAX + 128];

    /* A failed load leaves the set as it was. */
    size_t keep4 = bl->v4.nrules, keep6 = bl->v6.nrules;
    bool keep_allow = bl->has_allowlist;

    if (!r) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (rule == TGT_BL_ALLOW)
        bl->has_allowlist = true;
    tgt_reader_init(r, fd);
    for (;;) {
        enum tgt_read res = tgt_reader_next(r, &line, &len, &errnum);
        if (res == TGT_READ_EOF)
            break;
        if (res == TGT_READ_TOO_LONG) {
            snprintf(err, errlen, "%s:%llu: line longer than %d bytes", path, (unsigned long long)r->lineno,
                     TGT_LINE_MAX);
            goto out;
        }
        if (res != TGT_READ_LINE) {
            /* A regular file never says WAIT; treat a pipe that does as an error. */
            snprintf(err, errlen, "%s: %s", path,
                     res == TGT_READ_ERROR ? strerror(errnum) : "not a blocking file");
            goto out;
        }
        const char *hash = memchr(line, '#', len);
        if (hash)
            len = (size_t)(hash - line);
        while (len > 0 && is_blank(*line)) {
            line++;
            len--;
        }
        while (len > 0 && is_blank(line[len - 1]))
            len--;
        if (len == 0)
            continue;
        if (tgt_bl_add_text(bl, line, len, rule, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%llu: %s", path, (unsigned long long)r->lineno, why);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        bl->v4.nrules = keep4;
        bl->v6.nrules = keep6;
        bl->v4.is_dirty = bl->v6.is_dirty = true;
        bl->has_allowlist = keep_allow;
    }
    if (fd >= 0)
        close(fd);
    free(r);
    return rc;
}

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;

    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi > y->hi ? -1 : 1;  /* the container first */
    return (int)x->rule - (int)y->rule; /* BLOCK first */
}

static void push_flat(struct table *t, u128 lo, u128 hi, enum tgt_bl_rule rule)
{
    struct range *last = t->nflat ? &t->flat[t->nflat - 1] : NULL;

    if (last && last->rule == rule && last->hi + 1 == lo) {
        last->hi = hi;
        return;
    }
    t->flat[t->nflat++] = (struct range){lo, hi, rule};
}

/* Disjoint ranges from nested ones. Each rule adds at most two intervals
 * (the part before it in its parent and its own start), plus the tail of
 * every parent: 2n+1 bounds the output. */
static int rebuild(struct table *t)
{
    struct range stack[130]; /* nesting depth <= 129 distinct prefix lengths */
    size_t depth = 0, n = 0;
    u128 cur = 0;
    bool has_cur = false;

    free(t->flat);
    t->flat = NULL;
    t->nflat = 0;
    if (t->nrules == 0) {
        t->is_dirty = false;
        return 0;
    }
    qsort(t->rules, t->nrules, sizeof *t->rules, cmp_range);
    /* Same range twice: keep one; BLOCK sorted first, so it wins. */
    for (size_t i = 0; i < t->nrules; i++)
        if (n == 0 || t->rules[i].lo != t->rules[n - 1].lo || t->rules[i].hi != t->rules[n - 1].hi)
            t->rules[n++] = t->rules[i];
    t->nrules = n;
    t->flat = malloc((2 * n + 1) * sizeof *t->flat);
    if (!t->flat)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        const struct range *e = i < n ? &t->rules[i] : NULL;
        /* Close every open range that ends before e (all of them at the end). */
        while (depth > 0 && (!e || stack[depth - 1].hi < e->lo)) {
            const struct range *top = &stack[--depth];
            if (has_cur && cur <= top->hi)
                push_flat(t, cur, top->hi, top->rule);
            has_cur = top->hi != ~(u128)0;
            cur = top->hi + 1;
        }
        if (!e)
            break;
        if (depth > 0 && has_cur && cur < e->lo)
            push_flat(t, cur, e->lo - 1, stack[depth - 1].rule);
        cur = e->lo;
        has_cur = true;
        stack[depth++] = *e;
    }
    t->is_dirty = false;
    return 0;
}

/* Returns the deciding rule, or -1 if no rule covers v, -2 on OOM. */
static int lookup(struct table *t, u128 v)
{
    size_t lo = 0, hi;

    if (t->is_dirty && rebuild(t) < 0)
        return -2;
    hi = t->nflat;
    while (lo < hi) { /* first interval with lo > v */
        size_t mid = lo + (hi - lo) / 2;
        if (t->flat[mid].lo <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || t->flat[lo - 1].hi < v)
        return -1;
    return (int)t->flat[lo - 1].rule;
}

/* The verdict of one table alone: rule, or the allowlist default. */
static bool table_blocks(struct tgt_blocklist *bl, int family, const unsigned char *addr)
{
    int rule = lookup(family == AF_INET ? &bl->v4 : &bl->v6, to_u128(family, addr));

    if (rule == -2)
        return true;
    if (rule == -1)
        return bl->has_allowlist;
    return rule == TGT_BL_BLOCK;
}

bool tgt_bl_is_blocked(struct tgt_blocklist *bl, int family, const unsigned char *addr)
{
    unsigned char v4[4];

    if (family != AF_INET && family != AF_INET6)
        return true;
    if (family == AF_INET || !tgt_addr_v4_in_v6(addr, v4))
        return table_blocks(bl, family, addr);
    /* An IPv6 spelling of an IPv4 host (::ffff:a.b.c.d, 2002:..., NAT64)
     * reaches that host: the IPv4 rules decide, allowlist included. An
     * IPv6 BLOCK rule that covers the spelling itself (the default
     * ::ffff:0:0/96, 2002::/16...) still blocks; an IPv6 ALLOW rule opens
     * nothing the IPv4 rules keep closed. */
    int rule6 = lookup(&bl->v6, to_u128(AF_INET6, addr));
    if (rule6 == -2 || rule6 == TGT_BL_BLOCK)
        return true;
    return table_blocks(bl, AF_INET, v4);
}

bool tgt_bl_has_allowlist(const struct tgt_blocklist *bl)
{
    return bl->has_allowlist;
}
