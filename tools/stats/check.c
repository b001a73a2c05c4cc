/* check.c - Shodan-style versus precise counting; see check.h. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facet.h"

static const char *const auth_terms[] = {"auth",       "250-auth",   "plain", "login",
                                         "auth=plain", "auth=login", "user",  "sasl",
                                         "auth plain", "auth login", NULL};
static const char *const starttls_terms[] = {"starttls", "stls", "250-starttls", NULL};

int check_init(struct check *c, const char *name, const char *query)
{
    memset(c, 0, sizeof *c);
    c->name = strdup(name);
    c->query_text = strdup(query);
    if (!c->name || !c->query_text)
        return -1;
    char err[256];
    c->q = query_compile(query, err, sizeof err);
    if (!c->q) {
        c->error = strdup(err);
        return 0;
    }
    c->n_ports = query_ports(c->q, c->ports, QUERY_MAX_PORTS);
    if (query_has_term(c->q, auth_terms))
        c->kind = CHECK_AUTH;
    else if (query_has_term(c->q, starttls_terms))
        c->kind = CHECK_STARTTLS;
    else
        c->kind = CHECK_BANNER;
    return 0;
}

void check_free(struct check *c)
{
    free(c->name);
    free(c->query_text);
    free(c->error);
    query_free(c->q);
    for (int i = 0; i < c->n_facets; i++) {
        free(c->facets[i].name);
        tally_free(c->facets[i].mailtls);
        for (int k = 0; k < c->facets[i].n_values; k++)
            free(c->facets[i].values[k]);
    }
}

const char *check_kind_name(enum check_kind k)
{
    switch (k) {
    case CHECK_AUTH: return "auth";
    case CHECK_STARTTLS: return "starttls";
    case CHECK_BANNER: return "banner";
    }
    return "?";
}

const char *check_verdict(const struct check *c)
{
    if (c->text_only && c->precise_only)
        return "both differ";
    if (c->text_only)
        return "shodan-style counts more";
    if (c->precise_only)
        return "precise counts more";
    return "agree";
}

static bool is_true(const struct record *r, enum rec_field f)
{
    return rec_has(r, f) && rec_int(r, f) != 0;
}

static bool text_is(const struct record *r, enum rec_field f, const char *s)
{
    size_t n;
    if (!rec_has(r, f))
        return false;
    const unsigned char *t = rec_text(r, f, &n);
    return n == strlen(s) && memcmp(t, s, n) == 0;
}

static bool on_ports(const struct check *c, const struct record *r)
{
    if (c->n_ports == 0)
        return true;
    if (!rec_has(r, F_PORT))
        return false;
    for (int i = 0; i < c->n_ports; i++)
        if (rec_int(r, F_PORT) == c->ports[i])
            return true;
    return false;
}

/* Facet values are compared case-insensitively (Shodan writes "tlsv1.2"
 * or "TLSv1.2", "us" or "US"), so the check's tallies key on lower case. */
static size_t lower(char *dst, size_t cap, const char *v)
{
    size_t n = 0;
    for (; v[n] && n + 1 < cap; n++)
        dst[n] = (char)((v[n] >= 'A' && v[n] <= 'Z') ? v[n] + 32 : v[n]);
    dst[n] = '\0';
    return n;
}

static void add_lower(struct tally *t, const char *v)
{
    char buf[256];
    size_t n = lower(buf, sizeof buf, v);
    tally_add(t, buf, n, 1);
}

uint64_t check_facet_count(const struct check_facet *f, const char *value)
{
    char buf[256];
    size_t n = lower(buf, sizeof buf, value);
    if (f->id == FACET_PRODUCT)
        query_product_canon(buf, n);
    return f->mailtls ? tally_get(f->mailtls, buf) : 0;
}

void check_add(struct check *c, const struct record *r, const struct query_subject *s)
{
    if (!c->q)
        return;
    bool text = query_match(c->q, s);
    if (text) {
        c->text++;
        for (int i = 0; i < c->n_facets; i++) {
            char buf[256];
            const char *v = facet_value(r, s, (enum facet_id)c->facets[i].id, buf, sizeof buf);
            if (v)
                add_lower(c->facets[i].mailtls, v);
        }
    }
    if (!on_ports(c, r))
        return;
    bool has_banner = rec_has(r, F_BANNER);
    c->base += has_banner;
    bool precise = false;
    switch (c->kind) {
    case CHECK_AUTH:
        precise = is_true(r, F_PLAINTEXT_AUTH_BEFORE_TLS);
        c->accepted += text_is(r, F_AUTH_PROBE, "cleartext-evaluated");
        c->probed += rec_has(r, F_AUTH_PROBE);
        break;
    case CHECK_STARTTLS:
        precise = is_true(r, F_STARTTLS_OFFERED);
        c->accepted += is_true(r, F_STARTTLS_OK);
        break;
    case CHECK_BANNER: precise = has_banner; break;
    }
    c->advertised += precise;
    c->text_only += text && !precise;
    c->precise_only += precise && !text;
}
