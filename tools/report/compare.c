/* compare.c - worse-since-OLD by reason; see compare.h. */
#include "compare.h"

#include <stdlib.h>
#include <string.h>

static struct cmp_reason *reason(struct cmp *c, const char *why)
{
    for (int i = 0; i < c->n_reasons; i++)
        if (strcmp(c->reasons[i].why, why) == 0)
            return &c->reasons[i];
    if (c->n_reasons == CMP_MAX_REASONS)
        return NULL;
    struct cmp_reason *r = &c->reasons[c->n_reasons];
    r->why = why;
    if (c->max_hosts && !(r->hosts.hosts = calloc(c->max_hosts, AGG_HOST_LABEL)))
        return NULL;
    c->n_reasons++;
    return r;
}

static int collect(void *ctx, const struct diff_result *res)
{
    struct cmp *c = ctx;
    if (res->sev != SEV_WORSE)
        return 0;
    char label[AGG_HOST_LABEL];
    snap_label(res->new_s, label, sizeof label);
    for (int i = 0; i < res->n; i++) {
        if (res->c[i].sev != SEV_WORSE)
            continue;
        struct cmp_reason *r = reason(c, res->c[i].why);
        if (!r)
            return -1;
        agg_finding_add(&r->hosts, c->max_hosts, label);
    }
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const struct cmp_reason *x = a, *y = b;
    if (x->hosts.count != y->hosts.count)
        return x->hosts.count > y->hosts.count ? -1 : 1;
    return strcmp(x->why, y->why);
}

int cmp_run(struct cmp *c, const char *old_path, const char *new_path, size_t max_hosts, int expiry_days,
            char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->max_hosts = max_hosts;
    const char *tmp = getenv("TMPDIR");
    struct diff_opts o = {.rules = {.expiry_days = expiry_days},
                          .mem_bytes = (size_t)32 << 20,
                          .tmpdir = tmp && *tmp ? tmp : "/tmp"};
    if (diff_files(old_path, new_path, &o, collect, c, &c->cnt, err, errlen) < 0)
        return -1;
    qsort(c->reasons, (size_t)c->n_reasons, sizeof c->reasons[0], by_count);
    return 0;
}

void cmp_free(struct cmp *c)
{
    for (int i = 0; i < c->n_reasons; i++)
        free(c->reasons[i].hosts.hosts);
}
