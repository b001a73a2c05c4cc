/* outq.c - filled buffers, one writer thread, a congestion flag; see outq.h. */
#include "outq.h"

#include <pthread.h>
#include <stdlib.h>

/* Written buffers kept for reuse: enough that a steady scan allocates
 * nothing, few enough that a drained queue gives its memory back. */
#define OUTQ_SPARE_MAX 2

struct outq_node {
    struct outq_node *next;
    struct outbuf buf;
};

struct outq {
    pthread_mutex_t mu;
    pthread_cond_t work;           /* the writer waits for a buffer */
    pthread_cond_t idle;           /* outq_drain waits for an empty queue */
    struct outq_node *head, *tail; /* pushed, oldest first */
    struct outq_node *spare;
    unsigned spare_n;
    struct outq_node *cur; /* being filled: the producer's alone */
    size_t backlog;        /* bytes in head..tail and in the write under way */
    bool writing;
    bool stopping;
    size_t buf_max, high_water;
    atomic_bool congested;
    atomic_bool failed;
    outq_write_fn write;
    void *ctx;
    pthread_t thread;
};

static struct outq_node *node_new(size_t buf_max)
{
    struct outq_node *n = calloc(1, sizeof *n);
    if (n && outbuf_init(&n->buf, buf_max) < 0) {
        free(n);
        n = NULL;
    }
    return n;
}

static void node_free(struct outq_node *n)
{
    outbuf_free(&n->buf);
    free(n);
}

/* Under mu: a written buffer goes to the spares or away. */
static void recycle(struct outq *q, struct outq_node *n)
{
    if (q->spare_n >= OUTQ_SPARE_MAX) {
        node_free(n);
        return;
    }
    outbuf_reset(&n->buf);
    n->next = q->spare;
    q->spare = n;
    q->spare_n++;
}

/* Under mu, after a buffer left the backlog: congestion ends at half the
 * high water, so the producer does not flap on and off at one threshold. */
static void update_congestion(struct outq *q)
{
    if (q->backlog > q->high_water)
        atomic_store(&q->congested, true);
    else if (q->backlog <= q->high_water / 2)
        atomic_store(&q->congested, false);
}

static void *writer_main(void *arg)
{
    struct outq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->mu);
        if (!q->head)
            break; /* stopping, and everything is written */
        struct outq_node *n = q->head;
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        q->writing = true;
        pthread_mutex_unlock(&q->mu);
        /* the blocking part, with no lock held */
        if (!atomic_load(&q->failed) && q->write(q->ctx, n->buf.data, n->buf.len) < 0)
            atomic_store(&q->failed, true);
        pthread_mutex_lock(&q->mu);
        q->writing = false;
        q->backlog -= n->buf.len;
        update_congestion(q);
        recycle(q, n);
        if (!q->head)
            pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

struct outq *outq_new(size_t buf_max, size_t high_water, outq_write_fn write, void *ctx)
{
    struct outq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->buf_max = buf_max;
    q->high_water = high_water;
    q->write = write;
    q->ctx = ctx;
    atomic_init(&q->congested, false);
    atomic_init(&q->failed, false);
    q->cur = node_new(buf_max);
    if (!q->cur) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->idle, NULL);
    if (pthread_create(&q->thread, NULL, writer_main, q) != 0) {
        pthread_cond_destroy(&q->idle);
        pthread_cond_destroy(&q->work);
        pthread_mutex_destroy(&q->mu);
        node_free(q->cur);
        free(q);
        return NULL;
    }
    return q;
}

struct outbuf *outq_current(struct outq *q)
{
    return &q->cur->buf;
}

int outq_push(struct outq *q)
{
    if (atomic_load(&q->failed)) {
        outbuf_reset(&q->cur->buf); /* nothing more reaches the file */
        return -1;
    }
    if (q->cur->buf.len == 0)
        return 0;
    pthread_mutex_lock(&q->mu);
    struct outq_node *next = q->spare;
    if (next) {
        q->spare = next->next;
        q->spare_n--;
    }
    pthread_mutex_unlock(&q->mu);
    if (!next)
        next = node_new(q->buf_max); /* outside the lock: malloc may take a while */
    if (!next) {
        atomic_store(&q->failed, true);
        return -1;
    }
    struct outq_node *n = q->cur;
    n->next = NULL;
    q->cur = next;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->backlog += n->buf.len;
    update_congestion(q);
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

const atomic_bool *outq_congestion(struct outq *q)
{
    return &q->congested;
}

size_t outq_backlog(struct outq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->backlog;
    pthread_mutex_unlock(&q->mu);
    return n;
}

bool outq_failed(struct outq *q)
{
    return atomic_load(&q->failed);
}

void outq_drain(struct outq *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->head || q->writing)
        pthread_cond_wait(&q->idle, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

int outq_close(struct outq *q)
{
    outq_push(q);
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    int rc = atomic_load(&q->failed) ? -1 : 0;
    while (q->spare) {
        struct outq_node *n = q->spare;
        q->spare = n->next;
        node_free(n);
    }
    node_free(q->cur);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return rc;
}
