/*
 * test_audit_conf.c - the fallback parsers of mailtls-audit (main.cf and
 * master.cf logical lines, $name expansion, -o overrides, Dovecot sections
 * and includes, Exim's main section and authenticators), the value readers (TLS protocol ranges, cipher
 * strings) and a few checks on small configurations.
 *
 * The tool's sources are compiled into this program directly (they have
 * no main); the real configurations are in tests/real/test_audit.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/audit/check_util.c"
#include "../../tools/audit/conf.c"
#include "../../tools/audit/dc_check.c"
#include "../../tools/audit/dovecot.c"
#include "../../tools/audit/exim.c"
#include "../../tools/audit/pf_check.c"
#include "../../tools/audit/postfix.c"

static int failures;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

static struct pf_conf pf;
static struct dc_conf dc;

static void pf_load(const char *main_cf, const char *master_cf)
{
    pf_init(&pf, "/nonexistent-dir");
    pf_parse_main(&pf, main_cf, strlen(main_cf), "main.cf");
    pf_parse_master(&pf, master_cf, strlen(master_cf), "master.cf");
}

static const char *pv(const char *scope, const char *name, int *line)
{
    static char buf[AUD_VAL_MAX];
    const struct aud_row *row;
    pf_value(&pf, scope, name, buf, sizeof buf, &row);
    if (line)
        *line = row ? row->line : 0;
    return buf;
}

static void test_main_cf(void)
{
    int line;
    pf_load("# comment\n"
            "a = one\n"
            "   two\n"
            "# a comment inside does not end it\n"
            "\tthree\n"
            "\n"
            "b=x\n"
            "b = y\r\n"
            "  # indented comment\n"
            "c =\n",
            "");
    CHECK(strcmp(pv("", "a", &line), "one two three") == 0 && line == 2);
    CHECK(strcmp(pv("", "b", &line), "y") == 0 && line == 8); /* last assignment wins, CR dropped */
    CHECK(strcmp(pv("", "c", &line), "") == 0 && line == 10);
    CHECK(strcmp(pv("", "smtpd_tls_protocols", &line), ">=TLSv1") == 0 && line == 0); /* default */
    CHECK(pf.st.warnings == 0);
    pf_free(&pf);

    /* a continuation with nothing to continue, a line without '=' */
    pf_load("  stray\nnoequals\nok = 1\n", "");
    CHECK(pf.st.warnings == 2);
    CHECK(strcmp(pv("", "ok", &line), "1") == 0 && line == 3);
    pf_free(&pf);
}

static void test_expansion(void)
{
    pf_load("x = $y\n"
            "y = ${z?yes}\n"
            "z = 1\n"
            "w = ${empty:fallback} $(z) $$lit ${z:no}\n"
            "empty =\n"
            "loop1 = $loop2\n"
            "loop2 = $loop1\n"
            "key = $smtpd_tls_key_file\n"
            "smtpd_tls_cert_file = $config_directory/c.pem\n",
            "");
    CHECK(strcmp(pv("", "x", NULL), "yes") == 0);
    CHECK(strcmp(pv("", "w", NULL), "fallback 1 $lit ") == 0);
    pv("", "loop1", NULL);                                             /* terminates */
    CHECK(strcmp(pv("", "key", NULL), "/nonexistent-dir/c.pem") == 0); /* default of key_file expanded */
    pf_free(&pf);
}

static void test_master_cf(void)
{
    int line;
    pf_load("lvl = encrypt\nsmtpd_tls_security_level = may\nfoo = ${smtpd_tls_security_level}\n",
            "# master.cf\n"
            "smtp      inet  n       -       y       -       -       smtpd\n"
            "submission inet n       -       y       -       -       smtpd\n"
            "  -o syslog_name=postfix/submission\n"
            "  -o smtpd_tls_security_level=$lvl\n"
            "  -o { smtpd_tls_auth_only = yes }  -o smtpd_tls_protocols=$foo\n"
            "127.0.0.1:10465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n"
            "short inet n -\n"
            "pickup    unix  n       -       y       60      1       pickup\n");
    CHECK(pf.n_svc == 4);
    CHECK(strcmp(pf.svc[1].name, "submission") == 0 && pf.svc[1].line == 3);
    CHECK(strcmp(pf.svc[2].name, "127.0.0.1:10465") == 0 && strcmp(pf.svc[2].command, "smtpd") == 0);
    CHECK(strcmp(pf.svc[3].type, "unix") == 0 && strcmp(pf.svc[3].command, "pickup") == 0);
    CHECK(pf.st.warnings == 1); /* the short line */
    CHECK(strcmp(pv("submission/inet", "smtpd_tls_security_level", &line), "encrypt") == 0 && line == 5);
    CHECK(strcmp(pv("submission/inet", "smtpd_tls_auth_only", &line), "yes") == 0 && line == 6);
    /* $foo expands through the service's own override, as postconf -Px does */
    CHECK(strcmp(pv("submission/inet", "smtpd_tls_protocols", &line), "encrypt") == 0 && line == 6);
    CHECK(strcmp(pv("smtp/inet", "smtpd_tls_security_level", &line), "may") == 0 && line == 2);
    CHECK(strcmp(pv("127.0.0.1:10465/inet", "smtpd_tls_wrappermode", &line), "yes") == 0 && line == 7);
    pf_free(&pf);
}

static void test_limits(void)
{
    size_t n = AUD_LINE_MAX + 100;
    char *big = malloc(n + 64);
    memset(big, 'a', n);
    memcpy(big, "huge = ", 7);
    strcpy(big + n, "\nafter = 1\n");
    pf_load(big, "");
    CHECK(aud_store_last(&pf.st, "", "huge") == NULL);
    CHECK(pf.st.warnings == 1 && strstr(pf.st.first_warning, "longer than"));
    int line;
    CHECK(strcmp(pv("", "after", &line), "1") == 0 && line == 2);
    pf_free(&pf);
    free(big);

    const char nul[] = "a = 1\nb\0c = 2\nd = 3\n";
    pf_init(&pf, "/x");
    pf_parse_main(&pf, nul, sizeof nul - 1, "main.cf");
    CHECK(aud_store_last(&pf.st, "", "b") == NULL && pf.st.warnings == 1);
    CHECK(aud_store_last(&pf.st, "", "d") && aud_store_last(&pf.st, "", "d")->line == 3);
    pf_free(&pf);
}

static void dc_load(const char *text)
{
    dc_init(&dc, "dovecot.conf");
    dc.no_includes = true;
    dc_parse_buf(&dc, text, strlen(text), "dovecot.conf");
}

static const char *dv(const char *scope, const char *name, int *line)
{
    const char *sc[1] = {scope};
    const struct aud_row *row;
    const char *v = dc_value(&dc, sc, 1, name, &row);
    if (line)
        *line = row ? row->line : 0;
    return v ? v : "(null)";
}

static void test_dovecot_sections(void)
{
    int line;
    dc_load("# top\n"
            "ssl = yes # trailing comment\n"
            "login_greeting = \"hello # not a comment\"\n"
            "protocol imap {\n"
            "  ssl_min_protocol = TLSv1.1\n"
            "}\n"
            "service   imap-login {\n"
            "  inet_listener imaps {\n"
            "    port = 993\n"
            "    ssl = yes\n"
            "  }\n"
            "}\n"
            "remote 10.0.0.0/8 {\n"
            "  protocol pop3 {\n"
            "    disable_plaintext_auth = no\n"
            "  }\n"
            "}\n");
    CHECK(dc.st.warnings == 0);
    CHECK(strcmp(dv("", "ssl", &line), "yes") == 0 && line == 2);
    CHECK(strcmp(dv("", "login_greeting", NULL), "hello # not a comment") == 0);
    CHECK(strcmp(dv("protocol imap", "ssl_min_protocol", &line), "TLSv1.1") == 0 && line == 5);
    CHECK(strcmp(dv("service imap-login/inet_listener imaps", "port", &line), "993") == 0 && line == 9);
    CHECK(strcmp(dv("remote 10.0.0.0/8/protocol pop3", "disable_plaintext_auth", &line), "no") == 0 &&
          line == 15);
    CHECK(strcmp(dv("", "ssl_min_protocol", &line), "TLSv1.2") == 0 && line == 0); /* default */
    dc_free(&dc);

    dc_load("}\nnothing here\na {\n b {\n");
    CHECK(dc.st.warnings == 3); /* stray }, not a setting, unclosed sections */
    dc_free(&dc);

    char deep[1024] = "";
    for (int i = 0; i < AUD_SECTION_DEPTH + 3; i++)
        strcat(deep, "s {\n");
    strcat(deep, "x = 1\n");
    for (int i = 0; i < AUD_SECTION_DEPTH + 3; i++)
        strcat(deep, "}\n");
    strcat(deep, "y = 2\n");
    dc_load(deep);
    CHECK(aud_store_last(&dc.st, "", "y") != NULL); /* back at the top after the skipped depth */
    CHECK(dc.st.n == 1 && dc.st.warnings == 1);
    dc_free(&dc);
}

/* $name: the setting's value so far (Debian's protocols.d files) */
static void test_dovecot_expansion(void)
{
    dc_load("protocols = $protocols imap\n"
            "protocols = $protocols pop3\n"
            "mail_plugins = quota\n"
            "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
            "x = $unknown and $ alone\n");
    CHECK(strcmp(dv("", "protocols", NULL), " imap pop3") == 0);
    CHECK(strcmp(dv("protocol imap", "mail_plugins", NULL), "quota imap_quota") == 0);
    CHECK(strcmp(dv("", "x", NULL), "$unknown and $ alone") == 0);
    dc_free(&dc);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_dovecot_includes(void)
{
    char dir[] = "/tmp/test_audit_conf.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[512], top[512];
    snprintf(p, sizeof p, "%s/conf.d", dir);
    mkdir(p, 0755);
    snprintf(top, sizeof top, "%s/dovecot.conf", dir);
    write_file(top, "ssl = no\n!include conf.d/*.conf\n!include_try missing.conf\nprotocols = imap\n");
    snprintf(p, sizeof p, "%s/conf.d/10-ssl.conf", dir);
    write_file(p, "\n\nssl = required\n");
    snprintf(p, sizeof p, "%s/conf.d/20-imap.conf", dir);
    write_file(p, "protocol imap {\n  !include ../inner.inc\n}\n");
    snprintf(p, sizeof p, "%s/inner.inc", dir);
    write_file(p, "mail_max_userip_connections = 5\n");
    snprintf(p, sizeof p, "%s/self.conf", dir);
    write_file(p, "!include self.conf\n");

    dc_init(&dc, top);
    char err[256];
    CHECK(dc_load_files(&dc, err, sizeof err) == 0);
    const struct aud_row *r = aud_store_last(&dc.st, "", "ssl");
    CHECK(r && strcmp(r->value, "required") == 0 && r->line == 3 && strstr(r->file, "conf.d/10-ssl.conf"));
    r = aud_store_last(&dc.st, "protocol imap", "mail_max_userip_connections");
    CHECK(r && r->line == 1 && strstr(r->file, "inner.inc"));
    CHECK(dc.st.warnings == 0); /* the missing !include_try is silent */
    dc_free(&dc);

    /* a file including itself stops at the include depth */
    snprintf(p, sizeof p, "%s/self.conf", dir);
    dc_init(&dc, p);
    CHECK(dc_load_files(&dc, err, sizeof err) == 0);
    CHECK(dc.st.warnings == 1 && strstr(dc.st.first_warning, "nested deeper"));
    dc_free(&dc);

    /* a missing !include is a warning */
    write_file(top, "!include nowhere.conf\n");
    dc_init(&dc, top);
    CHECK(dc_load_files(&dc, err, sizeof err) == 0 && dc.st.warnings == 1);
    dc_free(&dc);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_values(void)
{
    CHECK(aud_min_tls(">=TLSv1.2") == 12);
    CHECK(aud_min_tls("!SSLv2, !SSLv3") == 10);
    CHECK(aud_min_tls("!SSLv2,!SSLv3,!TLSv1,!TLSv1.1") == 12);
    CHECK(aud_min_tls("<=TLSv1.2") == 10);
    CHECK(aud_min_tls("TLSv1.2 TLSv1.3") == 12);
    CHECK(aud_min_tls("TLSv1.1") == 11);
    CHECK(aud_min_tls("ANY") == 3);
    CHECK(aud_min_tls("") == 10);
    CHECK(aud_weak_cipher("HIGH:3DES:!aNULL", NULL) &&
          strcmp(aud_weak_cipher("HIGH:3DES:!aNULL", NULL), "3DES") == 0);
    CHECK(aud_weak_cipher("HIGH:3DES:!3DES", NULL) == NULL); /* removed for good */
    CHECK(aud_weak_cipher("ALL:!RC4:@STRENGTH", NULL) == NULL);
    CHECK(aud_weak_cipher("RC4+RSA:HIGH", NULL) && strcmp(aud_weak_cipher("RC4+RSA:HIGH", NULL), "RC4") == 0);
    CHECK(aud_weak_cipher("HIGH:3DES", "3DES, aNULL") == NULL); /* smtpd_tls_exclude_ciphers */
    CHECK(aud_weak_cipher("aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", NULL) == NULL); /* +RC4 only reorders */
    CHECK(aud_yes("yes") && aud_yes("True") && !aud_yes("no") && !aud_yes(NULL));
    CHECK(aud_has_word("plain login", "login") && !aud_has_word("xoauth2", "oauth") &&
          !aud_has_word("TLSv1.2", "TLSv1"));
}

static const struct aud_finding *find(const struct aud_findings *f, const char *service, const char *setting)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].service, service) == 0 && strcmp(f->v[i].setting, setting) == 0)
            return &f->v[i];
    return NULL;
}

static void test_postfix_checks(void)
{
    pf_load("smtpd_use_tls = yes\nsmtpd_sasl_auth_enable = yes\nsmtpd_tls_cert_file = /nonexistent/c.pem\n",
            "465 inet n - n - - smtpd\n"
            "submission inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n");
    struct aud_findings f = {0};
    struct aud_listeners ls = {0};
    pf_check(&pf, &f, &ls);
    const struct aud_finding *x = find(&f, "465/inet", "smtpd_tls_wrappermode");
    CHECK(x && x->severity == SEV_HIGH && x->line == 0);
    x = find(&f, "465/inet", "smtpd_tls_auth_only"); /* legacy smtpd_use_tls = may, SASL on */
    CHECK(x && x->severity == SEV_HIGH);
    x = find(&f, "submission/inet", "smtpd_tls_wrappermode");
    CHECK(x && x->severity == SEV_MEDIUM && x->line == 2);
    x = find(&f, "main.cf", "smtpd_tls_cert_file");
    CHECK(x && x->severity == SEV_HIGH && x->line == 3 && strcmp(x->value, "/nonexistent/c.pem") == 0);
    x = find(&f, "main.cf", "smtpd_tls_key_file"); /* defaults to the cert file: same missing file */
    CHECK(x && x->line == 0);
    x = find(&f, "smtp/unix", "smtp_tls_security_level");
    CHECK(x && x->severity == SEV_MEDIUM && strcmp(x->value, "none") == 0);
    CHECK(ls.n == 2 && ls.v[0].port == 465 && strcmp(ls.v[0].verdict, "starttls-auth-before-tls") == 0);
    CHECK(ls.v[1].port == 587 && strcmp(ls.v[1].verdict, "implicit-tls") == 0 &&
          strcmp(ls.v[1].address, "all") == 0);
    aud_findings_free(&f);
    pf_free(&pf);
}

/* Ciphers and protocols: the setting for the service's level, the grade's
 * list only when main.cf sets it, exclusions honoured. */
static void test_postfix_ciphers(void)
{
    static const char *const excl[] = {"", "smtpd_tls_mandatory_exclude_ciphers = RC4\n"};
    for (int i = 0; i < 2; i++) {
        char main_cf[512];
        snprintf(main_cf, sizeof main_cf,
                 "smtpd_tls_security_level = encrypt\nsmtpd_tls_mandatory_ciphers = low\n"
                 "tls_low_cipherlist = HIGH:RC4\nsmtpd_tls_mandatory_protocols = >=TLSv1.1\n"
                 "smtpd_tls_protocols = >=TLSv1\nsmtpd_tls_chain_files = /etc/hostname\n%s",
                 excl[i]);
        pf_load(main_cf, "10587 inet n - n - - smtpd\n");
        struct aud_findings f = {0};
        pf_check(&pf, &f, NULL);
        const struct aud_finding *x = find(&f, "main.cf", "smtpd_tls_mandatory_ciphers");
        CHECK(x && x->severity == SEV_HIGH && x->line == 2);
        x = find(&f, "main.cf", "tls_low_cipherlist");
        CHECK(i == 0 ? x && x->severity == SEV_HIGH && x->line == 3 : x == NULL);
        x = find(&f, "main.cf", "smtpd_tls_mandatory_protocols");
        CHECK(x && x->severity == SEV_MEDIUM && x->line == 4);
        CHECK(find(&f, "main.cf", "smtpd_tls_protocols") == NULL);   /* not the one encrypt uses */
        CHECK(find(&f, "main.cf", "smtpd_tls_chain_files") == NULL); /* the file exists */
        aud_findings_free(&f);
        pf_free(&pf);
    }
}

static void test_dovecot_checks(void)
{
    /* 2.4 names: auth_allow_cleartext, not disable_plaintext_auth */
    dc_load("dovecot_config_version = 2.4.0\nprotocols = imap\nauth_allow_cleartext = yes\n"
            "auth_mechanisms = plain\nlisten = 127.0.0.5\n"
            "local 127.0.0.5 {\n  ssl = required\n}\n"
            "service imap-login {\n  inet_listener imaps {\n    port = 993\n    ssl = no\n  }\n}\n");
    struct aud_findings f = {0};
    struct aud_listeners ls = {0};
    dc_check(&dc, &f, &ls);
    const struct aud_finding *x = find(&f, "imap-login", "auth_allow_cleartext");
    CHECK(x && x->severity == SEV_HIGH && x->line == 3);
    CHECK(find(&f, "imap-login", "disable_plaintext_auth") == NULL);
    CHECK(find(&f, "imap-login local 127.0.0.5", "auth_allow_cleartext") == NULL); /* required there */
    x = find(&f, "imap-login/imaps", "ssl");
    CHECK(x && x->severity == SEV_HIGH && x->line == 12);
    CHECK(find(&f, "pop3-login", "ssl") == NULL); /* pop3 not in protocols */
    /* the local block for the listen address makes TLS required on 143 */
    CHECK(ls.n == 2 && strcmp(ls.v[0].verdict, "starttls") == 0 && strcmp(ls.v[1].verdict, "starttls") == 0);
    aud_findings_free(&f);
    dc_free(&dc);

    dc_load("ssl = no\nprotocols = pop3\n");
    memset(&ls, 0, sizeof ls);
    dc_check(&dc, &f, &ls);
    x = find(&f, "pop3-login", "ssl");
    CHECK(x && x->severity == SEV_HIGH && x->line == 1);
    CHECK(ls.n == 4 && strcmp(ls.v[0].verdict, "no-tls") == 0 && strcmp(ls.v[1].address, "::") == 0);
    aud_findings_free(&f);
    dc_free(&dc);
}

static void test_exim(void)
{
    static struct ex_conf ex;
    const char *text = "# Exim\n"
                       "MAIN_TLS = yes\n"
                       "tls_advertise_hosts =\n"
                       "hide tls_require_ciphers = NORMAL:\\\n"
                       "   +ARCFOUR-128\n"
                       "no_smtp_enforce_sync\n"
                       "begin routers\n"
                       "tls_advertise_hosts = *\n"
                       "begin authenticators\n"
                       "PLAIN:\n"
                       "  driver = plaintext\n"
                       "  public_name = PLAIN\n"
                       "CRAM:\n"
                       "  driver = cram_md5\n";
    ex_init(&ex, "exim4.conf");
    ex_parse_buf(&ex, text, strlen(text), "exim4.conf");
    CHECK(aud_store_last(&ex.st, "", "MAIN_TLS") == NULL); /* a macro */
    const struct aud_row *r = aud_store_last(&ex.st, "", "tls_advertise_hosts");
    CHECK(r && r->line == 3 && r->value[0] == '\0'); /* the routers' line is not the main option */
    r = aud_store_last(&ex.st, "", "tls_require_ciphers");
    CHECK(r && r->line == 4 && strcmp(r->value, "NORMAL:+ARCFOUR-128") == 0);
    r = aud_store_last(&ex.st, "", "smtp_enforce_sync");
    CHECK(r && strcmp(r->value, "false") == 0);
    r = aud_store_last(&ex.st, "authenticators/PLAIN", "driver");
    CHECK(r && strcmp(r->value, "plaintext") == 0 && r->line == 11);
    struct aud_findings f = {0};
    ex_check(&ex, &f);
    const struct aud_finding *x = find(&f, "exim", "tls_advertise_hosts");
    CHECK(x && x->severity == SEV_MEDIUM && x->line == 3);
    x = find(&f, "exim", "auth_advertise_hosts");
    CHECK(x && x->severity == SEV_HIGH && x->line == 0 && strcmp(x->value, "*") == 0);
    x = find(&f, "exim", "tls_require_ciphers");
    CHECK(x && x->severity == SEV_HIGH && x->line == 4);
    CHECK(f.n == 3);
    aud_findings_free(&f);
    ex_free(&ex);

    /* AUTH only after TLS, either way Exim's documentation shows */
    const char *gated[] = {"auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}\nbegin authenticators\n"
                           "p:\n driver = plaintext\n",
                           "begin authenticators\np:\n driver = plaintext\n"
                           " server_advertise_condition = ${if def:tls_in_cipher}\n"};
    for (int i = 0; i < 2; i++) {
        ex_init(&ex, "exim4.conf");
        ex_parse_buf(&ex, gated[i], strlen(gated[i]), "exim4.conf");
        ex_check(&ex, &f);
        CHECK(f.n == 0);
        aud_findings_free(&f);
        ex_free(&ex);
    }
}

int main(void)
{
    test_main_cf();
    test_expansion();
    test_master_cf();
    test_limits();
    test_dovecot_sections();
    test_dovecot_includes();
    test_dovecot_expansion();
    test_values();
    test_postfix_checks();
    test_postfix_ciphers();
    test_dovecot_checks();
    test_exim();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_audit_conf: all checks passed\n");
    return 0;
}
