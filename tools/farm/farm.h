/*
 * mailtls-farm: shared declarations.
 *
 * The farm is a fake mail server for loopback tests and benchmarks. It
 * listens for SMTP, IMAP and POP3 (plaintext with STARTTLS, and implicit
 * TLS) and gives every destination address of 127.0.0.0/8 its own
 * behaviour ("profile"), picked by a seeded hash of the address. One
 * process therefore stands in for thousands of different servers.
 *
 * Module map (one job per file):
 *   opts.c     options table: getopt_long, --help, --dump-config, --config
 *   profile.c  profile names, the --profiles mix, address -> profile hash
 *   tlsctx.c   SSL_CTX set-up, in-memory self-signed ECDSA P-256 cert
 *   listen.c   listener sockets, rlimits, somaxconn check, ready file
 *   loop.c     per-thread epoll loop: accept, timers, dispatch, shutdown
 *   session.c  one session's I/O driver: reads, writes, TLS, phases, close
 *   smtp.c, imap.c, pop3.c   what each protocol answers
 *   stats.c    counters and the JSON stats line
 *   main.c     parse, validate, build, run
 */
#ifndef FARM_H
#define FARM_H

#include "../../output/lib/heap.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* ---------------------------------------------------------------- profiles */

#define FARM_PROFILES(X)                                                                                     \
    X(STARTTLS_AUTH, "starttls-auth")                                                                        \
    X(STRICT, "strict")                                                                                      \
    X(IMPLICIT_ONLY, "implicit-only")                                                                        \
    X(NO_TLS, "no-tls")                                                                                      \
    X(LEGACY_TLS, "legacy-tls")                                                                              \
    X(DELAY, "delay")                                                                                        \
    X(TARPIT, "tarpit")                                                                                      \
    X(BUSY, "busy")                                                                                          \
    X(GARBAGE, "garbage")                                                                                    \
    X(RESET_TLS, "reset-tls")

enum profile {
#define X(id, name) PROFILE_##id,
    FARM_PROFILES(X)
#undef X
        PROFILE__COUNT
};

#define MIX_MAX_ENTRIES 32

/* A weighted list of profiles; order matters for the pick (see profile.c). */
struct profile_mix {
    unsigned n;
    enum profile profile[MIX_MAX_ENTRIES];
    uint32_t weight[MIX_MAX_ENTRIES];
    uint64_t total_weight;
};

const char *profile_name(enum profile p);
int profile_from_name(const char *name, size_t len, enum profile *out);
/* Parses "name=weight,name=weight". Returns 0, or -1 with a message in err. */
int profile_mix_parse(const char *spec, struct profile_mix *mix, char *err, size_t err_len);
/* The key of an address: IPv4 in host byte order; IPv6 folded (see .c). */
uint64_t profile_key_v4(uint32_t addr_host_order);
uint64_t profile_key_v6(const struct in6_addr *a);
enum profile profile_pick(const struct profile_mix *mix, uint64_t seed, uint64_t key);
/* Parses a textual address (IPv4 or IPv6) into a key. Returns 0 or -1. */
int profile_key_from_text(const char *text, uint64_t *key);

/* What a profile does before TLS. */
bool profile_offers_starttls(enum profile p);
bool profile_offers_auth_plain(enum profile p); /* AUTH advertised on plaintext */
bool profile_serves_implicit(enum profile p);   /* completes implicit TLS handshakes */

/* ------------------------------------------------------------------ config */

#define PORTS_MAX 8

/*
 * The farm's protocol table: one row per protocol it serves. Adding one is
 * this row plus tools/farm/<id>.c defining <id>_greet, <id>_line and
 * <id>_busy (session.c finds them through the row). Each row makes two
 * listener kinds: <id> (cleartext, STARTTLS offered) and <implicit_id>
 * (implicit TLS), each with its port option and default ('none' = off).
 *   X(ID, id, default ports, help, implicit_id, default ports, help,
 *     reply to an over-long line, greets again after STARTTLS)
 * The last is for protocols whose server speaks first after the handshake
 * (ManageSieve re-sends its capabilities, RFC 5804 2.2).
 */
#define FARM_PROTO_LIST(X)                                                                                   \
    X(SMTP, smtp, "2525,2587", "SMTP ports with STARTTLS ('none' disables)", smtps, "2465",                  \
      "SMTP implicit-TLS ports", "500 5.5.0 Line too long\r\n", false)                                       \
    X(IMAP, imap, "2143", "IMAP ports with STARTTLS", imaps, "2993", "IMAP implicit-TLS ports",              \
      "* BYE Line too long\r\n", false)                                                                      \
    X(POP3, pop3, "2110", "POP3 ports with STLS", pop3s, "2995", "POP3 implicit-TLS ports",                  \
      "-ERR Line too long\r\n", false)                                                                       \
    X(LMTP, lmtp, "none", "LMTP ports with STARTTLS", lmtps, "none", "LMTP implicit-TLS ports",              \
      "500 5.5.0 Line too long\r\n", false)                                                                  \
    X(SIEVE, sieve, "none", "ManageSieve ports with STARTTLS", sieves, "none",                               \
      "ManageSieve implicit-TLS ports", "BYE \"Line too long\"\r\n", true)

/* FARM_ names: the scanner's PROTO_ names are a different table. */
enum farm_proto {
#define FARM_PROTO_ENUM(ID, id, sports, shelp, iid, iports, ihelp, toolong, regreet) FARM_##ID,
    FARM_PROTO_LIST(FARM_PROTO_ENUM)
#undef FARM_PROTO_ENUM
        FARM_PROTO_COUNT
};

struct port_list {
    unsigned n;
    uint16_t port[PORTS_MAX];
};

struct farm_config {
    char *bind;
    struct port_list ports[FARM_PROTO_COUNT][2]; /* [proto][0: STARTTLS, 1: implicit TLS] */
    char *profiles;
    uint64_t seed;
    uint32_t delay_ms;
    uint32_t idle_ms;
    uint32_t max_session_ms;
    uint32_t max_sessions;
    uint32_t threads;
    uint32_t backlog;
    uint32_t garbage_bytes;
    uint32_t stats_interval_s;
    char *cert;
    char *key;
    char *ready_file;
    char *print_profile;
    uint32_t list_profiles;
    char *base;
    bool debug;
    bool dump_config;
    bool help;
    bool version;

    /* Derived by main() after parsing. */
    struct profile_mix mix;
};

/* Fills cfg from defaults, then argv. Returns 0, or -1 after printing why. */
int opts_parse(int argc, char **argv, struct farm_config *cfg);
void opts_usage(FILE *out);
void opts_dump(FILE *out, const struct farm_config *cfg);
void opts_free(struct farm_config *cfg);

/* --------------------------------------------------------------- listeners */

#define LISTENERS_MAX 48

/* One configured port; every worker has its own socket for each. */
struct listen_spec {
    enum farm_proto proto;
    bool is_implicit;
    uint16_t port;    /* resolved: the real port even when 0 was asked */
    const char *kind; /* "smtp", "smtps", ... */
};

struct listen_set {
    unsigned n;
    struct listen_spec spec[LISTENERS_MAX];
};

/* Builds the spec list from cfg (ports not yet resolved). */
void listen_specs_from_config(const struct farm_config *cfg, struct listen_set *set);
/* Opens one socket per spec; resolves port 0 on the first call. Returns 0/-1. */
int listen_open_all(const struct farm_config *cfg, struct listen_set *set, int *fds);
void listen_raise_nofile(uint32_t want);
void listen_check_somaxconn(uint32_t backlog);
int listen_write_ready_file(const char *path, const struct farm_config *cfg, const struct listen_set *set);
/* Is this a loopback address? Used to refuse anything that is not. */
bool listen_is_loopback(const struct sockaddr_storage *ss);

/* --------------------------------------------------------------------- TLS */

/* Creates the modern (TLS 1.2-1.3) and legacy (TLS 1.0-1.1) contexts, from
 * files when given, else with a fresh self-signed P-256 certificate. */
int tlsctx_init(const char *cert_file, const char *key_file, SSL_CTX **modern, SSL_CTX **legacy);

/* ------------------------------------------------------------------- stats */

#define FARM_ENDS(X)                                                                                         \
    X(COMPLETED, "completed")         /* QUIT / LOGOUT answered */                                           \
    X(SERVER_CLOSED, "server_closed") /* the profile ended it on purpose */                                  \
    X(CLIENT_CLOSED, "client_closed") /* EOF or reset from the client */                                     \
    X(TIMEOUT, "timeout")             /* idle or max-session deadline */                                     \
    X(TLS_FAILED, "tls_failed")       /* handshake error */                                                  \
    X(ERROR, "error")                 /* over-long line, I/O error */                                        \
    X(SHUTDOWN, "open_at_stop")       /* still open when the farm stopped */

enum sess_end {
#define X(id, name) END_##id,
    FARM_ENDS(X)
#undef X
        END__COUNT
};

/* Counters of one worker; only that worker writes, main() reads (relaxed). */
struct farm_stats {
    _Atomic uint64_t accepted_by_listener[LISTENERS_MAX];
    _Atomic uint64_t accepted_by_profile[PROFILE__COUNT];
    _Atomic uint64_t ended[END__COUNT];
    _Atomic uint64_t tls_handshakes;
    _Atomic uint64_t tls_handshakes_legacy;
    _Atomic uint64_t starttls_go_ahead;
    _Atomic uint64_t auth_creds_plaintext; /* credentials received before TLS */
    _Atomic uint64_t auth_creds_tls;
    _Atomic uint64_t plaintext_after_starttls; /* bytes pipelined past STARTTLS */
    _Atomic uint64_t rejected_full;
    _Atomic uint64_t rejected_nonlocal;
};

#define STAT_ADD(st, field, v)                                                                               \
    atomic_store_explicit(&(st)->field, atomic_load_explicit(&(st)->field, memory_order_relaxed) + (v),      \
                          memory_order_relaxed)
#define STAT_INC(st, field) STAT_ADD(st, field, 1)

const char *end_name(enum sess_end e);
/* Prints one JSON line summing all workers' counters. */
void stats_print(FILE *out, const struct farm_config *cfg, const struct listen_set *set,
                 struct farm_stats *const *per_worker, unsigned n_workers, uint64_t uptime_ms, bool is_final);

/* ------------------------------------------------------------------ worker */

struct sess;

/* Session deadlines: the project's one intrusive min-heap (output/lib/heap.h),
 * keyed by sess.heap_key at position sess.heap_idx; heap_set after a key
 * changed in either direction. */

enum obj_kind { OBJ_LISTENER = 1, OBJ_SESSION, OBJ_WAKEUP };

struct listener {
    enum obj_kind kind; /* first field: epoll data points at it */
    int fd;
    unsigned spec_idx;
};

struct shared {
    const struct farm_config *cfg;
    const struct listen_set *listeners;
    SSL_CTX *tls_modern;
    SSL_CTX *tls_legacy;
    atomic_uint active_sessions; /* across workers, capped at max_sessions */
    atomic_bool stop;
};

struct worker {
    unsigned id;
    int epfd;
    int wake_fd; /* eventfd, written by main() to stop the loop */
    enum obj_kind wake_kind;
    int reserve_fd; /* spare fd released when accept() hits EMFILE */
    struct shared *sh;
    struct listener lst[LISTENERS_MAX];
    unsigned n_lst;
    uint64_t now_ms;
    struct heap timers;
    struct sess *free_list;  /* recycled session structs */
    struct sess *dead_list;  /* closed in this batch, recycled after it */
    struct sess *ready_list; /* ran out of spins, continue next turn */
    struct farm_stats stats;
};

int worker_init(struct worker *w, unsigned id, struct shared *sh, const int *listen_fds);
void *worker_main(void *arg);
void worker_free(struct worker *w);
uint64_t farm_now_ms(void);

/* ----------------------------------------------------------------- session */

#define RX_CAP 1024       /* longest client line accepted, CRLF included */
#define TX_CAP 2048       /* queued replies; a line is processed only with room */
#define TX_REPLY_ROOM 768 /* the longest reply any command produces */

#define SESS_PHASES(X)                                                                                       \
    X(AWAIT_DELAY)          /* greeting held back by the delay profile */                                    \
    X(AWAIT_HANDSHAKE)      /* TLS handshake in progress */                                                  \
    X(AWAIT_COMMAND)        /* reading client lines */                                                       \
    X(AWAIT_FLUSH_THEN_TLS) /* STARTTLS go-ahead queued */                                                   \
    X(AWAIT_TLS_BYTES)      /* reset-tls: reset once the ClientHello arrives */                              \
    X(AWAIT_FLUSH_THEN_CLOSE)                                                                                \
    X(AWAIT_CLIENT_LEAVE) /* tarpit/garbage: discard input, answer nothing */

enum sess_phase {
#define X(id) PHASE_##id,
    SESS_PHASES(X)
#undef X
};

enum auth_step {
    AUTH_NONE,
    AUTH_AWAIT_PLAIN,      /* PLAIN without initial response: wait for it */
    AUTH_AWAIT_LOGIN_USER, /* LOGIN: username */
    AUTH_AWAIT_LOGIN_PASS, /* LOGIN: password */
};

struct sess {
    enum obj_kind kind; /* first field: epoll data points at it */
    bool is_dead;
    bool is_tls;
    bool is_ready_queued;
    bool has_greeted_ehlo; /* SMTP: EHLO/HELO seen since the last reset */
    bool has_user;         /* POP3: USER given */
    enum farm_proto proto;
    bool is_implicit;
    enum profile profile;
    enum sess_phase phase;
    enum auth_step auth;
    enum sess_end end_after_flush;
    int fd;
    unsigned listener_idx;
    uint32_t events; /* current epoll interest */
    bool tls_wants_write;
    struct worker *w;
    SSL *ssl;
    uint64_t key;   /* profile key of the local address */
    uint32_t addr4; /* local IPv4, host order (0 for IPv6) */
    uint64_t start_ms, last_ms, delay_until_ms;
    uint64_t heap_key;
    uint32_t heap_idx;
    uint64_t garbage_left;
    uint64_t garbage_rng;
    struct sess *next;       /* free or dead list */
    struct sess *ready_next; /* ready list; a dead session may still be on it */
    char imap_tag[32];
    size_t rx_len, tx_len, tx_off;
    char rx[RX_CAP];
    char tx[TX_CAP];
};

/* Set up a freshly accepted session and run it until it must wait. */
void sess_start(struct sess *s);
/* Called by the loop on epoll readiness or when re-queued. */
void sess_run(struct sess *s, uint32_t events);
/* Called by the loop when the heap says s->heap_key has passed. */
void sess_on_deadline(struct sess *s);
/* The real deadline; the heap key is never later than this. */
uint64_t sess_deadline(const struct sess *s);
/* Close now; the struct is recycled after the current event batch. */
void sess_end(struct sess *s, enum sess_end why, bool is_reset);

/* Queue a reply (protocol code calls these). Silently truncated on overflow,
 * which cannot happen while TX_REPLY_ROOM covers the longest reply. */
void sess_send(struct sess *s, const char *text);
void sess_sendf(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reply already queued; finish the session once it is flushed. */
void sess_close_after_flush(struct sess *s, enum sess_end why);
/* Go-ahead already queued; start TLS (or reset, for reset-tls) after it. */
void sess_starttls_after_flush(struct sess *s);
/* Host name shown in banners, derived from the local address. */
void sess_host_name(const struct sess *s, char *buf, size_t len);
/* Records submitted credentials (always refused) in the stats. */
void sess_count_credentials(struct sess *s);

/* Per-protocol handlers: greeting, one complete line (CRLF stripped, NUL
 * terminated), and the "too busy" farewell; one set per FARM_PROTO_LIST row. */
#define FARM_PROTO_DECL(ID, id, sports, shelp, iid, iports, ihelp, toolong, regreet)                         \
    void id##_greet(struct sess *s);                                                                         \
    void id##_line(struct sess *s, char *line, size_t len);                                                  \
    void id##_busy(struct sess *s);
FARM_PROTO_LIST(FARM_PROTO_DECL)
#undef FARM_PROTO_DECL

/* A row's handlers and names (session.c, listen.c). */
struct farm_proto_ops {
    const char *name, *implicit_name;
    void (*greet)(struct sess *s);
    void (*line)(struct sess *s, char *line, size_t len);
    void (*busy)(struct sess *s);
    const char *too_long; /* reply to an over-long line, before the close */
    bool greet_after_starttls;
};
extern const struct farm_proto_ops farm_protos[FARM_PROTO_COUNT];

/* Helpers shared by smtp.c, imap.c and pop3.c. */
static inline bool sess_may_auth(const struct sess *s)
{
    return s->is_tls || profile_offers_auth_plain(s->profile);
}

static inline bool sess_may_starttls(const struct sess *s)
{
    return !s->is_tls && !s->is_implicit && profile_offers_starttls(s->profile);
}

/* Splits off the next space-separated word of *cursor (NUL-terminating it
 * in place) and returns it; returns "" at the end of the line. */
static inline char *line_word(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ')
        p++;
    char *w = p;
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = '\0';
    *cursor = p;
    return w;
}

#endif
