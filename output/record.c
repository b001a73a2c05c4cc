/* record.c - the record's field table and its bounded arena storage. */
#include "record.h"

#include <ctype.h>
#include <string.h>

const char *rec_status_name(enum rec_status s)
{
    static const char *const names[] = {
#define X(id, name) name,
        REC_STATUS_LIST(X)
#undef X
    };
    return (unsigned)s < STATUS_COUNT ? names[s] : "?";
}

/* Order here is output order; the enum in record.h must match it. */
const struct rec_field_def rec_fields[F_COUNT] = {
    [F_IP] = {"ip", RT_TEXT, 64, 0, "Address probed (IPv4 dotted quad or IPv6 text form)."},
    [F_PORT] = {"port", RT_INT, 0, 0, "TCP port probed."},
    [F_HOST] = {"host", RT_TEXT, 255, 0,
                "Name the address was reached by (used for SNI and cert_hostname_match); null if none."},
    [F_PROTOCOL] = {"protocol", RT_TEXT, 8, 0,
                    "Protocol spoken, one of:" MT_PROTO_DOC_NAMES " (output/mt_proto.h)."},
    [F_TLS_MODE] = {"tls_mode", RT_TEXT, 10, 0,
                    "starttls (upgrade in the protocol) or implicit (TLS from the first byte)."},
    [F_STATUS] = {"status", RT_TEXT, 20, 0, "Outcome of the probe; see the status table."},
    [F_ERROR] = {"error", RT_TEXT, 200, 0,
                 "Detail of a failure (errno text, OpenSSL error, reply); null on ok."},
    [F_PHASE] = {"phase", RT_TEXT, 32, 0, "Probe phase in which the probe ended (e.g. await-ehlo-reply)."},
    [F_BANNER] =
        {"banner", RT_TEXT, 512, 0,
         "Greeting exactly as received, up to 512 bytes: SMTP all lines, each with the line end it came with "
         "(CRLF or bare LF); IMAP/POP3 the greeting line without its line end. See `partial`."},
    [F_CAPS_BEFORE_TLS] =
        {"caps_before_tls", RT_LIST, 128, 64,
         "Capabilities/extensions advertised in cleartext (EHLO lines, IMAP CAPABILITY, POP3 CAPA)."},
    [F_STARTTLS_OFFERED] = {"starttls_offered", RT_BOOL, 0, 0,
                            "Whether STARTTLS/STLS was advertised before TLS; null on implicit-TLS ports."},
    [F_STARTTLS_REPLY] = {"starttls_reply", RT_TEXT, 200, 0, "Server's reply to STARTTLS/STLS, first line."},
    [F_STARTTLS_OK] = {"starttls_ok", RT_BOOL, 0, 0,
                       "true when the upgrade was accepted and the TLS handshake completed."},
    [F_STARTTLS_EXTRA_BYTES] = {"starttls_extra_bytes", RT_INT, 0, 0,
                                "Bytes received after the STARTTLS go-ahead, before the handshake "
                                "(discarded, never given to TLS); 0 normally."},
    [F_AUTH_BEFORE_TLS] = {"auth_before_tls", RT_LIST, 32, 32,
                           "Authentication mechanisms offered in cleartext (SMTP AUTH, IMAP AUTH=, POP3 "
                           "SASL, plus USER for POP3)."},
    [F_PLAINTEXT_AUTH_BEFORE_TLS] = {"plaintext_auth_before_tls", RT_BOOL, 0, 0,
                                     "true when a password can be sent in cleartext (see README)."},
    [F_CAPS_AFTER_TLS] = {"caps_after_tls", RT_LIST, 128, 64, "Capabilities advertised after TLS."},
    [F_AUTH_AFTER_TLS] = {"auth_after_tls", RT_LIST, 32, 32, "Authentication mechanisms offered after TLS."},
    [F_AUTH_PROBE] = {"auth_probe", RT_TEXT, 24, 0,
                      "With --probe-auth: tls-required, cleartext-evaluated, not-offered, unexpected, "
                      "disconnected or no-reply (see README)."},
    [F_AUTH_PROBE_REPLY] = {"auth_probe_reply", RT_TEXT, 200, 0,
                            "With --probe-auth: the server's reply to the fake credential."},
    [F_TLS_VERSION] = {"tls_version", RT_TEXT, 16, 0,
                       "Negotiated protocol as OpenSSL names it (TLSv1.3, TLSv1.2, ...)."},
    [F_TLS_CIPHER] = {"tls_cipher", RT_TEXT, 64, 0, "Negotiated cipher suite, OpenSSL's name."},
    [F_CERT_SUBJECT] = {"cert_subject", RT_TEXT, 512, 0, "Leaf certificate subject, RFC 2253."},
    [F_CERT_ISSUER] = {"cert_issuer", RT_TEXT, 512, 0, "Leaf certificate issuer, RFC 2253."},
    [F_CERT_SAN] = {"cert_san", RT_LIST, 255, 32, "subjectAltName DNS names and IP addresses of the leaf."},
    [F_CERT_NOT_BEFORE] = {"cert_not_before", RT_TEXT, 24, 0, "Leaf validity start, ISO 8601 UTC."},
    [F_CERT_NOT_AFTER] = {"cert_not_after", RT_TEXT, 24, 0, "Leaf validity end, ISO 8601 UTC."},
    [F_CERT_SHA256] = {"cert_sha256", RT_TEXT, 64, 0,
                       "SHA-256 of the leaf certificate (DER), lower-case hex."},
    [F_CERT_TRUSTED] = {"cert_trusted", RT_BOOL, 0, 0,
                        "Chain verifies against the system store or --ca-file (name not considered)."},
    [F_CERT_VERIFY_ERROR] = {"cert_verify_error", RT_TEXT, 120, 0,
                             "OpenSSL's verification error text; null when trusted."},
    [F_CERT_HOSTNAME_MATCH] =
        {"cert_hostname_match", RT_BOOL, 0, 0,
         "Leaf matches `host` (X509_check_host, RFC 6125 wildcards); null when no host."},
    [F_CERT_KEY] =
        {"cert_key", RT_TEXT, 24, 0,
         "Leaf public key: RSA-<bits>, EC-<NIST curve or OpenSSL curve name>, ED25519, ED448, DSA-<bits>."},
    [F_CERT_SIG_ALG] = {"cert_sig_alg", RT_TEXT, 48, 0,
                        "Signature algorithm of the leaf, OpenSSL long name (e.g. sha256WithRSAEncryption, "
                        "ecdsa-with-SHA256)."},
    [F_CERT_CHAIN_LEN] = {"cert_chain_len", RT_INT, 0, 0, "Certificates the server sent, leaf included."},
    [F_CERT_DAYS_LEFT] =
        {"cert_days_left", RT_INT, 0, 0,
         "Whole days from the probe to the leaf's notAfter, rounded down; negative once expired."},
    [F_CERT_SELF_SIGNED] =
        {"cert_self_signed", RT_BOOL, 0, 0,
         "Leaf is self-issued: issuer equals subject and key identifiers agree (signature not re-verified)."},
    [F_OCSP_STAPLED] = {"ocsp_stapled", RT_BOOL, 0, 0,
                        "An OCSP response was stapled to the handshake (status_request is sent on every "
                        "probe); not validated."},
    [F_TLS_GROUP] = {"tls_group", RT_TEXT, 24, 0,
                     "Key exchange group of the probe's handshake (X25519, P-256, ffdhe2048, DHE-<bits>); "
                     "null for static RSA key exchange."},
    [F_TLS_VERSIONS] =
        {"tls_versions", RT_LIST, 8, 8,
         "--tls-versions: versions the server completed a handshake with, among tls_versions_tested."},
    [F_TLS_VERSIONS_TESTED] = {"tls_versions_tested", RT_LIST, 8, 8,
                               "--tls-versions: versions tested conclusively (TLSv1 to TLSv1.3; SSLv2 and "
                               "SSLv3: fields sslv2, sslv3)."},
    [F_TLS_CIPHERS] =
        {"tls_ciphers", RT_JSON, 16384, 0,
         "--ciphers: object {\"TLSv1.2\": [IANA suite names], ...} per version (SSLv3 to "
         "TLSv1.3), in server preference order when tls_server_order; see scanner/TLS-ENUM.md."},
    [F_TLS_SERVER_ORDER] = {"tls_server_order", RT_BOOL, 0, 0,
                            "--ciphers: the server picks by its own preference (true) or the client's "
                            "(false); null if undecided."},
    [F_TLS_WEAK] =
        {"tls_weak", RT_LIST, 16, 16,
         "--tls-versions/--ciphers: weaknesses seen (SSLv2, SSLv3, TLSv1, TLSv1.1, NULL, anonymous, "
         "export, RC4, DES, 3DES, MD5, DH-<bits>)."},
    [F_TLS_GRADE] = {"tls_grade", RT_TEXT, 1, 0,
                     "--ciphers: A, B, C or F (rule in scanner/TLS-ENUM.md); null when a version or suite "
                     "list is incomplete."},
    [F_TLS_ENUM_INCOMPLETE] = {"tls_enum_incomplete", RT_LIST, 64, 8,
                               "What enumeration could not decide after a retry, e.g. \"TLSv1.1: "
                               "read-timeout\"; null when complete."},
    [F_DOMAIN] = {"domain", RT_TEXT, 253, 0,
                  "--mx: the input mail domain (domain records); on probe records the first input domain "
                  "that led to this address and port (scanner/DNS.md)."},
    [F_MX_PREFERENCE] = {"mx_preference", RT_INT, 0, 0,
                         "--mx, probe records: preference of the MX record of `domain` naming `host`; null "
                         "for the RFC 5321 fallback to the domain's own address."},
    [F_MX] = {"mx", RT_LIST, 300, 64,
              "--mx, domain records: one \"PREF EXCHANGER RESULT\" item per exchanger address, RESULT an "
              "address or a dns-* status; PREF \"-\" for the no-MX fallback."},
    [F_COUNTRY] = {"country", RT_TEXT, 2, 0,
                   "ISO 3166 country code of the address (--geoip); null without a database or match."},
    [F_ASN] = {"asn", RT_INT, 0, 0, "Autonomous system number of the address (--asn)."},
    [F_AS_ORG] = {"as_org", RT_TEXT, 128, 0, "Organisation of that AS (--asn)."},
    [F_TIME_MS] = {"time_ms", RT_INT, 0, 0, "Milliseconds from connect start to the end of the probe."},
    [F_PARTIAL] = {"partial", RT_LIST, 32, 16,
                   "Names of text and list fields holding only the part of a reply that arrived before a "
                   "deadline, a close or a reset cut it; null when nothing was cut."},
    [F_STARTTLS_INJECTION] = {"starttls_injection", RT_BOOL, 0, 0,
                              "--downgrade-checks: a NOOP sent in the same segment as STARTTLS was answered "
                              "inside TLS (CVE-2011-0411 class); null when not tested."},
    [F_STARTTLS_REQUIRED] =
        {"starttls_required", RT_BOOL, 0, 0,
         "--downgrade-checks: the server refuses to go on without TLS (SMTP: MAIL FROM:<> "
         "answered 530; IMAP/POP3: cleartext login refused); null when not tested."},
    [F_STARTTLS_MASKED] = {"starttls_masked", RT_TEXT, 64, 0,
                           "A cleartext capability that looks like STARTTLS/STLS masked by a middlebox "
                           "(XXXXXXXA, X-STARTTLS, ...); null when none."},
    [F_DNSSEC] = {"dnssec", RT_TEXT, 13, 0,
                  "--policy, domain records: DNSSEC verdict of the domain's MX answer from the validating "
                  "--resolver: secure, insecure, bogus or indeterminate (scanner/DNS.md)."},
    [F_MX_DNSSEC] = {"mx_dnssec", RT_TEXT, 13, 0,
                     "--policy: the worst DNSSEC verdict of the exchangers' A answers (secure only if all "
                     "are)."},
    [F_DANE] = {"dane", RT_TEXT, 10, 0,
                "--policy: none (no TLSA), not-secure (TLSA not DNSSEC-secure), invalid (bogus, no usable "
                "record, or a handshake without a match), valid (every handshake matched); null if unknown."},
    [F_DANE_RECORDS] = {"dane_records", RT_JSON, 8192, 0,
                        "--policy: one object per TLSA record at _25._tcp.MX: {\"mx\", \"usage\", "
                        "\"selector\", \"mtype\", \"data\" (hex, first 64 bytes), \"data_len\", "
                        "\"dnssec\", \"usable\"}."},
    [F_MTA_STS] =
        {"mta_sts", RT_TEXT, 8, 0,
         "--policy: enforce, testing or none (the fetched policy's mode), invalid (TXT record, fetch or "
         "policy broken: see mta_sts_error), absent (no v=STSv1 record); null if the lookup failed."},
    [F_MTA_STS_ID] = {"mta_sts_id", RT_TEXT, 32, 0, "--policy: id of the valid v=STSv1 TXT record."},
    [F_MTA_STS_ERROR] =
        {"mta_sts_error", RT_TEXT, 200, 0,
         "--policy: why mta_sts is invalid or unknown, or which exchangers a valid policy does not cover."},
    [F_TLS_RPT] = {"tls_rpt", RT_TEXT, 7, 0,
                   "--policy: _smtp._tls TXT record: absent, valid or invalid (RFC 8460); null if the lookup "
                   "failed."},
    [F_TLS_RPT_RUA] = {"tls_rpt_rua", RT_TEXT, 200, 0, "--policy: rua= of a valid TLS-RPT record."},
    [F_POLICY_BREAKS_DELIVERY] =
        {"policy_breaks_delivery", RT_BOOL, 0, 0,
         "--policy: a compliant sender would refuse to deliver; null when it depends "
         "on what is not checked yet (usable TLSA, an MTA-STS policy file)."},
    [F_RESULT_TYPES] = {"result_types", RT_LIST, 32, 16,
                        "--policy: the failures found, named as RFC 8460 result types (e.g. dnssec-invalid, "
                        "tlsa-invalid, sts-policy-invalid)."},
    [F_DANE_MATCH] =
        {"dane_match", RT_TEXT, 120, 0,
         "--policy, probe records: DANE check of this handshake against the exchanger's secure "
         "TLSA records: \"USAGE SELECTOR MTYPE depth N\" (the record that matched, at which chain "
         "depth) or \"fail: REASON\"; null when there was none to check."},
    [F_MTA_STS_MX] =
        {"mta_sts_mx", RT_LIST, 255, 16,
         "--policy: mx patterns of the fetched MTA-STS policy (lower case; *.host for one label)."},
    [F_MTA_STS_MAX_AGE] = {"mta_sts_max_age", RT_INT, 0, 0,
                           "--policy: max_age of the fetched MTA-STS policy."},
    [F_TLS_CIPHERS_OPENSSL] = {"tls_ciphers_openssl", RT_JSON, 12288, 0,
                               "--ciphers: tls_ciphers with OpenSSL's suite names (the IANA name where "
                               "OpenSSL has none)."},
    [F_TLS_GROUPS] = {"tls_groups", RT_LIST, 32, 32,
                      "--ciphers: key exchange groups the server accepts (IANA names: x25519, secp256r1, "
                      "X25519MLKEM768...), TLS 1.3 first, in the order the server chose them."},
    [F_TLS_PQ_HYBRID] = {"tls_pq_hybrid", RT_BOOL, 0, 0,
                         "--ciphers: a post-quantum (hybrid) group is among tls_groups."},
    [F_TLS_FALLBACK_SCSV] = {"tls_fallback_scsv", RT_BOOL, 0, 0,
                             "--tls-versions: TLS_FALLBACK_SCSV at a lower version was refused with "
                             "inappropriate_fallback; null with fewer than two versions."},
    [F_TLS_SECURE_RENEGOTIATION] = {"tls_secure_renegotiation", RT_BOOL, 0, 0,
                                    "--tls-versions: the server sent renegotiation_info (RFC 5746) at "
                                    "TLS 1.2 or lower; null if it accepts none of those."},
    [F_TLS_COMPRESSION] = {"tls_compression", RT_BOOL, 0, 0,
                           "--tls-versions: the server chose DEFLATE when it was offered (CRIME)."},
    [F_TLS_HEARTBEAT] = {"tls_heartbeat", RT_BOOL, 0, 0,
                         "--tls-versions: the server answered the heartbeat extension (TLS 1.2 or lower)."},
    [F_TLS_DH_BITS] = {"tls_dh_bits", RT_INT, 0, 0,
                       "--tls-versions: smallest finite-field DHE prime the server used, in bits (from "
                       "ServerKeyExchange); null when no DHE suite was chosen."},
    [F_SSLV2] = {"sslv2", RT_BOOL, 0, 0,
                 "--tls-versions: the server answered an SSLv2 CLIENT-HELLO with cipher kinds; null if "
                 "untested."},
    [F_SSLV3] = {"sslv3", RT_BOOL, 0, 0, "--tls-versions: the server accepts SSLv3; null if untested."},
    [F_IMPLICIT_TLS] = {"implicit_tls", RT_LIST, 5, 16,
                        "--policy, domain records: the implicit-TLS ports of -p (465/smtps, 993/imaps, "
                        "995/pop3s...) on which an exchanger answered with TLS (RFC 8314); [] if none did; "
                        "null when -p has no implicit-TLS port."},
    [F_TRUNCATED] = {"truncated", RT_LIST, 32, 16, "Names of fields whose value was cut to fit its cap."},
};

void rec_reset(struct record *r)
{
    r->is_set = 0;
    r->truncated = 0;
    r->arena_used = 0;
}

bool rec_has(const struct record *r, enum rec_field f)
{
    return (r->is_set >> f) & 1u;
}

static void mark(struct record *r, enum rec_field f)
{
    r->is_set |= (rec_mask)1 << f;
}

static void mark_truncated(struct record *r, enum rec_field f)
{
    r->truncated |= (rec_mask)1 << f;
}

void rec_mark_truncated(struct record *r, enum rec_field f)
{
    mark_truncated(r, f);
}

void rec_set_int(struct record *r, enum rec_field f, int64_t v)
{
    r->num[f] = v;
    mark(r, f);
}

void rec_set_bool(struct record *r, enum rec_field f, bool v)
{
    rec_set_int(r, f, v ? 1 : 0);
}

/* Reserves n bytes of arena; returns offset or -1 when it is exhausted. */
static int arena_take(struct record *r, size_t n)
{
    if (n > (size_t)(REC_ARENA_BYTES - r->arena_used))
        return -1;
    int off = r->arena_used;
    r->arena_used = (uint16_t)(r->arena_used + n);
    return off;
}

void rec_set_text(struct record *r, enum rec_field f, const void *data, size_t len)
{
    /* replacing the newest value gives its bytes back to the arena */
    if (rec_has(r, f) && r->span[f].off + r->span[f].len == r->arena_used)
        r->arena_used = r->span[f].off;
    size_t cap = rec_fields[f].cap;
    if (rec_fields[f].type == RT_JSON && (len > cap || len > (size_t)(REC_ARENA_BYTES - r->arena_used))) {
        /* a cut object would not be JSON: leave the field out */
        r->is_set &= ~((rec_mask)1 << f);
        mark_truncated(r, f);
        return;
    }
    if (len > cap) {
        len = cap;
        mark_truncated(r, f);
    }
    size_t room = (size_t)(REC_ARENA_BYTES - r->arena_used);
    if (len > room) {
        len = room;
        mark_truncated(r, f);
    }
    int off = arena_take(r, len);
    if (len)
        memcpy(r->arena + off, data, len);
    r->span[f].off = (uint16_t)off;
    r->span[f].len = (uint16_t)len;
    mark(r, f);
}

void rec_set_str(struct record *r, enum rec_field f, const char *s)
{
    rec_set_text(r, f, s, strlen(s));
}

void rec_set_status(struct record *r, enum rec_status s)
{
    rec_set_str(r, F_STATUS, rec_status_name(s));
}

/* List items are nodes in the arena: u16 next (0 = end), u16 len, bytes. */
#define NODE_HDR 4

void rec_list_init(struct record *r, enum rec_field f)
{
    if (rec_has(r, f))
        return;
    r->span[f] = (struct rec_span){0, 0, 0, 0};
    mark(r, f);
}

void rec_list_add(struct record *r, enum rec_field f, const void *data, size_t len)
{
    rec_list_init(r, f);
    struct rec_span *s = &r->span[f];
    if (s->len >= rec_fields[f].max_items) {
        mark_truncated(r, f);
        return;
    }
    if (len > rec_fields[f].cap) {
        len = rec_fields[f].cap;
        mark_truncated(r, f);
    }
    /* offset 0 means "none", so the first node never sits at offset 0 */
    if (r->arena_used == 0)
        r->arena_used = 1;
    /* A hostile server controls list sizes: each list gets a byte budget,
     * and lists never eat the space kept for the fields set at the end of
     * a probe (status, error, phase, certificate facts). */
    if (s->list_bytes + NODE_HDR + len > REC_LIST_MAX_BYTES ||
        r->arena_used + NODE_HDR + len > REC_ARENA_BYTES - REC_SCALAR_RESERVE_BYTES) {
        mark_truncated(r, f);
        return;
    }
    s->list_bytes = (uint16_t)(s->list_bytes + NODE_HDR + len);
    int off = arena_take(r, NODE_HDR + len);
    if (off < 0) {
        mark_truncated(r, f);
        return;
    }
    unsigned char *n = r->arena + off;
    n[0] = n[1] = 0;
    n[2] = (unsigned char)(len & 0xff);
    n[3] = (unsigned char)(len >> 8);
    memcpy(n + NODE_HDR, data, len);
    if (s->len == 0) {
        s->off = (uint16_t)off;
    } else {
        unsigned char *prev = r->arena + s->last;
        prev[0] = (unsigned char)(off & 0xff);
        prev[1] = (unsigned char)(off >> 8);
    }
    s->last = (uint16_t)off;
    s->len++;
}

int rec_list_next(const struct record *r, enum rec_field f, uint16_t *cursor, const unsigned char **item,
                  size_t *len)
{
    const struct rec_span *s = &r->span[f];
    uint16_t off;
    if (*cursor == 0) {
        if (!rec_has(r, f) || s->len == 0)
            return 0;
        off = s->off;
    } else {
        const unsigned char *prev = r->arena + *cursor;
        off = (uint16_t)(prev[0] | (prev[1] << 8));
        if (off == 0)
            return 0;
    }
    const unsigned char *n = r->arena + off;
    *len = (size_t)(n[2] | (n[3] << 8));
    *item = n + NODE_HDR;
    *cursor = off;
    return 1;
}

/* strncasecmp would stop at a NUL byte; server bytes may hold them */
static bool bytes_equal_nocase(const unsigned char *a, const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (tolower(a[i]) != tolower(b[i]))
            return false;
    return true;
}

bool rec_list_contains_bytes(const struct record *r, enum rec_field f, const void *data, size_t len,
                             bool nocase)
{
    uint16_t cur = 0;
    const unsigned char *it;
    size_t n;
    while (rec_list_next(r, f, &cur, &it, &n)) {
        if (n != len)
            continue;
        if (nocase ? bytes_equal_nocase(it, data, len) : memcmp(it, data, len) == 0)
            return true;
    }
    return false;
}

bool rec_list_contains(const struct record *r, enum rec_field f, const char *s, bool nocase)
{
    return rec_list_contains_bytes(r, f, s, strlen(s), nocase);
}

int64_t rec_int(const struct record *r, enum rec_field f)
{
    /* rec_reset leaves num[] as it was: an unset field must not read a
     * stale number from the record this struct held before */
    return rec_has(r, f) ? r->num[f] : 0;
}

const unsigned char *rec_text(const struct record *r, enum rec_field f, size_t *len)
{
    *len = rec_has(r, f) ? r->span[f].len : 0;
    return r->arena + r->span[f].off;
}
