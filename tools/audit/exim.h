/*
 * exim.h - the three Exim main options the audit checks, read from the
 * file (no `exim -bP`: Debian's exim4 packages replace Postfix as the
 * system MTA, so the tool way is not built).
 *
 * Syntax (Exim spec, chapter 6): the main section runs up to the first
 * `begin NAME` line; `#` lines are comments; a line ending in `\` goes on
 * on the next line (its leading blanks dropped); `NAME = value` with an
 * upper-case first letter defines a macro (kept apart, not expanded);
 * `hide name = value` is an option too. In `begin authenticators`, each
 * `name:` starts a driver; its `driver` and `server_advertise_condition`
 * are kept (scope "authenticators/NAME").
 */
#ifndef MAILTLS_AUDIT_EXIM_H
#define MAILTLS_AUDIT_EXIM_H

#include "audit.h"

struct ex_conf {
    char file[AUD_PATH_MAX];
    struct aud_store st; /* scope "" = main section */
};

void ex_init(struct ex_conf *c, const char *file);
void ex_free(struct ex_conf *c);
void ex_parse_buf(struct ex_conf *c, const char *buf, size_t len, const char *file);
int ex_load_file(struct ex_conf *c, char *err, size_t errlen);
void ex_check(const struct ex_conf *c, struct aud_findings *out);

#endif
