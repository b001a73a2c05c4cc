/*
 * postfix.h - a Postfix configuration as the audit sees it: main.cf
 * parameters, master.cf services and their -o overrides, each with the
 * file and line it came from.
 *
 * Two ways to fill it, giving the same result on a well-formed
 * configuration: pf_parse_main/pf_parse_master read the files (logical
 * lines, `-o name=value` and `-o { name = value }`), and tools.c reads
 * `postconf -nx`, `-Px` and `-M` and takes only the lines from the files.
 * Values are looked up through pf_value(), which applies the service's
 * overrides, then main.cf, then Postfix 3.7's defaults, and expands
 * $name, ${name}, $(name), ${name?text} and ${name:text}.
 */
#ifndef MAILTLS_AUDIT_POSTFIX_H
#define MAILTLS_AUDIT_POSTFIX_H

#include "audit.h"

#define PF_SERVICES_MAX 256

struct pf_service {
    char name[128];   /* "smtp", "127.0.0.1:submission", "10587" */
    char type[16];    /* inet, unix, unix-dgram, fifo, pass */
    char command[64]; /* smtpd, pickup, ... */
    int line;         /* in master.cf */
};

struct pf_conf {
    char dir[AUD_PATH_MAX];
    char main_cf[AUD_PATH_MAX];
    char master_cf[AUD_PATH_MAX];
    struct aud_store st; /* scope "" = main.cf; "name/type" = that service's -o */
    struct pf_service svc[PF_SERVICES_MAX];
    size_t n_svc;
    bool via_postconf;
};

void pf_init(struct pf_conf *c, const char *dir);
void pf_free(struct pf_conf *c);
/* Parses main.cf / master.cf text (file names the rows). Never fails on
 * content: what it cannot read becomes a warning in c->st. */
void pf_parse_main(struct pf_conf *c, const char *buf, size_t len, const char *file);
void pf_parse_master(struct pf_conf *c, const char *buf, size_t len, const char *file);
/* Reads DIR/main.cf and DIR/master.cf. -1 with err when main.cf is unreadable. */
int pf_load_files(struct pf_conf *c, char *err, size_t errlen);

/* The effective value of name for a service scope ("name/type", or "" for
 * main.cf only), expanded into out. *origin (may be NULL) gets the row the
 * value came from, NULL for a default. Returns out. */
const char *pf_value(const struct pf_conf *c, const char *scope, const char *name, char *out, size_t outlen,
                     const struct aud_row **origin);
/* Postfix 3.7's default of a parameter the audit checks, or NULL. */
const char *pf_default(const char *name);

#endif
