/*
 * live.c - the live cross-check: one engine run over the declared local
 * listeners (scanner/engine.h), records compared with the verdicts.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/writer.h"
#include "../../scanner/engine.h"
#include "../../scanner/tls.h"
#include "../../targets/target.h"
#include "live.h"

struct live_item {
    struct job job;
    struct aud_live *res;
    struct record rec;
    bool done;
};

struct live_run {
    struct live_item *items;
    size_t n, next;
    struct out_writer *w;
};

/* Loopback stand-in for a configured address; false = not local. */
static bool local_address(const char *a, int *family, unsigned char addr[16], char *shown, size_t slen)
{
    static const char *const any4[] = {"*", "all", "0.0.0.0", "loopback-only", "localhost", "[0.0.0.0]"};
    for (size_t i = 0; i < sizeof any4 / sizeof any4[0]; i++)
        if (strcmp(a, any4[i]) == 0)
            a = "127.0.0.1";
    if (strcmp(a, "::") == 0 || strcmp(a, "[::]") == 0 || strcmp(a, "[::1]") == 0)
        a = "::1";
    if (inet_pton(AF_INET, a, addr) == 1 && addr[0] == 127) {
        *family = AF_INET;
    } else if (inet_pton(AF_INET6, a, addr) == 1 &&
               memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0) {
        *family = AF_INET6;
    } else {
        return false;
    }
    snprintf(shown, slen, "%s", a);
    return true;
}

static enum job_next next_job(void *ctx, struct job *out)
{
    struct live_run *lr = ctx;
    while (lr->next < lr->n) {
        struct live_item *it = &lr->items[lr->next++];
        if (it->done)
            continue;
        *out = it->job;
        return JOB_READY;
    }
    return JOB_END;
}

static int wait_fd(void *ctx)
{
    return -1;
}

static int emit(void *ctx, const struct job *j, struct record *r)
{
    struct live_run *lr = ctx;
    for (size_t i = 0; j && i < lr->n; i++) {
        struct live_item *it = &lr->items[i];
        if (it->done || it->job.addr_len != j->addr_len ||
            memcmp(&it->job.addr, &j->addr, j->addr_len) != 0 || it->job.port.port != j->port.port)
            continue;
        it->rec = *r;
        it->done = true;
        break;
    }
    if (lr->w && out_write(lr->w, r) < 0)
        return -1;
    return 0;
}

static int tick(void *ctx, uint64_t now_ms)
{
    return 0;
}

void live_verdict(const struct record *r, bool implicit, char *verdict, size_t vlen, char *facts, size_t flen)
{
    enum rec_status st = (enum rec_status)rec_int(r, F_STATUS);
    bool offered = rec_int(r, F_STARTTLS_OFFERED) != 0, plain = rec_int(r, F_PLAINTEXT_AUTH_BEFORE_TLS) != 0;
    size_t tvl = 0;
    const unsigned char *tv = rec_text(r, F_TLS_VERSION, &tvl);
    if (!rec_has(r, F_STATUS) || st != STATUS_OK)
        snprintf(verdict, vlen, "%s", rec_has(r, F_STATUS) ? rec_status_name(st) : "not-scanned");
    else if (implicit)
        snprintf(verdict, vlen, "%s", tvl ? "implicit-tls" : "no-tls");
    else if (!offered)
        snprintf(verdict, vlen, "no-tls");
    else
        snprintf(verdict, vlen, "%s", plain ? "starttls-auth-before-tls" : "starttls");
    snprintf(facts, flen,
             "scan: status %s, starttls_offered %s, plaintext_auth_before_tls %s, tls_version %.*s",
             rec_has(r, F_STATUS) ? rec_status_name(st) : "-",
             rec_has(r, F_STARTTLS_OFFERED) ? (offered ? "true" : "false") : "null",
             rec_has(r, F_PLAINTEXT_AUTH_BEFORE_TLS) ? (plain ? "true" : "false") : "null",
             tvl ? (int)tvl : 4, tvl ? (const char *)tv : "null");
}

static void judge(struct live_item *it)
{
    struct aud_live *x = it->res;
    char facts[200];
    live_verdict(&it->rec, it->res->l->implicit_tls, x->live_verdict, sizeof x->live_verdict, facts,
                 sizeof facts);
    x->agree = strcmp(x->live_verdict, x->l->verdict) == 0;
    if (x->agree)
        snprintf(x->explain, sizeof x->explain, "%s", facts);
    else
        snprintf(x->explain, sizeof x->explain,
                 "%s; the running server does not apply this configuration (another configuration file, "
                 "or not reloaded since the change)",
                 facts);
}

/* Builds the job list: one per distinct (address, port). */
static size_t plan(const struct aud_listeners *ls, struct aud_live *out, size_t max, struct live_item *items)
{
    size_t n = 0;
    for (size_t i = 0; i < ls->n && n < max; i++) {
        const struct aud_listener *l = &ls->v[i];
        struct aud_live *x = &out[n];
        memset(x, 0, sizeof *x);
        x->l = l;
        int family;
        unsigned char addr[16];
        if (!local_address(l->address, &family, addr, x->address, sizeof x->address)) {
            snprintf(x->address, sizeof x->address, "%s", l->address);
            snprintf(x->live_verdict, sizeof x->live_verdict, "not-scanned");
            snprintf(x->explain, sizeof x->explain,
                     "not a loopback address: --live scans only local listeners");
            items[n].done = true;
            items[n].res = x;
            n++;
            continue;
        }
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(out[k].address, x->address) == 0 && out[k].l->port == l->port;
        if (dup)
            continue;
        struct tgt_port tp;
        char proto[16];
        snprintf(proto, sizeof proto, "%s%s", l->proto, l->implicit_tls ? "s" : "");
        if (!tgt_proto_parse(proto, strlen(proto), &tp))
            continue;
        tp.port = l->port;
        memset(&items[n], 0, sizeof items[n]);
        job_set_addr(&items[n].job, family, addr, &tp);
        items[n].res = x;
        n++;
    }
    return n;
}

int live_run(const struct aud_listeners *ls, const struct live_opts *o, struct aud_live *out, size_t max,
             char *err, size_t errlen)
{
    struct live_run lr = {0};
    lr.items = calloc(max ? max : 1, sizeof *lr.items);
    if (!lr.items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lr.n = plan(ls, out, max, lr.items);
    int rc = -1;
    SSL_CTX *ctx = tls_client_ctx(NULL, err, errlen);
    struct engine *e = NULL;
    if (!ctx)
        goto done;
    if (o->records_path) {
        struct out_options oo = {.format = OUT_JSON};
        lr.w = out_open(o->records_path, &oo, err, errlen);
        if (!lr.w)
            goto done;
    }
    uint32_t total_ms = (uint32_t)(o->timeout_s * 1000);
    struct engine_config cfg = {.concurrency = 16,
                                .connect_timeout_ms = total_ms / 3,
                                .read_timeout_ms = total_ms / 2,
                                .total_timeout_ms = total_ms,
                                .grace_ms = 1000,
                                .ehlo_name = "mailtls-audit.invalid",
                                .probe_auth = false,
                                .ssl_ctx = ctx};
    struct engine_io io = {.ctx = &lr, .next_job = next_job, .wait_fd = wait_fd, .emit = emit, .tick = tick};
    e = engine_new(&cfg, &io, err, errlen);
    if (!e)
        goto done;
    if (engine_run(e) < 0) {
        snprintf(err, errlen, "the scan failed (records output)");
        goto done;
    }
    for (size_t i = 0; i < lr.n; i++)
        if (lr.items[i].job.addr_len)
            judge(&lr.items[i]);
    rc = (int)lr.n;
done:
    engine_free(e);
    if (lr.w && out_close(lr.w) < 0 && rc >= 0) {
        snprintf(err, errlen, "%s", out_error(NULL));
        rc = -1;
    }
    SSL_CTX_free(ctx);
    free(lr.items);
    return rc;
}
