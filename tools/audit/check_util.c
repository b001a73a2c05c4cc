/*
 * check_util.c - reading the values the checks compare: booleans, TLS
 * protocol ranges and OpenSSL cipher strings, in both products' syntax.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "check.h"

bool aud_yes(const char *v)
{
    return v && (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Protocol names low to high, with their numbers. */
static const struct {
    const char *name;
    int ver;
} versions[] = {{"SSLv2", 2}, {"SSLv3", 3}, {"TLSv1", 10}, {"TLSv1.1", 11}, {"TLSv1.2", 12}, {"TLSv1.3", 13}};
#define N_VERSIONS (sizeof versions / sizeof versions[0])

static int version_of(const char *s, size_t n)
{
    for (size_t i = 0; i < N_VERSIONS; i++)
        if (strlen(versions[i].name) == n && strncasecmp(versions[i].name, s, n) == 0)
            return versions[i].ver;
    return -1;
}

int aud_min_tls(const char *v)
{
    bool allowed[N_VERSIONS], any_positive = false;
    bool positive[N_VERSIONS] = {false};
    int lo = 0, hi = 99;
    for (size_t i = 0; i < N_VERSIONS; i++)
        allowed[i] = true;
    if (strcasecmp(v, "ANY") == 0)
        return 3;
    const char *p = v;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == ':'))
            p++;
        const char *t = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',' && *p != ':')
            p++;
        size_t n = (size_t)(p - t);
        if (n == 0)
            break;
        if (n > 2 && t[0] == '>' && t[1] == '=') {
            int ver = version_of(t + 2, n - 2);
            if (ver > 0)
                lo = ver;
        } else if (n > 2 && t[0] == '<' && t[1] == '=') {
            int ver = version_of(t + 2, n - 2);
            if (ver > 0)
                hi = ver;
        } else if (t[0] == '!') {
            int ver = version_of(t + 1, n - 1);
            for (size_t i = 0; i < N_VERSIONS; i++)
                if (versions[i].ver == ver)
                    allowed[i] = false;
        } else {
            int ver = version_of(t, n);
            for (size_t i = 0; i < N_VERSIONS; i++)
                if (versions[i].ver == ver) {
                    positive[i] = true;
                    any_positive = true;
                }
        }
    }
    /* OpenSSL 3 has no SSLv2 and Debian's none of SSLv3: the lowest
     * version a server can really speak is TLSv1. */
    for (size_t i = 0; i < N_VERSIONS; i++) {
        int ver = versions[i].ver;
        if (ver < 10 || ver < lo || ver > hi || !allowed[i] || (any_positive && !positive[i]))
            continue;
        return ver;
    }
    return 13;
}

static const char *const weak_tokens[] = {"RC4", "3DES", "DES",   "EXPORT", "EXP",
                                          "LOW", "NULL", "eNULL", "MD5"};

/* Whether list holds tok as an element with the given prefix ("" = added,
 * "!" = removed for good). Elements are separated by ':', ',' or spaces;
 * an element may combine with '+' (e.g. "RC4+RSA"). */
static bool has_element(const char *list, const char *prefix, const char *tok)
{
    size_t pl = strlen(prefix), tl = strlen(tok);
    const char *p = list;
    while (*p) {
        while (*p && (*p == ':' || *p == ',' || isspace((unsigned char)*p)))
            p++;
        const char *e = p;
        while (*p && *p != ':' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - e);
        if (n == 0)
            break;
        if (pl) {
            if (n < pl || strncmp(e, prefix, pl) != 0)
                continue;
            e += pl;
            n -= pl;
        } else if (e[0] == '!' || e[0] == '-' || e[0] == '+' || e[0] == '@') {
            continue; /* a removal or reordering, not an addition */
        }
        /* compare each '+'-joined part */
        const char *q = e, *end = e + n;
        while (q < end) {
            const char *r = memchr(q, '+', (size_t)(end - q));
            size_t m = r ? (size_t)(r - q) : (size_t)(end - q);
            if (m == tl && strncasecmp(q, tok, tl) == 0)
                return true;
            q += m + 1;
        }
    }
    return false;
}

const char *aud_weak_cipher(const char *list, const char *exclude)
{
    for (size_t i = 0; i < sizeof weak_tokens / sizeof weak_tokens[0]; i++) {
        const char *t = weak_tokens[i];
        if (!has_element(list, "", t))
            continue;
        if (has_element(list, "!", t))
            continue;
        if (exclude && has_element(exclude, "", t))
            continue;
        return t;
    }
    return NULL;
}
