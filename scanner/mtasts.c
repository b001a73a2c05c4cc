/* mtasts.c - MTA-STS policy text and mx patterns (see mtasts.h). */
#include "mtasts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *sts_mode_name(enum sts_mode m)
{
    switch (m) {
    case STS_ENFORCE: return "enforce";
    case STS_TESTING: return "testing";
    case STS_NONE: return "none";
    case STS_MODE_NONE_SET: break;
    }
    return NULL;
}

/* A host name: labels of letters, digits and '-', 1-63 bytes each. */
static bool host_ok(const char *s, size_t n)
{
    size_t lab = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (lab == 0)
                return false;
            lab = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            if (++lab > 63)
                return false;
        } else {
            return false;
        }
    }
    return lab > 0;
}

static bool pattern_ok(const char *s, size_t n)
{
    if (n > 2 && s[0] == '*' && s[1] == '.')
        return host_ok(s + 2, n - 2);
    return host_ok(s, n);
}

static bool key_is(const char *b, size_t n, const char *key)
{
    return strlen(key) == n && memcmp(b, key, n) == 0;
}

static int fail(char *err, size_t errlen, const char *what, size_t line)
{
    snprintf(err, errlen, "policy line %zu: %s", line, what);
    return -1;
}

/* One "key: value" line [b, e). */
static int one_line(const char *b, const char *e, struct sts_policy *p, bool *seen_version, size_t ln,
                    char *err, size_t errlen)
{
    const char *colon = memchr(b, ':', (size_t)(e - b));
    if (!colon)
        return fail(err, errlen, "no ':'", ln);
    const char *kb = b, *ke = colon, *vb = colon + 1, *ve = e;
    while (vb < ve && (*vb == ' ' || *vb == '\t'))
        vb++;
    while (ve > vb && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t kn = (size_t)(ke - kb), vn = (size_t)(ve - vb);
    if (key_is(kb, kn, "version")) {
        if (*seen_version || vn != 5 || memcmp(vb, "STSv1", 5) != 0)
            return fail(err, errlen, "version must be STSv1, once", ln);
        *seen_version = true;
    } else if (key_is(kb, kn, "mode")) {
        if (p->mode != STS_MODE_NONE_SET)
            return fail(err, errlen, "mode given twice", ln);
        if (vn == 7 && memcmp(vb, "enforce", 7) == 0)
            p->mode = STS_ENFORCE;
        else if (vn == 7 && memcmp(vb, "testing", 7) == 0)
            p->mode = STS_TESTING;
        else if (vn == 4 && memcmp(vb, "none", 4) == 0)
            p->mode = STS_NONE;
        else
            return fail(err, errlen, "mode is not enforce, testing or none", ln);
    } else if (key_is(kb, kn, "max_age")) {
        if (p->max_age >= 0 || vn == 0 || vn > 10)
            return fail(err, errlen, "max_age must be given once, 1-10 digits", ln);
        int64_t v = 0;
        for (const char *c = vb; c < ve; c++) {
            if (!isdigit((unsigned char)*c))
                return fail(err, errlen, "max_age is not a number", ln);
            v = v * 10 + (*c - '0');
        }
        if (v > STS_MAX_AGE_MAX)
            return fail(err, errlen, "max_age over 31557600", ln);
        p->max_age = v;
    } else if (key_is(kb, kn, "mx")) {
        if (!pattern_ok(vb, vn))
            return fail(err, errlen, "mx is not a host name or *.host pattern", ln);
        if (p->n_mx >= STS_MX_MAX) {
            p->mx_cut = true;
            return 0;
        }
        char *o = p->mx[p->n_mx++];
        for (size_t i = 0; i < vn; i++)
            o[i] = (char)tolower((unsigned char)vb[i]);
        o[vn] = 0;
    }
    return 0; /* other keys: extensions, ignored */
}

int sts_parse(const char *text, size_t len, struct sts_policy *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->max_age = -1;
    bool seen_version = false;
    const char *s = text, *end = text + len;
    size_t ln = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        ln++;
        if (e > s && e[-1] == '\r')
            e--;
        if (e > s && one_line(s, e, p, &seen_version, ln, err, errlen) < 0)
            return -1;
        s = nl ? nl + 1 : end;
    }
    if (!seen_version)
        return fail(err, errlen, "no version: STSv1", ln);
    if (p->mode == STS_MODE_NONE_SET)
        return fail(err, errlen, "no mode", ln);
    if (p->max_age < 0)
        return fail(err, errlen, "no max_age", ln);
    if (p->n_mx == 0 && p->mode != STS_NONE)
        return fail(err, errlen, "no mx", ln);
    return 0;
}

bool sts_mx_match(const char *pattern, const char *host)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(host, '.');
        /* exactly one label in place of the '*' */
        return dot && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
    }
    return strcasecmp(pattern, host) == 0;
}
