/*
 * https.h - the MTA-STS policy fetch: a small nonblocking HTTPS/1.1 GET
 * client in the scan's own loop (RFC 8461 3.3).
 *
 * One GET per call, to an address the caller resolved (c-ares), with SNI
 * and PKIX validation for the given host name (system store or --ca-file,
 * hostname checked by OpenSSL); a certificate that does not validate ends
 * the fetch before the request is sent. The response is read with
 * https_resp.c: no redirect is followed, the body is capped at
 * HTTPS_BODY_MAX, the whole fetch at the configured deadline.
 *
 * Sockets go into the loop through the watch function (engine_watch_fd);
 * readiness comes back through https_on_fd (false: not one of ours), time
 * through https_next_deadline/https_on_timer, as for dns.h. At most
 * HTTPS_SLOTS fetches run at once (each holds about 140 KB of buffers
 * while it runs); more wait in a FIFO of `queue_max` entries. The
 * callback runs exactly once per accepted fetch, never from https_get.
 */
#ifndef MAILTLS_HTTPS_H
#define MAILTLS_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPS_SLOTS 64
#define HTTPS_BODY_MAX 65536

enum https_fail {
    HTTPS_OK,       /* a complete response: see status */
    HTTPS_CONNECT,  /* TCP connect failed or timed out */
    HTTPS_TLS,      /* handshake failed */
    HTTPS_CERT,     /* PKIX validation for the host name failed */
    HTTPS_TIMEOUT,  /* the deadline passed after connecting */
    HTTPS_RESPONSE, /* malformed response or closed early */
    HTTPS_TOO_BIG,  /* head or body over its cap */
};

struct https_result {
    enum https_fail fail;
    char error[160]; /* what failed, for mta_sts_error */
    int status;
    bool text_plain;
    bool has_location;
    char content_type[64];
    const unsigned char *body; /* valid during the callback only */
    size_t body_len;
};

typedef void (*https_done_fn)(void *arg, const struct https_result *r);
typedef int (*https_watch_fn)(void *ctx, int fd, uint32_t events);

struct https;

/* ca_file NULL: the system store. port: 443 but for tests. NULL with err. */
struct https *https_new(const char *ca_file, uint16_t port, uint32_t timeout_ms, uint32_t queue_max,
                        char *err, size_t errlen);
void https_set_watch(struct https *h, https_watch_fn fn, void *ctx);
/* GET https://host/path from addr (family 4: 4 bytes, 6: 16 bytes). host
 * and path are copied. -1 when the queue is full. */
int https_get(struct https *h, int family, const uint8_t *addr, const char *host, const char *path,
              https_done_fn fn, void *arg, uint64_t now_ms);
bool https_on_fd(struct https *h, int fd, uint32_t events, uint64_t now_ms);
uint64_t https_next_deadline(struct https *h, uint64_t now_ms);
void https_on_timer(struct https *h, uint64_t now_ms);
/* Callbacks of fetches in flight are NOT called. */
void https_free(struct https *h);

#endif
