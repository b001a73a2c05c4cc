/*
 * mailtls-selftest: shared declarations.
 *
 * A public self-test for mail clients: the user points a client at this
 * server, and the server itself plays the attacker (strips STARTTLS,
 * breaks the handshake, refuses STARTTLS, breaks the TLS session) and logs
 * whether the client then sends its password without TLS. Any credential
 * is accepted and none is kept; no mail is ever accepted.
 *
 * Module map (one job per file):
 *   main.c     subcommands (serve, arm, verdict, report), --help, --version
 *   cmd.c      pure parsers of client bytes: framing, verbs, AUTH PLAIN /
 *              LOGIN base64, IMAP astrings and literals, session ids
 *              (fuzzed: tests/fuzz/fuzz_selftest_cmd.c)
 *   serve.c    the epoll loop: listeners, accept limits, timeouts
 *   conn.c     one connection's I/O: reads, writes, TLS, phases, close
 *   proto.c    what SMTP, IMAP and POP3 answer in each case
 *   mode.c     the mode store (DIR/modes/<ip>) and the per-IP table
 *   evlog.c    the JSONL event log (DIR/events.jsonl)
 *   verdict.c  events -> one verdict per (session, case); report
 *   tls.c      the server's SSL_CTX, self-signed when no --cert
 */
#ifndef SELFTEST_H
#define SELFTEST_H

#include "../../output/lib/rate.h"
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ST_PROG "mailtls-selftest"

/* ------------------------------------------------------------ cases */

#define ST_CASES(X)                                                                                          \
    X(BASELINE, "baseline") /* STARTTLS offered and working, AUTH only after TLS */                          \
    X(T1, "t1")             /* STARTTLS stripped from EHLO/CAPABILITY/CAPA */                                \
    X(T2, "t2")             /* STARTTLS accepted, then the handshake is disrupted */                         \
    X(T3, "t3")             /* STARTTLS refused */                                                           \
    X(T4, "t4")             /* TLS session broken mid-session */

enum st_case {
#define X(id, name) CASE_##id,
    ST_CASES(X)
#undef X
        CASE__COUNT,
    CASE_GUIDED = CASE__COUNT /* mode store only: walk every case in order */
};

enum st_scenario { SCEN_IMMEDIATE, SCEN_TWO_PHASE };

const char *st_case_name(enum st_case c);
/* Parses a case name; "guided" only when allow_guided. 0 or -1. */
int st_case_parse(const char *s, bool allow_guided, enum st_case *out);
const char *st_scenario_name(enum st_scenario s);
int st_scenario_parse(const char *s, enum st_scenario *out);

/* ------------------------------------------------------------ cmd.c */

#define ST_SESSION_MAX 32 /* session id bytes */
#define ST_USER_MAX 256   /* user name bytes kept while parsing */

/* Bytes through the first LF of buf[0..len), 0 when there is none yet. */
size_t stc_line_len(const char *buf, size_t len);
/* Length of the line without its CRLF / LF. */
size_t stc_line_trim(const char *line, size_t len);
/* The first space-separated word (a NUL ends it too), upper-cased and NUL-terminated into verb
 * (cap bytes; longer words are cut); *rest = offset of the next word. */
size_t stc_verb(const char *line, size_t len, char *verb, size_t cap, size_t *rest);
/* Base64 (RFC 4648, padding optional, no white space) into dst of cap
 * bytes. Returns the decoded length, or -1 when malformed or too long. */
long stc_b64_decode(const char *src, size_t len, unsigned char *dst, size_t cap);
/* AUTH PLAIN message (authzid NUL authcid NUL passwd, RFC 4616): copies the
 * authcid, NUL-terminated, into user (cap bytes). 0, or -1 when malformed.
 * The password is never copied. */
int stc_plain_user(const unsigned char *msg, size_t len, char *user, size_t cap);
/* Session id of a user name "test-SESSION@selftest.example" (the domain is
 * optional, case-insensitive; SESSION is 1..ST_SESSION_MAX bytes of
 * [A-Za-z0-9_-]). Writes it NUL-terminated into out (cap > ST_SESSION_MAX)
 * and returns its length, 0 when the name is not a test name. */
size_t stc_session_from_user(const char *user, size_t len, char *out, size_t cap);
/* Is s a valid session id (the SESSION part above)? */
bool stc_session_valid(const char *s);
/* IMAP framing (RFC 3501 section 4.3): a command is lines joined by
 * literals "{N}" / "{N+}" CRLF followed by N bytes. Returns the length of
 * the first complete command of buf[0..len) (through its final LF), 0 when
 * more bytes are needed (then *sync_at is the offset just past the CRLF of
 * a synchronising literal announcement still waiting for its bytes, to
 * which the server answers "+", else 0), or -1 when a literal announces
 * more than cap bytes in all. */
long stc_imap_frame(const char *buf, size_t len, size_t cap, size_t *sync_at);
/* IMAP astring at *p (atom, quoted string with \" and \\, or literal
 * "{N}" CRLF N bytes), before end: copies it NUL-terminated into out (cap
 * bytes) and advances *p past it and one following space. Returns the
 * length, or -1 when malformed or longer than cap - 1. */
long stc_imap_astring(const char **p, const char *end, char *out, size_t cap);

/* ------------------------------------------------------------ event log */

#define ST_EVENTS(X)                                                                                         \
    X(CONNECT, "connect")                                                                                    \
    X(EHLO, "ehlo")             /* SMTP EHLO/HELO */                                                         \
    X(CAPABILITY, "capability") /* capabilities sent: EHLO reply, IMAP CAPABILITY, POP3 CAPA */              \
    X(STARTTLS, "starttls")     /* the client asked for TLS (detail: go_ahead, refused, stripped) */         \
    X(TLS_OK, "tls_ok")                                                                                      \
    X(TLS_FAIL, "tls_fail")                                                                                  \
    X(AUTH_COMMAND, "auth_command") /* AUTH / AUTHENTICATE / LOGIN / USER seen */                            \
    X(LOGIN, "login")               /* credentials received (a password was sent) */                         \
    X(DISRUPT, "disrupt")           /* the case's attack was played (detail says which) */                   \
    X(DISCONNECT, "disconnect")     /* detail: why */                                                        \
    X(REPORT, "report")             /* mailtls-selftest report (detail: prompt, cannot_connect) */

enum st_event {
#define X(id, name) EV_##id,
    ST_EVENTS(X)
#undef X
};

/* What an event line says about its connection. */
struct st_evctx {
    uint64_t conn_id;
    const char *proto; /* smtp, imap, pop3 */
    const char *client_ip;
    uint16_t server_port;
    const char *session; /* "" when not known yet */
    enum st_case kase;
    enum st_scenario scenario;
    bool is_attack; /* false: two_phase's first (normal) connection */
    bool is_tls;
    bool starttls_advertised;
};

/* Opens DIR/events.jsonl for appending (created 0600). 0 or -1. */
int evlog_open(const char *dir);
/* Appends one line with one write(2). mechanism and detail may be NULL. */
void evlog_write(const struct st_evctx *e, enum st_event ev, const char *mechanism, const char *detail);
/* fdatasync when lines were written since the last one (the loop calls it
 * once a second, and at exit). */
void evlog_sync(void);
void evlog_close(void);
/* Formats one line into buf (cap >= 1024); returns its length. */
size_t evlog_format(char *buf, size_t cap, const struct st_evctx *e, enum st_event ev, const char *mechanism,
                    const char *detail);

/* ------------------------------------------------------------ mode store */

struct st_mode {
    enum st_case kase; /* CASE_GUIDED walks every case */
    enum st_scenario scenario;
    char session[ST_SESSION_MAX + 1]; /* "" when not bound */
    uint64_t armed_ns;                /* tells a re-arm from the old mode */
    uint64_t expires_s;               /* wall clock */
};

/* Modes are keyed by a client address or by "session-" + a session id.
 * Writes DIR/modes/<key> atomically (tmp + rename). 0 or -1 (message). */
int mode_arm(const char *dir, const char *ip, const struct st_mode *m);
int mode_disarm(const char *dir, const char *ip);
/* Reads the mode for ip: 1 found and not expired, 0 none, -1 unreadable. */
int mode_read(const char *dir, const char *ip, struct st_mode *m);

#define IPTAB_SLOTS 1024 /* client addresses remembered (least recent evicted) */
#define IPTAB_PROBE 16

struct ip_entry {
    char ip[INET6_ADDRSTRLEN];
    uint64_t armed_ns;                /* mode this count belongs to */
    uint32_t n_conns;                 /* connections since that mode was armed */
    uint32_t n_active;                /* open now */
    uint64_t last_ms;                 /* last connect, for eviction */
    char session[ST_SESSION_MAX + 1]; /* last session logged in from here */
    struct rate_limit rate;
};

/* Finds or makes the entry of ip; NULL when every probed slot is busy. */
struct ip_entry *iptab_get(const char *ip, uint64_t now_ms, double rate, double burst);

/* ------------------------------------------------------------ server */

enum st_proto { ST_SMTP, ST_IMAP, ST_POP3 };

struct st_listen {
    enum st_proto proto;
    bool is_implicit;
    const char *kind; /* smtp, submission, smtps, imap, imaps, pop3, pop3s */
    char addr[INET6_ADDRSTRLEN];
    uint16_t port; /* resolved when 0 was asked */
    int fd;
};

#define ST_LISTEN_MAX 16

struct st_config {
    const char *state_dir;
    struct st_listen lst[ST_LISTEN_MAX];
    unsigned n_lst;
    enum st_case default_case; /* CASE_GUIDED allowed */
    enum st_scenario default_scenario;
    const char *cert, *key;
    const char *ready_file;
    uint32_t max_conns;
    uint32_t max_conns_per_ip;
    double ip_rate; /* new connections per second per client address */
    double ip_burst;
    uint32_t idle_s;
    uint32_t session_s;
    uint32_t handshake_s;
    bool is_t3_drop; /* t3 drops the connection at STARTTLS instead of refusing */
};

/* Parses PROTO:ADDR:PORT ([ADDR] for IPv6) into l. 0 or -1. */
int serve_parse_listen(const char *spec, struct st_listen *l);
/* Runs until SIGTERM/SIGINT. Returns the exit status. */
int serve_run(struct st_config *cfg);

/* TLS 1.0-1.3 context from files, else a fresh self-signed certificate. */
SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file);

/* One connection (conn.c); the loop owns an array of them. */
#define RX_CAP 2048 /* longest command accepted (IMAP literals included) */
#define TX_CAP 4096

enum conn_phase {
    PH_COMMAND,            /* reading client commands */
    PH_HANDSHAKE,          /* TLS handshake in progress */
    PH_FLUSH_THEN_TLS,     /* STARTTLS go-ahead queued */
    PH_FLUSH_THEN_DISRUPT, /* t2: go-ahead queued, the handshake will be broken */
    PH_AWAIT_HELLO,        /* t2: waiting for the ClientHello to answer it with junk */
    PH_FLUSH_THEN_CLOSE,
};

enum auth_step { AUTH_NONE, AUTH_AWAIT_PLAIN, AUTH_AWAIT_LOGIN_USER, AUTH_AWAIT_LOGIN_PASS };

struct conn {
    int kind; /* first field: epoll data points at a listener or a conn */
    int fd;
    bool in_use, is_dead, is_ready, is_implicit, has_login, has_stripped, is_t3_drop;
    enum st_proto proto;
    enum conn_phase phase;
    enum auth_step auth;
    struct st_evctx ev;
    const struct st_listen *lst;
    struct ip_entry *ipe;
    SSL *ssl;
    uint32_t events;
    uint32_t cmds_after_tls;
    uint64_t start_ms, last_ms;
    size_t sync_acked; /* IMAP: literal announcement already answered "+" */
    char client_ip[INET6_ADDRSTRLEN];
    char session[ST_SESSION_MAX + 1];
    char tag[64];           /* IMAP tag of the command in progress */
    char user[ST_USER_MAX]; /* AUTH LOGIN / POP3 USER: until the password arrives */
    size_t rx_len, tx_len, tx_off;
    const char *close_why;  /* PH_FLUSH_THEN_CLOSE: the disconnect detail */
    struct conn *next_dead; /* closed in this batch, freed after it */
    char rx[RX_CAP + 1];    /* + the NUL after a command */
    char tx[TX_CAP];
};

struct server; /* serve.c */

/* conn.c */
void conn_start(struct server *sv, struct conn *c);
void conn_run(struct server *sv, struct conn *c, uint32_t events);
void conn_close(struct server *sv, struct conn *c, const char *why, bool is_reset);
void conn_send(struct conn *c, const char *text);
void conn_sendf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conn_event(struct conn *c, enum st_event ev, const char *mechanism, const char *detail);
/* A session id became known (login user name): remembered for the IP. */
void conn_set_session(struct conn *c, const char *session);

/* proto.c: greeting, and one complete command (CRLF kept, NUL after it).
 * They queue replies with conn_send and change phase directly. */
void proto_greet(struct server *sv, struct conn *c);
void proto_command(struct server *sv, struct conn *c, char *cmd, size_t len);
/* Credentials were received: logs the login, maybe breaks (t4). Returns
 * false when the connection was closed. */
bool proto_login(struct server *sv, struct conn *c, const char *user, const char *mechanism);

/* serve.c accessors for conn.c / proto.c */
SSL_CTX *server_tls(struct server *sv);
int server_epfd(struct server *sv);
const struct st_config *server_cfg(struct server *sv);
void server_mark_ready(struct server *sv, struct conn *c);
void server_conn_closed(struct server *sv, struct conn *c);

/* ------------------------------------------------------------ verdicts */

int verdict_main(int argc, char **argv);
int report_main(int argc, char **argv);

#endif
