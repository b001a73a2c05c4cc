/* tlsenum.c - placeholder until TLS enumeration lands (issue 3): the
 * options are refused, so nothing pretends to enumerate. */
#include "tlsenum.h"

#include <stdio.h>

struct tls_enum *tls_enum_new(const struct tls_enum_opts *o, int (*emit)(void *, struct record *),
                              void *emit_ctx, char *err, size_t errlen)
{
    (void)o, (void)emit, (void)emit_ctx;
    snprintf(err, errlen, "TLS enumeration is not available in this build");
    return NULL;
}
void tls_enum_free(struct tls_enum *t) { (void)t; }
int tls_enum_offer(struct tls_enum *t, const struct job *j, struct record *r) { (void)t, (void)j, (void)r; return 0; }
bool tls_enum_next_job(struct tls_enum *t, struct job *out) { (void)t, (void)out; return false; }
bool tls_enum_busy(const struct tls_enum *t) { (void)t; return false; }
bool tls_enum_full(const struct tls_enum *t) { (void)t; return false; }
void tls_enum_setup(void *t, const struct job *j, SSL *ssl) { (void)t, (void)j, (void)ssl; }
void tls_enum_done(void *t, const struct job *j, SSL *ssl, bool ok, enum rec_status s, const char *e)
{
    (void)t, (void)j, (void)ssl, (void)ok, (void)s, (void)e;
}
int tls_enum_failed(const struct tls_enum *t) { (void)t; return 0; }
