/*
 * test_downgrade.c - the server bytes of the downgrade checks
 * (scanner/downgrade_parse.h): which line answers the injected command,
 * per protocol, and which capability is a masked STARTTLS, every reply
 * split at every byte where framing matters.
 */
#include <stdio.h>
#include <string.h>

#include "../../scanner/downgrade_parse.h"
#include "../../scanner/reply.h"
#include "check.h"

static bool answer(enum mt_proto p, const char *line)
{
    return downgrade_parse_answer(p, line, strlen(line));
}

static bool masked(const char *tok)
{
    return downgrade_parse_masked(tok, strlen(tok));
}

/* The masked token of a stored capability, or "" */
static const char *item(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    const char *t = downgrade_parse_masked_item(s, strlen(s), &n);
    snprintf(out, cap, "%.*s", t ? (int)n : 0, t ? t : "");
    return out;
}

/* Framing a multi-line SMTP reply one byte at a time: only the last line
 * answers. */
static void smtp_split(void)
{
    const char *reply = "250-first\r\n250-second\r\n250 last\r\n";
    size_t total = strlen(reply);
    for (size_t cut = 1; cut < total; cut++) {
        char buf[64];
        size_t have = 0, pos = 0, answers = 0, lines = 0;
        const char *feed[2] = {reply, reply + cut};
        size_t sizes[2] = {cut, total - cut};
        for (int k = 0; k < 2; k++) {
            memcpy(buf + have, feed[k], sizes[k]);
            have += sizes[k];
            size_t len, used;
            while ((used = reply_lines_next((unsigned char *)buf + pos, have - pos, &len)) > 0) {
                answers += downgrade_parse_answer(PROTO_SMTP, buf + pos, len);
                lines++;
                pos += used;
            }
        }
        CHECK(lines == 3 && answers == 1);
    }
}

int main(void)
{
    CHECK(strcmp(downgrade_injected_cmd(PROTO_SMTP), "NOOP\r\n") == 0);
    CHECK(strcmp(downgrade_injected_cmd(PROTO_IMAP), "a NOOP\r\n") == 0);
    CHECK(strcmp(downgrade_injected_cmd(PROTO_POP3), "NOOP\r\n") == 0);
    CHECK(strcmp(downgrade_injected_cmd(PROTO_SIEVE), "NOOP\r\n") == 0);

    CHECK(answer(PROTO_SMTP, "250 2.0.0 Ok"));
    CHECK(answer(PROTO_SMTP, "502 5.5.2 Error: command not recognized"));
    CHECK(!answer(PROTO_SMTP, "250-more follows"));
    CHECK(!answer(PROTO_SMTP, "hello"));
    CHECK(answer(PROTO_LMTP, "250 OK"));
    CHECK(answer(PROTO_IMAP, "a OK NOOP completed"));
    CHECK(answer(PROTO_IMAP, "a BAD unknown"));
    CHECK(!answer(PROTO_IMAP, "* 3 EXISTS"));
    CHECK(!answer(PROTO_IMAP, "m3 OK done"));
    CHECK(!answer(PROTO_IMAP, "ab OK done"));
    CHECK(answer(PROTO_POP3, "+OK"));
    CHECK(answer(PROTO_POP3, "-ERR unknown"));
    CHECK(!answer(PROTO_POP3, "USER"));
    CHECK(answer(PROTO_SIEVE, "OK \"NOOP completed\""));
    CHECK(answer(PROTO_SIEVE, "NO"));
    CHECK(!answer(PROTO_SIEVE, "\"SASL\" \"PLAIN\""));
    CHECK(!answer(MT_PROTO_COUNT, "+OK"));
    smtp_split();

    /* masked: what middleboxes were seen sending (Durumeric et al. 2015) */
    CHECK(masked("XXXXXXXA"));
    CHECK(masked("XXXXXXXX"));
    CHECK(masked("X-STARTTLS"));
    CHECK(masked("xstarttls"));
    CHECK(masked("STARTXXX"));
    CHECK(masked("XXXX"));
    CHECK(masked("XSTLS"));
    CHECK(masked("XTLS"));
    /* real capabilities are not */
    CHECK(!masked("STARTTLS"));
    CHECK(!masked("STLS"));
    CHECK(!masked("XFORWARD"));
    CHECK(!masked("XCLIENT"));
    CHECK(!masked("XEXCH50"));
    CHECK(!masked("X-EXPS"));
    CHECK(!masked("AXXA"));
    CHECK(!masked(""));
    CHECK(!masked("XXXXXXXAA"));

    char out[32];
    CHECK(strcmp(item("XXXXXXXA", out, sizeof out), "XXXXXXXA") == 0);
    CHECK(strcmp(item("X-STARTTLS", out, sizeof out), "X-STARTTLS") == 0);
    CHECK(strcmp(item("\"XXXXXXXX\"", out, sizeof out), "XXXXXXXX") == 0);
    CHECK(strcmp(item("\"XXXXXXXX\" \"v\"", out, sizeof out), "XXXXXXXX") == 0);
    CHECK(strcmp(item("\"XXXXXXXX", out, sizeof out), "") == 0);
    CHECK(strcmp(item("XSTLS extra words", out, sizeof out), "XSTLS") == 0);
    CHECK(strcmp(item("AUTH PLAIN XXXXXXXX", out, sizeof out), "") == 0);
    CHECK(strcmp(item("STARTTLS", out, sizeof out), "") == 0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
