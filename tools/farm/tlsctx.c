/*
 * TLS contexts shared by every worker thread.
 *
 * modern: TLS 1.2 and 1.3, OpenSSL's default ciphers.
 * legacy: TLS 1.0 and 1.1 only, "DEFAULT:@SECLEVEL=0" so that SHA-1
 *         signatures and old suites are allowed (the legacy-tls profile).
 *
 * Both carry the same ECDSA P-256 certificate: signing with it costs about
 * 20 us, a tenth of RSA-2048, so the farm is not the bottleneck of a
 * benchmark. Without --cert/--key a self-signed certificate (CN and SAN
 * "mailtls-farm", SAN "*.farm.test" and IP 127.0.0.1) is made at start-up.
 *
 * Per-session work is kept small: no session tickets, no session cache, no
 * client certificate request, buffers released while idle, read-ahead (one
 * read() per burst instead of one per record header and one per body), and
 * a certificate whose DER encoding is cached (see cache_encoding).
 */
#include "farm.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

static void log_ssl_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    fprintf(stderr, "mailtls-farm: %s failed\n", what);
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        fprintf(stderr, "  %s\n", buf);
    }
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A certificate built in memory has no cached DER encoding: OpenSSL would
 * re-encode it (extensions and all) for every handshake's Certificate
 * message. One that was parsed keeps the bytes it came from. */
static X509 *cache_encoding(X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0)
        return NULL;
    const unsigned char *p = der;
    X509 *parsed = d2i_X509(NULL, &p, len);
    OPENSSL_free(der);
    return parsed;
}

/* Makes a fresh key and a self-signed certificate valid for 30 days. */
static int make_self_signed(EVP_PKEY **key_out, X509 **cert_out)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new(), *parsed;
    X509_NAME *name = X509_NAME_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    int rc = -1;
    if (!key || !cert || !name)
        goto out;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f; /* positive */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
        goto out;
    if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600))
        goto out;
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mailtls-farm", -1, -1,
                                    0) ||
        !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
        !X509_set_pubkey(cert, key))
        goto out;
    if (add_ext(cert, NID_subject_alt_name,
                "DNS:mailtls-farm,DNS:farm.test,DNS:*.farm.test,IP:127.0.0.1,IP:::1") != 0 ||
        add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(cert, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") != 0)
        goto out;
    if (!X509_sign(cert, key, EVP_sha256()))
        goto out;
    parsed = cache_encoding(cert);
    if (!parsed)
        goto out;
    *key_out = key;
    *cert_out = parsed;
    key = NULL;
    rc = 0;
out:
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

static SSL_CTX *new_ctx(bool is_legacy)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    int min = is_legacy ? TLS1_VERSION : TLS1_2_VERSION;
    int max = is_legacy ? TLS1_1_VERSION : TLS1_3_VERSION;
    /* Security level first: at the default level OpenSSL 3 refuses to
     * enable TLS 1.0/1.1 at all. */
    if (is_legacy && !SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0"))
        goto fail;
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max))
        goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0); /* TLS 1.3 would send two by default */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Whatever OpenSSL reads ahead stays in the SSL object; session.c asks
     * SSL_has_pending() before it waits on epoll. */
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int load_files(SSL_CTX *ctx, const char *cert_file, const char *key_file)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        return -1;
    return 0;
}

int tlsctx_init(const char *cert_file, const char *key_file, SSL_CTX **modern, SSL_CTX **legacy)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    SSL_CTX *ctx[2] = {NULL, NULL};
    if ((cert_file == NULL) != (key_file == NULL)) {
        fprintf(stderr, "mailtls-farm: --cert and --key go together\n");
        return -1;
    }
    if (!cert_file && make_self_signed(&key, &cert) != 0) {
        log_ssl_errors("generating the self-signed certificate");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        ctx[i] = new_ctx(i == 1);
        if (!ctx[i]) {
            log_ssl_errors(i ? "creating the legacy TLS context" : "creating the TLS context");
            goto fail;
        }
        if (cert_file) {
            if (load_files(ctx[i], cert_file, key_file) != 0) {
                log_ssl_errors("loading --cert/--key");
                goto fail;
            }
        } else if (SSL_CTX_use_certificate(ctx[i], cert) != 1 || SSL_CTX_use_PrivateKey(ctx[i], key) != 1) {
            log_ssl_errors("installing the certificate");
            goto fail;
        }
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    *modern = ctx[0];
    *legacy = ctx[1];
    return 0;
fail:
    SSL_CTX_free(ctx[0]);
    SSL_CTX_free(ctx[1]);
    X509_free(cert);
    EVP_PKEY_free(key);
    return -1;
}
