/*
 * mailtls-selftest: subcommands, --help, --version.
 *
 * serve runs the server; arm writes the mode store; verdict and report
 * read and append the event log. main() stays short: pick the
 * subcommand, parse, validate, run.
 */
#include "selftest.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char help_text[] =
    "Usage: mailtls-selftest serve --state DIR --listen PROTO:ADDR:PORT... [OPTIONS]\n"
    "   or: mailtls-selftest arm --state DIR --client IP|--session S --case CASE\n"
    "   or: mailtls-selftest verdict --state DIR [--session S] [--format json|text]\n"
    "   or: mailtls-selftest report --state DIR --session S --case CASE --prompt\n"
    "Plays a STARTTLS attacker to show whether a mail client leaks its password.\n"
    "\n"
    "Serve:\n"
    "  --state DIR             directory of events.jsonl and the mode store\n"
    "                          (modes/), created if missing\n"
    "  --listen PROTO:ADDR:PORT  a listener, repeatable; PROTO is smtp,\n"
    "                          submission, smtps, imap, imaps, pop3 or pop3s;\n"
    "                          [ADDR] for IPv6; port 0 picks a free one\n"
    "  --case CASE             case for clients with no armed mode: baseline,\n"
    "                          t1, t2, t3, t4 or guided (default: baseline)\n"
    "  --scenario SCEN         immediate or two_phase for those clients\n"
    "                          (default: immediate)\n"
    "  --cert PEM, --key PEM   server certificate chain and key (default: a\n"
    "                          fresh self-signed P-256 certificate)\n"
    "  --ready-file FILE       written once listening: 'kind addr port' lines\n"
    "  --max-conns N           open connections in all (default: 256)\n"
    "  --max-conns-per-ip N    open connections per client address (default: 10)\n"
    "  --ip-rate R             new connections per second per client address\n"
    "                          (default: 2)\n"
    "  --ip-burst N            burst of new connections per address (default: 30)\n"
    "  --idle-timeout S        close after S seconds without input (default: 60)\n"
    "  --handshake-timeout S   TLS handshake limit in seconds (default: 15)\n"
    "  --session-timeout S     connection lifetime limit in seconds (default: 600)\n"
    "  --t3-drop               t3 closes the connection at STARTTLS instead of\n"
    "                          refusing it\n"
    "\n"
    "Arm:\n"
    "  --client IP             client address the mode applies to; without it\n"
    "                          the mode is the session's: it applies where that\n"
    "                          session last logged in from\n"
    "  --case CASE             baseline, t1, t2, t3, t4, guided, or off to\n"
    "                          remove the mode\n"
    "  --scenario SCEN         immediate or two_phase (default: immediate)\n"
    "  --session S             with --client: session id for that address's\n"
    "                          connections that log in with no test-S name\n"
    "  --ttl S                 seconds the mode stays active (default: 600)\n"
    "\n"
    "Verdict and report:\n"
    "  --session S             only this session (verdict), or the session\n"
    "                          reported on (report)\n"
    "  --format FMT            json (one object per line) or text (default: json)\n"
    "  --log FILE              read this event log instead of DIR/events.jsonl\n"
    "  --prompt                the user saw a prompt or warning (verdict WARN)\n"
    "  --cannot-connect        the client could not connect (NOT_APPLICABLE)\n"
    "\n"
    "General:\n"
    "  -h, --help              print this help and exit\n"
    "  -V, --version           print the version and exit\n"
    "\n"
    "Examples:\n"
    "  mailtls-selftest serve --state /tmp/st --listen smtp:127.0.0.1:2525\n"
    "      serve SMTP with STARTTLS on a high port, baseline case\n"
    "  mailtls-selftest arm --state /tmp/st --client 127.0.0.1 --case t1 --ttl 60\n"
    "      strip STARTTLS for that client's next connections\n"
    "  mailtls-selftest verdict --state /tmp/st --format text\n"
    "      one verdict line per session and case\n"
    "\n"
    "Exit status:\n"
    "  0 success, 1 run-time error (a listener or file failed), 2 usage error\n";

enum {
    O_STATE = 256,
    O_LISTEN,
    O_CASE,
    O_SCENARIO,
    O_CERT,
    O_KEY,
    O_READY,
    O_MAXC,
    O_MAXIP,
    O_RATE,
    O_BURST,
    O_IDLE,
    O_HS,
    O_SESSTO,
    O_T3DROP,
    O_CLIENT,
    O_SESSION,
    O_TTL,
};

static const struct option serve_opts[] = {
    {"state", required_argument, NULL, O_STATE},
    {"listen", required_argument, NULL, O_LISTEN},
    {"case", required_argument, NULL, O_CASE},
    {"scenario", required_argument, NULL, O_SCENARIO},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"ready-file", required_argument, NULL, O_READY},
    {"max-conns", required_argument, NULL, O_MAXC},
    {"max-conns-per-ip", required_argument, NULL, O_MAXIP},
    {"ip-rate", required_argument, NULL, O_RATE},
    {"ip-burst", required_argument, NULL, O_BURST},
    {"idle-timeout", required_argument, NULL, O_IDLE},
    {"handshake-timeout", required_argument, NULL, O_HS},
    {"session-timeout", required_argument, NULL, O_SESSTO},
    {"t3-drop", no_argument, NULL, O_T3DROP},
    {"client", required_argument, NULL, O_CLIENT},
    {"session", required_argument, NULL, O_SESSION},
    {"ttl", required_argument, NULL, O_TTL},
    {NULL, 0, NULL, 0},
};

static int bad(const char *what, const char *val)
{
    fprintf(stderr, "%s: bad %s: %s (see %s --help)\n", ST_PROG, what, val, ST_PROG);
    return 2;
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

struct parsed {
    struct st_config cfg;
    const char *client, *session;
    bool has_case, is_off;
    enum st_case kase;
    double ttl;
};

static int parse_one(struct parsed *p, int o, const char *arg)
{
    struct st_config *cfg = &p->cfg;
    double v;
    switch (o) {
    case O_STATE: cfg->state_dir = arg; return 0;
    case O_LISTEN:
        if (cfg->n_lst >= ST_LISTEN_MAX || serve_parse_listen(arg, &cfg->lst[cfg->n_lst]) != 0)
            return bad("--listen", arg);
        cfg->n_lst++;
        return 0;
    case O_CASE:
        p->has_case = true;
        p->is_off = strcmp(arg, "off") == 0;
        return p->is_off || st_case_parse(arg, true, &p->kase) == 0 ? 0 : bad("--case", arg);
    case O_SCENARIO: return st_scenario_parse(arg, &cfg->default_scenario) == 0 ? 0 : bad("--scenario", arg);
    case O_T3DROP: cfg->is_t3_drop = true; return 0;
    case O_CERT: cfg->cert = arg; return 0;
    case O_KEY: cfg->key = arg; return 0;
    case O_READY: cfg->ready_file = arg; return 0;
    case O_CLIENT: p->client = arg; return 0;
    case O_SESSION:
        p->session = arg;
        return stc_session_valid(arg) ? 0 : bad("--session (1-32 of A-Z a-z 0-9 _ -)", arg);
    case O_RATE: return number(arg, 0, 1e6, &cfg->ip_rate) == 0 ? 0 : bad("--ip-rate", arg);
    default: break;
    }
    if (number(arg, 1, 1e7, &v) != 0)
        return bad("number", arg);
    uint32_t u = (uint32_t)v;
    if (o == O_MAXC)
        cfg->max_conns = u;
    else if (o == O_MAXIP)
        cfg->max_conns_per_ip = u;
    else if (o == O_BURST)
        cfg->ip_burst = v;
    else if (o == O_IDLE)
        cfg->idle_s = u;
    else if (o == O_HS)
        cfg->handshake_s = u;
    else if (o == O_SESSTO)
        cfg->session_s = u;
    else if (o == O_TTL)
        p->ttl = v;
    return 0;
}

static int parse(int argc, char **argv, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    struct st_config *cfg = &p->cfg;
    cfg->max_conns = 256;
    cfg->max_conns_per_ip = 10;
    cfg->ip_rate = 2;
    cfg->ip_burst = 30;
    cfg->idle_s = 60;
    cfg->handshake_s = 15;
    cfg->session_s = 600;
    p->ttl = 600;
    int o;
    while ((o = getopt_long(argc, argv, "", serve_opts, NULL)) != -1) {
        if (o == '?' || parse_one(p, o, optarg) != 0)
            return 2;
    }
    if (optind != argc)
        return bad("argument", argv[optind]);
    if (!cfg->state_dir) {
        fprintf(stderr, "%s: --state DIR is needed\n", ST_PROG);
        return 2;
    }
    if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s: %s\n", ST_PROG, cfg->state_dir, strerror(errno));
        return 1;
    }
    return 0;
}

static int serve_main(int argc, char **argv)
{
    struct parsed p;
    int rc = parse(argc, argv, &p);
    if (rc)
        return rc;
    if (p.cfg.n_lst == 0 || p.is_off || !p.cfg.cert != !p.cfg.key) {
        fprintf(stderr, "%s serve: needs --listen, a case other than off, and --cert with --key\n", ST_PROG);
        return 2;
    }
    p.cfg.default_case = p.has_case ? p.kase : CASE_BASELINE;
    return serve_run(&p.cfg);
}

static int arm_main(int argc, char **argv)
{
    struct parsed p;
    int rc = parse(argc, argv, &p);
    if (rc)
        return rc;
    if ((!p.client && !p.session) || !p.has_case) {
        fprintf(stderr, "%s arm: needs --client IP (or --session S) and --case CASE\n", ST_PROG);
        return 2;
    }
    /* Without --client the mode belongs to the session (see mode.c). */
    char key[8 + ST_SESSION_MAX + 1];
    snprintf(key, sizeof(key), "session-%s", p.session ? p.session : "");
    const char *k = p.client ? p.client : key;
    if (p.is_off)
        return mode_disarm(p.cfg.state_dir, k) == 0 ? 0 : 1;
    struct st_mode m = {.kase = p.kase, .scenario = p.cfg.default_scenario};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m.armed_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    m.expires_s = (uint64_t)ts.tv_sec + (uint64_t)p.ttl;
    if (p.session)
        snprintf(m.session, sizeof(m.session), "%s", p.session);
    return mode_arm(p.cfg.state_dir, k, &m) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(help_text, stdout);
        return 0;
    }
    if (strcmp(sub, "-V") == 0 || strcmp(sub, "--version") == 0) {
        printf("mailtls-selftest %s\n", MAILTLS_VERSION);
        return 0;
    }
    argc--;
    argv++;
    if (strcmp(sub, "serve") == 0)
        return serve_main(argc, argv);
    if (strcmp(sub, "arm") == 0)
        return arm_main(argc, argv);
    if (strcmp(sub, "verdict") == 0)
        return verdict_main(argc, argv);
    if (strcmp(sub, "report") == 0)
        return report_main(argc, argv);
    fprintf(stderr, "%s: give a subcommand: serve, arm, verdict or report (see --help)\n", ST_PROG);
    return 2;
}
