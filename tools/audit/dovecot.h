/*
 * dovecot.h - a Dovecot configuration as the audit sees it: every
 * `name = value` with its section path and the file and line it came from.
 *
 * The syntax (dovecot.conf, conf.d, and `doveconf -n` output, which is the
 * same syntax without includes): `name = value`, `type [name] {` ... `}`
 * sections, `!include` and `!include_try` with glob patterns relative to
 * the including file, `#` comments, `$name` in a value replaced by that
 * setting's value so far (`protocols = $protocols imap`). A section path joins "type name" parts
 * with '/': "protocol imap", "service imap-login/inet_listener imaps",
 * "remote 10.0.0.0/8/protocol pop3".
 */
#ifndef MAILTLS_AUDIT_DOVECOT_H
#define MAILTLS_AUDIT_DOVECOT_H

#include "audit.h"

struct dc_conf {
    char top[AUD_PATH_MAX];
    struct aud_store st;
    bool via_doveconf;
    bool no_includes; /* fuzzing: never open a file */
};

void dc_init(struct dc_conf *c, const char *top);
void dc_free(struct dc_conf *c);
/* Parses config text as if it were the file `file` (includes resolved
 * relative to its directory, unless no_includes). Never fails on content:
 * problems become warnings in c->st. */
void dc_parse_buf(struct dc_conf *c, const char *buf, size_t len, const char *file);
/* Reads the top file and everything it includes. -1 with err when the top
 * file is unreadable. */
int dc_load_files(struct dc_conf *c, char *err, size_t errlen);

/* The value of name seen from the most specific of n scopes (scopes[0] is
 * the most specific; "" is the top level); the built-in default when none
 * sets it (origin NULL). NULL when unknown and unset. */
const char *dc_value(const struct dc_conf *c, const char *const *scopes, size_t n, const char *name,
                     const struct aud_row **origin);
/* Dovecot 2.3.19 defaults of what the checks need, or NULL. v24 selects
 * the 2.4 names' defaults (auth_allow_cleartext). */
const char *dc_default(const char *name);
/* True for a 2.4-style configuration (dovecot_config_version or
 * auth_allow_cleartext set anywhere). */
bool dc_is_v24(const struct dc_conf *c);

#endif
