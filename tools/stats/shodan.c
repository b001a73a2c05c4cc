/* shodan.c - loads --compare-shodan files; see shodan.h. */
#include "shodan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../output/json.h"
#include "facet.h"

#define SHODAN_MAX_TOKENS (1024 * 1024)

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    char *buf = malloc(SHODAN_MAX_BYTES + 1);
    size_t n = 0;
    int got = 0;
    while (buf && n <= SHODAN_MAX_BYTES &&
           (got = gzread(g, buf + n, (unsigned)(SHODAN_MAX_BYTES + 1 - n))) > 0)
        n += (size_t)got;
    if (!buf || got < 0 || n > SHODAN_MAX_BYTES) {
        int zerr;
        snprintf(err, errlen, "%s: %s", path,
                 !buf      ? "out of memory"
                 : got < 0 ? gzerror(g, &zerr)
                           : "larger than 16 MiB");
        free(buf);
        gzclose(g);
        return NULL;
    }
    gzclose(g);
    *len = n;
    return buf;
}

/* Decodes a string token into a new NUL-terminated string (NULs cut). */
static char *dup_string(const struct json_doc *d, int tok)
{
    size_t cap = d->toks[tok].len + 1;
    unsigned char *s = malloc(cap);
    if (!s)
        return NULL;
    long n = json_string(d, tok, s, cap);
    if (n < 0) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return (char *)s;
}

static char *dup_value(const struct json_doc *d, int tok)
{
    const struct json_tok *t = &d->toks[tok];
    if (t->type == JSON_STRING)
        return dup_string(d, tok);
    if (t->type == JSON_TRUE || t->type == JSON_FALSE) /* boolean facets (has_ssl) */
        return strdup(t->type == JSON_TRUE ? "true" : "false");
    if (t->type == JSON_NUMBER) {
        char *s = malloc(t->len + 1);
        if (s) {
            memcpy(s, d->src + t->start, t->len);
            s[t->len] = '\0';
        }
        return s;
    }
    return NULL;
}

/* s with control bytes and DEL as '?', cut at 64 bytes, in buf: names
 * come from the file and go to a terminal. */
static const char *safe(const char *s, char buf[65])
{
    size_t i = 0;
    for (; s[i] && i < 64; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

static int load_facets(struct check *c, const struct json_doc *d, int obj, const char *path, char *err,
                       size_t errlen)
{
    const struct json_tok *o = &d->toks[obj];
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t m = 0; m < o->count; m++, i = d->toks[d->toks[i].next].next) {
        int arr = (int)d->toks[i].next;
        char *name = dup_string(d, (int)i);
        if (!name)
            continue;
        int id = facet_lookup(name);
        if (id < 0 || c->n_facets >= CHECK_MAX_FACETS || d->toks[arr].type != JSON_ARRAY) {
            char a[65], b[65];
            /* a raw answer's check is named after its file: say it once */
            if (strcmp(path, c->name) == 0)
                fprintf(stderr, "%s: facet %s skipped (unknown, too many, or not a list)\n", path,
                        safe(name, b));
            else
                fprintf(stderr, "%s: %s: facet %s skipped (unknown, too many, or not a list)\n", path,
                        safe(c->name, a), safe(name, b));
            free(name);
            continue;
        }
        struct check_facet *f = &c->facets[c->n_facets++];
        f->name = name;
        f->id = id;
        f->mailtls = tally_new(1000);
        if (!f->mailtls) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        uint32_t e = (uint32_t)arr + 1;
        for (uint32_t k = 0; k < d->toks[arr].count; k++, e = d->toks[e].next) {
            int v = json_get(d, (int)e, "value"), n = json_get(d, (int)e, "count");
            int64_t count;
            if (v < 0 || n < 0 || json_int(d, n, &count) < 0) {
                char a[65], b[65];
                snprintf(err, errlen, "%s: %s: facet %s: entries need \"value\" and an integer \"count\"",
                         path, safe(c->name, a), safe(name, b));
                return -1;
            }
            if (f->n_values >= CHECK_MAX_FACET_VALUES)
                continue;
            char *val = dup_value(d, v);
            if (!val) {
                char a[65], b[65];
                snprintf(err, errlen, "%s: %s: facet %s: bad value", path, safe(c->name, a), safe(name, b));
                return -1;
            }
            f->values[f->n_values] = val;
            f->shodan_counts[f->n_values++] = count;
        }
    }
    return 0;
}

/* One comparison: name and query, the total and facets of the object at
 * tok (an entry of "results", or a whole /shodan/host/count answer). */
static int add_entry(struct stats *s, const struct json_doc *d, int tok, const char *name, const char *query,
                     const char *label, char *err, size_t errlen)
{
    int t = json_get(d, tok, "total");
    int64_t total;
    if (t < 0 || json_int(d, t, &total) < 0) {
        char a[65];
        snprintf(err, errlen, "%s: entry %s needs a string \"query\" and an integer \"total\"", label,
                 safe(name, a));
        return -1;
    }
    struct check *c = stats_add_check(s, name, query);
    if (!c) {
        snprintf(err, errlen, "%s: more than %d checks", label, STATS_MAX_CHECKS);
        return -1;
    }
    c->has_shodan = true;
    c->shodan_total = total;
    int facets = json_get(d, tok, "facets");
    if (facets >= 0 && d->toks[facets].type == JSON_OBJECT &&
        load_facets(c, d, facets, label, err, errlen) < 0)
        return -1;
    return 0;
}

static int load_results(struct stats *s, const struct json_doc *d, int results, const char *label, char *err,
                        size_t errlen)
{
    uint32_t i = (uint32_t)results + 1;
    for (uint32_t m = 0; m < d->toks[results].count; m++, i = d->toks[d->toks[i].next].next) {
        int entry = (int)d->toks[i].next;
        char *name = dup_string(d, (int)i);
        int q = d->toks[entry].type == JSON_OBJECT ? json_get(d, entry, "query") : -1;
        char *query = q >= 0 ? dup_string(d, q) : NULL;
        int rc = -1;
        char a[65];
        if (!name || !query)
            snprintf(err, errlen, "%s: entry %s needs a string \"query\" and an integer \"total\"", label,
                     name ? safe(name, a) : "?");
        else
            rc = add_entry(s, d, entry, name, query, label, err, errlen);
        free(name);
        free(query);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A raw answer of Shodan's /shodan/host/count (or /shodan/host/search):
 * {"total": N, "facets": {...}, "matches": [...]}; the query is not in
 * it, so it comes from the command line. An API error is
 * {"error": "..."}. */
static int load_answer(struct stats *s, const struct json_doc *d, const char *label, const char *query,
                       char *err, size_t errlen)
{
    int e = json_get(d, 0, "error");
    if (e >= 0) {
        char *why = d->toks[e].type == JSON_STRING ? dup_string(d, e) : NULL;
        char a[65];
        snprintf(err, errlen, "%s: Shodan answered with an error: %s", label,
                 why ? safe(why, a) : "(not a string)");
        free(why);
        return -1;
    }
    if (json_get(d, 0, "total") < 0) {
        snprintf(err, errlen,
                 "%s: expected {\"results\": {...}} or a /shodan/host/count answer "
                 "{\"total\": N, \"facets\": {...}}",
                 label);
        return -1;
    }
    if (!query) {
        snprintf(err, errlen,
                 "%s: a raw /shodan/host/count answer holds no query: give it with "
                 "--shodan-query QUERY",
                 label);
        return -1;
    }
    return add_entry(s, d, 0, label, query, label, err, errlen);
}

int shodan_parse(struct stats *s, const char *text, size_t len, const char *label, const char *query,
                 bool *query_used, char *err, size_t errlen)
{
    *query_used = false;
    int rc = -1;
    /* every token takes at least one byte of text */
    size_t cap = len + 1 < SHODAN_MAX_TOKENS ? len + 1 : SHODAN_MAX_TOKENS;
    struct json_doc d = {.toks = malloc(cap * sizeof(struct json_tok)), .cap = (uint32_t)cap};
    char jerr[128];
    if (!d.toks) {
        snprintf(err, errlen, "%s: out of memory", label);
        goto out;
    }
    if (json_parse(&d, text, len, jerr, sizeof jerr) < 0) {
        /* Report a line too: hand-edited files are the usual case. */
        unsigned long col = strncmp(jerr, "column ", 7) == 0 ? strtoul(jerr + 7, NULL, 10) : 0, line = 1;
        for (unsigned long k = 0; k + 1 < col && k < len; k++)
            line += text[k] == '\n';
        snprintf(err, errlen, "%s:%lu: %s", label, line, jerr);
        goto out;
    }
    if (d.toks[0].type != JSON_OBJECT) {
        snprintf(err, errlen, "%s: expected a JSON object", label);
        goto out;
    }
    int results = json_get(&d, 0, "results");
    if (results >= 0 && d.toks[results].type != JSON_OBJECT)
        snprintf(err, errlen, "%s: expected {\"results\": {...}}", label);
    else if (results >= 0)
        rc = load_results(s, &d, results, label, err, errlen);
    else if ((rc = load_answer(s, &d, label, query, err, errlen)) == 0)
        *query_used = true;
out:
    free(d.toks);
    return rc;
}

int shodan_load(struct stats *s, const char *path, const char *query, bool *query_used, char *err,
                size_t errlen)
{
    size_t len;
    char *text = read_all(path, &len, err, errlen);
    if (!text)
        return -1;
    int rc = shodan_parse(s, text, len, path, query, query_used, err, errlen);
    free(text);
    return rc;
}
