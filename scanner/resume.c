/*
 * resume.c - reading an earlier run's output back (see resume.h).
 *
 * zlib's gzread reads plain and gzip files alike and skips to the next
 * member by itself; a torn member at the end of a killed scan's file ends
 * reading with an error, and everything decoded before it up to the last
 * complete line is kept. The kept lines are written anew (same format,
 * same compression) through a temporary file renamed over the original,
 * so the file is never half rewritten.
 */
#include "resume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define LINE_MAX_BYTES (1u << 20)

struct resume_set {
    uint64_t *slots; /* hash of (key, port); 0 = empty */
    size_t cap, n;
};

static uint64_t key_hash(const char *key, size_t len, unsigned port)
{
    uint64_t h = 1469598103934665603ull ^ port;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static int set_add(struct resume_set *s, uint64_t h)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t j = s->slots[i] & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->n++;
    return 0;
}

/* 64-bit hashes stand for keys: a collision (about 1 in 2^40 for a
 * million records) would skip one target; documented in the README. */
bool resume_done(const struct resume_set *s, const char *key, size_t key_len, unsigned port)
{
    if (!s || !s->cap)
        return false;
    uint64_t h = key_hash(key, key_len, port);
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

bool resume_done_record(const struct resume_set *s, const struct record *r)
{
    size_t len;
    const unsigned char *k;
    if (rec_has(r, F_IP))
        k = rec_text(r, F_IP, &len);
    else if (rec_has(r, F_HOST))
        k = rec_text(r, F_HOST, &len);
    else
        return false;
    return resume_done(s, (const char *)k, len, (unsigned)rec_int(r, F_PORT));
}

/* The string value of "name": in one of our NDJSON lines; NULL when null
 * or absent. Inside our strings every quote is escaped, so the first
 * unescaped "name": is the field itself. */
static const char *json_str(const char *line, const char *name, size_t *len)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", name);
    const char *p = strstr(line, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (!e)
        return NULL;
    *len = (size_t)(e - p);
    return p;
}

static long json_int(const char *line, const char *name)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(line, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Splits one CSV line (RFC 4180 quoting) and returns field `want`. */
static const char *csv_field(const char *line, int want, size_t *len)
{
    int idx = 0;
    const char *p = line;
    for (;;) {
        const char *start = p;
        if (*p == '"') {
            start = ++p;
            while (*p && !(*p == '"' && p[1] != '"'))
                p += (*p == '"') ? 2 : 1;
            if (idx == want) {
                *len = (size_t)(p - start);
                return start;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',')
                p++;
            if (idx == want) {
                *len = (size_t)(p - start);
                return *len ? start : NULL;
            }
        }
        if (*p != ',')
            return NULL;
        p++;
        idx++;
    }
}

struct csv_cols {
    int ip, port, host, status;
};

static int csv_column(const char *header, const char *name)
{
    for (int i = 0; i < 256; i++) {
        size_t len;
        const char *f = csv_field(header, i, &len);
        if (!f && i > 0 && !strchr(header, ','))
            return -1;
        if (f && len == strlen(name) && memcmp(f, name, len) == 0)
            return i;
    }
    return -1;
}

/* Reads one record line's key and status. Returns 1 to keep, 0 to redo
 * (interrupted), -1 when the line is not one of ours. */
static int classify(const char *line, bool csv, const struct csv_cols *cols, struct resume_set *s)
{
    const char *key, *status;
    size_t klen = 0, slen = 0;
    long port;
    if (csv) {
        key = csv_field(line, cols->ip, &klen);
        if (!key)
            key = csv_field(line, cols->host, &klen);
        size_t plen;
        const char *p = csv_field(line, cols->port, &plen);
        port = p ? strtol(p, NULL, 10) : -1;
        status = csv_field(line, cols->status, &slen);
    } else {
        key = json_str(line, "ip", &klen);
        if (!key)
            key = json_str(line, "host", &klen);
        port = json_int(line, "port");
        status = json_str(line, "status", &slen);
    }
    if (!key || !status || port < 0 || port > 65535)
        return -1;
    if (slen == strlen("interrupted") && memcmp(status, "interrupted", slen) == 0)
        return 0;
    return set_add(s, key_hash(key, klen, (unsigned)port)) < 0 ? -1 : 1;
}

struct resume_set *resume_prepare(const char *path, bool csv, char *err, size_t errlen, uint64_t *kept,
                                  uint64_t *redo)
{
    *kept = *redo = 0;
    gzFile in = gzopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "--resume %s: %s", path, strerror(errno ? errno : ENOENT));
        return NULL;
    }
    bool was_gzip = gzdirect(in) == 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.resume-tmp", path);
    gzFile out = gzopen(tmp, was_gzip ? "wb6" : "wbT");
    struct resume_set *s = calloc(1, sizeof *s);
    char *line = malloc(LINE_MAX_BYTES);
    struct csv_cols cols = {-1, -1, -1, -1};
    bool header = csv;
    uint64_t lineno = 0;
    if (!out || !s || !line) {
        snprintf(err, errlen, "--resume %s: cannot create %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    while (gzgets(in, line, (int)LINE_MAX_BYTES)) {
        size_t len = strlen(line);
        lineno++;
        if (len == 0 || line[len - 1] != '\n')
            break; /* the torn end of a killed scan: dropped */
        line[len - 1] = '\0';
        if (header) {
            header = false;
            cols = (struct csv_cols){csv_column(line, "ip"), csv_column(line, "port"), csv_column(line, "host"),
                                     csv_column(line, "status")};
            if (cols.ip < 0 || cols.port < 0 || cols.status < 0) {
                snprintf(err, errlen, "--resume %s: line 1 is not a mailtls CSV header", path);
                goto fail;
            }
            line[len - 1] = '\n';
            if (gzwrite(out, line, (unsigned)len) != (int)len)
                goto write_fail;
            continue;
        }
        int c = classify(line, csv, &cols, s);
        if (c < 0) {
            snprintf(err, errlen, "--resume %s:%llu: not a mailtls %s record", path, (unsigned long long)lineno,
                     csv ? "CSV" : "NDJSON");
            goto fail;
        }
        if (c == 0) {
            (*redo)++;
            continue;
        }
        (*kept)++;
        line[len - 1] = '\n';
        if (gzwrite(out, line, (unsigned)len) != (int)len)
            goto write_fail;
    }
    gzclose(in);
    in = NULL;
    if (gzclose(out) != Z_OK) {
        out = NULL;
        goto write_fail;
    }
    out = NULL;
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "--resume: cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    free(line);
    return s;
write_fail:
    snprintf(err, errlen, "--resume: writing %s failed: %s", tmp, strerror(errno));
fail:
    if (in)
        gzclose(in);
    if (out)
        gzclose(out);
    unlink(tmp);
    free(line);
    resume_free(s);
    return NULL;
}

void resume_free(struct resume_set *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s);
}
