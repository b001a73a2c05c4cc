/*
 * target.h - turning user input into things to probe.
 *
 * No sockets and no event loop here: everything is testable with strings.
 *
 *  ports:  "-p 25,465,10025/smtp" -> struct tgt_port[]
 *  lines:  one input line -> struct tgt_line (address, prefix, or name)
 *  source: argv targets, files and stdin -> a stream of struct tgt_item,
 *          prefixes expanded in a seeded pseudo-random order, sharded,
 *          checked against the blocklist.
 */
#ifndef MAILTLS_TARGET_H
#define MAILTLS_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../output/record.h"

#define TGT_NAME_MAX 255
#define TGT_ERR_MAX 256

struct tgt_port {
    uint16_t port;
    enum mt_proto proto;
    enum mt_tls_mode mode;
};

/* Standard ports of the protocol table (output/mt_proto.h): 25/587 smtp,
 * 465 smtps, 143 imap, 993 imaps, 110 pop3, 995 pop3s... Returns false for
 * any other port. */
bool tgt_port_infer(uint16_t port, struct tgt_port *out);
/* A protocol table name ("smtp", "smtps", "imap", ...) -> proto and mode. */
bool tgt_proto_parse(const char *s, size_t len, struct tgt_port *out);
/* Parses "25,465,10025/smtp". Returns 0, or -1 with err set (names the bad entry). */
int tgt_parse_ports(const char *list, struct tgt_port *out, size_t max, size_t *n, char *err, size_t errlen);

/* The --ports default: every standard mail port. */
#define TGT_DEFAULT_PORTS "25,465,587,143,993,110,995"
/* One "PORT" or "PORT/PROTO" entry of exactly len bytes. A bare port must be
 * standard (its protocol is inferred into *proto, *has_proto = false); with
 * /PROTO, *has_proto = true. Returns 0, or -1 with err set. */
int tgt_port_spec(const char *s, size_t len, uint16_t *port, bool *has_proto, struct tgt_port *proto,
                  char *err, size_t errlen);
/* Strict host-name check (RFC 1123 syntax, labels <= 63, total <= 253, last
 * label not all digits, one trailing dot allowed and removed). On success
 * copies the name, NUL-terminated, into out and returns 0; else -1 and err. */
int tgt_name_check(const char *s, size_t len, char out[TGT_NAME_MAX + 1], char *err, size_t errlen);

enum tgt_kind { TGT_ADDR, TGT_PREFIX, TGT_NAME };

struct tgt_line {
    enum tgt_kind kind;
    int family;                  /* AF_INET or AF_INET6 (ADDR, PREFIX) */
    unsigned char addr[16];      /* network byte order */
    unsigned prefix_len;         /* PREFIX */
    uint16_t port;               /* 0 = every --ports entry */
    bool has_proto;              /* "IP:PORT/PROTO" given */
    struct tgt_port proto;       /* valid when has_proto */
    char name[TGT_NAME_MAX + 1]; /* "IP,name": SNI name; TGT_NAME: name to resolve */
    char tag[64];                /* zgrab-style "ip,domain,tag,port" */
};

/* Parses one line (no newline). Returns 1 parsed, 0 blank or comment,
 * -1 malformed (err says why, without file/line: the caller adds those). */
int tgt_parse_line(const char *line, size_t len, struct tgt_line *out, char *err, size_t errlen);

/* One thing to probe, as produced by the source. */
struct tgt_item {
    struct tgt_line line; /* kind is TGT_ADDR (prefixes expanded) or TGT_NAME */
    bool blocklisted;     /* the caller writes a `blocklisted` record, no packet */
    bool duplicate;       /* an earlier line named the same target: the caller
                           * writes `duplicate` records, no packet (never
                           * blocklisted at the same time) */
    const char *origin;   /* "file:line" of the input, for messages */
};

struct tgt_source_opts {
    uint64_t seed;   /* permutation seed (--seed) */
    uint32_t shards; /* --shards N (>=1) */
    uint32_t shard;  /* --shard I (0-based, < shards) */
    bool no_default_blocklist;
    size_t dedup_max; /* distinct target lines remembered for the duplicate
                       * check; 0 = TGT_DEDUP_MAX_DEFAULT */
};

/* 2^24 slots of 16 bytes (256 MiB) at 70 % load. */
#define TGT_DEDUP_MAX_DEFAULT ((size_t)11744051)

struct tgt_source;

struct tgt_source *tgt_source_new(const struct tgt_source_opts *opts);
void tgt_source_free(struct tgt_source *s);
/* Inputs are read in the order added. "-" is stdin. */
int tgt_source_add_arg(struct tgt_source *s, const char *target, char *err, size_t errlen);
int tgt_source_add_file(struct tgt_source *s, const char *path, char *err, size_t errlen);
/* Blocklist/allowlist files in ZMap's format (CIDR per line, # comments). */
int tgt_source_load_blocklist(struct tgt_source *s, const char *path, char *err, size_t errlen);
int tgt_source_load_allowlist(struct tgt_source *s, const char *path, char *err, size_t errlen);

enum tgt_next { TGT_NEXT_ITEM, TGT_NEXT_END, TGT_NEXT_MALFORMED, TGT_NEXT_WAIT, TGT_NEXT_ERROR };
/* ITEM: *out filled. END: all input consumed. MALFORMED: err holds
 * "path:line: reason", the caller counts it and calls again. WAIT: stdin is a
 * pipe with no complete line yet; poll tgt_source_fd() for reading. ERROR:
 * an input could not be read (err names it); fatal. */
enum tgt_next tgt_source_next(struct tgt_source *s, struct tgt_item *out, char *err, size_t errlen);
int tgt_source_fd(const struct tgt_source *s); /* -1 unless WAIT was returned */

struct tgt_counts {
    uint64_t lines, malformed, items, blocklisted, other_shard;
    uint64_t duplicates; /* ITEM results flagged duplicate */
    uint64_t dedup_full; /* lines not checked: dedup_max distinct ones seen */
};
void tgt_source_counts(const struct tgt_source *s, struct tgt_counts *out);

/*
 * Source contract details (see README-targets.md):
 *  - tgt_source_new returns NULL on OOM or invalid opts (shards == 0 or
 *    shard >= shards). Unless no_default_blocklist, the built-in list of
 *    IANA special-purpose ranges is loaded (loopback stays allowed).
 *  - tgt_source_add_arg("-") is the same as tgt_source_add_file("-"); any
 *    other argument is one target line, parsed (and reported as "arg N",
 *    N counting argument targets from 1) when next() reaches it.
 *    tgt_source_add_file opens the file at once: a missing or unreadable
 *    path or a directory fails with "path: strerror".
 *  - item->origin points into the source and stays valid only until the
 *    next tgt_source_next call: copy it if you keep it.
 *  - Prefixes are expanded in place; every expanded address is an item of
 *    kind TGT_ADDR with prefix_len 32/128 and the prefix line's port, proto,
 *    name and tag. A fully blocked prefix still yields one (flagged) item
 *    per address.
 *  - Sharding numbers each address or name in input order (k = 0, 1, ...)
 *    and keeps those with k % shards == shard; items of other shards are
 *    skipped silently (counted in other_shard). A name counts once, however
 *    many addresses it resolves to.
 *  - blocklisted is decided here for TGT_ADDR items only: a TGT_NAME item
 *    always has blocklisted = false, and the caller must check every
 *    address it resolves to with tgt_source_is_blocked before connecting.
 *  - counts: lines = lines read (each argument target is one line, blank
 *    and comment lines included); malformed = MALFORMED results; items =
 *    ITEM results, blocklisted ones included; blocklisted = ITEM results
 *    with blocklisted set; other_shard = items skipped for other shards.
 *  - After ERROR the failed input is closed and a further call goes on with
 *    the next input; the caller should treat ERROR as fatal anyway.
 */
/*
 * Duplicates (README-targets.md, "Duplicate targets"): a line whose target
 * (address or prefix, port, protocol/mode when given, SNI/host name; not
 * the tag) equals an earlier line's is yielded with duplicate = true. The
 * check runs before sharding, so every shard flags the same lines. A
 * prefix line is one target: an identical prefix line repeats it (every
 * address flagged), but the addresses inside ranges are not remembered.
 */
/* Same verdict as for input addresses: the blocklist (built-in and
 * --blocklist) and, when an allowlist was loaded, "not allowlisted". */
bool tgt_source_is_blocked(struct tgt_source *s, int family, const unsigned char *addr);

#endif
