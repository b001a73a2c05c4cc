/* inputs.c - (address, port) keys seen in more than one input; see inputs.h. */
#include "inputs.h"

#include <string.h>

#include "../../output/lib/hash.h"

static uint64_t key_hash(const void *key)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    return hash_mix64(k);
}

void inputs_init(struct inputs *in)
{
    memset(in, 0, sizeof *in);
    kset_init_map(&in->keys, sizeof(uint64_t), sizeof(uint32_t), key_hash, 1024, 50, INPUTS_MAX_KEYS);
}

void inputs_next_file(struct inputs *in)
{
    in->file++;
}

void inputs_add(struct inputs *in, const struct record *r)
{
    if (!rec_has(r, F_IP) || !rec_has(r, F_PORT))
        return;
    size_t n;
    const unsigned char *ip = rec_text(r, F_IP, &n);
    if (rec_has(r, F_STATUS)) {
        size_t sn;
        const unsigned char *st = rec_text(r, F_STATUS, &sn);
        if (sn == 9 && memcmp(st, "duplicate", 9) == 0)
            return;
    }
    unsigned char buf[80];
    if (n > sizeof buf - 8)
        n = sizeof buf - 8;
    memcpy(buf, ip, n);
    int64_t port = rec_int(r, F_PORT);
    memcpy(buf + n, &port, 8);
    uint64_t key = hash_fnv1a64(buf, n + 8) | 1; /* the all-zero key marks an empty slot */
    enum kset_add how;
    uint32_t *file = kset_put(&in->keys, &key, &how);
    if (!file) {
        /* full: a key remembered earlier can still be recognised */
        const uint32_t *seen = kset_get(&in->keys, &key);
        in->repeated += seen && *seen < in->file;
        return;
    }
    if (how == KSET_FOUND && *file < in->file)
        in->repeated++;
    *file = in->file;
}

void inputs_free(struct inputs *in)
{
    kset_free(&in->keys);
}
