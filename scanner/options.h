/*
 * options.h - the command line, described once.
 *
 * One table (options.c) gives every option its long name, short flag,
 * argument, default and help line; getopt_long, --help and the README's
 * option list all come from it.
 */
#ifndef MAILTLS_OPTIONS_H
#define MAILTLS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#define OPT_MAX_INPUTS 64
#define OPT_MAX_RESOLVERS 8
#define OPT_MAX_THREADS 64 /* workers.c WORKERS_MAX */
/* The second line of every program's --version (LICENSE) */
#define MAILTLS_LICENSE_LINE "License: Apache-2.0 <https://www.apache.org/licenses/LICENSE-2.0>"

struct options {
    const char *ports;
    const char *inputs[OPT_MAX_INPUTS];
    int n_inputs;
    const char *output;
    const char *format;
    bool gzip;
    uint32_t concurrency;
    uint32_t threads;
    uint32_t per_subnet;
    double rate;
    double connect_timeout_s, read_timeout_s, total_timeout_s, grace_s;
    const char *ehlo_name;
    bool probe_auth;
    bool downgrade_checks;
    const char *ca_file;
    uint32_t verify_cache; /* --verify-cache: slots per loop */
    uint64_t seed;
    uint32_t shards, shard;
    const char *shard_from; /* --shard auto: the environment variable it came from */
    const char *blocklist, *allowlist;
    bool no_default_blocklist;
    const char *metadata;
    const char *geoip, *asn;
    bool resume;
    bool quiet;
    bool status_line;
    bool schema;
    bool debug;                 /* --debug: phase-transition trace on stderr (conn.c) */
    bool tls_versions, ciphers; /* TLS enumeration (scanner/TLS-ENUM.md) */
    const char *save_certs;
    uint32_t per_ip;
    /* DNS (scanner/DNS.md): names are resolved only through --resolver */
    const char *resolvers[OPT_MAX_RESOLVERS];
    int n_resolvers;
    bool mx;
    bool policy;           /* --policy: per-domain DNSSEC/DANE/MTA-STS/TLS-RPT facts (scanner/DNS.md) */
    uint32_t mta_sts_port; /* --mta-sts-port: 443 but for tests */
    uint32_t dns_concurrency, dns_retries;
    double dns_rate, dns_timeout_s;
    char **targets; /* remaining arguments */
    int n_targets;
};

/* Parses argv. Returns 0 to run, 1 when it already printed --help,
 * --version or --schema (exit 0), -1 after printing a one-line error. */
int options_parse(int argc, char **argv, struct options *o);
/* --threads default for a machine with `cores` online cores (sysconf's
 * answer, -1 on error): that many, at most OPT_MAX_THREADS, at least 1. */
uint32_t options_default_threads(long cores);

#endif
