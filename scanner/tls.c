/*
 * tls.c - the TLS side of a probe: context, nonblocking handshake and I/O,
 * and turning the peer's certificate into record fields with OpenSSL's own
 * X509 parsers.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certsave.h"
#include "conn.h"
#include "dane.h"
#include "engine_int.h"
#include "verify_cache.h"

/* OpenSSL 3's default paths include a directory "store" that lists
 * /etc/ssl/certs on every chain verification (a readdir per handshake, the
 * biggest cost of a probe in profiles). The bundle loaded once into memory
 * gives the same trust with hash-table lookups; the hashed directory is the
 * fallback where no bundle exists. */
static int load_system_store(SSL_CTX *ctx)
{
    const char *file = getenv(X509_get_default_cert_file_env());
    if (SSL_CTX_load_verify_file(ctx, file ? file : X509_get_default_cert_file()) == 1)
        return 1;
    ERR_clear_error();
    const char *dir = getenv(X509_get_default_cert_dir_env());
    return SSL_CTX_load_verify_dir(ctx, dir ? dir : X509_get_default_cert_dir());
}

/* ---- what a server's chain may make us hold ----------------------------
 *
 * OpenSSL parses the whole Certificate message into X509 objects and keeps
 * them until SSL_free, and verification caches decoded extensions (every
 * subjectAltName entry) on them. Decoded, DER grows a lot: about 3 KiB per
 * certificate whatever its size, and 10 to 15 times its size for a
 * certificate made of tiny extensions or SAN entries. So besides the byte
 * cap (TLS_MAX_CERT_LIST) the chain's certificate count and its extension
 * and name-entry count are capped, and a big chain is verified on copies
 * that are freed at once. A chain over a cap ends the handshake right after
 * it was parsed (tls_handshake), before the connection can wait. */

/* SSL ex_data: why the chain was refused (enum chain_limit << 16 | count). */
static int g_limit_idx = -1;
static pthread_once_t g_limit_once = PTHREAD_ONCE_INIT;
enum chain_limit { LIMIT_NONE, LIMIT_CERTS, LIMIT_ITEMS };

static void limit_idx_init(void)
{
    g_limit_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void limit_set(SSL *ssl, enum chain_limit what, int count)
{
    if (ssl && g_limit_idx >= 0)
        SSL_set_ex_data(ssl, g_limit_idx, (void *)(((uintptr_t)what << 16) | (uint16_t)count));
}

static uintptr_t limit_get(const SSL *ssl)
{
    return ssl && g_limit_idx >= 0 ? (uintptr_t)SSL_get_ex_data(ssl, g_limit_idx) : 0;
}

bool tls_limit_hit(const SSL *ssl)
{
    return limit_get(ssl) != 0;
}

/* The same verification on deep copies of the chain: the extension caches
 * it fills die with the copies. dane: that DANE state (SSL_get0_dane), or
 * NULL for the PKIX verdict alone, then also without the name DANE put
 * into the parameters. Returns the X509_V_* verdict. */
static int verify_copies(X509_STORE_CTX *xs, STACK_OF(X509) * chain, SSL_DANE *dane)
{
    STACK_OF(X509) *copy = sk_X509_new_null();
    X509_STORE_CTX *mine = X509_STORE_CTX_new();
    int ok = 0, err = X509_V_ERR_OUT_OF_MEM;
    for (int i = 0; copy && i < sk_X509_num(chain); i++) {
        X509 *x = X509_dup(sk_X509_value(chain, i));
        if (!x || !sk_X509_push(copy, x)) {
            X509_free(x);
            goto out;
        }
    }
    if (!copy || !mine || sk_X509_num(copy) == 0 ||
        !X509_STORE_CTX_init(mine, X509_STORE_CTX_get0_store(xs), sk_X509_value(copy, 0), copy))
        goto out;
    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(mine), X509_STORE_CTX_get0_param(xs));
    if (dane)
        X509_STORE_CTX_set0_dane(mine, dane);
    else
        X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(mine), NULL, 0);
    ok = X509_verify_cert(mine) == 1;
    err = X509_STORE_CTX_get_error(mine);
out:
    X509_STORE_CTX_free(mine);
    sk_X509_pop_free(copy, X509_free);
    return ok ? X509_V_OK : err;
}

/* The verdict goes back into xs, where OpenSSL reads it
 * (SSL_get_verify_result). */
static int verify_on_copies(X509_STORE_CTX *xs, STACK_OF(X509) * chain, SSL_DANE *dane)
{
    int err = verify_copies(xs, chain, dane);
    X509_STORE_CTX_set_error(xs, err);
    return err == X509_V_OK;
}

/* SSL_CTX_set_cert_verify_callback: runs as soon as the Certificate
 * message is parsed. With SSL_VERIFY_NONE a 0 does not stop OpenSSL; the
 * limit mark does (tls_handshake). */
static int verify_chain(X509_STORE_CTX *xs, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
    int n = chain ? sk_X509_num(chain) : 0, items = 0;
    long bytes = 0;
    if (n > TLS_MAX_CHAIN_CERTS) {
        limit_set(ssl, LIMIT_CERTS, n);
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_CHAIN_TOO_LONG);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(chain, i);
        items += X509_get_ext_count(x) + X509_NAME_entry_count(X509_get_subject_name(x)) +
                 X509_NAME_entry_count(X509_get_issuer_name(x));
        int len = i2d_X509(x, NULL);
        bytes += len > 0 ? len : 0;
    }
    if (items > TLS_MAX_CHAIN_ITEMS) {
        limit_set(ssl, LIMIT_ITEMS, items);
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    bool dane = ssl && dane_on(ssl);
    /* DANE replaces the PKIX verdict in xs: keep the PKIX one for
     * cert_trusted (one more verification, on DANE probes only) */
    if (dane && chain)
        dane_pkix_set(ssl, verify_copies(xs, chain, NULL));
    /* a chain seen before by this loop: its verdict (verify_cache.h) */
    struct conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    struct vcache *vc = c && !dane ? c->eng->vcache : NULL;
    struct vcache_key key;
    bool keyed = vcache_key(vc, chain, &key);
    int64_t now = keyed ? (int64_t)time(NULL) : 0;
    int verdict;
    if (keyed && vcache_lookup(vc, &key, now, &verdict)) {
        c->eng->stats.verify_cache_hits++;
        X509_STORE_CTX_set_error(xs, verdict);
        return verdict == X509_V_OK;
    }
    if (keyed)
        c->eng->stats.verify_cache_misses++;
    /* the usual chain (a few KiB) is verified in place: no copy cost */
    int ok = bytes <= TLS_VERIFY_IN_PLACE_BYTES || !chain
                 ? X509_verify_cert(xs)
                 : verify_on_copies(xs, chain, dane ? SSL_get0_dane(ssl) : NULL);
    verdict = X509_STORE_CTX_get_error(xs);
    if (keyed && (ok == 1) == (verdict == X509_V_OK)) /* not an internal failure */
        vcache_store(vc, &key, chain, now, verdict);
    return ok;
}

SSL_CTX *tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_security_level(ctx, 0);
    if (!SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0")) {
        snprintf(err, errlen, "cipher list rejected by OpenSSL");
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Old servers without secure renegotiation are still servers we want to
     * describe, not skip. */
    SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* The Certificate message is held whole in OpenSSL's handshake buffer
     * and then parsed into X509 objects while the connection waits: its
     * size bounds the biggest part of a probe's memory (tls.h). */
    SSL_CTX_set_max_cert_list(ctx, TLS_MAX_CERT_LIST);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* One read() takes the server's whole flight instead of two per record
     * (header, then body): 17 reads per STARTTLS probe became 6. Records
     * read ahead of need are drained by conn.c (SSL_has_pending). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    pthread_once(&g_limit_once, limit_idx_init);
    if (g_limit_idx < 0) {
        snprintf(err, errlen, "SSL_get_ex_new_index failed");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_cert_verify_callback(ctx, verify_chain, NULL);
    if (dane_ctx_init(ctx) < 0) {
        snprintf(err, errlen, "SSL_CTX_dane_enable failed");
        SSL_CTX_free(ctx);
        return NULL;
    }
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : load_system_store(ctx);
    if (!ok) {
        snprintf(err, errlen, "%s: cannot load CA certificates", ca_file ? ca_file : "system store");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static bool is_address_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int tls_attach(struct conn *c, SSL_CTX *ctx)
{
    ERR_clear_error();
    c->tls = SSL_new(ctx);
    if (!c->tls || !SSL_set_fd(c->tls, c->fd))
        return -1;
    SSL_set_app_data(c->tls, c); /* verify_chain finds its loop's cache */
    if (c->job.host[0] && !is_address_literal(c->job.host))
        SSL_set_tlsext_host_name(c->tls, c->job.host);
    /* Ask for a stapled OCSP response on the main probe (ocsp_stapled);
     * enumeration handshakes do not need it. */
    if (c->job.kind == JOB_PROBE)
        SSL_set_tlsext_status_type(c->tls, TLSEXT_STATUSTYPE_ocsp);
    dane_attach(c->tls, &c->job);
    SSL_set_connect_state(c->tls);
    return 0;
}

void tls_detach(struct conn *c)
{
    if (c->tls) {
        SSL_free(c->tls);
        c->tls = NULL;
    }
}

/* Waiting for (or refusing) a message whose size max_cert_list bounds:
 * the server's Certificate, or its CertificateRequest (a CA list). */
static bool cert_state(const SSL *ssl)
{
    OSSL_HANDSHAKE_STATE st = SSL_get_state(ssl);
    return st == TLS_ST_CR_CERT || st == TLS_ST_CR_CERT_REQ;
}

/* Maps an SSL call's result; drains the error queue into err so nothing
 * leaks into the next conn's diagnostics. */
static enum tls_io map_result(struct conn *c, int ret, const char *what, char *err, size_t errlen)
{
    int e = SSL_get_error(c->tls, ret);
    c->tls_wants_write = false;
    switch (e) {
    case SSL_ERROR_WANT_READ: return TLS_IO_WANT;
    case SSL_ERROR_WANT_WRITE: c->tls_wants_write = true; return TLS_IO_WANT;
    case SSL_ERROR_ZERO_RETURN: snprintf(err, errlen, "%s: peer closed TLS", what); return TLS_IO_EOF;
    case SSL_ERROR_SYSCALL: {
        int saved = errno;
        unsigned long code = ERR_get_error();
        ERR_clear_error();
        if (code) {
            snprintf(err, errlen, "%s: %s", what, ERR_reason_error_string(code));
            return TLS_IO_ERROR;
        }
        if (saved == 0 || ret == 0) {
            snprintf(err, errlen, "%s: connection closed by peer", what);
            return TLS_IO_EOF;
        }
        snprintf(err, errlen, "%s: %s", what, strerror(saved));
        errno = saved;
        return saved == ECONNRESET ? TLS_IO_RESET : TLS_IO_ERROR;
    }
    default: {
        unsigned long code = ERR_get_error();
        ERR_clear_error();
        const char *reason = code ? ERR_reason_error_string(code) : NULL;
        /* An unexpected EOF is reported as an SSL error by OpenSSL 3. */
        if (code && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            snprintf(err, errlen, "%s: connection closed by peer", what);
            return TLS_IO_EOF;
        }
        if (code && ERR_GET_REASON(code) == SSL_R_EXCESSIVE_MESSAGE_SIZE && cert_state(c->tls)) {
            snprintf(err, errlen, "%s: certificate message exceeds %d bytes (the per-probe limit)", what,
                     TLS_MAX_CERT_LIST);
            return TLS_IO_ERROR;
        }
        snprintf(err, errlen, "%s: %s", what, reason ? reason : "TLS error");
        return TLS_IO_ERROR;
    }
    }
}

/* A chain over a cap (verify_chain) ends the handshake here, in the same
 * loop step that parsed it. */
static bool chain_refused(struct conn *c, const char *what, char *err, size_t errlen)
{
    uintptr_t v = limit_get(c->tls);
    if (!v)
        return false;
    ERR_clear_error();
    if (v >> 16 == LIMIT_CERTS)
        snprintf(err, errlen, "%s: certificate chain of %u certificates exceeds %d (the per-probe limit)",
                 what, (unsigned)(v & 0xffff), TLS_MAX_CHAIN_CERTS);
    else
        snprintf(err, errlen,
                 "%s: certificate chain of %u extensions and name entries exceeds %d (the per-probe limit)",
                 what, (unsigned)(v & 0xffff), TLS_MAX_CHAIN_ITEMS);
    c->tls_wants_write = false;
    return true;
}

enum tls_io tls_handshake(struct conn *c, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(c->tls);
    if (chain_refused(c, "handshake", err, errlen))
        return TLS_IO_ERROR;
    if (r == 1) {
        c->tls_wants_write = false;
        return TLS_IO_DONE;
    }
    return map_result(c, r, "handshake", err, errlen);
}

enum tls_io tls_read(struct conn *c, void *buf, size_t len, size_t *n, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL then reports this call's errno, never a stale one */
    if (SSL_read_ex(c->tls, buf, len, n) == 1) {
        c->tls_wants_write = false;
        return TLS_IO_DONE;
    }
    /* -1: SSL_read_ex's 0 is any failure, not the old SSL_read's "EOF" */
    return map_result(c, -1, "read", err, errlen);
}

enum tls_io tls_write(struct conn *c, const void *buf, size_t len, size_t *n, char *err, size_t errlen)
{
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(c->tls, buf, len, n) == 1) {
        c->tls_wants_write = false;
        return TLS_IO_DONE;
    }
    return map_result(c, -1, "write", err, errlen);
}

static void set_name(struct record *r, enum rec_field f, const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    rec_set_text(r, f, data, n > 0 ? (size_t)n : 0);
    BIO_free(b);
}

static void set_time(struct record *r, enum rec_field f, const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return;
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rec_set_text(r, f, buf, n);
}

static void set_sans(struct record *r, X509 *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    rec_list_init(r, F_CERT_SAN);
    if (!names)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            /* raw bytes: a NUL inside a name is kept and escaped by the writer */
            rec_list_add(r, F_CERT_SAN, ASN1_STRING_get0_data(gn->d.dNSName),
                         (size_t)ASN1_STRING_length(gn->d.dNSName));
        } else if (gn->type == GEN_IPADD) {
            char buf[INET6_ADDRSTRLEN];
            int len = ASN1_STRING_length(gn->d.iPAddress);
            int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
            if (af && inet_ntop(af, ASN1_STRING_get0_data(gn->d.iPAddress), buf, sizeof buf))
                rec_list_add(r, F_CERT_SAN, buf, strlen(buf));
        }
    }
    GENERAL_NAMES_free(names);
}

/* "EC-P-256", "RSA-2048", "ED25519"...: the leaf's key type and size. */
static void set_cert_key(struct record *r, X509 *cert)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (!pk)
        return;
    char buf[64];
    int id = EVP_PKEY_get_base_id(pk);
    if (id == EVP_PKEY_EC) {
        char group[48] = "";
        size_t glen = 0;
        if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen))
            snprintf(group, sizeof group, "unknown");
        int nid = OBJ_sn2nid(group);
        const char *nist = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
        snprintf(buf, sizeof buf, "EC-%s", nist ? nist : group);
    } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
        snprintf(buf, sizeof buf, "%s-%d", id == EVP_PKEY_RSA ? "RSA" : "RSA-PSS", EVP_PKEY_get_bits(pk));
    } else if (id == EVP_PKEY_DSA) {
        snprintf(buf, sizeof buf, "DSA-%d", EVP_PKEY_get_bits(pk));
    } else if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) {
        snprintf(buf, sizeof buf, "%s", id == EVP_PKEY_ED25519 ? "ED25519" : "ED448");
    } else {
        const char *name = OBJ_nid2sn(id);
        snprintf(buf, sizeof buf, "%s-%d", name ? name : "unknown", EVP_PKEY_get_bits(pk));
    }
    rec_set_str(r, F_CERT_KEY, buf);
}

/* Whole days until notAfter, rounded down (so -1 as soon as it expired). */
static void set_days_left(struct record *r, X509 *cert)
{
    int days = 0, secs = 0;
    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)))
        return;
    int64_t total = (int64_t)days * 86400 + secs;
    int64_t left = total >= 0 ? total / 86400 : -((-total + 86399) / 86400);
    rec_set_int(r, F_CERT_DAYS_LEFT, left);
}

/* Name of the ephemeral key exchange: the TLS group when one was
 * negotiated (ECDHE, X25519, TLS 1.3 FFDHE), "DHE-<bits>" for TLS <= 1.2
 * finite-field DHE, nothing for static RSA. */
void tls_group_name(SSL *ssl, char *out, size_t outlen)
{
    out[0] = 0;
    EVP_PKEY *tmp = NULL;
    if (!SSL_get_peer_tmp_key(ssl, &tmp) || !tmp)
        return;
    int id = EVP_PKEY_get_base_id(tmp);
    if (id == EVP_PKEY_DH && SSL_version(ssl) < TLS1_3_VERSION) {
        snprintf(out, outlen, "DHE-%d", EVP_PKEY_get_bits(tmp));
    } else {
        int g = SSL_get_negotiated_group(ssl);
        const char *name = g ? SSL_group_to_name(ssl, g) : NULL;
        if (name && (strcmp(name, "x25519") == 0 || strcmp(name, "x448") == 0))
            snprintf(out, outlen, "X%s", name + 1); /* as RFC 8446 spells them */
        else if (name)
            snprintf(out, outlen, "%s", name);
        else if (id == EVP_PKEY_DH)
            snprintf(out, outlen, "DHE-%d", EVP_PKEY_get_bits(tmp));
        else
            snprintf(out, outlen, "%s-%d", OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown",
                     EVP_PKEY_get_bits(tmp));
    }
    EVP_PKEY_free(tmp);
}

/* Key exchange and chain facts: cheap, filled on every TLS probe. */
static void record_chain_facts(struct conn *c, X509 *cert)
{
    struct record *r = &c->rec;
    char group[48];
    tls_group_name(c->tls, group, sizeof group);
    if (group[0])
        rec_set_str(r, F_TLS_GROUP, group);
    const unsigned char *ocsp = NULL;
    long ocsp_len = SSL_get_tlsext_status_ocsp_resp(c->tls, &ocsp);
    rec_set_bool(r, F_OCSP_STAPLED, ocsp_len > 0 && ocsp != NULL);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->tls);
    rec_set_int(r, F_CERT_CHAIN_LEN, chain ? sk_X509_num(chain) : (cert ? 1 : 0));
    if (!cert)
        return;
    set_cert_key(r, cert);
    int sig = X509_get_signature_nid(cert);
    const char *sig_name = sig != NID_undef ? OBJ_nid2ln(sig) : NULL;
    if (sig_name)
        rec_set_str(r, F_CERT_SIG_ALG, sig_name);
    set_days_left(r, cert);
    /* issuer == subject (and matching key identifiers); the signature is not
     * verified again: that would cost a public-key operation per probe */
    rec_set_bool(r, F_CERT_SELF_SIGNED, X509_self_signed(cert, 0) == 1);
    certsave_chain_seen(c->tls);
}

void tls_record_facts(struct conn *c)
{
    struct record *r = &c->rec;
    rec_set_str(r, F_TLS_VERSION, SSL_get_version(c->tls));
    rec_set_str(r, F_TLS_CIPHER, SSL_get_cipher_name(c->tls));
    X509 *cert = SSL_get0_peer_certificate(c->tls);
    record_chain_facts(c, cert);
    if (!cert)
        return;
    set_name(r, F_CERT_SUBJECT, X509_get_subject_name(cert));
    set_name(r, F_CERT_ISSUER, X509_get_issuer_name(cert));
    set_sans(r, cert);
    set_time(r, F_CERT_NOT_BEFORE, X509_get0_notBefore(cert));
    set_time(r, F_CERT_NOT_AFTER, X509_get0_notAfter(cert));

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(cert, EVP_sha256(), md, &mdlen)) {
        static const char hex[] = "0123456789abcdef";
        char out[2 * EVP_MAX_MD_SIZE];
        for (unsigned i = 0; i < mdlen; i++) {
            out[2 * i] = hex[md[i] >> 4];
            out[2 * i + 1] = hex[md[i] & 15];
        }
        rec_set_text(r, F_CERT_SHA256, out, 2 * mdlen);
    }

    long vr = dane_on(c->tls) ? dane_pkix_get(c->tls) : SSL_get_verify_result(c->tls);
    rec_set_bool(r, F_CERT_TRUSTED, vr == X509_V_OK);
    dane_record(c->tls, r);
    if (vr != X509_V_OK)
        rec_set_str(r, F_CERT_VERIFY_ERROR, X509_verify_cert_error_string(vr));

    const char *host = c->job.host;
    if (host[0]) {
        int m = is_address_literal(host) ? X509_check_ip_asc(cert, host, 0)
                                         : X509_check_host(cert, host, strlen(host), 0, NULL);
        rec_set_bool(r, F_CERT_HOSTNAME_MATCH, m == 1);
    }
    ERR_clear_error();
}
