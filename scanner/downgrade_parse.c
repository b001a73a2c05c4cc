/*
 * downgrade_parse.c - classifying server bytes for the downgrade checks
 * (see downgrade_parse.h). Everything here treats its input as hostile:
 * explicit lengths, no NUL termination assumed, nothing stored.
 */
#include "downgrade_parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "reply.h"
#include "reply_sieve.h"

const char *downgrade_injected_cmd(enum mt_proto p)
{
    /* NOOP everywhere: harmless in every state, answered by every server */
    return p == PROTO_IMAP ? DOWNGRADE_IMAP_TAG " NOOP\r\n" : "NOOP\r\n";
}

bool downgrade_parse_answer(enum mt_proto p, const char *line, size_t len)
{
    switch (p) {
    case PROTO_SMTP:
    case PROTO_LMTP: {
        int code;
        bool last;
        const char *text;
        size_t tlen;
        return reply_smtp_line(line, len, &code, &last, &text, &tlen) == 0 && last;
    }
    case PROTO_IMAP: {
        const char *rest;
        size_t rlen;
        return reply_imap_tagged(line, len, DOWNGRADE_IMAP_TAG, &rest, &rlen) != 0;
    }
    case PROTO_POP3: return reply_pop3_status(line, len) != 0;
    case PROTO_SIEVE: return reply_sieve_status(line, len) != SIEVE_LINE_OTHER;
    case MT_PROTO_COUNT: break;
    }
    return false;
}

/* tok is `word` with some letters replaced by X (one at least), or has
 * word's length and more X's than not. */
static bool x_of(const char *tok, size_t len, const char *word)
{
    size_t n = strlen(word), xs = 0;
    if (len != n)
        return false;
    bool letters_kept = true;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)toupper((unsigned char)tok[i]);
        if (ch == 'X')
            xs++;
        else if (ch != word[i])
            letters_kept = false;
    }
    /* STARTTLS itself has no X; an X in "STARTTLS" would be a replacement */
    return xs > 0 && (letters_kept || xs * 2 > n);
}

static bool equals_nocase(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

bool downgrade_parse_masked(const char *tok, size_t len)
{
    static const char *const prefixed[] = {"X-STARTTLS", "XSTARTTLS", "X-STLS", "XSTLS"};
    for (size_t i = 0; i < sizeof prefixed / sizeof prefixed[0]; i++)
        if (equals_nocase(tok, len, prefixed[i]))
            return true;
    return x_of(tok, len, "STARTTLS") || x_of(tok, len, "STLS");
}

const char *downgrade_parse_masked_item(const char *item, size_t len, size_t *tok_len)
{
    const char *p = item, *end = item + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    bool quoted = p < end && *p == '"';
    if (quoted)
        p++;
    const char *e = p;
    while (e < end && *e != ' ' && *e != '\t' && *e != '"')
        e++;
    if (quoted && (e >= end || *e != '"'))
        return NULL;
    size_t n = (size_t)(e - p);
    if (!downgrade_parse_masked(p, n))
        return NULL;
    *tok_len = n;
    return p;
}
