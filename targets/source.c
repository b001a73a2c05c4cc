/*
 * source.c - argv targets, files and stdin as one stream of items.
 *
 * Inputs are consumed in the order added, one line at a time. A prefix
 * line is expanded in place: its addresses come out in the order of a
 * tgt_perm seeded from (--seed, prefix), before the next line is read, so
 * nothing per address is stored and the order is reproducible.
 *
 * Sharding: every address or name the input yields (after expansion, before
 * the blocklist) gets the next number k = 0, 1, 2, ...; it belongs to shard
 * k mod shards. All shards read the same input with the same seed, so they
 * number it identically: the shards are disjoint and their union is the
 * input. The blocklist is applied after sharding, so a blocked item appears
 * (flagged) in exactly one shard.
 *
 * stdin that is a pipe or socket is switched to O_NONBLOCK (restored by
 * tgt_source_free) so that a slow producer gives WAIT instead of blocking
 * the caller's event loop.
 */
#include "addr.h"
#include "blocklist.h"
#include "dedup.h"
#include "permute.h"
#include "reader.h"
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum input_kind { INPUT_ARG, INPUT_FILE, INPUT_STDIN };

struct input {
    enum input_kind kind;
    char *text; /* INPUT_ARG: the target; INPUT_FILE: the path */
    int fd;     /* files: opened by add_file; stdin: 0 */
    unsigned arg_no;
};

struct tgt_source {
    struct tgt_source_opts opts;
    struct input *inputs;
    size_t ninputs, cap_inputs;
    size_t cur;   /* input being read */
    bool is_open; /* reader set up for inputs[cur] */
    unsigned nargs;
    bool has_stdin;
    bool is_stdin_restore; /* we set O_NONBLOCK on stdin */
    int stdin_flags;
    struct tgt_blocklist *bl;
    bool is_expanding;
    struct tgt_line prefix; /* the line being expanded */
    bool is_prefix_dup;     /* ... and it repeats an earlier prefix line */
    struct tgt_set *seen;   /* keys of the target lines read so far */
    struct tgt_perm perm;
    uint64_t shard_seq; /* k: numbers items for sharding */
    int wait_fd;
    struct tgt_counts counts;
    char origin[TGT_ERR_MAX];
    struct tgt_reader reader;
};

struct tgt_source *tgt_source_new(const struct tgt_source_opts *opts)
{
    struct tgt_source *s;

    if (opts->shards == 0 || opts->shard >= opts->shards)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->opts = *opts;
    s->wait_fd = -1;
    s->bl = tgt_bl_new();
    s->seen = tgt_set_new(opts->dedup_max ? opts->dedup_max : TGT_DEDUP_MAX_DEFAULT);
    if (!s->bl || !s->seen || (!opts->no_default_blocklist && tgt_bl_add_defaults(s->bl) < 0)) {
        tgt_source_free(s);
        return NULL;
    }
    return s;
}

void tgt_source_free(struct tgt_source *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ninputs; i++) {
        if (s->inputs[i].kind == INPUT_FILE && s->inputs[i].fd >= 0)
            close(s->inputs[i].fd);
        free(s->inputs[i].text);
    }
    if (s->is_stdin_restore)
        fcntl(STDIN_FILENO, F_SETFL, s->stdin_flags);
    free(s->inputs);
    tgt_bl_free(s->bl);
    tgt_set_free(s->seen);
    free(s);
}

static struct input *push_input(struct tgt_source *s, enum input_kind kind, const char *text)
{
    struct input *in;

    if (s->ninputs == s->cap_inputs) {
        size_t cap = s->cap_inputs ? s->cap_inputs * 2 : 16;
        struct input *grown = realloc(s->inputs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->inputs = grown;
        s->cap_inputs = cap;
    }
    in = &s->inputs[s->ninputs];
    *in = (struct input){.kind = kind, .fd = -1};
    in->text = strdup(text);
    if (!in->text)
        return NULL;
    s->ninputs++;
    return in;
}

int tgt_source_add_arg(struct tgt_source *s, const char *target, char *err, size_t errlen)
{
    struct input *in;

    if (strcmp(target, "-") == 0)
        return tgt_source_add_file(s, target, err, errlen);
    in = push_input(s, INPUT_ARG, target);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->arg_no = ++s->nargs;
    return 0;
}

int tgt_source_add_file(struct tgt_source *s, const char *path, char *err, size_t errlen)
{
    struct input *in;
    struct stat st;
    int fd;

    if (strcmp(path, "-") == 0) {
        if (s->has_stdin) {
            snprintf(err, errlen, "-: stdin given twice");
            return -1;
        }
        in = push_input(s, INPUT_STDIN, "-");
        if (!in) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        in->fd = STDIN_FILENO;
        s->has_stdin = true;
        return 0;
    }
    /* Opened now so that a bad path fails at startup, not mid-scan. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
        close(fd);
        return -1;
    }
    in = push_input(s, INPUT_FILE, path);
    if (!in) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->fd = fd;
    return 0;
}

int tgt_source_load_blocklist(struct tgt_source *s, const char *path, char *err, size_t errlen)
{
    return tgt_bl_load_file(s->bl, path, TGT_BL_BLOCK, err, errlen);
}

int tgt_source_load_allowlist(struct tgt_source *s, const char *path, char *err, size_t errlen)
{
    return tgt_bl_load_file(s->bl, path, TGT_BL_ALLOW, err, errlen);
}

bool tgt_source_is_blocked(struct tgt_source *s, int family, const unsigned char *addr)
{
    return tgt_bl_is_blocked(s->bl, family, addr);
}

/* Pipes and sockets only: a terminal is shared with the shell, which would
 * keep O_NONBLOCK after we exit, and regular files never block. */
static void open_stdin(struct tgt_source *s)
{
    struct stat st;
    int flags;

    if (fstat(STDIN_FILENO, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return;
    flags = fcntl(STDIN_FILENO, F_GETFL);
    if (flags < 0 || (flags & O_NONBLOCK))
        return;
    if (fcntl(STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) == 0) {
        s->stdin_flags = flags;
        s->is_stdin_restore = true;
    }
}

static void close_input(struct tgt_source *s)
{
    struct input *in = &s->inputs[s->cur];

    if (in->kind == INPUT_FILE && in->fd >= 0) {
        close(in->fd);
        in->fd = -1;
    }
    s->is_open = false;
    s->cur++;
}

/* Numbers the item and says whether this shard owns it. */
static bool take_shard(struct tgt_source *s)
{
    uint64_t k = s->shard_seq++;

    if (k % s->opts.shards == s->opts.shard)
        return true;
    s->counts.other_shard++;
    return false;
}

static enum tgt_next yield(struct tgt_source *s, struct tgt_item *out, bool duplicate)
{
    out->origin = s->origin;
    out->duplicate = duplicate;
    out->blocklisted = !duplicate && out->line.kind == TGT_ADDR &&
                       tgt_bl_is_blocked(s->bl, out->line.family, out->line.addr);
    s->counts.items++;
    if (out->blocklisted)
        s->counts.blocklisted++;
    if (duplicate)
        s->counts.duplicates++;
    return TGT_NEXT_ITEM;
}

/* Whether an earlier line named the same target (dedup.h: the key leaves
 * the tag out). Once the set is full, lines are no longer checked. */
static bool is_duplicate(struct tgt_source *s, const struct tgt_line *l)
{
    struct tgt_keyspec k = {
        .kind = TGT_KEY_TARGET,
        .family = l->kind == TGT_NAME ? 0 : l->family,
        .addr = l->addr,
        .prefix_len = l->prefix_len,
        .port = l->port,
        .proto = l->has_proto ? (int)l->proto.proto : TGT_KEY_ANY_PROTO,
        .mode = l->has_proto ? (int)l->proto.mode : TGT_KEY_ANY_PROTO,
        .name = l->name,
        .name_len = strlen(l->name),
    };
    int rc = tgt_set_add(s->seen, tgt_key(&k));

    if (rc < 0)
        s->counts.dedup_full++;
    return rc == 0;
}

static void start_prefix(struct tgt_source *s, const struct tgt_line *line)
{
    unsigned host_bits = (line->family == AF_INET ? 32u : 128u) - line->prefix_len;
    uint64_t seed = tgt_mix64(s->opts.seed ^ line->prefix_len);

    /* Every prefix gets its own order, the same in every shard. */
    for (size_t i = 0; i < 16; i++)
        seed = tgt_mix64(seed ^ line->addr[i]);
    s->prefix = *line;
    /* host_bits <= 32: the parser refuses larger IPv6 prefixes. */
    tgt_perm_init(&s->perm, UINT64_C(1) << host_bits, seed);
    s->is_expanding = true;
}

/* Next expanded address of the current prefix owned by this shard. */
static bool next_in_prefix(struct tgt_source *s, struct tgt_item *out)
{
    uint64_t idx;

    while (tgt_perm_next(&s->perm, &idx)) {
        if (!take_shard(s))
            continue;
        out->line = s->prefix;
        out->line.kind = TGT_ADDR;
        out->line.prefix_len = s->prefix.family == AF_INET ? 32 : 128;
        tgt_addr_add(s->prefix.family, s->prefix.addr, (uint32_t)idx, out->line.addr);
        return true;
    }
    s->is_expanding = false;
    return false;
}

/* Gets the next raw line into (*text, *len) with s->origin set. Returns
 * TGT_NEXT_ITEM when a line is ready, or the result to hand back. */
static enum tgt_next next_line(struct tgt_source *s, const char **text, size_t *len, char *err, size_t errlen)
{
    for (;;) {
        struct input *in;
        enum tgt_read res;
        int errnum = 0;

        if (s->cur >= s->ninputs)
            return TGT_NEXT_END;
        in = &s->inputs[s->cur];
        if (in->kind == INPUT_ARG) {
            snprintf(s->origin, sizeof s->origin, "arg %u", in->arg_no);
            *text = in->text;
            *len = strlen(in->text);
            s->counts.lines++;
            close_input(s);
            return TGT_NEXT_ITEM;
        }
        if (!s->is_open) {
            if (in->kind == INPUT_STDIN)
                open_stdin(s);
            tgt_reader_init(&s->reader, in->fd);
            s->is_open = true;
        }
        res = tgt_reader_next(&s->reader, text, len, &errnum);
        switch (res) {
        case TGT_READ_LINE:
            s->counts.lines++;
            snprintf(s->origin, sizeof s->origin, "%s:%llu", in->text, (unsigned long long)s->reader.lineno);
            return TGT_NEXT_ITEM;
        case TGT_READ_TOO_LONG:
            s->counts.lines++;
            s->counts.malformed++;
            snprintf(err, errlen, "%s:%llu: line longer than %d bytes (skipped)", in->text,
                     (unsigned long long)s->reader.lineno, TGT_LINE_MAX);
            return TGT_NEXT_MALFORMED;
        case TGT_READ_WAIT: s->wait_fd = in->fd; return TGT_NEXT_WAIT;
        case TGT_READ_EOF: close_input(s); continue;
        case TGT_READ_ERROR:
            snprintf(err, errlen, "%s: %s", in->text, strerror(errnum));
            close_input(s);
            return TGT_NEXT_ERROR;
        }
    }
}

enum tgt_next tgt_source_next(struct tgt_source *s, struct tgt_item *out, char *err, size_t errlen)
{
    s->wait_fd = -1;
    for (;;) {
        const char *text;
        size_t len;
        char why[TGT_ERR_MAX];
        enum tgt_next res;
        int rc;

        if (s->is_expanding) {
            if (next_in_prefix(s, out))
                return yield(s, out, s->is_prefix_dup);
            continue;
        }
        res = next_line(s, &text, &len, err, errlen);
        if (res != TGT_NEXT_ITEM)
            return res;
        rc = tgt_parse_line(text, len, &out->line, why, sizeof why);
        if (rc == 0)
            continue;
        if (rc < 0) {
            s->counts.malformed++;
            snprintf(err, errlen, "%s: %s", s->origin, why);
            return TGT_NEXT_MALFORMED;
        }
        /* before sharding: every shard flags the same lines */
        bool dup = is_duplicate(s, &out->line);
        if (out->line.kind == TGT_PREFIX) {
            s->is_prefix_dup = dup;
            start_prefix(s, &out->line);
            continue;
        }
        if (take_shard(s))
            return yield(s, out, dup);
    }
}

int tgt_source_fd(const struct tgt_source *s)
{
    return s->wait_fd;
}

void tgt_source_counts(const struct tgt_source *s, struct tgt_counts *out)
{
    *out = s->counts;
}
