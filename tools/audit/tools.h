/*
 * tools.h - the effective configuration from the servers' own tools.
 *
 * postconf and doveconf are looked up on PATH (never elsewhere: a PATH
 * without them selects the file parsers, which is how the tests compare
 * the two ways). Their output is read with a size and time bound, and
 * every value is paired with the file and line the file parser found for
 * the same setting (the tools do not say where a value came from).
 */
#ifndef MAILTLS_AUDIT_TOOLS_H
#define MAILTLS_AUDIT_TOOLS_H

#include "dovecot.h"
#include "postfix.h"

/* Whether an executable of this name is on PATH. */
bool tool_on_path(const char *name);
/* Runs argv (argv[0] from PATH), stdout into a NUL-terminated heap buffer
 * (at most AUD_FILE_MAX bytes, 15 s). NULL with err on failure or a
 * nonzero exit. */
char *tool_run(char *const argv[], size_t *len, char *err, size_t errlen);

/* c holds the file parse (pf_load_files); replaces its values by those of
 * `postconf -nx`, `-Px` and its services by `-M`. -1 with err when
 * postconf failed (c is then unchanged). */
int pf_from_postconf(struct pf_conf *c, char *err, size_t errlen);
/* The same for `doveconf -c FILE -n`. */
int dc_from_doveconf(struct dc_conf *c, char *err, size_t errlen);

#endif
