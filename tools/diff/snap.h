/*
 * snap.h - what mailtls-diff keeps of one record: its key and the facts
 * the severity rules compare (rules.h), packed into a few hundred bytes.
 *
 * Key: probe records by (ip, port); --mx domain records (those with an
 * `mx` field, or a domain and no port) by domain name. Facts: status,
 * STARTTLS, plaintext AUTH, TLS version and grade, certificate trust,
 * name match, days left and fingerprint, a hash and the first line of the
 * banner, and the policy fields `dane`, `mta_sts`,
 * `policy_breaks_delivery`, `starttls_injection` when the reader knows
 * them (looked up by name at start: older builds have no such fields).
 *
 * Packed form (snap_pack/snap_unpack), the unit the external sort moves:
 *   u16 total length, u8 kind, u16 port, u8 key length, key bytes,
 *   then the fixed facts and each other string as u8 length + bytes.
 * Byte order is the machine's: packed snaps only live in this process's
 * temporary files.
 */
#ifndef MAILTLS_DIFF_SNAP_H
#define MAILTLS_DIFF_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../output/record.h"

enum snap_kind { SNAP_PROBE = 1, SNAP_DOMAIN = 2 };

/* Tri-state booleans: not recorded, false, true. */
enum { TRI_NULL = 0, TRI_FALSE = 1, TRI_TRUE = 2 };

enum snap_tri {
    TRI_STARTTLS_OFFERED,
    TRI_STARTTLS_OK,
    TRI_PLAINTEXT_AUTH,
    TRI_CERT_TRUSTED,
    TRI_HOSTNAME_MATCH,
    TRI_POLICY_BREAKS,
    TRI_INJECTION,
    TRI_COUNT
};

enum snap_str {
    STR_KEY, /* ip text, or the domain name */
    STR_HOST,
    STR_PROTOCOL,
    STR_TLS_MODE,
    STR_STATUS,
    STR_TLS_VERSION,
    STR_TLS_VERSIONS, /* the tls_versions list joined by ',' */
    STR_GRADE,
    STR_CERT_SHA256,
    STR_VERIFY_ERROR,
    STR_AUTH_PROBE,
    STR_BANNER, /* first line, printable ASCII only, cut */
    STR_DANE,
    STR_MTA_STS,
    STR_COUNT
};

#define SNAP_STR_MAX 255
#define SNAP_PACKED_MAX (16 + 8 * 3 + TRI_COUNT + STR_COUNT * (1 + SNAP_STR_MAX))

struct snap {
    uint8_t kind;
    uint16_t port;
    uint8_t tri[TRI_COUNT];
    bool has_days;
    int32_t days_left;
    uint64_t banner_hash; /* 0 = no banner */
    uint64_t mx_hash;     /* 0 = no mx list */
    uint8_t len[STR_COUNT];
    char str[STR_COUNT][SNAP_STR_MAX + 1]; /* NUL-terminated copies */
};

/* Looks the optional policy fields up by name; call once before snap_from. */
void snap_init_fields(void);
/* Fills s from r; returns -1 for records that carry no key (no ip, or a
 * `duplicate` status: the target has its own record). */
int snap_from(struct snap *s, const struct record *r);
/* Packs s into buf (SNAP_PACKED_MAX bytes); returns the length. */
size_t snap_pack(const struct snap *s, unsigned char *buf);
/* Unpacks; returns -1 on a malformed buffer (a bug or a damaged temp file). */
int snap_unpack(struct snap *s, const unsigned char *buf, size_t len);
/* Orders packed snaps by (kind, key, port). */
int snap_cmp_packed(const unsigned char *a, const unsigned char *b);
int snap_cmp(const struct snap *a, const struct snap *b);
/* "ip:port" ("[v6]:port") or the domain, into buf. */
const char *snap_label(const struct snap *s, char *buf, size_t cap);
bool snap_connected(const struct snap *s); /* a TCP connection was made */
bool snap_is_ok(const struct snap *s);     /* status ok */

#endif
