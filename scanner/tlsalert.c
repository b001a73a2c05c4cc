/* tlsalert.c - alerts seen during a handshake (see tlsalert.h). */
#include "tlsalert.h"

#include <pthread.h>
#include <stdint.h>

enum { TLSALERT_READ = 1, TLSALERT_WRITTEN = 2 };

static int g_index = -1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void index_init(void)
{
    g_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void on_info(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (!(where & SSL_CB_ALERT) || g_index < 0)
        return;
    uintptr_t bits = (uintptr_t)SSL_get_ex_data(ssl, g_index);
    bits |= where & SSL_CB_READ ? TLSALERT_READ : TLSALERT_WRITTEN;
    SSL_set_ex_data((SSL *)ssl, g_index, (void *)bits);
}

void tlsalert_watch(SSL *ssl)
{
    pthread_once(&g_once, index_init);
    if (g_index < 0)
        return;
    SSL_set_ex_data(ssl, g_index, NULL);
    SSL_set_info_callback(ssl, on_info);
}

bool tlsalert_exchanged(const SSL *ssl)
{
    return ssl && g_index >= 0 && SSL_get_ex_data(ssl, g_index);
}
