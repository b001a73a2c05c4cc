/*
 * fuzz_audit_conf.c - the configuration parsers of mailtls-audit
 * (tools/audit/postfix.c, dovecot.c, exim.c) and the checks that read their
 * values (pf_check.c, dc_check.c, check_util.c).
 *
 * The first byte picks what the rest is: main.cf, master.cf, both (split
 * at the first NUL), a Dovecot file (includes off: nothing is opened) or
 * an Exim file.
 * Besides "no crash, no sanitizer report": every row is terminated inside
 * its caps, carries a line number inside the input, a non-empty name
 * without '=' or a line end; parsing twice gives the same rows; findings
 * point at a line inside the input or at 0 (a default); listener verdicts
 * are one of the four documented words.
 */
#include <stdint.h>
#include <string.h>

#include "../../tools/audit/check.h"
#include "../../tools/audit/exim.h"
#include "fuzz_check.h"

static int count_lines(const uint8_t *d, size_t n)
{
    int lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += d[i] == '\n';
    return lines;
}

static void check_store(const struct aud_store *st, int max_line)
{
    FUZZ_CHECK(st->n <= AUD_ROWS_MAX);
    for (size_t i = 0; i < st->n; i++) {
        const struct aud_row *r = &st->rows[i];
        FUZZ_CHECK(memchr(r->scope, 0, sizeof r->scope));
        FUZZ_CHECK(memchr(r->name, 0, sizeof r->name));
        FUZZ_CHECK(r->name[0] != '\0');
        FUZZ_CHECK(!strchr(r->name, '=') && !strchr(r->name, '\n'));
        FUZZ_CHECK(!strchr(r->value, '\n'));
        FUZZ_CHECK(r->line >= 1 && r->line <= max_line);
    }
}

static void check_findings(const struct aud_findings *f, const struct aud_listeners *ls, int max_line)
{
    for (size_t i = 0; i < f->n; i++) {
        FUZZ_CHECK(f->v[i].line >= 0 && f->v[i].line <= max_line);
        FUZZ_CHECK(f->v[i].reason && f->v[i].recommendation && f->v[i].doc);
    }
    static const char *const verdicts[] = {"implicit-tls", "starttls", "starttls-auth-before-tls", "no-tls"};
    for (size_t i = 0; i < ls->n; i++) {
        bool known = false;
        for (size_t k = 0; k < 4; k++)
            known |= strcmp(ls->v[i].verdict, verdicts[k]) == 0;
        FUZZ_CHECK(known);
    }
}

static void fuzz_postfix(const char *main_cf, size_t mlen, const char *master, size_t slen, int max_line)
{
    static struct pf_conf c, c2;
    pf_init(&c, "/nonexistent-audit-fuzz");
    pf_parse_main(&c, main_cf, mlen, "main.cf");
    pf_parse_master(&c, master, slen, "master.cf");
    check_store(&c.st, max_line);
    FUZZ_CHECK(c.n_svc <= PF_SERVICES_MAX);
    pf_init(&c2, "/nonexistent-audit-fuzz");
    pf_parse_main(&c2, main_cf, mlen, "main.cf");
    pf_parse_master(&c2, master, slen, "master.cf");
    FUZZ_CHECK(c2.st.n == c.st.n && c2.n_svc == c.n_svc);
    for (size_t i = 0; i < c.st.n; i++)
        FUZZ_CHECK(strcmp(c.st.rows[i].value, c2.st.rows[i].value) == 0);
    struct aud_findings f = {0};
    struct aud_listeners *ls = calloc(1, sizeof *ls);
    FUZZ_CHECK(ls);
    pf_check(&c, &f, ls);
    check_findings(&f, ls, max_line);
    aud_findings_free(&f);
    free(ls);
    pf_free(&c);
    pf_free(&c2);
}

static void fuzz_dovecot(const char *buf, size_t len, int max_line)
{
    static struct dc_conf c;
    dc_init(&c, "dovecot.conf");
    c.no_includes = true;
    dc_parse_buf(&c, buf, len, "dovecot.conf");
    check_store(&c.st, max_line);
    struct aud_findings f = {0};
    struct aud_listeners *ls = calloc(1, sizeof *ls);
    FUZZ_CHECK(ls);
    dc_check(&c, &f, ls);
    check_findings(&f, ls, max_line);
    aud_findings_free(&f);
    free(ls);
    dc_free(&c);
}

static void fuzz_exim(const char *buf, size_t len, int max_line)
{
    static struct ex_conf c;
    ex_init(&c, "exim.conf");
    ex_parse_buf(&c, buf, len, "exim.conf");
    check_store(&c.st, max_line);
    struct aud_findings f = {0};
    struct aud_listeners ls = {0};
    ex_check(&c, &f);
    check_findings(&f, &ls, max_line);
    aud_findings_free(&f);
    ex_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t mode = data[0] % 5;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int max_line = count_lines(data + 1, len);
    /* the checks also read single values: exercise those readers on the text */
    char val[256];
    size_t vl = len < sizeof val - 1 ? len : sizeof val - 1;
    memcpy(val, text, vl);
    val[vl] = '\0';
    int v = aud_min_tls(val);
    FUZZ_CHECK(v == 3 || v == 10 || v == 11 || v == 12 || v == 13);
    const char *weak = aud_weak_cipher(val, NULL);
    FUZZ_CHECK(!weak || strcasestr(val, weak));
    switch (mode) {
    case 0: fuzz_postfix(text, len, "", 0, max_line); break;
    case 1: fuzz_postfix("", 0, text, len, max_line); break;
    case 2: {
        const char *nul = memchr(text, 0, len);
        size_t a = nul ? (size_t)(nul - text) : len / 2;
        size_t b = nul ? len - a - 1 : len - a;
        fuzz_postfix(text, a, text + len - b, b, max_line);
        break;
    }
    case 3: fuzz_dovecot(text, len, max_line); break;
    default: fuzz_exim(text, len, max_line); break;
    }
    return 0;
}
