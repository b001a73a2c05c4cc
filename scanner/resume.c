/*
 * resume.c - reading an earlier run's output back (see resume.h).
 */
#include "resume.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../output/reader.h"
#include "../targets/addr.h"
#include "../targets/dedup.h"
#include "job.h"

/* Bounds the done set: 2^31 slots (32 GiB) is far beyond any file we
 * could read in reasonable time; memory grows with the file. */
#define RESUME_MAX_KEYS ((size_t)1 << 30)

struct resume_set {
    struct tgt_set *done;
};

/* One place that turns the parts of a target into its key. */
static struct tgt_key target_key(int family, const unsigned char *addr, uint16_t port, int proto, int mode,
                                 const char *name)
{
    struct tgt_keyspec k = {
        .kind = TGT_KEY_TARGET,
        .family = family,
        .addr = addr,
        .prefix_len = family == AF_INET    ? 32
                      : family == AF_INET6 ? 128
                                           : 0,
        .port = port,
        .proto = proto,
        .mode = mode,
        .name = name,
        .name_len = name ? strlen(name) : 0,
    };
    return tgt_key(&k);
}

static struct tgt_key domain_key(const char *domain, size_t len)
{
    struct tgt_keyspec k = {.kind = TGT_KEY_DOMAIN, .name = domain, .name_len = len};
    return tgt_key(&k);
}

/* Copies text field f as a C string (empty when null or holding a NUL). */
static void field_str(const struct record *r, enum rec_field f, char *buf, size_t cap)
{
    size_t n = 0;
    const unsigned char *t = rec_has(r, f) ? rec_text(r, f, &n) : NULL;
    if (!t || n >= cap || memchr(t, 0, n))
        n = 0;
    if (n)
        memcpy(buf, t, n);
    buf[n] = '\0';
}

static int enum_by_name(const char *s, const char *(*name)(int), int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, name(i)) == 0)
            return i;
    return -1;
}

static const char *proto_name(int i)
{
    return mt_proto_name((enum mt_proto)i);
}
static const char *mode_name(int i)
{
    return mt_tls_mode_name((enum mt_tls_mode)i);
}

/* A domain record: no port, a domain. */
static bool is_domain_record(const struct record *r)
{
    return !rec_has(r, F_PORT) && rec_has(r, F_DOMAIN);
}

/* The key of a record with a port. false when it names no target. */
static bool record_key(const struct record *r, struct tgt_key *key)
{
    char ip[TGT_ADDR_TEXT_MAX], host[TGT_NAME_MAX + 1], buf[16];
    unsigned char addr[16] = {0};
    int family = 0;
    if (!rec_has(r, F_PORT) || rec_int(r, F_PORT) < 1 || rec_int(r, F_PORT) > 65535)
        return false;
    field_str(r, F_PROTOCOL, buf, sizeof buf);
    int proto = enum_by_name(buf, proto_name, MT_PROTO_COUNT);
    field_str(r, F_TLS_MODE, buf, sizeof buf);
    int mode = enum_by_name(buf, mode_name, TLS_MODE_IMPLICIT + 1);
    if (proto < 0 || mode < 0)
        return false;
    field_str(r, F_IP, ip, sizeof ip);
    if (ip[0]) {
        family = tgt_addr_parse(ip, strlen(ip), addr);
        if (!family)
            return false;
    }
    /* --mx probes: one per (address, port), whichever exchanger led there */
    if (rec_has(r, F_DOMAIN) && family)
        host[0] = '\0';
    else
        field_str(r, F_HOST, host, sizeof host);
    if (!family && !host[0])
        return false;
    *key = target_key(family, addr, (uint16_t)rec_int(r, F_PORT), proto, mode, host);
    return true;
}

static bool status_is(const struct record *r, enum rec_status st)
{
    size_t n;
    const char *want = rec_status_name(st);
    const unsigned char *t = rec_has(r, F_STATUS) ? rec_text(r, F_STATUS, &n) : NULL;
    return t && n == strlen(want) && memcmp(t, want, n) == 0;
}

bool resume_done_job(const struct resume_set *s, const struct job *j)
{
    const unsigned char *addr = NULL;
    int family = j->addr.ss_family;
    if (family == AF_INET)
        addr = (const unsigned char *)&((const struct sockaddr_in *)&j->addr)->sin_addr;
    else if (family == AF_INET6)
        addr = (const unsigned char *)&((const struct sockaddr_in6 *)&j->addr)->sin6_addr;
    else
        family = 0;
    return tgt_set_has(s->done, target_key(family, addr, j->port.port, (int)j->port.proto, (int)j->port.mode,
                                           j->domain[0] && family ? "" : j->host));
}

bool resume_done_name(const struct resume_set *s, const char *name, const struct tgt_port *port)
{
    return tgt_set_has(s->done, target_key(0, NULL, port->port, (int)port->proto, (int)port->mode, name));
}

bool resume_done_domain(const struct resume_set *s, const char *domain)
{
    return tgt_set_has(s->done, domain_key(domain, strlen(domain)));
}

bool resume_done_record(const struct resume_set *s, const struct record *r)
{
    struct tgt_key k;
    if (is_domain_record(r)) {
        char d[TGT_NAME_MAX + 1];
        field_str(r, F_DOMAIN, d, sizeof d);
        return d[0] && tgt_set_has(s->done, domain_key(d, strlen(d)));
    }
    return record_key(r, &k) && tgt_set_has(s->done, k);
}

/* An --mx domain record is final when every address its `mx` items list
 * ("PREF EXCHANGER RESULT") is done on every port of the scan. */
static bool domain_complete(const struct resume_set *s, const struct record *r, const struct tgt_port *ports,
                            size_t n_ports)
{
    uint16_t cur = 0;
    const unsigned char *item;
    size_t len;
    while (rec_list_next(r, F_MX, &cur, &item, &len)) {
        const unsigned char *sp = len ? memrchr(item, ' ', len) : NULL;
        unsigned char addr[16];
        if (!sp)
            continue;
        size_t alen = len - (size_t)(sp + 1 - item);
        int family = tgt_addr_parse((const char *)sp + 1, alen, addr);
        if (!family)
            continue; /* a dns-* result: no address to probe */
        for (size_t p = 0; p < n_ports; p++)
            if (!tgt_set_has(s->done, target_key(family, addr, ports[p].port, (int)ports[p].proto,
                                                 (int)ports[p].mode, "")))
                return false;
    }
    return true;
}

/* Both passes read the earlier output the same way: a killed scan's torn
 * tail ends the file, anything else that is not a record is an error. */
static struct reader *open_earlier(const char *path, char *err, size_t errlen)
{
    struct reader_opts ro = {.torn_tail_ok = true};
    char why[512];
    struct reader *rd = reader_open(path, &ro, why, sizeof why);
    if (!rd)
        snprintf(err, errlen, "--resume %s", why);
    return rd;
}

/* 1 = a record in r, 0 = end of file, -1 = not a mailtls record (err set). */
static int next_earlier(struct reader *rd, struct record *r, char *err, size_t errlen)
{
    char why[512];
    enum reader_result got = reader_next(rd, r, why, sizeof why);
    if (got == READER_END)
        return 0;
    if (got != READER_RECORD) {
        snprintf(err, errlen, "--resume %s (not a mailtls record)", why);
        return -1;
    }
    return 1;
}

/* One line and its end into the new copy; false on a write error. */
static bool put_line(gzFile out, const char *line, size_t len)
{
    return gzwrite(out, line, (unsigned)len) == (int)len && gzputc(out, '\n') >= 0;
}

/* Pass 1: the done set from every final non-domain record. */
static int collect(struct resume_set *s, const char *path, struct record *r, char *err, size_t errlen,
                   bool *csv)
{
    struct reader *rd = open_earlier(path, err, errlen);
    if (!rd)
        return -1;
    int rc = 0;
    for (;;) {
        int got = next_earlier(rd, r, err, errlen);
        if (got <= 0) {
            rc = got;
            break;
        }
        struct tgt_key k;
        if (status_is(r, STATUS_INTERRUPTED) || status_is(r, STATUS_DUPLICATE) || is_domain_record(r))
            continue;
        if (!record_key(r, &k)) {
            snprintf(err, errlen, "--resume %s:%ld: a record without a target (ip or host, port, protocol)",
                     path, reader_line_number(rd));
            rc = -1;
            break;
        }
        if (tgt_set_add(s->done, k) < 0) {
            snprintf(err, errlen, "--resume %s: out of memory", path);
            rc = -1;
            break;
        }
    }
    if (reader_line_number(rd) > 0) /* an empty file has no format yet */
        *csv = reader_is_csv(rd);
    reader_close(rd);
    return rc;
}

/* Pass 2: the kept records into the temporary file. */
static int rewrite(struct resume_set *s, const char *path, gzFile out, struct record *r,
                   const struct tgt_port *ports, size_t n_ports, struct resume_counts *c, char *err,
                   size_t errlen)
{
    struct reader *rd = open_earlier(path, err, errlen);
    if (!rd)
        return -1;
    bool header_done = false;
    int rc = 0;
    for (;;) {
        int got = next_earlier(rd, r, err, errlen);
        if (got <= 0) {
            rc = got;
            break;
        }
        size_t len;
        const char *line;
        if (!header_done && reader_is_csv(rd)) {
            line = reader_header(rd, &len);
            if (!put_line(out, line, len))
                goto write_fail;
        }
        header_done = true;
        if (status_is(r, STATUS_DUPLICATE)) {
            c->duplicate++;
            continue;
        }
        if (status_is(r, STATUS_INTERRUPTED)) {
            c->redo++;
            continue;
        }
        if (is_domain_record(r)) {
            char d[TGT_NAME_MAX + 1];
            field_str(r, F_DOMAIN, d, sizeof d);
            if (!d[0] || !domain_complete(s, r, ports, n_ports)) {
                c->redo++;
                continue;
            }
            if (tgt_set_add(s->done, domain_key(d, strlen(d))) < 0) {
                snprintf(err, errlen, "--resume %s: out of memory", path);
                rc = -1;
                break;
            }
        }
        c->kept++;
        line = reader_line(rd, &len);
        if (!put_line(out, line, len))
            goto write_fail;
    }
    /* a CSV file of only a header (or cut inside the first record) */
    if (rc == 0 && !header_done && reader_is_csv(rd) && reader_header(rd, &(size_t){0})) {
        size_t len;
        const char *line = reader_header(rd, &len);
        if (!put_line(out, line, len))
            goto write_fail;
    }
    c->torn = reader_torn(rd);
    reader_close(rd);
    return rc;
write_fail:
    snprintf(err, errlen, "--resume: writing the new copy of %s failed: %s", path, strerror(errno));
    reader_close(rd);
    return -1;
}

/* Whether the file is gzip: its first two bytes. */
static bool file_is_gzip(const char *path)
{
    unsigned char m[2] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(m, 1, 2, f);
    fclose(f);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

struct resume_set *resume_prepare(const char *path, bool csv, const struct tgt_port *ports, size_t n_ports,
                                  char *err, size_t errlen, struct resume_counts *counts)
{
    char tmp[4096];
    struct record *r = malloc(sizeof *r);
    struct resume_set *s = calloc(1, sizeof *s);
    gzFile out = NULL;
    bool file_csv = csv;
    *counts = (struct resume_counts){0};
    if (!r || !s || !(s->done = tgt_set_new(RESUME_MAX_KEYS))) {
        snprintf(err, errlen, "--resume: out of memory");
        goto fail;
    }
    if (collect(s, path, r, err, errlen, &file_csv) < 0)
        goto fail;
    if (file_csv != csv) {
        snprintf(err, errlen, "--resume %s: the file is %s but --format is %s", path,
                 file_csv ? "CSV" : "NDJSON", csv ? "csv" : "json");
        goto fail;
    }
    snprintf(tmp, sizeof tmp, "%s.resume-tmp", path);
    out = gzopen(tmp, file_is_gzip(path) ? "wb6" : "wbT");
    if (!out) {
        snprintf(err, errlen, "--resume %s: cannot create %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    if (rewrite(s, path, out, r, ports, n_ports, counts, err, errlen) < 0)
        goto fail;
    int closed = gzclose(out);
    out = NULL;
    if (closed != Z_OK) {
        snprintf(err, errlen, "--resume: writing %s failed: %s", tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "--resume: cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    free(r);
    return s;
fail:
    if (out) {
        gzclose(out);
        unlink(tmp);
    }
    free(r);
    resume_free(s);
    return NULL;
}

void resume_free(struct resume_set *s)
{
    if (!s)
        return;
    tgt_set_free(s->done);
    free(s);
}
