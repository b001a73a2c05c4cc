/*
 * fuzz_reply.c - the reply framer and every line parser of scanner/reply.h.
 *
 * The input is a server transcript. reply_lines_next frames it the way the
 * engine does; each complete line, and the unterminated tail, goes through
 * every parser (the downgrade checks of downgrade_parse.h and ManageSieve's of reply_sieve.h included), all
 * writing into one record (before-TLS fields for even lines, after-TLS for odd ones), and into the facts the
 * verdicts come from; the framed lines are also appended to a reply text as the engine keeps it, which must
 * be the received bytes exactly. Checked on every line: framing lengths, returned pointers staying inside the
 * line, value ranges, and the record arena and list caps.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../output/record.h"
#include "../../scanner/downgrade_parse.h"
#include "../../scanner/reply.h"
#include "../../scanner/reply_sieve.h"
#include "fuzz_check.h"

static struct record rec;

static bool inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

/* Every stored list item is inside the used arena and within the caps;
 * mechanism lists are upper-case and free of duplicates. */
static void check_record(void)
{
    FUZZ_CHECK(rec.arena_used <= REC_ARENA_BYTES);
    for (int f = 0; f < F_COUNT; f++) {
        if (rec_fields[f].type != RT_LIST || !rec_has(&rec, (enum rec_field)f))
            continue;
        bool is_auth = f == F_AUTH_BEFORE_TLS || f == F_AUTH_AFTER_TLS;
        const unsigned char *items[32];
        size_t lens[32];
        uint16_t cur = 0;
        size_t n = 0, len;
        const unsigned char *it;
        while (rec_list_next(&rec, (enum rec_field)f, &cur, &it, &len)) {
            FUZZ_CHECK(n < rec_fields[f].max_items);
            FUZZ_CHECK(len <= rec_fields[f].cap);
            FUZZ_CHECK(it >= rec.arena && it + len <= rec.arena + rec.arena_used);
            if (is_auth) {
                FUZZ_CHECK(len > 0 && len <= 32 && n < 32);
                for (size_t i = 0; i < len; i++)
                    FUZZ_CHECK(!(it[i] >= 'a' && it[i] <= 'z'));
                /* each mechanism once, NUL bytes and all
                 * (corpus/reply/crash-mech-nul-dup was the regression) */
                for (size_t k = 0; k < n; k++)
                    FUZZ_CHECK(lens[k] != len || memcmp(items[k], it, len) != 0);
            }
            if (is_auth) {
                items[n] = it;
                lens[n] = len;
            }
            n++;
        }
        FUZZ_CHECK(n == rec.span[f].len);
    }
}

/* ManageSieve (reply_sieve.h): status words, quoted strings, capability
 * lines; facts the same with and without a record. */
static void check_sieve(const char *line, size_t len, bool after_tls)
{
    enum reply_sieve_kind k = reply_sieve_status(line, len);
    FUZZ_CHECK(k >= SIEVE_LINE_OTHER && k <= SIEVE_LINE_BYE);
    if (k != SIEVE_LINE_OTHER) {
        size_t wl = k == SIEVE_LINE_BYE ? 3 : 2;
        FUZZ_CHECK(len >= wl && (len == wl || line[wl] == ' ' || line[wl] == '('));
    }
    char out[16];
    size_t used = SIZE_MAX;
    long q = reply_sieve_quoted(line, len, out, sizeof out, &used);
    FUZZ_CHECK(q >= -1 && q < (long)sizeof out);
    if (q >= 0) {
        FUZZ_CHECK(used >= 2 && used <= len && line[used - 1] == '"' && out[q] == '\0');
        FUZZ_CHECK(memchr(line, '"', len) != NULL);
    }
    struct caps_seen seen = {0}, facts = {0};
    bool is_cap = reply_sieve_cap(&rec, after_tls, line, len, &seen);
    FUZZ_CHECK(is_cap == reply_sieve_cap(NULL, after_tls, line, len, &facts));
    FUZZ_CHECK(is_cap == (q >= 0));
    FUZZ_CHECK(facts.starttls == seen.starttls && facts.password_mech == seen.password_mech);
    FUZZ_CHECK(!facts.starttls || reply_text_contains(line, len, "STARTTLS"));
    FUZZ_CHECK(!facts.password_mech || reply_text_contains(line, len, "PLAIN") ||
               reply_text_contains(line, len, "LOGIN"));
}

/* --downgrade-checks (downgrade_parse.h): the answer to the injected
 * command is only ever a line that ends a reply of that protocol; a masked
 * STARTTLS token lies inside the line and has a masked length. */
static void check_downgrade(const char *line, size_t len)
{
    int code;
    bool last;
    const char *text, *rest;
    size_t tlen, rlen;
    for (int p = 0; p < MT_PROTO_COUNT; p++) {
        if (!downgrade_parse_answer((enum mt_proto)p, line, len))
            continue;
        if (p == PROTO_SMTP || p == PROTO_LMTP)
            FUZZ_CHECK(reply_smtp_line(line, len, &code, &last, &text, &tlen) == 0 && last);
        else if (p == PROTO_IMAP)
            FUZZ_CHECK(reply_imap_tagged(line, len, DOWNGRADE_IMAP_TAG, &rest, &rlen) != 0);
        else if (p == PROTO_POP3)
            FUZZ_CHECK(reply_pop3_status(line, len) != 0);
        else
            FUZZ_CHECK(reply_sieve_status(line, len) != SIEVE_LINE_OTHER);
    }
    FUZZ_CHECK(!downgrade_parse_answer(MT_PROTO_COUNT, line, len));
    size_t tok_len = SIZE_MAX;
    const char *tok = downgrade_parse_masked_item(line, len, &tok_len);
    if (tok) {
        FUZZ_CHECK(inside(tok, tok_len, line, len));
        FUZZ_CHECK(tok_len == 4 || tok_len == 5 || tok_len == 6 || tok_len == 8 || tok_len == 9 ||
                   tok_len == 10);
        FUZZ_CHECK(downgrade_parse_masked(tok, tok_len));
        FUZZ_CHECK(memchr(tok, 'X', tok_len) || memchr(tok, 'x', tok_len));
    }
    if (downgrade_parse_masked(line, len))
        FUZZ_CHECK(len >= 4 && len <= 10);
}

static void parse_line(const char *line, size_t len, bool after_tls)
{
    check_downgrade(line, len);

    struct caps_seen seen = {0}, facts = {0};

    int code = -1;
    bool is_last = false;
    const char *text = NULL;
    size_t text_len = 0;
    if (reply_smtp_line(line, len, &code, &is_last, &text, &text_len) == 0) {
        FUZZ_CHECK(code >= 200 && code <= 599);
        FUZZ_CHECK(inside(text, text_len, line, len));
        FUZZ_CHECK(len == 3 ? is_last && text_len == 0 : is_last == (line[3] == ' '));
        FUZZ_CHECK(text + text_len == line + len);
        reply_smtp_ehlo_ext(&rec, after_tls, text, text_len, &seen);
    }
    reply_smtp_ehlo_ext(&rec, after_tls, line, len, &seen);
    /* facts without a record are the same facts (the second connection of
     * an auth probe relies on it) */
    reply_smtp_ehlo_ext(NULL, after_tls, line, len, &facts);

    reply_imap_caps(&rec, after_tls, line, len, &seen);
    reply_imap_caps(NULL, after_tls, line, len, &facts);
    size_t cap_len = SIZE_MAX;
    const char *caps = reply_imap_capability_code(line, len, &cap_len);
    if (caps) {
        FUZZ_CHECK(inside(caps, cap_len, line, len));
        FUZZ_CHECK(caps + cap_len < line + len && caps[cap_len] == ']');
        reply_imap_caps(&rec, !after_tls, caps, cap_len, &seen);
    }
    caps = reply_imap_capability_untagged(line, len, &cap_len);
    if (caps) {
        FUZZ_CHECK(inside(caps, cap_len, line, len));
        FUZZ_CHECK(caps + cap_len == line + len);
        reply_imap_caps(&rec, after_tls, caps, cap_len, &seen);
    }

    long lit = reply_literal_len(line, len);
    FUZZ_CHECK(lit >= -1 && lit <= 999999999L);
    if (lit >= 0)
        FUZZ_CHECK(len >= 3 && line[len - 1] == '}' && memchr(line, '{', len) != NULL);

    /* The tag is the line's own first word (so the fuzzer reaches the
     * tagged path easily) and a fixed one. */
    char tag[17];
    size_t tl = 0;
    while (tl < len && tl < sizeof tag - 1 && line[tl] != ' ' && line[tl] != '\0')
        tl++;
    memcpy(tag, line, tl);
    tag[tl] = '\0';
    const char *tags[2] = {tag, "a1"};
    for (int t = 0; t < 2; t++) {
        const char *rest = NULL;
        size_t rest_len = SIZE_MAX;
        int kind = reply_imap_tagged(line, len, tags[t], &rest, &rest_len);
        FUZZ_CHECK(kind >= 0 && kind <= 3);
        if (kind)
            FUZZ_CHECK(inside(rest, rest_len, line, len) && rest + rest_len == line + len);
    }

    reply_pop3_capa(&rec, after_tls, line, len, &seen);
    reply_pop3_capa(NULL, after_tls, line, len, &facts);
    FUZZ_CHECK(!facts.starttls || reply_text_contains(line, len, "STARTTLS") ||
               reply_text_contains(line, len, "STLS"));
    FUZZ_CHECK(!facts.logindisabled || reply_text_contains(line, len, "LOGINDISABLED"));
    FUZZ_CHECK(!facts.user || reply_text_contains(line, len, "USER"));
    /* a password mechanism is never claimed without its name in the line */
    FUZZ_CHECK(!facts.password_mech || reply_text_contains(line, len, "PLAIN") ||
               reply_text_contains(line, len, "LOGIN"));
    /* the verdict does not depend on the list caps: what the line names,
     * the facts see, whether or not the record had room */
    if (facts.password_mech)
        FUZZ_CHECK(seen.password_mech);
    int st = reply_pop3_status(line, len);
    FUZZ_CHECK(st >= -1 && st <= 1);
    if (st == 1)
        FUZZ_CHECK(len >= 3 && memcmp(line, "+OK", 3) == 0);
    if (st == -1)
        FUZZ_CHECK(len >= 4 && memcmp(line, "-ERR", 4) == 0);

    check_sieve(line, len, after_tls);

    /* A needle taken from the line's start must be found; "" always is
     * (when it fits), and nothing longer than the line ever is. */
    char needle[9];
    size_t nl = 0;
    while (nl < len && nl < sizeof needle - 1 && line[nl] != '\0')
        nl++;
    memcpy(needle, line, nl);
    needle[nl] = '\0';
    FUZZ_CHECK(reply_text_contains(line, len, needle));
    FUZZ_CHECK(reply_text_contains(line, len, ""));
    (void)reply_text_contains(line, len, "STARTTLS");
    FUZZ_CHECK(!reply_text_contains(line, len > 8 ? 8 : len, "123456789"));

    /* Cheap per line; the full walk of the lists runs once per input. */
    FUZZ_CHECK(rec.arena_used <= REC_ARENA_BYTES);
}

/* The reply text a connection keeps: the framed lines appended with their
 * own line ends are exactly the bytes received, up to the cap (issue 18:
 * no CR invented for a bare LF, nothing reordered), and cut is set iff
 * bytes were dropped. */
#define FUZZ_REPLY_CAP 512
static char reply_buf[FUZZ_REPLY_CAP];

static void check_reply_append(const uint8_t *data, size_t size)
{
    size_t pos = 0, used = 0;
    bool cut = false;
    while (pos < size) {
        size_t line_len;
        size_t n = reply_lines_next(data + pos, size - pos, &line_len);
        if (n == 0)
            break;
        size_t before = used;
        used = reply_append(reply_buf, sizeof reply_buf, used, (const char *)data + pos, line_len,
                            n - line_len, &cut);
        FUZZ_CHECK(used >= before && used <= sizeof reply_buf);
        pos += n;
    }
    FUZZ_CHECK(used == (pos < sizeof reply_buf ? pos : sizeof reply_buf));
    FUZZ_CHECK(memcmp(reply_buf, data, used) == 0);
    FUZZ_CHECK(cut == (pos > sizeof reply_buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_reply_append(data, size);
    rec_reset(&rec);
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < size) {
        const unsigned char *buf = data + pos;
        size_t avail = size - pos;
        size_t line_len = SIZE_MAX;
        size_t used = reply_lines_next(buf, avail, &line_len);
        const unsigned char *lf = memchr(buf, '\n', avail);
        if (used == 0) {
            /* No LF left: the engine would wait; the tail still goes
             * through the parsers, which must cope with any bytes. */
            FUZZ_CHECK(lf == NULL);
            parse_line((const char *)buf, avail, lineno & 1);
            break;
        }
        FUZZ_CHECK(lf != NULL && used == (size_t)(lf - buf) + 1);
        FUZZ_CHECK(used <= avail);
        FUZZ_CHECK(line_len == used - 1 || (line_len == used - 2 && buf[line_len] == '\r'));
        FUZZ_CHECK(line_len == used - 2 || used < 2 || buf[used - 2] != '\r');
        parse_line((const char *)buf, line_len, lineno & 1);
        pos += used;
        lineno++;
    }
    check_record();
    return 0;
}
