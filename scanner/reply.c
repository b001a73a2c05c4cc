/*
 * reply.c - line framing and the small parsers behind the protocol files.
 *
 * Everything here treats its input as hostile: lengths are explicit, no
 * NUL termination is assumed, and nothing is stored beyond the record's
 * own caps.
 */
#include "reply.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

size_t reply_lines_next(const unsigned char *buf, size_t len, size_t *line_len)
{
    const unsigned char *lf = memchr(buf, '\n', len);
    if (!lf)
        return 0;
    size_t n = (size_t)(lf - buf);
    *line_len = (n > 0 && buf[n - 1] == '\r') ? n - 1 : n;
    return n + 1;
}

size_t reply_append(char *buf, size_t cap, size_t used, const char *line, size_t len, size_t term_len,
                    bool *cut)
{
    const char *end = term_len == 1 ? "\n" : "\r\n";
    size_t term = term_len == 1 ? 1 : 2;
    size_t room = used < cap ? cap - used : 0;
    size_t n = len < room ? len : room;
    memcpy(buf + used, line, n);
    room -= n;
    size_t t = term < room ? term : room;
    memcpy(buf + used + n, end, t);
    if (n < len || t < term)
        *cut = true;
    return used + n + t;
}

int reply_smtp_line(const char *line, size_t len, int *code, bool *is_last, const char **text,
                    size_t *text_len)
{
    if (len < 3)
        return -1;
    for (int i = 0; i < 3; i++)
        if (line[i] < '0' || line[i] > '9')
            return -1;
    if (line[0] < '2' || line[0] > '5')
        return -1;
    *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (len == 3) {
        *is_last = true;
        *text = line + 3;
        *text_len = 0;
        return 0;
    }
    if (line[3] != ' ' && line[3] != '-')
        return -1;
    *is_last = line[3] == ' ';
    *text = line + 4;
    *text_len = len - 4;
    return 0;
}

bool reply_text_contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* Next space-separated token in [*p, end); false at the end. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *tok_len)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end)
        return false;
    const char *e = s;
    while (e < end && *e != ' ' && *e != '\t')
        e++;
    *tok = s;
    *tok_len = (size_t)(e - s);
    *p = e;
    return true;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

/* Mechanism names are upper-cased so AUTH=plain and AUTH=PLAIN compare equal;
 * a repeated mechanism (old servers send both "AUTH" and "AUTH=") is kept once. */
static void add_mechanism(struct record *r, enum rec_field f, const char *m, size_t len,
                          struct caps_seen *seen)
{
    char up[32];
    if (len == 0)
        return;
    if (token_is(m, len, "PLAIN") || token_is(m, len, "LOGIN"))
        seen->password_mech = true;
    if (!r)
        return;
    if (len > 32)
        len = 32;
    for (size_t i = 0; i < len; i++)
        up[i] = (char)toupper((unsigned char)m[i]);
    if (!rec_list_contains_bytes(r, f, up, len, false))
        rec_list_add(r, f, up, len);
}

void reply_mechanisms(struct record *r, bool after_tls, const char *list, size_t len, struct caps_seen *seen)
{
    const char *p = list, *end = list + len, *tok;
    size_t tl;
    while (next_token(&p, end, &tok, &tl))
        add_mechanism(r, after_tls ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS, tok, tl, seen);
}

void reply_smtp_ehlo_ext(struct record *r, bool after_tls, const char *text, size_t len,
                         struct caps_seen *seen)
{
    enum rec_field caps = after_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS;
    enum rec_field auth = after_tls ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS;
    if (r)
        rec_list_add(r, caps, text, len);
    const char *p = text, *end = text + len, *tok;
    size_t tl;
    if (!next_token(&p, end, &tok, &tl))
        return;
    if (token_is(tok, tl, "STARTTLS")) {
        seen->starttls = true;
    } else if (token_is(tok, tl, "AUTH")) {
        while (next_token(&p, end, &tok, &tl))
            add_mechanism(r, auth, tok, tl, seen);
    } else if (tl > 5 && strncasecmp(tok, "AUTH=", 5) == 0) {
        /* pre-RFC 2554 servers: "AUTH=LOGIN PLAIN" */
        add_mechanism(r, auth, tok + 5, tl - 5, seen);
        while (next_token(&p, end, &tok, &tl))
            add_mechanism(r, auth, tok, tl, seen);
    }
}

void reply_imap_caps(struct record *r, bool after_tls, const char *s, size_t len, struct caps_seen *seen)
{
    enum rec_field caps = after_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS;
    enum rec_field auth = after_tls ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS;
    if (r) {
        rec_list_init(r, caps);
        rec_list_init(r, auth);
    }
    const char *p = s, *end = s + len, *tok;
    size_t tl;
    while (next_token(&p, end, &tok, &tl)) {
        if (r)
            rec_list_add(r, caps, tok, tl);
        if (token_is(tok, tl, "STARTTLS"))
            seen->starttls = true;
        else if (token_is(tok, tl, "LOGINDISABLED"))
            seen->logindisabled = true;
        else if (tl > 5 && strncasecmp(tok, "AUTH=", 5) == 0)
            add_mechanism(r, auth, tok + 5, tl - 5, seen);
    }
}

const char *reply_imap_capability_code(const char *line, size_t len, size_t *out_len)
{
    static const char key[] = "[CAPABILITY ";
    size_t klen = sizeof key - 1;
    for (size_t i = 0; i + klen <= len; i++) {
        if (strncasecmp(line + i, key, klen) != 0)
            continue;
        const char *start = line + i + klen;
        const char *close = memchr(start, ']', len - i - klen);
        if (!close)
            return NULL;
        *out_len = (size_t)(close - start);
        return start;
    }
    return NULL;
}

const char *reply_imap_capability_untagged(const char *line, size_t len, size_t *out_len)
{
    static const char key[] = "* CAPABILITY";
    size_t klen = sizeof key - 1;
    if (len < klen || strncasecmp(line, key, klen) != 0)
        return NULL;
    if (len > klen && line[klen] != ' ')
        return NULL;
    *out_len = len - klen;
    return line + klen;
}

long reply_literal_len(const char *line, size_t len)
{
    if (len < 3 || line[len - 1] != '}')
        return -1;
    size_t i = len - 2;
    if (line[i] == '+')
        i--;
    long n = 0, scale = 1;
    size_t digits = 0;
    while (i > 0 && line[i] >= '0' && line[i] <= '9') {
        if (digits++ >= 9)
            return -1; /* absurd literal sizes are not literals we follow */
        n += (line[i] - '0') * scale;
        scale *= 10;
        i--;
    }
    if (digits == 0 || line[i] != '{')
        return -1;
    return n;
}

int reply_imap_tagged(const char *line, size_t len, const char *tag, const char **rest, size_t *rest_len)
{
    size_t tl = strlen(tag);
    if (len < tl + 1 || memcmp(line, tag, tl) != 0 || line[tl] != ' ')
        return 0;
    const char *p = line + tl + 1, *end = line + len, *tok;
    size_t n;
    if (!next_token(&p, end, &tok, &n))
        return 0;
    int kind = token_is(tok, n, "OK") ? 1 : token_is(tok, n, "NO") ? 2 : token_is(tok, n, "BAD") ? 3 : 0;
    if (!kind)
        return 0;
    while (p < end && *p == ' ')
        p++;
    *rest = p;
    *rest_len = (size_t)(end - p);
    return kind;
}

void reply_pop3_capa(struct record *r, bool after_tls, const char *line, size_t len, struct caps_seen *seen)
{
    enum rec_field caps = after_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS;
    enum rec_field auth = after_tls ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS;
    if (r)
        rec_list_add(r, caps, line, len);
    const char *p = line, *end = line + len, *tok;
    size_t tl;
    if (!next_token(&p, end, &tok, &tl))
        return;
    if (token_is(tok, tl, "STLS")) {
        seen->starttls = true;
    } else if (token_is(tok, tl, "USER")) {
        seen->user = true;
        add_mechanism(r, auth, "USER", 4, seen);
    } else if (token_is(tok, tl, "SASL")) {
        while (next_token(&p, end, &tok, &tl))
            add_mechanism(r, auth, tok, tl, seen);
    }
}

int reply_pop3_status(const char *line, size_t len)
{
    if (len >= 3 && strncmp(line, "+OK", 3) == 0 && (len == 3 || line[3] == ' '))
        return 1;
    if (len >= 4 && strncmp(line, "-ERR", 4) == 0 && (len == 4 || line[4] == ' '))
        return -1;
    return 0;
}

void reply_caps_complete(struct record *r, bool after_tls)
{
    rec_list_init(r, after_tls ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS);
    rec_list_init(r, after_tls ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS);
}
