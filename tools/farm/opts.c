/*
 * Options: one table drives getopt_long, the defaults, --help, --config and
 * --dump-config (whose output --config reads back unchanged).
 *
 * Config file format: one option per line, "name = value" or "--name=value";
 * blank lines and lines starting with '#' are ignored. Options given on the
 * command line after --config override the file.
 */
#include "farm.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_U32, OPT_U64, OPT_PORTS, OPT_BOOL };

struct opt_def {
    const char *name;
    enum opt_type type;
    const char *def; /* textual default, parsed like a user value; NULL = unset */
    const char *arg; /* argument name for --help */
    const char *help;
    size_t offset;
    bool is_action; /* not a setting: left out of --dump-config */
};

#define OFF(field) offsetof(struct farm_config, field)

/* Keep in sync with README.md "Command line". */
static const struct opt_def opt_table[] = {
    {"bind", OPT_STR, "0.0.0.0", "ADDR",
     "listen address: 0.0.0.0 (every 127.x.y.z; non-loopback destinations are reset), "
     "127.x.y.z or ::1",
     OFF(bind), false},
#define FARM_PROTO_OPTS(ID, id, sports, shelp, iid, iports, ihelp, toolong, regreet)                         \
    {#id, OPT_PORTS, sports, "PORTS", shelp, OFF(ports[FARM_##ID][0]), false},                               \
        {#iid, OPT_PORTS, iports, "PORTS", ihelp, OFF(ports[FARM_##ID][1]), false},
    FARM_PROTO_LIST(FARM_PROTO_OPTS)
#undef FARM_PROTO_OPTS
        {"profiles", OPT_STR,
         "starttls-auth=50,strict=20,implicit-only=5,no-tls=5,legacy-tls=5,delay=5,tarpit=3,"
         "busy=3,garbage=2,reset-tls=2",
         "MIX", "weighted profile mix, name=weight,...", OFF(profiles), false},
    {"seed", OPT_U64, "1", "N", "seed of the address -> profile hash", OFF(seed), false},
    {"delay-ms", OPT_U32, "2000", "MS", "greeting delay of the 'delay' profile", OFF(delay_ms), false},
    {"idle-ms", OPT_U32, "30000", "MS", "close a session idle this long", OFF(idle_ms), false},
    {"max-session-ms", OPT_U32, "120000", "MS", "close any session (tarpit included) after this",
     OFF(max_session_ms), false},
    {"max-sessions", OPT_U32, "30000", "N", "open sessions at most; more are closed at accept",
     OFF(max_sessions), false},
    {"threads", OPT_U32, "1", "N", "worker threads, each with its own epoll and listeners", OFF(threads),
     false},
    {"backlog", OPT_U32, "65535", "N", "listen backlog (capped by net.core.somaxconn)", OFF(backlog), false},
    {"garbage-bytes", OPT_U32, "8192", "N", "length of the garbage profile's line without CRLF",
     OFF(garbage_bytes), false},
    {"stats-interval", OPT_U32, "0", "SEC", "also print the stats line every SEC seconds",
     OFF(stats_interval_s), false},
    {"cert", OPT_STR, NULL, "FILE", "PEM certificate (chain); default: generated P-256", OFF(cert), false},
    {"key", OPT_STR, NULL, "FILE", "PEM private key for --cert", OFF(key), false},
    {"ready-file", OPT_STR, NULL, "PATH", "write JSON with pid and ports once listening", OFF(ready_file),
     false},
    {"debug", OPT_BOOL, NULL, NULL, "log every session phase change to stderr", OFF(debug), false},
    {"print-profile", OPT_STR, NULL, "ADDR", "print the profile of ADDR and exit", OFF(print_profile), true},
    {"list-profiles", OPT_U32, "0", "N", "print 'ADDR PROFILE' for N addresses from --base, exit",
     OFF(list_profiles), true},
    {"base", OPT_STR, "127.0.0.1", "ADDR", "first address for --list-profiles", OFF(base), true},
    {"dump-config", OPT_BOOL, NULL, NULL, "print the settings as a --config file and exit", OFF(dump_config),
     true},
    {"config", OPT_STR, NULL, "FILE", "read settings from FILE (see --dump-config)", 0, true},
    {"help", OPT_BOOL, NULL, NULL, "this help", OFF(help), true},
    {"version", OPT_BOOL, NULL, NULL, "print the version and exit", OFF(version), true},
};

#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

static int parse_ports(const char *text, struct port_list *out)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(text, "none") == 0 || text[0] == '\0')
        return 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || errno || v > 65535 || out->n == PORTS_MAX)
            return -1;
        out->port[out->n++] = (uint16_t)v;
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

static int parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] == '-' || text[0] == '\0')
        return -1;
    unsigned long long v = strtoull(text, &end, 0);
    if (*end != '\0' || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

static int read_config_file(const char *path, struct farm_config *cfg);

static int apply(const struct opt_def *d, const char *value, struct farm_config *cfg)
{
    char *field = (char *)cfg + d->offset;
    uint64_t v;
    if (strcmp(d->name, "config") == 0)
        return read_config_file(value, cfg);
    switch (d->type) {
    case OPT_STR: {
        char **dst = (char **)(void *)field;
        free(*dst);
        *dst = value ? strdup(value) : NULL;
        if (value && !*dst)
            return -1;
        return 0;
    }
    case OPT_U32:
        if (parse_u64(value, UINT32_MAX, &v) != 0)
            return -1;
        *(uint32_t *)(void *)field = (uint32_t)v;
        return 0;
    case OPT_U64:
        if (parse_u64(value, UINT64_MAX, &v) != 0)
            return -1;
        *(uint64_t *)(void *)field = v;
        return 0;
    case OPT_PORTS: return parse_ports(value, (struct port_list *)(void *)field);
    case OPT_BOOL:
        if (value && strcmp(value, "true") != 0 && strcmp(value, "1") != 0) {
            *(bool *)(void *)field = false;
            return 0;
        }
        *(bool *)(void *)field = true;
        return 0;
    }
    return -1;
}

static const struct opt_def *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (strlen(opt_table[i].name) == len && memcmp(opt_table[i].name, name, len) == 0)
            return &opt_table[i];
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int read_config_file(const char *path, struct farm_config *cfg)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mailtls-farm: cannot open config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if (s[0] == '-' && s[1] == '-')
            s += 2;
        char *eq = strchr(s, '=');
        char *name = s, *value = NULL;
        if (eq) {
            *eq = '\0';
            value = trim(eq + 1);
        }
        name = trim(name);
        const struct opt_def *d = find_opt(name, strlen(name));
        if (!d || d->is_action || (d->type != OPT_BOOL && !value) || apply(d, value, cfg) != 0) {
            fprintf(stderr, "mailtls-farm: %s:%u: bad setting '%s'\n", path, lineno, name);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int opts_parse(int argc, char **argv, struct farm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < OPT_COUNT; i++) {
        if (opt_table[i].def && apply(&opt_table[i], opt_table[i].def, cfg) != 0) {
            fprintf(stderr, "mailtls-farm: bad built-in default for --%s\n", opt_table[i].name);
            return -1;
        }
    }
    struct option longopts[OPT_COUNT + 1];
    for (size_t i = 0; i < OPT_COUNT; i++) {
        longopts[i].name = opt_table[i].name;
        longopts[i].has_arg = opt_table[i].type == OPT_BOOL ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 0;
    }
    memset(&longopts[OPT_COUNT], 0, sizeof(longopts[0]));
    optind = 1;
    for (;;) {
        int idx = -1;
        int c = getopt_long(argc, argv, "h", longopts, &idx);
        if (c == -1)
            break;
        if (c == 'h') {
            cfg->help = true;
            continue;
        }
        if (c != 0 || idx < 0)
            return -1; /* getopt already printed why */
        const struct opt_def *d = &opt_table[idx];
        if (apply(d, d->type == OPT_BOOL ? NULL : optarg, cfg) != 0) {
            fprintf(stderr, "mailtls-farm: bad value for --%s: '%s'\n", d->name, optarg ? optarg : "");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mailtls-farm: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

void opts_usage(FILE *out)
{
    fprintf(out, "usage: mailtls-farm [options]\n"
                 "A fake SMTP/IMAP/POP3 server whose behaviour differs per 127.x.y.z address.\n\n");
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_def *d = &opt_table[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        fprintf(out, "  %-24s %s", left, d->help);
        if (d->def && d->type != OPT_BOOL)
            fprintf(out, " [%s]", d->def);
        fputc('\n', out);
    }
    fprintf(out, "\nProfiles:");
    for (unsigned p = 0; p < PROFILE__COUNT; p++)
        fprintf(out, " %s", profile_name((enum profile)p));
    fprintf(out, "\nStats: a JSON line on stdout at SIGTERM/SIGINT (and every --stats-interval).\n");
}

static void print_ports(FILE *out, const struct port_list *pl)
{
    if (pl->n == 0) {
        fputs("none", out);
        return;
    }
    for (unsigned i = 0; i < pl->n; i++)
        fprintf(out, "%s%u", i ? "," : "", pl->port[i]);
}

void opts_dump(FILE *out, const struct farm_config *cfg)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_def *d = &opt_table[i];
        if (d->is_action)
            continue;
        const char *field = (const char *)cfg + d->offset;
        switch (d->type) {
        case OPT_STR: {
            const char *v = *(char *const *)(const void *)field;
            if (v)
                fprintf(out, "%s = %s\n", d->name, v);
            else
                fprintf(out, "# %s is unset\n", d->name);
            break;
        }
        case OPT_U32: fprintf(out, "%s = %u\n", d->name, *(const uint32_t *)(const void *)field); break;
        case OPT_U64:
            fprintf(out, "%s = %llu\n", d->name, (unsigned long long)*(const uint64_t *)(const void *)field);
            break;
        case OPT_PORTS:
            fprintf(out, "%s = ", d->name);
            print_ports(out, (const struct port_list *)(const void *)field);
            fputc('\n', out);
            break;
        case OPT_BOOL:
            fprintf(out, "%s = %s\n", d->name, *(const bool *)(const void *)field ? "true" : "false");
            break;
        }
    }
}

void opts_free(struct farm_config *cfg)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        if (opt_table[i].type == OPT_STR && strcmp(opt_table[i].name, "config") != 0) {
            char **p = (char **)(void *)((char *)cfg + opt_table[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}
