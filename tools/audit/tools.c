/*
 * tools.c - running postconf and doveconf, and pairing their values with
 * the lines of the files.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../output/lib/now.h"
#include "tools.h"

#define TOOL_TIMEOUT_MS 15000

bool tool_on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char dir[AUD_PATH_MAX + 64];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
        if (n < AUD_PATH_MAX && access(dir, X_OK) == 0)
            return true;
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

/* Reads the child's stdout until EOF, the size cap or the deadline. */
static char *read_child(int fd, size_t *len, char *err, size_t errlen)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap + 1);
    uint64_t deadline = now_ms() + TOOL_TIMEOUT_MS;
    while (buf) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            snprintf(err, errlen, "timed out after %d ms", TOOL_TIMEOUT_MS);
            goto fail;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        if (n == cap) {
            if (cap >= AUD_FILE_MAX) {
                snprintf(err, errlen, "output larger than %d bytes", AUD_FILE_MAX);
                goto fail;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb)
                goto fail;
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    return NULL;
}

char *tool_run(char *const argv[], size_t *len, char *err, size_t errlen)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return NULL;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDERR_FILENO);
        dup2(pfd[1], STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    err[0] = '\0';
    char *out = read_child(pfd[0], len, err, errlen);
    close(pfd[0]);
    if (!out)
        kill(pid, SIGKILL); /* our own child, stuck or too talkative */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (out && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(err, errlen, "%s exited with status %d", argv[0],
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        free(out);
        return NULL;
    }
    return out;
}

/* ---------------------------------------------------------------- postconf */

struct pc_ctx {
    const struct pf_conf *files; /* the file parse: lines */
    struct pf_conf *out;
    bool per_service; /* -P lines: "service/type/name = value" */
};

/* "name = value" (or "svc/type/name = value"): the value from postconf,
 * the file and line from the file parse. */
static int on_postconf_line(void *vctx, const char *line, size_t n, int lineno)
{
    struct pc_ctx *x = vctx;
    const char *eq = memchr(line, '=', n);
    if (!eq)
        return 0;
    const char *k = line, *v = eq + 1;
    size_t kl = (size_t)(eq - line), vl = n - kl - 1;
    aud_trim(&k, &kl);
    aud_trim(&v, &vl);
    char key[AUD_SCOPE_MAX + AUD_NAME_MAX];
    if (kl == 0 || kl >= sizeof key)
        return 0;
    memcpy(key, k, kl);
    key[kl] = '\0';
    char scope[AUD_SCOPE_MAX] = "";
    const char *name = key;
    if (x->per_service) {
        char *slash = strrchr(key, '/');
        if (!slash)
            return 0;
        *slash = '\0';
        snprintf(scope, sizeof scope, "%.191s", key);
        name = slash + 1;
    }
    const struct aud_row *src = aud_store_last(&x->files->st, scope, name);
    aud_store_add(&x->out->st, scope, name, v, vl, src ? src->file : x->files->main_cf, src ? src->line : 0);
    return 0;
}

/* `postconf -M`: one service per line, its first 8 fields. */
static int on_master_line(void *vctx, const char *line, size_t n, int lineno)
{
    struct pc_ctx *x = vctx;
    char f[8][128];
    int nf = 0;
    size_t p = 0;
    while (nf < 8 && p < n) {
        while (p < n && (line[p] == ' ' || line[p] == '\t'))
            p++;
        size_t s = p;
        while (p < n && line[p] != ' ' && line[p] != '\t')
            p++;
        if (p > s)
            snprintf(f[nf++], sizeof f[0], "%.*s", (int)(p - s), line + s);
    }
    if (nf < 8 || x->out->n_svc >= PF_SERVICES_MAX)
        return 0;
    struct pf_service *sv = &x->out->svc[x->out->n_svc++];
    memset(sv, 0, sizeof *sv);
    snprintf(sv->name, sizeof sv->name, "%s", f[0]);
    snprintf(sv->type, sizeof sv->type, "%.15s", f[1]);
    snprintf(sv->command, sizeof sv->command, "%.63s", f[7]);
    for (size_t i = 0; i < x->files->n_svc; i++)
        if (strcmp(x->files->svc[i].name, sv->name) == 0 && strcmp(x->files->svc[i].type, sv->type) == 0)
            sv->line = x->files->svc[i].line;
    return 0;
}

int pf_from_postconf(struct pf_conf *c, char *err, size_t errlen)
{
    static const char *const modes[] = {"-nx", "-Px", "-M"};
    char *outs[3] = {NULL, NULL, NULL};
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        char *argv[] = {"postconf", "-c", c->dir, (char *)modes[i], NULL};
        outs[i] = tool_run(argv, &lens[i], err, errlen);
        if (!outs[i]) {
            for (int k = 0; k < i; k++)
                free(outs[k]);
            return -1;
        }
    }
    struct pf_conf *tc = malloc(sizeof *tc);
    if (!tc) {
        snprintf(err, errlen, "out of memory");
        for (int k = 0; k < 3; k++)
            free(outs[k]);
        return -1;
    }
    pf_init(tc, c->dir);
    struct pc_ctx x = {.files = c, .out = tc};
    aud_lines(outs[0], lens[0], &tc->st, "postconf -n", on_postconf_line, &x);
    x.per_service = true;
    aud_lines(outs[1], lens[1], &tc->st, "postconf -P", on_postconf_line, &x);
    aud_lines(outs[2], lens[2], &tc->st, "postconf -M", on_master_line, &x);
    for (int k = 0; k < 3; k++)
        free(outs[k]);
    tc->st.warnings += c->st.warnings;
    if (c->st.warnings && !tc->st.first_warning[0])
        snprintf(tc->st.first_warning, sizeof tc->st.first_warning, "%s", c->st.first_warning);
    tc->via_postconf = true;
    pf_free(c);
    *c = *tc;
    free(tc);
    return 0;
}

/* ---------------------------------------------------------------- doveconf */

int dc_from_doveconf(struct dc_conf *c, char *err, size_t errlen)
{
    char *argv[] = {"doveconf", "-c", c->top, "-n", NULL};
    size_t len;
    char *out = tool_run(argv, &len, err, errlen);
    if (!out)
        return -1;
    struct dc_conf *tc = malloc(sizeof *tc);
    if (!tc) {
        free(out);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    dc_init(tc, c->top);
    tc->no_includes = true; /* doveconf resolved them */
    dc_parse_buf(tc, out, len, "doveconf -n");
    free(out);
    /* Values from doveconf win; what doveconf -n leaves out (settings
     * equal to their default) keeps the file's row, so both ways agree. */
    for (size_t i = 0; i < tc->st.n; i++) {
        const struct aud_row *r = &tc->st.rows[i];
        const struct aud_row *src = aud_store_last(&c->st, r->scope, r->name);
        char file[AUD_PATH_MAX]; /* src moves when the store grows */
        snprintf(file, sizeof file, "%s", src ? src->file : c->top);
        int line = src ? src->line : 0;
        aud_store_add(&c->st, r->scope, r->name, r->value, strlen(r->value), file, line);
    }
    dc_free(tc);
    free(tc);
    c->via_doveconf = true;
    return 0;
}
