/*
 * main.c - mailtls-scan: parse, validate, build, run.
 *
 * Data flow: targets/ (tgt_source) -> feed.c (jobs: target x port) ->
 * engine.c (epoll loop; smtp.c, imap.c, pop3.c; tls.c) -> output/ (writer).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../output/geoip.h"
#include "../output/outbuf.h"
#include "../output/writer.h"
#include "engine.h"
#include "feed.h"
#include "malloc_tune.h"
#include "options.h"
#include "resume.h"
#include "summary.h"
#include "tls.h"
#include "workers.h"

static struct workers *g_workers;
static volatile sig_atomic_t g_stop_signal; /* SIGINT/SIGTERM received, for the exit status */

static void on_signal(int sig)
{
    g_stop_signal = sig;
    if (g_workers)
        workers_request_stop(g_workers);
}

/* A record formatted ahead, outside the workers' lock, by the engine
 * thread that is about to emit it (sink_prepare). Valid for that record
 * while it is unchanged (the same address, fields and arena use). */
struct sink_ahead {
    const struct record *r; /* NULL: nothing ready */
    rec_mask is_set, truncated;
    uint16_t arena_used;
    bool geo_done; /* r has its GeoIP fields, even if changed since */
    struct outbuf buf;
};

/* The largest record escapes to about 36 KiB (writer.c); a bigger one is
 * formatted under the lock as before. */
#define SINK_AHEAD_BYTES (64 * 1024)
#define SINK_AHEAD_MAX 64 /* one per engine thread (workers.c WORKERS_MAX) */

/* Where finished records go: GeoIP fields, counters, then the writer. */
struct sink {
    struct out_writer *w;
    struct summary *sum;
    struct geo_db *geo;      /* NULL without --geoip/--asn */
    const struct feed *feed; /* for the status line's in-flight count */
    bool out_err_told;       /* the output error is printed once, whoever meets it */
    struct sink_ahead ahead[SINK_AHEAD_MAX];
    atomic_uint n_ahead; /* slots handed to threads so far */
};

/* The calling thread's slot in the sink (threads take one at their first
 * record, without the lock), or NULL. */
static _Thread_local struct sink_ahead *tl_ahead;

static struct sink_ahead *sink_ahead_slot(struct sink *s)
{
    if (tl_ahead)
        return tl_ahead;
    unsigned i = atomic_fetch_add(&s->n_ahead, 1);
    if (i >= SINK_AHEAD_MAX || outbuf_init(&s->ahead[i].buf, SINK_AHEAD_BYTES) < 0)
        return NULL; /* formatted under the lock as before */
    tl_ahead = &s->ahead[i];
    return tl_ahead;
}

static void sink_ahead_free(struct sink *s)
{
    unsigned n = atomic_load(&s->n_ahead);
    for (unsigned i = 0; i < n && i < SINK_AHEAD_MAX; i++)
        outbuf_free(&s->ahead[i].buf);
    tl_ahead = NULL;
}

/* workers_out.prepare: GeoIP and formatting on the engine's thread, so
 * that under the lock sink_emit only counts and appends bytes. Only for
 * scans whose feed passes every record on unchanged (the TLS enumerator
 * holds and amends records: those are formatted under the lock). */
static void sink_prepare(void *ctx, const struct job *j, struct record *r)
{
    (void)j;
    struct sink *s = ctx;
    if (!r) {
        if (tl_ahead)
            tl_ahead->r = NULL;
        return;
    }
    struct sink_ahead *a = sink_ahead_slot(s);
    if (!a)
        return;
    if (s->geo)
        geo_enrich(s->geo, r);
    outbuf_reset(&a->buf);
    out_format(s->w, r, &a->buf);
    a->r = r;
    a->is_set = r->is_set;
    a->truncated = r->truncated;
    a->arena_used = r->arena_used;
    a->geo_done = true;
}

static bool sink_ahead_fits(const struct sink_ahead *a, const struct record *r)
{
    return a && a->r == r && !a->buf.overflow && a->is_set == r->is_set && a->truncated == r->truncated &&
           a->arena_used == r->arena_used;
}

/* Output failed: say so once (every loop, and the close, meet the same
 * sticky error). Returns -1 for the caller to pass on. */
static int sink_failed(struct sink *s, const char *msg)
{
    if (!s->out_err_told && msg)
        fprintf(stderr, "mailtls-scan: %s\n", msg);
    s->out_err_told = true;
    return -1;
}

static int sink_emit(void *ctx, const struct job *j, struct record *r)
{
    struct sink *s = ctx;
    (void)j; /* --resume: the feed skips finished targets before contacting them */
    struct sink_ahead *a = tl_ahead && tl_ahead->r == r ? tl_ahead : NULL;
    if (s->geo && !(a && a->geo_done))
        geo_enrich(s->geo, r);
    summary_count(s->sum, r);
    int rc = sink_ahead_fits(a, r) ? out_write_formatted(s->w, a->buf.data, a->buf.len) : out_write(s->w, r);
    if (a)
        a->r = NULL; /* used once */
    if (rc < 0)
        return sink_failed(s, out_error(s->w));
    return 0;
}

/* Records the TLS enumerator held and finished. */
static int sink_emit_held(void *ctx, struct record *r)
{
    return sink_emit(ctx, NULL, r);
}

static int sink_tick(void *ctx, uint64_t now)
{
    struct sink *s = ctx;
    /* Open connections are the engines' count; the feed's probes_out also
     * holds jobs waiting in the engines' queues (for a place in a full
     * subnet, a rate token). */
    uint64_t open = workers_open_conns(g_workers);
    uint64_t handed_out = s->feed ? s->feed->probes_out : 0;
    struct summary_live live = {.open = open,
                                .queued = handed_out > open ? handed_out - open : 0,
                                .skipped = s->feed ? s->feed->resumed : 0,
                                .input_read = s->feed && s->feed->input_read};
    summary_status_line(s->sum, now, &live);
    if (out_tick(s->w, now) < 0)
        return sink_failed(s, out_error(s->w));
    return 0;
}

/* Descriptors: every probe needs one socket; raise the soft limit as far
 * as the hard limit allows and shrink concurrency to what fits. */
static uint32_t fit_concurrency(uint32_t wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return wanted;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    /* a few descriptors for the output, inputs and the resolver */
    rlim_t reserve = rl.rlim_cur > 256 ? 64 : rl.rlim_cur / 4;
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)wanted + reserve > rl.rlim_cur) {
        uint32_t fit = rl.rlim_cur > reserve + 1 ? (uint32_t)(rl.rlim_cur - reserve) : 1;
        fprintf(stderr,
                "mailtls-scan: only %llu file descriptors allowed; concurrency lowered from %u to %u\n",
                (unsigned long long)rl.rlim_cur, wanted, fit);
        return fit;
    }
    return wanted;
}

static const char *default_ehlo_name(void)
{
    static char name[256];
    if (gethostname(name, sizeof name - 1) < 0 || !name[0])
        snprintf(name, sizeof name, "mailtls.invalid");
    return name;
}

/* Whether the targets come from stdin: no target and no -i, or a "-". */
static bool reads_stdin(const struct options *o)
{
    if (o->n_targets == 0 && o->n_inputs == 0)
        return true;
    for (int i = 0; i < o->n_targets; i++)
        if (strcmp(o->targets[i], "-") == 0)
            return true;
    for (int i = 0; i < o->n_inputs; i++)
        if (strcmp(o->inputs[i], "-") == 0)
            return true;
    return false;
}

static int add_inputs(const struct options *o, struct tgt_source *src)
{
    char err[TGT_ERR_MAX];
    for (int i = 0; i < o->n_targets; i++)
        if (tgt_source_add_arg(src, o->targets[i], err, sizeof err) < 0)
            goto fail;
    for (int i = 0; i < o->n_inputs; i++)
        if (tgt_source_add_file(src, o->inputs[i], err, sizeof err) < 0)
            goto fail;
    if (o->n_targets == 0 && o->n_inputs == 0 && tgt_source_add_file(src, "-", err, sizeof err) < 0)
        goto fail;
    if (o->blocklist && tgt_source_load_blocklist(src, o->blocklist, err, sizeof err) < 0)
        goto fail;
    if (o->allowlist && tgt_source_load_allowlist(src, o->allowlist, err, sizeof err) < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "mailtls-scan: %s\n", err);
    return -1;
}

/* Everything a scan owns; scan_free() releases whatever was built. */
struct scan {
    struct tgt_source *src;
    SSL_CTX *ctx;
    struct resume_set *resume;
    struct geo_db *geo;
    struct out_writer *w;
    struct summary *sum;
    struct feed *feed;
    struct sink sink;
};

static void scan_free(struct scan *sc)
{
    if (sc->feed) {
        feed_dns_free(sc->feed);
        tls_enum_free(sc->feed->tls_enum);
        free(sc->feed);
    }
    workers_free(g_workers);
    g_workers = NULL;
    sink_ahead_free(&sc->sink);
    if (sc->w)
        out_close(sc->w); /* only on error paths: the scan closes it itself */
    tgt_source_free(sc->src);
    SSL_CTX_free(sc->ctx);
    summary_free(sc->sum);
    geo_close(sc->geo);
    resume_free(sc->resume);
}

/* Builds inputs, TLS, output, feed and engines. 0, or the exit status
 * after printing why: SUMMARY_EXIT_USAGE for anything the command line
 * names that cannot be used (an input, list, CA, database or output file,
 * a resolver address), SUMMARY_EXIT_FATAL when the machine lacks memory
 * or descriptors for the engines. */
static int scan_build(struct scan *sc, const struct options *o, int argc, char **argv, struct tgt_port *ports,
                      size_t n_ports)
{
    char err[256];
    int status = SUMMARY_EXIT_USAGE;
    struct tgt_source_opts so = {.seed = o->seed,
                                 .shards = o->shards,
                                 .shard = o->shard,
                                 .no_default_blocklist = o->no_default_blocklist};
    sc->src = tgt_source_new(&so);
    if (!sc->src) {
        fprintf(stderr, "mailtls-scan: out of memory\n");
        return SUMMARY_EXIT_FATAL;
    }
    if (add_inputs(o, sc->src) < 0)
        return SUMMARY_EXIT_USAGE;
    sc->ctx = tls_client_ctx(o->ca_file, err, sizeof err);
    if (!sc->ctx) {
        status = o->ca_file ? SUMMARY_EXIT_USAGE : SUMMARY_EXIT_FATAL; /* else OpenSSL itself failed */
        goto fail;
    }
    bool csv = strcmp(o->format, "csv") == 0;
    if (o->resume) {
        struct resume_counts rc;
        sc->resume = resume_prepare(o->output, csv, ports, n_ports, err, sizeof err, &rc);
        if (!sc->resume)
            goto fail;
        if (!o->quiet)
            fprintf(stderr, "mailtls-scan: resuming %s: %llu records kept, %llu interrupted ones redone%s\n",
                    o->output, (unsigned long long)rc.kept, (unsigned long long)rc.redo,
                    rc.torn ? " (a torn end was cut off)" : "");
    }
    if (o->geoip || o->asn) {
        sc->geo = geo_open(o->geoip, o->asn, err, sizeof err);
        if (!sc->geo)
            goto fail;
    }
    /* background: the loops never wait for the output (engine.h) */
    struct out_options oo = {
        .format = csv ? OUT_CSV : OUT_JSON, .gzip = o->gzip, .append = o->resume, .background = true};
    sc->w = out_open(o->output, &oo, err, sizeof err);
    if (!sc->w)
        goto fail;
    sc->sum = summary_new(o, argc, argv);
    sc->feed = calloc(1, sizeof *sc->feed);
    if (!sc->sum || !sc->feed) {
        snprintf(err, sizeof err, "out of memory");
        status = SUMMARY_EXIT_FATAL;
        goto fail;
    }
    struct feed *feed = sc->feed;
    sc->sink.w = sc->w; /* sc is zeroed: the rest of the sink starts empty */
    sc->sink.sum = sc->sum;
    sc->sink.geo = sc->geo;
    sc->sink.feed = feed;
    feed->src = sc->src;
    feed->ports = ports;
    feed->n_ports = n_ports;
    feed->resume = sc->resume;
    feed->out = (struct engine_io){.ctx = &sc->sink, .emit = sink_emit, .tick = sink_tick};

    struct engine_config cfg = {
        .concurrency = fit_concurrency(o->concurrency),
        .rate = o->rate,
        .per_subnet = o->per_subnet,
        .connect_timeout_ms = (uint32_t)(o->connect_timeout_s * 1000),
        .read_timeout_ms = (uint32_t)(o->read_timeout_s * 1000),
        .total_timeout_ms = (uint32_t)(o->total_timeout_s * 1000),
        .grace_ms = (uint32_t)(o->grace_s * 1000),
        .ehlo_name = o->ehlo_name ? o->ehlo_name : default_ehlo_name(),
        .probe_auth = o->probe_auth,
        .downgrade_checks = o->downgrade_checks,
        .ssl_ctx = sc->ctx,
        .verify_cache_slots = o->verify_cache,
        .backpressure = out_backpressure(sc->w),
    };
    struct engine_io io = {.ctx = feed,
                           .next_job = feed_next,
                           .wait_fd = feed_wait_fd,
                           .emit = feed_emit,
                           .tick = feed_tick,
                           .tls_test_setup = feed_tls_setup,
                           .tls_test_done = feed_tls_done,
                           .tls_test_hello = feed_tls_hello,
                           .tls_test_bytes = feed_tls_bytes};
    if (o->tls_versions || o->ciphers || o->save_certs) {
        struct tls_enum_opts eo = {.versions = o->tls_versions,
                                   .ciphers = o->ciphers,
                                   .save_certs = o->save_certs,
                                   .max_held = cfg.concurrency,
                                   .in_flight_max = cfg.concurrency,
                                   .per_ip = o->per_ip,
                                   .ssl_ctx = sc->ctx};
        feed->tls_enum = tls_enum_new(&eo, sink_emit_held, &sc->sink, err, sizeof err);
        if (!feed->tls_enum)
            goto fail;
    }
    if (feed_dns_setup(feed, o, &io, err, sizeof err) < 0)
        goto fail;
    /* jobs in batches of 16: one turn of the lock per 16 probes for the feed */
    struct workers_out wo = {.ctx = &sc->sink, .prepare = sink_prepare, .batch = 16};
    g_workers = workers_new(&cfg, &io, feed->tls_enum ? NULL : &wo, o->threads, err, sizeof err);
    if (!g_workers) {
        status = SUMMARY_EXIT_FATAL;
        goto fail;
    }
    feed_dns_attach(feed, workers_main_engine(g_workers)); /* c-ares lives in engine 0's loop */
    return 0;
fail:
    fprintf(stderr, "mailtls-scan: %s\n", err);
    return status;
}

/* Before the first packet: say what the scan will cost when it is large,
 * and give the status line its total. */
static void announce_plan(const struct options *o, struct summary *sum, const struct tgt_port *ports,
                          size_t n_ports)
{
    uint64_t targets, records;
    if (!summary_plan(o, ports, n_ports, &targets, &records))
        return;
    summary_set_total(sum, records);
    if (o->quiet || records <= 1000000)
        return;
    char line[256];
    summary_plan_line(line, sizeof line, targets, n_ports, records, o->rate);
    fprintf(stderr, "mailtls-scan: %s\n", line);
}

int main(int argc, char **argv)
{
    malloc_tune(argv); /* first: once more, with the allocator set for OpenSSL (malloc_tune.h) */
    struct options o;
    int rc = options_parse(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? SUMMARY_EXIT_COMPLETE : SUMMARY_EXIT_USAGE;
    char err[256];
    struct tgt_port ports[64];
    size_t n_ports;
    if (tgt_parse_ports(o.ports, ports, 64, &n_ports, err, sizeof err) < 0) {
        fprintf(stderr, "mailtls-scan: --ports: %s\n", err);
        return SUMMARY_EXIT_USAGE;
    }
    struct scan sc = {0};
    int built = scan_build(&sc, &o, argc, argv, ports, n_ports);
    if (built != 0) {
        scan_free(&sc);
        return built;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    announce_plan(&o, sc.sum, ports, n_ports);
    bool is_stdin = reads_stdin(&o), is_tty = is_stdin && isatty(STDIN_FILENO);
    if (is_tty) /* else a user sees nothing happen and cannot tell why */
        fprintf(stderr, "mailtls-scan: reading targets from the terminal, one per line; end with Ctrl-D "
                        "(Ctrl-C stops)\n");
    int run = workers_run(g_workers);
    if (feed_dns_finish(sc.feed) < 0) /* names still in resolution after a stop */
        run = -1;
    if (tls_enum_flush(sc.feed->tls_enum) < 0) /* records still held after a stop */
        run = -1;
    int closed = out_close(sc.w);
    sc.w = NULL;
    if (closed < 0)
        sink_failed(&sc.sink, out_error(NULL));
    if (sc.resume && !o.quiet)
        fprintf(stderr, "mailtls-scan: %llu targets skipped: done in the earlier run\n",
                (unsigned long long)sc.feed->resumed);
    workers_lock_stats(g_workers, stderr);
    struct tgt_counts tc;
    tgt_source_counts(sc.src, &tc);
    struct engine_stats es;
    workers_stats(g_workers, &es);
    summary_finish(sc.sum, &es, &tc, sc.feed);
    int meta = o.metadata ? summary_write_json(sc.sum, o.metadata) : 0;
    int status = SUMMARY_EXIT_FATAL;
    if (run == 0 && closed == 0 && meta == 0) {
        struct summary_end end = {.signal = g_stop_signal,
                                  .input_read = sc.feed->input_read,
                                  .malformed = sc.feed->malformed,
                                  .unresolved = sc.feed->unresolved_records,
                                  .output_is_stdout = strcmp(o.output, "-") == 0,
                                  .input_is_stdin = is_stdin,
                                  .input_is_tty = is_tty,
                                  .argc = argc,
                                  .argv = argv};
        status = summary_exit_status(sc.sum, &end); /* the last line on stderr */
    }
    scan_free(&sc);
    return status;
}
