/* query.c - parser and evaluator for Shodan-style queries; see query.h. */
#include "query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum node_kind {
    N_AND,
    N_OR,
    N_NOT,
    N_WORD,
    N_PHRASE,
    N_PORT,
    N_COUNTRY,
    N_ASN,
    N_ORG,
    N_PRODUCT,
    N_HAS_SSL,
    N_SSL_VERSION,
    N_CERT_EXPIRED
};

struct node {
    enum node_kind kind;
    int a, b;   /* children (AND/OR: a and b; NOT: a) */
    char *text; /* terms: lower-cased; filters: value */
    size_t len;
    int64_t num; /* port, asn */
};

struct query {
    struct node nodes[QUERY_MAX_NODES];
    int n;
    int root;
    char storage[QUERY_MAX_BYTES * 2];
    size_t used;
};

struct qparse {
    struct query *q;
    const char *s;
    size_t pos;
    const char *why;
};

static int add_node(struct qparse *p, enum node_kind k, int a, int b)
{
    if (p->q->n >= QUERY_MAX_NODES) {
        p->why = "query too complex";
        return -1;
    }
    int i = p->q->n++;
    p->q->nodes[i] = (struct node){.kind = k, .a = a, .b = b};
    return i;
}

static char *keep(struct qparse *p, const char *s, size_t n, bool lower)
{
    struct query *q = p->q;
    if (n + 1 > sizeof q->storage - q->used) {
        p->why = "query too long";
        return NULL;
    }
    char *d = q->storage + q->used;
    for (size_t i = 0; i < n; i++)
        d[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    d[n] = '\0';
    q->used += n + 1;
    return d;
}

static void skip_space(struct qparse *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

static bool is_word_char(char c)
{
    return c && c != ' ' && c != '\t' && c != '(' && c != ')' && c != '"';
}

/* Peeks at a bare keyword (OR, AND, NOT) followed by a separator. */
static bool at_keyword(struct qparse *p, const char *kw)
{
    size_t n = strlen(kw);
    return strncmp(p->s + p->pos, kw, n) == 0 && !is_word_char(p->s[p->pos + n]);
}

static int parse_or(struct qparse *p, int depth);

/* Shodan writes TLS 1.0 as "tlsv1"; accept "tlsv1.0" too. */
static void ssl_version_canon(char *v, size_t *len)
{
    if (*len == 7 && memcmp(v, "tlsv1.0", 7) == 0) {
        v[5] = '\0';
        *len = 5;
    }
}

size_t query_product_canon(char *v, size_t len)
{
    static const char *const daemons[] = {"smtpd", "imapd", "pop3d", "esmtpd",
                                          "lmtpd", "smtp",  "imap",  "pop3"};
    const char *sp = len ? memrchr(v, ' ', len) : NULL;
    if (!sp)
        return len;
    size_t word = len - (size_t)(sp + 1 - v);
    for (size_t i = 0; i < sizeof daemons / sizeof daemons[0]; i++)
        if (strlen(daemons[i]) == word && strncasecmp(sp + 1, daemons[i], word) == 0) {
            len = (size_t)(sp - v);
            v[len] = '\0';
            break;
        }
    return len;
}

/* Checks and converts a filter's value: numbers for port and asn, a
 * boolean for has_ssl and ssl.cert.expired. */
static int filter_value(struct qparse *p, struct node *nd)
{
    const char *d = nd->text;
    switch (nd->kind) {
    case N_PORT:
    case N_ASN: {
        if (nd->kind == N_ASN && strncasecmp(d, "AS", 2) == 0)
            d += 2;
        char *end;
        nd->num = strtoll(d, &end, 10);
        if (*d == '\0' || *end != '\0') {
            p->why = "filter needs a number";
            return -1;
        }
        return 0;
    }
    case N_HAS_SSL:
    case N_CERT_EXPIRED:
        if (strcasecmp(d, "true") == 0 || strcasecmp(d, "yes") == 0 || strcmp(d, "1") == 0) {
            nd->num = 1;
        } else if (strcasecmp(d, "false") == 0 || strcasecmp(d, "no") == 0 || strcmp(d, "0") == 0) {
            nd->num = 0;
        } else {
            p->why = "filter needs true or false";
            return -1;
        }
        return 0;
    case N_SSL_VERSION:
        if (nd->len == 0) {
            p->why = "filter needs a value";
            return -1;
        }
        ssl_version_canon(nd->text, &nd->len);
        return 0;
    case N_PRODUCT: nd->len = query_product_canon(nd->text, nd->len); return 0;
    case N_AND:
    case N_OR:
    case N_NOT:
    case N_WORD:
    case N_PHRASE:
    case N_COUNTRY:
    case N_ORG: return 0;
    }
    return 0;
}

static int parse_filter(struct qparse *p, const char *name, size_t nlen)
{
    const char *v;
    size_t vlen;
    if (p->s[p->pos] == '"') {
        v = p->s + ++p->pos;
        const char *e = strchr(v, '"');
        if (!e) {
            p->why = "unterminated quote";
            return -1;
        }
        vlen = (size_t)(e - v);
        p->pos += vlen + 1;
    } else {
        v = p->s + p->pos;
        vlen = 0;
        while (is_word_char(v[vlen]))
            vlen++;
        p->pos += vlen;
    }
    static const struct {
        const char *name;
        enum node_kind kind;
    } filters[] = {{"port", N_PORT},
                   {"country", N_COUNTRY},
                   {"asn", N_ASN},
                   {"org", N_ORG},
                   {"product", N_PRODUCT},
                   {"has_ssl", N_HAS_SSL},
                   {"ssl.version", N_SSL_VERSION},
                   {"ssl.cert.expired", N_CERT_EXPIRED}};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        if (strlen(filters[i].name) != nlen || strncasecmp(filters[i].name, name, nlen) != 0)
            continue;
        int t = add_node(p, filters[i].kind, -1, -1);
        if (t < 0)
            return -1;
        struct node *nd = &p->q->nodes[t];
        if (!(nd->text = keep(p, v, vlen, nd->kind == N_SSL_VERSION)))
            return -1;
        nd->len = vlen;
        return filter_value(p, nd) < 0 ? -1 : t;
    }
    p->why = "unsupported filter (port, country, asn, org, product, has_ssl, ssl.version, "
             "ssl.cert.expired are known)";
    return -1;
}

static int parse_primary(struct qparse *p, int depth)
{
    skip_space(p);
    char c = p->s[p->pos];
    if (c == '(') {
        p->pos++;
        int t = parse_or(p, depth + 1);
        if (t < 0)
            return -1;
        skip_space(p);
        if (p->s[p->pos] != ')') {
            p->why = "missing ')'";
            return -1;
        }
        p->pos++;
        return t;
    }
    if (c == '"') {
        const char *v = p->s + ++p->pos;
        const char *e = strchr(v, '"');
        if (!e) {
            p->why = "unterminated quote";
            return -1;
        }
        int t = add_node(p, N_PHRASE, -1, -1);
        if (t < 0 || !(p->q->nodes[t].text = keep(p, v, (size_t)(e - v), true)))
            return -1;
        p->q->nodes[t].len = (size_t)(e - v);
        p->pos += (size_t)(e - v) + 1;
        return t;
    }
    if (!is_word_char(c)) {
        p->why = c ? "unexpected character" : "unexpected end of query";
        return -1;
    }
    const char *w = p->s + p->pos;
    size_t n = 0;
    while (is_word_char(w[n]) && w[n] != ':')
        n++;
    if (w[n] == ':') {
        p->pos += n + 1;
        return parse_filter(p, w, n);
    }
    int t = add_node(p, N_WORD, -1, -1);
    if (t < 0 || !(p->q->nodes[t].text = keep(p, w, n, true)))
        return -1;
    p->q->nodes[t].len = n;
    p->pos += n;
    return t;
}

static int parse_unary(struct qparse *p, int depth)
{
    if (depth > 32) {
        p->why = "query nested too deeply";
        return -1;
    }
    skip_space(p);
    bool neg = false;
    if (p->s[p->pos] == '-') {
        p->pos++;
        neg = true;
    } else if (at_keyword(p, "NOT")) {
        p->pos += 3;
        neg = true;
    }
    if (neg) {
        int a = parse_unary(p, depth + 1);
        return a < 0 ? -1 : add_node(p, N_NOT, a, -1);
    }
    return parse_primary(p, depth);
}

static bool at_and_end(struct qparse *p)
{
    skip_space(p);
    char c = p->s[p->pos];
    return c == '\0' || c == ')' || at_keyword(p, "OR");
}

static int parse_and(struct qparse *p, int depth)
{
    int left = parse_unary(p, depth);
    while (left >= 0 && !at_and_end(p)) {
        if (at_keyword(p, "AND"))
            p->pos += 3;
        int right = parse_unary(p, depth);
        if (right < 0)
            return -1;
        left = add_node(p, N_AND, left, right);
    }
    return left;
}

static int parse_or(struct qparse *p, int depth)
{
    int left = parse_and(p, depth);
    for (;;) {
        if (left < 0)
            return -1;
        skip_space(p);
        if (!at_keyword(p, "OR"))
            return left;
        p->pos += 2;
        int right = parse_and(p, depth);
        if (right < 0)
            return -1;
        left = add_node(p, N_OR, left, right);
    }
}

struct query *query_compile(const char *s, char *err, size_t errlen)
{
    if (strlen(s) > QUERY_MAX_BYTES) {
        snprintf(err, errlen, "query longer than %d bytes", QUERY_MAX_BYTES);
        return NULL;
    }
    struct query *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct qparse p = {.q = q, .s = s};
    q->root = parse_or(&p, 0);
    if (q->root >= 0) {
        skip_space(&p);
        if (p.s[p.pos] == '\0')
            return q;
        p.why = "unexpected ')'";
    }
    snprintf(err, errlen, "query column %zu: %s", p.pos + 1, p.why);
    free(q);
    return NULL;
}

void query_free(struct query *q)
{
    free(q);
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool match_term(const struct query_subject *s, const char *t, size_t n, bool whole_word)
{
    if (n == 0)
        return true;
    const char *h = s->text, *end = s->text + s->text_len;
    while (h < end) {
        const char *m = memmem(h, (size_t)(end - h), t, n);
        if (!m)
            return false;
        if (!whole_word)
            return true;
        bool left_ok = m == s->text || !is_alnum((unsigned char)m[-1]) || !is_alnum((unsigned char)t[0]);
        bool right_ok = m + n == end || !is_alnum((unsigned char)m[n]) || !is_alnum((unsigned char)t[n - 1]);
        if (left_ok && right_ok)
            return true;
        h = m + 1;
    }
    return false;
}

static bool eq_nocase(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

/* Is v one of the space-separated, lower-case versions in list? */
static bool has_version(const char *list, const char *v, size_t n)
{
    for (const char *w = list; w && *w;) {
        size_t k = strcspn(w, " ");
        if (k == n && memcmp(w, v, n) == 0)
            return true;
        w += k;
        w += *w == ' ';
    }
    return false;
}

static bool eval(const struct query *q, int i, const struct query_subject *s)
{
    const struct node *n = &q->nodes[i];
    switch (n->kind) {
    case N_AND: return eval(q, n->a, s) && eval(q, n->b, s);
    case N_OR: return eval(q, n->a, s) || eval(q, n->b, s);
    case N_NOT: return !eval(q, n->a, s);
    case N_WORD: return match_term(s, n->text, n->len, true);
    case N_PHRASE: return match_term(s, n->text, n->len, false);
    case N_PORT: return s->port == n->num;
    case N_COUNTRY: return eq_nocase(s->country, n->text);
    case N_ASN: return s->asn == n->num;
    case N_ORG: return eq_nocase(s->org, n->text);
    case N_PRODUCT: return eq_nocase(s->product, n->text);
    case N_HAS_SSL: return s->has_ssl == (n->num != 0);
    case N_SSL_VERSION: return has_version(s->ssl_versions, n->text, n->len);
    case N_CERT_EXPIRED: return s->has_cert && s->cert_expired == (n->num != 0);
    }
    return false;
}

bool query_match(const struct query *q, const struct query_subject *s)
{
    return eval(q, q->root, s);
}

/* Walks positive leaves only: a NOT hides its subtree. */
static void walk_positive(const struct query *q, int i, void (*fn)(const struct node *, void *), void *arg)
{
    const struct node *n = &q->nodes[i];
    switch (n->kind) {
    case N_AND:
    case N_OR:
        walk_positive(q, n->a, fn, arg);
        walk_positive(q, n->b, fn, arg);
        break;
    case N_NOT: break;
    case N_WORD:
    case N_PHRASE:
    case N_PORT:
    case N_COUNTRY:
    case N_ASN:
    case N_ORG:
    case N_PRODUCT:
    case N_HAS_SSL:
    case N_SSL_VERSION:
    case N_CERT_EXPIRED: fn(n, arg); break;
    }
}

struct port_acc {
    int64_t *ports;
    int max, n;
};

static void collect_port(const struct node *n, void *arg)
{
    struct port_acc *a = arg;
    if (n->kind == N_PORT && a->n < a->max)
        a->ports[a->n++] = n->num;
}

int query_ports(const struct query *q, int64_t *ports, int max)
{
    struct port_acc a = {ports, max, 0};
    walk_positive(q, q->root, collect_port, &a);
    return a.n;
}

struct term_acc {
    const char *const *words;
    bool found;
};

static void find_term(const struct node *n, void *arg)
{
    struct term_acc *a = arg;
    if (n->kind != N_WORD && n->kind != N_PHRASE)
        return;
    for (const char *const *w = a->words; *w; w++)
        if (strcasecmp(*w, n->text) == 0)
            a->found = true;
}

bool query_has_term(const struct query *q, const char *const *words)
{
    struct term_acc a = {words, false};
    walk_positive(q, q->root, find_term, &a);
    return a.found;
}
