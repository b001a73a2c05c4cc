/* dane.c - DANE on the probe's handshake (see dane.h). */
#include "dane.h"

#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

/* SSL ex_data: 0 = DANE off; else 1 | (PKIX verdict + 1) << 1, the
 * verdict set by tls.c's verification callback (0 there: not verified) */
static int g_idx = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void idx_init(void)
{
    g_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int dane_ctx_init(SSL_CTX *ctx)
{
    pthread_once(&g_once, idx_init);
    if (g_idx < 0 || SSL_CTX_dane_enable(ctx) <= 0)
        return -1;
    return 0;
}

int dane_attach(SSL *ssl, const struct job *j)
{
    if (j->kind != JOB_PROBE || j->n_tlsa == 0 || !j->host[0] || g_idx < 0)
        return 0;
    if (SSL_dane_enable(ssl, j->host) <= 0)
        return -1;
    /* RFC 7672 3.1.1: DANE-EE(3) matches the key, whatever the names */
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    int added = 0;
    for (int i = 0; i < j->n_tlsa && i < JOB_TLSA_MAX; i++) {
        const struct job_tlsa *t = &j->tlsa[i];
        if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
            added++;
    }
    /* none added: OpenSSL leaves DANE off, and so do we */
    if (added > 0)
        SSL_set_ex_data(ssl, g_idx, (void *)(uintptr_t)1);
    return 0;
}

bool dane_on(const SSL *ssl)
{
    return g_idx >= 0 && SSL_get_ex_data(ssl, g_idx) != NULL;
}

void dane_pkix_set(SSL *ssl, int verify_err)
{
    if (dane_on(ssl))
        SSL_set_ex_data(ssl, g_idx, (void *)(uintptr_t)(1 | ((uintptr_t)(verify_err + 1) << 1)));
}

long dane_pkix_get(const SSL *ssl)
{
    uintptr_t v = (uintptr_t)SSL_get_ex_data(ssl, g_idx) >> 1;
    return v ? (long)v - 1 : X509_V_ERR_UNSPECIFIED;
}

void dane_record(SSL *ssl, struct record *r)
{
    if (!dane_on(ssl))
        return;
    uint8_t usage, selector, mtype;
    const unsigned char *data;
    size_t dlen;
    int depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen);
    long vr = SSL_get_verify_result(ssl);
    char buf[160];
    if (depth >= 0 && vr == X509_V_OK)
        snprintf(buf, sizeof buf, "%u %u %u depth %d", usage, selector, mtype, depth);
    else
        snprintf(buf, sizeof buf, "fail: %s", X509_verify_cert_error_string(vr));
    rec_set_str(r, F_DANE_MATCH, buf);
}
