/* engine.c - load, sort, merge-join; see engine.h. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"
#include "snap.h"
#include "xsort.h"

static bool port_wanted(const struct diff_opts *o, const struct snap *s)
{
    if (o->n_ports == 0 || s->kind == SNAP_DOMAIN)
        return true;
    for (int i = 0; i < o->n_ports; i++)
        if (o->ports[i] == s->port)
            return true;
    return false;
}

/* Reads one file into a finished sorter. */
static struct xsort *load(const char *path, const struct diff_opts *o, uint64_t *records, uint64_t *bad,
                          char *err, size_t errlen)
{
    struct reader *rd = reader_open(path, NULL, err, errlen);
    if (!rd)
        return NULL;
    struct xsort *x = xsort_new(o->mem_bytes, o->tmpdir, err, errlen);
    struct record *r = malloc(sizeof *r);
    struct snap *s = malloc(sizeof *s);
    unsigned char *packed = malloc(SNAP_PACKED_MAX);
    int rc = x && r && s && packed ? 0 : -1;
    if (rc < 0 && x)
        snprintf(err, errlen, "out of memory");
    while (rc == 0) {
        enum reader_result got = reader_next(rd, r, err, errlen);
        if (got == READER_END)
            break;
        if (got == READER_BAD_LINE && o->skip_bad) {
            (*bad)++;
            continue;
        }
        if (got != READER_RECORD) {
            rc = -1;
            break;
        }
        if (snap_from(s, r) < 0 || !port_wanted(o, s))
            continue;
        size_t n = snap_pack(s, packed);
        rc = xsort_add(x, packed, n, err, errlen);
        (*records)++;
    }
    if (rc == 0)
        rc = xsort_finish(x, err, errlen);
    reader_close(rd);
    free(r);
    free(s);
    free(packed);
    if (rc < 0) {
        xsort_free(x);
        return NULL;
    }
    return x;
}

/* A merged stream without repeated keys. */
struct side {
    struct xsort *x;
    struct snap cur;
    bool has;
    uint64_t dups;
};

static int side_next(struct side *sd, char *err, size_t errlen)
{
    for (;;) {
        const unsigned char *p;
        size_t n;
        int got = xsort_next(sd->x, &p, &n, err, errlen);
        if (got < 0)
            return -1;
        if (got == 0) {
            sd->has = false;
            return 0;
        }
        struct snap s;
        if (snap_unpack(&s, p, n) < 0) {
            snprintf(err, errlen, "temporary file: damaged snap");
            return -1;
        }
        if (sd->has && snap_cmp(&s, &sd->cur) == 0) {
            sd->dups++;
            continue;
        }
        sd->cur = s;
        sd->has = true;
        return 0;
    }
}

static int join(struct side *a, struct side *b, const struct diff_opts *o, diff_emit_fn emit, void *ctx,
                struct diff_counts *cnt, char *err, size_t errlen)
{
    static struct diff_result res;
    /* side_next compares with the previous key: start from "none" */
    a->has = b->has = false;
    if (side_next(a, err, errlen) < 0 || side_next(b, err, errlen) < 0)
        return -1;
    while (a->has || b->has) {
        int c = !a->has ? 1 : !b->has ? -1 : snap_cmp(&a->cur, &b->cur);
        res.n = 0;
        res.old_s = c <= 0 ? &a->cur : NULL;
        res.new_s = c >= 0 ? &b->cur : NULL;
        if (c == 0)
            rules_compare(&o->rules, &a->cur, &b->cur, &res);
        else
            res.sev = c < 0 ? SEV_GONE : SEV_NEW;
        cnt->by_sev[res.sev]++;
        if (res.sev != SEV_UNCHANGED && emit(ctx, &res) < 0) {
            snprintf(err, errlen, "output: write failed");
            return -1;
        }
        /* side_next keeps the previous key to drop repeats: advance after use */
        if (c <= 0 && side_next(a, err, errlen) < 0)
            return -1;
        if (c >= 0 && side_next(b, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int diff_files(const char *old_path, const char *new_path, const struct diff_opts *o, diff_emit_fn emit,
               void *ctx, struct diff_counts *cnt, char *err, size_t errlen)
{
    memset(cnt, 0, sizeof *cnt);
    snap_init_fields();
    static struct side a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rc = -1;
    a.x = load(old_path, o, &cnt->records[0], &cnt->bad_lines[0], err, errlen);
    if (a.x)
        b.x = load(new_path, o, &cnt->records[1], &cnt->bad_lines[1], err, errlen);
    if (a.x && b.x) {
        rc = join(&a, &b, o, emit, ctx, cnt, err, errlen);
        cnt->dups[0] = a.dups;
        cnt->dups[1] = b.dups;
        cnt->runs[0] = xsort_runs(a.x);
        cnt->runs[1] = xsort_runs(b.x);
        cnt->spilled_bytes[0] = xsort_spilled_bytes(a.x);
        cnt->spilled_bytes[1] = xsort_spilled_bytes(b.x);
    }
    xsort_free(a.x);
    xsort_free(b.x);
    return rc;
}
