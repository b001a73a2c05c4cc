/*
 * test_reply.c - the reply framer and parsers, with every reply split at
 * every byte position (and fed one byte at a time), as the network may
 * deliver it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../scanner/reply.h"

#include "check.h"

/* What a transcript parses into, whatever the chunking. */
struct parsed {
    int lines;
    char line[16][256];
    size_t len[16];
};

/* Feeds data in chunks ending at the given cut points, framing like the
 * engine does: append to a buffer, take out every complete line. */
static void feed(const char *data, size_t n, const size_t *cuts, size_t ncuts, struct parsed *out)
{
    unsigned char buf[4096];
    size_t have = 0, pos = 0;
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : n;
        memcpy(buf + have, data + pos, end - pos);
        have += end - pos;
        pos = end;
        size_t line_len, used;
        while ((used = reply_lines_next(buf, have, &line_len)) > 0) {
            if (out->lines < 16) {
                memcpy(out->line[out->lines], buf, line_len < 255 ? line_len : 255);
                out->len[out->lines] = line_len;
                out->lines++;
            }
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
}

static bool same(const struct parsed *a, const struct parsed *b)
{
    if (a->lines != b->lines)
        return false;
    for (int i = 0; i < a->lines; i++)
        if (a->len[i] != b->len[i] || memcmp(a->line[i], b->line[i], a->len[i]) != 0)
            return false;
    return true;
}

/* Every single split point, and byte-at-a-time, give the unsplit result. */
static void check_all_splits(const char *data, size_t n, int expect_lines)
{
    struct parsed whole, part;
    feed(data, n, NULL, 0, &whole);
    CHECK(whole.lines == expect_lines);
    int bad = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t cut = i;
        feed(data, n, &cut, 1, &part);
        if (!same(&whole, &part))
            bad++;
    }
    CHECK(bad == 0);
    size_t *cuts = malloc(n * sizeof *cuts);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i;
    feed(data, n, cuts, n, &part);
    CHECK(same(&whole, &part));
    free(cuts);
}

static struct record rec;

static void test_smtp_ehlo(void)
{
    static const char ehlo[] = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
                               "250-AUTH PLAIN LOGIN cram-md5\r\n250-AUTH=LOGIN PLAIN\r\n250 8BITMIME\r\n";
    check_all_splits(ehlo, sizeof ehlo - 1, 6);
    struct parsed p;
    feed(ehlo, sizeof ehlo - 1, NULL, 0, &p);
    rec_reset(&rec);
    struct caps_seen seen = {0};
    int lasts = 0;
    for (int i = 0; i < p.lines; i++) {
        int code;
        bool last;
        const char *text;
        size_t tl;
        CHECK(reply_smtp_line(p.line[i], p.len[i], &code, &last, &text, &tl) == 0);
        CHECK(code == 250);
        lasts += last;
        if (i > 0)
            reply_smtp_ehlo_ext(&rec, false, text, tl, &seen);
    }
    CHECK(lasts == 1);
    CHECK(seen.starttls && seen.password_mech);
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "PLAIN", false));
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "LOGIN", false));
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "CRAM-MD5", false));
    /* AUTH= repeats LOGIN and PLAIN: each mechanism is kept once */
    CHECK(rec.span[F_AUTH_BEFORE_TLS].len == 3);
    CHECK(rec.span[F_CAPS_BEFORE_TLS].len == 5);
    CHECK(!rec_has(&rec, F_AUTH_AFTER_TLS));
}

static void test_smtp_lines(void)
{
    int code;
    bool last;
    const char *text;
    size_t tl;
    CHECK(reply_smtp_line("220", 3, &code, &last, &text, &tl) == 0 && code == 220 && last && tl == 0);
    CHECK(reply_smtp_line("421-busy", 8, &code, &last, &text, &tl) == 0 && code == 421 && !last);
    CHECK(reply_smtp_line("2500 x", 6, &code, &last, &text, &tl) == -1);
    CHECK(reply_smtp_line("25", 2, &code, &last, &text, &tl) == -1);
    CHECK(reply_smtp_line("abc def", 7, &code, &last, &text, &tl) == -1);
    CHECK(reply_smtp_line("199 x", 5, &code, &last, &text, &tl) == -1);
    CHECK(reply_smtp_line("220\0x", 5, &code, &last, &text, &tl) == -1);
    /* multi-line greeting, bare LF, NUL inside a line: framing keeps bytes */
    static const char greet[] = "220-first\n220-se\0cond\r\n220 last\r\n";
    check_all_splits(greet, sizeof greet - 1, 3);
    struct parsed p;
    feed(greet, sizeof greet - 1, NULL, 0, &p);
    CHECK(p.len[1] == 11 && p.line[1][6] == '\0');
    size_t ll;
    CHECK(reply_lines_next((const unsigned char *)"no end", 6, &ll) == 0);
    CHECK(reply_lines_next((const unsigned char *)"\r\n", 2, &ll) == 2 && ll == 0);
}

static void test_imap(void)
{
    static const char t[] = "* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN LOGINDISABLED] ready\r\n"
                            "* CAPABILITY IMAP4rev1 STARTTLS auth=login\r\n"
                            "m1 OK done\r\n* ID {5}\r\n";
    check_all_splits(t, sizeof t - 1, 4);
    struct parsed p;
    feed(t, sizeof t - 1, NULL, 0, &p);
    size_t n;
    const char *caps = reply_imap_capability_code(p.line[0], p.len[0], &n);
    CHECK(caps && n == strlen("IMAP4rev1 SASL-IR STARTTLS AUTH=PLAIN LOGINDISABLED"));
    rec_reset(&rec);
    struct caps_seen seen = {0};
    reply_imap_caps(&rec, false, caps, n, &seen);
    CHECK(seen.starttls && seen.logindisabled && seen.password_mech);
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "PLAIN", false));
    CHECK(rec_list_contains(&rec, F_CAPS_BEFORE_TLS, "LOGINDISABLED", false));
    caps = reply_imap_capability_untagged(p.line[1], p.len[1], &n);
    CHECK(caps != NULL);
    seen = (struct caps_seen){0};
    reply_imap_caps(&rec, true, caps, n, &seen);
    CHECK(seen.starttls && !seen.logindisabled && seen.password_mech);
    CHECK(rec_list_contains(&rec, F_AUTH_AFTER_TLS, "LOGIN", false));
    CHECK(reply_imap_capability_untagged("* CAPABILITYX", 13, &n) == NULL);
    const char *rest;
    size_t rl;
    CHECK(reply_imap_tagged(p.line[2], p.len[2], "m1", &rest, &rl) == 1 && rl == 4);
    CHECK(reply_imap_tagged(p.line[2], p.len[2], "m", &rest, &rl) == 0);
    CHECK(reply_imap_tagged("m2 NO [PRIVACYREQUIRED] no", 26, "m2", &rest, &rl) == 2);
    CHECK(reply_imap_tagged("m2 BAD x", 8, "m2", &rest, &rl) == 3);
    CHECK(reply_literal_len(p.line[3], p.len[3]) == 5);
    CHECK(reply_literal_len("x {12+}", 7) == 12);
    CHECK(reply_literal_len("x {}", 4) == -1);
    CHECK(reply_literal_len("x 5}", 4) == -1);
    CHECK(reply_literal_len("{99999999999}", 13) == -1);
    CHECK(reply_imap_capability_code("* OK [CAPABILITY IMAP4", 22, &n) == NULL);
}

static void test_pop3(void)
{
    static const char t[] = "+OK\r\nTOP\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\n.\r\n";
    check_all_splits(t, sizeof t - 1, 6);
    struct parsed p;
    feed(t, sizeof t - 1, NULL, 0, &p);
    CHECK(reply_pop3_status(p.line[0], p.len[0]) == 1);
    CHECK(reply_pop3_status("-ERR no", 7) == -1);
    CHECK(reply_pop3_status("+OKAY", 5) == 0);
    rec_reset(&rec);
    struct caps_seen seen = {0};
    for (int i = 1; i < 5; i++)
        reply_pop3_capa(&rec, false, p.line[i], p.len[i], &seen);
    CHECK(seen.starttls && seen.user && seen.password_mech);
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "USER", false));
    CHECK(rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "PLAIN", false));
    CHECK(rec.span[F_CAPS_BEFORE_TLS].len == 4);
    CHECK(p.len[5] == 1 && p.line[5][0] == '.');
}

/* Issue 18 item 6: the verdict comes from the whole reply. 40 mechanisms
 * fill the 32-item auth list; PLAIN and LOGIN come after them. */
static void test_verdict_past_cap(void)
{
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "AUTH");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " X-MECH-%02d", i);
    n += (size_t)snprintf(line + n, sizeof line - n, " PLAIN LOGIN");
    rec_reset(&rec);
    struct caps_seen seen = {0};
    reply_smtp_ehlo_ext(&rec, false, line, n, &seen);
    CHECK(seen.password_mech);
    CHECK(rec.span[F_AUTH_BEFORE_TLS].len == 32);
    CHECK(!rec_list_contains(&rec, F_AUTH_BEFORE_TLS, "PLAIN", false));
    CHECK((rec.truncated >> F_AUTH_BEFORE_TLS) & 1u);
    /* IMAP: 40 AUTH= atoms, then AUTH=PLAIN */
    n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "AUTH=X-MECH-%02d ", i);
    n += (size_t)snprintf(line + n, sizeof line - n, "AUTH=PLAIN");
    rec_reset(&rec);
    seen = (struct caps_seen){0};
    reply_imap_caps(&rec, false, line, n, &seen);
    CHECK(seen.password_mech && (rec.truncated >> F_AUTH_BEFORE_TLS) & 1u);
    /* POP3 SASL line, same shape */
    n = (size_t)snprintf(line, sizeof line, "SASL");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " X-MECH-%02d", i);
    n += (size_t)snprintf(line + n, sizeof line - n, " LOGIN");
    rec_reset(&rec);
    seen = (struct caps_seen){0};
    reply_pop3_capa(&rec, false, line, n, &seen);
    CHECK(seen.password_mech && (rec.truncated >> F_AUTH_BEFORE_TLS) & 1u);
    /* facts only: no record */
    seen = (struct caps_seen){0};
    reply_smtp_ehlo_ext(NULL, false, "STARTTLS", 8, &seen);
    reply_imap_caps(NULL, false, "LOGINDISABLED AUTH=LOGIN", 24, &seen);
    reply_pop3_capa(NULL, false, "USER", 4, &seen);
    CHECK(seen.starttls && seen.logindisabled && seen.password_mech && seen.user);
}

/* The line end is part of what was received: reply_lines_next tells it apart. */
static void test_line_ends(void)
{
    size_t ll;
    CHECK(reply_lines_next((const unsigned char *)"220 x\n", 6, &ll) == 6 && ll == 5);
    CHECK(reply_lines_next((const unsigned char *)"220 x\r\n", 7, &ll) == 7 && ll == 5);
    CHECK(reply_lines_next((const unsigned char *)"220 x\r\r\n", 8, &ll) == 8 && ll == 6);
}

static void test_record_bounds(void)
{
    rec_reset(&rec);
    char big[2000];
    memset(big, 'A', sizeof big);
    rec_set_text(&rec, F_BANNER, big, sizeof big);
    size_t len;
    rec_text(&rec, F_BANNER, &len);
    CHECK(len == rec_fields[F_BANNER].cap);
    CHECK((rec.truncated >> F_BANNER) & 1);
    for (int i = 0; i < 200; i++)
        rec_list_add(&rec, F_CAPS_BEFORE_TLS, big, 100);
    CHECK(rec.span[F_CAPS_BEFORE_TLS].len > 0 &&
          rec.span[F_CAPS_BEFORE_TLS].len <= rec_fields[F_CAPS_BEFORE_TLS].max_items);
    CHECK((rec.truncated >> F_CAPS_BEFORE_TLS) & 1);
    /* the arena never overflows, whatever is thrown at it */
    for (int f = 0; f < F_COUNT; f++)
        if (rec_fields[f].type == RT_TEXT)
            rec_set_text(&rec, (enum rec_field)f, big, sizeof big);
    CHECK(rec.arena_used <= REC_ARENA_BYTES);
}

int main(void)
{
    test_smtp_lines();
    test_smtp_ehlo();
    test_imap();
    test_pop3();
    test_verdict_past_cap();
    test_line_ends();
    test_record_bounds();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
