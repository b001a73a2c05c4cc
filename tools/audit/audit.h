/*
 * audit.h - mailtls-audit: shared types of the configuration audit.
 *
 * The audit reads a server's configuration into a settings store (one row
 * per assignment: scope, name, value, file, line), either by parsing the
 * files (postfix.c, dovecot.c) or from the servers' own tools (tools.c:
 * postconf, doveconf), checks it (pf_check.c, dc_check.c) into findings,
 * optionally compares it with a live scan of the declared listeners
 * (live.c), and prints the result (report.c).
 *
 * Configuration files are local, but they are treated as untrusted input:
 * every line is bounded (AUD_LINE_MAX), every value is cut to AUD_VAL_MAX,
 * includes and sections have depth limits and the store has a row limit.
 */
#ifndef MAILTLS_AUDIT_H
#define MAILTLS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUD_LINE_MAX 4096      /* a longer physical line is skipped, with a warning */
#define AUD_VAL_MAX 1024       /* values are cut to this many bytes */
#define AUD_NAME_MAX 96        /* setting names */
#define AUD_SCOPE_MAX 192      /* "service imap-login/inet_listener imaps", "submission/inet" */
#define AUD_PATH_MAX 512       /* file names kept in rows */
#define AUD_ROWS_MAX 20000     /* settings kept at most */
#define AUD_FILE_MAX (4 << 20) /* bytes read from one file or one tool's output */
#define AUD_INCLUDE_DEPTH 8
#define AUD_SECTION_DEPTH 8

/* One assignment. scope "" is the top level (main.cf, dovecot.conf outside
 * any section). line 0 = not found in a file (a default, or a value only
 * the server's tool reported). */
struct aud_row {
    char scope[AUD_SCOPE_MAX];
    char name[AUD_NAME_MAX];
    char value[AUD_VAL_MAX];
    char file[AUD_PATH_MAX];
    int line;
};

struct aud_store {
    struct aud_row *rows;
    size_t n, cap;
    unsigned warnings; /* overlong lines, unreadable includes, limits hit */
    char first_warning[256];
};

void aud_store_init(struct aud_store *s);
void aud_store_free(struct aud_store *s);
/* Appends a row (values cut to fit). -1 when AUD_ROWS_MAX is reached or
 * memory runs out (a warning is counted). */
int aud_store_add(struct aud_store *s, const char *scope, const char *name, const char *value, size_t vlen,
                  const char *file, int line);
/* The last assignment of name in exactly this scope, or NULL. */
const struct aud_row *aud_store_last(const struct aud_store *s, const char *scope, const char *name);
void aud_store_warn(struct aud_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Splits a buffer into physical lines: calls fn for each line (without the
 * newline, without a trailing CR) with its 1-based number. Lines longer
 * than AUD_LINE_MAX, and lines holding a NUL byte, are not passed on; a
 * warning is counted in s. Returns
 * the first nonzero value fn returned, else 0. */
int aud_lines(const char *buf, size_t len, struct aud_store *s, const char *file,
              int (*fn)(void *ctx, const char *line, size_t len, int lineno), void *ctx);
/* Reads a whole file (at most AUD_FILE_MAX bytes) into a NUL-terminated
 * heap buffer. NULL with err set on failure. */
char *aud_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* Trims ASCII whitespace at both ends of [*s, *s + *len). */
void aud_trim(const char **s, size_t *len);
/* Case-insensitive search of a token (letters, digits) in a list such as
 * "plain login" or "!SSLv2, !SSLv3": true when it appears as a whole word. */
bool aud_has_word(const char *list, const char *word);

/* ---------------------------------------------------------------- findings */

enum aud_severity { SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH };
const char *aud_severity_name(enum aud_severity s);

struct aud_finding {
    char product[16];
    char service[AUD_SCOPE_MAX];
    char setting[AUD_NAME_MAX];
    char value[AUD_VAL_MAX];
    char file[AUD_PATH_MAX];
    int line;
    enum aud_severity severity;
    const char *reason;
    const char *recommendation;
    const char *doc;
};

struct aud_findings {
    struct aud_finding *v;
    size_t n, cap;
};

/* Adds a finding for the row's setting (row NULL: the setting is at its
 * default; file is then deffile and line 0). Duplicates (same product,
 * service, setting, file and line) are dropped. */
int aud_find_add(struct aud_findings *f, const char *product, const char *service, const char *setting,
                 const char *value, const struct aud_row *row, const char *deffile, enum aud_severity sev,
                 const char *reason, const char *recommendation, const char *doc);
void aud_findings_free(struct aud_findings *f);
bool aud_findings_any(const struct aud_findings *f, enum aud_severity sev);

#endif
