/*
 * Verdicts: the event log read back, one verdict per (session, case).
 *
 * A connection belongs to the session of its last event with a session id
 * (the login user name's, else the one armed or learnt for the address);
 * a connection that never had one belongs to "anon-<client_ip>". Over the
 * connections and user reports of a (session, case):
 *   FAIL            credentials arrived without TLS (plaintext_auth)
 *   WARN            none did, but the user reported a prompt (user_prompt)
 *   PASS            credentials arrived under TLS in an attacked (or
 *                   baseline) connection (tls_auth)
 *   NOT_APPLICABLE  no credentials; the user reported that the client
 *                   could not connect (user_cannot_connect)
 *   INCONCLUSIVE    connections, but no credentials at all
 *   SKIPPED         the session never ran this case
 * Further findings: retry_like (6 or more connections without credentials)
 * and starttls_disrupted (the case's attack was played at least once).
 * Malformed lines and a last line without LF are skipped.
 */
#include "selftest.h"

#include "../../output/escape.h"
#include "../../output/json.h"
#include "../../output/lib/hash.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vconn {
    uint64_t id;
    char session[ST_SESSION_MAX + 1];
    char client_ip[INET6_ADDRSTRLEN];
    char proto[8];
    enum st_case kase;
    enum st_scenario scenario;
    bool is_attack, has_plain_login, has_tls_login, is_disrupted;
};

struct vgroup {
    char session[ST_SESSION_MAX + 8 + INET6_ADDRSTRLEN];
    enum st_scenario scenario;
    bool has_scenario;
    char protos[32];
    char client_ip[INET6_ADDRSTRLEN];
    uint32_t n_conns, n_noauth;
    bool has_plain, has_tls, has_tls_attack, is_disrupted, has_prompt, has_cannot;
};

struct vstate {
    struct vconn *conns;
    size_t n_conns, cap_conns;
    uint32_t *index; /* open addressing: conn id -> conns[i] + 1 */
    size_t index_cap;
    struct vgroup *groups; /* CASE__COUNT per session */
    size_t n_sessions, cap_sessions;
    uint32_t *sindex; /* session name -> groups[(i - 1) * CASE__COUNT] */
    size_t sindex_cap;
};

static struct vconn *conn_find(struct vstate *st, uint64_t id)
{
    if (st->n_conns * 2 >= st->index_cap) {
        size_t cap = st->index_cap ? st->index_cap * 2 : 1024;
        uint32_t *idx = calloc(cap, sizeof(*idx));
        if (!idx)
            return NULL;
        for (size_t i = 0; i < st->n_conns; i++) {
            size_t h = (size_t)(st->conns[i].id * 0x9e3779b97f4a7c15ull) & (cap - 1);
            while (idx[h])
                h = (h + 1) & (cap - 1);
            idx[h] = (uint32_t)i + 1;
        }
        free(st->index);
        st->index = idx;
        st->index_cap = cap;
    }
    size_t h = (size_t)(id * 0x9e3779b97f4a7c15ull) & (st->index_cap - 1);
    for (; st->index[h]; h = (h + 1) & (st->index_cap - 1))
        if (st->conns[st->index[h] - 1].id == id)
            return &st->conns[st->index[h] - 1];
    if (st->n_conns == st->cap_conns) {
        size_t cap = st->cap_conns ? st->cap_conns * 2 : 256;
        struct vconn *c = realloc(st->conns, cap * sizeof(*c));
        if (!c)
            return NULL;
        st->conns = c;
        st->cap_conns = cap;
    }
    struct vconn *c = &st->conns[st->n_conns];
    memset(c, 0, sizeof(*c));
    c->id = id;
    st->index[h] = (uint32_t)++st->n_conns;
    return c;
}

/* The session's groups (CASE__COUNT in a row), made on first sight; found
 * through an open-addressing index on the FNV-1a hash of the name, so a
 * log of many sessions costs O(1) per line. */
static struct vgroup *group_get(struct vstate *st, const char *session, enum st_case k)
{
    size_t len = strlen(session);
    if (st->n_sessions * 2 >= st->sindex_cap) {
        size_t cap = st->sindex_cap ? st->sindex_cap * 2 : 64;
        uint32_t *idx = calloc(cap, sizeof(*idx));
        if (!idx)
            return NULL;
        for (size_t i = 0; i < st->n_sessions; i++) {
            const char *name = st->groups[i * CASE__COUNT].session;
            size_t h = (size_t)hash_fnv1a64(name, strlen(name)) & (cap - 1);
            while (idx[h])
                h = (h + 1) & (cap - 1);
            idx[h] = (uint32_t)i + 1;
        }
        free(st->sindex);
        st->sindex = idx;
        st->sindex_cap = cap;
    }
    size_t h = (size_t)hash_fnv1a64(session, len) & (st->sindex_cap - 1);
    for (; st->sindex[h]; h = (h + 1) & (st->sindex_cap - 1))
        if (strcmp(st->groups[(st->sindex[h] - 1) * CASE__COUNT].session, session) == 0)
            return &st->groups[(st->sindex[h] - 1) * CASE__COUNT + k];
    if (st->n_sessions == st->cap_sessions) {
        size_t cap = st->cap_sessions ? st->cap_sessions * 2 : 16;
        struct vgroup *g = realloc(st->groups, cap * CASE__COUNT * sizeof(*g));
        if (!g)
            return NULL;
        st->groups = g;
        st->cap_sessions = cap;
    }
    struct vgroup *g = &st->groups[st->n_sessions * CASE__COUNT];
    memset(g, 0, CASE__COUNT * sizeof(*g));
    for (int i = 0; i < CASE__COUNT; i++)
        snprintf(g[i].session, sizeof(g[i].session), "%s", session);
    st->sindex[h] = (uint32_t)++st->n_sessions;
    return &g[k];
}

/* A string member into buf, "" when absent or not a string. */
static void get_str(const struct json_doc *d, const char *key, char *buf, size_t cap)
{
    int t = json_get(d, 0, key);
    long n = t >= 0 && d->toks[t].type == JSON_STRING ? json_string(d, t, (unsigned char *)buf, cap - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
}

static void take_line(struct vstate *st, const char *line, size_t len)
{
    struct json_tok toks[64];
    struct json_doc d = {.toks = toks, .cap = 64};
    char err[64], ev[32], kase[16], scen[16], session[64], detail[64], phase[16];
    int64_t id = 0;
    if (json_parse(&d, line, len, err, sizeof(err)) != 0 || toks[0].type != JSON_OBJECT)
        return;
    int t = json_get(&d, 0, "conn");
    if (t < 0 || json_int(&d, t, &id) != 0)
        return;
    get_str(&d, "event", ev, sizeof(ev));
    get_str(&d, "case", kase, sizeof(kase));
    get_str(&d, "scenario", scen, sizeof(scen));
    get_str(&d, "session", session, sizeof(session));
    get_str(&d, "detail", detail, sizeof(detail));
    get_str(&d, "phase", phase, sizeof(phase));
    enum st_case k;
    enum st_scenario s = SCEN_IMMEDIATE;
    if (st_case_parse(kase, false, &k) != 0)
        return;
    st_scenario_parse(scen, &s);
    if (strcmp(ev, "report") == 0) {
        struct vgroup *g = stc_session_valid(session) ? group_get(st, session, k) : NULL;
        if (g) {
            g->has_prompt |= strcmp(detail, "prompt") == 0;
            g->has_cannot |= strcmp(detail, "cannot_connect") == 0;
        }
        return;
    }
    struct vconn *c = conn_find(st, (uint64_t)id);
    if (!c)
        return;
    c->kase = k;
    c->scenario = s;
    c->is_attack = strcmp(phase, "learn") != 0;
    if (stc_session_valid(session))
        snprintf(c->session, sizeof(c->session), "%.*s", ST_SESSION_MAX, session);
    if (!c->client_ip[0])
        get_str(&d, "client_ip", c->client_ip, sizeof(c->client_ip));
    if (!c->proto[0])
        get_str(&d, "proto", c->proto, sizeof(c->proto));
    t = json_get(&d, 0, "tls");
    bool is_tls = t >= 0 && toks[t].type == JSON_TRUE;
    if (strcmp(ev, "login") == 0)
        *(is_tls ? &c->has_tls_login : &c->has_plain_login) = true;
    if (strcmp(ev, "disrupt") == 0)
        c->is_disrupted = true;
}

static void fold_conns(struct vstate *st)
{
    for (size_t i = 0; i < st->n_conns; i++) {
        const struct vconn *c = &st->conns[i];
        char anon[ST_SESSION_MAX + 8 + INET6_ADDRSTRLEN];
        snprintf(anon, sizeof(anon), "anon-%s", c->client_ip);
        struct vgroup *g = group_get(st, c->session[0] ? c->session : anon, c->kase);
        if (!g)
            return;
        g->n_conns++;
        g->n_noauth += !c->has_plain_login && !c->has_tls_login;
        g->has_plain |= c->has_plain_login;
        g->has_tls |= c->has_tls_login;
        g->has_tls_attack |= c->has_tls_login && (c->is_attack || c->kase == CASE_BASELINE);
        g->is_disrupted |= c->is_disrupted;
        if (!g->has_scenario) {
            g->scenario = c->scenario;
            g->has_scenario = true;
        }
        if (!g->client_ip[0])
            snprintf(g->client_ip, sizeof(g->client_ip), "%s", c->client_ip);
        if (c->proto[0] && !strstr(g->protos, c->proto) && strlen(g->protos) + strlen(c->proto) + 2 < 32)
            snprintf(g->protos + strlen(g->protos), 32 - strlen(g->protos), "%s%s", g->protos[0] ? "," : "",
                     c->proto);
    }
}

static const char *verdict_of(const struct vgroup *g)
{
    if (g->has_plain)
        return "FAIL";
    if (g->has_prompt)
        return "WARN";
    if (g->has_tls_attack)
        return "PASS";
    if (g->has_cannot)
        return "NOT_APPLICABLE";
    return g->n_conns ? "INCONCLUSIVE" : "SKIPPED";
}

static void findings_of(const struct vgroup *g, char *buf, size_t cap, bool is_json)
{
    const struct {
        bool on;
        const char *name;
    } f[] = {{g->has_plain, "plaintext_auth"}, {g->has_tls, "tls_auth"},
             {g->n_noauth >= 6, "retry_like"}, {g->is_disrupted, "starttls_disrupted"},
             {g->has_prompt, "user_prompt"},   {g->has_cannot, "user_cannot_connect"}};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].on && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, is_json ? "%s\"%s\"" : "%s%s", n ? "," : "", f[i].name);
}

static void print_group(const struct vgroup *g, enum st_case k, enum st_scenario session_scen, bool is_json)
{
    char findings[256], esc[OUT_JSON_ESCAPE_MAX(sizeof(g->session))];
    findings_of(g, findings, sizeof(findings), is_json);
    const char *scen = st_scenario_name(g->has_scenario ? g->scenario : session_scen);
    if (!is_json) {
        printf("%-32s %-9s %-10s %-15s %-10s %s\n", g->session, st_case_name(k), scen, verdict_of(g),
               g->protos[0] ? g->protos : "-", findings[0] ? findings : "-");
        return;
    }
    size_t elen = out_json_escape(esc, sizeof(esc), (const unsigned char *)g->session, strlen(g->session));
    printf("{\"session\":\"%.*s\",\"case\":\"%s\",\"scenario\":\"%s\",\"verdict\":\"%s\",\"findings\":[%s],"
           "\"proto\":\"%s\",\"client_ip\":\"%s\",\"connects\":%u}\n",
           (int)elen, esc, st_case_name(k), scen, verdict_of(g), findings, g->protos, g->client_ip,
           g->n_conns);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s verdict: %s (see %s --help)\n", ST_PROG, msg, ST_PROG);
    return 2;
}

int verdict_main(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 'd'},
                                         {"log", required_argument, NULL, 'l'},
                                         {"session", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *log = NULL, *only = NULL, *format = "json";
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': dir = optarg; break;
        case 'l': log = optarg; break;
        case 's': only = optarg; break;
        case 'f': format = optarg; break;
        default: return 2;
        }
    }
    if (!dir == !log)
        return usage_error("give --state DIR or --log FILE");
    if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
        return usage_error("--format is json or text");
    char path[4096];
    if (dir)
        snprintf(path, sizeof(path), "%s/events.jsonl", dir);
    FILE *f = fopen(log ? log : path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", ST_PROG, log ? log : path, strerror(errno));
        return 1;
    }
    struct vstate st;
    memset(&st, 0, sizeof(st));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0)
        if (line[n - 1] == '\n')
            take_line(&st, line, (size_t)n);
    free(line);
    fclose(f);
    fold_conns(&st);
    bool is_json = strcmp(format, "json") == 0;
    if (!is_json)
        printf("%-32s %-9s %-10s %-15s %-10s %s\n", "session", "case", "scenario", "verdict", "proto",
               "findings");
    for (size_t i = 0; i < st.n_sessions; i++) {
        const struct vgroup *g = &st.groups[i * CASE__COUNT];
        if (only && strcmp(g->session, only) != 0)
            continue;
        enum st_scenario scen = SCEN_IMMEDIATE;
        for (int k = 0; k < CASE__COUNT; k++)
            if (g[k].has_scenario)
                scen = g[k].scenario;
        for (int k = 0; k < CASE__COUNT; k++)
            print_group(&g[k], (enum st_case)k, scen, is_json);
    }
    free(st.conns);
    free(st.index);
    free(st.groups);
    free(st.sindex);
    return 0;
}

int report_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 'd'},    {"session", required_argument, NULL, 's'},
        {"case", required_argument, NULL, 'c'},     {"prompt", no_argument, NULL, 'p'},
        {"cannot-connect", no_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL, *session = NULL, *kase = NULL, *what = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'd')
            dir = optarg;
        else if (o == 's')
            session = optarg;
        else if (o == 'c')
            kase = optarg;
        else if (o == 'p' || o == 'n')
            what = what ? "" : (o == 'p' ? "prompt" : "cannot_connect");
        else
            return 2;
    }
    struct st_evctx e = {.session = session};
    if (!dir || !session || !kase || !what || !*what) {
        fprintf(stderr,
                "%s report: needs --state DIR --session S --case C and one of --prompt, "
                "--cannot-connect\n",
                ST_PROG);
        return 2;
    }
    if (!stc_session_valid(session) || st_case_parse(kase, false, &e.kase) != 0) {
        fprintf(stderr, "%s report: bad --session or --case\n", ST_PROG);
        return 2;
    }
    e.is_attack = true;
    if (evlog_open(dir) != 0)
        return 1;
    evlog_write(&e, EV_REPORT, NULL, what);
    evlog_close();
    return 0;
}
