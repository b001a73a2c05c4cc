/* certsave.c - --save-certs (see certsave.h). */
#include "certsave.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../output/lib/kset.h"
#include "hello_parse.h"

#define CERTSAVE_SLOTS 16384  /* hashes of saved certificates remembered */
#define CERTSAVE_MAX_CHAIN 16 /* certificates of one chain saved at most */

struct certsave {
    const char *dir;
    SSL_CTX *ctx;
    pthread_mutex_t cert_lock;
    struct kset certset; /* SHA-256 of the certificates saved */
    bool save_warned;
};

/* The set's keys are SHA-256 digests: their first bytes are the slot. */
static uint64_t digest_slot(const void *md)
{
    uint32_t h;
    memcpy(&h, md, sizeof h);
    return h;
}

static int g_ex_index = -1; /* SSL_CTX ex_data slot holding the saver */

static void free_ex(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ptr, (void)ad, (void)idx, (void)argl, (void)argp;
}

struct certsave *certsave_new(const char *dir, SSL_CTX *ctx, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--save-certs %s: not a directory", dir);
        return NULL;
    }
    struct certsave *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory for TLS enumeration");
        return NULL;
    }
    t->dir = dir;
    pthread_mutex_init(&t->cert_lock, NULL);
    kset_init(&t->certset, 32, digest_slot, CERTSAVE_SLOTS, 75, CERTSAVE_SLOTS / 4 * 3);
    if (kset_reserve(&t->certset) < 0) {
        snprintf(err, errlen, "out of memory for TLS enumeration");
        certsave_free(t);
        return NULL;
    }
    if (g_ex_index < 0)
        g_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_ex);
    if (g_ex_index < 0 || !ctx || !SSL_CTX_set_ex_data(ctx, g_ex_index, t)) {
        snprintf(err, errlen, "--save-certs: cannot attach to the TLS context");
        certsave_free(t);
        return NULL;
    }
    t->ctx = ctx;
    return t;
}

void certsave_free(struct certsave *t)
{
    if (!t)
        return;
    if (t->ctx && g_ex_index >= 0 && SSL_CTX_get_ex_data(t->ctx, g_ex_index) == t)
        SSL_CTX_set_ex_data(t->ctx, g_ex_index, NULL);
    pthread_mutex_destroy(&t->cert_lock);
    kset_free(&t->certset);
    free(t);
}

/* true when the hash was already there; false after inserting it (or
 * when the set is full: then the file system check alone decides; to keep
 * probes short it stops remembering at 3/4). */
static bool certset_seen(struct certsave *t, const unsigned char md[32])
{
    return kset_add(&t->certset, md) == KSET_FOUND;
}

/* Writes one certificate as DIR/<sha256>.pem: the PEM goes to a temporary
 * name created with O_EXCL, then link() gives it the final name only if
 * that does not exist yet; a killed scan leaves at most a temporary file,
 * never a partial <sha256>.pem. */
static void save_cert(struct certsave *t, X509 *cert, const char *hex)
{
    char final_path[4096], tmp_path[4096];
    int n1 = snprintf(final_path, sizeof final_path, "%s/%s.pem", t->dir, hex);
    int n2 = snprintf(tmp_path, sizeof tmp_path, "%s/.%s.%ld.tmp", t->dir, hex, (long)getpid());
    if (n1 < 0 || (size_t)n1 >= sizeof final_path || n2 < 0 || (size_t)n2 >= sizeof tmp_path)
        return;
    if (access(final_path, F_OK) == 0)
        return;
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp_path);
        goto fail;
    }
    int ok = PEM_write_X509(f, cert);
    ok = (fclose(f) == 0) && ok;
    if (!ok || (link(tmp_path, final_path) < 0 && errno != EEXIST)) {
        unlink(tmp_path);
        goto fail;
    }
    unlink(tmp_path);
    return;
fail:
    if (!t->save_warned) {
        t->save_warned = true;
        fprintf(stderr, "mailtls-scan: --save-certs: cannot write %s: %s\n", final_path, strerror(errno));
    }
}

/* Saves one certificate unless its hash was seen; under cert_lock. */
static void cert_seen(struct certsave *t, X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != 32)
        return;
    if (certset_seen(t, md))
        return;
    static const char hexd[] = "0123456789abcdef";
    char hex[65];
    for (int k = 0; k < 32; k++) {
        hex[2 * k] = hexd[md[k] >> 4];
        hex[2 * k + 1] = hexd[md[k] & 15];
    }
    hex[64] = 0;
    save_cert(t, cert, hex);
}

void certsave_chain_seen(SSL *ssl)
{
    if (g_ex_index < 0 || !ssl)
        return;
    struct certsave *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ex_index);
    if (!t || !t->certset.slots)
        return;
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    int n = chain ? sk_X509_num(chain) : 0;
    pthread_mutex_lock(&t->cert_lock);
    for (int i = 0; i < n && i < CERTSAVE_MAX_CHAIN; i++)
        cert_seen(t, sk_X509_value(chain, i));
    pthread_mutex_unlock(&t->cert_lock);
    ERR_clear_error();
}

void certsave_tls_message(struct certsave *t, const unsigned char *msg, size_t len)
{
    if (!t || !t->certset.slots || !msg)
        return;
    size_t at = 0, der_len;
    const unsigned char *der;
    pthread_mutex_lock(&t->cert_lock);
    for (int i = 0; i < CERTSAVE_MAX_CHAIN && hp_cert_next(msg, len, &at, &der, &der_len); i++) {
        const unsigned char *q = der;
        X509 *cert = d2i_X509(NULL, &q, (long)der_len);
        /* only a certificate that fills its entry exactly: the file name is
         * the hash of what the server sent */
        if (cert && q == der + der_len)
            cert_seen(t, cert);
        X509_free(cert);
    }
    pthread_mutex_unlock(&t->cert_lock);
    ERR_clear_error();
}
