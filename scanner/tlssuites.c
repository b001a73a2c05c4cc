/* tlssuites.c - the TLS versions and cipher suites an enumeration tests
 * (see tlssuites.h). */
#include "tlssuites.h"

#include <openssl/err.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const int tlssuites_ver_code[TE_NVER] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
/* OpenSSL's names, as in the tls_version field. */
const char *const tlssuites_ver_name[TE_NVER] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

const char *const tlssuites_13[N_SUITES13] = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                              "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256",
                                              "TLS_AES_128_CCM_8_SHA256"};

/* Suites OpenSSL can offer, shared by every enumerator: index -> cipher. */
const SSL_CIPHER *tlssuites_all[TLSSUITES_MAX];
uint16_t tlssuites_n;
uint16_t tlssuites_offerable[TE_NVER]; /* suites a client can send at each version */

int tlssuites_load(char *err, size_t errlen)
{
    if (tlssuites_n)
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    int rc = -1;
    if (!ctx)
        goto out;
    SSL_CTX_set_security_level(ctx, 0);
    if (!SSL_CTX_set_cipher_list(ctx, ALL_12 SECLEVEL0))
        goto out;
    char list13[256] = "";
    for (size_t i = 0; i < N_SUITES13; i++)
        snprintf(list13 + strlen(list13), sizeof list13 - strlen(list13), "%s%s", i ? ":" : "",
                 tlssuites_13[i]);
    if (!SSL_CTX_set_ciphersuites(ctx, list13))
        goto out;
    STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; i < sk_SSL_CIPHER_num(all) && tlssuites_n < 512; i++)
        tlssuites_all[tlssuites_n++] = sk_SSL_CIPHER_value(all, i);
    for (int v = 0; v < TE_NVER; v++) {
        ssl = SSL_new(ctx);
        if (!ssl)
            goto out;
        SSL_set_min_proto_version(ssl, tlssuites_ver_code[v]);
        SSL_set_max_proto_version(ssl, tlssuites_ver_code[v]);
        STACK_OF(SSL_CIPHER) *sup = SSL_get1_supported_ciphers(ssl);
        int n = 0;
        for (int i = 0; sup && i < sk_SSL_CIPHER_num(sup); i++) {
            bool is13 = strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(sup, i)), "TLSv1.3") == 0;
            if ((v == TE_TLS13) == is13)
                n++;
        }
        sk_SSL_CIPHER_free(sup);
        tlssuites_offerable[v] = (uint16_t)n;
        SSL_free(ssl);
        ssl = NULL;
    }
    rc = 0;
out:
    if (rc < 0) {
        unsigned long code = ERR_get_error();
        snprintf(err, errlen, "cannot list OpenSSL's cipher suites: %s",
                 code ? ERR_reason_error_string(code) : "unknown error");
        tlssuites_n = 0;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

int tlssuites_index(const SSL_CIPHER *c)
{
    if (!c)
        return -1;
    uint32_t id = SSL_CIPHER_get_id(c);
    for (int i = 0; i < tlssuites_n; i++)
        if (SSL_CIPHER_get_id(tlssuites_all[i]) == id)
            return i;
    return -1;
}

uint32_t tlssuites_weak_bits(const SSL_CIPHER *c)
{
    uint32_t w = 0;
    int cipher = SSL_CIPHER_get_cipher_nid(c);
    if (cipher == NID_undef)
        w |= W_NULL;
    else if (cipher == NID_rc4 || cipher == NID_rc4_40)
        w |= W_RC4;
    else if (cipher == NID_des_cbc)
        w |= W_DES;
    else if (cipher == NID_des_ede3_cbc)
        w |= W_3DES;
    if (SSL_CIPHER_get_auth_nid(c) == NID_auth_null)
        w |= W_ANON;
    if (SSL_CIPHER_get_digest_nid(c) == NID_md5)
        w |= W_MD5;
    int alg_bits = 0;
    SSL_CIPHER_get_bits(c, &alg_bits);
    if (cipher != NID_undef && alg_bits > 0 && alg_bits < 64)
        w |= W_EXPORT;
    return w;
}

const char *const tlssuites_weak_name[N_WEAK] = {"TLSv1", "TLSv1.1", "NULL", "anonymous", "export",
                                                 "RC4",   "DES",     "3DES", "MD5"};

_Static_assert(sizeof tlssuites_weak_name / sizeof tlssuites_weak_name[0] == N_WEAK, "weak names");
