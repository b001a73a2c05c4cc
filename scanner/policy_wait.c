/* policy_wait.c - outcomes of probed (address, port) pairs (see policy_wait.h). */
#include "policy_wait.h"

#include <stdlib.h>
#include <string.h>

#include "../output/lib/hash.h"

void pw_init(struct pw_table *t)
{
    memset(t, 0, sizeof *t);
}

void pw_free(struct pw_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint32_t slot_of(const struct pw_table *t, const struct pw_key *k)
{
    return (uint32_t)hash_fnv1a64(k, sizeof *k) & (t->cap - 1);
}

static int grow(struct pw_table *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    struct pw_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    struct pw_table nt = {s, cap, 0, t->full_warned};
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].k.family)
            continue;
        uint32_t j = slot_of(&nt, &t->slots[i].k);
        while (nt.slots[j].k.family)
            j = (j + 1) & (cap - 1);
        nt.slots[j] = t->slots[i];
        nt.n++;
    }
    free(t->slots);
    *t = nt;
    return 0;
}

struct pw_outcome *pw_get(struct pw_table *t, const struct pw_key *k, bool create)
{
    if (t->cap) {
        uint32_t j = slot_of(t, k);
        for (; t->slots[j].k.family; j = (j + 1) & (t->cap - 1))
            if (memcmp(&t->slots[j].k, k, sizeof *k) == 0)
                return &t->slots[j].o;
    }
    if (!create || t->n >= PW_MAX)
        return NULL;
    /* load at most one half */
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return NULL;
    uint32_t j = slot_of(t, k);
    while (t->slots[j].k.family)
        j = (j + 1) & (t->cap - 1);
    t->slots[j].k = *k;
    memset(&t->slots[j].o, 0, sizeof t->slots[j].o);
    t->slots[j].o.dane = -1;
    t->n++;
    return &t->slots[j].o;
}

static bool is_true(const struct record *r, enum rec_field f)
{
    return rec_has(r, f) && rec_int(r, f);
}

void pw_from_record(const struct record *r, struct pw_outcome *o)
{
    o->done = true;
    o->tls = rec_has(r, F_TLS_VERSION);
    size_t n = 0;
    const unsigned char *st = rec_has(r, F_STATUS) ? rec_text(r, F_STATUS, &n) : NULL;
    o->no_starttls = (rec_has(r, F_STARTTLS_OFFERED) && !rec_int(r, F_STARTTLS_OFFERED)) ||
                     (st && n == 16 && memcmp(st, "starttls-refused", 16) == 0);
    o->pkix = is_true(r, F_CERT_TRUSTED);
    o->name_ok = is_true(r, F_CERT_HOSTNAME_MATCH);
    o->expired = rec_has(r, F_CERT_DAYS_LEFT) && rec_int(r, F_CERT_DAYS_LEFT) < 0;
    o->dane = -1;
    if (rec_has(r, F_DANE_MATCH)) {
        const unsigned char *d = rec_text(r, F_DANE_MATCH, &n);
        o->dane = n >= 5 && memcmp(d, "fail:", 5) == 0 ? 0 : 1;
    }
}
